//! `WebhookStore` and `DestinationDirectory` on DynamoDB: endpoints in the tenant's destinations
//! partition (`T#{t}#DEST` / `W#{id}`), beside integrations and mappings, so the dispatcher reads a
//! tenant's every destination with one Query.

use super::items::{IntegrationItem, MappingItem, WebhookItem};
use crate::dynamo::groups::is_condition_failure;
use crate::dynamo::items::attr;
use crate::dynamo::key;
use crate::dynamo::page::{cursor_sk, PartitionQuery};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::ReturnValue;
use cg_domain::destinations::ports::{DestinationDirectory, Destinations, StoredWebhook, WebhookStore};
use cg_domain::destinations::webhook::{DisabledReason, Webhook};
use cg_domain::ids::{PathId, TenantId, WebhookId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

fn encode<T: serde::Serialize>(what: &str, v: T) -> Result<crate::dynamo::Item> {
    serde_dynamo::to_item(v).map_err(|e| DomainError::Internal(format!("encode {what}: {e}")))
}

fn time(t: DateTime<Utc>) -> Result<aws_sdk_dynamodb::types::AttributeValue> {
    serde_dynamo::to_attribute_value(t).map_err(|e| DomainError::Internal(format!("encode time: {e}")))
}

impl WebhookStore for Store {
    async fn create_webhook(&self, t: &TenantId, w: &StoredWebhook) -> Result<()> {
        let item = WebhookItem::new(keys::destinations_pk(t), keys::webhook_sk(&w.webhook.id), w);
        self.create_item("webhook", encode("webhook", item)?).await
    }

    async fn get_webhook(&self, t: &TenantId, id: &WebhookId) -> Result<Option<StoredWebhook>> {
        let Some(item) = self
            .get_consistent(keys::destinations_pk(t), keys::webhook_sk(id))
            .await?
        else {
            return Ok(None);
        };
        let item: WebhookItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("webhook", e))?;
        item.into_stored().map(Some)
    }

    async fn list_webhooks(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Webhook>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::WEBHOOK_SK_PREFIX, |id| {
            WebhookId::parse(id).is_ok()
        })?;
        let q = PartitionQuery::new(keys::destinations_pk(t))
            .prefix(keys::WEBHOOK_SK_PREFIX)
            .after(start)
            .limit(page.limit);
        Ok(self
            .query_page::<WebhookItem>(&q, "webhook")
            .await?
            .into_page(|w| w.webhook()))
    }

    async fn save_webhook(&self, t: &TenantId, w: &StoredWebhook, expected_updated_at: DateTime<Utc>) -> Result<()> {
        let item = WebhookItem::new(keys::destinations_pk(t), keys::webhook_sk(&w.webhook.id), w);
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode("webhook", item)?))
            .condition_expression("attribute_exists(PK) AND updated_at = :expected")
            .expression_attribute_values(":expected", time(expected_updated_at)?)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => match self.get_webhook(t, &w.webhook.id).await? {
                None => Err(WebhookId::not_found(w.webhook.id.as_str())),
                Some(_) => Err(DomainError::ConcurrentUpdate),
            },
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    async fn delete_webhook(&self, t: &TenantId, id: &WebhookId) -> Result<bool> {
        let resp = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::destinations_pk(t), keys::webhook_sk(id))))
            .condition_expression(attr::EXISTS)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.DeleteItem", e)),
        }
    }

    async fn note_failure(&self, t: &TenantId, id: &WebhookId, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let resp = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::destinations_pk(t), keys::webhook_sk(id))))
            .update_expression("SET failing_since = if_not_exists(failing_since, :now)")
            .condition_expression(attr::EXISTS)
            .expression_attribute_values(":now", time(now)?)
            // The whole item: UPDATED_NEW may leave out an attribute the update did not change (moto
            // does, from the second failure on), and then no endpoint would ever be disabled for failing.
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match resp {
            Ok(out) => Ok(out
                .attributes
                .and_then(|mut a| a.remove("failing_since"))
                .and_then(|v| serde_dynamo::from_attribute_value(v).ok())),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn note_success(&self, t: &TenantId, id: &WebhookId) -> Result<()> {
        let resp = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::destinations_pk(t), keys::webhook_sk(id))))
            .update_expression("REMOVE failing_since")
            .condition_expression(attr::EXISTS)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn disable_webhook(
        &self,
        t: &TenantId,
        id: &WebhookId,
        reason: DisabledReason,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let reason = serde_dynamo::to_attribute_value(reason)
            .map_err(|e| DomainError::Internal(format!("encode reason: {e}")))?;
        let resp = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::destinations_pk(t), keys::webhook_sk(id))))
            .update_expression("SET enabled = :off, disabled_reason = :why, disabled_at = :now")
            // Only an enabled endpoint: the first reason stands.
            .condition_expression("attribute_exists(PK) AND enabled = :on")
            .expression_attribute_values(":off", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
            .expression_attribute_values(":on", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":why", reason)
            .expression_attribute_values(":now", time(now)?)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }
}

impl DestinationDirectory for Store {
    async fn destinations(&self, t: &TenantId) -> Result<Destinations> {
        let mut out = Destinations::default();
        let mut mappings = Vec::new();
        let mut providers = HashMap::new();
        let mut start = None;
        loop {
            let q = PartitionQuery::new(keys::destinations_pk(t)).after(start.take());
            let page = self.query_items(&q).await?;
            for item in page.items {
                let sk = item.get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                if sk.starts_with(keys::WEBHOOK_SK_PREFIX) {
                    let w: WebhookItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("webhook", e))?;
                    out.webhooks.push(w.webhook());
                } else if sk.starts_with(keys::INTEGRATION_SK_PREFIX) {
                    let i: IntegrationItem =
                        serde_dynamo::from_item(item).map_err(|e| corrupt_item("integration", e))?;
                    providers.insert(i.id.clone(), i.provider);
                } else if sk.starts_with(keys::MAPPING_SK_PREFIX) {
                    let m: MappingItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("mapping", e))?;
                    mappings.push(m.into_mapping());
                }
            }
            match page.last_sk {
                Some(sk) => start = Some(sk),
                None => break,
            }
        }
        // A mapping whose integration is gone (deleted between the two writes) has nowhere to go.
        out.mappings = mappings
            .into_iter()
            .filter_map(|m| providers.get(&m.integration_id).map(|p| (m.clone(), *p)))
            .collect();
        Ok(out)
    }
}
