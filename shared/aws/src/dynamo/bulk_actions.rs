//! `BulkActionStore` on DynamoDB (issue 14): the bulk delete's transaction (customers, identity items,
//! member rows with their `deleted` history entries, each group's count once, failed rows and the
//! fenced record), the single-use confirmations (`T#{t}#BDT` / `K#{token}`, TTL after expiry) and the
//! audit log (`T#{t}#AUDIT` / `A#{job id}`: newest first is a descending Query).

use super::items::{attr, HistoryItem};
use super::page::{cursor_sk, PartitionQuery};
use super::{build_err, key, n, s, Item};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use cg_domain::bulk::action::{AuditEntry, Confirmation};
use cg_domain::bulk::action_ports::{BulkActionStore, ConfirmOutcome};
use cg_domain::bulk::ports::{RowCommit, MAX_BATCH_ITEMS};
use cg_domain::bulk::{BulkJob, Expect, FailedRow};
use cg_domain::customer::Customer;
use cg_domain::history::Change;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The history reason of a member row removed because its customer was deleted.
const DELETED_REASON: &str = "deleted";
/// Days an audit entry is kept.
const AUDIT_RETENTION_DAYS: i64 = 400;

#[derive(Debug, Serialize, Deserialize)]
struct ConfirmationItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// The confirmation as JSON text.
    body: String,
    ttl: i64,
    /// The job that used the confirmation (set by `start_confirmed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_by: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// The entry as JSON text (its target and outcome are free-form JSON).
    body: String,
    ttl: i64,
}

fn to_item<T: Serialize>(v: T, what: &str) -> Result<Item> {
    serde_dynamo::to_item(v).map_err(|e| DomainError::Internal(format!("encode {what}: {e}")))
}

impl Store {
    /// Deletes `c`'s member row of `g`, which must exist (a bulk delete's or a merge's exit).
    pub(super) fn member_row_delete(&self, t: &TenantId, g: &GroupId, c: &Customer) -> Result<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::members_pk(t, g), keys::member_sk(&c.id))))
            .condition_expression(attr::EXISTS)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    fn customer_delete(&self, t: &TenantId, c: &Customer) -> Result<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(t, &c.id), keys::customer_sk(&c.id))))
            .condition_expression(attr::VERSION_IS)
            .expression_attribute_values(":v", n(c.version))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }
}

impl BulkActionStore for Store {
    async fn commit_deletes(
        &self,
        t: &TenantId,
        customers: &[Customer],
        failed: &[FailedRow],
        job: &BulkJob,
        expect: Expect,
        now: DateTime<Utc>,
    ) -> Result<RowCommit> {
        let mut items = vec![TransactWriteItem::builder()
            .put(self.fenced_put(t, job, expect)?)
            .build()];
        let mut counts: BTreeMap<&GroupId, i64> = BTreeMap::new();
        for c in customers {
            items.push(self.customer_delete(t, c)?);
            for identity in c.identities() {
                items.push(self.identity_delete(t, &identity, &c.id)?);
            }
            for g in &c.groups {
                items.push(self.member_row_delete(t, g, c)?);
                let h = HistoryItem::new(t, g, &c.id, c.email.as_ref(), Change::Left, DELETED_REASON, now);
                items.push(self.history_put(h)?);
                *counts.entry(g).or_default() -= 1;
            }
        }
        for (g, delta) in counts {
            items.push(self.group_count_update(t, g, delta, false)?);
        }
        for r in failed {
            items.push(self.failed_row_put(t, job, r)?);
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(DomainError::Internal(format!(
                "a bulk delete batch of {} items",
                items.len()
            )));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(RowCommit::Committed),
            Err(failed) if failed.first().copied().unwrap_or(false) => Ok(RowCommit::Fenced),
            Err(_) => Ok(RowCommit::Stale),
        }
    }

    async fn put_confirmation(&self, t: &TenantId, token: &str, c: &Confirmation) -> Result<()> {
        let body = serde_json::to_string(c).map_err(|e| DomainError::Internal(format!("encode confirmation: {e}")))?;
        let item = ConfirmationItem {
            pk: keys::confirmations_pk(t),
            sk: keys::confirmation_sk(token),
            body,
            ttl: (c.expires_at + Duration::days(1)).timestamp(),
            used_by: None,
        };
        self.create_item("confirmation", to_item(item, "confirmation")?).await
    }

    async fn get_confirmation(&self, t: &TenantId, token: &str) -> Result<Option<Confirmation>> {
        let Some(item) = self
            .get_consistent(keys::confirmations_pk(t), keys::confirmation_sk(token))
            .await?
        else {
            return Ok(None);
        };
        let i: ConfirmationItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("confirmation", e))?;
        let mut c: Confirmation = serde_json::from_str(&i.body)
            .map_err(|e| DomainError::Internal(format!("stored confirmation does not parse: {e}")))?;
        c.used_by = i.used_by.or(c.used_by);
        Ok(Some(c))
    }

    async fn start_confirmed(&self, t: &TenantId, token: &str, job: &BulkJob) -> Result<ConfirmOutcome> {
        // `used_by` is a top-level attribute beside the JSON body, so the condition can test it.
        let used = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::confirmations_pk(t), keys::confirmation_sk(token))))
            .update_expression("SET used_by = :job")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(used_by)")
            .expression_attribute_values(":job", s(job.id.as_str()))
            .build()
            .map_err(build_err)?;
        let put = put_new(&self.table, self.bulk_job_item(t, job)?)?;
        let items = vec![TransactWriteItem::builder().update(used).build(), put];
        match self.transact(items).await? {
            Ok(()) => Ok(ConfirmOutcome::Started),
            Err(failed) if failed.first().copied().unwrap_or(false) => Ok(ConfirmOutcome::AlreadyUsed),
            Err(_) => Err(DomainError::Internal("a new bulk job id was taken".into())),
        }
    }

    async fn put_audit(&self, t: &TenantId, e: &AuditEntry) -> Result<()> {
        let body = serde_json::to_string(e).map_err(|e| DomainError::Internal(format!("encode audit entry: {e}")))?;
        let item = AuditItem {
            pk: keys::audit_pk(t),
            sk: keys::audit_sk(&e.id),
            body,
            ttl: (e.at + Duration::days(AUDIT_RETENTION_DAYS)).timestamp(),
        };
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item, "audit entry")?))
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.PutItem", e))?;
        Ok(())
    }

    async fn list_audit(&self, t: &TenantId, page: &PageRequest) -> Result<Page<AuditEntry>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::AUDIT_SK_PREFIX, |rest| {
            !rest.is_empty() && rest.len() <= 64
        })?;
        let q = PartitionQuery::new(keys::audit_pk(t))
            .prefix(keys::AUDIT_SK_PREFIX)
            .after(start)
            .limit(page.limit)
            .newest_first()
            .consistent();
        let found = self.query_page::<AuditItem>(&q, "audit entry").await?;
        let mut items = Vec::with_capacity(found.items.len());
        for i in &found.items {
            items.push(
                serde_json::from_str(&i.body)
                    .map_err(|e| DomainError::Internal(format!("stored audit entry does not parse: {e}")))?,
            );
        }
        Ok(Page {
            items,
            next_cursor: found.last_sk.as_deref().map(super::encode_cursor),
        })
    }

    fn bulk_delete_cap(&self) -> u64 {
        self.bulk_delete_cap
    }
}
