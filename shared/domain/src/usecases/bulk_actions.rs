//! Bulk modify and bulk delete by a target (issue 14, seed 004 sections 2.3-2.4): the requests that
//! create the jobs (`POST /customers/bulk-modify`, the delete's preview with its single-use
//! confirmation, `POST /customers/bulk-delete`), a job's progress (`GET /bulk-jobs/{id}`) and the audit
//! log (`GET /audit`). The jobs themselves run in `bulk_action_job`.

use crate::bulk::action::{
    AuditEntry, Changes, Confirmation, CustomerAction, CustomerActionSpec, Position, DELETE_STATEMENT,
    MAX_DELETE_REASON, MIN_DELETE_REASON, TOKEN_MINUTES,
};
use crate::bulk::action_ports::{BulkActionStore, ConfirmOutcome};
use crate::bulk::ports::{BulkJobStore, BulkQueue};
use crate::bulk::{BulkCounts, BulkJob, BulkKind, BulkSpec, BulkStatus, BulkTask, Checkpoint, FailedRow};
use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{CustomerRanges, CustomerStore, FilterStore, GroupStore, Shards};
use crate::search::count::{count_job_not_found, CountJobStore, CountJobView, CountStatus};
use crate::search::target::{Target, TargetSpec};
use crate::usecases::count_job::start_count_job;
use crate::usecases::lookup::get_group;
use crate::usecases::search::{query_of, try_count};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What creating and reading bulk actions needs.
pub trait BulkActionPorts:
    BulkActionStore
    + BulkJobStore
    + BulkQueue
    + CountJobStore
    + CustomerRanges
    + CustomerStore
    + FilterStore
    + GroupStore
    + Shards
{
}
impl<T> BulkActionPorts for T where
    T: BulkActionStore
        + BulkJobStore
        + BulkQueue
        + CountJobStore
        + CustomerRanges
        + CustomerStore
        + FilterStore
        + GroupStore
        + Shards
{
}

/// The job of `GET /bulk-jobs/{id}` (a path id; an invalid one is 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJobPathId(pub BulkJobId);

impl crate::ids::PathId for BulkJobPathId {
    const WHAT: &'static str = "bulk job";

    fn from_path(raw: &str) -> Result<Self> {
        BulkJobId::parse(raw)
            .map(BulkJobPathId)
            .map_err(|_| <Self as crate::ids::PathId>::not_found(raw))
    }
}

/// A target resolved for a job: a saved filter copied in, a group checked to exist.
async fn resolve<S: BulkActionPorts>(store: &S, t: &TenantId, target: Target) -> Result<TargetSpec> {
    match target {
        Target::Group(g) => {
            get_group(store, t, &g).await?;
            Ok(TargetSpec::Group { group_id: g })
        }
        Target::Ids(ids) => {
            if store.get_customers(t, &ids).await?.is_empty() {
                return Err(DomainError::not_found(
                    "none of the customer_ids names a customer of this tenant",
                ));
            }
            Ok(TargetSpec::Ids { ids })
        }
        Target::SavedFilter(id) => {
            let q = query_of(store, t, Target::SavedFilter(id.clone())).await?;
            Ok(TargetSpec::filter(&q, Some(id)))
        }
        Target::Filter(q) => {
            // Counting checks the filter's `member_of` groups exist (422 otherwise).
            Ok(TargetSpec::filter(&q, None))
        }
    }
}

/// The exact number of customers the target names now; `None` for a filter over a tenant too large
/// to count within a request (a count job counts it).
async fn exact_count<S: BulkActionPorts>(
    store: &S,
    t: &TenantId,
    spec: &TargetSpec,
    now: DateTime<Utc>,
) -> Result<Option<u64>> {
    match spec {
        TargetSpec::Filter { query, .. } => {
            let q = crate::search::CustomerQuery::from_json(query)?;
            Ok(try_count(store, t, &q, now).await?.map(|c| c.count))
        }
        TargetSpec::Group { group_id } => Ok(Some(get_group(store, t, group_id).await?.member_count)),
        TargetSpec::Ids { ids } => Ok(Some(store.get_customers(t, ids).await?.len() as u64)),
    }
}

