//! `MembershipStore` on DynamoDB. A membership change writes, in one transaction, the member row, the
//! customer's `groups` set (bumping its version) and the group's `member_count`, so the count is exact.

use super::groups::is_condition_failure;
use super::items::MemberItem;
use super::{build_err, decode_cursor, key, n, next_cursor, s, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, Select, TransactWriteItem, Update, WriteRequest,
};
use cg_domain::customer::Customer;
use cg_domain::group::Member;
use cg_domain::ids::{CustomerId, GroupId, TenantId};
use cg_domain::page::{bad_cursor, Page, PageRequest};
use cg_domain::ports::{AddOutcome, MembershipStore};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Customers per add transaction: two items each plus the group's count stays within DynamoDB's 100.
const ADD_CHUNK: usize = 49;

fn group_set(g: &GroupId) -> AttributeValue {
    AttributeValue::Ss(vec![g.to_string()])
}

impl Store {
    fn customer_groups_update(
        &self,
        t: &TenantId,
        c: &CustomerId,
        g: &GroupId,
        op: &'static str,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(t, c), keys::customer_sk(c))))
            .update_expression(match op {
                // One clause per action: both additions share the ADD clause.
                "ADD" => "ADD #groups :g, version :one",
                _ => "DELETE #groups :g ADD version :one",
            })
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#groups", "groups")
            .expression_attribute_values(":g", group_set(g))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn group_count_update(
        &self,
        t: &TenantId,
        g: &GroupId,
        delta: i64,
        require_live: bool,
    ) -> Result<TransactWriteItem> {
        let condition = if require_live {
            "attribute_exists(PK) AND attribute_not_exists(deleting)"
        } else {
            "attribute_exists(PK)"
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
            .update_expression("ADD member_count :d")
            .condition_expression(condition)
            .expression_attribute_values(":d", n(delta))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn member_put(&self, t: &TenantId, g: &GroupId, c: &Customer, now: DateTime<Utc>) -> Result<TransactWriteItem> {
        let item = MemberItem {
            pk: keys::members_pk(t, g),
            sk: keys::member_sk(&c.id),
            customer_id: c.id.clone(),
            profile: c.member_view(),
            added_at: now,
        };
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode member: {e}")))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Adds one chunk; customers whose write cannot succeed are dropped and the rest retried.
    async fn add_chunk(
        &self,
        t: &TenantId,
        g: &GroupId,
        chunk: &[Customer],
        now: DateTime<Utc>,
    ) -> Result<Vec<AddOutcome>> {
        let mut outcomes = vec![AddOutcome::Added; chunk.len()];
        let mut live: Vec<usize> = (0..chunk.len()).collect();
        while !live.is_empty() {
            let mut items = vec![self.group_count_update(t, g, live.len() as i64, true)?];
            for &i in &live {
                items.push(self.member_put(t, g, &chunk[i], now)?);
                items.push(self.customer_groups_update(t, &chunk[i].id, g, "ADD")?);
            }
            match self.transact(items).await? {
                Ok(()) => break,
                Err(failed) => {
                    if failed[0] {
                        return Err(DomainError::not_found(format!("no group with id {:?}", g.as_str())));
                    }
                    let mut still = Vec::with_capacity(live.len());
                    for (k, &i) in live.iter().enumerate() {
                        let (member_failed, customer_failed) = (failed[1 + 2 * k], failed[2 + 2 * k]);
                        if member_failed {
                            outcomes[i] = AddOutcome::AlreadyMember;
                        } else if customer_failed {
                            outcomes[i] = AddOutcome::CustomerGone;
                        } else {
                            still.push(i);
                        }
                    }
                    live = still;
                }
            }
        }
        Ok(outcomes)
    }
}

impl MembershipStore for Store {
    async fn add_members(
        &self,
        t: &TenantId,
        g: &GroupId,
        customers: &[Customer],
        now: DateTime<Utc>,
    ) -> Result<Vec<AddOutcome>> {
        let mut outcomes = Vec::with_capacity(customers.len());
        for chunk in customers.chunks(ADD_CHUNK) {
            outcomes.extend(self.add_chunk(t, g, chunk, now).await?);
        }
        Ok(outcomes)
    }

    async fn remove_member(&self, t: &TenantId, g: &GroupId, c: &CustomerId) -> Result<bool> {
        let (mut with_customer, mut with_group) = (true, true);
        loop {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::members_pk(t, g), keys::member_sk(c))))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map_err(build_err)?;
            let mut items = vec![TransactWriteItem::builder().delete(del).build()];
            if with_customer {
                items.push(self.customer_groups_update(t, c, g, "DELETE")?);
            }
            if with_group {
                items.push(self.group_count_update(t, g, -1, false)?);
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(true),
                Err(failed) if failed[0] => return Ok(false),
                Err(failed) => {
                    // The member row exists but its customer or group item is already gone: still remove the row.
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

    async fn list_members(&self, t: &TenantId, g: &GroupId, page: &PageRequest) -> Result<Page<Member>> {
        let pk = keys::members_pk(t, g);
        let start = match &page.cursor {
            None => None,
            Some(c) => {
                let sk = decode_cursor(c)?;
                let id = sk.strip_prefix(keys::CUSTOMER_SK_PREFIX).ok_or_else(bad_cursor)?;
                CustomerId::parse(id).map_err(|_| bad_cursor())?;
                Some(key(pk.clone(), sk))
            }
        };
        let resp = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .set_exclusive_start_key(start)
            .limit(page.limit as i32)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.Query", e))?;
        let items = resp
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| {
                serde_dynamo::from_item::<_, MemberItem>(i)
                    .map(MemberItem::into_member)
                    .map_err(|e| corrupt_item("member", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let next = next_cursor(resp.last_evaluated_key);
        Ok(Page {
            items,
            next_cursor: next,
        })
    }

    async fn refresh_member_profiles(&self, t: &TenantId, c: &Customer) -> Result<()> {
        let profile: Item = serde_dynamo::to_item(c.member_view())
            .map_err(|e| DomainError::Internal(format!("encode profile: {e}")))?;
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut update_names = Vec::new();
        for (i, field) in ["name", "email", "phone", "order_number", "signup_date"]
            .iter()
            .enumerate()
        {
            update_names.push((format!("#f{i}"), field.to_string()));
            if profile.contains_key(*field) {
                sets.push(format!("#f{i} = :v{i}"));
            } else {
                removes.push(format!("#f{i}"));
            }
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        for g in &c.groups {
            let mut req = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::members_pk(t, g), keys::member_sk(&c.id))))
                .update_expression(expression.trim())
                .condition_expression("attribute_exists(PK)");
            for (alias, field) in &update_names {
                req = req.expression_attribute_names(alias, field);
            }
            for (i, field) in ["name", "email", "phone", "order_number", "signup_date"]
                .iter()
                .enumerate()
            {
                if let Some(v) = profile.get(*field) {
                    req = req.expression_attribute_values(format!(":v{i}"), v.clone());
                }
            }
            match req.send().await {
                Ok(_) => {}
                // The customer left that group meanwhile: nothing to refresh.
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(from_sdk("dynamodb.UpdateItem", e)),
            }
        }
        Ok(())
    }

    async fn purge_members(&self, t: &TenantId, g: &GroupId, max: usize) -> Result<usize> {
        let pk = keys::members_pk(t, g);
        let resp = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .projection_expression("PK, SK, customer_id")
            .limit(max.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.Query", e))?;
        let rows = resp.items.unwrap_or_default();
        // Customer first, then the row: a crash in between leaves the row, and the next run repeats both
        // steps (removing from a set is idempotent).
        for row in &rows {
            let Some(id) = row
                .get("customer_id")
                .and_then(|v| v.as_s().ok())
                .and_then(|v| CustomerId::parse(v).ok())
            else {
                continue;
            };
            let resp = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::customer_pk(t, &id), keys::customer_sk(&id))))
                .update_expression("DELETE #groups :g ADD version :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#groups", "groups")
                .expression_attribute_values(":g", group_set(g))
                .expression_attribute_values(":one", n(1))
                .send()
                .await;
            match resp {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(from_sdk("dynamodb.UpdateItem", e)),
            }
        }
        let keys: Vec<Item> = rows
            .iter()
            .filter_map(|r| {
                Some(key(
                    r.get("PK")?.as_s().ok()?.clone(),
                    r.get("SK")?.as_s().ok()?.clone(),
                ))
            })
            .collect();
        self.batch_delete(keys).await?;
        Ok(rows.len())
    }

    async fn recount_members(&self, t: &TenantId, g: &GroupId) -> Result<(u64, u64)> {
        let group = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
            .projection_expression("member_count")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.GetItem", e))?;
        let Some(stored) = group.item.and_then(|i| {
            i.get("member_count")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
        }) else {
            return Ok((0, 0));
        };
        let mut counted = 0u64;
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::members_pk(t, g)))
            .select(Select::Count)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            counted += page.map_err(|e| from_sdk("dynamodb.Query", e))?.count as u64;
        }
        if counted != stored {
            // Only repair if no membership change landed while counting; otherwise the next resync will.
            let resp = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
                .update_expression("SET member_count = :counted")
                .condition_expression("member_count = :stored")
                .expression_attribute_values(":counted", n(counted))
                .expression_attribute_values(":stored", n(stored))
                .send()
                .await;
            match resp {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => return Ok((stored, stored)),
                Err(e) => return Err(from_sdk("dynamodb.UpdateItem", e)),
            }
        }
        Ok((stored, counted))
    }
}

impl Store {
    /// Deletes items by key, 25 per BatchWriteItem, retrying unprocessed ones.
    async fn batch_delete(&self, keys: Vec<Item>) -> Result<()> {
        for chunk in keys.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(build_err)
                })
                .collect::<Result<_>>()?;
            let mut round = 0u32;
            while !pending.is_empty() {
                let resp = self
                    .ddb
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| from_sdk("dynamodb.BatchWriteItem", e))?;
                pending = resp
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    round += 1;
                    if round > 8 {
                        return Err(DomainError::Unavailable("BatchWriteItem left items unprocessed".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
                }
            }
        }
        Ok(())
    }
}
