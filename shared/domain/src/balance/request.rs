//! Request bodies of the balance API, parsed at the edge into the inputs the use cases take.

use super::{Change, ChangeKind, IdempotencyKey, Unit, MAX_COMMENT};
use crate::error::{DomainError, Result};
use serde::Deserialize;

/// The fields both balance requests share, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// `set` or `adjust`.
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    /// An ISO 4217 code or `points`.
    pub unit: String,
    /// Integer minor units (a JSON integer that fits in i64).
    pub amount: serde_json::Number,
    /// Why; required, 1 to 500 characters.
    pub comment: String,
    /// Makes the request safe to repeat.
    pub idempotency_key: String,
    /// Whether the change may leave a balance below zero.
    #[serde(default)]
    pub allow_negative: bool,
}

/// A parsed balance request: the change, its comment and idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeInput {
    /// What to do to each balance.
    pub change: Change,
    /// The trimmed comment.
    pub comment: String,
    /// The idempotency key.
    pub key: IdempotencyKey,
}

impl TryFrom<ChangeBody> for ChangeInput {
    type Error = DomainError;

    fn try_from(b: ChangeBody) -> Result<ChangeInput> {
        let unit = Unit::parse(&b.unit)?;
        let amount = b.amount.as_i64().ok_or_else(|| {
            DomainError::validation(
                "amount",
                "amount must be an integer number of minor units that fits in 64 bits",
            )
        })?;
        match b.kind {
            ChangeKind::Adjust if amount == 0 => {
                return Err(DomainError::validation(
                    "amount",
                    "an adjustment's amount must not be 0",
                ));
            }
            ChangeKind::Set if amount < 0 && !b.allow_negative => {
                return Err(DomainError::validation(
                    "amount",
                    "a set amount must not be negative unless allow_negative is true",
                ));
            }
            _ => {}
        }
        let comment = b.comment.trim().to_owned();
        if comment.is_empty() || comment.chars().count() > MAX_COMMENT {
            return Err(DomainError::validation(
                "comment",
                "comment must be 1 to 500 characters",
            ));
        }
        Ok(ChangeInput {
            change: Change {
                kind: b.kind,
                unit,
                amount,
                allow_negative: b.allow_negative,
            },
            comment,
            key: IdempotencyKey::parse(&b.idempotency_key)?,
        })
    }
}
