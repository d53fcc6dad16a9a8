//! Customer merge (issue 15 items 5 and 6): the request, the pure plan (the primary as it will be, the
//! identity conflicts, what moves) and the durable record that makes the procedure resumable.
//!
//! Semantics: the primary keeps every value it has and takes the secondary's where it has none (scalar
//! fields, attributes by key, subscriptions by application/product/plan); tags are united; activity
//! counters and money ledgers are summed; balances are summed through ledger entries with operation
//! kind `merge` (one per unit, on the primary). Two different values of the same identity (email,
//! phone, external id) are a conflict and nothing is merged.

pub mod plan;
pub mod ports;
pub mod record;

use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use serde::{Deserialize, Serialize};

pub use plan::{plan_merge, IdentityConflict, MergePlan};
pub use record::{MergeRecord, MergeStep, MergeSummary, MERGE_TOMBSTONE_DAYS};

/// The body of `POST /customers/merge` and `POST /customers/merge/preview`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The customer that stays.
    pub primary_id: String,
    /// The customer merged into the primary and then deleted.
    pub secondary_id: String,
}

/// A parsed merge request: two different customer ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInput {
    /// The customer that stays.
    pub primary: CustomerId,
    /// The customer that is merged into the primary and deleted.
    pub secondary: CustomerId,
}

impl TryFrom<MergeBody> for MergeInput {
    type Error = DomainError;
    fn try_from(b: MergeBody) -> Result<MergeInput> {
        let primary = CustomerId::parse(&b.primary_id)
            .map_err(|_| DomainError::validation("primary_id", "primary_id must be a customer id"))?;
        let secondary = CustomerId::parse(&b.secondary_id)
            .map_err(|_| DomainError::validation("secondary_id", "secondary_id must be a customer id"))?;
        if primary == secondary {
            return Err(DomainError::validation(
                "secondary_id",
                "secondary_id must differ from primary_id: a customer cannot be merged with itself",
            ));
        }
        Ok(MergeInput { primary, secondary })
    }
}

/// What `POST /customers/merge/preview` answers: the primary as it would be, every conflict and what
/// would move; nothing is written.
#[derive(Debug, Clone, Serialize)]
pub struct MergePreview {
    /// The primary after the merge (its groups before the membership pass).
    pub customer: crate::customer::Customer,
    /// Identities both customers hold with different values; non-empty means the merge would be refused.
    pub conflicts: Vec<IdentityConflict>,
    /// What the merge would move.
    pub summary: MergeSummary,
}

/// What `POST /customers/merge` answers: the merged primary and what moved.
#[derive(Debug, Clone, Serialize)]
pub struct MergeResult {
    /// The primary as stored after the merge.
    pub customer: crate::customer::Customer,
    /// What moved.
    pub summary: MergeSummary,
    /// Whether this request found the merge already done (a retry): nothing was applied again.
    pub replayed: bool,
}

#[cfg(test)]
mod tests;
