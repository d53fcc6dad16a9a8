//! Lambda for `GET /count-jobs/{jobId}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_http::run(lambda_http::service_fn(|req| {
        cg_lambda::search_api::count_jobs_get(&app, req)
    }))
    .await
}
