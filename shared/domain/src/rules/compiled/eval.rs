//! The interpreter: a preorder walk of the node array over decoded facts. A decided AND / OR jumps to
//! the end of its subtree, as the tree walker stops at a child decided for good.

use super::dates::{self, and, compare, or, AnyAcc};
use super::facts::{window, Attr, Facts, Out, Sub};
use super::program::{Flag, Instant, Leaf, LifecycleLeaf, Node, ServiceLeaf, SubFilter, TextTest};
use super::symbols::IdSet;
use super::time::{self, add, checked_add, days, wake, Ns, DAY, NEVER, UNSET};
use crate::activity::Ledger;
use crate::customer::Customer;
use crate::ids::GroupId;
use crate::rules::{CmpOp, EvalContext, LifecycleSettings, Test};
use chrono::{DateTime, Utc};

/// What a leaf reads: the decoded facts, and the customer itself for the rare string work.
pub(crate) struct Ctx<'a> {
    pub facts: &'a Facts,
    pub customer: &'a Customer,
    pub now: DateTime<Utc>,
    /// Atoms per subscription in `facts.atoms`.
    pub atoms: usize,
}

/// Customers evaluated together: each node runs over the whole batch before the next node, so the
/// dispatch on node and leaf kinds is paid once per batch, not once per customer.
pub(crate) const BATCH: usize = 64;

/// Evaluates the subtree at `i` for every customer of `cxs` (at most `BATCH`) into `out`; returns the
/// index after the subtree. `bufs` holds one buffer per depth for children's answers. Every child is
/// evaluated: where the tree walker stops at a child decided for good, the fold's answer is already
/// fixed, so the answers are the same.
pub(crate) fn eval(
    nodes: &[Node],
    i: usize,
    cxs: &[Ctx],
    out: &mut [Out],
    bufs: &mut Vec<Vec<Out>>,
    depth: usize,
) -> usize {
    let n = cxs.len();
    match &nodes[i] {
        Node::Leaf(l) => {
            leaves(l, cxs, out);
            i + 1
        }
        Node::Not => {
            let end = eval(nodes, i + 1, cxs, out, bufs, depth + 1);
            for o in out.iter_mut() {
                o.matched = !o.matched;
            }
            end
        }
        Node::Any { end } | Node::All { end } => {
            let all = matches!(nodes[i], Node::All { .. });
            let end = *end as usize;
            // The first child's answers start the fold; each further child folds in.
            let mut j = eval(nodes, i + 1, cxs, out, bufs, depth + 1);
            if j >= end {
                return end;
            }
            if bufs.len() <= depth {
                bufs.resize_with(depth + 1, Vec::new);
            }
            let mut child = std::mem::take(&mut bufs[depth]);
            child.clear();
            child.resize(n, Out::FALSE);
            while j < end {
                j = eval(nodes, j, cxs, &mut child, bufs, depth + 1);
                for (acc, o) in out.iter_mut().zip(&child) {
                    *acc = if all { and(*acc, *o) } else { or(*acc, *o) };
                }
            }
            bufs[depth] = child;
            end
        }
    }
}

fn overlap(words: &[u64], set: &IdSet) -> (bool, bool) {
    let (mut any, mut all) = (false, true);
    for (i, m) in set.words().iter().enumerate() {
        let w = words.get(i).copied().unwrap_or(0);
        any |= w & m != 0;
        all &= w & m == *m;
    }
    (any, all)
}

fn flag(f: &Facts, which: Flag) -> bool {
    match which {
        Flag::EmailVerified => f.email_verified,
        Flag::PhoneVerified => f.phone_verified,
        Flag::VerifiedPhoneMissing => !f.has_phone || !f.phone_verified,
        Flag::ActivationRequired => f.activation_required,
    }
}

