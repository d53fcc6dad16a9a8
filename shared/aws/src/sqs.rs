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
        let body = serde_json::to_string(job).map_err(|e| DomainError::Internal(format!("encode job: {e}")))?;
        self.sqs
            .send_message()
            .queue_url(&self.group_jobs_queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| from_sdk("sqs.SendMessage", e))?;
        Ok(())
    }

    async fn enqueue_many(&self, jobs: &[GroupJob]) -> Result<()> {
        for chunk in jobs.chunks(SEND_BATCH_MAX) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                let body = serde_json::to_string(job).map_err(|e| DomainError::Internal(format!("encode job: {e}")))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| DomainError::Internal(e.to_string()))?,
                );
            }
            let mut round = 0;
            while !entries.is_empty() {
                let resp = self
                    .sqs
                    .send_message_batch()
                    .queue_url(&self.group_jobs_queue_url)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|e| from_sdk("sqs.SendMessageBatch", e))?;
                let failed: Vec<String> = resp.failed.iter().map(|f| f.id.clone()).collect();
                entries.retain(|e| failed.contains(&e.id));
                round += 1;
                if !entries.is_empty() && round >= 5 {
                    return Err(DomainError::Unavailable("SQS kept failing part of a batch".into()));
                }
            }
        }
        Ok(())
    }
}

impl Store {
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
const SEND_BATCH_MAX: usize = 10;
impl ExportQueue for Store {
    async fn enqueue_export(&self, job: &ExportJob) -> Result<()> {
        let body = serde_json::to_string(job).map_err(|e| DomainError::Internal(format!("encode export job: {e}")))?;
        self.sqs
            .send_message()
            .queue_url(&self.export_jobs_queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| from_sdk("sqs.SendMessage", e))?;
        Ok(())
    }
}

impl BulkQueue for Store {
    async fn enqueue_bulk(&self, task: &BulkTask) -> Result<()> {
        let body = serde_json::to_string(task).map_err(|e| DomainError::Internal(format!("encode bulk task: {e}")))?;
        self.sqs
            .send_message()
            .queue_url(&self.bulk_jobs_queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| from_sdk("sqs.SendMessage", e))?;
        Ok(())
    }
}
