//! The export API handlers: start a group or customer export (202 with the queued record), read one
//! export (with a fresh download link once done), list the tenant's exports.

use crate::api::respond;
use crate::request::{json, json_body, page, path_id, tenant};
use crate::App;
use cg_domain::export::ExportRequest;
use cg_domain::usecases::exports;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /groups/{groupId}/exports`.
pub async fn exports_create_group(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("exports_create_group", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: ExportRequest = json_body(&req)?;
        let group = path_id(&req, "groupId")?;
        json(
            202,
            &exports::start_group_export(&app.store, &t, &group, input, app.now()).await?,
        )
    })
    .await
}

/// `POST /customers/exports`.
pub async fn exports_create_customers(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("exports_create_customers", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: ExportRequest = json_body(&req)?;
        json(
            202,
            &exports::start_customer_export(&app.store, &t, input, app.now()).await?,
        )
    })
    .await
}

/// `GET /exports/{exportId}`.
pub async fn exports_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("exports_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "exportId")?;
        json(200, &exports::get_export(&app.store, &t, &id, app.now()).await?)
    })
    .await
}

/// `GET /exports`.
pub async fn exports_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("exports_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &exports::list_exports(&app.store, &t, &page(&req)?).await?)
    })
    .await
}
