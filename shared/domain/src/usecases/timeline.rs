//! The timeline and communication history of one customer: record messages (`POST /communications`)
//! and manual events, and list either newest first. Calls only `lookup`; the other entries are
//! written by the transactions of the changes they record (membership, customers, balances).

use crate::error::Result;
use crate::ids::{CustomerId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::CustomerStore;
use crate::timeline::communication::{Communication, CommunicationBatch};
use crate::timeline::manual::ManualEvent;
use crate::timeline::ports::{NewEntry, OnceKey, TimelineStore};
use crate::timeline::query::TimelineFilter;
use crate::timeline::TimelineEntry;
use crate::usecases::lookup::get_customer;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// What became of one message of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written now.
    Recorded,
    /// Its provider message id was recorded before (or earlier in this request): nothing written.
    AlreadyRecorded,
    /// Not written: see `code`.
    Rejected,
}

/// One message's result, by its index in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageResult {
    /// Position in the request.
    pub index: usize,
    /// The provider's message id as given.
    pub provider_message_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was rejected (`customer_not_found`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// What to fix, for a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The response of `POST /communications`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommunicationReport {
    /// Messages in the request.
    pub received: usize,
    /// Messages written now.
    pub recorded: usize,
    /// Messages whose provider message id was already recorded.
    pub already_recorded: usize,
    /// Messages not written (unknown customer).
    pub rejected: usize,
    /// Every message's result, in request order.
    pub results: Vec<MessageResult>,
}

/// Records messages for existing customers of the tenant, once per provider message id; a customer
/// id the tenant does not have (another tenant's included) is a per-message rejection.
pub async fn record_communications<S: CustomerStore + TimelineStore>(
    store: &S,
    t: &TenantId,
    batch: CommunicationBatch,
) -> Result<CommunicationReport> {
    let ids: Vec<CustomerId> = batch.items.iter().map(|c| c.customer_id.clone()).collect();
    let known: HashSet<CustomerId> = store.get_customers(t, &ids).await?.into_iter().map(|c| c.id).collect();
    let mut report = CommunicationReport {
        received: batch.items.len(),
        ..Default::default()
    };
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let mut writes: Vec<NewEntry> = Vec::new();
    let mut written_index: Vec<usize> = Vec::new();
    for (i, c) in batch.items.iter().enumerate() {
        let pid = c.message.provider_message_id.as_str();
        let mut result = MessageResult {
            index: i,
            provider_message_id: pid.to_owned(),
            outcome: Outcome::Recorded,
            code: None,
            message: None,
        };
        if !known.contains(&c.customer_id) {
            result.outcome = Outcome::Rejected;
            result.code = Some("customer_not_found");
            result.message = Some(format!(
                "communications[{i}].customer_id: no customer with id {:?}",
                c.customer_id.as_str()
            ));
        } else if first_of.contains_key(pid) {
            result.outcome = Outcome::AlreadyRecorded;
        } else {
            first_of.insert(pid, i);
            writes.push(NewEntry {
                customer: c.customer_id.clone(),
                entry: c.entry(),
                once: OnceKey::Message(pid.to_owned()),
            });
            written_index.push(i);
        }
        report.results.push(result);
    }
    let fresh = store.record_entries(t, &writes).await?;
    for (i, new) in written_index.into_iter().zip(fresh) {
        if !new {
            report.results[i].outcome = Outcome::AlreadyRecorded;
        }
    }
    for r in &report.results {
        match r.outcome {
            Outcome::Recorded => report.recorded += 1,
            Outcome::AlreadyRecorded => report.already_recorded += 1,
            Outcome::Rejected => report.rejected += 1,
        }
    }
    Ok(report)
}

/// A message as the communication tab lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommunicationView {
    /// The message.
    #[serde(flatten)]
    pub message: Communication,
}

/// A page of the customer's messages, newest first (optionally one channel's).
pub async fn list_communications<S: CustomerStore + TimelineStore>(
    store: &S,
    t: &TenantId,
    id: &CustomerId,
    filter: &TimelineFilter,
    page: &PageRequest,
) -> Result<Page<CommunicationView>> {
    get_customer(store, t, id).await?;
    let entries = store.list_entries(t, id, filter, page).await?;
    Ok(Page {
        items: entries
            .items
            .into_iter()
            .filter_map(|e| e.communication)
            .map(|message| CommunicationView { message })
            .collect(),
        next_cursor: entries.next_cursor,
    })
}

/// A recorded manual event, and whether its id had been recorded before (then nothing was written
/// and this is the first entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvent {
    /// The entry as stored.
    #[serde(flatten)]
    pub entry: TimelineEntry,
    /// `true`: the event id was recorded before; this is the entry then written.
    pub replayed: bool,
}

/// Records a manual event on an existing customer's timeline; with a client event id, once.
pub async fn record_manual_event<S: CustomerStore + TimelineStore>(
    store: &S,
    t: &TenantId,
    id: &CustomerId,
    event: ManualEvent,
) -> Result<RecordedEvent> {
    get_customer(store, t, id).await?;
    let entry = NewEntry {
        customer: id.clone(),
        entry: event.entry.clone(),
        once: OnceKey::Manual(event.entry.id.clone()),
    };
    let fresh = store.record_entries(t, std::slice::from_ref(&entry)).await?;
    if fresh.first().copied().unwrap_or(false) {
        return Ok(RecordedEvent {
            entry: event.entry,
            replayed: false,
        });
    }
    let first = store.manual_entry(t, id, &event.entry.id).await?.unwrap_or(event.entry);
    Ok(RecordedEvent {
        entry: first,
        replayed: true,
    })
}

/// A page of the customer's timeline, newest first, filtered by type and time.
pub async fn list_timeline<S: CustomerStore + TimelineStore>(
    store: &S,
    t: &TenantId,
    id: &CustomerId,
    filter: &TimelineFilter,
    page: &PageRequest,
) -> Result<Page<TimelineEntry>> {
    get_customer(store, t, id).await?;
    store.list_entries(t, id, filter, page).await
}
