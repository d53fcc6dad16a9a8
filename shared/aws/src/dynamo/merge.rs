//! `MergeStore` on DynamoDB (issue 15). The record is `T#{t}#MERGE#{secondary}` / `MERGE`: the
//! record as JSON (`body`) beside a top-level `step` that every step's write is conditioned on, and
//! once done a TTL of `MERGE_TOMBSTONE_DAYS` (the secondary's `merged_into` tombstone; an expired
//! record reads as absent before DynamoDB removes it).

use super::items::{attr, HistoryItem};
use super::{build_err, key, n, s, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use cg_domain::customer::{Customer, Identity};
use cg_domain::history::Change;
use cg_domain::ids::{CustomerId, GroupId, TenantId};
use cg_domain::merge::ports::MergeStore;
use cg_domain::merge::{MergePlan, MergeRecord, MergeStep, MERGE_TOMBSTONE_DAYS};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The history reason of a group exit of a merged secondary.
const MERGED_REASON: &str = "merged";

#[derive(Debug, Serialize, Deserialize)]
struct MergeItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// The last step completed (the write condition of the next).
    step: String,
    /// The record as JSON text.
    body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

fn encode_record(r: &MergeRecord) -> Result<String> {
    serde_json::to_string(r).map_err(|e| DomainError::Internal(format!("encode merge record: {e}")))
}

fn record_key(t: &TenantId, secondary: &CustomerId) -> Item {
    key(keys::merge_pk(t, secondary), keys::MERGE_SK)
}

impl Store {
    /// The record's move from `from` to `to` (the body rewritten), for a transaction or alone.
    fn merge_step_update(&self, t: &TenantId, r: &MergeRecord, from: MergeStep, now: DateTime<Utc>) -> Result<Update> {
        let mut expr = "SET step = :to, body = :body".to_owned();
        let mut b = Update::builder()
            .table_name(&self.table)
            .set_key(Some(record_key(t, &r.secondary_id)))
            .condition_expression("step = :from")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(r.step.as_str()))
            .expression_attribute_values(":body", s(encode_record(r)?));
        if r.step == MergeStep::Done {
            expr.push_str(", #ttl = :ttl");
            b = b
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":ttl", n((now + Duration::days(MERGE_TOMBSTONE_DAYS)).timestamp()));
        }
        b.update_expression(expr).build().map_err(build_err)
    }

    fn merged_customer_put(&self, t: &TenantId, c: &Customer, read_version: u64) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.customer_item(t, c)?))
            .condition_expression(attr::VERSION_IS)
            .expression_attribute_values(":v", n(read_version))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Re-points an identity item from the secondary to the primary, on the condition that the
    /// secondary owns it: an identity is never owned by both or by neither.
    fn identity_repoint(
        &self,
        t: &TenantId,
        i: &Identity,
        from: &CustomerId,
        to: &CustomerId,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::identity_pk(t, i), keys::IDENTITY_SK)))
            .update_expression("SET customer_id = :to")
            .condition_expression("customer_id = :from")
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl MergeStore for Store {
    async fn get_merge(&self, t: &TenantId, secondary: &CustomerId) -> Result<Option<MergeRecord>> {
        let Some(item) = self
            .get_consistent(keys::merge_pk(t, secondary), keys::MERGE_SK)
            .await?
        else {
            return Ok(None);
        };
        let i: MergeItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("merge record", e))?;
        if i.ttl.is_some_and(|ttl| ttl < self.clock.now().timestamp()) {
            return Ok(None);
        }
        let mut r: MergeRecord = serde_json::from_str(&i.body)
            .map_err(|e| DomainError::Internal(format!("stored merge record does not parse: {e}")))?;
        r.step = serde_json::from_value(serde_json::Value::String(i.step))
            .map_err(|e| DomainError::Internal(format!("stored merge step does not parse: {e}")))?;
        Ok(Some(r))
    }

    async fn start_merge(&self, t: &TenantId, r: &MergeRecord) -> Result<bool> {
        let item = MergeItem {
            pk: keys::merge_pk(t, &r.secondary_id),
            sk: keys::MERGE_SK.into(),
            step: r.step.as_str().into(),
            body: encode_record(r)?,
            ttl: None,
        };
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode merge: {e}")))?;
        self.put_if_new(item).await
    }

    async fn abandon_merge(&self, t: &TenantId, secondary: &CustomerId) -> Result<()> {
        let res = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(record_key(t, secondary)))
            .condition_expression("step = :planned")
            .expression_attribute_values(":planned", s(MergeStep::Planned.as_str()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if super::groups::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(from_sdk("dynamodb.DeleteItem", e)),
        }
    }

    async fn commit_combine(
        &self,
        t: &TenantId,
        plan: &MergePlan,
        r: &MergeRecord,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (p, sec) = (&plan.primary, &plan.secondary);
        let mut next = r.clone();
        next.step = MergeStep::Combined;
        next.summary = plan.summary.clone();
        let mut items = vec![TransactWriteItem::builder()
            .update(self.merge_step_update(t, &next, MergeStep::Planned, now)?)
            .build()];
        items.push(self.merged_customer_put(t, &plan.merged, p.version)?);
        items.push(self.merged_customer_put(t, &plan.stripped, sec.version)?);
        for i in sec.identities().difference(&p.identities()) {
            items.push(self.identity_repoint(t, i, &sec.id, &p.id)?);
        }
        for (k, e) in plan.entries.iter().enumerate() {
            let version = p.version + 1 + k as u64;
            items.push(self.ledger_entry_put(t, e, plan.merged.created_at, version)?);
            items.push(self.timeline_put(t, &p.id, &TimelineEntry::balance_changed(e, version), now)?);
        }
        items.push(self.timeline_put(t, &p.id, &TimelineEntry::merged(&plan.summary, now), now)?);
        // The primary may not be the secondary of another merge (A into B while B into A).
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(record_key(t, &p.id)))
            .condition_expression(attr::IS_NEW)
            .build()
            .map_err(build_err)?;
        items.push(TransactWriteItem::builder().condition_check(check).build());
        Ok(self.transact(items).await?.is_ok())
    }

    async fn advance_merge(
        &self,
        t: &TenantId,
        secondary: &CustomerId,
        from: MergeStep,
        to: MergeStep,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(mut r) = self.get_merge(t, secondary).await? else {
            return Ok(false);
        };
        if r.step != from {
            return Ok(false);
        }
        r.step = to;
        if to == MergeStep::Done {
            r.done_at = Some(now);
        }
        let update = self.merge_step_update(t, &r, from, now)?;
        let items = vec![TransactWriteItem::builder().update(update).build()];
        Ok(self.transact(items).await?.is_ok())
    }

    async fn leave_for_merge(&self, t: &TenantId, g: &GroupId, c: &Customer, now: DateTime<Utc>) -> Result<bool> {
        let (mut with_customer, mut with_group) = (true, true);
        loop {
            let mut items = vec![self.member_row_delete(t, g, c)?];
            if with_customer {
                items.push(self.customer_groups_update(t, &c.id, g, false)?);
            }
            if with_group {
                items.push(self.group_count_update(t, g, -1, false)?);
            }
            let h = HistoryItem::new(t, g, &c.id, c.email.as_ref(), Change::Left, MERGED_REASON, now);
            items.push(self.history_put(h)?);
            match self.transact(items).await? {
                Ok(()) => return Ok(true),
                Err(failed) if failed[0] => {
                    // No member row (left already): the customer's groups set must not keep the group.
                    if with_customer {
                        let _ = self
                            .transact(vec![self.customer_groups_update(t, &c.id, g, false)?])
                            .await?;
                    }
                    return Ok(false);
                }
                Err(failed) => {
                    // The row exists but the group item is gone (being purged): still remove the row.
                    let mut k = 1;
                    if with_customer {
                        with_customer = !failed[k];
                        k += 1;
                    }
                    if with_group {
                        with_group = !failed[k];
                    }
                }
            }
        }
    }

    async fn delete_merged(&self, t: &TenantId, secondary: &CustomerId, now: DateTime<Utc>) -> Result<bool> {
        let Some(mut r) = self.get_merge(t, secondary).await? else {
            return Ok(false);
        };
        r.step = MergeStep::Deleted;
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(t, secondary), keys::customer_sk(secondary))))
            // No membership may have been added since it left its groups.
            .condition_expression("attribute_not_exists(#groups)")
            .expression_attribute_names(attr::GROUPS_NAME.0, attr::GROUPS_NAME.1)
            .build()
            .map_err(build_err)?;
        let items = vec![
            TransactWriteItem::builder().delete(del).build(),
            TransactWriteItem::builder()
                .update(self.merge_step_update(t, &r, MergeStep::Left, now)?)
                .build(),
        ];
        Ok(self.transact(items).await?.is_ok())
    }
}
