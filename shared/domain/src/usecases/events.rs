//! Event ingestion (`POST /events`): valid events are applied, each customer's in time order, and the
//! customer re-evaluated in one membership pass; invalid ones are reported with their index.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::events::{Event, EventBatch};
use crate::ids::{CustomerId, TenantId};
use crate::membership::ChangeReason;
use crate::ports::MembershipPass;
use crate::ports::MAX_EVENTS_PER_COMMIT;
use crate::usecases::lookup::load_plan;
use crate::usecases::membership::{apply, Work};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The response of `POST /events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    /// Events in the request.
    pub received: usize,
    /// Events applied now.
    pub accepted: usize,
    /// Events whose id was already ingested (or repeated in the request): nothing changed.
    pub duplicates: usize,
    /// Events not applied, by index, with why.
    pub rejected: Vec<EventRejection>,
    /// Group entries and exits the events caused.
    pub membership_changes: u64,
}

/// Why an event of the request was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The event itself is invalid, or cannot apply to the customer's state.
    ValidationFailed,
    /// No customer has the event's `customer_id`.
    CustomerNotFound,
}

/// One event of the request that was not applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRejection {
    /// Position in the request.
    pub index: usize,
    /// The event's id as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// A stable code.
    pub code: RejectionCode,
    /// What to fix.
    pub message: String,
}

/// Ingests a parsed batch and reports what happened to each event.
pub async fn ingest_events<S: MembershipPass>(
    store: &S,
    t: &TenantId,
    batch: &EventBatch,
    now: DateTime<Utc>,
) -> Result<IngestReport> {
    let mut report = IngestReport {
        received: batch.entries.len(),
        ..Default::default()
    };
    let mut ids_seen = HashSet::new();
    let mut by_customer: BTreeMap<CustomerId, Vec<(usize, Event)>> = BTreeMap::new();
    for (i, entry) in batch.entries.iter().enumerate() {
        match &entry.event {
            Ok(e) if !ids_seen.insert(e.event_id.clone()) => report.duplicates += 1,
            Ok(e) => by_customer
                .entry(e.customer_id.clone())
                .or_default()
                .push((i, e.clone())),
            Err(err) => report.rejected.push(invalid(i, entry.event_id.clone(), err)),
        }
    }
    if by_customer.is_empty() {
        return Ok(report);
    }
    let ids: Vec<CustomerId> = by_customer.keys().cloned().collect();
    let mut customers: HashMap<CustomerId, Customer> = HashMap::new();
    let mut chunks: Vec<(CustomerId, Vec<Numbered>)> = Vec::new();
    for c in store.get_customers(t, &ids).await? {
        if let Some(mut events) = by_customer.remove(&c.id) {
            // A customer's events apply in time order, at most MAX_EVENTS_PER_COMMIT per commit: each
            // commit is one transaction (customer, event markers, membership), so a request of 500
            // events for one customer is a few commits, and a retry after a crash between them skips
            // the events already recorded and applies the rest.
            events.sort_by_key(|(n, e)| (e.occurred_at, *n));
            let parts = events.chunks(MAX_EVENTS_PER_COMMIT).map(<[_]>::to_vec).collect();
            chunks.push((c.id.clone(), parts));
            customers.insert(c.id.clone(), c);
        }
    }
    for (id, events) in by_customer {
        for (n, _) in events {
            report.rejected.push(not_found(n, batch.event_id(n), &id));
        }
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let rounds = chunks.iter().map(|(_, parts)| parts.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let work: Vec<Work> = chunks
            .iter()
            .filter_map(|(id, parts)| {
                let events = parts.get(round)?.clone();
                Some(Work {
                    customer: customers.get(id)?.clone(),
                    events,
                })
            })
            .collect();
        let done = apply(store, t, &mut plan, work, ChangeReason::CustomerUpdated, now).await?;
        report.accepted += done.applied_events.len();
        report.duplicates += done.duplicate_events.len();
        report.membership_changes += done.changes;
        for (n, err) in done.rejected_events {
            report.rejected.push(invalid(n, batch.event_id(n), &err));
        }
        for (id, events) in done.gone {
            customers.remove(&id);
            for n in events {
                report.rejected.push(not_found(n, batch.event_id(n), &id));
            }
        }
        // The next round starts from what this one stored (a concurrent write makes it stale, and the
        // pass reads the customer again).
        for c in done.stored {
            customers.insert(c.id.clone(), c);
        }
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok(report)
}

/// A customer's events with their index in the request, in apply order.
type Numbered = Vec<(usize, Event)>;

fn invalid(index: usize, event_id: Option<String>, err: &DomainError) -> EventRejection {
    EventRejection {
        index,
        event_id,
        code: RejectionCode::ValidationFailed,
        message: err.to_string(),
    }
}

fn not_found(index: usize, event_id: Option<String>, id: &CustomerId) -> EventRejection {
    EventRejection {
        index,
        event_id,
        code: RejectionCode::CustomerNotFound,
        message: format!("no customer with id {id:?}; create the customer first, then send the event again"),
    }
}
