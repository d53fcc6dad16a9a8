//! Bulk loading for tests and the export benchmark only (feature `fixtures`, never in a Lambda): writes
//! member rows straight into a group's partition, 25 per BatchWriteItem, without customer items or the
//! per-customer `groups` sets the service keeps. The export reads nothing else, so this is enough to
//! export a million members without creating a million customers on the emulator first.

use crate::dynamo::member_item;
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
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

/// Writes customer items straight into their partitions, `parallel` BatchWriteItems in flight
/// (no identity items: give them no email, phone or external id; no tenant registration): a population
/// for the search tests and benches, and for the webhooks benchmark, whose resync then changes every
/// customer's membership.
pub async fn load_customers(
    store: &Store,
    t: &TenantId,
    customers: &[cg_domain::customer::Customer],
    parallel: usize,
) -> Result<()> {
    let mut items = Vec::with_capacity(customers.len());
    for c in customers {
        items.push(store.customer_item(t, c)?);
    }
    let mut batches = items.chunks(BATCH);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        while in_flight.len() < parallel.max(1) {
            let Some(batch) = batches.next() else { break };
            let requests = batch
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| DomainError::Internal(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>>>()?;
            in_flight.spawn(write_batch(store.clone(), requests));
        }
        match in_flight.join_next().await {
            Some(done) => done.map_err(|e| DomainError::Internal(e.to_string()))??,
            None => return Ok(()),
        }
    }
}

/// Writes customer items that are already members of `g` (their `groups` set names it) and their
/// member rows, with `parallel` BatchWriteItems in flight, and adds their number to the group's count
/// (the balance benchmark's group of 100,000 without creating each customer through the API).
pub async fn load_customers_in_group(
    store: &Store,
    t: &TenantId,
    g: &GroupId,
    customers: &[cg_domain::customer::Customer],
    parallel: usize,
) -> Result<()> {
    let members: Vec<Member> = customers
        .iter()
        .map(|c| Member {
            customer_id: c.id.clone(),
            profile: c.member_view(),
            added_at: c.created_at,
        })
        .collect();
    load_customers(store, t, customers, parallel).await?;
    load_member_rows(store, t, g, &members, parallel).await
}

/// The size DynamoDB bills for a customer's item, in bytes (the benchmarks' minimum of pages read).
pub fn customer_item_bytes(store: &Store, t: &TenantId, c: &cg_domain::customer::Customer) -> Result<usize> {
    Ok(crate::dynamo::item_size(&store.customer_item(t, c)?))
}
