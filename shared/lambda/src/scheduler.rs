//! The scheduled function: queues a resync of every group and re-queues unfinished group deletions.

use crate::App;
use cg_domain::usecases::jobs::schedule_resyncs;
use lambda_runtime::LambdaEvent;

pub async fn tick(
    app: &App,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let queued = run_tick(app).await?;
    Ok(serde_json::json!({ "queued": queued }))
}

/// One tick; returns how many jobs were queued.
pub async fn run_tick(app: &App) -> Result<usize, cg_domain::DomainError> {
    let queued = schedule_resyncs(&app.store).await?;
    tracing::info!(queued, "scheduler tick");
    Ok(queued)
}
