//! `GroupStore` on DynamoDB: group items under the tenant's partition.

use super::items::{attr, GroupItem};
use super::page::{cursor_sk, PartitionQuery};
use super::{build_err, encode_cursor, key, n, s};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use cg_domain::group::Group;
use cg_domain::ids::{GroupId, PathId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::ports::{GroupStore, SettingsStore};
use cg_domain::settings::TenantSettings;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

fn encode_err(e: serde_dynamo::Error) -> DomainError {
    DomainError::Internal(format!("encode group: {e}"))
}

impl Store {
    /// Queries the tenant's group items, keeping those that pass `keep`, until `limit` are found.
    async fn query_groups(
        &self,
        t: &TenantId,
        page: &PageRequest,
        keep: impl Fn(&GroupItem) -> bool,
    ) -> Result<Page<GroupItem>> {
        let mut start = cursor_sk(page.cursor.as_deref(), keys::GROUP_SK_PREFIX, |id| {
            GroupId::parse(id).is_ok()
        })?;
        let mut items = Vec::new();
        loop {
            let q = PartitionQuery::new(keys::tenant_pk(t))
                .prefix(keys::GROUP_SK_PREFIX)
                .after(start.take())
                .limit(page.limit - items.len() as u32);
            let found = self.query_page::<GroupItem>(&q, "group").await?;
            items.extend(found.items.into_iter().filter(|g| keep(g)));
            match found.last_sk {
                Some(sk) if items.len() >= page.limit as usize => {
                    return Ok(Page {
                        items,
                        next_cursor: Some(encode_cursor(&sk)),
                    })
                }
                Some(sk) => start = Some(sk),
                None => {
                    return Ok(Page {
                        items,
                        next_cursor: None,
                    })
                }
            }
        }
    }

    /// Every group item of the tenant that passes `keep`.
    async fn all_groups(&self, t: &TenantId, keep: impl Fn(&GroupItem) -> bool) -> Result<Vec<GroupItem>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(cg_domain::page::MAX_PAGE_SIZE);
        loop {
            let found = self.query_groups(t, &page, &keep).await?;
            out.extend(found.items);
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// `ADD member_count :d` on a group, conditioned on the group being live (or only existing).
    pub(crate) fn group_count_update(
        &self,
        t: &TenantId,
        g: &GroupId,
        delta: i64,
        require_live: bool,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(g))))
            .update_expression(format!("ADD {} :d", attr::MEMBER_COUNT))
            .condition_expression(if require_live {
                attr::GROUP_IS_LIVE
            } else {
                attr::EXISTS
            })
            .expression_attribute_values(":d", n(delta))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl GroupStore for Store {
    async fn create_group(&self, t: &TenantId, g: &Group) -> Result<()> {
        let item = GroupItem::new(keys::tenant_pk(t), keys::group_sk(&g.id), g);
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode group: {e}")))?;
        self.create_item("group", item).await
    }

    async fn get_group(&self, t: &TenantId, id: &GroupId) -> Result<Option<Group>> {
        let item = self.get_consistent(keys::tenant_pk(t), keys::group_sk(id)).await?;
        item.map(|item| serde_dynamo::from_item::<_, GroupItem>(item).map_err(|e| corrupt_item("group", e)))
            .transpose()?
            .filter(|g| !g.deleting)
            .map(GroupItem::into_group)
            .transpose()
    }

    async fn list_groups(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Group>> {
        let found = self.query_groups(t, page, |g| !g.deleting).await?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(GroupItem::into_group)
                .collect::<Result<_>>()?,
            next_cursor: found.next_cursor,
        })
    }

    async fn list_all_groups(&self, t: &TenantId) -> Result<Vec<Group>> {
        self.all_groups(t, |g| !g.deleting)
            .await?
            .into_iter()
            .map(GroupItem::into_group)
            .collect()
    }

    async fn plan_source(&self, t: &TenantId) -> Result<(Vec<Group>, TenantSettings)> {
        let mut groups = Vec::new();
        let mut settings = TenantSettings::default();
        let mut start = None;
        loop {
            let q = PartitionQuery::new(keys::tenant_pk(t))
                .prefix(keys::SETTINGS_SK)
                .after(start.take());
            let page = self.query_items(&q).await?;
            for item in page.items {
                let is_settings =
                    item.get("SK").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(keys::SETTINGS_SK);
                if is_settings {
                    settings = decode_settings(item)?;
                    continue;
                }
                let g: GroupItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("group", e))?;
                if !g.deleting {
                    groups.push(g.into_group()?);
                }
            }
            match page.last_sk {
                Some(sk) => start = Some(sk),
                None => return Ok((groups, settings)),
            }
        }
    }

    async fn update_group(&self, t: &TenantId, g: &Group, expected_updated_at: DateTime<Utc>) -> Result<()> {
        let item = GroupItem::new(keys::tenant_pk(t), keys::group_sk(&g.id), g);
        let text = |v: Option<String>| v.map(s);
        let mut set = vec!["#name = :name", "updated_at = :now"];
        let mut remove = Vec::new();
        let mut values: Vec<(&str, Option<AttributeValue>)> = vec![
            (":rules", text(item.rules_json)),
            (":cgroups", text(item.condition_groups_json)),
            (":template", text(item.template)),
            (
                ":settings",
                item.settings
                    .map(serde_dynamo::to_attribute_value)
                    .transpose()
                    .map_err(encode_err)?,
            ),
            (
                ":uses",
                (!item.uses_groups.is_empty())
                    .then(|| serde_dynamo::to_attribute_value(&item.uses_groups))
                    .transpose()
                    .map_err(encode_err)?,
            ),
        ];
        let names = [
            (":rules", "rules_json"),
            (":cgroups", "condition_groups_json"),
            (":template", "template"),
            (":settings", "settings"),
            (":uses", "uses_groups"),
        ];
        let mut builder = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(&g.id))))
            .condition_expression(format!("{} AND updated_at = :expected", attr::GROUP_IS_LIVE))
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(&g.name))
            .expression_attribute_values(
                ":now",
                serde_dynamo::to_attribute_value(g.updated_at).map_err(encode_err)?,
            )
            .expression_attribute_values(
                ":expected",
                serde_dynamo::to_attribute_value(expected_updated_at).map_err(encode_err)?,
            );
        let mut clauses = Vec::new();
        for ((placeholder, value), (_, attr)) in values.drain(..).zip(names) {
            match value {
                Some(v) => {
                    clauses.push(format!("{attr} = {placeholder}"));
                    builder = builder.expression_attribute_values(placeholder, v);
                }
                None => remove.push(attr),
            }
        }
        let clauses: Vec<String> = set.drain(..).map(str::to_owned).chain(clauses).collect();
        let mut expression = format!("SET {}", clauses.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match builder.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get_group(t, &g.id).await? {
                None => Err(GroupId::not_found(g.id.as_str())),
                Some(_) => Err(DomainError::ConcurrentUpdate),
            },
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn mark_group_deleting(&self, t: &TenantId, id: &GroupId) -> Result<()> {
        let resp = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(id))))
            .update_expression(format!("SET {} = :yes", attr::DELETING))
            .condition_expression(attr::GROUP_IS_LIVE)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(GroupId::not_found(id.as_str())),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn list_deleting_groups(&self, t: &TenantId) -> Result<Vec<GroupId>> {
        Ok(self
            .all_groups(t, |g| g.deleting)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect())
    }

    async fn delete_group_item(&self, t: &TenantId, id: &GroupId) -> Result<()> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(id))))
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.DeleteItem", e))?;
        Ok(())
    }
}

