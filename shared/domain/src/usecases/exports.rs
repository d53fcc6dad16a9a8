//! Export use cases: start an export (the API answers 202 with the record) and read it with a fresh
//! download link. The job that writes the file is `export_job`.

use crate::error::{DomainError, Result};
use crate::export::ports::{DownloadLinks, ExportQueue, ExportStore};
use crate::export::{Export, ExportColumns, ExportJob, ExportRequest, ExportScope, ExportStatus, ExportView};
use crate::ids::{ExportId, GroupId, PathId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{FilterStore, GroupStore};
use crate::search::target::{Target, Targets};
use crate::usecases::lookup::get_group;
use crate::usecases::search::{check_groups, query_of};
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
    let f = req.target_fields();
    if f.rules.is_some()
        || f.condition_groups.is_some()
        || f.template.is_some()
        || f.extra.is_some()
        || f.settings.is_some()
        || f.simple.is_some()
        || f.filter_id.is_some()
        || f.group_id.is_some()
        || f.customer_ids.is_some()
    {
        return Err(DomainError::validation(
            "target",
            "a group export writes the group's members; export by a filter with POST /customers/exports",
        ));
    }
    if req.columns == ExportColumns::Profile {
        return Err(DomainError::validation(
            "columns",
            "the profile columns are for customer exports (POST /customers/exports); a group export writes basic columns",
        ));
    }
    let group = get_group(store, tenant, group_id).await?;
    let export = Export::queued(ExportScope::Group, Some((&group.id, &group.name)), &req, now);
    queue_export(store, tenant, export, now).await
}

/// Starts an export of the tenant's customers (those a filter or a saved filter matches, if one is
/// given; a saved filter is copied into the record, so the export writes what it said when asked for);
/// answers with the queued record. Bad rules are a 422 naming the node's path.
pub async fn start_customer_export<S>(
    store: &S,
    tenant: &TenantId,
    req: ExportRequest,
    now: DateTime<Utc>,
) -> Result<ExportView>
where
    S: ExportStore + ExportQueue + FilterStore + GroupStore,
{
    req.validate()?;
    let target = Target::parse(req.target_fields(), Targets::Filters)?;
    let filter_id = match &target {
        Target::SavedFilter(id) => Some(id.clone()),
        _ => None,
    };
    let query = query_of(store, tenant, target).await?;
    check_groups(store, tenant, &query).await?;
    let mut export = Export::queued(ExportScope::Customers, None, &req, now);
    if !query.is_everything() || filter_id.is_some() {
        export.filter = Some(query.to_json());
        export.filter_id = filter_id;
    }
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
