//! The pure merge plan: conflicts, the merged primary, the ledger entries and the static groups the
//! primary joins. Computed from the two customers as read; the store writes it under their versions.

use crate::activity::{Activity, Ledger, LEDGER_DAYS, MAX_CURRENCIES};
use crate::balance::{BalanceEntry, Operation, OperationKind, MAX_UNITS};
use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::ids::GroupId;
use crate::merge::MergeSummary;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One identity both customers hold with different values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityConflict {
    /// `email`, `phone` or `external_id`.
    pub field: String,
    /// The primary's value.
    pub primary: String,
    /// The secondary's value.
    pub secondary: String,
}

/// Everything one merge writes, computed from the two customers as read.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    /// The primary as read (its version is the write's condition).
    pub primary: Customer,
    /// The secondary as read (its version is the write's condition).
    pub secondary: Customer,
    /// The primary to store: version = read version + max(1, number of ledger entries).
    pub merged: Customer,
    /// The secondary to store until it is deleted: without identities (they moved) and with version + 1.
    pub stripped: Customer,
    /// Identity conflicts; a plan with any is refused.
    pub conflicts: Vec<IdentityConflict>,
    /// One `merge` ledger entry per unit the secondary holds, in unit order; entry `i` is written at
    /// primary version `primary.version + 1 + i`.
    pub entries: Vec<BalanceEntry>,
    /// What moves (the record keeps it; the response shows it).
    pub summary: MergeSummary,
}

/// The conflicts between two customers' identities.
pub fn conflicts(p: &Customer, s: &Customer) -> Vec<IdentityConflict> {
    let mut out = Vec::new();
    let mut check = |field: &str, a: Option<String>, b: Option<String>| {
        if let (Some(a), Some(b)) = (a, b) {
            if a != b {
                out.push(IdentityConflict {
                    field: field.to_owned(),
                    primary: a,
                    secondary: b,
                });
            }
        }
    };
    check(
        "email",
        p.email.as_ref().map(|e| e.to_string()),
        s.email.as_ref().map(|e| e.to_string()),
    );
    check(
        "phone",
        p.phone.as_ref().map(|x| x.to_string()),
        s.phone.as_ref().map(|x| x.to_string()),
    );
    check("external_id", p.external_id.clone(), s.external_id.clone());
    out
}

fn take<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) -> bool {
    if mine.is_none() && theirs.is_some() {
        *mine = theirs.clone();
        return true;
    }
    false
}

