//! The read helpers: one item by key, and the one Query helper through which every list and scan reads one page of one partition through it and gets
//! typed items back. Cursors carry only the sort key; the partition key is always rebuilt from the
//! caller's tenant, so a cursor can never lead into another tenant's data.

use super::{decode_cursor, encode_cursor, key, s, Item};
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use aws_sdk_dynamodb::types::AttributeValue;
use cg_domain::page::Page;
use cg_domain::Result;
use serde::de::DeserializeOwned;

/// One page of one partition: which sort keys, from where, how many, in which order.
#[derive(Debug, Clone)]
pub(crate) struct PartitionQuery<'a> {
    pk: String,
    sk_prefix: Option<&'a str>,
    start_sk: Option<String>,
    beyond_sk: Option<String>,
    limit: Option<u32>,
    newest_first: bool,
    consistent: bool,
    projection: Option<&'a str>,
    between: Option<(String, String)>,
    filter: Option<(String, Vec<(String, AttributeValue)>)>,
}

impl<'a> PartitionQuery<'a> {
    /// Every item of the partition `pk`, ascending, eventually consistent, as many as fit 1 MB.
    pub fn new(pk: String) -> Self {
        PartitionQuery {
            pk,
            sk_prefix: None,
            start_sk: None,
            beyond_sk: None,
            limit: None,
            newest_first: false,
            consistent: false,
            projection: None,
            between: None,
            filter: None,
        }
    }

    /// Only sort keys starting with `prefix` (`begins_with(SK, prefix)`).
    pub fn prefix(mut self, prefix: &'a str) -> Self {
        self.sk_prefix = Some(prefix);
        self
    }

    /// Resume after this sort key.
    pub fn after(mut self, sk: Option<String>) -> Self {
        self.start_sk = sk;
        self
    }

    /// Only sort keys strictly beyond `sk` in the read's order (`SK > :beyond`, or `<` newest first):
    /// unlike [`after`](Self::after), `sk` need not be an item's key (a search resumes at an id of any
    /// partition). Not combined with [`prefix`](Self::prefix).
    pub fn beyond(mut self, sk: Option<String>) -> Self {
        self.beyond_sk = sk;
        self
    }

    /// At most `n` items.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// Descending sort keys (ids and times that grow: newest first).
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// A strongly consistent read.
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Only sort keys from `lo` to `hi`, both inclusive (`SK BETWEEN :lo AND :hi`); not combined with
    /// [`prefix`](Self::prefix) or [`beyond`](Self::beyond). The caller keeps `lo <= hi`.
    pub fn between(mut self, lo: String, hi: String) -> Self {
        self.between = Some((lo, hi));
        self
    }

    /// Only items matching a filter expression (read capacity is still spent on the rest, and a page
    /// may hold fewer than [`limit`](Self::limit) items while more follow).
    pub fn filter(mut self, expression: String, values: Vec<(String, AttributeValue)>) -> Self {
        self.filter = Some((expression, values));
        self
    }

    /// Only these attributes.
    pub fn project(mut self, attributes: &'a str) -> Self {
        self.projection = Some(attributes);
        self
    }
}

/// A page of items and the sort key of the last one read (`None`: the partition is exhausted).
pub(crate) struct ItemPage<T> {
    pub items: Vec<T>,
    pub last_sk: Option<String>,
}

impl<T> ItemPage<T> {
    /// As an API page: the cursor is the opaque form of the last sort key.
    pub fn into_page<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.last_sk.as_deref().map(encode_cursor),
        }
    }
}

impl Store {
    /// Reads one item by key, strongly consistent (`None`: no such item).
    pub(crate) async fn get_consistent(&self, pk: String, sk: impl Into<String>) -> Result<Option<Item>> {
        let resp = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.GetItem", e))?;
        Ok(resp.item)
    }

