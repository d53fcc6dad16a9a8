//! Import API use cases: create an import (with an upload link, or with the file inline), read it
//! (which starts the analysis once the upload is there, and links the failure report once done), list
//! them, start one with a mapping, cancel one. The job itself is `import_job`.

use crate::bulk::ports::{BulkFiles, BulkJobStore, BulkObject, BulkQueue};
use crate::bulk::{BulkCounts, BulkJob, BulkKind, BulkSpec, BulkStatus, BulkTask, Checkpoint, Expect};
use crate::error::{DomainError, Result};
use crate::group::GroupKind;
use crate::ids::{BulkJobId, PathId, TenantId};
use crate::import::mapping::{Mapping, MappingRequest};
use crate::import::{report_file_name, ImportRequest, ImportView, REPORT_LINK_SECS, UPLOAD_LINK_SECS};
use crate::page::{Page, PageRequest};
use crate::ports::GroupStore;
use chrono::{DateTime, Duration, Utc};

/// Read-modify-write rounds of a status change that races another writer.
const ATTEMPTS: usize = 4;

fn secs(n: u32) -> std::time::Duration {
    std::time::Duration::from_secs(n.into())
}

async fn get<S: BulkJobStore>(store: &S, t: &TenantId, id: &BulkJobId) -> Result<BulkJob> {
    store
        .get_bulk_job(t, BulkKind::Import, id)
        .await?
        .ok_or_else(|| BulkJobId::not_found(id.as_str()))
}

/// `POST /imports`: the new import and an upload link valid 15 minutes; an inline file is stored at
/// once and analysed like an uploaded one.
pub async fn create_import<S, F>(
    store: &S,
    files: &F,
    t: &TenantId,
    req: ImportRequest,
    now: DateTime<Utc>,
) -> Result<ImportView>
where
    S: BulkJobStore + BulkQueue,
    F: BulkFiles,
{
    let job = BulkJob {
        id: BulkJobId::generate(),
        status: BulkStatus::AwaitingUpload,
        rows_total: None,
        counts: BulkCounts::default(),
        checkpoint: Checkpoint::default(),
        attempts: 0,
        created_at: now,
        started_at: None,
        finished_at: None,
        last_error: None,
        spec: BulkSpec::Import(Box::new(req.spec)),
    };
    store.create_bulk_job(t, &job).await?;
    let upload = BulkObject::Upload(t.clone(), job.id.clone());
    if let Some(bytes) = req.inline {
        files.put_object(&upload, bytes, "application/octet-stream").await?;
        let job = begin_analysis(store, t, job, now).await?;
        return Ok(ImportView::from(&job));
    }
    let mut view = ImportView::from(&job);
    view.upload_url = Some(files.upload_link(&upload, secs(UPLOAD_LINK_SECS)).await?);
    view.upload_expires_at = Some(now + Duration::seconds(UPLOAD_LINK_SECS.into()));
    Ok(view)
}

/// Moves an uploaded import to `analysing` and queues its analysis (once: the move is conditional).
async fn begin_analysis<S: BulkJobStore + BulkQueue>(
    store: &S,
    t: &TenantId,
    mut job: BulkJob,
    now: DateTime<Utc>,
) -> Result<BulkJob> {
    let expect = Expect::of(&job);
    job.status = BulkStatus::Analysing;
    if !store.save_bulk_job(t, &job, expect).await? {
        return get(store, t, &job.id).await;
    }
    queue(store, t, &mut job, now).await?;
    Ok(job)
}

/// Queues the job's task; if that fails the job says so (no message would ever run it).
async fn queue<S: BulkJobStore + BulkQueue>(
    store: &S,
    t: &TenantId,
    job: &mut BulkJob,
    now: DateTime<Utc>,
) -> Result<()> {
    let task = BulkTask::Import {
        tenant: t.clone(),
        job_id: job.id.clone(),
    };
    if let Err(e) = store.enqueue_bulk(&task).await {
        let expect = Expect::of(job);
        job.status = BulkStatus::Failed;
        job.last_error = Some("the import could not be queued; create a new import".into());
        job.finished_at = Some(now);
        if let Err(save) = store.save_bulk_job(t, job, expect).await {
            tracing::warn!(tenant = %t, job = %job.id, error = ?save, "could not mark an unqueued import failed");
        }
        return Err(e);
    }
    Ok(())
}

