//! One handler per API action. Each reads the tenant from the claims, parses its input into the
//! typed values the use case takes (ids, parsed bodies), calls one use case and writes the result;
//! `respond` turns every error into its JSON error response.

use crate::http_error::ApiError;
use crate::request::{json, json_body, no_content, page, path_id, path_param, tenant};
use crate::App;
use cg_domain::customer::{CustomerPatch, NewCustomer};
use cg_domain::events::EventBatch;
use cg_domain::group::{
    GroupChange, GroupInput, GroupPreviewRequest, GroupUpdate, MemberList, NewGroup, ParsedMembers, PreviewInput,
};
use cg_domain::ids::CustomerId;
use cg_domain::usecases::{customers, events, groups, inspect, lookup, resync};
use cg_domain::DomainError;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
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

/// `POST /customers`.
pub async fn customers_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: NewCustomer = json_body(&req)?;
        json(
            201,
            &customers::create_customer(&app.store, &t, input, app.now()).await?,
        )
    })
    .await
}

/// `GET /customers`.
pub async fn customers_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &customers::list_customers(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

/// `GET /customers/{customerId}`.
pub async fn customers_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "customerId")?;
        match lookup::get_customer(&app.store, &t, &id).await {
            Ok(c) => json(200, &c),
            // A merged-away id answers 404 with the customer it was merged into, while its tombstone lasts.
            Err(DomainError::NotFound(m)) => {
                match cg_domain::usecases::merge::merged_into(&app.store, &t, &id).await? {
                    Some(primary) => {
                        let mut extra = serde_json::Map::new();
                        extra.insert("merged_into".into(), primary.as_str().into());
                        let m = format!("customer {:?} was merged into {:?}", id.as_str(), primary.as_str());
                        Ok(crate::http_error::error_with(404, "not_found", &m, extra))
                    }
                    None => Err(DomainError::NotFound(m).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// `PATCH /customers/{customerId}`.
pub async fn customers_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "customerId")?;
        let patch: CustomerPatch = json_body(&req)?;
        json(
            200,
            &customers::update_customer(&app.store, &t, &id, patch, app.now()).await?,
        )
    })
    .await
}

/// `DELETE /customers/{customerId}`.
pub async fn customers_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        customers::delete_customer(&app.store, &t, &path_id(&req, "customerId")?).await?;
        Ok(no_content())
    })
    .await
}

/// `POST /groups`.
pub async fn groups_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = GroupInput::try_from(json_body::<NewGroup>(&req)?)?;
        json(201, &groups::create_group(&app.store, &t, input, app.now()).await?)
    })
    .await
}

/// `GET /groups`.
pub async fn groups_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &groups::list_groups(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

/// `GET /groups/{groupId}`.
pub async fn groups_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        json(200, &groups::get_group_with_sync(&app.store, &t, &id).await?)
    })
    .await
}

/// `PATCH /groups/{groupId}`.
pub async fn groups_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        let change = GroupChange::try_from(json_body::<GroupUpdate>(&req)?)?;
        json(
            200,
            &groups::update_group(&app.store, &t, &id, change, app.now()).await?,
        )
    })
    .await
}

/// `POST /groups/{groupId}/resync`.
pub async fn groups_resync(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_resync", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        json(202, &resync::resync_group(&app.store, &t, &id, app.now()).await?)
    })
    .await
}

/// `POST /groups/preview`.
pub async fn groups_preview(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_preview", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = PreviewInput::try_from(json_body::<GroupPreviewRequest>(&req)?)?;
        json(200, &inspect::preview(&app.store, &t, input, app.now()).await?)
    })
    .await
}

/// `GET /groups/{groupId}/explain/{customerId}`.
pub async fn groups_explain(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_explain", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let (g, c) = (path_id(&req, "groupId")?, path_id(&req, "customerId")?);
        json(200, &inspect::explain(&app.store, &t, &g, &c, app.now()).await?)
    })
    .await
}

/// `GET /groups/{groupId}/history`.
pub async fn group_history_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_history_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        json(200, &inspect::history(&app.store, &t, &id, &page(&req)?).await?)
    })
    .await
}

/// `GET /group-templates`.
pub async fn group_templates_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_templates_list", async {
        tenant(&req, &app.tenant_claim)?;
        json(200, &inspect::templates())
    })
    .await
}

/// `POST /events`.
pub async fn events_ingest(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("events_ingest", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let batch = EventBatch::try_from(json_body::<serde_json::Value>(&req)?)?;
        let report = events::ingest_events(&app.store, &t, &batch, app.now()).await?;
        let all_invalid = report
            .rejected
            .iter()
            .all(|r| r.code == events::RejectionCode::ValidationFailed);
        if report.accepted == 0 && report.duplicates == 0 && all_invalid {
            if let Some(first) = report.rejected.first() {
                // Nothing in the batch could be used and all of it is invalid: the whole request is bad
                // input. Valid events for customers that do not exist (yet) are a 200 with the report.
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

/// The body of `DELETE /groups/{groupId}`'s 202.
#[derive(Serialize)]
struct Deleting {
    status: &'static str,
}

/// `DELETE /groups/{groupId}`.
pub async fn groups_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("groups_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        groups::delete_group(&app.store, &t, &path_id(&req, "groupId")?).await?;
        json(202, &Deleting { status: "deleting" })
    })
    .await
}

/// `POST /groups/{groupId}/members`.
pub async fn group_members_add(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_add", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        let list = ParsedMembers::try_from(json_body::<MemberList>(&req)?)?;
        json(200, &groups::add_members(&app.store, &t, &id, list, app.now()).await?)
    })
    .await
}

/// `GET /groups/{groupId}/members`.
pub async fn group_members_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "groupId")?;
        json(200, &groups::list_members(&app.store, &t, &id, &page(&req)?).await?)
    })
    .await
}

/// `DELETE /groups/{groupId}/members/{customerId}`.
pub async fn group_members_remove(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("group_members_remove", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let g = path_id(&req, "groupId")?;
        let raw = path_param(&req, "customerId");
        let c = CustomerId::parse(&raw).map_err(|_| groups::not_a_member(&raw))?;
        groups::remove_member(&app.store, &t, &g, &c, app.now()).await?;
        Ok(no_content())
    })
    .await
}