    /// Writes `item` unless an item has its key: `Ok(false)` when one has (the first write stands:
    /// what a redelivery or a replay of the same write finds).
    pub(crate) async fn put_if_new(&self, item: Item) -> Result<bool> {
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(super::items::attr::IS_NEW)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if super::groups::is_condition_failure(&e) => Ok(false),
            Err(e) => Err(from_sdk("dynamodb.PutItem", e)),
        }
    }

    /// Writes the item of a new record under a freshly generated id (`what` names it): an item
    /// already at that key is a defect, never an answer a client could act on.
    pub(crate) async fn create_item(&self, what: &str, item: Item) -> Result<()> {
        if self.put_if_new(item).await? {
            Ok(())
        } else {
            Err(cg_domain::DomainError::Internal(format!(
                "the key of a new {what} is taken"
            )))
        }
    }

    /// Runs one Query page and decodes every item as `T` (`what` names the item in errors).
    pub(crate) async fn query_page<T: DeserializeOwned>(
        &self,
        q: &PartitionQuery<'_>,
        what: &'static str,
    ) -> Result<ItemPage<T>> {
        let page = self.query_items(q).await?;
        let items = page
            .items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(|e| corrupt_item(what, e)))
            .collect::<Result<Vec<T>>>()?;
        Ok(ItemPage {
            items,
            last_sk: page.last_sk,
        })
    }

    /// Runs one Query page and returns the items as stored (for items decoded by hand).
    pub(crate) async fn query_items(&self, q: &PartitionQuery<'_>) -> Result<ItemPage<Item>> {
        let condition = match (q.sk_prefix.is_some(), q.beyond_sk.is_some(), q.newest_first) {
            _ if q.between.is_some() => "PK = :pk AND SK BETWEEN :lo AND :hi",
            (true, _, _) => "PK = :pk AND begins_with(SK, :prefix)",
            (false, true, false) => "PK = :pk AND SK > :beyond",
            (false, true, true) => "PK = :pk AND SK < :beyond",
            (false, false, _) => "PK = :pk",
        };
        let mut req = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", s(&q.pk))
            .set_exclusive_start_key(q.start_sk.clone().map(|sk| key(q.pk.clone(), sk)))
            .scan_index_forward(!q.newest_first)
            .consistent_read(q.consistent)
            .set_limit(q.limit.map(|n| n as i32))
            .set_projection_expression(q.projection.map(str::to_owned));
        if let Some((lo, hi)) = &q.between {
            req = req
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi));
        } else if let Some(p) = q.sk_prefix {
            req = req.expression_attribute_values(":prefix", s(p));
        } else if let Some(b) = &q.beyond_sk {
            req = req.expression_attribute_values(":beyond", s(b));
        }
        if let Some((expression, values)) = &q.filter {
            req = req.filter_expression(expression);
            for (name, value) in values {
                req = req.expression_attribute_values(name, value.clone());
            }
        }
        let resp = req.send().await.map_err(|e| from_sdk("dynamodb.Query", e))?;
        let items = resp.items.unwrap_or_default();
        let last_sk = resp
            .last_evaluated_key
            .and_then(|mut k| k.remove("SK"))
            .and_then(|v| v.as_s().ok().cloned());
        Ok(ItemPage { items, last_sk })
    }
}

/// The sort key an API cursor resumes after. A cursor is a position in the list's key order: one the
/// list issued resumes exactly after its item; any other position the contract allows is clamped to
/// the list's key range (before it: the first page; after it or not an id of the list: an empty last
/// page), so a schema-valid cursor is never an error and never reads outside the list.
pub(crate) fn cursor_sk(cursor: Option<&str>, prefix: &str, valid: impl Fn(&str) -> bool) -> Result<Option<String>> {
    let Some(c) = cursor else { return Ok(None) };
    Ok(clamp_sk(decode_cursor(c)?, prefix, valid))
}

/// A position clamped to the keys that start with `prefix` (see [`cursor_sk`]).
pub(crate) fn clamp_sk(sk: String, prefix: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
    match sk.strip_prefix(prefix) {
        Some(rest) if valid(rest) => Some(sk),
        _ if sk.as_str() < prefix => None,
        _ => Some(past_all(prefix)),
    }
}

/// A sort key after every key that starts with `prefix` (U+10FFFF is the largest UTF-8 character).
pub(crate) fn past_all(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn every_position_is_clamped_to_the_list() {
        let ok = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
        assert_eq!(
            clamp_sk("G#abc".into(), "G#", ok),
            Some("G#abc".into()),
            "an issued cursor resumes after its item"
        );
        assert_eq!(clamp_sk("A".into(), "G#", ok), None, "before the list: the first page");
        assert_eq!(
            clamp_sk("Z".into(), "G#", ok),
            Some(past_all("G#")),
            "after the list: the end"
        );
        assert_eq!(
            clamp_sk("G#a b".into(), "G#", ok),
            Some(past_all("G#")),
            "not an id of the list: the end"
        );
        assert!(past_all("G#").starts_with("G#") && past_all("G#").as_str() > "G#zzzz");
        // Every cursor the OpenAPI pattern allows decodes.
        for c in ["0A", "000", "0000", "AB_-", "__", "-_-_-_"] {
            assert!(decode_cursor_for_test(c).is_ok(), "{c}");
        }
        assert!(
            decode_cursor_for_test("0").is_err(),
            "one character is no base64 (the pattern excludes it)"
        );
    }

    fn decode_cursor_for_test(c: &str) -> Result<String> {
        super::super::decode_cursor(c)
    }
}