/// The count a finished count job made of this target, if it is recent enough to confirm a delete.
async fn counted_by_job<S: BulkActionPorts>(
    store: &S,
    t: &TenantId,
    spec: &TargetSpec,
    id: &BulkJobId,
    now: DateTime<Utc>,
) -> Result<u64> {
    let field = "count_job_id";
    let (job, parts) = store
        .get_count_job(t, id)
        .await?
        .ok_or_else(|| count_job_not_found(id))?;
    if job.target.canonical() != spec.canonical() {
        return Err(DomainError::validation(
            field,
            "the count job counted another target; preview this target without count_job_id to start its count",
        ));
    }
    let view = CountJobView::of(&job, &parts);
    match (view.status, view.count, view.finished_at) {
        (CountStatus::Done, Some(n), Some(at)) if now - at <= Duration::minutes(TOKEN_MINUTES) => Ok(n),
        (CountStatus::Done, ..) => Err(DomainError::validation(
            field,
            format!("the count finished more than {TOKEN_MINUTES} minutes ago; preview without count_job_id to count again"),
        )),
        (CountStatus::Running, ..) => Err(DomainError::conflict(
            field,
            format!(
                "the count job is still counting ({} of {} partitions); preview again when GET /count-jobs/{} says done",
                view.partitions_done, view.partitions, view.id
            ),
        )),
        (CountStatus::Failed, ..) => Err(DomainError::validation(
            field,
            format!(
                "the count job failed ({}); preview without count_job_id to count again",
                view.last_error.unwrap_or_default()
            ),
        )),
    }
}

fn new_job(spec: CustomerActionSpec, total: Option<u64>, now: DateTime<Utc>) -> BulkJob {
    BulkJob {
        id: BulkJobId::generate(),
        status: BulkStatus::Running,
        rows_total: total,
        counts: BulkCounts::default(),
        checkpoint: Checkpoint::default(),
        attempts: 0,
        created_at: now,
        started_at: None,
        finished_at: None,
        last_error: None,
        spec: BulkSpec::CustomerAction(Box::new(spec)),
    }
}

fn task(t: &TenantId, job: &BulkJob) -> BulkTask {
    BulkTask::CustomerAction {
        tenant: t.clone(),
        kind: job.kind(),
        job_id: job.id.clone(),
    }
}

/// The audit entry of a job, as of its record.
pub fn audit_of(job: &BulkJob) -> Result<AuditEntry> {
    let spec = job.action()?;
    let view = BulkJobView::of(job, Vec::new())?;
    let (reason, count) = match &spec.action {
        CustomerAction::Delete { reason, agreed_count } => (
            Some(reason.clone()),
            if job.status.is_final() {
                view.matched
            } else {
                *agreed_count
            },
        ),
        CustomerAction::Modify(_) => (None, view.matched),
    };
    Ok(AuditEntry {
        id: job.id.to_string(),
        action: job.kind().as_str().to_owned(),
        actor: spec.actor.clone(),
        at: job.created_at,
        reason,
        target: serde_json::to_value(&spec.target).unwrap_or(Value::Null),
        count,
        outcome: json!({
            "status": job.status.as_str(),
            "matched": view.matched,
            "modified": view.modified,
            "deleted": view.deleted,
            "unchanged": view.unchanged,
            "failed": view.failed,
            "finished_at": job.finished_at,
            "error": job.last_error,
        }),
    })
}

