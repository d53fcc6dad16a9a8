//! The webhooks benchmark (issue 16; not a timed test, `infra/bench-webhooks.sh` runs it): on the
//! local stack (moto), a dynamic group over `--customers` customers (default 5,000) is created (every
//! customer enters: one membership change each) and then redefined so every customer leaves, i.e.
//! 2 x customers changes. A receiver on 127.0.0.1 counts the HTTP requests and the changes each
//! carries. Printed: deliveries (messages) and HTTP requests per 10,000 changes, the DynamoDB and SQS
//! requests the dispatcher, delivery worker and sweep made per 10,000 changes, how long after each
//! resync job finished its last change arrived, and the delay from a single change's commit (its
//! history time) to its arrival.

use bytes::Bytes;
use cg_domain::customer::{Customer, NewCustomer};
use cg_domain::ids::TenantId;
use cg_lambda::App;
use cg_local::auth;
use cg_tests::http::Api;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod counting {
    //! Counts SDK calls by `Service.Operation` with an interceptor on the destinations' clients.
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
    use aws_smithy_runtime_api::client::interceptors::Intercept;
    use aws_smithy_runtime_api::client::orchestrator::Metadata;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::config_bag::ConfigBag;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, Default)]
    pub struct Counter(pub Arc<Mutex<BTreeMap<String, u64>>>);

    impl Intercept for Counter {
        fn name(&self) -> &'static str {
            "bench-counter"
        }

        fn read_before_serialization(
            &self,
            _ctx: &BeforeSerializationInterceptorContextRef<'_>,
            _rc: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if let Some(m) = cfg.load::<Metadata>() {
                let label = format!("{}.{}", m.service(), m.name());
                *self.0.lock().unwrap().entry(label).or_default() += 1;
            }
            Ok(())
        }
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// What the receiver saw: per request the message id, the changes' commit times and the arrival.
#[derive(Default)]
struct Seen {
    requests: u64,
    messages: BTreeSet<String>,
    arrivals: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

async fn receiver() -> (String, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let s = s.clone();
                    async move {
                        let id = req
                            .headers()
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let now = Utc::now();
                        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let mut seen = s.lock().unwrap();
                        seen.requests += 1;
                        seen.messages.insert(id);
                        for c in v["data"]["changes"].as_array().into_iter().flatten() {
                            if let Some(at) = c["at"].as_str().and_then(|a| a.parse().ok()) {
                                seen.arrivals.push((at, now));
                            }
                        }
                        let mut r = hyper::Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = hyper::StatusCode::NO_CONTENT;
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/hook"), seen)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn delays(pairs: &[(DateTime<Utc>, DateTime<Utc>)]) -> String {
    let mut ms: Vec<f64> = pairs
        .iter()
        .map(|(at, got)| (*got - *at).num_milliseconds() as f64)
        .collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms over {} changes",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms.last().copied().unwrap_or(0.0),
        ms.len()
    )
}

async fn wait_for(seen: &Arc<Mutex<Seen>>, changes: usize, limit: Duration) {
    let start = Instant::now();
    while seen.lock().unwrap().arrivals.len() < changes {
        assert!(
            start.elapsed() < limit,
            "only {} of {changes} changes arrived",
            seen.lock().unwrap().arrivals.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let customers: usize = arg("--customers").and_then(|v| v.parse().ok()).unwrap_or(5000);
    let sdk = cg_local::provision::local_sdk_config().await;
    let template = cg_local::template::load(&cg_local::template::default_path()).unwrap();
    let mut config = cg_local::provision::provision_named(&sdk, &template, &format!("-bench-{}", std::process::id()))
        .await
        .unwrap();
    config.destinations.allow_local = true;
    let app = App::new(&config).await;
    // The destinations' functions (dispatcher, delivery worker, sweep) get clients that count calls.
    let counter = counting::Counter::default();
    let mut dest = app.clone();
    let ddb = app.store.ddb.config().to_builder().interceptor(counter.clone()).build();
    let sqs = app.store.sqs.config().to_builder().interceptor(counter.clone()).build();
    let kms = app.store.kms.config().to_builder().interceptor(counter.clone()).build();
    dest.store.ddb = aws_sdk_dynamodb::Client::from_conf(ddb);
    dest.store.sqs = aws_sdk_sqs::Client::from_conf(sqs);
    dest.store.kms = aws_sdk_kms::Client::from_conf(kms);

    // API and group jobs on the plain app, destinations on the counting one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api::new(format!("http://{}", listener.local_addr().unwrap()));
    tokio::spawn(cg_local::dev_server::serve_http(app.clone(), "bench".into(), listener));
    for _ in 0..cg_local::dev_server::GROUP_JOB_POLLERS {
        tokio::spawn(cg_local::dev_server::run_workers(app.clone()));
    }
    let _dest_tasks = cg_local::destinations::start(&dest);

    let tenant = TenantId::parse("bench").unwrap();
    let t = auth::issue("bench", tenant.as_str(), 7200);
    let now = Utc::now();
    let people: Vec<Customer> = (0..customers)
        .map(|n| {
            let body = json!({"id": format!("c{n:06}"), "attributes": {"score": {"type": "number", "value": n}}});
            serde_json::from_value::<NewCustomer>(body)
                .unwrap()
                .into_customer(now)
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    cg_aws::fixtures::load_customers(&app.store, &tenant, &people, 8)
        .await
        .unwrap();
    println!(
        "loaded {customers} customers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (url, seen) = receiver().await;
    let w = api
        .call(
            "POST",
            "/webhooks",
            &t,
            Some(json!({"url": url, "event_types": ["group.member_entered", "group.member_left"]})),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.raw);
    let rule = |op: &str| json!({"attribute": {"field": "attributes.score", "op": op, "value": 0}});
    let started = Instant::now();
    let g = api
        .call(
            "POST",
            "/groups",
            &t,
            Some(json!({"name": "Everyone", "type": "dynamic", "rules": rule(">=")})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.raw);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let mut after_resync = Vec::new();
    let finished = resync_done(&api, &t, &gid).await;
    wait_for(&seen, customers, Duration::from_secs(3600)).await;
    let last = started.elapsed().as_secs_f64();
    println!("{customers} entries: the resync finished at {finished:.1} s, the last of them arrived at {last:.1} s");
    after_resync.push(last - finished);
    let started = Instant::now();
    let r = api
        .call(
            "PATCH",
            &format!("/groups/{gid}"),
            &t,
            Some(json!({"rules": rule("<")})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let finished = resync_done(&api, &t, &gid).await;
    wait_for(&seen, 2 * customers, Duration::from_secs(3600)).await;
    let last = started.elapsed().as_secs_f64();
    println!("{customers} exits: the resync finished at {finished:.1} s, the last of them arrived at {last:.1} s");
    after_resync.push(last - finished);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let changes = (2 * customers) as f64;
    let per10k = |n: u64| n as f64 * 10_000.0 / changes;
    let (requests, messages) = {
        let s = seen.lock().unwrap();
        (s.requests, s.messages.len() as u64)
    };
    let calls: BTreeMap<String, u64> = counter.0.lock().unwrap().clone();
    println!("== per 10,000 membership changes ({changes} changes, one endpoint subscribed to both types)");
    println!("deliveries (messages)      : {:.0}", per10k(messages));
    println!(
        "HTTP requests to receivers : {:.0} (every receiver answered 204 at once)",
        per10k(requests)
    );
    println!("changes per message        : {:.1}", changes / messages as f64);
    println!("dispatcher + delivery worker + sweep, SDK calls per 10,000 changes:");
    // The dev server stands in for Lambda's triggers: it reads the stream (DescribeTable, and
    // DynamoDB Streams calls on a client of its own) and polls the queues (ReceiveMessage,
    // DeleteMessage). In AWS the event source mappings make those calls, not the functions.
    let trigger = ["DynamoDB.DescribeTable", "SQS.ReceiveMessage", "SQS.DeleteMessage"];
    let mut ours = 0;
    for (op, n) in &calls {
        let note = if trigger.contains(&op.as_str()) {
            "  (local trigger emulation)"
        } else {
            ""
        };
        if note.is_empty() {
            ours += n;
        }
        println!("  {op:<40} {:>8.0}{note}", per10k(*n));
    }
    println!("  {:<40} {:>8.0}", "total made by the functions", per10k(ours));
    // A resync's history times are its evaluation instant (the job's start), so its changes' delay is
    // measured from the job's end instead: how long the stream, dispatcher and deliveries lag behind.
    println!(
        "last change of a resync arrived {:.1} s / {:.1} s after the resync job finished",
        after_resync[0], after_resync[1]
    );

    // Single changes: a static group, one member at a time.
    for n in 0..20 {
        ok_customer(&api, &t, n).await;
    }
    let s = api.call("POST", "/groups", &t, Some(json!({"name": "Singles"}))).await;
    let sid = s.body["id"].as_str().unwrap().to_owned();
    let before = seen.lock().unwrap().arrivals.len();
    for n in 0..20 {
        let r = api
            .call(
                "POST",
                &format!("/groups/{sid}/members"),
                &t,
                Some(json!({"customer_ids": [format!("single-{n}")]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        wait_for(&seen, before + n + 1, Duration::from_secs(60)).await;
    }
    let singles: Vec<_> = seen.lock().unwrap().arrivals[before..].to_vec();
    println!("delay from commit to arrival of single changes: {}", delays(&singles));
    cg_tests::drop_isolated(&app).await;
}

/// Waits until the group's resync is done; returns the seconds it took from the call.
async fn resync_done(api: &Api, t: &str, g: &str) -> f64 {
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    loop {
        let r = api.call("GET", &format!("/groups/{g}"), t, None).await;
        if r.body["sync"]["status"] == "done" {
            return started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ok_customer(api: &Api, t: &str, n: usize) {
    let r = api
        .call("POST", "/customers", t, Some(json!({"id": format!("single-{n}")})))
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
}