/// Evaluates a leaf for every customer of the batch: the match on the leaf's kind is outside the loop.
fn leaves(l: &Leaf, cxs: &[Ctx], out: &mut [Out]) {
    macro_rules! each {
        ($cx:ident, $f:ident => $e:expr) => {
            for (o, $cx) in out.iter_mut().zip(cxs) {
                let $f: &Facts = $cx.facts;
                let _ = $f;
                *o = $e;
            }
        };
    }
    match l {
        Leaf::Const(b) => each!(cx, f => Out::fixed(*b)),
        Leaf::Member(slot) => each!(cx, f => Out::fixed(f.member(*slot))),
        Leaf::TagsAny(set) => each!(cx, f => Out::fixed(overlap(&f.tags, set).0)),
        Leaf::TagsAll(set) => each!(cx, f => Out::fixed(overlap(&f.tags, set).1)),
        Leaf::TagsNone(set) => each!(cx, f => Out::fixed(!overlap(&f.tags, set).0)),
        Leaf::Date(i, t) => each!(cx, f => dates::check(t, f.instants[*i as usize], f.now)),
        Leaf::AttrDate(slot, t) => each!(cx, f => match f.attributes[*slot as usize] {
            Attr::Date(d) => dates::check(t, d, f.now),
            _ => dates::check(t, UNSET, f.now),
        }),
        Leaf::AttrNumber(slot, t) => each!(cx, f => Out::fixed(match f.attributes[*slot as usize] {
            Attr::Number(n) => t.check(Some(&n)),
            _ => t.check(None),
        })),
        Leaf::AttrBoolean(slot, t) => each!(cx, f => Out::fixed(match f.attributes[*slot as usize] {
            Attr::Boolean(b) => t.check(Some(&b)),
            _ => t.check(None),
        })),
        Leaf::AttrText(slot, t) => each!(cx, f => Out::fixed(match f.attributes[*slot as usize] {
            Attr::Text(id) => text(t, id),
            _ => matches!(t, TextTest::Missing),
        })),
        Leaf::AttrPresence(slot, exists) => {
            each!(cx, f => Out::fixed((f.attributes[*slot as usize] != Attr::Missing) == *exists))
        }
        Leaf::Flag(which, v) => each!(cx, f => Out::fixed(flag(f, *which) == *v)),
        Leaf::FlagTest(which, t) => each!(cx, f => Out::fixed(t.check(Some(&flag(f, *which))))),
        Leaf::Bookings(t) => each!(cx, f => Out::fixed(t.check(Some(&i64::from(f.bookings))))),
        Leaf::BookingsNumber(t) => each!(cx, f => Out::fixed(t.check(Some(&f64::from(f.bookings))))),
        Leaf::HasService(s) => each!(cx, f => has_service(s, f)),
        Leaf::NoService(s) => each!(cx, f => has_service(s, f).not()),
        Leaf::ServiceCount {
            filter,
            paid_only,
            test,
        } => each!(cx, f => {
            let n = f
                .subs
                .iter()
                .filter(|s| s.status.is_held() && (!paid_only || s.paid) && selects(filter, s))
                .count();
            Out::fixed(test.check(Some(&(n as i64))))
        }),
        Leaf::PaymentsTotal(i, t) => each!(cx, f => Out::fixed(t.check(Some(&f.totals[*i as usize])))),
        Leaf::MoneyWindow {
            expenses,
            currency,
            days,
            test,
        } => each!(cx, f => {
            let a = &cx.customer.activity;
            let ledger = if *expenses { &a.expenses } else { &a.payments };
            money_window(ledger, currency, *days, test, f)
        }),
        Leaf::Selected(ids) => each!(cx, f => Out::fixed(ids.contains(&cx.customer.id))),
        Leaf::Lifecycle(l) => each!(cx, f => lifecycle(l, cx)),
        Leaf::Direct(c) => each!(cx, f => {
            let c = &**c;
            let customer = cx.customer;
            let in_group = |g: &GroupId| customer.groups.contains(g);
            let settings = LifecycleSettings::default();
            let ctx = EvalContext {
                now: cx.now,
                settings: &settings,
                in_group: &in_group,
            };
            let o = c.evaluate(customer, &ctx);
            // Direct leaves compare text: their answers are fixed.
            Out {
                matched: o.matched,
                next: o.next_change.and_then(time::ns).unwrap_or(NEVER),
            }
        }),
    }
}

fn text(t: &TextTest, id: u32) -> bool {
    match t {
        TextTest::Eq(x) => id == *x,
        TextTest::Ne(x) => id != *x,
        TextTest::In(set) => set.contains(id),
        TextTest::NotIn(set) => !set.contains(id),
        TextTest::Exists => true,
        TextTest::Missing => false,
    }
}

