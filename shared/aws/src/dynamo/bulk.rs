//! Bulk jobs on DynamoDB: the record under the tenant's partition (`T#{t}` / `B#{kind}#{id}`, the
//! kind's spec as JSON text beside the shared fields), its failed rows (`T#{t}#B#{id}#F` /
//! `R#{row}`), and the batch transaction that writes customers, identities, failed rows and the record
//! together (`BulkCommit`). Every write of a record is conditioned on its fencing token and status.

use super::groups::is_condition_failure;
use super::items::attr;
use super::page::{cursor_sk, PartitionQuery};
use super::{build_err, n, Item};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use cg_domain::bulk::ports::{BulkCommit, BulkJobStore, CustomerWrite, RowCommit, MAX_BATCH_ITEMS};
use cg_domain::bulk::{
    BulkCounts, BulkJob, BulkKind, BulkSpec, BulkStatus, Checkpoint, Expect, FailedRow, BULK_RETENTION_DAYS,
};
use cg_domain::customer::Identity;
use cg_domain::ids::{BulkJobId, CustomerId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The condition of every write of a record after its creation.
const FENCE: &str = "attempts = :attempts AND #status = :status";

#[derive(Debug, Serialize, Deserialize)]
struct BulkJobItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: BulkJobId,
    kind: BulkKind,
    status: BulkStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows_total: Option<u64>,
    created: u64,
    updated: u64,
    unchanged: u64,
    failed: u64,
    next_row: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<CustomerId>,
    attempts: u32,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// The kind's spec as JSON text: its shape is the domain's, and text keeps it whole.
    spec_json: String,
    ttl: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct FailedRowItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    row: u64,
    cells: Vec<String>,
    code: String,
    message: String,
    ttl: i64,
}

pub(super) fn ttl(created: DateTime<Utc>) -> i64 {
    (created + Duration::days(BULK_RETENTION_DAYS)).timestamp()
}

fn encode(t: &TenantId, job: &BulkJob) -> Result<Item> {
    let spec_json = serde_json::to_string(&job.spec).map_err(|e| DomainError::Internal(format!("encode spec: {e}")))?;
    let item = BulkJobItem {
        pk: keys::tenant_pk(t),
        sk: keys::bulk_sk(job.kind(), &job.id),
        id: job.id.clone(),
        kind: job.kind(),
        status: job.status,
        rows_total: job.rows_total,
        created: job.counts.created,
        updated: job.counts.updated,
        unchanged: job.counts.unchanged,
        failed: job.counts.failed,
        next_row: job.checkpoint.next_row,
        pending: job.checkpoint.pending.clone(),
        attempts: job.attempts,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        last_error: job.last_error.clone(),
        spec_json,
        ttl: ttl(job.created_at),
    };
    serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode bulk job: {e}")))
}

fn decode(item: Item) -> Result<BulkJob> {
    let i: BulkJobItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("bulk job", e))?;
    let spec: BulkSpec = serde_json::from_str(&i.spec_json)
        .map_err(|e| DomainError::Internal(format!("stored spec of bulk job {} does not parse: {e}", i.id)))?;
    Ok(BulkJob {
        id: i.id,
        status: i.status,
        rows_total: i.rows_total,
        counts: BulkCounts {
            created: i.created,
            updated: i.updated,
            unchanged: i.unchanged,
            failed: i.failed,
        },
        checkpoint: Checkpoint {
            next_row: i.next_row,
            pending: i.pending,
        },
        attempts: i.attempts,
        created_at: i.created_at,
        started_at: i.started_at,
        finished_at: i.finished_at,
        last_error: i.last_error,
        spec,
    })
}

fn status_value(s: BulkStatus) -> aws_sdk_dynamodb::types::AttributeValue {
    super::s(s.as_str())
}

impl Store {
    /// A record as stored (for a kind's own creating transaction).
    pub(super) fn bulk_job_item(&self, t: &TenantId, job: &BulkJob) -> Result<Item> {
        encode(t, job)
    }

