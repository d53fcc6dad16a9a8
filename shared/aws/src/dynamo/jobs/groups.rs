//! A job's groups: the `sync` map each group shows for its job, written in the same transactions as
//! the job item at its start and end.

use super::encode_err;
use crate::dynamo::items::attr;
use crate::dynamo::{build_err, key, s, MAX_TRANSACTION_ITEMS};
use crate::keys;
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use cg_domain::group::{SyncState, SyncStatus};
use cg_domain::ids::{GroupId, JobId, TenantId};
use cg_domain::jobs::ResyncJob;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

/// Whether the job's own write goes in the first transaction (start: the job exists before any group
/// points at it) or the last (finish: the groups are done before the job is).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum JobFirst {
    Yes,
    No,
}

impl Store {
    /// Sets a group's `sync` map: on any existing group, or (`only_job`) only if the group still
    /// reports that job (a newer resync may have taken it over).
    pub(super) fn group_sync_update(
        &self,
        t: &TenantId,
        g: &GroupId,
        sync: &AttributeValue,
        only_job: Option<&JobId>,
    ) -> Result<Update> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
            .update_expression("SET sync = :sync")
            .expression_attribute_values(":sync", sync.clone());
        update = match only_job {
            Some(job) => update
                .condition_expression("sync.job_id = :job")
                .expression_attribute_values(":job", s(job.as_str())),
            None => update.condition_expression(attr::EXISTS),
        };
        update.build().map_err(build_err)
    }

    /// Writes the job item and a conditional update of each of its groups in as few transactions as
    /// fit (one for up to 98 groups). A group whose condition fails (deleted, or moved on to a newer
    /// job) is left out and the rest written again. `false` when the job's own write failed its
    /// condition (nothing of that transaction is written and nothing more is tried).
    pub(super) async fn write_with_groups(
        &self,
        job_writes: &[TransactWriteItem],
        order: JobFirst,
        groups: &[GroupId],
        group_update: impl Fn(&GroupId) -> Result<Update>,
    ) -> Result<bool> {
        let chunks: Vec<&[GroupId]> = if groups.is_empty() {
            vec![&[]]
        } else {
            groups.chunks(MAX_TRANSACTION_ITEMS - job_writes.len()).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let with_job = match order {
                JobFirst::Yes => i == 0,
                JobFirst::No => i == last,
            };
            let mut pending: Vec<&GroupId> = chunk.iter().collect();
            loop {
                let mut items = Vec::with_capacity(pending.len() + 1);
                if with_job {
                    items.extend(job_writes.iter().cloned());
                }
                for g in &pending {
                    items.push(TransactWriteItem::builder().update(group_update(g)?).build());
                }
                if items.is_empty() {
                    break;
                }
                let failed = match self.transact(items).await? {
                    Ok(()) => break,
                    Err(failed) => failed,
                };
                let offset = if with_job { job_writes.len() } else { 0 };
                if failed.iter().take(offset).any(|f| *f) {
                    return Ok(false);
                }
                let before = pending.len();
                pending = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| !failed.get(j + offset).copied().unwrap_or(false))
                    .map(|(_, g)| g)
                    .collect();
                if pending.len() == before {
                    return Err(DomainError::Internal(
                        "a cancelled transaction named no failed item".into(),
                    ));
                }
            }
        }
        Ok(true)
    }
}

/// The `sync` map a group shows for a job (`finished` when it is done or failed).
pub(super) fn sync_value(job: &ResyncJob, finished: Option<DateTime<Utc>>) -> Result<AttributeValue> {
    let ok = job.status == SyncState::Done;
    let sync = SyncStatus {
        status: job.status,
        job_id: Some(job.id.clone()),
        started_at: Some(job.created_at),
        finished_at: finished,
        last_synced_at: if ok { finished } else { None },
        progress: if finished.is_some() { 1.0 } else { 0.0 },
        shards_done: if finished.is_some() { job.shards_total } else { 0 },
        shards_total: job.shards_total,
        customers_evaluated: job.customers_evaluated,
        last_error: job.last_error.clone(),
    };
    serde_dynamo::to_attribute_value(sync).map_err(encode_err)
}
