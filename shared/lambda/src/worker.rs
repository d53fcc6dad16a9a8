//! The group-jobs SQS worker: each record is one idempotent job (purge, recount, resync shard,
//! wake-up), run through the shared batch runner.

use crate::batch::{run_batch, Delivery, Outcome, Worker};
use crate::App;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cg_domain::jobs::GroupJob;
use cg_domain::usecases::jobs::run_group_job;
use cg_domain::usecases::resync::fail_resync;
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

/// The Lambda handler.
pub async fn group_jobs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_group_jobs(app, event.payload).await)
}

/// Processes a batch and returns the ids of the messages to retry.
pub async fn process_group_jobs(app: &App, event: SqsEvent) -> SqsBatchResponse {
    run_batch(&GroupJobs(app), event, app.max_receives, None).await
}

struct GroupJobs<'a>(&'a App);

impl Worker for GroupJobs<'_> {
    type Job = GroupJob;
    const QUEUE: &'static str = "group-jobs";

    async fn run(&self, job: &GroupJob, _delivery: &Delivery) -> Outcome {
        let result = run_group_job(&self.0.store, job, self.0.now()).await;
        if let Ok(r) = &result {
            tracing::info!(
                removed = r.members_removed,
                count_before = r.count_before,
                count_after = r.count_after,
                evaluated = r.evaluated,
                changes = r.changes,
                "group job report"
            );
        }
        Outcome::of(&result)
    }

    /// A resync shard that will not be retried marks its job and groups failed, so the group shows the
    /// error instead of a resync that never ends. Other jobs heal by themselves: the nightly sweep
    /// queues unfinished purges and recounts again, and due customers stay in the WakeIndex.
    async fn give_up(&self, job: &GroupJob, _reason: &str) {
        if let GroupJob::ResyncShard { tenant, job_id, .. } = job {
            let partitions = job.partitions();
            let reason = format!(
                "customer partitions {partitions:?} of the resync kept failing and were set aside; run Resync again"
            );
            if let Err(e) = fail_resync(&self.0.store, tenant, job_id, &reason, self.0.now()).await {
                tracing::error!(error = ?e, "could not record the failed resync");
            }
        }
    }
}
