//! The compiled rule engine: a tenant's rule trees compiled once into one flat program, evaluated per
//! customer in one pass after decoding the customer once (ids instead of strings, bits for tags and
//! memberships, nanoseconds for instants, every lifecycle state the program asks for derived once per
//! subscription and shared by all groups). Its answers, `next_change` included, are those of the tree
//! walker `rules::evaluate`, which stays as the test oracle (`properties.rs` checks both agree) and
//! answers the rare customer with a leap-second instant.

mod compile;
mod dates;
mod eval;
mod explain;
mod facts;
mod program;
mod symbols;
mod time;

#[cfg(test)]
mod properties;

use super::{evaluate as walk, EvalContext, LifecycleSettings, Outcome, Rule};
use crate::customer::Customer;
use crate::ids::GroupId;
use chrono::{DateTime, Utc};
use eval::BATCH;
use facts::{Facts, Needs, Out};
use program::{Atom, Node};
use std::cell::RefCell;
use std::collections::BTreeSet;
use symbols::Symbols;
use time::{Ns, NEVER};

/// One compiled rule: where its tree starts and, for a group, its membership slot.
#[derive(Debug, Clone)]
struct Root {
    start: u32,
    slot: Option<u32>,
}

/// Rule trees compiled together, evaluated together per customer.
#[derive(Debug, Clone, Default)]
pub struct Program {
    nodes: Vec<Node>,
    roots: Vec<Root>,
    symbols: Symbols,
    atoms: Vec<Atom>,
    needs: Needs,
    /// The rules as given (id, rule, settings), for the tree walker's fallback and for explain.
    rules: Vec<(Option<GroupId>, Rule, LifecycleSettings)>,
}

/// A rule's answer in a pass; its next change is converted to chrono only when asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer {
    pub matched: bool,
    next: Next,
}

#[derive(Debug, Clone, Copy)]
enum Next {
    Compiled(Ns),
    Walked(Option<DateTime<Utc>>),
}

impl Answer {
    /// When the answer can next change by time alone.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        match self.next {
            Next::Compiled(t) => time::to_time(t),
            Next::Walked(t) => t,
        }
    }
}

