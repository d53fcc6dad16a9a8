//! The customer search handlers (issue 14): a page of the customers a filter matches, their count
//! (200, or 202 with a count job for a large tenant), and a count job's progress.

use crate::api::respond;
use crate::request::{json, json_body, path_id, tenant};
use crate::App;
use cg_domain::search::count::CountJobPathId;
use cg_domain::search::{CountInput, CountRequest, SearchInput, SearchRequest};
use cg_domain::usecases::search::CountAnswer;
use cg_domain::usecases::{count_job, search};
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
        match search::count_or_start_job(&app.store, &t, input.target, app.now()).await? {
            CountAnswer::Exact(c) => json(200, &c),
            CountAnswer::Job(job) => json(202, &job),
        }
    })
    .await
}

/// `GET /count-jobs/{jobId}`.
pub async fn count_jobs_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("count_jobs_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let CountJobPathId(id) = path_id(&req, "jobId")?;
        json(200, &count_job::get_count_job(&app.store, &t, &id).await?)
    })
    .await
}
