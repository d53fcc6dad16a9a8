//! Background jobs carried by the group-jobs queue. Every job is idempotent: running it twice, or
//! resuming it after a crash, ends in the same state.

use crate::ids::{GroupId, TenantId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupJob {
    /// Remove every member of a group marked for deletion, then the group itself.
    PurgeGroup { tenant: TenantId, group_id: GroupId },
    /// Recount a group's members from its member rows and repair the stored count if it drifted.
    ResyncGroup { tenant: TenantId, group_id: GroupId },
}
