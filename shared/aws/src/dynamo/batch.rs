//! The multi-item requests every store uses: transactions (with which items failed their condition),
//! BatchGetItem and BatchWriteItem deletes (retrying what DynamoDB left unprocessed).

use super::{build_err, failed_conditions, Item};
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, TransactWriteItem, WriteRequest};
use cg_domain::{DomainError, Result};
use std::time::Duration;

/// BatchGetItem's limit of keys per request.
const BATCH_GET_MAX: usize = 100;
/// BatchWriteItem's limit of requests per call.
const BATCH_WRITE_MAX: usize = 25;

impl Store {
    /// Runs a transaction; on cancellation returns which items failed their condition.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Vec<bool>>> {
        let mut attempt = 0;
        loop {
            match self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            {
                Ok(_) => return Ok(Ok(())),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), TransactWriteItemsError::TransactionCanceledException(_)) =>
                {
                    let TransactWriteItemsError::TransactionCanceledException(c) = e.err() else {
                        unreachable!()
                    };
                    let failed = failed_conditions(c.cancellation_reasons());
                    if failed.iter().any(|f| *f) {
                        return Ok(Err(failed));
                    }
                    // Cancelled for a conflicting concurrent transaction, not a condition: retry briefly.
                    attempt += 1;
                    if attempt >= 4 {
                        return Err(DomainError::Unavailable("transaction kept conflicting".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                Err(e) => return Err(from_sdk("dynamodb.TransactWriteItems", e)),
            }
        }
    }

    /// Reads items by key in batches of 100, retrying unprocessed keys.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            );
            let mut round = 0u32;
            while let Some(request) = pending.take() {
                let resp = self
                    .ddb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| from_sdk("dynamodb.BatchGetItem", e))?;
                if let Some(mut items) = resp.responses {
                    out.extend(items.remove(&self.table).unwrap_or_default());
                }
                pending = resp
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    round += 1;
                    if round > 8 {
                        return Err(DomainError::Unavailable("BatchGetItem left keys unprocessed".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
                }
            }
        }
        Ok(out)
    }

    /// Deletes items by key, 25 per BatchWriteItem, retrying unprocessed ones.
    pub(crate) async fn batch_delete(&self, keys: Vec<Item>) -> Result<()> {
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
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
