//! What the merge procedure needs from storage: the record and one conditional write per step.

use crate::customer::Customer;
use crate::error::Result;
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::merge::{MergePlan, MergeRecord, MergeStep};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Merge records and the merge's own writes.
pub trait MergeStore: Send + Sync {
    /// The record of the merge whose secondary is `secondary`, or `None`.
    fn get_merge(
        &self,
        t: &TenantId,
        secondary: &CustomerId,
    ) -> impl Future<Output = Result<Option<MergeRecord>>> + Send;
    /// Writes a new record (step `planned`); `false` when one exists for the secondary already.
    fn start_merge(&self, t: &TenantId, r: &MergeRecord) -> impl Future<Output = Result<bool>> + Send;
    /// Removes a record still at `planned` (the merge was refused before it changed anything).
    fn abandon_merge(&self, t: &TenantId, secondary: &CustomerId) -> impl Future<Output = Result<()>> + Send;
    /// The `combined` step in ONE transaction: the record `planned` -> `combined` (with the plan's
    /// summary), both customers under their read versions, every moved identity item re-pointed on
    /// the condition that the secondary owns it, the ledger entries and their markers, and the
    /// timeline entries; no merge record may exist with the primary as its secondary. `false`: a
    /// condition failed (a customer changed; re-read, re-plan, retry).
    fn commit_combine(
        &self,
        t: &TenantId,
        plan: &MergePlan,
        r: &MergeRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Moves the record from `from` to `to`; `false` when it is not at `from` (another run moved it).
    fn advance_merge(
        &self,
        t: &TenantId,
        secondary: &CustomerId,
        from: MergeStep,
        to: MergeStep,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The secondary leaves one group: member row, its groups set, the count and a history exit with
    /// reason `merged`, in one transaction; `false` when it was not a member (already left).
    fn leave_for_merge(
        &self,
        t: &TenantId,
        g: &GroupId,
        secondary: &Customer,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes the secondary item (on the condition that it is in no group) and moves the record
    /// `left` -> `deleted` in one transaction; `false` when a condition failed.
    fn delete_merged(
        &self,
        t: &TenantId,
        secondary: &CustomerId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
}
