//! A customer decoded once per evaluation into what a program's leaves read: instants as nanoseconds,
//! strings as ids, tags and memberships as bits, the custom attributes the rules mention in slots, and
//! every lifecycle state the program asks for, derived once per subscription for all groups.

use super::program::{Atom, Instant, INSTANTS};
use super::symbols::Symbols;
use super::time::{self, add, days, opt_ns, sub, wake, Ns, NEVER, UNSET};
use crate::customer::{AttributeValue, Customer, SubscriptionStatus};
use crate::rules::State;
use std::cell::Cell;

/// An answer with the instant it can next change (`NEVER`: not by time alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Out {
    pub matched: bool,
    pub next: Ns,
}

impl Out {
    pub const TRUE: Out = Out {
        matched: true,
        next: NEVER,
    };
    pub const FALSE: Out = Out {
        matched: false,
        next: NEVER,
    };

    pub fn fixed(matched: bool) -> Out {
        Out { matched, next: NEVER }
    }

    pub fn not(self) -> Out {
        Out {
            matched: !self.matched,
            next: self.next,
        }
    }
}

/// Whether `now` lies in `[start, end)` (`UNSET` start, `NEVER` end: unbounded) and when that changes;
/// `rules::window` on nanoseconds.
pub(crate) fn window(start: Ns, end: Ns, now: Ns) -> Out {
    if end <= start {
        return Out::FALSE;
    }
    if now < start {
        return Out {
            matched: false,
            next: wake(start),
        };
    }
    if now < end {
        return Out {
            matched: true,
            next: wake(end),
        };
    }
    Out::FALSE
}

/// A custom attribute's decoded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Attr {
    Missing,
    /// The id of the text among the operands of the rules' equality tests on this key.
    Text(u32),
    Number(f64),
    Boolean(bool),
    Date(Ns),
}

/// A subscription's decoded facts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sub {
    pub status: SubscriptionStatus,
    pub paid: bool,
    pub application: u32,
    pub product: u32,
    pub plan: u32,
    pub period: u32,
    pub subscribed_at: Ns,
    pub renews_at: Ns,
    pub expires_at: Ns,
    pub canceled_at: Ns,
    /// The last activity: the subscription's, else the customer's, else `created_at`.
    pub last_active: Ns,
}

/// What decoding needs to produce for a program.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs {
    /// Bit `i`: instant `i` (`Instant as usize`).
    pub instants: u8,
    pub subscriptions: bool,
    pub tags: bool,
    /// A money window reads the ledgers' entries.
    pub ledgers: bool,
}

/// The decoded customer; one per thread, reused, so decoding does not allocate once warm.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub now: Ns,
    pub today: i128,
    pub instants: [Ns; INSTANTS],
    pub bookings: u32,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub has_phone: bool,
    pub activation_required: bool,
    pub tags: Vec<u64>,
    pub attributes: Vec<Attr>,
    pub subs: Vec<Sub>,
    /// Per subscription, the outcome of every atom (`atoms.len()` entries each).
    pub atoms: Vec<Out>,
    pub totals: Vec<i64>,
    /// Membership bits; cells, because the pass records each group's answer while leaves read them.
    pub members: Vec<Cell<u64>>,
}

/// Instant `i` (`Instant as usize`) of a customer.
fn instant_of(c: &Customer, i: usize) -> Result<Ns, ()> {
    let a = &c.activity;
    match i {
        0 => opt_ns(Some(c.created_at)),
        1 => Ok(c.signup_date.map_or(UNSET, time::midnight)),
        2 => Ok(c.registration_date.map_or(UNSET, time::midnight)),
        3 => opt_ns(a.last_active_at),
        4 => opt_ns(a.first_booking_at),
        5 => opt_ns(a.last_booking_at),
        _ => opt_ns(a.expenses.first_at),
    }
}

impl Facts {
    /// Decodes `c` at `now`; `false` when an instant is a leap second (the caller uses the tree walker).
    pub fn decode(&mut self, sym: &Symbols, needs: &Needs, atoms: &[Atom], c: &Customer, now: Ns) -> bool {
        self.decode_all(sym, needs, atoms, c, now).is_ok()
    }

