//! Bulk jobs: the one mechanism behind every operation over many customers (DESIGN.md section 7). An
//! import streams a file today; bulk modify and delete (issue 14) and group balance operations
//! (issue 15) will stream customer partitions through the same record, queue, worker and row report.
//!
//! # The reuse contract
//! A bulk operation is a [`BulkJob`] record plus a [`BulkSpec`] variant holding what is particular to
//! it (an import's file and mapping). Everything else is shared and must stay the same for every kind:
//! - **Record**: status ([`BulkStatus`]), progress (`rows_total`, `rows_done`), [`BulkCounts`], timings,
//!   `last_error`, and the [`Checkpoint`] (`next_row`: the first row not yet committed; `pending`: the
//!   customers written by the last commit whose follow-up work, membership and static groups, may not
//!   have run yet).
//! - **Fencing**: a run claims the job by incrementing `attempts`; every later write of the record is
//!   conditioned on that value and on the status being `running`, so a duplicate delivery, a cancel or a
//!   newer run stops an older one at its next write. A run never writes anything but through a commit
//!   that carries the record.
//! - **Exactly once**: the effects of a batch of rows (customer items, identity items, failed-row items)
//!   and the advanced checkpoint are ONE DynamoDB transaction (`BulkCommit::commit_rows`). A run that
//!   dies anywhere leaves either the whole batch or none of it; the redo starts at `next_row`. Follow-up
//!   work of the last commit is idempotent and redone from `pending`.
//! - **Row report**: every failed row is an item keyed by (job, row) written in its batch's transaction;
//!   the report file is rebuilt from those items when the job ends, so it is the same however often the
//!   job ran.
//! - **Hand-on**: a run stops after its time budget (well inside the Lambda limit), leaving the
//!   checkpoint as the last commit wrote it, and queues the same [`BulkTask`] again.
//! - **End**: `usecases::bulk_job::finish` is the one place a job's end (done, failed) is recorded, so
//!   webhooks (issue 16, `import.done` / `import.failed`) hook in there.
//!
//! A new kind adds a [`BulkSpec`] variant, a [`BulkKind`], and a [`BulkTask`] variant whose body is run
//! by `usecases::bulk_job::run_bulk_task`.

pub mod action;
pub mod action_ports;
pub mod ports;
pub mod request;

pub use crate::balance::job::BalanceOperationSpec;
use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, CustomerId, TenantId};
use crate::import::ImportSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days a bulk job's record and its failed-row items are kept (DynamoDB TTL).
pub const BULK_RETENTION_DAYS: i64 = 30;

/// What kind of bulk operation a job is; part of its sort key, so each kind lists on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkKind {
    /// A file of customers imported (issue 13).
    Import,
    /// A balance set or adjust for every member of a group (issue 15).
    BalanceOperation,
    /// A bulk modify of a target's customers (issue 14).
    BulkModify,
    /// A bulk delete of a target's customers (issue 14).
    BulkDelete,
    /// A count job's partition (issue 14; the job is not a bulk record, see `search::count`).
    Count,
}

impl BulkKind {
    /// The kind's name in keys and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkKind::Import => "import",
            BulkKind::BalanceOperation => "balance_operation",
            BulkKind::BulkModify => "bulk_modify",
            BulkKind::BulkDelete => "bulk_delete",
            BulkKind::Count => "count",
        }
    }
}

/// Where a bulk job is in its life. An import goes awaiting_upload -> analysing -> ready -> running ->
/// done; failed and canceled end it early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkStatus {
    /// Created; the file has not been uploaded yet.
    AwaitingUpload,
    /// The file is being read: header, format, row count, sample.
    Analysing,
    /// Analysed; waiting for `start` with the mapping.
    Ready,
    /// A worker applies the rows batch by batch.
    Running,
    /// Every row was applied or reported as failed.
    Done,
    /// The job could not run (a bad file, too many rows, a lasting fault); `last_error` says why.
    Failed,
    /// Canceled by the user; batches committed before stay.
    Canceled,
}

impl BulkStatus {
    /// Whether the job has ended (done, failed or canceled) and will never change again.
    pub fn is_final(self) -> bool {
        matches!(self, BulkStatus::Done | BulkStatus::Failed | BulkStatus::Canceled)
    }

