//! Balances on DynamoDB. A customer's balances are a small map on its item; every change is a ledger
//! entry item (`T#{t}#BAL#{customer}` / `E#{created_at}#{version}`, in commit order) and an (operation, customer)
//! marker (`T#{t}#BOP#{kind}#{op}` / `C#{customer}`, holding a copy of the entry, kept for
//! [`MARKER_RETENTION_DAYS`]), written with the customer under its version in one transaction; the
//! marker's `attribute_not_exists` is what makes an operation change a customer once. A group
//! operation's record and idempotency-key item live in the tenant partition.

use super::bulk::ttl;
use super::items::attr;
use super::page::{cursor_sk, PartitionQuery};
use super::{build_err, n, Item};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::corrupt_item;
use crate::Store;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use cg_domain::balance::ports::{BalanceCommit, BalanceStore};
use cg_domain::balance::{BalanceEntry, BalanceWrite, IdempotencyKey, Operation, OperationKind, Unit};
use cg_domain::bulk::ports::MAX_BATCH_ITEMS;
use cg_domain::bulk::{BulkJob, Expect, FailedRow};
use cg_domain::ids::{BulkJobId, CustomerId, GroupId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Days an (operation, customer) marker is kept: a single adjustment's idempotency key is honoured
/// this long (a group operation's record fences its runs for as long as it exists).
pub const MARKER_RETENTION_DAYS: i64 = 30;

/// A ledger entry, and (with other keys and a TTL) the marker that copies it.
#[derive(Debug, Serialize, Deserialize)]
struct EntryItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    customer_id: CustomerId,
    operation_kind: OperationKind,
    operation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_id: Option<GroupId>,
    unit: Unit,
    delta: i64,
    balance_before: i64,
    balance_after: i64,
    comment: String,
    actor: String,
    at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

impl EntryItem {
    fn new(pk: String, sk: String, e: &BalanceEntry, ttl: Option<i64>) -> EntryItem {
        EntryItem {
            pk,
            sk,
            customer_id: e.customer_id.clone(),
            operation_kind: e.operation.kind,
            operation_id: e.operation.id.clone(),
            group_id: e.group_id.clone(),
            unit: e.unit.clone(),
            delta: e.delta,
            balance_before: e.balance_before,
            balance_after: e.balance_after,
            comment: e.comment.clone(),
            actor: e.actor.clone(),
            at: e.at,
            ttl,
        }
    }

    fn into_entry(self) -> BalanceEntry {
        BalanceEntry {
            customer_id: self.customer_id,
            operation: Operation {
                kind: self.operation_kind,
                id: self.operation_id,
            },
            group_id: self.group_id,
            unit: self.unit,
            delta: self.delta,
            balance_before: self.balance_before,
            balance_after: self.balance_after,
            comment: self.comment,
            actor: self.actor,
            at: self.at,
        }
    }
}

/// A member row's customer id (the projection a group operation reads).
#[derive(Debug, Deserialize)]
struct MemberId {
    customer_id: CustomerId,
}

/// Maps a group operation's idempotency key to the operation.
#[derive(Debug, Serialize, Deserialize)]
struct KeyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    operation_id: BulkJobId,
    ttl: i64,
}

/// Items of one customer's balance change (see [`Store::balance_items`]).
const ITEMS_PER_WRITE: usize = 4;

fn encode<T: Serialize>(what: &str, v: T) -> Result<Item> {
    serde_dynamo::to_item(v).map_err(|e| DomainError::Internal(format!("encode {what}: {e}")))
}

impl Store {
    /// The put of one ledger entry of a customer at the given customer version (the merge writes
    /// several entries in one transaction, one version each).
    pub(crate) fn ledger_entry_put(
        &self,
        t: &TenantId,
        e: &BalanceEntry,
        created_at: DateTime<Utc>,
        version: u64,
    ) -> Result<TransactWriteItem> {
        let item = EntryItem::new(
            keys::ledger_pk(t, &e.customer_id),
            keys::ledger_sk(created_at, version),
            e,
            None,
        );
        put_new(&self.table, encode("ledger entry", item)?)
    }

    /// The four items of one customer's change: the customer under its version, the entry, the marker
    /// and the timeline's `balance.changed` entry.
    fn balance_items(&self, t: &TenantId, w: &BalanceWrite) -> Result<[TransactWriteItem; 4]> {
        let customer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.customer_item(t, &w.after)?))
            .condition_expression(attr::VERSION_IS)
            .expression_attribute_values(":v", n(w.before.version))
            .build()
            .map_err(build_err)?;
        let e = &w.entry;
        let entry = EntryItem::new(
            keys::ledger_pk(t, &e.customer_id),
            keys::ledger_sk(w.after.created_at, w.after.version),
            e,
            None,
        );
        let marker_ttl = (e.at + Duration::days(MARKER_RETENTION_DAYS)).timestamp();
        let marker = EntryItem::new(
            keys::balance_marker_pk(t, &e.operation),
            keys::customer_sk(&e.customer_id),
            e,
            Some(marker_ttl),
        );
        let timeline = TimelineEntry::balance_changed(e, w.after.version);
        Ok([
            TransactWriteItem::builder().put(customer).build(),
            put_new(&self.table, encode("ledger entry", entry)?)?,
            put_new(&self.table, encode("balance marker", marker)?)?,
            self.timeline_put(t, &e.customer_id, &timeline, e.at)?,
        ])
    }
}

