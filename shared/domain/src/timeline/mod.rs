//! A customer's timeline (seed 004) and communication history (seed 002): every accepted lifecycle
//! event, manual events, messages sent to the customer and the system's own entries (entered or left a
//! group, created, updated, imported, bulk-modified, balance changed), newest first. Entries are written where the change they
//! record is written (in the same transaction), so none is lost and none is written twice.

pub mod communication;
pub mod manual;
pub mod ports;
pub mod query;

use crate::ids::GroupId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use communication::{Channel, Communication, DeliveryStatus};

/// Days a timeline entry (and a communication's idempotency marker) is kept; DynamoDB's TTL deletes it.
pub const RETENTION_DAYS: i64 = 365;

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An ingested lifecycle event (`POST /events`).
    Event,
    /// A manual event (`POST /customers/{id}/timeline`).
    Manual,
    /// A message sent to the customer (`POST /communications`).
    Communication,
    /// The service's own record of a change (group entered or left, created, updated, balance).
    System,
}

impl Source {
    /// The one-letter code in the entry's sort key.
    pub fn code(self) -> &'static str {
        match self {
            Source::Event => "E",
            Source::Manual => "M",
            Source::Communication => "C",
            Source::System => "S",
        }
    }
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Unique within the customer's timeline for its source and time: the event id, the manual
    /// event's id, the provider's message id, or the system change's key.
    pub id: String,
    /// What happened: the event type (`subscription.renewed`), the manual type, `communication.email`,
    /// `group.entered`...
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Where it came from.
    pub source: Source,
    /// When it happened (the event's `occurred_at`, the message's `sent_at`, the change's time).
    pub at: DateTime<Utc>,
    /// The event's fields, the manual event's properties, or the change's details.
    pub properties: Map<String, Value>,
    /// The message, for a communication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication: Option<Communication>,
}

impl TimelineEntry {
    /// A system entry with the given details.
    pub fn system(entry_type: &str, id: String, at: DateTime<Utc>, properties: Map<String, Value>) -> Self {
        TimelineEntry {
            id,
            entry_type: entry_type.to_owned(),
            source: Source::System,
            at,
            properties,
            communication: None,
        }
    }

    /// `group.entered` / `group.left`, with the group and why.
    pub fn group_change(g: &GroupId, entered: bool, reason: &str, at: DateTime<Utc>) -> Self {
        let kind = if entered { "group.entered" } else { "group.left" };
        let mut p = Map::new();
        p.insert("group_id".into(), Value::String(g.to_string()));
        p.insert("reason".into(), Value::String(reason.to_owned()));
        TimelineEntry::system(kind, format!("{kind}#{g}"), at, p)
    }

    /// `customer.created`.
    pub fn created(at: DateTime<Utc>) -> Self {
        TimelineEntry::system("customer.created", "customer.created".into(), at, Map::new())
    }

    /// `customer.updated` (the version written identifies it).
    pub fn updated(version: u64, at: DateTime<Utc>) -> Self {
        let mut p = Map::new();
        p.insert("version".into(), Value::from(version));
        TimelineEntry::system("customer.updated", format!("customer.updated#{version}"), at, p)
    }

    /// `customer.merged`: another customer was merged into this one (keyed by the secondary, so a
    /// resumed merge writes the same entry).
    pub fn merged(summary: &crate::merge::MergeSummary, at: DateTime<Utc>) -> Self {
        let mut p = Map::new();
        p.insert("secondary_id".into(), Value::String(summary.secondary_id.to_string()));
        let list = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        p.insert("identities_moved".into(), list(&summary.identities_moved));
        let groups: Vec<String> = summary.groups_joined.iter().map(|g| g.to_string()).collect();
        p.insert("groups_joined".into(), list(&groups));
        let id = format!("customer.merged#{}", summary.secondary_id);
        TimelineEntry::system("customer.merged", id, at, p)
    }

    /// `balance.changed`: a ledger entry (the customer version written identifies it).
    pub fn balance_changed(e: &crate::balance::BalanceEntry, version: u64) -> Self {
        let mut p = Map::new();
        p.insert("unit".into(), Value::String(e.unit.as_str().to_owned()));
        p.insert("delta".into(), Value::from(e.delta));
        p.insert("balance_before".into(), Value::from(e.balance_before));
        p.insert("balance_after".into(), Value::from(e.balance_after));
        p.insert("comment".into(), Value::String(e.comment.clone()));
        p.insert(
            "operation_kind".into(),
            Value::String(e.operation.kind.as_str().to_owned()),
        );
        p.insert("operation_id".into(), Value::String(e.operation.id.clone()));
        TimelineEntry::system("balance.changed", format!("balance.changed#{version}"), e.at, p)
    }

    /// `customer.imported` or `customer.bulk_modified`: a customer a bulk job wrote, with the job and
    /// the version written (which identifies the entry, so a redone commit writes the same one).
    pub fn bulk_written(job: &crate::bulk::BulkJob, w: &crate::bulk::ports::CustomerWrite) -> Self {
        use crate::bulk::{ports::CustomerWrite, BulkKind};
        let after = w.after();
        let kind = match job.kind() {
            BulkKind::Import => "customer.imported",
            BulkKind::BulkModify => "customer.bulk_modified",
            BulkKind::BalanceOperation | BulkKind::BulkDelete | BulkKind::Count => "customer.updated",
        };
        let mut p = Map::new();
        p.insert("job_id".into(), Value::String(job.id.to_string()));
        p.insert("version".into(), Value::from(after.version));
        p.insert("created".into(), Value::Bool(matches!(w, CustomerWrite::Create(_))));
        TimelineEntry::system(kind, format!("{kind}#{}", after.version), after.updated_at, p)
    }

    /// An accepted lifecycle event: its type, time and fields; keyed by its id, so a redelivery
    /// writes the same entry.
    pub fn event(e: &crate::events::Event) -> Self {
        TimelineEntry {
            id: e.event_id.clone(),
            entry_type: e.kind.name().to_owned(),
            source: Source::Event,
            at: e.occurred_at,
            properties: e.properties.clone(),
            communication: None,
        }
    }
}
