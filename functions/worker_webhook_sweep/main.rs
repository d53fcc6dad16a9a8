//! Lambda run on a schedule: re-queues pending webhook messages whose queue message was lost.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::destinations_worker::sweep(&app, event)
    }))
    .await
}
