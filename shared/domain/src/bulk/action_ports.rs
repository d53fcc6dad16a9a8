//! What bulk modify and delete need from storage beyond the shared bulk ports: the delete commit, the
//! single-use confirmations, and the audit log.

use super::action::{AuditEntry, Confirmation};
use super::ports::RowCommit;
use super::{BulkJob, Expect, FailedRow};
use crate::customer::Customer;
use crate::error::Result;
use crate::ids::TenantId;
use crate::page::{Page, PageRequest};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Items one customer's delete writes: its item, identities, and per group its member row and history
/// entry, plus the group's count (shared by the chunk's customers of that group).
pub fn delete_items(c: &Customer) -> usize {
    1 + c.identities().len() + 3 * c.groups.len()
}

/// How starting a bulk delete with a confirmation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The token was marked used by the job and the job's record created, together.
    Started,
    /// Another request used the token first.
    AlreadyUsed,
}

/// The bulk delete's one transaction, confirmations and the audit log.
pub trait BulkActionStore: Send + Sync {
    /// Deletes the customers (as read: their version is the condition) with their identity items,
    /// member rows (history: `deleted`; each group's count by the chunk's total) and the failed rows,
    /// and writes the record, in one transaction if the record still holds `expect`.
    fn commit_deletes(
        &self,
        t: &TenantId,
        customers: &[Customer],
        failed: &[FailedRow],
        job: &BulkJob,
        expect: Expect,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<RowCommit>> + Send;
    /// Stores a new confirmation under its token.
    fn put_confirmation(&self, t: &TenantId, token: &str, c: &Confirmation) -> impl Future<Output = Result<()>> + Send;
    /// The tenant's confirmation of this token, or `None`.
    fn get_confirmation(&self, t: &TenantId, token: &str) -> impl Future<Output = Result<Option<Confirmation>>> + Send;
    /// Marks the confirmation used by `job` (only if unused) and creates the job's record, together.
    fn start_confirmed(
        &self,
        t: &TenantId,
        token: &str,
        job: &BulkJob,
    ) -> impl Future<Output = Result<ConfirmOutcome>> + Send;
    /// Most customers one bulk delete may delete (tests lower it).
    fn bulk_delete_cap(&self) -> u64 {
        super::action::MAX_BULK_DELETE
    }
    /// Writes (or overwrites) an audit entry.
    fn put_audit(&self, t: &TenantId, e: &AuditEntry) -> impl Future<Output = Result<()>> + Send;
    /// The tenant's audit entries, newest first.
    fn list_audit(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<AuditEntry>>> + Send;
}
