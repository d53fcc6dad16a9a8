//! The events Lambda delivers, in the documented shapes: API Gateway HTTP API payload format 2.0 with a
//! JWT authorizer's claims (docs.aws.amazon.com/apigateway/latest/developerguide/
//! http-api-develop-integrations-lambda.html), SQS batches (lambda/latest/dg/with-sqs.html) and
//! EventBridge scheduled events; and the HTTP response an API function returns.

use crate::{ACCOUNT, REGION};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// An HTTP request to one route of the HttpApi, as the JWT authorizer passes it on.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The route's path template (`/customers/{customerId}`).
    pub route: String,
    /// The concrete path (`/customers/c-1`).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
    /// Sends the body base64-encoded, as API Gateway does for binary media types.
    pub base64: bool,
    /// The verified token's claims; `None` for a route without authorizer (none here).
    pub claims: Option<BTreeMap<String, String>>,
    pub bearer: Option<String>,
}

/// Claims the way the HttpApi JWT authorizer forwards a token of `tenant` (every value a string).
pub fn claims(tenant: &str) -> BTreeMap<String, String> {
    let now = chrono::Utc::now().timestamp();
    [
        ("iss", "https://issuer.example.com/".to_owned()),
        ("aud", "customer-groups".to_owned()),
        ("sub", format!("{tenant}-user")),
        ("tenant_id", tenant.to_owned()),
        ("iat", now.to_string()),
        ("exp", (now + 3600).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path parameters of `path` under the template `route`.
fn path_parameters(route: &str, path: &str) -> Map<String, Value> {
    route
        .trim_matches('/')
        .split('/')
        .zip(path.trim_matches('/').split('/'))
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), Value::String(p.to_owned())))
        })
        .collect()
}

impl HttpRequest {
    /// A request of `tenant` to `method route`, at the concrete `path`.
    pub fn new(method: &str, route: &str, path: &str, tenant: &str) -> HttpRequest {
        HttpRequest {
            method: method.to_owned(),
            route: route.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            body: None,
            base64: false,
            claims: Some(claims(tenant)),
            bearer: Some(cg_local::auth::issue("runtime-test", tenant, 3600)),
        }
    }

    pub fn query(mut self, name: &str, value: &str) -> HttpRequest {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: &Value) -> HttpRequest {
        self.body = Some(body.to_string());
        self
    }

    /// The payload format 2.0 event.
    pub fn event(&self) -> Value {
        let now = chrono::Utc::now();
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut query_params: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &self.query {
            query_params.entry(k).or_default().push(v);
        }
        let domain = format!("r4nd0m1d.execute-api.{REGION}.amazonaws.com");
        let mut headers = Map::new();
        for (k, v) in [
            ("accept", "application/json".to_owned()),
            ("host", domain.clone()),
            ("user-agent", "runtime-contract-test".to_owned()),
            (
                "x-amzn-trace-id",
                format!("Root=1-{:08x}-{}", now.timestamp(), "0".repeat(24)),
            ),
            ("x-forwarded-for", "198.51.100.7".to_owned()),
            ("x-forwarded-port", "443".to_owned()),
            ("x-forwarded-proto", "https".to_owned()),
        ] {
            headers.insert(k.to_owned(), Value::String(v));
        }
        if let Some(token) = &self.bearer {
            headers.insert("authorization".into(), Value::String(format!("Bearer {token}")));
        }
        if let Some(body) = &self.body {
            headers.insert("content-type".into(), Value::String("application/json".into()));
            headers.insert("content-length".into(), Value::String(body.len().to_string()));
        }
        let body = self.body.as_ref().map(|b| {
            if self.base64 {
                base64::engine::general_purpose::STANDARD.encode(b)
            } else {
                b.clone()
            }
        });
        let mut event = json!({
            "version": "2.0",
            "routeKey": format!("{} {}", self.method, self.route),
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "r4nd0m1d",
                "domainName": domain,
                "domainPrefix": "r4nd0m1d",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "198.51.100.7",
                    "userAgent": "runtime-contract-test"
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": format!("{} {}", self.method, self.route),
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.timestamp_millis()
            },
            "isBase64Encoded": self.base64
        });
        if let Some(claims) = &self.claims {
            event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        if !query_params.is_empty() {
            event["queryStringParameters"] = query_params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v.join(","))))
                .collect::<Map<_, _>>()
                .into();
        }
        let params = path_parameters(&self.route, &self.path);
        if !params.is_empty() {
            event["pathParameters"] = params.into();
        }
        if let Some(body) = body {
            event["body"] = Value::String(body);
        }
        event
    }
}

/// What an API function answered: the payload format 2.0 response, its body parsed as JSON.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Value,
    pub raw: String,
}

impl HttpResponse {
    /// Reads a function result; an error says why it is not an HTTP API response.
    pub fn parse(result: &[u8]) -> Result<HttpResponse, String> {
        let v: Value = serde_json::from_slice(result).map_err(|e| format!("the result is not JSON: {e}"))?;
        let status = v["statusCode"]
            .as_u64()
            .ok_or_else(|| format!("no statusCode in {v}"))? as u16;
        let text = v["body"].as_str().unwrap_or_default();
        let raw = if v["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("body is not base64: {e}"))?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            text.to_owned()
        };
        Ok(HttpResponse {
            status,
            headers: v["headers"].as_object().cloned().unwrap_or_default(),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// The ARN of a local queue.
pub fn queue_arn(queue_name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}")
}

/// One SQS record as the event source mapping delivers it.
pub fn sqs_record(
    message_id: &str,
    receipt_handle: &str,
    body: &str,
    attributes: Map<String, Value>,
    queue_arn: &str,
) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION
    })
}

/// The attributes of a message received `receive_count` times.
pub fn sqs_attributes(receive_count: u32) -> Map<String, Value> {
    let now = chrono::Utc::now().timestamp_millis().to_string();
    [
        ("ApproximateReceiveCount", receive_count.to_string()),
        ("SentTimestamp", now.clone()),
        ("SenderId", "AROAEXAMPLE:runtime-test".to_owned()),
        ("ApproximateFirstReceiveTimestamp", now),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::String(v)))
    .collect()
}

/// An SQS event of the messages received from a queue (with `AttributeNames: All`).
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let mut r = sqs_record(
                m.message_id().unwrap_or_default(),
                m.receipt_handle().unwrap_or_default(),
                m.body().unwrap_or_default(),
                attributes,
                queue_arn,
            );
            r["md5OfBody"] = Value::String(m.md5_of_body().unwrap_or_default().to_owned());
            r
        })
        .collect();
    json!({ "Records": records })
}

/// An EventBridge "Scheduled Event" of the rule `rule`, as a schedule without `Input` delivers it.
pub fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_event_carries_route_parameters_query_and_claims() {
        let e = HttpRequest::new("GET", "/groups/{groupId}/members", "/groups/g-1/members", "acme")
            .query("cursor", "a+b/c=")
            .event();
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "GET /groups/{groupId}/members");
        assert_eq!(e["pathParameters"], json!({"groupId": "g-1"}));
        assert_eq!(e["rawQueryString"], "cursor=a%2Bb%2Fc%3D");
        assert_eq!(e["queryStringParameters"]["cursor"], "a+b/c=");
        assert_eq!(e["requestContext"]["authorizer"]["jwt"]["claims"]["tenant_id"], "acme");
        assert_eq!(e["requestContext"]["http"]["method"], "GET");
        assert!(e.get("body").is_none());
    }
}
