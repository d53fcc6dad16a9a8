//! Lambda run on a schedule: queues resyncs and unfinished group purges.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cg_lambda::init_tracing();
    let app = cg_lambda::startup::app().await;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        cg_lambda::scheduler::tick(&app, event)
    }))
    .await
}
