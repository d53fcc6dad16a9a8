//! The destinations' background functions (issue 16):
//! - the dispatcher, on the table's DynamoDB stream (filtered to history and notification items):
//!   records -> webhook messages and list-sync jobs. An error fails the whole batch, which Lambda
//!   retries; the dispatch cursors make a retry of any batch shape skip what was done.
//! - the delivery worker, on the deliveries queue: one attempt per message.
//! - the sync worker, on the FIFO sync queue: one list sync per message.
//! - the sweep, on a schedule: re-queues pending messages whose queue message was lost.

use crate::batch::{run_batch, Delivery, Outcome, Worker};
use crate::App;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use cg_aws::dynamo::destinations::feed::decode_record;
use cg_domain::destinations::delivery::DeliveryJob;
use cg_domain::destinations::event::FeedRecord;
use cg_domain::destinations::integration::SyncJob;
use cg_domain::usecases::deliver::{attempt_delivery, sweep_deliveries};
use cg_domain::usecases::dispatch::{dispatch, DispatchReport};
use cg_domain::usecases::provider_sync::{fail_sync, run_sync};
use cg_domain::DomainError;
use lambda_runtime::LambdaEvent;
use std::convert::Infallible;

/// The stream records of a batch that belong to the change stream, in order. A record that cannot be
/// read is logged and left out: failing the batch for it would stop the shard for a day.
pub fn feed_records(event: Event) -> Vec<FeedRecord> {
    let mut out = Vec::with_capacity(event.records.len());
    for r in event.records {
        if r.event_name != "INSERT" {
            continue;
        }
        let seq = r.change.sequence_number.clone().unwrap_or_default();
        match decode_record(&seq, r.change.new_image) {
            Ok(Some(record)) => out.push(record),
            Ok(None) => {}
            Err(e) => tracing::error!(sequence = %seq, error = ?e, "unreadable change-stream record skipped"),
        }
    }
    out
}

/// Dispatches one stream batch (the dev server's stream reader calls this too).
pub async fn process_stream(app: &App, event: Event) -> Result<DispatchReport, DomainError> {
    let records = feed_records(event);
    if records.is_empty() {
        return Ok(DispatchReport::default());
    }
    // Wall clock: messages are due now in real time (the attempts and queue delays run on it), also
    // when the local stack's service clock has been moved ahead (see usecases::deliver).
    let report = dispatch(&app.store, records, chrono::Utc::now()).await?;
    tracing::info!(
        records = report.records,
        messages = report.messages,
        already_covered = report.already_covered,
        sync_jobs = report.sync_jobs,
        "change-stream batch dispatched"
    );
    Ok(report)
}

/// The dispatcher's Lambda handler.
pub async fn dispatcher(app: &App, event: LambdaEvent<Event>) -> Result<(), lambda_runtime::Error> {
    process_stream(app, event.payload).await?;
    Ok(())
}

struct Deliveries<'a>(&'a App);

impl Worker for Deliveries<'_> {
    type Job = DeliveryJob;
    const QUEUE: &'static str = "webhook-deliveries";

    async fn run(&self, job: &DeliveryJob, _delivery: &Delivery) -> Outcome {
        let app = self.0;
        let policy = app.store.destinations.policy();
        // Wall clock: see usecases::deliver.
        let result = attempt_delivery(&app.store, &app.outbound.webhooks, &policy, job, chrono::Utc::now()).await;
        if let Ok(outcome) = &result {
            tracing::info!(tenant = %job.tenant, webhook = %job.webhook_id, delivery = %job.delivery_id,
                outcome = ?outcome, "webhook attempt");
        }
        Outcome::of(&result)
    }

    /// Nothing to record: the message is still pending in its log, and the sweep queues it again.
    async fn give_up(&self, _job: &DeliveryJob, _reason: &str) {}
}

/// Processes a batch of the deliveries queue.
pub async fn process_deliveries(app: &App, event: SqsEvent) -> SqsBatchResponse {
    run_batch(&Deliveries(app), event, app.max_receives, None).await
}

/// The delivery worker's Lambda handler.
pub async fn deliveries(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_deliveries(app, event.payload).await)
}

struct Syncs<'a>(&'a App);

impl Worker for Syncs<'_> {
    type Job = SyncJob;
    const QUEUE: &'static str = "destination-sync";

    async fn run(&self, job: &SyncJob, _delivery: &Delivery) -> Outcome {
        let app = self.0;
        let result = run_sync(&app.store, &app.outbound.providers, job, app.now()).await;
        if let Ok(r) = &result {
            tracing::info!(mapping = %job.mapping_id(), confirmed = r.confirmed, removed = r.removed,
                skipped = r.skipped, requests = r.requests, handed_on = r.handed_on,
                skipped_job = ?r.skipped_job, refused = ?r.refused, "list sync");
        }
        Outcome::of(&result)
    }

    /// The mapping shows the error, so someone resyncs it.
    async fn give_up(&self, job: &SyncJob, reason: &str) {
        if let Err(e) = fail_sync(&self.0.store, job, reason, self.0.now()).await {
            tracing::error!(error = ?e, "could not record the failed sync");
        }
    }
}

/// Processes a batch of the sync queue.
pub async fn process_syncs(app: &App, event: SqsEvent) -> SqsBatchResponse {
    run_batch(&Syncs(app), event, app.max_receives, None).await
}

/// The sync worker's Lambda handler.
pub async fn syncs(app: &App, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Infallible> {
    Ok(process_syncs(app, event.payload).await)
}

/// Runs the sweep once (the dev server calls it on its own timer).
pub async fn run_sweep(app: &App) -> Result<usize, DomainError> {
    let grace = chrono::Duration::seconds(app.store.destinations.sweep_grace_seconds as i64);
    let queued = sweep_deliveries(&app.store, chrono::Utc::now(), grace).await?;
    if queued > 0 {
        tracing::warn!(queued, "sweep re-queued overdue webhook messages");
    }
    Ok(queued)
}

/// The sweep's Lambda handler (a schedule): answers `{"queued": n}`.
pub async fn sweep(
    app: &App,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    Ok(serde_json::json!({ "queued": run_sweep(app).await? }))
}