    pub(super) fn fenced_put(&self, t: &TenantId, job: &BulkJob, expect: Expect) -> Result<Put> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(t, job)?))
            .condition_expression(FENCE)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":attempts", n(expect.attempts))
            .expression_attribute_values(":status", status_value(expect.status))
            .build()
            .map_err(build_err)
    }

    pub(super) fn failed_row_put(&self, t: &TenantId, job: &BulkJob, r: &FailedRow) -> Result<TransactWriteItem> {
        let item = FailedRowItem {
            pk: keys::bulk_rows_pk(t, &job.id),
            sk: keys::bulk_row_sk(r.row),
            row: r.row,
            cells: r.cells.clone(),
            code: r.code.clone(),
            message: r.message.clone(),
            ttl: ttl(job.created_at),
        };
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode failed row: {e}")))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The items of one customer write: the customer under its condition, then its identity moves.
    fn write_items(&self, t: &TenantId, w: &CustomerWrite) -> Result<Vec<TransactWriteItem>> {
        let mut items = Vec::with_capacity(w.items());
        match w {
            CustomerWrite::Create(c) => {
                items.push(put_new(&self.table, self.customer_item(t, c)?)?);
                for identity in c.identities() {
                    items.push(self.identity_put(t, &identity, &c.id)?);
                }
            }
            CustomerWrite::Update { before, after } => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(self.customer_item(t, after)?))
                    .condition_expression(attr::VERSION_IS)
                    .expression_attribute_values(":v", n(before.version))
                    .build()
                    .map_err(build_err)?;
                items.push(TransactWriteItem::builder().put(put).build());
                let (old, new) = (before.identities(), after.identities());
                for identity in new.difference(&old) {
                    items.push(self.identity_put(t, identity, &after.id)?);
                }
                let gone: Vec<&Identity> = old.difference(&new).collect();
                for identity in gone {
                    items.push(self.identity_delete(t, identity, &after.id)?);
                }
            }
        }
        Ok(items)
    }
}

impl BulkJobStore for Store {
    async fn create_bulk_job(&self, t: &TenantId, job: &BulkJob) -> Result<()> {
        self.create_item("bulk job", encode(t, job)?).await
    }

    async fn get_bulk_job(&self, t: &TenantId, kind: BulkKind, id: &BulkJobId) -> Result<Option<BulkJob>> {
        let item = self.get_consistent(keys::tenant_pk(t), keys::bulk_sk(kind, id)).await?;
        item.map(decode).transpose()
    }

    async fn list_bulk_jobs(&self, t: &TenantId, kind: BulkKind, page: &PageRequest) -> Result<Page<BulkJob>> {
        let prefix = keys::bulk_sk_prefix(kind);
        let start = cursor_sk(page.cursor.as_deref(), &prefix, |id| BulkJobId::parse(id).is_ok())?;
        // Ids are UUID v7, so descending sort keys list the newest first.
        let q = PartitionQuery::new(keys::tenant_pk(t))
            .prefix(&prefix)
            .after(start)
            .limit(page.limit)
            .newest_first();
        let found = self.query_items(&q).await?;
        Ok(Page {
            items: found.items.into_iter().map(decode).collect::<Result<_>>()?,
            next_cursor: found.last_sk.as_deref().map(super::encode_cursor),
        })
    }

    async fn save_bulk_job(&self, t: &TenantId, job: &BulkJob, expect: Expect) -> Result<bool> {
        let put = self.fenced_put(t, job, expect)?;
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .set_condition_expression(Some(put.condition_expression.unwrap_or_default()))
            .set_expression_attribute_names(put.expression_attribute_names)
            .set_expression_attribute_values(put.expression_attribute_values)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    async fn failed_rows(
        &self,
        t: &TenantId,
        id: &BulkJobId,
        after_row: Option<u64>,
    ) -> Result<(Vec<FailedRow>, Option<u64>)> {
        let q = PartitionQuery::new(keys::bulk_rows_pk(t, id))
            .after(after_row.map(keys::bulk_row_sk))
            .consistent();
        let page = self.query_page::<FailedRowItem>(&q, "failed row").await?;
        let next = page.last_sk.as_ref().and(page.items.last().map(|r| r.row));
        let rows = page
            .items
            .into_iter()
            .map(|r| FailedRow {
                row: r.row,
                cells: r.cells,
                code: r.code,
                message: r.message,
            })
            .collect();
        Ok((rows, next))
    }
}

impl BulkCommit for Store {
    async fn commit_rows(
        &self,
        t: &TenantId,
        writes: &[CustomerWrite],
        failed: &[FailedRow],
        job: &BulkJob,
        expect: Expect,
        _now: DateTime<Utc>,
    ) -> Result<RowCommit> {
        let mut items = vec![TransactWriteItem::builder()
            .put(self.fenced_put(t, job, expect)?)
            .build()];
        for w in writes {
            items.extend(self.write_items(t, w)?);
            // The timeline's record of the write commits with it: never lost, never doubled.
            let entry = TimelineEntry::bulk_written(job, w);
            items.push(self.timeline_put(t, &w.after().id, &entry, entry.at)?);
        }
        for r in failed {
            items.push(self.failed_row_put(t, job, r)?);
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(DomainError::Internal(format!("a bulk batch of {} items", items.len())));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(RowCommit::Committed),
            Err(failed) if failed.first().copied().unwrap_or(false) => Ok(RowCommit::Fenced),
            Err(_) => Ok(RowCommit::Stale),
        }
    }
}
