//! The group-jobs SQS worker. Each record is one idempotent job; only failed records are reported back
//! (partial batch response), so SQS redelivers just those and moves a poison message to the DLQ after
//! the queue's maxReceiveCount.

use crate::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use cg_domain::jobs::GroupJob;
use cg_domain::usecases::jobs::run_group_job;
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

pub async fn group_jobs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_group_jobs(app, event.payload).await)
}

/// Processes a batch and returns the ids of the messages to retry.
pub async fn process_group_jobs(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .cloned()
            .unwrap_or_default();
        let job: GroupJob = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            other => {
                let reason = match other {
                    Some(Err(e)) => e.to_string(),
                    _ => "empty body".to_owned(),
                };
                // Not retryable: it fails every time, so it reaches the DLQ after maxReceiveCount receives.
                tracing::error!(message_id = %id, receives = %receives, reason = %reason, "poison message: not a group job");
                response.batch_item_failures.push(failure(id));
                continue;
            }
        };
        match run_group_job(&app.store, &job).await {
            Ok(report) => tracing::info!(
                message_id = %id, job = ?job, removed = report.members_removed,
                count_before = report.count_before, count_after = report.count_after, "group job done"
            ),
            Err(e) if e.is_retryable() => {
                tracing::warn!(message_id = %id, job = ?job, error = ?e, "group job failed; will retry");
                response.batch_item_failures.push(failure(id));
            }
            Err(e) => {
                tracing::error!(message_id = %id, job = ?job, receives = %receives, error = ?e, "group job failed");
                response.batch_item_failures.push(failure(id));
            }
        }
    }
    response
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}
