//! The balance API handlers: a customer's ledger and single adjustment, and group balance operations
//! (202 with the operation job; its progress by id).

use crate::api::respond;
use crate::http_error::ApiError;
use crate::request::{json, json_body, page, path_id, tenant};
use crate::App;
use cg_domain::balance::job::OperationId;
use cg_domain::balance::request::{ChangeBody, ChangeInput};
use cg_domain::usecases::{balance_job, balances};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::convert::Infallible;

/// The token subject (`sub`), recorded as the actor of every ledger entry.
pub(crate) fn actor(req: &Request) -> Result<String, ApiError> {
    let sub = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.claims.get("sub").cloned()),
        _ => None,
    };
    sub.filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("the access token has no sub claim".into()))
}

/// `POST /customers/{customerId}/balance-adjustments`.
pub async fn balance_adjustments_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("balance_adjustments_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "customerId")?;
        let input = ChangeInput::try_from(json_body::<ChangeBody>(&req)?)?;
        let view = balances::adjust_balance(&app.store, &t, &id, input, &actor(&req)?).await?;
        let created = view.status == balances::AdjustmentStatus::Applied && !view.replayed;
        json(if created { 201 } else { 200 }, &view)
    })
    .await
}

/// `GET /customers/{customerId}/ledger`.
pub async fn customer_ledger_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customer_ledger_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "customerId")?;
        json(200, &balances::list_ledger(&app.store, &t, &id, &page(&req)?).await?)
    })
    .await
}

/// `POST /groups/{groupId}/balance-operations`.
pub async fn balance_operations_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("balance_operations_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let g = path_id(&req, "groupId")?;
        let input = ChangeInput::try_from(json_body::<ChangeBody>(&req)?)?;
        let view = balance_job::create_group_operation(&app.store, &t, &g, input, &actor(&req)?, app.now()).await?;
        json(202, &view)
    })
    .await
}

/// `GET /balance-operations/{operationId}`.
pub async fn balance_operations_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("balance_operations_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let OperationId(id) = path_id(&req, "operationId")?;
        json(200, &balance_job::get_group_operation(&app.store, &t, &id).await?)
    })
    .await
}
