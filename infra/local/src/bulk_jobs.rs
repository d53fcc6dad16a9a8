//! The dev server's bulk-jobs poller (imports): one batch of the queue through the bulk worker, as
//! Lambda's SQS trigger would.

use cg_domain::usecases::bulk_job::BulkSettings;
use cg_lambda::App;
use std::time::Duration;

/// One batch of the bulk-jobs queue through the bulk worker; returns how many messages were received.
pub async fn poll_bulk_jobs_once(
    app: &App,
    settings: &BulkSettings,
    wait_seconds: i32,
    retry_delay: i32,
) -> Result<usize, String> {
    let url = app.store.bulk_jobs_queue_url.clone();
    crate::export_jobs::poll_queue_once(app, &url, wait_seconds, retry_delay, |event| {
        cg_lambda::bulk_worker::process_bulk_jobs(app, event, settings)
    })
    .await
}

/// Bulk-job batches the dev server runs at once (imports of different tenants side by side).
pub const BULK_JOB_POLLERS: usize = 2;

/// Runs the bulk worker poll loop forever.
pub async fn run_bulk_workers(app: App) {
    let settings = BulkSettings::default();
    loop {
        if let Err(e) = poll_bulk_jobs_once(&app, &settings, 1, 2).await {
            tracing::warn!(error = %e, "bulk-jobs poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