    fn decode_all(&mut self, sym: &Symbols, needs: &Needs, atoms: &[Atom], c: &Customer, now: Ns) -> Result<(), ()> {
        self.now = now;
        self.today = time::day_of(now);
        for i in 0..INSTANTS {
            if needs.instants >> i & 1 == 1 {
                self.instants[i] = instant_of(c, i)?;
            }
        }
        let a = &c.activity;
        self.bookings = a.bookings;
        self.email_verified = c.email_verified;
        self.phone_verified = c.phone_verified;
        self.has_phone = c.phone.is_some();
        self.activation_required = c.activation_required;
        if needs.tags {
            self.decode_tags(sym, c);
        }
        self.attributes.clear();
        for (slot, key) in sym.attributes.values().iter().enumerate() {
            self.attributes.push(match c.attributes.get(key) {
                None => Attr::Missing,
                Some(AttributeValue::String(s)) => Attr::Text(sym.attribute_texts[slot].id(s)),
                Some(AttributeValue::Number(n)) => Attr::Number(*n),
                Some(AttributeValue::Boolean(b)) => Attr::Boolean(*b),
                Some(AttributeValue::Date(d)) => Attr::Date(time::midnight(*d)),
            });
        }
        self.totals.clear();
        for cur in sym.currencies.values() {
            self.totals.push(a.payments.total(cur));
        }
        self.members.clear();
        self.members.resize(sym.groups.len().div_ceil(64), Cell::new(0));
        for g in &c.groups {
            if let Some(slot) = sym.group_slot(g) {
                self.set_member(slot, true);
            }
        }
        self.subs.clear();
        self.atoms.clear();
        if needs.subscriptions {
            self.decode_subscriptions(sym, atoms, c)?;
        }
        Ok(())
    }

    /// Whether the customer is in the group of a membership slot.
    pub fn member(&self, slot: u32) -> bool {
        self.members
            .get((slot / 64) as usize)
            .is_some_and(|w| w.get() >> (slot % 64) & 1 == 1)
    }

    /// Records a group's answer in its membership slot.
    pub fn set_member(&self, slot: u32, on: bool) {
        if let Some(w) = self.members.get((slot / 64) as usize) {
            let bit = 1u64 << (slot % 64);
            w.set(if on { w.get() | bit } else { w.get() & !bit });
        }
    }

    fn decode_tags(&mut self, sym: &Symbols, c: &Customer) {
        self.tags.clear();
        self.tags.resize(sym.tags.len().div_ceil(64), 0);
        let mut set = |i: usize| self.tags[i / 64] |= 1 << (i % 64);
        // Whichever side is smaller drives the lookups.
        if sym.tags.len() <= c.tags.len() {
            for (i, t) in sym.tags.values().iter().enumerate() {
                if c.tags.contains(t) {
                    set(i);
                }
            }
        } else {
            for t in &c.tags {
                let id = sym.tags.id(t);
                if id >= 2 {
                    set(id as usize - 2);
                }
            }
        }
    }

    fn decode_subscriptions(&mut self, sym: &Symbols, atoms: &[Atom], c: &Customer) -> Result<(), ()> {
        let customer_last = match c.activity.last_active_at {
            Some(t) => time::ns(t).ok_or(())?,
            None => time::ns(c.created_at).ok_or(())?,
        };
        for s in &c.subscriptions {
            let last = opt_ns(s.last_active_at)?;
            let sub = Sub {
                status: s.status,
                paid: s.paid,
                application: sym.applications.id(&s.application),
                product: sym.products.opt_id(s.product.as_ref()),
                plan: sym.plans.opt_id(s.plan.as_ref()),
                period: sym.periods.opt_id(s.period.as_ref()),
                subscribed_at: opt_ns(s.subscribed_at)?,
                renews_at: opt_ns(s.renews_at)?,
                expires_at: opt_ns(s.expires_at)?,
                canceled_at: opt_ns(s.canceled_at)?,
                last_active: if last == UNSET { customer_last } else { last },
            };
            for a in atoms {
                self.atoms.push(atom(a, &sub, self.now));
            }
            self.subs.push(sub);
        }
        Ok(())
    }
}

/// A window end: a missing fact is unbounded.
fn end(t: Ns) -> Ns {
    if t == UNSET {
        NEVER
    } else {
        t
    }
}

