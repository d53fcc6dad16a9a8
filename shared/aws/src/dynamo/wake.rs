//! `WakeIndex` on DynamoDB: the sparse GSI of customers with a `next_wake_at`, spread over 16
//! partitions (`WAKE#{shard}`), sort key `{instant}#{tenant}#{id}` so one Query per partition finds
//! every customer due at or before an instant.

use super::{decode_cursor, encode_cursor, s, Item};
use crate::keys;
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use cg_domain::ids::{CustomerId, TenantId};
use cg_domain::page::bad_cursor;
use cg_domain::ports::{DuePage, WakeIndex};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

impl WakeIndex for Store {
    async fn due_customers(&self, partition: u32, now: DateTime<Utc>, cursor: Option<String>) -> Result<DuePage> {
        let start: Option<Item> = match cursor {
            None => None,
            Some(c) => {
                let map: HashMap<String, String> =
                    serde_json::from_str(&decode_cursor(&c)?).map_err(|_| bad_cursor())?;
                Some(map.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
            }
        };
        // Sort keys are `{instant}#{tenant}#{id}`; '#' sorts before '$', so this bound includes `now`.
        let upper = format!("{}$", keys::wake_instant(now));
        let resp = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("WakeIndex")
            .key_condition_expression("wake_pk = :p AND wake_sk < :u")
            .expression_attribute_values(":p", s(keys::wake_pk_for_shard(partition)))
            .expression_attribute_values(":u", s(upper))
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
            let mut parts = sk.splitn(3, '#');
            let (_, tenant, id) = (parts.next(), parts.next(), parts.next());
            match (tenant.map(TenantId::parse), id.map(CustomerId::parse)) {
                (Some(Ok(t)), Some(Ok(c))) => due.push((t, c)),
                _ => tracing::warn!(wake_sk = %sk, "unreadable WakeIndex key skipped"),
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
}
