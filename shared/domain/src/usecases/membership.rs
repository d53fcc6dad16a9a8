//! The membership pass: where membership is decided and committed. Every path that can change a
//! customer's groups (events, customer changes, wake-ups, resyncs, static-member changes that dynamic
//! groups depend on) ends here: read the customer, apply its events, evaluate every dynamic group of
//! the tenant with [`Plan::evaluate`] (pure, in dependency order), and commit only the delta through
//! [`MembershipCommit`](crate::ports::MembershipCommit). Customers that changed under the write are read again and redone.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::events::Event;
use crate::ids::{CustomerId, TenantId};
use crate::lapse::{lapse_renewals, next_lapse};
use crate::membership::{apply_delta, ChangeReason, Delta, Plan};
use crate::ports::{Commit, CommitResult, MembershipPass};
use crate::timeline::TimelineEntry;
use crate::usecases::lookup::load_plan;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// Rounds of re-reading and redoing customers that changed under a commit before giving up (retryable).
const MAX_ROUNDS: usize = 6;

/// A customer to re-evaluate, with the events to apply first (index in the request, event).
#[derive(Debug, Clone)]
pub struct Work {
    /// The customer as read.
    pub customer: Customer,
    /// Events to apply before evaluating, with their index in the request.
    pub events: Vec<(usize, Event)>,
}

