//! `MembershipStore` on DynamoDB. A membership change writes, in one transaction, the member row, the
//! customer's `groups` set (bumping its version) and the group's `member_count`, so the count is exact.

use super::groups::is_condition_failure;
use super::items::{attr, HistoryItem, MemberItem, MemberKeyItem};
use super::page::{cursor_sk, PartitionQuery};
use super::{build_err, key, n, s, Item};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, Select, TransactWriteItem, Update};
use cg_domain::customer::Customer;
use cg_domain::group::Member;
use cg_domain::history::Change;
use cg_domain::ids::{CustomerId, GroupId, PathId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::ports::{AddOutcome, MembershipStore};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

/// Customers per add transaction: four items each (member row, group set, history entry, timeline
/// entry) plus the group's count stays within DynamoDB's 100.
const ADD_CHUNK: usize = 24;

/// History reasons of static membership changes (issue 16: the change stream carries them as well).
const ADDED_REASON: &str = "added to the group";
const REMOVED_REASON: &str = "removed from the group";

fn group_set(g: &GroupId) -> AttributeValue {
    AttributeValue::Ss(vec![g.to_string()])
}

impl Store {
    /// Adds the group to (or removes it from) a customer's `groups` set, bumping its version.
    pub(crate) fn customer_groups_update(
        &self,
        t: &TenantId,
        c: &CustomerId,
        g: &GroupId,
        add: bool,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(t, c), keys::customer_sk(c))))
            .update_expression(if add {
                attr::ADD_TO_GROUPS
            } else {
                attr::REMOVE_FROM_GROUPS
            })
            .condition_expression(attr::EXISTS)
            .expression_attribute_names(attr::GROUPS_NAME.0, attr::GROUPS_NAME.1)
            .expression_attribute_values(":g", group_set(g))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(crate) fn history_put(&self, h: HistoryItem) -> Result<TransactWriteItem> {
        let item = serde_dynamo::to_item(h).map_err(|e| DomainError::Internal(format!("encode history: {e}")))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn member_put(&self, t: &TenantId, g: &GroupId, c: &Customer, now: DateTime<Utc>) -> Result<TransactWriteItem> {
        let item = serde_dynamo::to_item(MemberItem::new(t, g, c, now))
            .map_err(|e| DomainError::Internal(format!("encode member: {e}")))?;
        put_new(&self.table, item)
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
                items.push(self.customer_groups_update(t, &chunk[i].id, g, true)?);
            }
            // History entries last, so the positions of the conditional items above stay 1 + 2k, 2 + 2k.
            for &i in &live {
                let c = &chunk[i];
                let h = HistoryItem::new(t, g, &c.id, c.email.as_ref(), Change::Entered, ADDED_REASON, now);
                items.push(self.history_put(h)?);
                let entry = TimelineEntry::group_change(g, true, ADDED_REASON, now);
                items.push(self.timeline_put(t, &c.id, &entry, now)?);
            }
            match self.transact(items).await? {
                Ok(()) => break,
                Err(failed) => {
                    if failed[0] {
                        return Err(GroupId::not_found(g.as_str()));
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
        // The member row carries the email the history entry keeps for email lists (issue 16).
        let email = match self.get_consistent(keys::members_pk(t, g), keys::member_sk(c)).await? {
            Some(row) => {
                serde_dynamo::from_item::<_, MemberItem>(row)
                    .map_err(|e| crate::sdk_error::corrupt_item("member", e))?
                    .profile
                    .email
            }
            None => return Ok(false),
        };
        loop {
            let now = self.clock.now();
            let history = HistoryItem::new(t, g, c, email.as_ref(), Change::Left, REMOVED_REASON, now);
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::members_pk(t, g), keys::member_sk(c))))
                .condition_expression(attr::EXISTS)
                .build()
                .map_err(build_err)?;
            let mut items = vec![TransactWriteItem::builder().delete(del).build()];
            if with_customer {
                items.push(self.customer_groups_update(t, c, g, false)?);
            }
            if with_group {
                items.push(self.group_count_update(t, g, -1, false)?);
            }
            items.push(self.history_put(history)?);
            let entry = TimelineEntry::group_change(g, false, REMOVED_REASON, now);
            items.push(self.timeline_put(t, c, &entry, now)?);
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
        let start = cursor_sk(page.cursor.as_deref(), keys::CUSTOMER_SK_PREFIX, |id| {
            CustomerId::parse(id).is_ok()
        })?;
        let q = PartitionQuery::new(keys::members_pk(t, g))
            .after(start)
            .limit(page.limit);
        Ok(self
            .query_page::<MemberItem>(&q, "member")
            .await?
            .into_page(MemberItem::into_member))
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
                .condition_expression(attr::EXISTS);
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
        let q = PartitionQuery::new(keys::members_pk(t, g))
            .project("PK, SK, customer_id")
            .limit(max.clamp(1, 1000) as u32);
        let rows = self.query_page::<MemberKeyItem>(&q, "member").await?.items;
        // Customer first, then the row: a crash in between leaves the row, and the next run repeats both
        // steps (removing from a set is idempotent).
        for row in &rows {
            let id = &row.customer_id;
            let resp = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::customer_pk(t, id), keys::customer_sk(id))))
                .update_expression(attr::REMOVE_FROM_GROUPS)
                .condition_expression(attr::EXISTS)
                .expression_attribute_names(attr::GROUPS_NAME.0, attr::GROUPS_NAME.1)
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
        let keys: Vec<Item> = rows.iter().map(|r| key(r.pk.clone(), r.sk.clone())).collect();
        self.batch_delete(keys).await?;
        Ok(rows.len())
    }

    async fn recount_members(&self, t: &TenantId, g: &GroupId) -> Result<(u64, u64)> {
        let group = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
            .projection_expression(attr::MEMBER_COUNT)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.GetItem", e))?;
        let Some(stored) = group.item.and_then(|i| {
            i.get(attr::MEMBER_COUNT)
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
                .update_expression(format!("SET {} = :counted", attr::MEMBER_COUNT))
                .condition_expression(format!("{} = :stored", attr::MEMBER_COUNT))
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
