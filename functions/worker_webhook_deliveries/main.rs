//! Lambda for the webhook-deliveries SQS queue (partial batch responses): one signed attempt per message.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::destinations_worker::deliveries(&app, event)
    }))
    .await
}
