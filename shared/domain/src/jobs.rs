//! Background jobs carried by the group-jobs queue. Every job is idempotent: running it twice, or
//! resuming it after a crash, ends in the same state.

use crate::group::SyncState;
use crate::ids::{CustomerId, GroupId, JobId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Customer partitions one resync shard reads. A job over 16 partitions sends 4 messages; each loads
/// the group definitions once and records itself done once, so a resync's fixed cost is 2 requests per
/// shard plus 2, while 4 workers still share the reading. Larger means fewer requests and less
/// parallelism per job.
pub const PARTITIONS_PER_RESYNC_SHARD: u32 = 4;

/// The partitions of each shard of a resync over `partitions` customer partitions: contiguous runs of
/// [`PARTITIONS_PER_RESYNC_SHARD`].
pub fn resync_shards(partitions: u32) -> Vec<Vec<u32>> {
    (0..partitions)
        .collect::<Vec<_>>()
        .chunks(PARTITIONS_PER_RESYNC_SHARD as usize)
        .map(<[u32]>::to_vec)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupJob {
    /// Remove every member of a group marked for deletion, then the group itself.
    PurgeGroup { tenant: TenantId, group_id: GroupId },
    /// Recount a group's members from its member rows and repair the stored count if it drifted.
    ResyncGroup { tenant: TenantId, group_id: GroupId },
    /// Re-evaluate every customer of some customer partitions against all dynamic groups: shard `shard`
    /// of a resync job (the job counts its shards done, once each).
    ResyncShard {
        tenant: TenantId,
        job_id: JobId,
        shard: u32,
        /// The customer partitions this shard reads; empty means partition `shard` alone (messages
        /// written before shards covered several partitions).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        partitions: Vec<u32>,
    },
    /// Re-evaluate customers whose next wake-up instant has come (at most [`MAX_WAKE_BATCH`] per message).
    WakeCustomers {
        tenant: TenantId,
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
    pub id: JobId,
    pub groups: Vec<GroupId>,
    pub status: SyncState,
    pub shards_total: u32,
    pub shards_done: u32,
    pub customers_evaluated: u64,
    pub changes: u64,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_shards_cover_every_partition_once() {
        for partitions in [1, 3, 4, 5, 16, 17] {
            let shards = resync_shards(partitions);
            let flat: Vec<u32> = shards.iter().flatten().copied().collect();
            assert_eq!(flat, (0..partitions).collect::<Vec<_>>(), "{partitions} partitions");
            assert!(shards
                .iter()
                .all(|s| !s.is_empty() && s.len() <= PARTITIONS_PER_RESYNC_SHARD as usize));
        }
        assert_eq!(resync_shards(16).len(), 4);
    }

    #[test]
    fn a_shard_message_without_partitions_still_reads() {
        let old = r#"{"job":"resync_shard","tenant":"acme","job_id":"01934b6e-0000-7000-8000-000000000000","shard":3}"#;
        let job: GroupJob = serde_json::from_str(old).expect("a message queued before partitions existed");
        let GroupJob::ResyncShard { shard, partitions, .. } = job else {
            panic!("not a shard: {job:?}")
        };
        assert_eq!((shard, partitions), (3, vec![]));
    }
}
