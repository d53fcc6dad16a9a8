//! The group-jobs SQS worker. Each record is one idempotent job; only failed records are reported back
//! (partial batch response), so SQS redelivers just those and moves a poison message to the DLQ after
//! the queue's maxReceiveCount.

use crate::App;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use cg_domain::jobs::GroupJob;
use cg_domain::usecases::dynamic::fail_resync;
use cg_domain::usecases::jobs::run_group_job;
use chrono::Utc;
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
        match run_group_job(&app.store, &job, Utc::now()).await {
            Ok(report) => tracing::info!(
                message_id = %id, job = ?job, removed = report.members_removed,
                count_before = report.count_before, count_after = report.count_after,
                evaluated = report.evaluated, changes = report.changes, "group job done"
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
        let last_try = receives.parse::<u32>().is_ok_and(|n| n >= MAX_RECEIVES);
        if let (true, Some(fid)) = (
            last_try,
            response.batch_item_failures.last().map(|f| f.item_identifier.clone()),
        ) {
            if fid == record.message_id.clone().unwrap_or_default() {
                record_dead_letter(app, &job).await;
            }
        }
    }
    response
}

/// The queue's maxReceiveCount (template.yaml): a message failing this receive goes to the DLQ.
const MAX_RECEIVES: u32 = 5;

/// A resync shard that is about to land in the DLQ marks its job and groups failed, so the group
/// shows the error instead of a resync that never ends.
async fn record_dead_letter(app: &App, job: &GroupJob) {
    if let GroupJob::ResyncShard { tenant, job_id, .. } = job {
        let partitions = job.partitions();
        let reason = format!(
            "customer partitions {partitions:?} of the resync kept failing and were set aside; run Resync again"
        );
        if let Err(e) = fail_resync(&app.store, tenant, job_id, &reason, Utc::now()).await {
            tracing::error!(error = ?e, "could not record the failed resync");
        }
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}
