//! The job queues: group jobs and export jobs.

use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use cg_domain::bulk::ports::BulkQueue;
use cg_domain::bulk::BulkTask;
use cg_domain::export::ports::ExportQueue;
use cg_domain::export::ExportJob;
use cg_domain::jobs::GroupJob;
use cg_domain::ports::JobQueue;
use cg_domain::{DomainError, Result};

impl JobQueue for Store {
    async fn enqueue(&self, job: &GroupJob) -> Result<()> {
        self.send_one(&self.group_jobs_queue_url, encode(job)?).await
    }

    async fn enqueue_many(&self, jobs: &[GroupJob]) -> Result<()> {
        let bodies = jobs.iter().map(encode).collect::<Result<Vec<_>>>()?;
        self.send_bodies(&self.group_jobs_queue_url, bodies).await
    }
}

fn encode<T: serde::Serialize>(job: &T) -> Result<String> {
    serde_json::to_string(job).map_err(|e| DomainError::Internal(format!("encode job: {e}")))
}

impl Store {
    /// Sends one message body to a queue.
    async fn send_one(&self, queue_url: &str, body: String) -> Result<()> {
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| from_sdk("sqs.SendMessage", e))?;
        Ok(())
    }

    /// Sends message bodies to a queue in batches of [`SEND_BATCH_MAX`], resending the entries SQS
    /// reports failed (a few rounds, then 503).
    pub(crate) async fn send_bodies(&self, queue_url: &str, bodies: Vec<String>) -> Result<()> {
        let mut entries = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.into_iter().enumerate() {
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id((i % SEND_BATCH_MAX).to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            );
        }
        self.send_batches(queue_url, entries).await
    }

    /// Keeps a received message invisible for `seconds` more (a long job's heartbeat).
    pub async fn extend_visibility(&self, queue_url: &str, receipt_handle: &str, seconds: i32) -> Result<()> {
        self.sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| from_sdk("sqs.ChangeMessageVisibility", e))?;
        Ok(())
    }
}

/// SendMessageBatch's limit of messages per request.
pub(crate) const SEND_BATCH_MAX: usize = 10;

impl ExportQueue for Store {
    async fn enqueue_export(&self, job: &ExportJob) -> Result<()> {
        self.send_one(&self.export_jobs_queue_url, encode(job)?).await
    }
}

impl BulkQueue for Store {
    async fn enqueue_bulk(&self, task: &BulkTask) -> Result<()> {
        self.send_one(&self.bulk_jobs_queue_url, encode(task)?).await
    }

    async fn enqueue_bulk_many(&self, tasks: &[BulkTask]) -> Result<()> {
        let bodies = tasks.iter().map(encode).collect::<Result<Vec<_>>>()?;
        self.send_bodies(&self.bulk_jobs_queue_url, bodies).await
    }
}