impl BalanceStore for Store {
    async fn commit_balances(
        &self,
        t: &TenantId,
        writes: &[BalanceWrite],
        failed: &[FailedRow],
        job: Option<(&BulkJob, Expect)>,
    ) -> Result<BalanceCommit> {
        let mut items = Vec::with_capacity(1 + ITEMS_PER_WRITE * writes.len() + failed.len());
        if let Some((job, expect)) = job {
            items.push(
                TransactWriteItem::builder()
                    .put(self.fenced_put(t, job, expect)?)
                    .build(),
            );
        }
        let first_write = items.len();
        for w in writes {
            items.extend(self.balance_items(t, w)?);
        }
        if let Some((job, _)) = job {
            for r in failed {
                items.push(self.failed_row_put(t, job, r)?);
            }
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(DomainError::Internal(format!(
                "a balance batch of {} items",
                items.len()
            )));
        }
        if items.is_empty() {
            return Ok(BalanceCommit::Committed);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(BalanceCommit::Committed),
            Err(f) if job.is_some() && f.first().copied().unwrap_or(false) => Ok(BalanceCommit::Fenced),
            Err(f) => {
                // Each write's marker is its third item.
                let applied = (0..writes.len())
                    .filter(|i| f.get(first_write + ITEMS_PER_WRITE * i + 2).copied().unwrap_or(false))
                    .collect();
                Ok(BalanceCommit::Stale { applied })
            }
        }
    }

    async fn applied_entry(&self, t: &TenantId, op: &Operation, c: &CustomerId) -> Result<Option<BalanceEntry>> {
        let item = self
            .get_consistent(keys::balance_marker_pk(t, op), keys::customer_sk(c))
            .await?;
        item.map(|i| {
            serde_dynamo::from_item::<_, EntryItem>(i)
                .map(EntryItem::into_entry)
                .map_err(|e| corrupt_item("balance marker", e))
        })
        .transpose()
    }

    async fn ledger(&self, t: &TenantId, c: &CustomerId, page: &PageRequest) -> Result<Page<BalanceEntry>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::LEDGER_SK_PREFIX, |rest| !rest.is_empty())?;
        let q = PartitionQuery::new(keys::ledger_pk(t, c))
            .prefix(keys::LEDGER_SK_PREFIX)
            .after(start)
            .limit(page.limit)
            .newest_first()
            .consistent();
        Ok(self
            .query_page::<EntryItem>(&q, "ledger entry")
            .await?
            .into_page(EntryItem::into_entry))
    }

    async fn member_ids(
        &self,
        t: &TenantId,
        g: &GroupId,
        after: Option<&CustomerId>,
        limit: u32,
    ) -> Result<(Vec<CustomerId>, bool)> {
        let q = PartitionQuery::new(keys::members_pk(t, g))
            .after(after.map(keys::member_sk))
            .limit(limit)
            .project("PK, SK, customer_id");
        let page = self.query_page::<MemberId>(&q, "member").await?;
        Ok((
            page.items.into_iter().map(|m| m.customer_id).collect(),
            page.last_sk.is_some(),
        ))
    }

    async fn create_balance_operation(
        &self,
        t: &TenantId,
        job: &BulkJob,
        key: &IdempotencyKey,
    ) -> Result<Option<BulkJobId>> {
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.bulk_job_item(t, job)?))
            .condition_expression(attr::IS_NEW)
            .build()
            .map_err(build_err)?;
        let key_item = KeyItem {
            pk: keys::tenant_pk(t),
            sk: keys::balance_key_sk(key),
            operation_id: job.id.clone(),
            ttl: ttl(job.created_at),
        };
        let items = vec![
            TransactWriteItem::builder().put(record).build(),
            put_new(&self.table, encode("idempotency key", key_item)?)?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(None),
            Err(_) => {
                let found = self
                    .get_consistent(keys::tenant_pk(t), keys::balance_key_sk(key))
                    .await?
                    .ok_or(DomainError::ConcurrentUpdate)?;
                let k: KeyItem = serde_dynamo::from_item(found).map_err(|e| corrupt_item("idempotency key", e))?;
                Ok(Some(k.operation_id))
            }
        }
    }
}
