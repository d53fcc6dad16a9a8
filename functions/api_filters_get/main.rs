//! Lambda for `GET /filters/{filterId}`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_http::run(lambda_http::service_fn(|req| {
        cg_lambda::filter_api::filters_get(&app, req)
    }))
    .await
}
