//! The export SQS worker: each record starts (or, redelivered, restarts) one export, through the
//! shared batch runner. The export job marks its record failed itself when a failure cannot be
//! retried or this is the queue's last delivery, so the record says failed when the message lands in
//! the dead-letter queue.

use crate::batch::{run_batch, Delivery, Heartbeat, Outcome, Worker};
use crate::App;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cg_domain::export::ExportJob;
use cg_domain::usecases::export_job::{run_export, ExportSettings};
use cg_domain::usecases::notify::export_finished;
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

/// The Lambda handler.
pub async fn export_jobs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_export_jobs(app, event.payload, &ExportSettings::default()).await)
}

/// Processes a batch and returns the ids of the messages to retry.
pub async fn process_export_jobs(app: &App, event: SqsEvent, settings: &ExportSettings) -> SqsBatchResponse {
    let heartbeat = Heartbeat {
        store: &app.store,
        queue_url: &app.store.export_jobs_queue_url,
        every: EXPORT_HEARTBEAT,
        visibility: EXPORT_VISIBILITY_SECS,
    };
    run_batch(&Exports { app, settings }, event, app.max_receives, Some(heartbeat)).await
}

/// The export queue's visibility timeout (template.yaml): how long after a crash its export is retried.
pub const EXPORT_VISIBILITY_SECS: i32 = 120;
/// How often a running export extends its message's visibility (a third of it, so two misses still
/// leave it covered).
pub const EXPORT_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(40);

struct Exports<'a> {
    app: &'a App,
    settings: &'a ExportSettings,
}

impl Worker for Exports<'_> {
    type Job = ExportJob;
    const QUEUE: &'static str = "export-jobs";

    async fn run(&self, job: &ExportJob, delivery: &Delivery) -> Outcome {
        let result = run_export(&self.app.store, &self.app.store, job, self.settings, delivery.last).await;
        if let Ok(report) = &result {
            tracing::info!(
                tenant = %job.tenant, export = %job.export_id, outcome = ?report.outcome, rows = report.rows,
                bytes = report.bytes, pages = report.pages, parts = report.parts,
                stale_uploads_aborted = report.stale_uploads_aborted, "export job report"
            );
        }
        // Issue 16: `export.done` / `export.failed` once the record is final. A failure to notify is
        // retried: the redelivery finds the export finished and notifies again (same notification id).
        if let Err(e) = export_finished(&self.app.store, &job.tenant, &job.export_id).await {
            return Outcome::Retry(format!("could not notify the export's end: {e:?}"));
        }
        Outcome::of(&result)
    }

    /// Nothing more to record: the export job has already marked its record failed.
    async fn give_up(&self, _job: &ExportJob, _reason: &str) {}
}
