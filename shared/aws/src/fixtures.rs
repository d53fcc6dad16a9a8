//! Bulk loading for tests and the export benchmark only (feature `fixtures`, never in a Lambda): writes
//! member rows straight into a group's partition, 25 per BatchWriteItem, without customer items or the
//! per-customer `groups` sets the service keeps. The export reads nothing else, so this is enough to
//! export a million members without creating a million customers on the emulator first.

use crate::dynamo::member_item;
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use cg_domain::customer::Customer;
use cg_domain::group::Member;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::{DomainError, Result};
use std::time::Duration;

/// BatchWriteItem's limit.
const BATCH: usize = 25;

/// Writes the member rows with `parallel` requests in flight and adds their number to the group's count.
pub async fn load_member_rows(
    store: &Store,
    t: &TenantId,
    g: &GroupId,
    members: &[Member],
    parallel: usize,
) -> Result<()> {
    let mut batches = members.chunks(BATCH);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        while in_flight.len() < parallel.max(1) {
            let Some(batch) = batches.next() else { break };
            let requests = batch
                .iter()
                .map(|m| {
                    let put = PutRequest::builder()
                        .set_item(Some(member_item(t, g, m)?))
                        .build()
                        .map_err(|e| DomainError::Internal(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>>>()?;
            in_flight.spawn(write_batch(store.clone(), requests));
        }
        match in_flight.join_next().await {
            Some(done) => done.map_err(|e| DomainError::Internal(e.to_string()))??,
            None => break,
        }
    }
    store
        .ddb
        .update_item()
        .table_name(&store.table)
        .set_key(Some(crate::dynamo::key(
            crate::keys::tenant_pk(t),
            crate::keys::group_sk(g),
        )))
        .update_expression("ADD member_count :n")
        .expression_attribute_values(":n", crate::dynamo::n(members.len()))
        .send()
        .await
        .map_err(|e| from_sdk("dynamodb.UpdateItem", e))?;
    Ok(())
}

/// Writes customer items straight into their partitions (no identity items, no tenant registration),
/// 25 per BatchWriteItem with `parallel` requests in flight: a population for search tests and benches.
pub async fn load_customers(store: &Store, t: &TenantId, customers: &[Customer], parallel: usize) -> Result<()> {
    let mut batches = customers.chunks(BATCH);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        while in_flight.len() < parallel.max(1) {
            let Some(batch) = batches.next() else { break };
            let requests = batch
                .iter()
                .map(|c| {
                    let put = PutRequest::builder()
                        .set_item(Some(store.customer_item(t, c)?))
                        .build()
                        .map_err(|e| DomainError::Internal(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>>>()?;
            in_flight.spawn(write_batch(store.clone(), requests));
        }
        match in_flight.join_next().await {
            Some(done) => done.map_err(|e| DomainError::Internal(e.to_string()))??,
            None => break,
        }
    }
    Ok(())
}

async fn write_batch(store: Store, mut pending: Vec<WriteRequest>) -> Result<()> {
    let mut round = 0u32;
    while !pending.is_empty() {
        let resp = store
            .ddb
            .batch_write_item()
            .request_items(&store.table, pending)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.BatchWriteItem", e))?;
        pending = resp
            .unprocessed_items
            .and_then(|mut u| u.remove(&store.table))
            .unwrap_or_default();
        round += 1;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
        }
    }
    Ok(())
}