/// `GET /imports/{id}`: the import; an upload seen for the first time starts its analysis; a done
/// import with failed rows carries a fresh link to the failure report.
pub async fn get_import<S, F>(
    store: &S,
    files: &F,
    t: &TenantId,
    id: &BulkJobId,
    now: DateTime<Utc>,
) -> Result<ImportView>
where
    S: BulkJobStore + BulkQueue,
    F: BulkFiles,
{
    let mut job = get(store, t, id).await?;
    if job.status == BulkStatus::AwaitingUpload
        && files
            .object_size(&BulkObject::Upload(t.clone(), job.id.clone()))
            .await?
            .is_some()
    {
        job = begin_analysis(store, t, job, now).await?;
    }
    let mut view = ImportView::from(&job);
    if job.status == BulkStatus::Done && job.counts.failed > 0 {
        let obj = BulkObject::FailureReport(t.clone(), job.id.clone());
        let name = report_file_name(&job.import().file_name);
        view.failure_report_url = Some(files.download_link(&obj, &name, secs(REPORT_LINK_SECS)).await?);
        view.failure_report_expires_at = Some(now + Duration::seconds(REPORT_LINK_SECS.into()));
    }
    Ok(view)
}

/// `GET /imports`: the tenant's imports, newest first (links come from `get_import`).
pub async fn list_imports<S: BulkJobStore>(store: &S, t: &TenantId, page: &PageRequest) -> Result<Page<ImportView>> {
    Ok(store
        .list_bulk_jobs(t, BulkKind::Import, page)
        .await?
        .map(|j| ImportView::from(&j)))
}

fn status_conflict(job: &BulkJob, doing: &str) -> DomainError {
    let why = match job.status {
        BulkStatus::AwaitingUpload => {
            "its file has not been uploaded yet (PUT it to the upload_url, then GET the import)"
        }
        BulkStatus::Analysing => "its file is still being analysed; wait for status ready",
        BulkStatus::Running => "it is already running",
        BulkStatus::Ready => "it has not started",
        BulkStatus::Done => "it is done",
        BulkStatus::Failed => "it failed",
        BulkStatus::Canceled => "it was canceled",
    };
    DomainError::conflict("status", format!("the import cannot {doing}: {why}"))
}

/// `POST /imports/{id}/start`: checks the mapping against the analysed header and the groups, then
/// queues the job (202).
pub async fn start_import<S>(
    store: &S,
    t: &TenantId,
    id: &BulkJobId,
    req: MappingRequest,
    now: DateTime<Utc>,
) -> Result<ImportView>
where
    S: BulkJobStore + BulkQueue + GroupStore,
{
    let mut job = get(store, t, id).await?;
    if job.status != BulkStatus::Ready {
        return Err(status_conflict(&job, "start"));
    }
    let header = job
        .import()
        .analysis
        .as_ref()
        .map(|a| a.header.clone())
        .ok_or_else(|| DomainError::Internal("a ready import without analysis".into()))?;
    let mapping = Mapping::parse(&req, &header)?;
    for (i, g) in mapping.add.groups.iter().enumerate() {
        let field = format!("add.groups[{i}]");
        match store.get_group(t, g).await? {
            None => return Err(DomainError::validation(&field, format!("{field}: no group with id {g:?}"))),
            Some(group) if group.kind != GroupKind::Static => {
                return Err(DomainError::validation(
                    &field,
                    format!("{field}: {g} is a dynamic group; its members follow its rules, so only static groups can be added to"),
                ))
            }
            Some(_) => {}
        }
    }
    let expect = Expect::of(&job);
    job.status = BulkStatus::Running;
    job.import_mut().mapping = Some(req);
    if !store.save_bulk_job(t, &job, expect).await? {
        let now_job = get(store, t, id).await?;
        return Err(status_conflict(&now_job, "start"));
    }
    queue(store, t, &mut job, now).await?;
    Ok(ImportView::from(&job))
}

/// `POST /imports/{id}/cancel`: stops the import after the batch in flight; rows committed before stay.
pub async fn cancel_import<S: BulkJobStore>(
    store: &S,
    t: &TenantId,
    id: &BulkJobId,
    now: DateTime<Utc>,
) -> Result<ImportView> {
    for _ in 0..ATTEMPTS {
        let mut job = get(store, t, id).await?;
        if job.status.is_final() {
            return Err(status_conflict(&job, "be canceled"));
        }
        let expect = Expect::of(&job);
        job.status = BulkStatus::Canceled;
        job.finished_at = Some(now);
        job.checkpoint.pending.clear();
        if store.save_bulk_job(t, &job, expect).await? {
            return Ok(ImportView::from(&job));
        }
    }
    Err(DomainError::ConcurrentUpdate)
}
