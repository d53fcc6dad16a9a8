//! Cashback balances (seed 001's cashback tab; issue 15): each customer holds at most
//! [`MAX_UNITS`] balances, one per [`Unit`] (an ISO 4217 currency or `points`), in integer minor
//! units, on its own item (a small map, so the item stays bounded). Every change is a [`BalanceEntry`]
//! of the customer's balance ledger, stored as an item of its own (never on the customer item).
//!
//! Not to be confused with `activity::Ledger`, the event-derived payment and expense aggregates:
//! those record what a customer spent, these what the tenant owes it.
//!
//! # Exactly once
//! A change belongs to an operation ([`Operation`]): a single adjustment (named by its idempotency
//! key) or a group balance operation (a bulk job). Its entry is written with the customer's new
//! balance in one transaction, together with a marker keyed by (operation, customer) under
//! `attribute_not_exists`, so no operation changes a customer's balance twice however often it runs.

pub mod job;
pub mod ports;
pub mod request;
pub mod units;

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, CustomerId, GroupId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Most units one customer may hold a balance in (the customer item stays small).
pub const MAX_UNITS: usize = 20;
/// Most characters of a comment.
pub const MAX_COMMENT: usize = 500;

/// A balance unit: an active ISO 4217 code (upper case, `EUR`) or `points`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Unit(String);

impl Unit {
    /// Accepts an active ISO 4217 code or `points`, exactly (codes are upper case).
    pub fn parse(value: &str) -> Result<Unit> {
        if value == units::POINTS || units::is_iso_4217(value) {
            Ok(Unit(value.to_owned()))
        } else {
            Err(DomainError::validation(
                "unit",
                format!(
                    "unit {value:?} is neither an active ISO 4217 currency code (upper case, e.g. EUR) nor \"points\""
                ),
            ))
        }
    }

    /// The unit as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Unit {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Unit> {
        Unit::parse(&value)
    }
}

impl From<Unit> for String {
    fn from(u: Unit) -> String {
        u.0
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A customer's balances by unit, in minor units (absent = 0).
pub type Balances = BTreeMap<Unit, i64>;

/// How an operation changes a balance (seed 001's "type of application").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The balance is replaced by the amount ("set the absolute value").
    Set,
    /// The amount is added to the balance; a negative amount deducts ("relative to available balance").
    Adjust,
}

/// A parsed change: kind, unit, amount and whether it may leave a balance below zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Set or adjust.
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    /// The balance's unit.
    pub unit: Unit,
    /// Minor units: the new balance (set) or the delta (adjust).
    pub amount: i64,
    /// Whether the change may leave the balance below zero (otherwise `insufficient_balance`).
    #[serde(default)]
    pub allow_negative: bool,
}

/// Why a change was refused for one customer (a stable code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The change would leave the balance below zero and negative balances were not allowed.
    InsufficientBalance,
    /// The new balance or the delta would not fit in a signed 64-bit integer.
    BalanceOverflow,
    /// The customer already holds balances in [`MAX_UNITS`] other units.
    TooManyUnits,
}

impl Rejection {
    /// The code as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::InsufficientBalance => "insufficient_balance",
            Rejection::BalanceOverflow => "balance_overflow",
            Rejection::TooManyUnits => "too_many_units",
        }
    }
}

/// What a change does to one balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The balance goes from `before` to `after` (they differ).
    Applied {
        /// The balance before.
        before: i64,
        /// The balance after.
        after: i64,
    },
    /// The balance already is what the change asks (a set to the current value): no entry.
    Unchanged,
    /// Refused for this customer.
    Rejected(Rejection, i64),
}

impl Change {
    /// What the change does to `balances` (pure).
    pub fn outcome(&self, balances: &Balances) -> Outcome {
        let held = balances.get(&self.unit).copied();
        let before = held.unwrap_or(0);
        let after = match self.kind {
            ChangeKind::Set => Some(self.amount),
            ChangeKind::Adjust => before.checked_add(self.amount),
        };
        let Some(after) = after else {
            return Outcome::Rejected(Rejection::BalanceOverflow, before);
        };
        if after == before {
            return Outcome::Unchanged;
        }
        if after.checked_sub(before).is_none() {
            return Outcome::Rejected(Rejection::BalanceOverflow, before);
        }
        if after < 0 && after < before && !self.allow_negative {
            return Outcome::Rejected(Rejection::InsufficientBalance, before);
        }
        if held.is_none() && balances.len() >= MAX_UNITS {
            return Outcome::Rejected(Rejection::TooManyUnits, before);
        }
        Outcome::Applied { before, after }
    }
}

