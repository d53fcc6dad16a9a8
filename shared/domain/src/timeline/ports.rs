//! What the timeline needs from storage; `cg-aws` implements it over DynamoDB.

use super::query::TimelineFilter;
use super::TimelineEntry;
use crate::error::Result;
use crate::ids::{CustomerId, TenantId};
use crate::page::{Page, PageRequest};
use std::future::Future;

/// What makes recording an entry idempotent beyond its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnceKey {
    /// A message: its provider message id, once per tenant.
    Message(String),
    /// A manual event with a client id: once per customer.
    Manual(String),
}

/// An entry to record for a customer, once per key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Whose timeline.
    pub customer: CustomerId,
    /// The entry.
    pub entry: TimelineEntry,
    /// The idempotency key: an entry whose key was recorded before is not written again.
    pub once: OnceKey,
}

/// The timeline's own reads and writes (other writes happen inside the transactions of the changes
/// they record).
pub trait TimelineStore: Send + Sync {
    /// Writes each entry with its idempotency marker (`attribute_not_exists`), 50 per transaction;
    /// returns, aligned with `entries`, whether each was written now (`false`: its key was recorded
    /// before, nothing written).
    fn record_entries(&self, t: &TenantId, entries: &[NewEntry]) -> impl Future<Output = Result<Vec<bool>>> + Send;
    /// The entry a manual event id recorded for the customer, if any.
    fn manual_entry(
        &self,
        t: &TenantId,
        c: &CustomerId,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<TimelineEntry>>> + Send;
    /// A page of the customer's entries matching `filter`, newest first.
    fn list_entries(
        &self,
        t: &TenantId,
        c: &CustomerId,
        filter: &TimelineFilter,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<TimelineEntry>>> + Send;
}