/// `POST /customers/bulk-modify`: a job that applies the changes to every customer of the target (202).
pub async fn create_bulk_modify<S: BulkActionPorts>(
    store: &S,
    t: &TenantId,
    target: Target,
    changes: Changes,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<BulkJobView> {
    let target = resolve(store, t, target).await?;
    if let Some(q) = target.query()? {
        // The filter's group references are checked now rather than in the job (422 naming `rules`).
        count_check(store, t, &q).await?;
    }
    let total = match &target {
        TargetSpec::Ids { ids } => Some(ids.len() as u64),
        TargetSpec::Group { group_id } => Some(get_group(store, t, group_id).await?.member_count),
        TargetSpec::Filter { .. } => None,
    };
    let spec = CustomerActionSpec {
        target,
        action: CustomerAction::Modify(changes),
        actor: actor.to_owned(),
        position: Position::default(),
        failures: BTreeMap::new(),
    };
    let job = new_job(spec, total, now);
    store.create_bulk_job(t, &job).await?;
    store.put_audit(t, &audit_of(&job)?).await?;
    store.enqueue_bulk(&task(t, &job)).await?;
    BulkJobView::of(&job, Vec::new())
}

async fn count_check<S: BulkActionPorts>(store: &S, t: &TenantId, q: &crate::search::CustomerQuery) -> Result<()> {
    for g in q.referenced_groups() {
        if store.get_group(t, &g).await?.is_none() {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {g:?}, which does not exist"),
            ));
        }
    }
    Ok(())
}

/// The answer of `POST /customers/bulk-delete/preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletePreview {
    /// Customers the delete would delete now.
    pub count: u64,
    /// The statement to show; the delete needs `agree: true` to it.
    pub statement: &'static str,
    /// The single-use confirmation for this tenant, target and count.
    pub token: String,
    /// When the token stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Most customers one bulk delete deletes.
    pub max_count: u64,
}

fn new_token() -> Result<String> {
    let mut raw = [0u8; 24];
    getrandom::getrandom(&mut raw).map_err(|e| DomainError::Internal(format!("random token: {e}")))?;
    Ok(format!(
        "bdt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    ))
}

fn too_many(n: u64, cap: u64) -> DomainError {
    DomainError::validation(
        "target",
        format!("the target matches {n} customers; a bulk delete deletes at most {cap} at a time: narrow the filter"),
    )
}

/// The answer of a bulk delete's preview: the preview (200), or the count job it started because the
/// target is a filter over a tenant too large to count within the request (202; preview again with
/// its `count_job_id` once it is done).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PreviewAnswer {
    /// Counted: the statement and the token.
    Ready(DeletePreview),
    /// Counting.
    Counting(CountJobView),
}

/// `POST /customers/bulk-delete/preview`: the exact count, the statement and a confirmation token
/// bound to the tenant, the target and the count (15 minutes, single use). A filter over a tenant
/// larger than `Shards::count_sync_max` is counted by a count job first: without `count_job` the
/// preview starts one; with it (done within the last 15 minutes, for this target) it uses its count.
pub async fn preview_bulk_delete<S: BulkActionPorts>(
    store: &S,
    t: &TenantId,
    target: Target,
    count_job: Option<BulkJobId>,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<PreviewAnswer> {
    let target = resolve(store, t, target).await?;
    let n = match &count_job {
        Some(id) => counted_by_job(store, t, &target, id, now).await?,
        None => match exact_count(store, t, &target, now).await? {
            Some(n) => n,
            None => return Ok(PreviewAnswer::Counting(start_count_job(store, t, target, now).await?)),
        },
    };
    if n > store.bulk_delete_cap() {
        return Err(too_many(n, store.bulk_delete_cap()));
    }
    let token = new_token()?;
    let expires_at = now + Duration::minutes(TOKEN_MINUTES);
    let c = Confirmation {
        tenant: t.clone(),
        target: target.canonical(),
        count: n,
        subject: subject.to_owned(),
        expires_at,
        used_by: None,
        count_job,
    };
    store.put_confirmation(t, &token, &c).await?;
    Ok(PreviewAnswer::Ready(DeletePreview {
        count: n,
        statement: DELETE_STATEMENT,
        token,
        expires_at,
        max_count: store.bulk_delete_cap(),
    }))
}

/// A bulk delete's confirmation as given: the token, the agreement and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteConfirmation {
    /// The preview's token.
    pub token: String,
    /// The reason (10 to 1000 characters after trimming).
    pub reason: String,
}

impl DeleteConfirmation {
    /// Checks `agree`, the reason and the token's shape (422 naming the field).
    pub fn parse(token: Option<String>, agree: Option<bool>, reason: Option<String>) -> Result<Self> {
        let token = token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| DomainError::validation("token", "give the token of POST /customers/bulk-delete/preview"))?;
        if agree != Some(true) {
            return Err(DomainError::validation(
                "agree",
                "agree must be true: read the preview's statement and agree to it",
            ));
        }
        let reason = reason.unwrap_or_default().trim().to_owned();
        let n = reason.chars().count();
        if n < MIN_DELETE_REASON {
            return Err(DomainError::validation(
                "reason",
                format!("give a reason of at least {MIN_DELETE_REASON} characters (this one has {n})"),
            ));
        }
        if n > MAX_DELETE_REASON || reason.chars().any(char::is_control) {
            return Err(DomainError::validation(
                "reason",
                format!("the reason is at most {MAX_DELETE_REASON} characters without control characters"),
            ));
        }
        Ok(DeleteConfirmation { token, reason })
    }
}

