//! The bulk action handlers (issue 14): bulk modify (202 with the job), the bulk delete's preview and
//! its confirmed start (202), a bulk job's progress, and the audit log.

use crate::api::respond;
use crate::balance_api::actor;
use crate::request::{json, json_body, page, path_id, tenant};
use crate::App;
use cg_domain::bulk::request::{
    BulkDeleteInput, BulkDeleteRequest, BulkModifyInput, BulkModifyRequest, DeletePreviewInput, DeletePreviewRequest,
};
use cg_domain::usecases::bulk_actions::{self, BulkJobPathId, PreviewAnswer};
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /customers/bulk-modify`.
pub async fn customers_bulk_modify(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_bulk_modify", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = BulkModifyInput::try_from(json_body::<BulkModifyRequest>(&req)?)?;
        let who = actor(&req)?;
        let view =
            bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, &who, app.now()).await?;
        json(202, &view)
    })
    .await
}

/// `POST /customers/bulk-delete/preview`.
pub async fn customers_bulk_delete_preview(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_bulk_delete_preview", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = DeletePreviewInput::try_from(json_body::<DeletePreviewRequest>(&req)?)?;
        let who = actor(&req)?;
        match bulk_actions::preview_bulk_delete(&app.store, &t, input.target, input.count_job, &who, app.now()).await? {
            PreviewAnswer::Ready(p) => json(200, &p),
            PreviewAnswer::Counting(job) => json(202, &job),
        }
    })
    .await
}

/// `POST /customers/bulk-delete`.
pub async fn customers_bulk_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_bulk_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = BulkDeleteInput::try_from(json_body::<BulkDeleteRequest>(&req)?)?;
        let view = bulk_actions::create_bulk_delete(&app.store, &t, input.target, input.confirm, app.now()).await?;
        json(202, &view)
    })
    .await
}

/// `GET /bulk-jobs/{jobId}`.
pub async fn bulk_jobs_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("bulk_jobs_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let BulkJobPathId(id) = path_id(&req, "jobId")?;
        json(200, &bulk_actions::get_bulk_job(&app.store, &t, &id).await?)
    })
    .await
}

/// `GET /audit`.
pub async fn audit_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("audit_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &bulk_actions::list_audit(&app.store, &t, &page(&req)?).await?)
    })
    .await
}
