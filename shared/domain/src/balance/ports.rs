//! What balances need from storage; `cg-aws` implements it over DynamoDB.

use super::{BalanceEntry, BalanceWrite, IdempotencyKey, Operation};
use crate::bulk::{BulkJob, Expect, FailedRow};
use crate::error::Result;
use crate::ids::{BulkJobId, CustomerId, GroupId, TenantId};
use crate::page::{Page, PageRequest};
use std::future::Future;

/// How a balance commit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceCommit {
    /// Every customer, entry, marker, failed row and the record were written together.
    Committed,
    /// Nothing was written: a customer changed since it was read (read again and redo), or, for the
    /// writes listed, the operation was already applied to that customer (their markers exist).
    Stale {
        /// Positions in `writes` whose (operation, customer) marker already exists.
        applied: Vec<usize>,
    },
    /// The job's record no longer holds the expected fencing token or status: nothing was written.
    Fenced,
}

/// Balance ledgers and the one transaction that changes balances.
pub trait BalanceStore: Send + Sync {
    /// Writes each customer (under its read version), its ledger entry and its (operation, customer)
    /// marker (`attribute_not_exists`), its `balance.changed` timeline entry, the failed rows and, for
    /// a job, its record under `expect`, in one transaction: at most 100 items (`4 * writes + failed + 1`).
    fn commit_balances(
        &self,
        t: &TenantId,
        writes: &[BalanceWrite],
        failed: &[FailedRow],
        job: Option<(&BulkJob, Expect)>,
    ) -> impl Future<Output = Result<BalanceCommit>> + Send;
    /// The entry an operation wrote for a customer (its marker), if it was applied.
    fn applied_entry(
        &self,
        t: &TenantId,
        op: &Operation,
        c: &CustomerId,
    ) -> impl Future<Output = Result<Option<BalanceEntry>>> + Send;
    /// A page of the customer's ledger, newest first.
    fn ledger(
        &self,
        t: &TenantId,
        c: &CustomerId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<BalanceEntry>>> + Send;
    /// Up to `limit` member ids of a group after `after`, in id order, and whether more may follow
    /// (one Query reading the ids only).
    fn member_ids(
        &self,
        t: &TenantId,
        g: &GroupId,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> impl Future<Output = Result<(Vec<CustomerId>, bool)>> + Send;
    /// Creates a group operation's record unless its idempotency key was used before (one
    /// transaction: the record and the key's item); returns the earlier operation's id if it was.
    fn create_balance_operation(
        &self,
        t: &TenantId,
        job: &BulkJob,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<BulkJobId>>> + Send;
}

/// Customers per group-operation commit: 4 items each (customer, ledger entry, marker, timeline
/// entry) plus the record fit in one transaction.
pub const BATCH_CUSTOMERS: usize = 24;
/// Member ids read per Query (25 commits' worth, a multiple of 100: their customers are read 100 per
/// BatchGetItem).
pub const MEMBER_PAGE: u32 = 600;
