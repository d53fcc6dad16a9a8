//! The timeline and communication history handlers (issue 15 parts 7 and 8): record messages sent to
//! customers, list a customer's messages, record a manual event, list a customer's timeline.

use crate::api::respond;
use crate::http_error::ApiError;
use crate::request::{json, json_body, page_with, path_id, query_values, tenant};
use crate::App;
use cg_domain::ids::CustomerId;
use cg_domain::timeline::communication::{CommunicationBatch, CommunicationsBody};
use cg_domain::timeline::manual::{ManualEvent, ManualEventBody};
use cg_domain::timeline::query::TimelineFilter;
use cg_domain::usecases::timeline;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// A query parameter given at most once.
fn single<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, ApiError> {
    match query_values(req, name).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(ApiError::BadRequest(format!("{name} may be given once"))),
    }
}

/// `POST /communications`.
pub async fn communications_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("communications_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let batch = CommunicationBatch::try_from(json_body::<CommunicationsBody>(&req)?)?;
        json(200, &timeline::record_communications(&app.store, &t, batch).await?)
    })
    .await
}

/// `GET /customers/{customerId}/communications`.
pub async fn customer_communications_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customer_communications_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id: CustomerId = path_id(&req, "customerId")?;
        let page = page_with(&req, &["channel", "from", "to"])?;
        let filter =
            TimelineFilter::communications(single(&req, "channel")?, single(&req, "from")?, single(&req, "to")?)?;
        json(
            200,
            &timeline::list_communications(&app.store, &t, &id, &filter, &page).await?,
        )
    })
    .await
}

/// `POST /customers/{customerId}/timeline`.
pub async fn customer_timeline_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customer_timeline_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id: CustomerId = path_id(&req, "customerId")?;
        let event = ManualEvent::try_from(json_body::<ManualEventBody>(&req)?)?;
        let recorded = timeline::record_manual_event(&app.store, &t, &id, event).await?;
        json(if recorded.replayed { 200 } else { 201 }, &recorded)
    })
    .await
}

/// `GET /customers/{customerId}/timeline`.
pub async fn customer_timeline_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customer_timeline_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id: CustomerId = path_id(&req, "customerId")?;
        let page = page_with(&req, &["type", "from", "to"])?;
        let filter = TimelineFilter::parse(&query_values(&req, "type"), single(&req, "from")?, single(&req, "to")?)?;
        json(
            200,
            &timeline::list_timeline(&app.store, &t, &id, &filter, &page).await?,
        )
    })
    .await
}
