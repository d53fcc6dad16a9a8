//! `ResyncJobs` on DynamoDB: the job item under the tenant (`J#{id}`) records each finished customer
//! partition in an attribute of its own (`part_07`), so a repeated message records nothing new; the groups a job reports on carry
//! its status in their `sync` map, written in the same transaction as the job at its start and end.

use super::groups::is_condition_failure;
use super::{build_err, key, n, s};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};
use cg_domain::group::SyncState;
use cg_domain::ids::{GroupId, JobId, TenantId};
use cg_domain::jobs::{PartitionDone, ResyncJob};
use cg_domain::ports::{ResyncJobs, Shards};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Days a finished job record is kept.
const JOB_DAYS: i64 = 30;

/// The stored job (no `#[serde(flatten)]`: numbers must keep their types through serde_dynamo).
#[derive(Serialize, Deserialize)]
struct JobItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: JobId,
    groups: Vec<cg_domain::ids::GroupId>,
    status: SyncState,
    shards_total: u32,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    ttl: i64,
}

impl JobItem {
    fn new(t: &TenantId, job: &ResyncJob) -> Self {
        JobItem {
            pk: keys::tenant_pk(t),
            sk: keys::job_sk(&job.id),
            id: job.id.clone(),
            groups: job.groups.clone(),
            status: job.status,
            shards_total: job.shards_total,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            last_error: job.last_error.clone(),
            ttl: (job.created_at + Duration::days(JOB_DAYS)).timestamp(),
        }
    }

    fn into_job(self) -> ResyncJob {
        ResyncJob {
            id: self.id,
            groups: self.groups,
            status: self.status,
            shards_total: self.shards_total,
            shards_done: 0,
            customers_evaluated: 0,
            changes: 0,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            last_error: self.last_error,
        }
    }
}

fn state_value(state: SyncState) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(state).map_err(encode_err)
}

fn encode_err(e: serde_dynamo::Error) -> DomainError {
    DomainError::Internal(format!("encode job: {e}"))
}

/// The attribute that records a finished partition: `{"evaluated": n, "changes": n}`.
fn part_attribute(partition: u32) -> String {
    format!("{PART_PREFIX}{partition:02}")
}

const PART_PREFIX: &str = "part_";

/// The job with its progress summed over the partition attributes; a queued job with partitions done
/// shows as running (the status attribute itself only moves at the start and the end).
fn decode(item: super::Item) -> Result<ResyncJob> {
    let count = |v: &AttributeValue, name: &str| -> u64 {
        v.as_m()
            .ok()
            .and_then(|m| m.get(name))
            .and_then(|x| x.as_n().ok())
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    };
    let number = |name: &str| -> u64 {
        item.get(name)
            .and_then(|x| x.as_n().ok())
            .and_then(|x| x.parse().ok())
            .unwrap_or(0)
    };
    // Jobs written before partitions had attributes of their own kept a set of shard numbers and two
    // counters; a job that was running across the deployment finishes with both kinds of record.
    let mut done: BTreeSet<u32> = item
        .get("done_shards")
        .and_then(|v| v.as_ss().ok())
        .into_iter()
        .flatten()
        .filter_map(|x| x.parse().ok())
        .collect();
    let (mut evaluated, mut changes) = (number("customers_evaluated"), number("changes"));
    for (name, v) in &item {
        if let Some(p) = name.strip_prefix(PART_PREFIX).and_then(|p| p.parse().ok()) {
            done.insert(p);
            evaluated += count(v, "evaluated");
            changes += count(v, "changes");
        }
    }
    let done = done.len() as u32;
    let mut job = serde_dynamo::from_item::<_, JobItem>(item)
        .map(JobItem::into_job)
        .map_err(|e| corrupt_item("job", e))?;
    job.shards_done = done;
    job.customers_evaluated = evaluated;
    job.changes = changes;
    if job.status == SyncState::Queued && done > 0 {
        job.status = SyncState::Running;
    }
    Ok(job)
}

