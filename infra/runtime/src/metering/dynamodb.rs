//! Prices one DynamoDB request from its JSON body, its response and, for writes, the item images
//! read from moto around it.

use super::capacity::{index_entry, index_write_units, item_size, read_units, write_units};
use super::{OperationCount, Upstream};
use bytes::Bytes;
use serde_json::{json, Map, Value};

const TABLE_KEYS: [&str; 2] = ["PK", "SK"];
const WAKE_INDEX_KEYS: [&str; 2] = ["wake_pk", "wake_sk"];

type Item = Map<String, Value>;

/// One item a write touches: its table, key, the image before, and the new image when the request
/// carries it whole (Put).
#[derive(Debug, Clone)]
pub(super) struct Touched {
    table: String,
    key: Item,
    before: Option<Item>,
    put: Option<Item>,
    /// Transactional: twice the units.
    transactional: bool,
}

fn key_of(item: &Item) -> Item {
    TABLE_KEYS
        .iter()
        .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

/// The items a write will touch, each read from moto before it runs.
pub(super) async fn before(upstream: &Upstream, parts: &http::request::Parts, op: &str, body: &[u8]) -> Vec<Touched> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let table = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_owned();
    let obj = |v: &Value| v.as_object().cloned().unwrap_or_default();
    let mut touched = Vec::new();
    match op {
        "PutItem" => touched.push((table(&req), key_of(&obj(&req["Item"])), Some(obj(&req["Item"])), false)),
        "UpdateItem" | "DeleteItem" => touched.push((table(&req), obj(&req["Key"]), None, false)),
        "BatchWriteItem" => {
            for (t, requests) in req["RequestItems"].as_object().into_iter().flatten() {
                for r in requests.as_array().into_iter().flatten() {
                    if let Some(item) = r["PutRequest"]["Item"].as_object() {
                        touched.push((t.clone(), key_of(item), Some(item.clone()), false));
                    } else if let Some(key) = r["DeleteRequest"]["Key"].as_object() {
                        touched.push((t.clone(), key.clone(), None, false));
                    }
                }
            }
        }
        "TransactWriteItems" => {
            for action in req["TransactItems"].as_array().into_iter().flatten() {
                if let Some(put) = action.get("Put") {
                    touched.push((table(put), key_of(&obj(&put["Item"])), Some(obj(&put["Item"])), true));
                }
                for kind in ["Update", "Delete", "ConditionCheck"] {
                    if let Some(a) = action.get(kind) {
                        touched.push((table(a), obj(&a["Key"]), None, true));
                    }
                }
            }
        }
        _ => return Vec::new(),
    }
    let mut out = Vec::with_capacity(touched.len());
    for (table, key, put, transactional) in touched {
        let before = get_item(upstream, parts, &table, &key).await;
        out.push(Touched {
            table,
            key,
            before,
            put,
            transactional,
        });
    }
    out
}

/// A consistent GetItem straight to moto (not counted).
async fn get_item(upstream: &Upstream, parts: &http::request::Parts, table: &str, key: &Item) -> Option<Item> {
    let body = json!({"TableName": table, "Key": key, "ConsistentRead": true}).to_string();
    let resp = shadow(upstream, parts, "GetItem", body).await?;
    resp["Item"].as_object().cloned()
}

async fn shadow(upstream: &Upstream, parts: &http::request::Parts, op: &str, body: String) -> Option<Value> {
    let mut parts = parts.clone();
    parts.method = http::Method::POST;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    parts.headers.insert(
        "x-amz-target",
        http::HeaderValue::from_str(&format!("DynamoDB_20120810.{op}")).ok()?,
    );
    let (resp, bytes) = upstream.send(&parts, Bytes::from(body)).await.ok()?;
    if !resp.status.is_success() {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// The `#name` and `:value` placeholders an expression uses.
fn placeholders(expression: &str, sigil: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expression.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == sigil {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(expression[i..end].to_owned());
        }
    }
    out
}

/// A Query's page as read before projection and filtering: the same request less both, run on moto.
async fn unprojected_query(upstream: &Upstream, parts: &http::request::Parts, req: &Value) -> Option<Vec<Item>> {
    let mut q = req.as_object()?.clone();
    for k in [
        "ProjectionExpression",
        "Select",
        "FilterExpression",
        "AttributesToGet",
        "ReturnConsumedCapacity",
    ] {
        q.remove(k);
    }
    let key_condition = q
        .get("KeyConditionExpression")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    for (field, sigil) in [("ExpressionAttributeNames", '#'), ("ExpressionAttributeValues", ':')] {
        let used = placeholders(&key_condition, sigil);
        if let Some(Value::Object(m)) = q.get_mut(field) {
            m.retain(|k, _| used.contains(k));
            if m.is_empty() {
                q.remove(field);
            }
        }
    }
    let resp = shadow(upstream, parts, "Query", Value::Object(q).to_string()).await?;
    Some(items(&resp["Items"]))
}

fn items(v: &Value) -> Vec<Item> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_object().cloned())
        .collect()
}

