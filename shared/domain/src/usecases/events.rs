//! Event ingestion (`POST /events`): valid events are applied, each customer's in time order, and the
//! customer re-evaluated in one membership pass; invalid ones are reported with their index.

use crate::error::{DomainError, Result};
use crate::events::{Event, EventBatch};
use crate::ids::{CustomerId, TenantId};
use crate::membership::ChangeReason;
use crate::ports::MembershipPass;
use crate::usecases::lookup::load_plan;
use crate::usecases::membership::{apply, Work};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

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
    let customers = store.get_customers(t, &ids).await?;
    let mut work = Vec::with_capacity(customers.len());
    for c in customers {
        if let Some(events) = by_customer.remove(&c.id) {
            work.push(Work { customer: c, events });
        }
    }
    for (id, events) in by_customer {
        for (n, _) in events {
            report.rejected.push(not_found(n, batch.event_id(n), &id));
        }
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let done = apply(store, t, &mut plan, work, ChangeReason::CustomerUpdated, now).await?;
    report.accepted = done.applied_events.len();
    report.duplicates += done.duplicate_events.len();
    report.membership_changes = done.changes;
    for (n, err) in done.rejected_events {
        report.rejected.push(invalid(n, batch.event_id(n), &err));
    }
    for (id, events) in done.gone {
        for n in events {
            report.rejected.push(not_found(n, batch.event_id(n), &id));
        }
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok(report)
}

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
