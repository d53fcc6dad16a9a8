//! `DeliveryLog` on DynamoDB: messages under `T#{t}#WH#{w}#D` (sort key = message id, time-ordered,
//! so a descending Query lists the newest first), the dispatch cursors under `T#{t}#WH#{w}#CUR`, and
//! pending messages in the WakeIndex (`DLV#{n}`) for the sweep.

use super::items::{CursorItem, DeliveryItem};
use crate::dynamo::groups::is_condition_failure;
use crate::dynamo::items::attr;
use crate::dynamo::page::{cursor_sk, PartitionQuery};
use crate::dynamo::put_new;
use crate::dynamo::{build_err, decode_cursor, encode_cursor, key, n, s, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use cg_domain::destinations::delivery::{Delivery, DeliveryJob, DeliveryState, NewMessage, StoredDelivery};
use cg_domain::destinations::ports::{CursorKey, CursorMove, DeliveryLog};
use cg_domain::ids::{DeliveryId, TenantId, WebhookId};
use cg_domain::page::{bad_cursor, Page, PageRequest};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// Days a message and its log are kept.
const DELIVERY_DAYS: i64 = 30;
/// Days a cursor is kept after its last move: longer than the stream's 24-hour retention, so no
/// record it covers can come back after it expired.
const CURSOR_DAYS: i64 = 3;

fn encode_err(e: serde_dynamo::Error) -> DomainError {
    DomainError::Internal(format!("encode delivery: {e}"))
}

fn value<T: serde::Serialize>(v: T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(encode_err)
}

impl Store {
    fn delivery_item(&self, t: &TenantId, msg: &NewMessage) -> DeliveryItem {
        let d = &msg.delivery;
        let wake = d
            .next_attempt_at
            .map(|at| keys::delivery_wake_keys(t, &d.webhook_id, &d.id, at));
        let (wake_pk, wake_sk) = wake.unzip();
        DeliveryItem {
            pk: keys::deliveries_pk(t, &d.webhook_id),
            sk: keys::delivery_sk(&d.id),
            id: d.id.clone(),
            webhook_id: d.webhook_id.clone(),
            event_type: d.event_type,
            created_at: d.created_at,
            status: d.status,
            attempt_count: d.attempt_count,
            next_attempt_at: d.next_attempt_at,
            change_count: d.change_count,
            failure_reason: d.failure_reason.clone(),
            attempts: d.attempts.clone(),
            body: msg.body.clone(),
            wake_pk,
            wake_sk,
            ttl: (d.created_at + Duration::days(DELIVERY_DAYS)).timestamp(),
        }
    }
}

impl DeliveryLog for Store {
    async fn cursors(&self, t: &TenantId, wanted: &[CursorKey]) -> Result<HashMap<CursorKey, String>> {
        let by_key: HashMap<(String, String), &CursorKey> = wanted
            .iter()
            .map(|k| {
                (
                    (
                        keys::cursors_pk(t, &k.webhook_id),
                        keys::cursor_sk(&k.group_id, k.event_type.name()),
                    ),
                    k,
                )
            })
            .collect();
        let keys: Vec<Item> = by_key.keys().map(|(pk, sk)| key(pk.clone(), sk.clone())).collect();
        let mut out = HashMap::new();
        for item in self.batch_get(keys, true).await? {
            let c: CursorItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("cursor", e))?;
            if let Some(k) = by_key.get(&(c.pk, c.sk)) {
                out.insert((*k).clone(), c.seq);
            }
        }
        Ok(out)
    }

    async fn record_message(&self, t: &TenantId, msg: &NewMessage, cursor: Option<CursorMove<'_>>) -> Result<bool> {
        let item = serde_dynamo::to_item(self.delivery_item(t, msg)).map_err(encode_err)?;
        let Some(moved) = cursor else {
            return self.put_if_new(item).await;
        };
        let message = put_new(&self.table, item)?;
        let c = CursorItem {
            pk: keys::cursors_pk(t, &moved.key.webhook_id),
            sk: keys::cursor_sk(&moved.key.group_id, moved.key.event_type.name()),
            seq: moved.to.to_owned(),
            ttl: (msg.delivery.created_at + Duration::days(CURSOR_DAYS)).timestamp(),
        };
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(c).map_err(encode_err)?));
        put = match moved.from {
            None => put.condition_expression(attr::IS_NEW),
            Some(from) => put
                .condition_expression("seq = :from")
                .expression_attribute_values(":from", s(from)),
        };
        let items = vec![
            message,
            TransactWriteItem::builder()
                .put(put.build().map_err(build_err)?)
                .build(),
        ];
        Ok(self.transact(items).await?.is_ok())
    }

    async fn get_delivery(&self, t: &TenantId, w: &WebhookId, id: &DeliveryId) -> Result<Option<StoredDelivery>> {
        let Some(item) = self
            .get_consistent(keys::deliveries_pk(t, w), keys::delivery_sk(id))
            .await?
        else {
            return Ok(None);
        };
        let item: DeliveryItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("delivery", e))?;
        let (delivery, body) = item.into_delivery();
        Ok(Some(StoredDelivery { delivery, body }))
    }

    async fn list_deliveries(&self, t: &TenantId, w: &WebhookId, page: &PageRequest) -> Result<Page<Delivery>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::DELIVERY_SK_PREFIX, |rest| {
            DeliveryId::parse(&format!("{}{rest}", keys::DELIVERY_SK_PREFIX)).is_ok()
        })?;
        let q = PartitionQuery::new(keys::deliveries_pk(t, w))
            .after(start)
            .limit(page.limit)
            .newest_first();
        Ok(self
            .query_page::<DeliveryItem>(&q, "delivery")
            .await?
            .into_page(|d| d.into_delivery().0))
    }

    async fn update_delivery(&self, t: &TenantId, after: &Delivery, expected: (DeliveryState, u32)) -> Result<bool> {
        let mut set = vec!["#status = :status", "attempt_count = :count", "attempts = :attempts"];
        let mut remove = Vec::new();
        let mut req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::deliveries_pk(t, &after.webhook_id),
                keys::delivery_sk(&after.id),
            )))
            .condition_expression("#status = :was AND attempt_count = :was_count")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", value(after.status)?)
            .expression_attribute_values(":count", n(after.attempt_count))
            .expression_attribute_values(":attempts", value(&after.attempts)?)
            .expression_attribute_values(":was", value(expected.0)?)
            .expression_attribute_values(":was_count", n(expected.1));
        match (after.status, after.next_attempt_at) {
            (DeliveryState::Pending, Some(at)) => {
                let (wake_pk, wake_sk) = keys::delivery_wake_keys(t, &after.webhook_id, &after.id, at);
                set.extend(["next_attempt_at = :next", "wake_pk = :wpk", "wake_sk = :wsk"]);
                req = req
                    .expression_attribute_values(":next", value(at)?)
                    .expression_attribute_values(":wpk", s(wake_pk))
                    .expression_attribute_values(":wsk", s(wake_sk));
            }
            _ => remove.extend(["next_attempt_at", "wake_pk", "wake_sk"]),
        }
        match &after.failure_reason {
            Some(why) => {
                set.push("failure_reason = :why");
                req = req.expression_attribute_values(":why", s(why));
            }
            None => remove.push("failure_reason"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match req.update_expression(expression).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.UpdateItem", e)),
        }
    }

    async fn due_deliveries(
        &self,
        partition: u32,
        before: DateTime<Utc>,
        cursor: Option<String>,
    ) -> Result<(Vec<DeliveryJob>, Option<String>)> {
        let start: Option<Item> = match cursor {
            None => None,
            Some(c) => {
                let map: HashMap<String, String> =
                    serde_json::from_str(&decode_cursor(&c)?).map_err(|_| bad_cursor())?;
                Some(map.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
            }
        };
        // The index is global (every tenant), like the customers' wake-ups: a GSI Query by partition.
        let resp = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("WakeIndex")
            .key_condition_expression("wake_pk = :p AND wake_sk < :u")
            .expression_attribute_values(":p", s(keys::delivery_wake_pk(partition)))
            .expression_attribute_values(":u", s(keys::wake_instant(before)))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.Query", e))?;
        let mut due = Vec::new();
        for item in resp.items.unwrap_or_default() {
            let sk = item
                .get("wake_sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            match keys::parse_delivery_wake_sk(&sk) {
                Some((tenant, webhook_id, delivery_id)) => due.push(DeliveryJob {
                    tenant,
                    webhook_id,
                    delivery_id,
                }),
                None => tracing::warn!(wake_sk = %sk, "unreadable delivery WakeIndex key skipped"),
            }
        }
        let next = match resp.last_evaluated_key {
            None => None,
            Some(k) => {
                let map: HashMap<String, String> = k
                    .into_iter()
                    .filter_map(|(name, v)| v.as_s().ok().map(|x| (name, x.clone())))
                    .collect();
                Some(encode_cursor(
                    &serde_json::to_string(&map).map_err(|e| DomainError::Internal(e.to_string()))?,
                ))
            }
        };
        Ok((due, next))
    }

    fn delivery_partitions(&self) -> u32 {
        keys::DELIVERY_WAKE_PARTITIONS
    }
}
