//! Lambda for the group-jobs SQS queue (partial batch responses).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::worker::group_jobs(&app, event)
    }))
    .await
}
