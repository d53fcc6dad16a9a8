//! Background jobs carried by the group-jobs queue. Every job is idempotent: running it twice, or
//! resuming it after a crash, ends in the same state.

use crate::group::SyncState;
use crate::ids::{CustomerId, GroupId, JobId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupJob {
    /// Remove every member of a group marked for deletion, then the group itself.
    PurgeGroup { tenant: TenantId, group_id: GroupId },
    /// Recount a group's members from its member rows and repair the stored count if it drifted.
    ResyncGroup { tenant: TenantId, group_id: GroupId },
    /// Re-evaluate every customer of one shard against all dynamic groups (one part of a resync job).
    ResyncShard {
        tenant: TenantId,
        job_id: JobId,
        shard: u32,
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
