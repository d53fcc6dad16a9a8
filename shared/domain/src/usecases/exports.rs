//! Export use cases: start an export (the API answers 202 with the record) and read it with a fresh
//! download link. The job that writes the file is `export_job`.

use crate::error::Result;
use crate::export::ports::{DownloadLinks, ExportQueue, ExportStore};
use crate::export::{Export, ExportJob, ExportRequest, ExportScope, ExportStatus, ExportView};
use crate::ids::{ExportId, GroupId, PathId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::GroupStore;
use crate::usecases::lookup::get_group;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Starts an export of a group's members; answers with the queued record.
pub async fn start_group_export<S>(
    store: &S,
    tenant: &TenantId,
    group_id: &GroupId,
    req: ExportRequest,
    now: DateTime<Utc>,
) -> Result<ExportView>
where
    S: GroupStore + ExportStore + ExportQueue,
{
    req.validate()?;
    let group = get_group(store, tenant, group_id).await?;
    let export = Export::queued(ExportScope::Group, Some((&group.id, &group.name)), &req, now);
    queue_export(store, tenant, export, now).await
}

/// Starts an export of the tenant's customers; answers with the queued record.
pub async fn start_customer_export<S>(
    store: &S,
    tenant: &TenantId,
    req: ExportRequest,
    now: DateTime<Utc>,
) -> Result<ExportView>
where
    S: ExportStore + ExportQueue,
{
    req.validate()?;
    let export = Export::queued(ExportScope::Customers, None, &req, now);
    queue_export(store, tenant, export, now).await
}

async fn queue_export<S: ExportStore + ExportQueue>(
    store: &S,
    tenant: &TenantId,
    mut export: Export,
    now: DateTime<Utc>,
) -> Result<ExportView> {
    store.create_export(tenant, &export).await?;
    let job = ExportJob {
        tenant: tenant.clone(),
        export_id: export.id.clone(),
    };
    if let Err(e) = store.enqueue_export(&job).await {
        // No job will ever run it: say so on the record rather than leave it queued forever.
        export.status = ExportStatus::Failed;
        export.failure_reason = Some("the export could not be queued; start a new export".into());
        export.finished_at = Some(now);
        if let Err(save) = store.save_export(tenant, &export, export.attempts).await {
            tracing::warn!(tenant = %tenant, export = %export.id, error = ?save, "could not mark an unqueued export failed");
        }
        return Err(e);
    }
    Ok(export.into())
}

/// An export with its progress and, once done, a freshly signed download link.
pub async fn get_export<S: ExportStore + DownloadLinks>(
    store: &S,
    tenant: &TenantId,
    id: &ExportId,
    now: DateTime<Utc>,
) -> Result<ExportView> {
    let export = store
        .get_export(tenant, id)
        .await?
        .ok_or_else(|| ExportId::not_found(id.as_str()))?;
    let mut view = ExportView::from(export);
    if view.export.status == ExportStatus::Done {
        let secs = view.export.link_lifetime_secs();
        let link = store
            .download_link(&view.export.object(tenant), Duration::from_secs(secs.into()))
            .await?;
        view.download_url = Some(link);
        view.download_expires_at = Some(now + chrono::Duration::seconds(secs.into()));
    }
    Ok(view)
}

/// The tenant's exports, newest first (download links come from `get_export`).
pub async fn list_exports<S: ExportStore>(
    store: &S,
    tenant: &TenantId,
    page: &PageRequest,
) -> Result<Page<ExportView>> {
    Ok(store.list_exports(tenant, page).await?.map(ExportView::from))
}
