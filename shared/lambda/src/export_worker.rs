//! The export SQS worker. Each record starts (or, redelivered, restarts) one export. Retryable failures
//! are reported back (partial batch response) so SQS redelivers the message; on the queue's last
//! delivery (`ApproximateReceiveCount` >= maxReceiveCount) the export is first marked failed, so the
//! record says failed when the message lands in the dead-letter queue. A failure no retry can fix
//! (the group was deleted, corrupt data) marks the export failed and deletes the message.

use crate::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use cg_domain::export::ExportJob;
use cg_domain::usecases::exports::{run_export, ExportSettings};
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

pub async fn export_jobs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_export_jobs(app, event.payload, &ExportSettings::default()).await)
}

/// Processes a batch and returns the ids of the messages to retry.
pub async fn process_export_jobs(app: &App, event: SqsEvent, settings: &ExportSettings) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        if let Some(id) = process_record(app, &record, settings).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Runs one message; returns its id if SQS should deliver it again.
async fn process_record(app: &App, record: &SqsMessage, settings: &ExportSettings) -> Option<String> {
    let id = record.message_id.clone().unwrap_or_default();
    let receives: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let job: ExportJob = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(job)) => job,
        other => {
            let reason = match other {
                Some(Err(e)) => e.to_string(),
                _ => "empty body".to_owned(),
            };
            // It fails every time, so it reaches the DLQ after maxReceiveCount receives.
            tracing::error!(message_id = %id, receives, reason = %reason, "poison message: not an export job");
            return Some(id);
        }
    };
    let last_attempt = receives >= app.export_max_receives;
    let started = std::time::Instant::now();
    match run_export(&app.store, &app.store, &job, settings, last_attempt).await {
        Ok(report) => {
            tracing::info!(
                message_id = %id, tenant = %job.tenant, export = %job.export_id, outcome = ?report.outcome,
                rows = report.rows, bytes = report.bytes, pages = report.pages, parts = report.parts,
                stale_uploads_aborted = report.stale_uploads_aborted, ms = started.elapsed().as_millis() as u64,
                "export job done"
            );
            None
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(message_id = %id, tenant = %job.tenant, export = %job.export_id, receives, last_attempt,
                error = ?e, "export job failed; SQS will retry it or move it to the DLQ");
            Some(id)
        }
        Err(e) => {
            tracing::error!(message_id = %id, tenant = %job.tenant, export = %job.export_id, receives,
                error = ?e, "export job failed for good; export marked failed");
            None
        }
    }
}
