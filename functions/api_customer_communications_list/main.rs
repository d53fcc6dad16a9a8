//! Lambda for `GET /customers/{customerId}/communications`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_http::run(lambda_http::service_fn(|req| {
        cg_lambda::timeline_api::customer_communications_list(&app, req)
    }))
    .await
}
