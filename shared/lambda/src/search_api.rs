//! The customer search handlers (issue 14): a page of the customers a filter matches, and their count.

use crate::api::respond;
use crate::request::{json, json_body, tenant};
use crate::App;
use cg_domain::search::{CountInput, CountRequest, SearchInput, SearchRequest};
use cg_domain::usecases::search;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /customers/search`.
pub async fn customers_search(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_search", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = SearchInput::try_from(json_body::<SearchRequest>(&req)?)?;
        json(200, &search::search(&app.store, &t, input, app.now()).await?)
    })
    .await
}

/// `POST /customers/count`.
pub async fn customers_count(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_count", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = CountInput::try_from(json_body::<CountRequest>(&req)?)?;
        json(200, &search::count(&app.store, &t, input.target, app.now()).await?)
    })
    .await
}