/// A state holding in `[start, end)`, narrowed by `after_days` counted from `date` (`Lifecycle::until`).
fn until(after: Option<u32>, date: Ns, start: Ns, end: Ns, now: Ns) -> Out {
    let start = match after {
        Some(n) => {
            if date == UNSET {
                return Out::FALSE;
            }
            start.max(add(date, days(n)))
        }
        None => start,
    };
    window(start, end, now)
}

/// `[date - w days, date)` (`Lifecycle::ahead`).
fn ahead(date: Ns, w: u32, now: Ns) -> Out {
    window(sub(date, days(w)), date, now)
}

/// One state of one subscription at `now` (`Lifecycle::state_of`).
pub(crate) fn atom(a: &Atom, s: &Sub, now: Ns) -> Out {
    let active = s.status == SubscriptionStatus::Active;
    let after = a.after;
    match a.state {
        State::Registered => Out::FALSE,
        State::Subscribed if active => until(after, s.subscribed_at, UNSET, end(s.expires_at), now),
        State::Subscribed => Out::FALSE,
        State::Renewing if active && s.canceled_at == UNSET && s.renews_at != UNSET => ahead(s.renews_at, a.days, now),
        State::Renewing => Out::FALSE,
        State::Canceling if active && s.canceled_at != UNSET => {
            until(after, s.canceled_at, UNSET, end(s.expires_at), now)
        }
        State::Canceling => Out::FALSE,
        State::Expiring if active && s.expires_at != UNSET && (s.renews_at == UNSET || s.canceled_at != UNSET) => {
            ahead(s.expires_at, a.days, now)
        }
        State::Expiring => Out::FALSE,
        State::Canceled => {
            let date = s.canceled_at.max(s.expires_at);
            match s.status {
                SubscriptionStatus::Canceled => until(after, date, UNSET, NEVER, now),
                SubscriptionStatus::Active if s.canceled_at != UNSET && s.expires_at != UNSET => {
                    until(after, date, s.expires_at, NEVER, now)
                }
                _ => Out::FALSE,
            }
        }
        State::Expired => match s.status {
            SubscriptionStatus::Expired => until(after, s.expires_at, UNSET, NEVER, now),
            SubscriptionStatus::Active
                if s.canceled_at == UNSET
                    && s.expires_at != UNSET
                    && (s.renews_at == UNSET || s.renews_at <= s.expires_at) =>
            {
                until(after, s.expires_at, s.expires_at, NEVER, now)
            }
            _ => Out::FALSE,
        },
        State::Inactive => {
            let date = add(s.last_active, days(a.days));
            until(after, date, date, NEVER, now)
        }
    }
}

/// The instant index of a decoded fact.
pub(crate) fn bit(i: Instant) -> u8 {
    1 << (i as u8)
}

/// Reads a little of each customer's heap data that the program decodes (tag, attribute, subscription
/// and ledger nodes and their strings) before the batch is decoded. The loads of different customers
/// do not depend on one another, so the processor overlaps their cache misses, where decoding one
/// customer after the other would wait for each miss in turn.
pub(crate) fn warm(part: &[Customer], sym: &Symbols, needs: &Needs) {
    let first = |s: &str| usize::from(s.as_bytes().first().copied().unwrap_or(0));
    let (attributes, totals, groups) = (
        sym.attributes.len() > 0,
        sym.currencies.len() > 0,
        !sym.groups.is_empty(),
    );
    let mut acc = 0usize;
    for c in part {
        if needs.tags {
            acc ^= c.tags.iter().take(4).map(|t| first(t)).sum::<usize>();
        }
        if attributes {
            for (k, v) in c.attributes.iter().take(8) {
                acc ^= first(k);
                if let AttributeValue::String(s) = v {
                    acc ^= first(s);
                }
            }
        }
        if needs.subscriptions {
            for s in c.subscriptions.iter().take(4) {
                acc ^= first(&s.application) ^ s.plan.as_deref().map_or(0, first);
            }
        }
        let a = &c.activity;
        if totals {
            acc ^= a.payments.totals.keys().next().map_or(0, |k| first(k));
        }
        if needs.ledgers {
            acc ^= a.payments.entries.first().map_or(0, |e| first(&e.currency));
            acc ^= a.expenses.entries.first().map_or(0, |e| first(&e.currency));
        }
        if groups {
            acc ^= c.groups.iter().next().map_or(0, |g| first(g.as_str()));
        }
    }
    std::hint::black_box(acc);
}
