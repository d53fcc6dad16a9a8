//! The merge record: written first (step `planned`), advanced by every step under a condition on the
//! step before it, and kept as the secondary's tombstone (`merged_into`) for [`MERGE_TOMBSTONE_DAYS`]
//! once the merge is done. One record per secondary: a secondary is merged at most once.

use crate::balance::Unit;
use crate::ids::{CustomerId, GroupId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days a finished merge's record answers for the secondary id (`merged_into` on its 404) and makes a
/// retry of the same (primary, secondary) pair return the first result.
pub const MERGE_TOMBSTONE_DAYS: i64 = 30;

/// The steps of a merge, in order; the record holds the last one completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeStep {
    /// The record exists; nothing of the customers changed yet.
    Planned,
    /// One transaction: the merged primary, the secondary without identities, identity items
    /// re-pointed, the `merge` ledger entries and the primary's `customer.merged` timeline entry.
    Combined,
    /// The primary joined the secondary's static groups.
    Joined,
    /// The secondary left every group (history reason `merged`).
    Left,
    /// The secondary item is deleted; the record is its tombstone.
    Deleted,
    /// The primary's member rows and dynamic groups are up to date: the merge is over.
    Done,
}

impl MergeStep {
    /// The name stored in the record's `step` attribute (the steps' write condition).
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStep::Planned => "planned",
            MergeStep::Combined => "combined",
            MergeStep::Joined => "joined",
            MergeStep::Left => "left",
            MergeStep::Deleted => "deleted",
            MergeStep::Done => "done",
        }
    }
}

/// What a merge moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeSummary {
    /// The customer that stays.
    pub primary_id: CustomerId,
    /// The customer merged and deleted.
    pub secondary_id: CustomerId,
    /// Identities the primary took from the secondary (`email`, `phone`, `external_id`).
    pub identities_moved: Vec<String>,
    /// Tags the primary did not have.
    pub tags_added: Vec<String>,
    /// Static groups of the secondary the primary joined.
    pub groups_joined: Vec<GroupId>,
    /// Every group the secondary left.
    pub groups_left: Vec<GroupId>,
    /// The secondary's balances added to the primary's, by unit.
    pub balances_added: BTreeMap<Unit, i64>,
}

/// The durable record of one merge, keyed by the secondary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// The customer that stays.
    pub primary_id: CustomerId,
    /// The customer merged into it.
    pub secondary_id: CustomerId,
    /// The last step completed.
    pub step: MergeStep,
    /// What the merge moves (planned at `planned`, final from `combined` on).
    pub summary: MergeSummary,
    /// When the merge was requested.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
}