/// The stored settings item (no `#[serde(flatten)]`: numbers must keep their types through serde_dynamo).
#[derive(serde::Serialize, serde::Deserialize)]
struct SettingsItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    renewal_grace_days: u32,
}

fn decode_settings(item: super::Item) -> Result<TenantSettings> {
    serde_dynamo::from_item::<_, SettingsItem>(item)
        .map(|s| TenantSettings {
            renewal_grace_days: s.renewal_grace_days,
        })
        .map_err(|e| corrupt_item("settings", e))
}

impl SettingsStore for Store {
    async fn get_settings(&self, t: &TenantId) -> Result<TenantSettings> {
        match self.get_consistent(keys::tenant_pk(t), keys::SETTINGS_SK).await? {
            Some(item) => decode_settings(item),
            None => Ok(TenantSettings::default()),
        }
    }

    async fn save_settings(&self, t: &TenantId, s: &TenantSettings) -> Result<()> {
        let item = SettingsItem {
            pk: keys::tenant_pk(t),
            sk: keys::SETTINGS_SK.into(),
            renewal_grace_days: s.renewal_grace_days,
        };
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(encode_err)?))
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.PutItem", e))?;
        Ok(())
    }
}

/// Whether a single-item write failed its condition expression.
pub(crate) fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    matches!(err, aws_sdk_dynamodb::error::SdkError::ServiceError(_))
        && err.code() == Some("ConditionalCheckFailedException")
}
