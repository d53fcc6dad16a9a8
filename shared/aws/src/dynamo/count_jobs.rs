//! `CountJobStore` on DynamoDB (issue 14): a count job is one item `CJ#{id}` in the tenant partition
//! and one item per started partition `CJ#{id}#P#{nn}`, all read by one consistent Query. A
//! partition's write is conditioned on the step it advances from (`attribute_not_exists` for the
//! first), so of two runs of one partition only one advances it.

use super::groups::is_condition_failure;
use super::page::PartitionQuery;
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use cg_domain::ids::{BulkJobId, CustomerId, GroupId, TenantId};
use cg_domain::search::count::{CountJob, CountJobStore, PartitionCount, COUNT_RETENTION_HOURS};
use cg_domain::search::target::TargetSpec;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct JobItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: BulkJobId,
    /// The target as JSON text (its filter is a rule tree of any shape).
    target: String,
    partitions: u32,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add_to: Option<GroupId>,
    ttl: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PartItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    shard: u32,
    step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<CustomerId>,
    matched: u64,
    evaluated: u64,
    done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed: Option<String>,
    updated_at: DateTime<Utc>,
    ttl: i64,
}

fn ttl(created: DateTime<Utc>) -> i64 {
    (created + Duration::hours(COUNT_RETENTION_HOURS)).timestamp()
}

fn encode_err(e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("encode count job: {e}"))
}

impl CountJobStore for Store {
    async fn create_count_job(&self, t: &TenantId, job: &CountJob) -> Result<()> {
        let item = JobItem {
            pk: keys::tenant_pk(t),
            sk: keys::count_job_sk(&job.id),
            id: job.id.clone(),
            target: serde_json::to_string(&job.target).map_err(encode_err)?,
            partitions: job.partitions,
            created_at: job.created_at,
            add_to: job.add_to.clone(),
            ttl: ttl(job.created_at),
        };
        self.create_item("count job", serde_dynamo::to_item(item).map_err(encode_err)?)
            .await
    }

    async fn get_count_job(&self, t: &TenantId, id: &BulkJobId) -> Result<Option<(CountJob, Vec<PartitionCount>)>> {
        let prefix = keys::count_job_sk(id);
        let q = PartitionQuery::new(keys::tenant_pk(t)).prefix(&prefix).consistent();
        // The job and at most a few hundred small partition items: one page.
        let page = self.query_items(&q).await?;
        let (mut job, mut parts) = (None, Vec::new());
        for item in page.items {
            let is_job =
                matches!(item.get("SK"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if *sk == prefix);
            if is_job {
                let i: JobItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("count job", e))?;
                let target: TargetSpec = serde_json::from_str(&i.target).map_err(|e| {
                    DomainError::Internal(format!("stored target of count job {} does not parse: {e}", i.id))
                })?;
                job = Some(CountJob {
                    id: i.id,
                    target,
                    partitions: i.partitions,
                    created_at: i.created_at,
                    add_to: i.add_to,
                });
            } else {
                let i: PartItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("count partition", e))?;
                parts.push(PartitionCount {
                    shard: i.shard,
                    step: i.step,
                    after: i.after,
                    matched: i.matched,
                    evaluated: i.evaluated,
                    done: i.done,
                    failed: i.failed,
                    updated_at: i.updated_at,
                });
            }
        }
        Ok(job.map(|j| (j, parts)))
    }

    async fn advance_partition(&self, t: &TenantId, id: &BulkJobId, p: &PartitionCount) -> Result<bool> {
        let item = PartItem {
            pk: keys::tenant_pk(t),
            sk: keys::count_part_sk(id, p.shard),
            shard: p.shard,
            step: p.step,
            after: p.after.clone(),
            matched: p.matched,
            evaluated: p.evaluated,
            done: p.done,
            failed: p.failed.clone(),
            updated_at: p.updated_at,
            ttl: ttl(p.updated_at),
        };
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(encode_err)?));
        put = if p.step <= 1 {
            put.condition_expression(super::items::attr::IS_NEW)
        } else {
            put.condition_expression("step = :prev")
                .expression_attribute_values(":prev", super::n(p.step - 1))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn partition_keys_sort_after_their_job_and_share_its_prefix() {
        let id = cg_domain::ids::BulkJobId::generate();
        let job = super::keys::count_job_sk(&id);
        let p3 = super::keys::count_part_sk(&id, 3);
        let p12 = super::keys::count_part_sk(&id, 12);
        assert!(p3.starts_with(&job) && p12.starts_with(&job));
        assert!(job < p3 && p3 < p12, "partitions list in order after the job");
    }
}
