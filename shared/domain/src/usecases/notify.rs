//! The extension point of destinations: a feature whose job ends calls [`notify`] and every endpoint
//! subscribed to the event type receives it as a signed webhook. Low in the use-case order (it calls
//! nothing above `lookup`), so resyncs, exports, imports (through `bulk_job::finish`) and later the
//! bulk-action jobs can call it.
//!
//! A notification's id is derived from what it reports (`resync:{job}`, `export:{id}`), and recording
//! it again changes nothing, so a job may report its end on every redelivery of its last message:
//! that is how no end is lost when a worker dies between finishing the job and notifying.

use crate::bulk::{BulkJob, BulkKind, BulkStatus};
use crate::destinations::event::{EventType, Notification};
use crate::destinations::ports::Notifications;
use crate::error::Result;
use crate::export::ports::ExportStore;
use crate::export::ExportStatus;
use crate::group::SyncState;
use crate::ids::{ExportId, TenantId};
use crate::jobs::ResyncJob;
use chrono::{DateTime, Utc};

/// Records a notification for the subscribed endpoints (idempotent by `n.id`).
pub async fn notify<S: Notifications>(store: &S, t: &TenantId, n: Notification) -> Result<()> {
    store.notify(t, &n).await
}

/// `group.resynced` for a resync job that is over (done or failed); nothing while it still runs.
pub async fn resync_finished<S: Notifications>(store: &S, t: &TenantId, job: &ResyncJob) -> Result<()> {
    if !matches!(job.status, SyncState::Done | SyncState::Failed) {
        return Ok(());
    }
    let at = job.finished_at.unwrap_or(job.created_at);
    let data = serde_json::json!({
        "job_id": job.id,
        "group_ids": job.groups,
        "status": job.status,
        "customers_evaluated": job.customers_evaluated,
        "changes": job.changes,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.last_error,
    });
    let n = Notification {
        id: format!("resync:{}", job.id),
        event_type: EventType::GroupResynced,
        at,
        group_ids: job.groups.clone(),
        data,
    };
    store.notify(t, &n).await
}

/// `export.done` or `export.failed` for an export whose record is final; nothing while it runs.
pub async fn export_finished<S: ExportStore + Notifications>(store: &S, t: &TenantId, id: &ExportId) -> Result<()> {
    let Some(export) = store.get_export(t, id).await? else {
        return Ok(());
    };
    let event_type = match export.status {
        ExportStatus::Done => EventType::ExportDone,
        ExportStatus::Failed => EventType::ExportFailed,
        _ => return Ok(()),
    };
    let at: DateTime<Utc> = export.finished_at.unwrap_or(export.created_at);
    let data = serde_json::json!({
        "export_id": export.id,
        "scope": export.scope,
        "group_id": export.group_id,
        "format": export.format,
        "file_name": export.file_name,
        "rows": export.rows_written,
        "bytes": export.bytes_written,
        "finished_at": export.finished_at,
        "failure_reason": export.failure_reason,
    });
    let n = Notification {
        id: format!("export:{}", export.id),
        event_type,
        at,
        group_ids: export.group_id.iter().cloned().collect(),
        data,
    };
    store.notify(t, &n).await
}

/// `import.done` or `import.failed` for a bulk job whose record is final (an import; later bulk
/// kinds get their own types); nothing while it runs or after a cancel (the caller asked for that end).
pub async fn bulk_job_finished<S: Notifications>(store: &S, t: &TenantId, job: &BulkJob) -> Result<()> {
    let event_type = match (job.kind(), job.status) {
        (BulkKind::Import, BulkStatus::Done) => EventType::ImportDone,
        (BulkKind::Import, BulkStatus::Failed) => EventType::ImportFailed,
        _ => return Ok(()),
    };
    let at = job.finished_at.unwrap_or(job.created_at);
    let spec = job.import()?;
    let data = serde_json::json!({
        "import_id": job.id,
        "status": job.status.as_str(),
        "file_name": spec.file_name,
        "rows_total": job.rows_total,
        "counts": job.counts,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.last_error,
    });
    let n = Notification {
        id: format!("import:{}", job.id),
        event_type,
        at,
        group_ids: Vec::new(),
        data,
    };
    store.notify(t, &n).await
}
