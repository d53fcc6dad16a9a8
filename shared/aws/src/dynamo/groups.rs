//! `GroupStore` on DynamoDB: group items under the tenant's partition.

use super::items::GroupItem;
use super::{decode_cursor, encode_cursor, key, last_sk, s};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use cg_domain::group::Group;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::{bad_cursor, Page, PageRequest};
use cg_domain::ports::GroupStore;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

fn group_not_found(id: &GroupId) -> DomainError {
    DomainError::not_found(format!("no group with id {:?}", id.as_str()))
}

fn encode_err(e: serde_dynamo::Error) -> DomainError {
    DomainError::Internal(format!("encode group: {e}"))
}

fn decode(item: super::Item) -> Result<GroupItem> {
    serde_dynamo::from_item(item).map_err(|e| corrupt_item("group", e))
}

impl Store {
    /// Queries the tenant's group items, keeping those that pass `keep`, until `limit` are found.
    async fn query_groups(
        &self,
        t: &TenantId,
        page: &PageRequest,
        keep: impl Fn(&GroupItem) -> bool,
    ) -> Result<Page<GroupItem>> {
        let pk = keys::tenant_pk(t);
        let mut start = match &page.cursor {
            None => None,
            Some(c) => {
                let sk = decode_cursor(c)?;
                let id = sk.strip_prefix(keys::GROUP_SK_PREFIX).ok_or_else(bad_cursor)?;
                GroupId::parse(id).map_err(|_| bad_cursor())?;
                Some(key(pk.clone(), sk))
            }
        };
        let mut items = Vec::new();
        loop {
            let resp = self
                .ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :g)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":g", s(keys::GROUP_SK_PREFIX))
                .set_exclusive_start_key(start.take())
                .limit((page.limit as usize - items.len()) as i32)
                .send()
                .await
                .map_err(|e| from_sdk("dynamodb.Query", e))?;
            for item in resp.items.unwrap_or_default() {
                let g = decode(item)?;
                if keep(&g) {
                    items.push(g);
                }
            }
            let last = last_sk(resp.last_evaluated_key);
            match last {
                Some(sk) if items.len() >= page.limit as usize => {
                    return Ok(Page {
                        items,
                        next_cursor: Some(encode_cursor(&sk)),
                    })
                }
                Some(sk) => start = Some(key(pk.clone(), sk)),
                None => {
                    return Ok(Page {
                        items,
                        next_cursor: None,
                    })
                }
            }
        }
    }
}

impl GroupStore for Store {
    async fn create_group(&self, t: &TenantId, g: &Group) -> Result<()> {
        let item = GroupItem::new(keys::tenant_pk(t), keys::group_sk(&g.id), g);
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode group: {e}")))?;
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.PutItem", e))?;
        Ok(())
    }

    async fn get_group(&self, t: &TenantId, id: &GroupId) -> Result<Option<Group>> {
        let resp = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.GetItem", e))?;
        Ok(resp
            .item
            .map(decode)
            .transpose()?
            .filter(|g| !g.deleting)
            .map(GroupItem::into_group))
    }

    async fn list_groups(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Group>> {
        Ok(self
            .query_groups(t, page, |g| !g.deleting)
            .await?
            .map(GroupItem::into_group))
    }

    async fn list_all_groups(&self, t: &TenantId) -> Result<Vec<Group>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(cg_domain::page::MAX_PAGE_SIZE);
        loop {
            let found = self.query_groups(t, &page, |g| !g.deleting).await?;
            out.extend(found.items.into_iter().map(GroupItem::into_group));
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(out),
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
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting) AND updated_at = :expected")
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
                None => Err(group_not_found(&g.id)),
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
            .update_expression("SET deleting = :yes")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(group_not_found(id)),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn list_deleting_groups(&self, t: &TenantId) -> Result<Vec<GroupId>> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(cg_domain::page::MAX_PAGE_SIZE);
        loop {
            let found = self.query_groups(t, &page, |g| g.deleting).await?;
            out.extend(found.items.into_iter().map(|g| g.id));
            match found.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => return Ok(out),
            }
        }
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

/// Whether a single-item write failed its condition expression.
pub(crate) fn is_condition_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    matches!(err, aws_sdk_dynamodb::error::SdkError::ServiceError(_))
        && err.code() == Some("ConditionalCheckFailedException")
}