/// What kind of operation an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// `POST /customers/{id}/balance-adjustments`.
    Adjustment,
    /// `POST /groups/{id}/balance-operations` (a bulk job).
    GroupOperation,
    /// `POST /customers/merge`: the secondary's balance added to the primary's (id: the secondary).
    Merge,
}

impl OperationKind {
    /// The kind's name in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Adjustment => "adjustment",
            OperationKind::GroupOperation => "group_operation",
            OperationKind::Merge => "merge",
        }
    }
}

/// The operation an entry belongs to: with the customer, the key that makes its write happen once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Operation {
    /// Adjustment or group operation.
    #[serde(rename = "operation_kind")]
    pub kind: OperationKind,
    /// The adjustment's idempotency key, or the group operation's id.
    #[serde(rename = "operation_id")]
    pub id: String,
}

impl Operation {
    /// A single adjustment, named by its idempotency key (unique per customer).
    pub fn adjustment(key: &IdempotencyKey) -> Operation {
        Operation {
            kind: OperationKind::Adjustment,
            id: key.as_str().to_owned(),
        }
    }

    /// A group balance operation.
    pub fn group(id: &BulkJobId) -> Operation {
        Operation {
            kind: OperationKind::GroupOperation,
            id: id.as_str().to_owned(),
        }
    }
}

/// A client's idempotency key: 1 to 100 characters of `A-Z a-z 0-9 - _ . :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key.
    pub fn parse(value: &str) -> Result<IdempotencyKey> {
        let ok = !value.is_empty()
            && value.len() <= 100
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok {
            Ok(IdempotencyKey(value.to_owned()))
        } else {
            Err(DomainError::validation(
                "idempotency_key",
                "idempotency_key must be 1 to 100 characters of letters, digits, '-', '_', '.' or ':'",
            ))
        }
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = DomainError;
    fn try_from(value: String) -> Result<IdempotencyKey> {
        IdempotencyKey::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

/// One change of one balance: an entry of the customer's balance ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceEntry {
    /// The customer whose balance changed.
    pub customer_id: CustomerId,
    /// The operation the change belongs to.
    #[serde(flatten)]
    pub operation: Operation,
    /// The group of a group operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
    /// The balance's unit.
    pub unit: Unit,
    /// `balance_after - balance_before`.
    pub delta: i64,
    /// The balance before the change.
    pub balance_before: i64,
    /// The balance after the change.
    pub balance_after: i64,
    /// Why, as the operator wrote it.
    pub comment: String,
    /// Who: the token subject of the request.
    pub actor: String,
    /// When the change was written.
    pub at: DateTime<Utc>,
}

/// The details of an entry that are the operation's, not the customer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContext<'a> {
    /// The operation.
    pub operation: &'a Operation,
    /// The group of a group operation.
    pub group_id: Option<&'a GroupId>,
    /// The comment.
    pub comment: &'a str,
    /// The actor.
    pub actor: &'a str,
}

/// A customer's balance change ready to commit: the customer as read, as it will be stored, and the entry.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceWrite {
    /// The customer as read (its `version` is the write's condition).
    pub before: Customer,
    /// The customer with the new balance, `version + 1`.
    pub after: Customer,
    /// The ledger entry.
    pub entry: BalanceEntry,
}

/// Applies `change` to `customer`: the write to commit, `Unchanged`, or the rejection.
pub fn plan_write(
    customer: &Customer,
    change: &Change,
    ctx: &EntryContext<'_>,
    now: DateTime<Utc>,
) -> std::result::Result<Option<BalanceWrite>, (Rejection, i64)> {
    match change.outcome(&customer.balances) {
        Outcome::Unchanged => Ok(None),
        Outcome::Rejected(r, balance) => Err((r, balance)),
        Outcome::Applied { before, after } => {
            let mut next = customer.clone();
            next.balances.insert(change.unit.clone(), after);
            next.version += 1;
            next.updated_at = now;
            Ok(Some(BalanceWrite {
                before: customer.clone(),
                entry: BalanceEntry {
                    customer_id: customer.id.clone(),
                    operation: ctx.operation.clone(),
                    group_id: ctx.group_id.cloned(),
                    unit: change.unit.clone(),
                    delta: after - before,
                    balance_before: before,
                    balance_after: after,
                    comment: ctx.comment.to_owned(),
                    actor: ctx.actor.to_owned(),
                    at: now,
                },
                after: next,
            }))
        }
    }
}

#[cfg(test)]
mod tests;
