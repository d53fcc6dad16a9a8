//! Lambda for `POST /customers/merge/preview`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_http::run(lambda_http::service_fn(|req| {
        cg_lambda::merge_api::customers_merge_preview(&app, req)
    }))
    .await
}
