//! DynamoDB implementations of the domain's stores, over the one table (keys in `crate::keys`).

mod balances;
mod batch;
mod bulk;
mod bulk_actions;
mod count_jobs;
mod customers;
pub mod destinations;
mod exports;
mod filters;
mod groups;
mod history;
mod items;
mod jobs;
mod members;
pub mod membership;
mod merge;
mod page;
mod search;
mod size;
#[cfg(feature = "fixtures")]
pub(crate) use size::item_size;
mod tenants;
pub(crate) mod timeline;
mod wake;

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use base64::Engine as _;
use cg_domain::page::bad_cursor;
use cg_domain::Result;
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit of items per transaction.
pub(crate) const MAX_TRANSACTION_ITEMS: usize = 100;

/// A request builder's error (a missing required field: a bug, never input).
pub(crate) fn build_err(e: impl std::fmt::Display) -> cg_domain::DomainError {
    cg_domain::DomainError::Internal(format!("build request: {e}"))
}

/// A transaction's Put of `item`, conditioned on no item having its key (`attribute_not_exists(PK)`).
pub(crate) fn put_new(table: &str, item: Item) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(items::attr::IS_NEW)
        .build()
        .map_err(build_err)?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build())
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A member row as stored (for the bulk loader of tests and benchmarks).
#[cfg(feature = "fixtures")]
pub(crate) fn member_item(
    t: &cg_domain::ids::TenantId,
    g: &cg_domain::ids::GroupId,
    m: &cg_domain::group::Member,
) -> Result<Item> {
    let item = items::MemberItem {
        pk: crate::keys::members_pk(t, g),
        sk: crate::keys::member_sk(&m.customer_id),
        customer_id: m.customer_id.clone(),
        profile: m.profile.clone(),
        added_at: m.added_at,
    };
    serde_dynamo::to_item(item).map_err(|e| cg_domain::DomainError::Internal(format!("encode member: {e}")))
}

/// The primary key of an item.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// Which items of a cancelled transaction failed their condition (by position).
pub(crate) fn failed_conditions(reasons: &[CancellationReason]) -> Vec<bool> {
    reasons
        .iter()
        .map(|r| r.code() == Some("ConditionalCheckFailed"))
        .collect()
}

pub(crate) fn encode_cursor(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// A cursor's position. Any URL-safe base64 text whose length is not 1 more than a multiple of 4 (the
/// OpenAPI pattern) decodes, trailing bits ignored and invalid UTF-8 replaced, so every cursor the
/// contract allows is a position: the lists then clamp it to their key range (see `page::cursor_sk`).
pub(crate) fn decode_cursor(cursor: &str) -> Result<String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT
        .decode(cursor)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|_| bad_cursor())
}
