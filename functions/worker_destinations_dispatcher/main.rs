//! Lambda for the table's DynamoDB stream (history and notification items): dispatches webhook messages and list syncs.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::destinations_worker::dispatcher(&app, event)
    }))
    .await
}
