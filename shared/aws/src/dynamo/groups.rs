//! `GroupStore` on DynamoDB: group items under the tenant's partition.

use super::items::GroupItem;
use super::{decode_cursor, encode_cursor, key, s};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::ReturnValue;
use cg_domain::group::Group;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::{bad_cursor, Page, PageRequest};
use cg_domain::ports::GroupStore;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

fn group_not_found(id: &GroupId) -> DomainError {
    DomainError::not_found(format!("no group with id {:?}", id.as_str()))
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
            let last = resp
                .last_evaluated_key
                .and_then(|mut k| k.remove("SK"))
                .and_then(|v| v.as_s().ok().cloned());
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
        let item = GroupItem {
            pk: keys::tenant_pk(t),
            sk: keys::group_sk(&g.id),
            id: g.id.clone(),
            name: g.name.clone(),
            kind: g.kind,
            member_count: g.member_count,
            created_at: g.created_at,
            updated_at: g.updated_at,
            deleting: false,
        };
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

    async fn rename_group(&self, t: &TenantId, id: &GroupId, name: &str, now: DateTime<Utc>) -> Result<Group> {
        let resp = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(t), keys::group_sk(id))))
            .update_expression("SET #name = :name, updated_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match resp {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| DomainError::Internal("UpdateItem returned no item".into()))?;
                Ok(decode(item)?.into_group())
            }
            Err(e) if is_condition_failure(&e) => Err(group_not_found(id)),
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
            .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
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
