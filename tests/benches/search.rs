//! The search benchmark (README, Customer search): `--customers` generated customers (default 20,000)
//! loaded straight into the partitions of a fresh tenant on moto, then the first page (25) of a search
//! with filters of decreasing selectivity, a full walk of the rare one, and an exact count. DynamoDB
//! Queries are counted with an SDK interceptor and compared with the minimum: a page in id order must
//! read every one of the 16 partitions at least once, and every customer up to the last match it
//! returns. Prints figures; asserts nothing about time. Run with `infra/bench-search.sh`.

use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use cg_domain::customer::{Customer, NewCustomer};
use cg_domain::search::{CountInput, CountRequest, SearchInput, SearchRequest};
use cg_domain::usecases::search;
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Counts DynamoDB calls (one per execution; SDK retries are not new calls).
#[derive(Debug, Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "SearchBenchCounter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Metadata>().is_some_and(|m| m.name() == "Query") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Customer `i`: tag `p5` on 5 %, `p01` on 0.1 %, ids not in creation order.
fn customer(i: u64) -> Customer {
    let mut tags = vec![];
    if i % 20 == 7 {
        tags.push("p5");
    }
    if i % 1000 == 7 {
        tags.push("p01");
    }
    let id = format!("c{:08}", (i * 7_919) % 100_000_007);
    serde_json::from_value::<NewCustomer>(json!({"id": id, "name": format!("Name {i}"), "tags": tags}))
        .unwrap()
        .into_customer(Utc::now())
        .unwrap()
}

#[tokio::main]
async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("AWS_ENDPOINT_URL is not set: run infra/bench-search.sh");
        return;
    }
    let n: u64 = arg("--customers").map(|v| v.parse().unwrap()).unwrap_or(20_000);
    let mut app = cg_tests::app().await;
    let t = cg_tests::fresh_tenant();
    let people: Vec<Customer> = (0..n).map(customer).collect();
    let started = Instant::now();
    cg_aws::fixtures::load_customers(&app.store, &t, &people, 8)
        .await
        .unwrap();
    println!("loaded {n} customers in {:.1} s", started.elapsed().as_secs_f64());
    let mut ids: Vec<(String, bool, bool)> = people
        .iter()
        .map(|c| (c.id.to_string(), c.tags.contains("p5"), c.tags.contains("p01")))
        .collect();
    ids.sort();

    let counter = Counter::default();
    let sdk = cg_local::provision::local_sdk_config().await;
    app.store.ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let input = |b: Value| SearchInput::try_from(serde_json::from_value::<SearchRequest>(b).unwrap()).unwrap();
    println!("| search (first page, limit 25) | items | Queries (min 16) | customers read | min read | time |");
    println!("|---|---|---|---|---|---|");
    for (name, body) in [
        ("every customer", json!({"limit": 25})),
        (
            "tag on 5 %",
            json!({"limit": 25, "rules": {"tags": {"has_any": ["p5"]}}}),
        ),
        (
            "tag on 0.1 %",
            json!({"limit": 25, "rules": {"tags": {"has_any": ["p01"]}}}),
        ),
    ] {
        counter.0.store(0, Ordering::Relaxed);
        let t0 = Instant::now();
        let page = search::search(&app.store, &t, input(body), Utc::now()).await.unwrap();
        let took = t0.elapsed();
        // The minimum read: every customer up to the last match returned (all, on a short page).
        let min_read = match page.items.last() {
            Some(last) if page.items.len() == 25 => {
                let last = last["id"].as_str().unwrap();
                ids.iter().take_while(|(id, _, _)| id.as_str() <= last).count()
            }
            _ => page.scanned as usize,
        };
        println!(
            "| {name} | {} | {} | {} | {} | {:.0} ms |",
            page.items.len(),
            counter.0.load(Ordering::Relaxed),
            page.scanned,
            min_read,
            took.as_secs_f64() * 1000.0
        );
    }
    // A full walk of the rare filter: pages, Queries, customers read (minimum: all of them, once).
    counter.0.store(0, Ordering::Relaxed);
    let (t0, mut pages, mut found, mut read) = (Instant::now(), 0, 0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut b = json!({"limit": 100, "rules": {"tags": {"has_any": ["p01"]}}});
        if let Some(c) = &cursor {
            b["cursor"] = json!(c);
        }
        let page = search::search(&app.store, &t, input(b), Utc::now()).await.unwrap();
        pages += 1;
        found += page.items.len();
        read += page.scanned;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let want = ids.iter().filter(|(_, _, p)| *p).count();
    assert_eq!(found, want, "the walk finds every match");
    println!(
        "\nwalk of the 0.1 % filter (limit 100): {found} matches in {pages} pages, {} Queries, {read} customers read of {n}, {:.1} s",
        counter.0.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64()
    );
    if n <= search::COUNT_SYNC_MAX {
        counter.0.store(0, Ordering::Relaxed);
        let t0 = Instant::now();
        let target = CountInput::try_from(
            serde_json::from_value::<CountRequest>(json!({"rules": {"tags": {"has_any": ["p5"]}}})).unwrap(),
        )
        .unwrap()
        .target;
        let c = search::count(&app.store, &t, target, Utc::now()).await.unwrap();
        println!(
            "exact count of the 5 % filter: {} of {}, {} Queries, {:.1} s",
            c.count,
            c.evaluated,
            counter.0.load(Ordering::Relaxed),
            t0.elapsed().as_secs_f64()
        );
    }
}