    /// The status as stored and shown (`awaiting_upload`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BulkStatus::AwaitingUpload => "awaiting_upload",
            BulkStatus::Analysing => "analysing",
            BulkStatus::Ready => "ready",
            BulkStatus::Running => "running",
            BulkStatus::Done => "done",
            BulkStatus::Failed => "failed",
            BulkStatus::Canceled => "canceled",
        }
    }
}

/// What became of the rows so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkCounts {
    /// Rows that created a customer.
    pub created: u64,
    /// Rows that changed an existing customer.
    pub updated: u64,
    /// Rows whose customer already held every value given.
    pub unchanged: u64,
    /// Rows in the failure report.
    pub failed: u64,
}

impl BulkCounts {
    /// Rows accounted for.
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.failed
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, other: &BulkCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.failed += other.failed;
    }
}

/// Where a run resumes, written in the same transaction as the rows it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The first row (an import's spreadsheet row number) not yet committed; 0 before the first batch.
    pub next_row: u64,
    /// Customers written by the last commit whose follow-up (static groups, membership pass) may not
    /// have run yet; a run redoes it first (idempotent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<CustomerId>,
}

/// What is particular to a job's kind (stored as JSON beside the shared fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BulkSpec {
    /// An import: the file, its analysis and the mapping.
    Import(Box<ImportSpec>),
    /// A group balance operation: the group, the change and the member cursor.
    BalanceOperation(Box<BalanceOperationSpec>),
    /// A bulk modify or delete: the target, the action and the walk's position.
    CustomerAction(Box<action::CustomerActionSpec>),
}

impl BulkSpec {
    /// The kind of job this spec belongs to.
    pub fn kind(&self) -> BulkKind {
        match self {
            BulkSpec::Import(_) => BulkKind::Import,
            BulkSpec::BalanceOperation(_) => BulkKind::BalanceOperation,
            BulkSpec::CustomerAction(a) => match a.action {
                action::CustomerAction::Modify(_) => BulkKind::BulkModify,
                action::CustomerAction::Delete { .. } => BulkKind::BulkDelete,
            },
        }
    }
}

/// A bulk job record: the shared progress fields and the kind's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkJob {
    /// Time-ordered and unguessable; part of object keys and generated customer ids.
    pub id: BulkJobId,
    /// Where the job is in its life.
    pub status: BulkStatus,
    /// Rows the job will go through, once known (an import knows after analysis).
    pub rows_total: Option<u64>,
    /// What became of the rows committed so far.
    pub counts: BulkCounts,
    /// Where the next run resumes.
    pub checkpoint: Checkpoint,
    /// The fencing token: incremented by every run that claims the job.
    pub attempts: u32,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// When the first run started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job failed (for people), or the last transient problem while it still runs.
    pub last_error: Option<String>,
    /// What is particular to the kind.
    pub spec: BulkSpec,
}

impl BulkJob {
    /// The job's kind.
    pub fn kind(&self) -> BulkKind {
        self.spec.kind()
    }

    /// The import spec (`Internal` if the job is of another kind: records are read by kind).
    pub fn import(&self) -> Result<&ImportSpec> {
        match &self.spec {
            BulkSpec::Import(s) => Ok(s),
            _ => Err(self.wrong_kind()),
        }
    }

    /// The import spec, to change it.
    pub fn import_mut(&mut self) -> Result<&mut ImportSpec> {
        let wrong = self.wrong_kind();
        match &mut self.spec {
            BulkSpec::Import(s) => Ok(s),
            _ => Err(wrong),
        }
    }

    /// The balance operation's spec (`Internal` if the job is of another kind).
    pub fn balance(&self) -> Result<&BalanceOperationSpec> {
        match &self.spec {
            BulkSpec::BalanceOperation(s) => Ok(s),
            _ => Err(self.wrong_kind()),
        }
    }

    /// The balance operation's spec, to change it.
    pub fn balance_mut(&mut self) -> Result<&mut BalanceOperationSpec> {
        let wrong = self.wrong_kind();
        match &mut self.spec {
            BulkSpec::BalanceOperation(s) => Ok(s),
            _ => Err(wrong),
        }
    }

    /// A bulk modify's or delete's spec (`Internal` if the job is of another kind).
    pub fn action(&self) -> Result<&action::CustomerActionSpec> {
        match &self.spec {
            BulkSpec::CustomerAction(s) => Ok(s),
            _ => Err(self.wrong_kind()),
        }
    }