fn selects(filter: &SubFilter, s: &Sub) -> bool {
    filter.application.is_none_or(|a| a == s.application)
        && filter.product.is_none_or(|p| p == s.product)
        && filter.plan.is_none_or(|p| p == s.plan)
        && filter.period.is_none_or(|p| p == s.period)
}

/// `ServiceFilter::has_service`.
fn has_service(l: &ServiceLeaf, f: &Facts) -> Out {
    let mut acc = AnyAcc::new();
    for s in &f.subs {
        let fixed = l.statuses & super::program::status_bit(s.status) != 0
            && l.paid.is_none_or(|p| p == s.paid)
            && selects(&l.filter, s);
        if !fixed {
            continue;
        }
        let mut out = Out::TRUE;
        for (op, bound) in [(CmpOp::Ge, &l.ordered_from), (CmpOp::Le, &l.ordered_to)] {
            if let Some(b) = bound {
                out = and(
                    out,
                    if s.subscribed_at == UNSET {
                        Out::FALSE
                    } else {
                        compare(op, s.subscribed_at, b, f.now)
                    },
                );
            }
        }
        if acc.add(out) {
            break;
        }
    }
    acc.finish()
}

/// `MoneyTest::check_window` on nanoseconds: entries count from their day's midnight for `days` days.
fn money_window(ledger: &Ledger, currency: &str, days: i64, test: &Test<i64>, f: &Facts) -> Out {
    let span = i128::from(days) * DAY;
    let (now, today) = (f.now, f.today);
    let mut sum = 0i64;
    let mut next = NEVER;
    for e in ledger
        .entries
        .iter()
        .filter(|e| e.currency == currency && e.amount_minor != 0)
    {
        let on = i128::from(time::day_number(e.on));
        let enters = on * DAY;
        let leaves = checked_add(enters, span);
        if on <= today && leaves.is_some_and(|l| now < l) {
            sum = sum.saturating_add(e.amount_minor);
        }
        let boundary = if now < enters {
            Some(enters)
        } else {
            leaves.filter(|l| now < *l)
        };
        if let Some(b) = boundary {
            next = next.min(wake(b));
        }
    }
    Out {
        matched: test.check(Some(&sum)),
        next,
    }
}

fn within(set: &Option<IdSet>, id: u32) -> bool {
    set.as_ref().is_none_or(|s| s.contains(id))
}

/// `Lifecycle::check`: the customer-level states, then the shared atoms of each selected subscription.
fn lifecycle(l: &LifecycleLeaf, cx: &Ctx) -> Out {
    let f = cx.facts;
    let since = |date: Ns, start: Ns| -> Out {
        let start = match l.after {
            Some(n) => {
                if date == UNSET {
                    return Out::FALSE;
                }
                start.max(add(date, days(n)))
            }
            None => start,
        };
        window(start, NEVER, f.now)
    };
    let selected =
        |s: &Sub| within(&l.applications, s.application) && within(&l.products, s.product) && within(&l.plans, s.plan);
    let mut acc = AnyAcc::new();
    if l.registered {
        let reg = f.instants[Instant::RegistrationDate as usize];
        if reg != UNSET {
            let chosen = !l.filtered() || f.subs.iter().any(selected);
            if chosen && acc.add(since(reg, UNSET)) {
                return acc.finish();
            }
        }
    }
    if let Some(inactive) = l.inactive_days {
        if !l.filtered() && f.subs.is_empty() {
            let last = f.instants[Instant::LastActiveAt as usize];
            let last = if last == UNSET {
                f.instants[Instant::CreatedAt as usize]
            } else {
                last
            };
            let date = add(last, days(inactive));
            if acc.add(since(date, date)) {
                return acc.finish();
            }
        }
    }
    for (k, s) in f.subs.iter().enumerate() {
        if !selected(s) {
            continue;
        }
        let row = &f.atoms[k * cx.atoms..(k + 1) * cx.atoms];
        for a in l.atoms.iter() {
            if acc.add(row[*a as usize]) {
                return acc.finish();
            }
        }
    }
    acc.finish()
}