/// `POST /customers/bulk-delete`: checks the confirmation against this tenant, target and the count
/// now, uses it up and starts the job (202).
pub async fn create_bulk_delete<S: BulkActionPorts>(
    store: &S,
    t: &TenantId,
    target: Target,
    confirm: DeleteConfirmation,
    now: DateTime<Utc>,
) -> Result<BulkJobView> {
    let bad = |m: &str| DomainError::validation("token", m.to_owned());
    if !confirm.token.starts_with("bdt_") || confirm.token.len() > 64 {
        return Err(bad("not a confirmation token; preview the delete again"));
    }
    let c = store.get_confirmation(t, &confirm.token).await?.ok_or_else(|| {
        bad("unknown confirmation token for this tenant (a token is valid only for the tenant that previewed); preview the delete again")
    })?;
    if c.used_by.is_some() {
        return Err(DomainError::conflict(
            "token",
            "this confirmation token was already used; preview the delete again for a new one",
        ));
    }
    if now >= c.expires_at {
        return Err(bad(
            "the confirmation token expired (valid 15 minutes); preview the delete again",
        ));
    }
    let target = resolve(store, t, target).await?;
    if target.canonical() != c.target {
        return Err(bad(
            "the confirmation token was issued for another target; preview this target",
        ));
    }
    // A count job's count stands for a tenant still too large to count here (the token's 15 minutes
    // bound how old it is); otherwise the count now must equal the one previewed.
    let n = match (exact_count(store, t, &target, now).await?, &c.count_job) {
        (Some(n), _) => n,
        (None, Some(_)) => c.count,
        (None, None) => return Err(DomainError::conflict(
            "token",
            "the tenant now has more customers than a request counts; preview again (the preview starts a count job)",
        )),
    };
    if n > store.bulk_delete_cap() {
        return Err(too_many(n, store.bulk_delete_cap()));
    }
    if n == 0 {
        return Err(DomainError::validation(
            "target",
            "nothing to delete: the target matches no customer",
        ));
    }
    if n != c.count {
        return Err(DomainError::conflict(
            "token",
            format!(
                "the target now matches {n} customers, not the {} previewed; preview again",
                c.count
            ),
        ));
    }
    let spec = CustomerActionSpec {
        target,
        action: CustomerAction::Delete {
            reason: confirm.reason,
            agreed_count: n,
        },
        actor: c.subject.clone(),
        position: Position::default(),
        failures: BTreeMap::new(),
    };
    let job = new_job(spec, Some(n), now);
    match store.start_confirmed(t, &confirm.token, &job).await? {
        ConfirmOutcome::Started => {}
        ConfirmOutcome::AlreadyUsed => {
            return Err(DomainError::conflict(
                "token",
                "this confirmation token was already used; preview the delete again for a new one",
            ))
        }
    }
    store.put_audit(t, &audit_of(&job)?).await?;
    store.enqueue_bulk(&task(t, &job)).await?;
    BulkJobView::of(&job, Vec::new())
}

