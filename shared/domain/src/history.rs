//! A group's membership history: every entry and exit with its time and reason, kept for a limited
//! time (the adapter sets a TTL).

use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days history entries are kept.
pub const HISTORY_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Entered,
    Left,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub customer_id: CustomerId,
    pub change: Change,
    pub reason: String,
}