    /// A bulk modify's or delete's spec, to change it.
    pub fn action_mut(&mut self) -> Result<&mut action::CustomerActionSpec> {
        let wrong = self.wrong_kind();
        match &mut self.spec {
            BulkSpec::CustomerAction(s) => Ok(s),
            _ => Err(wrong),
        }
    }

    fn wrong_kind(&self) -> DomainError {
        DomainError::Internal(format!("bulk job {} is a {}", self.id, self.kind().as_str()))
    }

    /// Rows accounted for so far.
    pub fn rows_done(&self) -> u64 {
        self.counts.total()
    }

    /// Share of the rows done, 0 to 1 (1 once done; unknown before the total is).
    pub fn progress(&self) -> Option<f64> {
        match (self.status, self.rows_total) {
            (BulkStatus::Done, _) => Some(1.0),
            (_, Some(0)) => Some(0.0),
            (_, Some(total)) => Some(((self.rows_done() as f64 / total as f64).min(1.0) * 1000.0).floor() / 1000.0),
            (_, None) => None,
        }
    }
}

/// What the record is expected to hold when a write is made (the write's condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The stored fencing token.
    pub attempts: u32,
    /// The stored status.
    pub status: BulkStatus,
}

impl Expect {
    /// The condition that the record is still as `job` was read.
    pub fn of(job: &BulkJob) -> Expect {
        Expect {
            attempts: job.attempts,
            status: job.status,
        }
    }
}

/// One row of the failure report: the row number, its cells as given, a stable code and a message a
/// person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRow {
    /// The row number (an import's spreadsheet row: the header is row 1).
    pub row: u64,
    /// The original cells (each cut to `MAX_REPORT_CELL` characters).
    pub cells: Vec<String>,
    /// A stable code, e.g. `invalid_email`, `identity_conflict`.
    pub code: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Characters of a cell kept in the failure report (the item stays well inside DynamoDB's 400 KB).
pub const MAX_REPORT_CELL: usize = 1024;
/// Cells of a row kept in the failure report.
pub const MAX_REPORT_CELLS: usize = 200;

impl FailedRow {
    /// A failed row with its cells cut to the report's bounds.
    pub fn new(row: u64, cells: &[String], code: &str, message: String) -> FailedRow {
        FailedRow {
            row,
            cells: cells
                .iter()
                .take(MAX_REPORT_CELLS)
                .map(|c| c.chars().take(MAX_REPORT_CELL).collect())
                .collect(),
            code: code.to_owned(),
            message,
        }
    }
}

/// A message on the bulk-jobs queue: run (or, redelivered or handed on, continue) one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case", deny_unknown_fields)]
pub enum BulkTask {
    /// An import: analyse the uploaded file, or apply its rows, as the record's status says.
    Import {
        /// The job's tenant.
        tenant: TenantId,
        /// The import.
        job_id: BulkJobId,
    },
    /// A group balance operation: apply it to the group's members from the record's cursor on.
    BalanceOperation {
        /// The job's tenant.
        tenant: TenantId,
        /// The operation.
        job_id: BulkJobId,
    },
    /// A bulk modify or delete: go on from the record's position.
    CustomerAction {
        /// The job's tenant.
        tenant: TenantId,
        /// `bulk_modify` or `bulk_delete` (part of the record's key).
        kind: BulkKind,
        /// The job.
        job_id: BulkJobId,
    },
    /// One customer partition of a count job: count it from its stored position on.
    CountPartition {
        /// The job's tenant.
        tenant: TenantId,
        /// The count job.
        job_id: BulkJobId,
        /// The partition.
        shard: u32,
    },
}

impl BulkTask {
    /// The tenant and job the task runs.
    pub fn target(&self) -> (&TenantId, &BulkJobId) {
        match self {
            BulkTask::Import { tenant, job_id }
            | BulkTask::BalanceOperation { tenant, job_id }
            | BulkTask::CustomerAction { tenant, job_id, .. }
            | BulkTask::CountPartition { tenant, job_id, .. } => (tenant, job_id),
        }
    }

    /// The kind of job the task runs.
    pub fn kind(&self) -> BulkKind {
        match self {
            BulkTask::Import { .. } => BulkKind::Import,
            BulkTask::BalanceOperation { .. } => BulkKind::BalanceOperation,
            BulkTask::CustomerAction { kind, .. } => *kind,
            BulkTask::CountPartition { .. } => BulkKind::Count,
        }
    }
}