impl Store {
    /// Frees the tenant's resync slot if it still names `id`.
    async fn clear_slot(&self, t: &TenantId, id: &JobId) -> Result<()> {
        let resp = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::RESYNC_SLOT_SK)))
            .condition_expression("job_id = :job")
            .expression_attribute_values(":job", s(id.as_str()))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(from_sdk("dynamodb.DeleteItem", e)),
        }
    }
}

impl Shards for Store {
    fn customer_shards(&self) -> u32 {
        keys::CUSTOMER_SHARDS
    }

    fn resync_shard_budget(&self) -> u64 {
        self.resync_shard_budget
    }

    fn search_read_cap(&self) -> u64 {
        self.search_read_cap
    }

    fn count_sync_max(&self) -> u64 {
        self.count_sync_max
    }
}

impl ResyncJobs for Store {
    async fn create_resync_job(&self, t: &TenantId, job: &ResyncJob) -> Result<bool> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(JobItem::new(t, job)).map_err(encode_err)?))
            .build()
            .map_err(build_err)?;
        // The job takes the tenant's resync slot in the same transaction, only if it is free: of
        // requests racing to start a pass, one creates it and the others join it.
        let mut slot = key(keys::tenant_pk(t), keys::RESYNC_SLOT_SK);
        slot.insert("job_id".into(), s(job.id.as_str()));
        let slot = put_new(&self.table, slot)?;
        let sync = sync_value(job, None)?;
        self.write_with_groups(
            &[TransactWriteItem::builder().put(put).build(), slot],
            JobFirst::Yes,
            &job.groups,
            |g| self.group_sync_update(t, g, &sync, None),
        )
        .await
    }

    async fn get_resync_job(&self, t: &TenantId, id: &JobId) -> Result<Option<ResyncJob>> {
        let item = self.get_consistent(keys::tenant_pk(t), keys::job_sk(id)).await?;
        item.map(decode).transpose()
    }

    async fn queued_job(&self, t: &TenantId) -> Result<Option<ResyncJob>> {
        let Some(slot) = self.get_consistent(keys::tenant_pk(t), keys::RESYNC_SLOT_SK).await? else {
            return Ok(None);
        };
        let Some(id) = slot
            .get("job_id")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| JobId::parse(v).ok())
        else {
            return Err(DomainError::Internal("malformed resync slot".into()));
        };
        match self.get_resync_job(t, &id).await? {
            Some(job) if job.status == SyncState::Queued => Ok(Some(job)),
            _ => {
                // A job that started (its start clears the slot) or ended before it could: free it.
                self.clear_slot(t, &id).await?;
                Ok(None)
            }
        }
    }

    async fn join_job(&self, t: &TenantId, job: &ResyncJob, groups: &[GroupId]) -> Result<bool> {
        let joined = ResyncJob {
            groups: groups.to_vec(),
            ..job.clone()
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::job_sk(&job.id))))
            .update_expression("SET #groups = list_append(#groups, :g)")
            // Only a job that has not started: a running pass may have read partitions already.
            .condition_expression("#status = :queued")
            .expression_attribute_names("#groups", "groups")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":g", serde_dynamo::to_attribute_value(groups).map_err(encode_err)?)
            .expression_attribute_values(":queued", state_value(SyncState::Queued)?)
            .build()
            .map_err(build_err)?;
        let sync = sync_value(&joined, None)?;
        self.write_with_groups(
            &[TransactWriteItem::builder().update(update).build()],
            JobFirst::Yes,
            groups,
            |g| self.group_sync_update(t, g, &sync, None),
        )
        .await
    }

    async fn start_job(&self, t: &TenantId, id: &JobId, now: DateTime<Utc>) -> Result<bool> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::job_sk(id))))
            .update_expression("SET #status = :running, started_at = :now")
            .condition_expression("#status = :queued")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", state_value(SyncState::Running)?)
            .expression_attribute_values(":queued", state_value(SyncState::Queued)?)
            .expression_attribute_values(":now", serde_dynamo::to_attribute_value(now).map_err(encode_err)?)
            .build()
            .map_err(build_err)?;
        // Running, it takes no more groups: the slot is freed with the same write.
        let free = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::RESYNC_SLOT_SK)))
            .condition_expression("job_id = :job")
            .expression_attribute_values(":job", s(id.as_str()))
            .build()
            .map_err(build_err)?;
        let both = vec![
            TransactWriteItem::builder().update(update.clone()).build(),
            TransactWriteItem::builder().delete(free).build(),
        ];
        match self.transact(both).await? {
            Ok(()) => Ok(true),
            Err(failed) if failed.first().copied().unwrap_or(false) => Ok(false),
            // The slot no longer names this job: start it alone.
            Err(_) => match self
                .transact(vec![TransactWriteItem::builder().update(update).build()])
                .await?
            {
                Ok(()) => Ok(true),
                Err(_) => Ok(false),
            },
        }
    }

    async fn finish_partitions(&self, t: &TenantId, id: &JobId, done: &[PartitionDone]) -> Result<Option<ResyncJob>> {
        // One attribute per partition, set (not added): recording a partition again changes nothing, so
        // the counts stay exact under repeated messages without a condition per partition.
        let mut update = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::job_sk(id))))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllNew);
        let mut sets = Vec::with_capacity(done.len());
        for (i, p) in done.iter().enumerate() {
            // The first record of a partition stays: a redone partition finds nothing left to change
            // and must not overwrite the changes the first pass made.
            sets.push(format!("#p{i} = if_not_exists(#p{i}, :p{i})"));
            update = update
                .expression_attribute_names(format!("#p{i}"), part_attribute(p.partition))
                .expression_attribute_values(
                    format!(":p{i}"),
                    AttributeValue::M(
                        [
                            ("evaluated".to_owned(), n(p.evaluated)),
                            ("changes".to_owned(), n(p.changes)),
                        ]
                        .into(),
                    ),
                );
        }
        if sets.is_empty() {
            return Ok(None);
        }
        let resp = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await;
        match resp {
            Ok(out) => out.attributes.map(decode).transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn finish_job(&self, t: &TenantId, job: &ResyncJob, error: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
        let status = if error.is_some() {
            SyncState::Failed
        } else {
            SyncState::Done
        };
        let mut done = job.clone();
        done.status = status;
        done.finished_at = Some(now);
        done.last_error = error.map(str::to_owned);
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::job_sk(&job.id))))
            .update_expression("SET #status = :status, finished_at = :now")
            // A job finishes once: a late shard cannot turn a failed job done, nor a dead-lettered one
            // a done job failed.
            .condition_expression("#status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", state_value(status)?)
            .expression_attribute_values(":queued", state_value(SyncState::Queued)?)
            .expression_attribute_values(":running", state_value(SyncState::Running)?)
            .expression_attribute_values(":now", serde_dynamo::to_attribute_value(now).map_err(encode_err)?);
        if let Some(e) = error {
            update = update
                .update_expression("SET #status = :status, finished_at = :now, last_error = :err")
                .expression_attribute_values(":err", s(e));
        }
        let sync = sync_value(&done, Some(now))?;
        // Groups in the same transaction or before: a job marked done is never finished again, so its
        // groups must not be left behind. Only the job a group still points at may finish its status (a
        // newer resync may have started). `false`: the job was already over, nothing written.
        self.write_with_groups(
            &[TransactWriteItem::builder()
                .update(update.build().map_err(build_err)?)
                .build()],
            JobFirst::No,
            &job.groups,
            |g| self.group_sync_update(t, g, &sync, Some(&job.id)),
        )
        .await
    }
}

mod groups;
use groups::{sync_value, JobFirst};

#[cfg(test)]
mod tests;
