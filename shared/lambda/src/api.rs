//! One handler per API action. Each reads the tenant from the claims, parses its input, calls one use
//! case and writes the result; `respond` turns every error into its JSON error response.

use crate::http_error::ApiError;
use crate::request::{json, json_body, no_content, page, path_param, tenant};
use crate::App;
use cg_domain::customer::{CustomerPatch, NewCustomer};
use cg_domain::group::{GroupPreviewRequest, GroupUpdate, MemberList, NewGroup};
use cg_domain::usecases::{customers, dynamic, groups};
use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::json as j;
use std::convert::Infallible;
use std::future::Future;

/// Runs a handler body and renders its error, if any; a Lambda handler never fails at the runtime level.
pub(crate) async fn respond(
    action: &'static str,
    f: impl Future<Output = Result<Response<Body>, ApiError>>,
) -> Result<Response<Body>, Infallible> {
    let started = std::time::Instant::now();
    let resp = f.await.unwrap_or_else(ApiError::into_response);
    tracing::info!(
        action,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(resp)
}

pub async fn customers_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: NewCustomer = json_body(&req)?;
        json(
            201,
            &customers::create_customer(&app.store, &t, input, Utc::now()).await?,
        )
    })
    .await
}

pub async fn customers_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &customers::list_customers(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

pub async fn customers_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &customers::get_customer(&app.store, &t, &path_param(&req, "customerId")).await?,
        )
    })
    .await
}

pub async fn customers_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let patch: CustomerPatch = json_body(&req)?;
        let id = path_param(&req, "customerId");
        json(
            200,
            &customers::update_customer(&app.store, &t, &id, patch, Utc::now()).await?,
        )
    })
    .await
}

pub async fn customers_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        customers::delete_customer(&app.store, &t, &path_param(&req, "customerId")).await?;
        Ok(no_content())
    })
    .await
}

pub async fn groups_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: NewGroup = json_body(&req)?;
        let (group, report) = groups::create_group(&app.store, &t, input, Utc::now()).await?;
        let mut body = serde_json::to_value(&group).map_err(|e| cg_domain::DomainError::Internal(e.to_string()))?;
        if let Some(report) = report {
            body["member_report"] =
                serde_json::to_value(report).map_err(|e| cg_domain::DomainError::Internal(e.to_string()))?;
        }
        json(201, &body)
    })
    .await
}

pub async fn groups_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &groups::list_groups(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

pub async fn groups_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &groups::get_group_with_sync(&app.store, &t, &path_param(&req, "groupId")).await?,
        )
    })
    .await
}

pub async fn groups_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: GroupUpdate = json_body(&req)?;
        json(
            200,
            &groups::update_group(&app.store, &t, &path_param(&req, "groupId"), input, Utc::now()).await?,
        )
    })
    .await
}

pub async fn groups_resync(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_resync", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            202,
            &dynamic::resync_group(&app.store, &t, &path_param(&req, "groupId"), Utc::now()).await?,
        )
    })
    .await
}

pub async fn groups_preview(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_preview", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: GroupPreviewRequest = json_body(&req)?;
        json(200, &dynamic::preview(&app.store, &t, input, Utc::now()).await?)
    })
    .await
}

pub async fn groups_explain(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_explain", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let (g, c) = (path_param(&req, "groupId"), path_param(&req, "customerId"));
        json(200, &dynamic::explain(&app.store, &t, &g, &c, Utc::now()).await?)
    })
    .await
}

pub async fn group_history_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_history_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &dynamic::history(&app.store, &t, &path_param(&req, "groupId"), &page(&req)?).await?,
        )
    })
    .await
}

pub async fn group_templates_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_templates_list", async {
        tenant(&req, &app.tenant_claim)?;
        json(200, &dynamic::templates())
    })
    .await
}

pub async fn events_ingest(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("events_ingest", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let body: serde_json::Value = json_body(&req)?;
        let report = dynamic::ingest_events(&app.store, &t, &body, Utc::now()).await?;
        if report.accepted == 0 && report.duplicates == 0 {
            if let Some(first) = report.rejected.first() {
                // Nothing in the batch could be used: the whole request is bad input.
                return Err(cg_domain::DomainError::validation(
                    format!("events[{}]", first.index),
                    format!(
                        "no event was accepted ({} rejected); the first: {}",
                        report.rejected.len(),
                        first.message
                    ),
                )
                .into());
            }
        }
        json(200, &report)
    })
    .await
}

pub async fn groups_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        groups::delete_group(&app.store, &t, &path_param(&req, "groupId")).await?;
        json(202, &j!({"status": "deleting"}))
    })
    .await
}

pub async fn group_members_add(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_add", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let list: MemberList = json_body(&req)?;
        json(
            200,
            &groups::add_members(&app.store, &t, &path_param(&req, "groupId"), list, Utc::now()).await?,
        )
    })
    .await
}

pub async fn group_members_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &groups::list_members(&app.store, &t, &path_param(&req, "groupId"), &page(&req)?).await?,
        )
    })
    .await
}

pub async fn group_members_remove(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_remove", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let (g, c) = (path_param(&req, "groupId"), path_param(&req, "customerId"));
        groups::remove_member(&app.store, &t, &g, &c, Utc::now()).await?;
        Ok(no_content())
    })
    .await
}