/// Sums two money ledgers: lifetime totals and daily entries per (day, currency), at most
/// [`MAX_CURRENCIES`] currencies (`field` names a refusal).
fn sum_ledgers(field: &str, mine: &Ledger, theirs: &Ledger) -> Result<Ledger> {
    let mut out = mine.clone();
    for (cur, total) in &theirs.totals {
        let t = out.totals.entry(cur.clone()).or_insert(0);
        *t = t.saturating_add(*total);
    }
    if out.totals.len() > MAX_CURRENCIES {
        return Err(DomainError::validation(
            field,
            format!("the merged customer's {field} would span more than {MAX_CURRENCIES} currencies"),
        ));
    }
    for e in &theirs.entries {
        match out
            .entries
            .iter_mut()
            .find(|x| x.currency == e.currency && x.on == e.on)
        {
            Some(x) => x.amount_minor = x.amount_minor.saturating_add(e.amount_minor),
            None => out.entries.push(e.clone()),
        }
    }
    out.entries
        .sort_by(|a, b| (a.on, &a.currency).cmp(&(b.on, &b.currency)));
    if let Some(newest) = out.entries.last().map(|e| e.on) {
        let oldest = newest - Duration::days(LEDGER_DAYS);
        out.entries.retain(|e| e.on > oldest);
    }
    out.first_at = match (mine.first_at, theirs.first_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(out)
}

fn sum_activity(a: &Activity, b: &Activity) -> Result<Activity> {
    let max = |x: Option<DateTime<Utc>>, y: Option<DateTime<Utc>>| x.max(y);
    let min = |x: Option<DateTime<Utc>>, y: Option<DateTime<Utc>>| match (x, y) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    Ok(Activity {
        last_active_at: max(a.last_active_at, b.last_active_at),
        bookings: a.bookings.saturating_add(b.bookings),
        first_booking_at: min(a.first_booking_at, b.first_booking_at),
        last_booking_at: max(a.last_booking_at, b.last_booking_at),
        payments: sum_ledgers("activity.payments", &a.payments, &b.payments)?,
        expenses: sum_ledgers("activity.expenses", &a.expenses, &b.expenses)?,
    })
}

/// Plans merging `s` into `p`. `static_groups`: the secondary's static groups (the primary joins those
/// it is not in); `actor` signs the ledger entries. Conflicts are returned in the plan, not as an error,
/// so the preview can show them; a merged customer that breaks a bound is a 422.
pub fn plan_merge(
    p: &Customer,
    s: &Customer,
    static_groups: &BTreeSet<GroupId>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<MergePlan> {
    let conflicts = conflicts(p, s);
    let mut m = p.clone();
    let mut moved = Vec::new();
    if take(&mut m.email, &s.email) {
        m.email_verified = s.email_verified;
        moved.push("email".to_owned());
    }
    if take(&mut m.phone, &s.phone) {
        m.phone_verified = s.phone_verified;
        moved.push("phone".to_owned());
    }
    if take(&mut m.external_id, &s.external_id) {
        moved.push("external_id".to_owned());
    }
    take(&mut m.name, &s.name);
    take(&mut m.order_number, &s.order_number);
    take(&mut m.signup_date, &s.signup_date);
    take(&mut m.registration_date, &s.registration_date);
    for (k, v) in &s.attributes {
        m.attributes.entry(k.clone()).or_insert_with(|| v.clone());
    }
    m.tags.extend(s.tags.iter().cloned());
    let same = |a: &crate::customer::Subscription, b: &crate::customer::Subscription| {
        a.application == b.application && a.product == b.product && a.plan == b.plan
    };
    for sub in &s.subscriptions {
        if !m.subscriptions.iter().any(|x| same(x, sub)) {
            m.subscriptions.push(sub.clone());
        }
    }
    m.activity = sum_activity(&p.activity, &s.activity)?;
    let operation = Operation {
        kind: OperationKind::Merge,
        id: s.id.as_str().to_owned(),
    };
    let mut entries = Vec::new();
    let mut added = BTreeMap::new();
    for (unit, amount) in &s.balances {
        if *amount == 0 {
            continue;
        }
        let before = m.balances.get(unit).copied().unwrap_or(0);
        let after = before
            .checked_add(*amount)
            .ok_or_else(|| DomainError::validation("balances", format!("the merged {unit} balance would overflow")))?;
        m.balances.insert(unit.clone(), after);
        added.insert(unit.clone(), *amount);
        entries.push(BalanceEntry {
            customer_id: p.id.clone(),
            operation: operation.clone(),
            group_id: None,
            unit: unit.clone(),
            delta: *amount,
            balance_before: before,
            balance_after: after,
            comment: format!("merge of customer {}", s.id),
            actor: actor.to_owned(),
            at: now,
        });
    }
    if m.balances.len() > MAX_UNITS {
        return Err(DomainError::validation(
            "balances",
            format!("the merged customer would hold balances in more than {MAX_UNITS} units"),
        ));
    }
    m.version = p.version + entries.len().max(1) as u64;
    m.updated_at = now;
    m.check_size()?;
    let mut stripped = s.clone();
    stripped.email = None;
    stripped.phone = None;
    stripped.external_id = None;
    stripped.version = s.version + 1;
    let joined: Vec<GroupId> = static_groups
        .iter()
        .filter(|g| s.groups.contains(*g) && !p.groups.contains(*g))
        .cloned()
        .collect();
    let summary = MergeSummary {
        primary_id: p.id.clone(),
        secondary_id: s.id.clone(),
        identities_moved: moved,
        tags_added: s.tags.difference(&p.tags).cloned().collect(),
        groups_joined: joined,
        groups_left: s.groups.iter().cloned().collect(),
        balances_added: added,
    };
    Ok(MergePlan {
        primary: p.clone(),
        secondary: s.clone(),
        merged: m,
        stripped,
        conflicts,
        entries,
        summary,
    })
}
