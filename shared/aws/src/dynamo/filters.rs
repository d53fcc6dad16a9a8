//! `FilterStore` on DynamoDB: one item per saved filter in the tenant's filter partition.

use super::groups::is_condition_failure;
use super::items::{attr, FilterItem};
use super::page::{cursor_sk, PartitionQuery};
use super::{key, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use cg_domain::ids::{FilterId, PathId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::ports::FilterStore;
use cg_domain::search::saved::SavedFilter;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

fn encode(t: &TenantId, f: &SavedFilter) -> Result<Item> {
    serde_dynamo::to_item(FilterItem {
        pk: keys::filters_pk(t),
        sk: keys::filter_sk(&f.id),
        id: f.id.clone(),
        name: f.name.clone(),
        filter_json: f.filter.to_string(),
        created_at: f.created_at,
        updated_at: f.updated_at,
    })
    .map_err(|e| DomainError::Internal(format!("encode filter: {e}")))
}

fn decode(item: Item) -> Result<SavedFilter> {
    let f: FilterItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("filter", e))?;
    let filter = serde_json::from_str(&f.filter_json)
        .map_err(|e| DomainError::Internal(format!("stored filter {} is not JSON: {e}", f.id)))?;
    Ok(SavedFilter {
        id: f.id,
        name: f.name,
        filter,
        created_at: f.created_at,
        updated_at: f.updated_at,
    })
}

impl FilterStore for Store {
    async fn put_filter(&self, t: &TenantId, f: &SavedFilter) -> Result<()> {
        self.create_item("saved filter", encode(t, f)?).await
    }

    async fn get_filter(&self, t: &TenantId, id: &FilterId) -> Result<Option<SavedFilter>> {
        self.get_consistent(keys::filters_pk(t), keys::filter_sk(id))
            .await?
            .map(decode)
            .transpose()
    }

    async fn list_filters(&self, t: &TenantId, page: &PageRequest) -> Result<Page<SavedFilter>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::FILTER_SK_PREFIX, |id| {
            FilterId::parse(id).is_ok()
        })?;
        let q = PartitionQuery::new(keys::filters_pk(t))
            .prefix(keys::FILTER_SK_PREFIX)
            .after(start)
            .limit(page.limit);
        let found = self.query_items(&q).await?;
        Ok(Page {
            items: found.items.into_iter().map(decode).collect::<Result<_>>()?,
            next_cursor: found.last_sk.as_deref().map(super::encode_cursor),
        })
    }

    async fn update_filter(&self, t: &TenantId, f: &SavedFilter, expected_updated_at: DateTime<Utc>) -> Result<()> {
        let expected =
            serde_dynamo::to_attribute_value(expected_updated_at).map_err(|e| DomainError::Internal(e.to_string()))?;
        let sent = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(t, f)?))
            .condition_expression(attr::UNCHANGED_SINCE)
            .expression_attribute_values(":expected", expected)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get_filter(t, &f.id).await? {
                None => Err(FilterId::not_found(f.id.as_str())),
                Some(_) => Err(DomainError::ConcurrentUpdate),
            },
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    async fn delete_filter(&self, t: &TenantId, id: &FilterId) -> Result<bool> {
        let sent = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::filters_pk(t), keys::filter_sk(id))))
            .condition_expression(attr::EXISTS)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.DeleteItem", e)),
        }
    }
}