/// A customer a bulk job could not change, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCustomer {
    /// The customer.
    pub customer_id: String,
    /// A stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// `GET /bulk-jobs/{id}`: a bulk modify or delete with its progress and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkJobView {
    /// The job's id.
    pub id: BulkJobId,
    /// `bulk_modify` or `bulk_delete`.
    pub kind: &'static str,
    /// `running`, `done` or `failed`.
    pub status: BulkStatus,
    /// Who started it.
    pub actor: String,
    /// The target as resolved when the job was created.
    pub target: Value,
    /// A modify's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Value>,
    /// A delete's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Customers the job expects to go through (an id list's, a group's or a delete's count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// 0 to 1, when the total is known (1 once done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// Customers of the target gone through so far.
    pub matched: u64,
    /// Customers a modify changed.
    pub modified: u64,
    /// Customers a delete deleted.
    pub deleted: u64,
    /// Customers already as the modify would leave them.
    pub unchanged: u64,
    /// Customers that could not be changed.
    pub failed: u64,
    /// Failures by code.
    pub failures: BTreeMap<String, u64>,
    /// The first failed customers with their reasons.
    pub failed_customers: Vec<FailedCustomer>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl BulkJobView {
    /// The view of a record and its first failed rows.
    pub fn of(job: &BulkJob, failed_rows: Vec<FailedRow>) -> Result<BulkJobView> {
        let spec = job.action()?;
        let c = &job.counts;
        let delete = job.kind() == BulkKind::BulkDelete;
        let (changes, reason) = match &spec.action {
            CustomerAction::Modify(ch) => (serde_json::to_value(ch).ok(), None),
            CustomerAction::Delete { reason, .. } => (None, Some(reason.clone())),
        };
        Ok(BulkJobView {
            id: job.id.clone(),
            kind: job.kind().as_str(),
            status: job.status,
            actor: spec.actor.clone(),
            target: serde_json::to_value(&spec.target).unwrap_or(Value::Null),
            changes,
            reason,
            total: job.rows_total,
            progress: job.progress(),
            matched: c.updated + c.unchanged + c.failed,
            modified: if delete { 0 } else { c.updated },
            deleted: if delete { c.updated } else { 0 },
            unchanged: c.unchanged,
            failed: c.failed,
            failures: spec.failures.clone(),
            failed_customers: failed_rows
                .into_iter()
                .map(|r| FailedCustomer {
                    customer_id: r.cells.first().cloned().unwrap_or_default(),
                    code: r.code,
                    message: r.message,
                })
                .collect(),
            created_at: job.created_at,
            finished_at: job.finished_at,
            last_error: job.last_error.clone(),
        })
    }
}

/// `GET /bulk-jobs/{id}`: the tenant's bulk modify or delete with this id (404 otherwise).
pub async fn get_bulk_job<S: BulkJobStore>(store: &S, t: &TenantId, id: &BulkJobId) -> Result<BulkJobView> {
    for kind in [BulkKind::BulkModify, BulkKind::BulkDelete] {
        if let Some(job) = store.get_bulk_job(t, kind, id).await? {
            let rows = if job.counts.failed > 0 {
                store.failed_rows(t, id, None).await?.0
            } else {
                Vec::new()
            };
            return BulkJobView::of(&job, rows);
        }
    }
    Err(DomainError::not_found(format!("no bulk job with id {:?}", id.as_str())))
}

/// `GET /audit`: the tenant's audit entries, newest first.
pub async fn list_audit<S: BulkActionStore>(store: &S, t: &TenantId, page: &PageRequest) -> Result<Page<AuditEntry>> {
    store.list_audit(t, page).await
}
