//! The dev server's queue pollers (group jobs and exports): receive a batch and hand it to the
//! worker handler as SQS events, as Lambda's SQS trigger would (successes deleted, failures
//! visible again after a delay, the DLQ after maxReceiveCount).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use cg_domain::usecases::export_job::ExportSettings;
use cg_lambda::App;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Receives one batch from `queue_url`, runs `handler` on it and settles each message by the handler's
/// partial batch response. Returns how many messages were received.
pub async fn poll_queue_once<F, Fut>(
    app: &App,
    queue_url: &str,
    wait_seconds: i32,
    retry_delay: i32,
    handler: F,
) -> Result<usize, String>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let sqs = &app.store.sqs;
    let resp = sqs
        .receive_message()
        .queue_url(queue_url)
        // template.yaml's BatchSize of both worker queues: one job per invocation.
        .max_number_of_messages(1)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| format!("ReceiveMessage: {e}"))?;
    let messages = resp.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let mut receipts = HashMap::new();
    let mut event = SqsEvent::default();
    for m in &messages {
        let mut msg = SqsMessage::default();
        msg.message_id = m.message_id.clone();
        msg.receipt_handle = m.receipt_handle.clone();
        msg.body = m.body.clone();
        msg.attributes = m
            .attributes
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect();
        msg.event_source = Some("aws:sqs".into());
        receipts.insert(
            m.message_id.clone().unwrap_or_default(),
            m.receipt_handle.clone().unwrap_or_default(),
        );
        event.records.push(msg);
    }
    let result = handler(event).await;
    let failed: Vec<&str> = result
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for (id, receipt) in &receipts {
        if failed.contains(&id.as_str()) {
            let _ = sqs
                .change_message_visibility()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(retry_delay)
                .send()
                .await;
        } else {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|e| format!("DeleteMessage: {e}"))?;
        }
    }
    Ok(messages.len())
}

/// One batch of the export-jobs queue through the export worker.
pub async fn poll_export_jobs_once(
    app: &App,
    settings: &ExportSettings,
    wait_seconds: i32,
    retry_delay: i32,
) -> Result<usize, String> {
    let url = app.store.export_jobs_queue_url.clone();
    poll_queue_once(app, &url, wait_seconds, retry_delay, |event| {
        cg_lambda::export_worker::process_export_jobs(app, event, settings)
    })
    .await
}

/// Runs the export worker poll loop forever.
pub async fn run_export_workers(app: App) {
    let settings = ExportSettings::default();
    loop {
        if let Err(e) = poll_export_jobs_once(&app, &settings, 1, 2).await {
            tracing::warn!(error = %e, "export-jobs poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
