//! The bulk-jobs SQS worker: each record runs (or, redelivered or handed on, continues) one bulk job
//! through the shared batch runner, with a heartbeat that keeps the message invisible while the job
//! runs: an import, a balance operation, a bulk modify or delete, or one partition of a count job. A
//! job whose failure cannot be retried, or that fails on its last delivery, is marked failed by the
//! job itself.

use crate::batch::{run_batch, Delivery, Heartbeat, Outcome, Worker};
use crate::App;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cg_domain::bulk::BulkTask;
use cg_domain::usecases::balance_job::run_balance_task;
use cg_domain::usecases::bulk_action_job::run_action_task;
use cg_domain::usecases::bulk_job::{fail_unless_final, BulkSettings};
use cg_domain::usecases::count_job::{fail_partition, run_count_partition};
use cg_domain::usecases::import_job::run_import_task;
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

/// The Lambda handler.
pub async fn bulk_jobs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_bulk_jobs(app, event.payload, &BulkSettings::default()).await)
}

/// Processes a batch and returns the ids of the messages to retry.
pub async fn process_bulk_jobs(app: &App, event: SqsEvent, settings: &BulkSettings) -> SqsBatchResponse {
    let heartbeat = Heartbeat {
        store: &app.store,
        queue_url: &app.store.bulk_jobs_queue_url,
        every: BULK_HEARTBEAT,
        visibility: BULK_VISIBILITY_SECS,
    };
    run_batch(&BulkJobs { app, settings }, event, app.max_receives, Some(heartbeat)).await
}

/// The bulk queue's visibility timeout (template.yaml): how soon a job whose worker died is retried.
pub const BULK_VISIBILITY_SECS: i32 = 120;
/// How often a running job extends its message's visibility (a third of it).
pub const BULK_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(40);

struct BulkJobs<'a> {
    app: &'a App,
    settings: &'a BulkSettings,
}

impl Worker for BulkJobs<'_> {
    type Job = BulkTask;
    const QUEUE: &'static str = "bulk-jobs";

    async fn run(&self, task: &BulkTask, delivery: &Delivery) -> Outcome {
        let store = &self.app.store;
        let (tenant, job) = task.target();
        match task {
            BulkTask::Import { .. } => {
                let result = run_import_task(store, store, task, self.settings, delivery.last, self.app.now()).await;
                if let Ok(report) = &result {
                    tracing::info!(tenant = %tenant, job = %job, outcome = ?report.outcome, rows = report.engine.rows,
                        commits = report.engine.commits, redos = report.engine.redos, "bulk job report");
                }
                Outcome::of(&result)
            }
            BulkTask::BalanceOperation { .. } => {
                let result = run_balance_task(store, task, self.settings, delivery.last, self.app.now()).await;
                if let Ok(report) = &result {
                    tracing::info!(tenant = %tenant, job = %job, outcome = ?report.outcome,
                        commits = report.commits, redos = report.redos, "balance operation report");
                }
                Outcome::of(&result)
            }
            BulkTask::CustomerAction { .. } => {
                let result = run_action_task(store, task, self.settings, delivery.last, self.app.now()).await;
                if let Ok(report) = &result {
                    tracing::info!(tenant = %tenant, job = %job, kind = task.kind().as_str(), outcome = ?report.outcome,
                        commits = report.commits, redos = report.redos, "bulk action report");
                }
                Outcome::of(&result)
            }
            BulkTask::CountPartition { shard, .. } => {
                let result = run_count_partition(store, task, self.settings, delivery.last).await;
                if let Ok(outcome) = &result {
                    tracing::info!(tenant = %tenant, job = %job, shard, ?outcome, "count partition report");
                }
                Outcome::of(&result)
            }
        }
    }

    /// The job normally records its own failure; this covers a give-up the job did not see.
    async fn give_up(&self, task: &BulkTask, reason: &str) {
        let (tenant, job) = task.target();
        tracing::warn!(reason, "bulk job given up");
        if let BulkTask::CountPartition { shard, .. } = task {
            let why = "the count failed repeatedly; start a new one";
            return fail_partition(&self.app.store, tenant, job, *shard, why).await;
        }
        fail_unless_final(
            &self.app.store,
            tenant,
            task,
            "the job failed repeatedly; start a new one",
            self.app.now(),
        )
        .await;
    }
}
