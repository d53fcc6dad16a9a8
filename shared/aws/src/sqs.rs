//! The job queues: group jobs and export jobs.

use crate::sdk_error::from_sdk;
use crate::Store;
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
}

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
