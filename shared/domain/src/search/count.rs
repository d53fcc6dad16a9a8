//! Count jobs (issue 14, item 2): the exact number of customers a filter matches in a tenant too large
//! to count within one request. The job fans out like the resync: one bulk-queue task per customer
//! partition, each counting its partition page by page.
//!
//! Exactness: a partition's progress is ONE item holding the position (the last id read) and the
//! counts up to it, always written whole, so a position and its counts can never disagree. A run
//! killed after reading a page and before writing leaves the old position (the redelivery reads the
//! page again); one killed after writing resumes after that page. Each write is also conditioned on
//! the stored `step` still being the one the run read, so of two runs at once one stops at its first
//! write, and a stale run never moves a partition back. Relative dates are evaluated at the job's
//! creation time, so every partition and every redelivery applies the same rules.
//!
//! The job is done when every partition is; its count is the sum. Nothing else is written at the end,
//! so there is no last step to lose.

use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, CustomerId, PathId, TenantId};
use crate::search::target::TargetSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Hours a count job's items are kept (DynamoDB TTL).
pub const COUNT_RETENTION_HOURS: i64 = 24;

/// A count job as created: what it counts, over how many partitions, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountJob {
    /// Time-ordered and unguessable.
    pub id: BulkJobId,
    /// The filter counted (a saved filter's definition is copied in).
    pub target: TargetSpec,
    /// The tenant's customer partitions, one task each.
    pub partitions: u32,
    /// When the job was created: also the time its relative dates are evaluated at.
    pub created_at: DateTime<Utc>,
    /// A static group every match is added to (a filter saved as a static group in a large tenant):
    /// each page's matches are added before the page's position is written, and an add of a member
    /// is a no-op, so a page counted again adds nobody twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_to: Option<crate::ids::GroupId>,
}

/// One partition's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionCount {
    /// The partition.
    pub shard: u32,
    /// Pages counted; every write is conditioned on the previous value (0: nothing written yet).
    pub step: u64,
    /// The last customer id counted.
    pub after: Option<CustomerId>,
    /// Customers that matched so far.
    pub matched: u64,
    /// Customers read so far.
    pub evaluated: u64,
    /// Every customer of the partition is counted.
    pub done: bool,
    /// Why the partition could not be counted (the job then fails).
    pub failed: Option<String>,
    /// When the partition last advanced.
    pub updated_at: DateTime<Utc>,
}

impl PartitionCount {
    /// A partition nothing has been counted in yet.
    pub fn new(shard: u32, now: DateTime<Utc>) -> PartitionCount {
        PartitionCount {
            shard,
            step: 0,
            after: None,
            matched: 0,
            evaluated: 0,
            done: false,
            failed: None,
            updated_at: now,
        }
    }

    /// Whether the partition will not change again.
    pub fn is_final(&self) -> bool {
        self.done || self.failed.is_some()
    }
}

/// Where a count job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountStatus {
    /// Partitions are being counted.
    Running,
    /// Every partition is counted: `count` is exact.
    Done,
    /// A partition could not be counted; `last_error` says why. Start a new count.
    Failed,
}

/// `GET /count-jobs/{id}` and the 202 of a count that became a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountJobView {
    /// The job's id.
    pub id: BulkJobId,
    /// Always `count`.
    pub kind: &'static str,
    /// Where the job is.
    pub status: CountStatus,
    /// The exact count, once `done`.
    pub count: Option<u64>,
    /// Matches counted so far.
    pub matched: u64,
    /// Customers read so far.
    pub evaluated: u64,
    /// The tenant's customer partitions.
    pub partitions: u32,
    /// Partitions counted to their end.
    pub partitions_done: u32,
    /// `partitions_done / partitions`.
    pub progress: f64,
    /// When the job was created (relative dates are evaluated at this time).
    pub created_at: DateTime<Utc>,
    /// When the last partition ended, once done or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job failed.
    pub last_error: Option<String>,
}

