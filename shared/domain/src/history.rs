//! A group's membership history: every entry and exit with its time and reason, kept for a limited
//! time (the adapter sets a TTL).

use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days history entries are kept.
pub const HISTORY_DAYS: i64 = 90;

/// Which way a membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The customer became a member.
    Entered,
    /// The customer stopped being a member.
    Left,
}

/// One entry or exit of a customer, as `GET /groups/{groupId}/history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the membership changed (the commit's clock).
    pub at: DateTime<Utc>,
    /// The customer who entered or left.
    pub customer_id: CustomerId,
    /// Entered or left.
    pub change: Change,
    /// Why, as [`ChangeReason::describe`](crate::membership::ChangeReason::describe) words it.
    pub reason: String,
}