/// Each thread's buffers, reused so that a warm pass does not allocate per customer.
#[derive(Default)]
struct Scratch {
    facts: Vec<Facts>,
    outs: Vec<Out>,
    bufs: Vec<Vec<Out>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

impl Program {
    /// Compiles rules in evaluation order. A rule with a group id decides that group's membership for
    /// the rules after it (`member_of`), as the membership pass does; other `member_of` references
    /// read the customer's groups.
    pub fn new<'a>(rules: impl IntoIterator<Item = (Option<&'a GroupId>, &'a Rule, &'a LifecycleSettings)>) -> Program {
        let rules: Vec<(Option<GroupId>, Rule, LifecycleSettings)> = rules
            .into_iter()
            .map(|(id, r, s)| (id.cloned(), r.clone(), *s))
            .collect();
        let symbols = compile::symbols(
            rules.iter().map(|(_, r, _)| r),
            rules.iter().filter_map(|(id, _, _)| id.as_ref()),
        );
        let mut c = compile::Compiler {
            sym: &symbols,
            nodes: Vec::new(),
            atoms: Vec::new(),
            needs: Needs::default(),
        };
        let roots = rules
            .iter()
            .map(|(id, rule, settings)| Root {
                start: c.rule(rule, settings),
                slot: id.as_ref().and_then(|id| symbols.group_slot(id)),
            })
            .collect();
        let (nodes, atoms, needs) = (c.nodes, c.atoms, c.needs);
        Program {
            nodes,
            roots,
            symbols,
            atoms,
            needs,
            rules,
        }
    }

    /// One definition alone (preview, explain, a customer search); `member_of` reads the customer's
    /// groups.
    pub fn single(rule: &Rule, settings: &LifecycleSettings) -> Program {
        Program::new([(None, rule, settings)])
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Evaluates every rule in order for each customer at `now`, in batches of `BATCH` customers.
    /// `visit(k, i, matched, was)` sees customer `k`'s answer to rule `i` (rules in order for each
    /// customer) and whether it was in the rule's group; `next(k, t)` gets customer `k`'s earliest next
    /// change over all rules.
    pub(crate) fn pass_many(
        &self,
        customers: &[Customer],
        now: DateTime<Utc>,
        mut visit: impl FnMut(usize, usize, Answer, bool),
        mut next: impl FnMut(usize, Option<DateTime<Utc>>),
    ) {
        let Some(now_ns) = time::ns(now) else {
            for (k, c) in customers.iter().enumerate() {
                let t = self.walk_pass(c, now, |i, o, w| visit(k, i, o, w));
                next(k, t);
            }
            return;
        };
        with_scratch(|s| {
            for (chunk, part) in customers.chunks(BATCH).enumerate() {
                let base = chunk * BATCH;
                self.pass_batch(
                    s,
                    part,
                    now,
                    now_ns,
                    |k, i, o, w| visit(base + k, i, o, w),
                    |k, t| next(base + k, t),
                );
            }
        });
    }

    /// One batch: decode, then each rule over the batch; customers with a leap-second instant go
    /// through the tree walker.
    fn pass_batch(
        &self,
        s: &mut Scratch,
        part: &[Customer],
        now: DateTime<Utc>,
        now_ns: Ns,
        mut visit: impl FnMut(usize, usize, Answer, bool),
        mut next: impl FnMut(usize, Option<DateTime<Utc>>),
    ) {
        if s.facts.len() < part.len() {
            s.facts.resize_with(part.len(), Facts::default);
        }
        facts::warm(part, &self.symbols, &self.needs);
        let mut live = [0u8; BATCH];
        let mut n = 0;
        for (k, c) in part.iter().enumerate() {
            if s.facts[n].decode(&self.symbols, &self.needs, &self.atoms, c, now_ns) {
                live[n] = k as u8;
                n += 1;
            } else {
                let t = self.walk_pass(c, now, |i, o, w| visit(k, i, o, w));
                next(k, t);
            }
        }
        let cxs: Vec<eval::Ctx> = (0..n)
            .map(|j| eval::Ctx {
                facts: &s.facts[j],
                customer: &part[live[j] as usize],
                now,
                atoms: self.atoms.len(),
            })
            .collect();
        s.outs.clear();
        s.outs.resize(n, Out::FALSE);
        let mut earliest = [NEVER; BATCH];
        for (i, root) in self.roots.iter().enumerate() {
            eval::eval(&self.nodes, root.start as usize, &cxs, &mut s.outs, &mut s.bufs, 0);
            for (j, (out, cx)) in s.outs.iter().zip(&cxs).enumerate() {
                earliest[j] = earliest[j].min(out.next);
                let was = root.slot.is_some_and(|slot| {
                    let was = cx.facts.member(slot);
                    cx.facts.set_member(slot, out.matched);
                    was
                });
                visit(
                    live[j] as usize,
                    i,
                    Answer {
                        matched: out.matched,
                        next: Next::Compiled(out.next),
                    },
                    was,
                );
            }
        }
        for (j, t) in earliest[..n].iter().enumerate() {
            next(live[j] as usize, time::to_time(*t));
        }
    }

    /// The pass for one customer; returns its earliest next change.
    pub(crate) fn pass(
        &self,
        c: &Customer,
        now: DateTime<Utc>,
        mut visit: impl FnMut(usize, Answer, bool),
    ) -> Option<DateTime<Utc>> {
        let mut earliest = None;
        self.pass_many(
            std::slice::from_ref(c),
            now,
            |_, i, o, w| visit(i, o, w),
            |_, t| earliest = t,
        );
        earliest
    }

    /// The same pass by the tree walker (a customer with a leap-second instant).
    fn walk_pass(
        &self,
        c: &Customer,
        now: DateTime<Utc>,
        mut visit: impl FnMut(usize, Answer, bool),
    ) -> Option<DateTime<Utc>> {
        let mut current: BTreeSet<GroupId> = c.groups.clone();
        let mut earliest: Option<DateTime<Utc>> = None;
        for (i, (id, rule, settings)) in self.rules.iter().enumerate() {
            let in_group = |g: &GroupId| current.contains(g);
            let ctx = EvalContext {
                now,
                settings,
                in_group: &in_group,
            };
            let out = walk(rule, c, &ctx);
            earliest = super::min_time(earliest, out.next_change);
            let was = id.as_ref().is_some_and(|id| current.contains(id));
            if let Some(id) = id {
                if out.matched {
                    current.insert(id.clone());
                } else {
                    current.remove(id);
                }
            }
            visit(
                i,
                Answer {
                    matched: out.matched,
                    next: Next::Walked(out.next_change),
                },
                was,
            );
        }
        earliest
    }

    /// Every rule's answer into `matched` (cleared first); returns the earliest next change.
    pub fn matches_into(&self, c: &Customer, now: DateTime<Utc>, matched: &mut Vec<bool>) -> Option<DateTime<Utc>> {
        matched.clear();
        self.pass(c, now, |_, o, _| matched.push(o.matched))
    }

    /// For many customers (a page of a resync or a search): every rule's answer, customer after
    /// customer (`matched[k * len() + i]`), and each customer's earliest next change.
    pub fn matches_many(
        &self,
        customers: &[Customer],
        now: DateTime<Utc>,
        matched: &mut Vec<bool>,
        next: &mut Vec<Option<DateTime<Utc>>>,
    ) {
        let len = self.len();
        matched.clear();
        matched.resize(customers.len() * len, false);
        next.clear();
        next.resize(customers.len(), None);
        self.pass_many(
            customers,
            now,
            |k, i, o, _| matched[k * len + i] = o.matched,
            |k, t| next[k] = t,
        );
    }

    /// Every rule's outcome for one customer, each with its own next change.
    pub fn evaluate(&self, c: &Customer, now: DateTime<Utc>) -> Vec<Outcome> {
        let mut outs = Vec::with_capacity(self.len());
        self.pass_many(
            std::slice::from_ref(c),
            now,
            |_, _, a, _| {
                outs.push(Outcome {
                    matched: a.matched,
                    next_change: a.next_change(),
                })
            },
            |_, _| {},
        );
        outs
    }
}