impl CountJobView {
    /// The view of a job from its partitions' progress (a partition without an item has not started).
    pub fn of(job: &CountJob, parts: &[PartitionCount]) -> CountJobView {
        let done = parts.iter().filter(|p| p.done).count() as u32;
        let failed = parts.iter().find_map(|p| p.failed.clone());
        let matched = parts.iter().map(|p| p.matched).sum();
        let status = match (&failed, done >= job.partitions) {
            (Some(_), _) => CountStatus::Failed,
            (None, true) => CountStatus::Done,
            (None, false) => CountStatus::Running,
        };
        let finished_at = (status != CountStatus::Running)
            .then(|| parts.iter().filter(|p| p.is_final()).map(|p| p.updated_at).max())
            .flatten();
        CountJobView {
            id: job.id.clone(),
            kind: "count",
            status,
            count: (status == CountStatus::Done).then_some(matched),
            matched,
            evaluated: parts.iter().map(|p| p.evaluated).sum(),
            partitions: job.partitions,
            partitions_done: done,
            progress: if job.partitions == 0 {
                1.0
            } else {
                f64::from(done) / f64::from(job.partitions)
            },
            created_at: job.created_at,
            finished_at,
            last_error: failed,
        }
    }
}

/// A count job's id in a path (404 for anything that is not one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountJobPathId(pub BulkJobId);

impl PathId for CountJobPathId {
    const WHAT: &'static str = "count job";

    fn from_path(raw: &str) -> Result<Self> {
        BulkJobId::parse(raw)
            .map(CountJobPathId)
            .map_err(|_| <Self as PathId>::not_found(raw))
    }
}

/// The 404 of a count job that does not exist for this tenant.
pub fn count_job_not_found(id: &BulkJobId) -> DomainError {
    DomainError::not_found(format!("no count job with id {:?}", id.as_str()))
}

/// Where count jobs are kept.
pub trait CountJobStore: Send + Sync {
    /// Stores a new job (its partitions have no items until they start).
    fn create_count_job(&self, t: &TenantId, job: &CountJob) -> impl Future<Output = Result<()>> + Send;
    /// The job and the progress of every partition that started, read consistently in one request.
    fn get_count_job(
        &self,
        t: &TenantId,
        id: &BulkJobId,
    ) -> impl Future<Output = Result<Option<(CountJob, Vec<PartitionCount>)>>> + Send;
    /// Writes a partition's progress if its stored step is still `p.step - 1` (no item for step 1).
    /// `false`: another run advanced it first, nothing was written.
    fn advance_partition(
        &self,
        t: &TenantId,
        id: &BulkJobId,
        p: &PartitionCount,
    ) -> impl Future<Output = Result<bool>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(partitions: u32) -> CountJob {
        CountJob {
            id: BulkJobId::generate(),
            target: TargetSpec::Ids { ids: Vec::new() },
            partitions,
            created_at: Utc::now(),
            add_to: None,
        }
    }

    fn part(shard: u32, matched: u64, done: bool) -> PartitionCount {
        PartitionCount {
            matched,
            evaluated: matched * 2,
            done,
            step: 1,
            ..PartitionCount::new(shard, Utc::now())
        }
    }

    #[test]
    fn a_job_is_done_only_when_every_partition_is_and_then_counts_their_sum() {
        let j = job(3);
        let running = CountJobView::of(&j, &[part(0, 4, true), part(1, 5, true)]);
        assert_eq!(running.status, CountStatus::Running);
        assert_eq!((running.count, running.matched, running.partitions_done), (None, 9, 2));
        let done = CountJobView::of(&j, &[part(0, 4, true), part(1, 5, true), part(2, 1, true)]);
        assert_eq!(done.status, CountStatus::Done);
        assert_eq!((done.count, done.evaluated, done.progress), (Some(10), 20, 1.0));
        assert!(done.finished_at.is_some());
    }

    #[test]
    fn one_failed_partition_fails_the_job_with_its_reason() {
        let mut bad = part(1, 0, false);
        bad.failed = Some("the filter names a deleted group".into());
        let v = CountJobView::of(&job(2), &[part(0, 4, true), bad]);
        assert_eq!(v.status, CountStatus::Failed);
        assert_eq!(v.count, None);
        assert_eq!(v.last_error.as_deref(), Some("the filter names a deleted group"));
    }
}
