//! `IntegrationStore` and `MemberLookup` on DynamoDB: integrations (`I#{id}`) and their mappings
//! (`M#{integration}#{mapping}`) in the tenant's destinations partition.

use super::items::{IntegrationItem, MappingItem};
use crate::dynamo::groups::is_condition_failure;
use crate::dynamo::items::{attr, MemberItem};
use crate::dynamo::page::{cursor_sk, PartitionQuery};
use crate::dynamo::{key, n, s, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use cg_domain::destinations::integration::{Integration, Mapping};
use cg_domain::destinations::ports::{IntegrationStore, MemberLookup, StoredIntegration, SyncProgress};
use cg_domain::group::Member;
use cg_domain::ids::{CustomerId, GroupId, IntegrationId, MappingId, PathId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};

fn encode<T: serde::Serialize>(what: &str, v: T) -> Result<Item> {
    serde_dynamo::to_item(v).map_err(|e| DomainError::Internal(format!("encode {what}: {e}")))
}

fn value<T: serde::Serialize>(v: T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(|e| DomainError::Internal(format!("encode value: {e}")))
}

impl Store {
    async fn delete_existing(&self, pk: String, sk: String) -> Result<bool> {
        let resp = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression(attr::EXISTS)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.DeleteItem", e)),
        }
    }
}

impl IntegrationStore for Store {
    async fn create_integration(&self, t: &TenantId, i: &StoredIntegration) -> Result<()> {
        let item = IntegrationItem::new(keys::destinations_pk(t), keys::integration_sk(&i.integration.id), i);
        self.create_item("integration", encode("integration", item)?).await
    }

    async fn get_integration(&self, t: &TenantId, id: &IntegrationId) -> Result<Option<StoredIntegration>> {
        let Some(item) = self
            .get_consistent(keys::destinations_pk(t), keys::integration_sk(id))
            .await?
        else {
            return Ok(None);
        };
        let item: IntegrationItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("integration", e))?;
        item.into_stored().map(Some)
    }

    async fn list_integrations(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Integration>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::INTEGRATION_SK_PREFIX, |id| {
            IntegrationId::parse(id).is_ok()
        })?;
        let q = PartitionQuery::new(keys::destinations_pk(t))
            .prefix(keys::INTEGRATION_SK_PREFIX)
            .after(start)
            .limit(page.limit);
        Ok(self
            .query_page::<IntegrationItem>(&q, "integration")
            .await?
            .into_page(|i| i.integration()))
    }

    async fn save_integration(&self, t: &TenantId, i: &StoredIntegration, expected: DateTime<Utc>) -> Result<()> {
        let item = IntegrationItem::new(keys::destinations_pk(t), keys::integration_sk(&i.integration.id), i);
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode("integration", item)?))
            .condition_expression("attribute_exists(PK) AND updated_at = :expected")
            .expression_attribute_values(":expected", value(expected)?)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get_integration(t, &i.integration.id).await? {
                None => Err(IntegrationId::not_found(i.integration.id.as_str())),
                Some(_) => Err(DomainError::ConcurrentUpdate),
            },
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    async fn delete_integration(&self, t: &TenantId, id: &IntegrationId) -> Result<bool> {
        // Mappings first: a crash in between leaves an integration without some mappings, and the
        // retried request deletes the rest; never mappings without their integration for long (the
        // dispatcher skips those anyway).
        let mappings = self.list_mappings(t, id).await?;
        let keys: Vec<Item> = mappings
            .iter()
            .map(|m| key(keys::destinations_pk(t), keys::mapping_sk(id, &m.id)))
            .collect();
        self.batch_delete(keys).await?;
        self.delete_existing(keys::destinations_pk(t), keys::integration_sk(id))
            .await
    }

    async fn create_mapping(&self, t: &TenantId, m: &Mapping) -> Result<()> {
        let item = MappingItem::new(keys::destinations_pk(t), keys::mapping_sk(&m.integration_id, &m.id), m);
        self.create_item("mapping", encode("mapping", item)?).await
    }

    async fn get_mapping(&self, t: &TenantId, i: &IntegrationId, id: &MappingId) -> Result<Option<Mapping>> {
        let Some(item) = self
            .get_consistent(keys::destinations_pk(t), keys::mapping_sk(i, id))
            .await?
        else {
            return Ok(None);
        };
        let item: MappingItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("mapping", e))?;
        Ok(Some(item.into_mapping()))
    }

    async fn list_mappings(&self, t: &TenantId, i: &IntegrationId) -> Result<Vec<Mapping>> {
        let prefix = keys::mappings_prefix(i);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let q = PartitionQuery::new(keys::destinations_pk(t))
                .prefix(&prefix)
                .after(start.take())
                .consistent();
            let page = self.query_page::<MappingItem>(&q, "mapping").await?;
            out.extend(page.items.into_iter().map(MappingItem::into_mapping));
            match page.last_sk {
                Some(sk) => start = Some(sk),
                None => return Ok(out),
            }
        }
    }

    async fn delete_mapping(&self, t: &TenantId, i: &IntegrationId, id: &MappingId) -> Result<bool> {
        self.delete_existing(keys::destinations_pk(t), keys::mapping_sk(i, id))
            .await
    }

    async fn save_mapping(&self, t: &TenantId, m: &Mapping) -> Result<()> {
        let item = MappingItem::new(keys::destinations_pk(t), keys::mapping_sk(&m.integration_id, &m.id), m);
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode("mapping", item)?))
            .condition_expression(attr::EXISTS)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(MappingId::not_found(m.id.as_str())),
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    async fn record_sync(&self, t: &TenantId, i: &IntegrationId, id: &MappingId, p: &SyncProgress) -> Result<bool> {
        let mut req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::destinations_pk(t), keys::mapping_sk(i, id))))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", value(p.status)?)
            .expression_attribute_values(":at", value(p.at)?)
            .expression_attribute_values(":synced", n(p.synced_delta))
            .expression_attribute_values(":skipped", n(p.skipped_delta));
        let mut expression =
            "SET #status = :status, last_sync_at = :at ADD members_synced :synced, skipped_without_email :skipped"
                .to_owned();
        match &p.error {
            Some(why) => {
                expression = expression.replace("last_sync_at = :at", "last_sync_at = :at, last_error = :err");
                req = req.expression_attribute_values(":err", s(why));
            }
            None => expression.push_str(" REMOVE last_error"),
        }
        req = match &p.run {
            Some(run) => req
                .condition_expression("attribute_exists(PK) AND push_run = :run")
                .expression_attribute_values(":run", s(run)),
            None => req.condition_expression(attr::EXISTS),
        };
        match req.update_expression(expression).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }
}

impl MemberLookup for Store {
    async fn member_rows(&self, t: &TenantId, g: &GroupId, customers: &[CustomerId]) -> Result<Vec<Member>> {
        let keys: Vec<Item> = customers
            .iter()
            .map(|c| key(keys::members_pk(t, g), keys::member_sk(c)))
            .collect();
        self.batch_get(keys, true)
            .await?
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, MemberItem>(item)
                    .map(MemberItem::into_member)
                    .map_err(|e| corrupt_item("member", e))
            })
            .collect()
    }
}
