//! Lambda for the FIFO destination-sync SQS queue (partial batch responses): keeps groups on provider lists.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::destinations_worker::syncs(&app, event)
    }))
    .await
}
