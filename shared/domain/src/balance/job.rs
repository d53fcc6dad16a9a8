//! The group balance operation as a bulk job (`bulk::BulkSpec::BalanceOperation`): what it applies,
//! where its walk over the group's member rows stands, and the view the API returns.

use super::{Change, ChangeKind, IdempotencyKey, Rejection, Unit};
use crate::bulk::{BulkJob, BulkStatus, FailedRow};
use crate::error::Result;
use crate::ids::{BulkJobId, CustomerId, GroupId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is particular to a group balance operation; stored with the record, so the cursor and the
/// per-reason counts advance in the same transaction as the balances they cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceOperationSpec {
    /// The group whose members the operation applies to.
    pub group_id: GroupId,
    /// What it does to each member's balance.
    pub change: Change,
    /// The comment every entry carries.
    pub comment: String,
    /// The client's key: the same key returns this operation instead of starting another.
    pub idempotency_key: IdempotencyKey,
    /// Who asked (the token subject).
    pub actor: String,
    /// The last member committed (`None`: from the first member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<CustomerId>,
    /// Set by the commit of the last page: only the end remains to be recorded.
    #[serde(default)]
    pub members_exhausted: bool,
    /// Rejected members by reason.
    #[serde(default)]
    pub rejections: BTreeMap<Rejection, u64>,
}

/// A member the operation refused, from the job's failed rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedMember {
    /// The customer.
    pub customer_id: String,
    /// The reason code (`insufficient_balance`, ...).
    pub reason: String,
    /// The customer's balance in the operation's unit when it was refused.
    pub balance: i64,
}

impl RejectedMember {
    /// Reads a failed row written by the operation (cells: customer id, unit, balance).
    pub fn from_row(r: &FailedRow) -> RejectedMember {
        RejectedMember {
            customer_id: r.cells.first().cloned().unwrap_or_default(),
            reason: r.code.clone(),
            balance: r.cells.get(2).and_then(|b| b.parse().ok()).unwrap_or(0),
        }
    }
}

/// Members by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OperationCounts {
    /// Members whose balance changed (one ledger entry each).
    pub applied: u64,
    /// Members whose balance already was the set amount.
    pub unchanged: u64,
    /// Members refused (see `rejected_by_reason`).
    pub rejected: u64,
}

/// `GET /balance-operations/{id}` and the 202 of `POST /groups/{id}/balance-operations`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalanceOperationView {
    /// The operation's id.
    pub id: BulkJobId,
    /// `running`, `done` or `failed`.
    pub status: BulkStatus,
    /// The group.
    pub group_id: GroupId,
    /// `set` or `adjust`.
    #[serde(rename = "type")]
    pub kind: ChangeKind,
    /// The unit.
    pub unit: Unit,
    /// The amount in minor units.
    pub amount: i64,
    /// Whether balances may go below zero.
    pub allow_negative: bool,
    /// The comment.
    pub comment: String,
    /// The client's key.
    pub idempotency_key: IdempotencyKey,
    /// Who started it.
    pub actor: String,
    /// The group's member count when the operation was created (progress is measured against it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_total: Option<u64>,
    /// Members done so far.
    pub members_done: u64,
    /// 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// Members by outcome.
    pub counts: OperationCounts,
    /// Rejected members by reason.
    pub rejected_by_reason: BTreeMap<Rejection, u64>,
    /// The first rejected members (up to 100), in member order.
    pub rejected: Vec<RejectedMember>,
    /// Runs that claimed the job (more than one: it was redelivered or handed on).
    pub attempts: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its first run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl BalanceOperationView {
    /// The view of a record and its first rejected members.
    pub fn of(job: &BulkJob, rejected: &[FailedRow]) -> Result<BalanceOperationView> {
        let spec = job.balance()?;
        Ok(BalanceOperationView {
            id: job.id.clone(),
            status: job.status,
            group_id: spec.group_id.clone(),
            kind: spec.change.kind,
            unit: spec.change.unit.clone(),
            amount: spec.change.amount,
            allow_negative: spec.change.allow_negative,
            comment: spec.comment.clone(),
            idempotency_key: spec.idempotency_key.clone(),
            actor: spec.actor.clone(),
            members_total: job.rows_total,
            members_done: job.rows_done(),
            progress: job.progress(),
            counts: OperationCounts {
                applied: job.counts.updated,
                unchanged: job.counts.unchanged,
                rejected: job.counts.failed,
            },
            rejected_by_reason: spec.rejections.clone(),
            rejected: rejected.iter().map(RejectedMember::from_row).collect(),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            last_error: job.last_error.clone(),
        })
    }
}

/// The `{operationId}` of `GET /balance-operations/{operationId}` (a bulk job id; any other value is 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationId(pub BulkJobId);

impl crate::ids::PathId for OperationId {
    const WHAT: &'static str = "balance operation";

    fn from_path(raw: &str) -> Result<Self> {
        BulkJobId::parse(raw)
            .map(OperationId)
            .map_err(|_| <Self as crate::ids::PathId>::not_found(raw))
    }
}
