//! Background jobs carried by the group-jobs queue. Every job is idempotent: running it twice, or
//! resuming it after a crash, ends in the same state.

use crate::group::SyncState;
use crate::ids::{CustomerId, GroupId, JobId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Work after which a resync shard hands the rest of its partitions on to new messages, in the units
/// of a resync's minimum cost: customer pages read plus membership changes / 25. 500 is a few seconds
/// of DynamoDB time: 100k unchanged customers (about 64 pages) stay one message, a first resync of
/// the same customers (about 13 000 units) fans out to one worker per partition.
pub const RESYNC_SHARD_BUDGET: u64 = 500;

/// A partition a resync shard finished, with what it did there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionDone {
    /// The customer partition's number.
    pub partition: u32,
    /// Customers evaluated in it.
    pub evaluated: u64,
    /// Membership entries plus exits written in it.
    pub changes: u64,
}

/// A message on the group-jobs queue, tagged by `job` (`purge_group`, `resync_shard`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupJob {
    /// Remove every member of a group marked for deletion, then the group itself.
    PurgeGroup {
        /// The group's tenant.
        tenant: TenantId,
        /// The group marked for deletion.
        group_id: GroupId,
    },
    /// Recount a group's members from its member rows and repair the stored count if it drifted.
    ResyncGroup {
        /// The group's tenant.
        tenant: TenantId,
        /// The group whose members are recounted (the nightly run sends one per static group).
        group_id: GroupId,
    },
    /// Re-evaluate every customer of some customer partitions against all dynamic groups (part of a
    /// resync job, which records its partitions done, once each).
    ResyncShard {
        /// The tenant being resynced.
        tenant: TenantId,
        /// The resync job that records this shard's partitions.
        job_id: JobId,
        /// The first partition (the only one in messages written before shards covered several).
        shard: u32,
        /// The customer partitions this shard reads; empty means `[shard]`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        partitions: Vec<u32>,
    },
    /// Re-evaluate customers whose next wake-up instant has come (at most [`MAX_WAKE_BATCH`] per message).
    WakeCustomers {
        /// The customers' tenant.
        tenant: TenantId,
        /// The customers found due, at most [`MAX_WAKE_BATCH`].
        customer_ids: Vec<CustomerId>,
        /// The scheduler's clock when it found them due; evaluation uses the later of this and the
        /// worker's clock.
        at: DateTime<Utc>,
    },
}

/// Customers per wake-up message (one BatchGetItem).
pub const MAX_WAKE_BATCH: usize = 100;

/// A resync: every customer shard re-evaluated against the tenant's dynamic groups. `groups` are the
/// groups whose sync status reports this job (one group for a manual resync, all for the nightly one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResyncJob {
    /// Generated when the resync starts.
    pub id: JobId,
    /// Groups whose `sync` status reports this job.
    pub groups: Vec<GroupId>,
    /// Open (queued or running) until the job finishes, done or failed, once.
    pub status: SyncState,
    /// Customer partitions the job covers: all of the tenant's.
    pub shards_total: u32,
    /// Partitions recorded as done so far.
    pub shards_done: u32,
    /// Customers evaluated over the recorded partitions.
    pub customers_evaluated: u64,
    /// Membership entries plus exits written over the recorded partitions.
    pub changes: u64,
    /// When the resync was requested.
    pub created_at: DateTime<Utc>,
    /// When its first shard began (the job is `running` from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the job finished, done or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job failed: its message kept failing until the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl GroupJob {
    /// A resync shard over `partitions` (not empty).
    pub fn resync_shard(tenant: &TenantId, job_id: &JobId, partitions: Vec<u32>) -> GroupJob {
        GroupJob::ResyncShard {
            tenant: tenant.clone(),
            job_id: job_id.clone(),
            shard: partitions.first().copied().unwrap_or_default(),
            partitions,
        }
    }

    /// The partitions of a resync shard.
    pub fn partitions(&self) -> Vec<u32> {
        match self {
            GroupJob::ResyncShard { shard, partitions, .. } if partitions.is_empty() => vec![*shard],
            GroupJob::ResyncShard { partitions, .. } => partitions.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_message_without_partitions_still_reads() {
        let old = r#"{"job":"resync_shard","tenant":"acme","job_id":"01934b6e-0000-7000-8000-000000000000","shard":3}"#;
        let job: GroupJob = serde_json::from_str(old).expect("a message queued before partitions existed");
        assert_eq!(job.partitions(), vec![3]);
        let now = GroupJob::resync_shard(&TenantId::parse("acme").unwrap(), &JobId::generate(), vec![4, 5, 6]);
        let back: GroupJob = serde_json::from_str(&serde_json::to_string(&now).unwrap()).unwrap();
        assert_eq!(back.partitions(), vec![4, 5, 6]);
    }
}