impl Work {
    /// Re-evaluation of a customer without events.
    pub fn new(customer: Customer) -> Self {
        Work {
            customer,
            events: Vec::new(),
        }
    }
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ApplyReport {
    /// Customers evaluated.
    pub evaluated: u64,
    /// Membership entries plus exits written.
    pub changes: u64,
    /// Customers written (membership, facts or wake-up changed).
    pub written: u64,
    /// Indexes of the events applied.
    pub applied_events: Vec<usize>,
    /// Indexes of the events already ingested earlier.
    pub duplicate_events: Vec<usize>,
    /// Indexes of the events the customer's state refused, with why.
    pub rejected_events: Vec<(usize, DomainError)>,
    /// Customers deleted while the pass ran (their events were not applied).
    pub gone: Vec<(CustomerId, Vec<usize>)>,
    /// The customers as the pass stored them (one per written customer).
    pub stored: Vec<Customer>,
}

/// Applies each work item's events, evaluates every dynamic group and commits only what changed.
/// Customers that changed under the write are read again and redone, so the result is as if the pass
/// had run after every concurrent write.
pub async fn apply<S: MembershipPass>(
    store: &S,
    t: &TenantId,
    plan: &mut Plan,
    work: Vec<Work>,
    reason: ChangeReason,
    now: DateTime<Utc>,
) -> Result<ApplyReport> {
    let mut report = ApplyReport {
        evaluated: work.len() as u64,
        ..Default::default()
    };
    let mut pending = work;
    for _ in 0..MAX_ROUNDS {
        // Facts first (events, lapsed renewals), then every customer through the plan in one batch.
        let grace = plan.tenant_settings().renewal_grace_days;
        let facts: Vec<(Customer, bool)> = pending
            .iter_mut()
            .map(|w| with_facts(w, now, grace, &mut report))
            .collect();
        let afters: Vec<Customer> = facts.iter().map(|(c, _)| c.clone()).collect();
        let deltas = plan.evaluate_many(&afters, now);
        let mut commits = Vec::new();
        let mut owners = Vec::new();
        for (i, ((w, (after, lapsed)), delta)) in pending.iter().zip(facts).zip(deltas).enumerate() {
            if let Some(commit) = prepare(w, after, lapsed, delta, grace, &reason, now) {
                commits.push(commit);
                owners.push(i);
            }
        }
        if commits.is_empty() {
            return Ok(report);
        }
        let sizes: Vec<u64> = commits
            .iter()
            .map(|c| (c.entered.len() + c.left.len()) as u64)
            .collect();
        let afters: Vec<Customer> = commits.iter().map(|c| c.after.clone()).collect();
        let results = store.commit(t, commits, now).await?;
        let mut redo: Vec<Work> = Vec::new();
        let mut reread: Vec<Work> = Vec::new();
        let mut reload = false;
        let mut taken: Vec<Option<Work>> = pending.into_iter().map(Some).collect();
        for (((result, i), size), after) in results.into_iter().zip(owners).zip(sizes).zip(afters) {
            let Some(mut w) = taken[i].take() else { continue };
            match result {
                CommitResult::Committed => {
                    report.changes += size;
                    report.written += 1;
                    report.stored.push(after);
                    report.applied_events.extend(w.events.iter().map(|(n, _)| *n));
                }
                CommitResult::Stale => reread.push(w),
                CommitResult::SeenEvents(ids) => {
                    let seen: HashSet<&String> = ids.iter().collect();
                    report.duplicate_events.extend(
                        w.events
                            .iter()
                            .filter(|(_, e)| seen.contains(&e.event_id))
                            .map(|(n, _)| *n),
                    );
                    w.events.retain(|(_, e)| !seen.contains(&e.event_id));
                    redo.push(w);
                }
                CommitResult::GroupGone => {
                    reload = true;
                    redo.push(w);
                }
            }
        }
        if reload {
            *plan = load_plan(store, t).await?.1;
        }
        if !reread.is_empty() {
            let ids: Vec<CustomerId> = reread.iter().map(|w| w.customer.id.clone()).collect();
            let mut fresh: HashMap<CustomerId, Customer> = store
                .get_customers(t, &ids)
                .await?
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect();
            for mut w in reread {
                match fresh.remove(&w.customer.id) {
                    Some(c) => {
                        w.customer = c;
                        redo.push(w);
                    }
                    None => report
                        .gone
                        .push((w.customer.id.clone(), w.events.iter().map(|(n, _)| *n).collect())),
                }
            }
        }
        pending = redo;
    }
    Err(DomainError::ConcurrentUpdate)
}

/// The customer with its work item's events applied (each customer's in time order; an event its
/// state refuses is rejected and undone) and its lapsed renewals ended; whether any lapsed.
fn with_facts(w: &mut Work, now: DateTime<Utc>, grace: u32, report: &mut ApplyReport) -> (Customer, bool) {
    let mut after = w.customer.clone();
    w.events.sort_by_key(|(n, e)| (e.occurred_at, *n));
    let mut kept = Vec::with_capacity(w.events.len());
    for (n, e) in std::mem::take(&mut w.events) {
        let snapshot = after.clone();
        match e.apply(&mut after).and_then(|()| after.check_size()) {
            Ok(()) => kept.push((n, e)),
            Err(err) => {
                after = snapshot;
                report.rejected_events.push((n, err));
            }
        }
    }
    w.events = kept;
    let lapsed = lapse_renewals(&mut after, now, grace);
    (after, lapsed)
}

/// The commit for one work item, or `None` when nothing changed.
fn prepare(
    w: &Work,
    after: Customer,
    lapsed: bool,
    mut delta: Delta,
    grace: u32,
    reason: &ChangeReason,
    now: DateTime<Utc>,
) -> Option<Commit> {
    delta.next_wake_at = earliest(delta.next_wake_at, next_lapse(&after, now, grace));
    let mut after = apply_delta(&after, &delta);
    let facts_changed = !w.events.is_empty() || lapsed;
    if delta.is_empty() && after.next_wake_at == w.customer.next_wake_at && !facts_changed {
        return None;
    }
    if facts_changed {
        after.updated_at = now;
    }
    after.version = w.customer.version + 1;
    let reason = match w.events.last() {
        Some((_, e)) => ChangeReason::Event {
            event_id: e.event_id.clone(),
            kind: e.kind.name(),
        },
        None => reason.clone(),
    };
    Some(Commit {
        before: w.customer.clone(),
        after,
        entered: delta.entered,
        left: delta.left,
        events: w.events.iter().map(|(_, e)| e.event_id.clone()).collect(),
        timeline: w.events.iter().map(|(_, e)| TimelineEntry::event(e)).collect(),
        facts_changed,
        reason,
    })
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Evaluates one customer the caller has just written (created or updated) and returns it as stored
/// afterwards: no second read before or after (a concurrent write makes the commit stale, and the pass
/// then reads the customer again as usual).
pub async fn settle<S: MembershipPass>(
    store: &S,
    t: &TenantId,
    customer: Customer,
    reason: ChangeReason,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let (_, mut plan) = load_plan(store, t).await?;
    let grace = plan.tenant_settings().renewal_grace_days;
    if plan.is_empty() && customer.next_wake_at.is_none() && next_lapse(&customer, now, grace).is_none() {
        return Ok(customer);
    }
    let id = customer.id.clone();
    let mut report = apply(store, t, &mut plan, vec![Work::new(customer.clone())], reason, now).await?;
    Ok(match report.stored.pop() {
        Some(stored) => stored,
        // Nothing to change, or redone after a concurrent write that this pass did not see stored.
        None if report.written == 0 && report.gone.is_empty() => customer,
        None => store.get_customer(t, &id).await?.unwrap_or(customer),
    })
}

/// Re-evaluates the given customers (after an API change, a wake-up, or a change of a referenced group).
pub async fn reevaluate<S: MembershipPass>(
    store: &S,
    t: &TenantId,
    ids: &[CustomerId],
    reason: ChangeReason,
    now: DateTime<Utc>,
) -> Result<ApplyReport> {
    if ids.is_empty() {
        return Ok(ApplyReport::default());
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let customers = store.get_customers(t, ids).await?;
    let grace = plan.tenant_settings().renewal_grace_days;
    let idle = |c: &Customer| c.next_wake_at.is_none() && next_lapse(c, now, grace).is_none();
    if plan.is_empty() && customers.iter().all(idle) {
        return Ok(ApplyReport::default());
    }
    apply(
        store,
        t,
        &mut plan,
        customers.into_iter().map(Work::new).collect(),
        reason,
        now,
    )
    .await
}
