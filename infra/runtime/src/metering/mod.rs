//! A metering proxy between the function binaries (their `AWS_ENDPOINT_URL`) and moto: it forwards
//! every request unchanged and prices it as AWS would bill it. DynamoDB requests get read and write
//! units from the sizes of the items they read and write (`capacity`); for a write it reads the item
//! before (and after an update) from moto itself, outside the counts, because a write costs the larger
//! image. SQS requests are counted in 64 KB billing chunks, S3 requests by operation with their bytes.
//! Counts go to the current phase (`Meter::phase`).

pub mod capacity;
mod dynamodb;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Counts of one operation.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OperationCount {
    pub requests: u64,
    /// SQS: billed requests (64 KB chunks); otherwise equal to `requests`.
    pub billed_requests: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// Write units of the WakeIndex (a GSI is billed like its table).
    pub index_write_units: f64,
    /// Request and response body bytes (S3 uploads and downloads).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Requests whose read size is only the projected items (a lower bound).
    pub projected: u64,
    /// Requests that failed (conditions, cancelled transactions), priced as if they succeeded.
    pub failed: u64,
}

/// Everything counted in one phase, by service and operation.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PhaseCounts {
    pub dynamodb: BTreeMap<String, OperationCount>,
    pub sqs: BTreeMap<String, OperationCount>,
    pub s3: BTreeMap<String, OperationCount>,
    /// Time spent waiting for moto, summed over requests.
    pub upstream_ms: f64,
    /// Time the proxy itself added to the functions' requests (its own reads of item images, its
    /// parsing): the cost model takes it out of the measured durations.
    pub metering_ms: f64,
}

#[derive(Default)]
struct Counts {
    phase: String,
    phases: BTreeMap<String, PhaseCounts>,
}

/// The proxy's counters; clones share them.
#[derive(Clone, Default)]
pub struct Meter {
    counts: Arc<Mutex<Counts>>,
}

impl Meter {
    /// Counts what follows under `name` (added to what it already has).
    pub fn phase(&self, name: &str) {
        self.counts.lock().expect("meter lock").phase = name.to_owned();
    }

    /// The counts of every phase so far.
    pub fn phases(&self) -> BTreeMap<String, PhaseCounts> {
        self.counts.lock().expect("meter lock").phases.clone()
    }

    fn record(&self, f: impl FnOnce(&mut PhaseCounts)) {
        let mut c = self.counts.lock().expect("meter lock");
        let phase = c.phase.clone();
        f(c.phases.entry(phase).or_default());
    }
}

/// A request forwarded to moto.
pub(crate) struct Upstream {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    /// Sends a request to moto and returns status, headers and body.
    pub(crate) async fn send(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<(http::response::Parts, Bytes), String> {
        let uri = format!(
            "{}{}",
            self.base,
            parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        let mut req = http::Request::builder().method(parts.method.clone()).uri(uri);
        for (k, v) in &parts.headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts, body))
    }
}

/// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`http://127.0.0.1:PORT`), on the
/// current Tokio runtime until it ends. Returns the proxy's URL.
pub async fn start(upstream: &str, meter: Meter) -> std::io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let upstream = Arc::new(Upstream {
        base: upstream.trim_end_matches('/').to_owned(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (upstream, meter) = (upstream.clone(), meter.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (upstream, meter) = (upstream.clone(), meter.clone());
                    async move { Ok::<_, std::convert::Infallible>(forward(&upstream, &meter, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

async fn forward(
    upstream: &Upstream,
    meter: &Meter,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // DynamoDB writes are priced on the item before them, read from moto first.
    let metering = Instant::now();
    let before = if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        dynamodb::before(upstream, &parts, op, &body).await
    } else {
        Default::default()
    };
    let mut metered = metering.elapsed();
    let started = Instant::now();
    let result = upstream.send(&parts, body.clone()).await;
    let waited = started.elapsed();
    let metering = Instant::now();
    let (resp_parts, resp_body) = match result {
        Ok(r) => r,
        Err(e) => {
            let mut resp = hyper::Response::new(Full::new(Bytes::from(e)));
            *resp.status_mut() = http::StatusCode::BAD_GATEWAY;
            return resp;
        }
    };
    let ok = resp_parts.status.is_success();
    if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
        let count = dynamodb::price(upstream, &parts, op, &body, &resp_body, ok, before).await;
        metered += metering.elapsed();
        record(meter, waited, metered, |p| {
            merge(p.dynamodb.entry(op.to_owned()).or_default(), &count)
        });
    } else if let Some(op) = target.strip_prefix("AmazonSQS.") {
        let chunks = (body.len() as u64).div_ceil(64 * 1024).max(1);
        record(meter, waited, metered, |p| {
            let c = p.sqs.entry(op.to_owned()).or_default();
            c.requests += 1;
            c.billed_requests += chunks;
            c.failed += u64::from(!ok);
        });
    } else {
        let op = s3_operation(&parts);
        record(meter, waited, metered, |p| {
            let c = p.s3.entry(op.to_owned()).or_default();
            c.requests += 1;
            c.billed_requests += 1;
            c.bytes_in += body.len() as u64;
            c.bytes_out += resp_body.len() as u64;
            c.failed += u64::from(!ok);
        });
    }
    hyper::Response::from_parts(resp_parts, Full::new(resp_body))
}

fn record(meter: &Meter, waited: Duration, metered: Duration, f: impl FnOnce(&mut PhaseCounts)) {
    meter.record(|p| {
        p.upstream_ms += waited.as_secs_f64() * 1e3;
        p.metering_ms += metered.as_secs_f64() * 1e3;
        f(p);
    });
}

fn merge(into: &mut OperationCount, c: &OperationCount) {
    into.requests += c.requests;
    into.billed_requests += c.billed_requests;
    into.read_units += c.read_units;
    into.write_units += c.write_units;
    into.index_write_units += c.index_write_units;
    into.bytes_in += c.bytes_in;
    into.bytes_out += c.bytes_out;
    into.projected += c.projected;
    into.failed += c.failed;
}

/// Every item of a table, straight from moto (not counted): for the storage the model prices.
pub async fn scan_table(
    upstream: &str,
    region: &str,
    table: &str,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut items = Vec::new();
    let mut start: Option<serde_json::Value> = None;
    loop {
        let mut body = serde_json::json!({"TableName": table});
        if let Some(key) = start.take() {
            body["ExclusiveStartKey"] = key;
        }
        let req = http::Request::post(upstream.trim_end_matches('/'))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.Scan")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=test/20260101/{region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let page: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        items.extend(
            page["Items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.as_object().cloned()),
        );
        match page.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

/// The S3 REST operation of a path-style request.
fn s3_operation(parts: &http::request::Parts) -> &'static str {
    let query = parts.uri.query().unwrap_or_default();
    let has = |k: &str| query.split('&').any(|p| p == k || p.starts_with(&format!("{k}=")));
    let object = parts.uri.path().trim_matches('/').contains('/');
    match (parts.method.as_str(), object) {
        ("PUT", true) if has("partNumber") => "UploadPart",
        ("PUT", true) => "PutObject",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true) if has("uploadId") => "CompleteMultipartUpload",
        ("DELETE", true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true) => "DeleteObject",
        ("GET", true) if has("uploadId") => "ListParts",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("GET", false) if has("uploads") => "ListMultipartUploads",
        ("GET", false) => "ListObjects",
        ("PUT", false) => "CreateBucket",
        _ => "Other",
    }
}
