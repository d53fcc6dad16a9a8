//! The destinations' queues (issue 16): delivery attempts (a standard queue with per-message delays)
//! and provider-sync jobs (a FIFO queue, one message group per mapping, deduplicated by content).

use crate::sdk_error::from_sdk;
use crate::sqs::SEND_BATCH_MAX;
use crate::Store;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use cg_domain::destinations::delivery::DeliveryJob;
use cg_domain::destinations::integration::SyncJob;
use cg_domain::destinations::ports::{DeliveryQueue, SyncQueue};
use cg_domain::{DomainError, Result};

/// SQS's longest per-message delay.
const MAX_DELAY_SECONDS: u64 = 900;

/// 128-bit FNV-1a of a message body: the FIFO deduplication id, so the same job sent twice within
/// SQS's five-minute window (a redelivered stream batch) is queued once.
fn content_id(body: &str) -> String {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in body.bytes() {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{hash:032x}")
}

impl Store {
    pub(crate) async fn send_batches(&self, queue_url: &str, entries: Vec<SendMessageBatchRequestEntry>) -> Result<()> {
        for chunk in entries.chunks(SEND_BATCH_MAX) {
            let mut pending = chunk.to_vec();
            let mut round = 0;
            while !pending.is_empty() {
                let resp = self
                    .sqs
                    .send_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| from_sdk("sqs.SendMessageBatch", e))?;
                let failed: Vec<String> = resp.failed.iter().map(|f| f.id.clone()).collect();
                pending.retain(|e| failed.contains(&e.id));
                round += 1;
                if !pending.is_empty() && round >= 5 {
                    return Err(DomainError::Unavailable("SQS kept failing part of a batch".into()));
                }
            }
        }
        Ok(())
    }
}

fn encode<T: serde::Serialize>(job: &T) -> Result<String> {
    serde_json::to_string(job).map_err(|e| DomainError::Internal(format!("encode job: {e}")))
}

impl DeliveryQueue for Store {
    async fn enqueue_deliveries(&self, jobs: &[(DeliveryJob, std::time::Duration)]) -> Result<()> {
        let mut entries = Vec::with_capacity(jobs.len());
        for (i, (job, delay)) in jobs.iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id((i % SEND_BATCH_MAX).to_string())
                    .message_body(encode(job)?)
                    // Rounded up: an attempt must not come early (a Retry-After is a minimum).
                    .delay_seconds(delay.as_millis().div_ceil(1000).min(u128::from(MAX_DELAY_SECONDS)) as i32)
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            );
        }
        self.send_batches(&self.destinations.deliveries_queue_url, entries)
            .await
    }
}

impl SyncQueue for Store {
    async fn enqueue_sync(&self, jobs: &[SyncJob]) -> Result<()> {
        let mut entries = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            let body = encode(job)?;
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id((i % SEND_BATCH_MAX).to_string())
                    .message_deduplication_id(content_id(&body))
                    .message_group_id(job.mapping_id().as_str())
                    .message_body(body)
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            );
        }
        self.send_batches(&self.destinations.sync_queue_url, entries).await
    }
}