fn is_projected(req: &Value) -> bool {
    req.get("ProjectionExpression").is_some()
        || req.get("AttributesToGet").is_some()
        || req.get("FilterExpression").is_some()
        || req
            .get("Select")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "ALL_ATTRIBUTES")
}

/// Prices a request that moto answered.
pub(super) async fn price(
    upstream: &Upstream,
    parts: &http::request::Parts,
    op: &str,
    body: &[u8],
    response: &[u8],
    ok: bool,
    touched: Vec<Touched>,
) -> OperationCount {
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let resp: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
    let mut c = OperationCount {
        requests: 1,
        billed_requests: 1,
        failed: u64::from(!ok),
        ..OperationCount::default()
    };
    let consistent = |v: &Value| v["ConsistentRead"].as_bool().unwrap_or(false);
    match op {
        "GetItem" => {
            let item = if is_projected(&req) {
                c.projected += 1;
                let key = req["Key"].as_object().cloned().unwrap_or_default();
                get_item(upstream, parts, req["TableName"].as_str().unwrap_or_default(), &key).await
            } else {
                resp["Item"].as_object().cloned()
            };
            c.read_units = read_units(item.as_ref().map_or(0, item_size), consistent(&req));
        }
        "BatchGetItem" => {
            for (table, keys) in req["RequestItems"].as_object().into_iter().flatten() {
                let strong = consistent(keys);
                if is_projected(keys) {
                    c.projected += 1;
                    for key in keys["Keys"].as_array().into_iter().flatten() {
                        let key = key.as_object().cloned().unwrap_or_default();
                        let item = get_item(upstream, parts, table, &key).await;
                        // A key that finds nothing still costs a read.
                        c.read_units += read_units(item.as_ref().map_or(0, item_size), strong);
                    }
                } else {
                    let found = items(&resp["Responses"][table]);
                    let asked = keys["Keys"].as_array().map_or(0, Vec::len);
                    c.read_units += found.iter().map(|i| read_units(item_size(i), strong)).sum::<f64>();
                    c.read_units += asked.saturating_sub(found.len()) as f64 * read_units(0, strong);
                }
            }
        }
        "Query" | "Scan" => {
            let read = if is_projected(&req) {
                c.projected += 1;
                unprojected_query(upstream, parts, &req).await.unwrap_or_default()
            } else {
                items(&resp["Items"])
            };
            c.read_units = read_units(read.iter().map(item_size).sum(), consistent(&req));
        }
        "TransactGetItems" => {
            for r in items(&resp["Responses"]) {
                let item = r.get("Item").and_then(Value::as_object).cloned().unwrap_or_default();
                c.read_units += 2.0 * read_units(item_size(&item), true);
            }
        }
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems" => {
            for t in touched {
                let after = match (&t.put, op) {
                    _ if !ok => t.before.clone(),
                    (Some(put), _) => Some(put.clone()),
                    (None, "DeleteItem" | "BatchWriteItem") => None,
                    (None, _) if is_delete(&req, &t) => None,
                    (None, _) if is_condition_check(&req, &t) => t.before.clone(),
                    (None, _) => get_item(upstream, parts, &t.table, &t.key).await,
                };
                let larger = t
                    .before
                    .as_ref()
                    .map_or(0, item_size)
                    .max(after.as_ref().map_or(0, item_size));
                let factor = if t.transactional { 2.0 } else { 1.0 };
                c.write_units += factor * write_units(larger) as f64;
                if ok {
                    let entry =
                        |i: &Option<Item>| i.as_ref().and_then(|i| index_entry(i, &TABLE_KEYS, &WAKE_INDEX_KEYS));
                    c.index_write_units += index_write_units(entry(&t.before).as_ref(), entry(&after).as_ref()) as f64;
                }
            }
        }
        _ => {}
    }
    c
}

fn transact_action(req: &Value, t: &Touched, kind: &str) -> bool {
    req["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.get(kind))
        .any(|a| a["Key"].as_object() == Some(&t.key))
}

fn is_delete(req: &Value, t: &Touched) -> bool {
    transact_action(req, t, "Delete")
}

fn is_condition_check(req: &Value, t: &Touched) -> bool {
    transact_action(req, t, "ConditionCheck")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_read_out_of_an_expression() {
        assert_eq!(
            placeholders("#pk = :pk AND begins_with(SK, :p_1)", ':'),
            vec![":pk", ":p_1"]
        );
        assert_eq!(placeholders("#pk = :pk", '#'), vec!["#pk"]);
    }
}
