//! What bulk jobs need from storage, queues and files, one small trait each; `cg-aws` implements them
//! over DynamoDB, SQS and S3.

use super::{BulkJob, BulkKind, BulkTask, Expect, FailedRow};
use crate::customer::Customer;
use crate::error::Result;
use crate::ids::{BulkJobId, TenantId};
use crate::page::{Page, PageRequest};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Bulk job records.
pub trait BulkJobStore: Send + Sync {
    /// Stores a new record; its id must be new.
    fn create_bulk_job(&self, t: &TenantId, job: &BulkJob) -> impl Future<Output = Result<()>> + Send;
    /// The tenant's job of this kind and id, or `None`.
    fn get_bulk_job(
        &self,
        t: &TenantId,
        kind: BulkKind,
        id: &BulkJobId,
    ) -> impl Future<Output = Result<Option<BulkJob>>> + Send;
    /// The tenant's jobs of a kind, newest first.
    fn list_bulk_jobs(
        &self,
        t: &TenantId,
        kind: BulkKind,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<BulkJob>>> + Send;
    /// Overwrites the record if it still holds `expect` (fencing token and status); `false` otherwise.
    fn save_bulk_job(&self, t: &TenantId, job: &BulkJob, expect: Expect) -> impl Future<Output = Result<bool>> + Send;
    /// The failed rows recorded for a job, in row order, one page at a time (`cursor`: the last row of
    /// the previous page).
    fn failed_rows(
        &self,
        t: &TenantId,
        id: &BulkJobId,
        after_row: Option<u64>,
    ) -> impl Future<Output = Result<(Vec<FailedRow>, Option<u64>)>> + Send;
}

/// A customer write of a bulk batch (built and consumed per batch, so the variants' sizes matter
/// little).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum CustomerWrite {
    /// A new customer and its identities (the id must be new).
    Create(Customer),
    /// An existing customer from `before` (its stored version) to `after`, moving changed identities.
    Update {
        /// The customer as stored.
        before: Customer,
        /// The customer to store (version `before.version + 1`).
        after: Customer,
    },
}

impl CustomerWrite {
    /// The customer as it will be stored.
    pub fn after(&self) -> &Customer {
        match self {
            CustomerWrite::Create(c) => c,
            CustomerWrite::Update { after, .. } => after,
        }
    }

    /// DynamoDB items the write takes: the customer, its timeline entry, and one per identity added
    /// or removed.
    pub fn items(&self) -> usize {
        match self {
            CustomerWrite::Create(c) => 2 + c.identities().len(),
            CustomerWrite::Update { before, after } => {
                let (old, new) = (before.identities(), after.identities());
                2 + old.symmetric_difference(&new).count()
            }
        }
    }
}

/// How a batch's commit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCommit {
    /// Every write, failed row and the record were stored together.
    Committed,
    /// A customer changed, or an identity was taken or moved, since it was read: nothing was stored;
    /// read again and redo the batch.
    Stale,
    /// The record no longer holds the expected fencing token or status (another run took over, or the
    /// job was canceled): nothing was stored; stop.
    Fenced,
}

/// The one transaction of a bulk batch.
pub trait BulkCommit: Send + Sync {
    /// Writes the customers (with their identity items and timeline entries), the failed rows and the record (its advanced
    /// checkpoint) in one transaction, if the record still holds `expect`. At most
    /// [`MAX_BATCH_ITEMS`] items in all: `Σ write.items() + failed.len() + 1`.
    fn commit_rows(
        &self,
        t: &TenantId,
        writes: &[CustomerWrite],
        failed: &[FailedRow],
        job: &BulkJob,
        expect: Expect,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<RowCommit>> + Send;
}

/// DynamoDB's limit of items per transaction: a batch's writes, failed rows and the record.
pub const MAX_BATCH_ITEMS: usize = 100;

/// The queue that carries bulk jobs.
pub trait BulkQueue: Send + Sync {
    /// Sends one task.
    fn enqueue_bulk(&self, task: &BulkTask) -> impl Future<Output = Result<()>> + Send;
    /// Sends several tasks (a fan-out); the store batches them where it can.
    fn enqueue_bulk_many(&self, tasks: &[BulkTask]) -> impl Future<Output = Result<()>> + Send {
        async move {
            for task in tasks {
                self.enqueue_bulk(task).await?;
            }
            Ok(())
        }
    }
}

/// The objects of a bulk job (`{tenant}/imports/{id}/...` in the bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkObject {
    /// The uploaded file.
    Upload(TenantId, BulkJobId),
    /// The failure report (CSV).
    FailureReport(TenantId, BulkJobId),
}

/// Files of bulk jobs: the upload (signed PUT, or written for an inline file), its download to a
/// local file for reading, and the failure report.
pub trait BulkFiles: Send + Sync {
    /// A link that lets anyone holding it PUT the object for `valid_for`.
    fn upload_link(&self, obj: &BulkObject, valid_for: Duration) -> impl Future<Output = Result<String>> + Send;
    /// A link that GETs the object for `valid_for`, saving it under `file_name`.
    fn download_link(
        &self,
        obj: &BulkObject,
        file_name: &str,
        valid_for: Duration,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Writes an object whole.
    fn put_object(
        &self,
        obj: &BulkObject,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The object's size, or `None` if it does not exist.
    fn object_size(&self, obj: &BulkObject) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// Streams the object into a local file; returns the bytes written (`NotFound` if it is gone).
    fn download_to(&self, obj: &BulkObject, path: &Path) -> impl Future<Output = Result<u64>> + Send;
}
