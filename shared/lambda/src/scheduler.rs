//! The scheduled function. Two schedules invoke it (template.yaml): every few minutes with
//! `{"task": "wake"}` (re-evaluate customers whose next wake-up instant has come, found through the
//! WakeIndex), and nightly with `{"task": "nightly"}` (a full resync of every tenant's dynamic groups,
//! member recounts of static groups, re-queued unfinished purges).

use crate::App;
use cg_domain::usecases::jobs::schedule_resyncs;
use cg_domain::usecases::wake::wake_tick;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

/// Which job a scheduled invocation runs: the `task` of its schedule's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Re-evaluate the customers whose next wake-up has come (every few minutes).
    Wake,
    /// Resync every tenant's dynamic groups, recount static groups, re-queue unfinished purges.
    Nightly,
}

#[derive(Debug, Deserialize)]
struct Input {
    task: Task,
}

/// The scheduler function's handler: runs the input's task now and answers `{"queued": n}`.
pub async fn tick(
    app: &App,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    // An event without a task (e.g. a hand-run test invoke) is a wake-up tick.
    let task = serde_json::from_value::<Input>(event.payload).map_or(Task::Wake, |i| i.task);
    let queued = run_task(app, task, app.now()).await?;
    Ok(serde_json::json!({ "queued": queued }))
}

/// Runs one task as of `now` (the dev server and tests pass their own clock).
pub async fn run_task(app: &App, task: Task, now: DateTime<Utc>) -> Result<usize, cg_domain::DomainError> {
    let queued = match task {
        Task::Wake => wake_tick(&app.store, now).await?,
        Task::Nightly => schedule_resyncs(&app.store, now).await?,
    };
    tracing::info!(?task, queued, %now, "scheduler tick");
    Ok(queued)
}
