//! The bulk-action benchmark (issue 14; not a timed test, `infra/bench-bulk.sh` runs it against moto):
//! `--customers` generated customers (default 100,000), all members of one static group, half of them
//! tagged `old`, loaded straight into a fresh tenant's partitions. Then, through the real use cases and
//! job runner: the first search page and the exact count of the `old` filter, a bulk modify of every
//! customer and a bulk delete of the `old` half. DynamoDB requests are counted with an SDK interceptor
//! on the worker's client and compared with the minimum the access pattern needs: every customer read
//! once in 1 MB Query pages, and the items each customer must write in full 100-item transactions.

mod common;

use cg_domain::bulk::request::{
    BulkDeleteInput, BulkDeleteRequest, BulkModifyInput, BulkModifyRequest, DeletePreviewInput, DeletePreviewRequest,
};
use cg_domain::bulk::{BulkKind, BulkTask};
use cg_domain::customer::{Customer, NewCustomer};
use cg_domain::group::{GroupInput, NewGroup};
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::search::{CountInput, CountRequest, SearchInput, SearchRequest};
use cg_domain::usecases::bulk_action_job::run_action_task;
use cg_domain::usecases::bulk_actions::{self, BulkJobView};
use cg_domain::usecases::bulk_job::{BulkSettings, RunOutcome};
use cg_domain::usecases::{groups, search};
use chrono::Utc;
use common::{arg, requests, Counter, TRANSACT_ITEMS};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// DynamoDB's Query page.
const PAGE_BYTES: usize = 1 << 20;

fn customer(i: usize, g: &GroupId) -> Customer {
    let mut tags = vec!["bench"];
    if i.is_multiple_of(2) {
        tags.push("old");
    }
    let body = json!({"id": format!("k{i:07}"), "name": format!("Name {i}"), "tags": tags,
        "attributes": {"plan": {"type": "string", "value": "basic"}}});
    let mut c = serde_json::from_value::<NewCustomer>(body)
        .unwrap()
        .into_customer(Utc::now())
        .unwrap();
    c.groups.insert(g.clone());
    c
}

/// The fewest Queries that read every customer once: each of the 16 partitions in 1 MB pages.
fn min_pages(store: &cg_aws::Store, t: &TenantId, people: &[&Customer]) -> u64 {
    let mut bytes: BTreeMap<u32, usize> = BTreeMap::new();
    for c in people {
        let size = cg_aws::fixtures::customer_item_bytes(store, t, c).unwrap();
        *bytes.entry(cg_aws::keys::shard_of(&c.id)).or_default() += size;
    }
    bytes.values().map(|b| b.div_ceil(PAGE_BYTES).max(1) as u64).sum()
}

/// Runs the job to its end on the counted store (redelivering a hand-on or a retryable error, as the
/// queue would), and returns the wall time.
async fn run(store: &cg_aws::Store, t: &TenantId, view: &BulkJobView, kind: BulkKind) -> f64 {
    let task = BulkTask::CustomerAction {
        tenant: t.clone(),
        kind,
        job_id: view.id.clone(),
    };
    let t0 = Instant::now();
    loop {
        match run_action_task(store, &task, &BulkSettings::default(), false, Utc::now()).await {
            Ok(r) if r.outcome == RunOutcome::Finished => return t0.elapsed().as_secs_f64(),
            Ok(_) => continue,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

fn report(what: &str, calls: &BTreeMap<String, u64>, minimum: u64, formula: String) {
    let total = requests(calls);
    println!("{what} DynamoDB requests : {total} = {calls:?}");
    println!("{what} minimum           : {minimum} = {formula}");
    println!(
        "{what} ratio             : {:.3}x (target <= 1.2x)",
        total as f64 / minimum as f64
    );
}

#[tokio::main]
async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("AWS_ENDPOINT_URL is not set: run infra/bench-bulk.sh");
        return;
    }
    let n: usize = arg("--customers").map_or(100_000, |v| v.parse().expect("--customers N"));
    let mut app = cg_tests::isolated_app().await;
    // The exact count and the delete preview read every partition here, in the benchmark's process:
    // the same Queries a count job spreads over its 16 partition runs (see the README).
    app.store.count_sync_max = u64::MAX;
    let t = cg_tests::fresh_tenant();
    let g: NewGroup = serde_json::from_value(json!({"name": "everyone"})).unwrap();
    let g = groups::create_group(&app.store, &t, GroupInput::try_from(g).unwrap(), Utc::now())
        .await
        .unwrap()
        .group
        .id;
    let people: Vec<Customer> = (0..n).map(|i| customer(i, &g)).collect();
    let t0 = Instant::now();
    cg_aws::fixtures::load_customers_in_group(&app.store, &t, &g, &people, 8)
        .await
        .unwrap();
    println!(
        "loaded            : {n} customers and member rows in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let counter = Counter::default();
    let worker = counter.counted(&app.store).await;
    let old = json!({"rules": {"tags": {"has_any": ["old"]}}});
    let n_old = people.iter().filter(|c| c.tags.contains("old")).count();

    // The first search page and the exact count of the `old` filter.
    let mut body = old.clone();
    body["limit"] = json!(25);
    let input = SearchInput::try_from(serde_json::from_value::<SearchRequest>(body).unwrap()).unwrap();
    let t0 = Instant::now();
    let page = search::search(&worker, &t, input, Utc::now()).await.unwrap();
    println!(
        "search first page : {} items, {} customers read, {:?}, {:.2} s",
        page.items.len(),
        page.scanned,
        counter.take(),
        t0.elapsed().as_secs_f64()
    );
    let target = CountInput::try_from(serde_json::from_value::<CountRequest>(old.clone()).unwrap())
        .unwrap()
        .target;
    let t0 = Instant::now();
    match search::count(&worker, &t, target, Utc::now()).await {
        Ok(c) => println!(
            "exact count       : {} of {}, {:?} (minimum {} Queries), {:.1} s",
            c.count,
            c.evaluated,
            counter.take(),
            min_pages(&app.store, &t, &people.iter().collect::<Vec<_>>()),
            t0.elapsed().as_secs_f64()
        ),
        Err(e) => println!("exact count       : {e}"),
    }
    counter.take();

    // A bulk modify of every customer: one attribute set, one tag added.
    let req: BulkModifyRequest = serde_json::from_value(json!({"rules": {"tags": {"has_any": ["bench"]}},
        "changes": {"set_attributes": {"plan": {"type": "string", "value": "gold"}}, "add_tags": ["modified"]}}))
    .unwrap();
    let input = BulkModifyInput::try_from(req).unwrap();
    let view = bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, "bench", Utc::now())
        .await
        .unwrap();
    let secs = run(&worker, &t, &view, BulkKind::BulkModify).await;
    let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.modified as usize), ("done", n), "{done:?}");
    let calls = counter.take();
    println!(
        "bulk modify       : {n} customers in {secs:.1} s = {:.0}/s; modified {}, unchanged {}, failed {}; {} items in transactions",
        n as f64 / secs,
        done.modified,
        done.unchanged,
        done.failed,
        calls.get(TRANSACT_ITEMS).copied().unwrap_or(0)
    );
    // Read every customer once; write each one's item and its timeline entry in full transactions (the
    // group's member rows keep name and contacts only, which did not change); the job's fixed requests
    // (read, claim, end).
    let after: Vec<Customer> = people
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.tags.insert("modified".into());
            c
        })
        .collect();
    let pages = min_pages(&app.store, &t, &after.iter().collect::<Vec<_>>());
    let minimum = pages + (2 * n).div_ceil(100) as u64 + 3;
    report(
        "bulk modify",
        &calls,
        minimum,
        format!("{pages} pages + ceil({} items / 100) + 3", 2 * n),
    );

    // A bulk delete of the `old` half: preview (exact count, token), confirm, the job.
    let target = DeletePreviewInput::try_from(serde_json::from_value::<DeletePreviewRequest>(old.clone()).unwrap())
        .unwrap()
        .target;
    let t0 = Instant::now();
    match bulk_actions::preview_bulk_delete(&worker, &t, target, None, "bench", Utc::now()).await {
        Ok(bulk_actions::PreviewAnswer::Counting(job)) => println!("delete preview    : a count job {job:?}"),
        Ok(bulk_actions::PreviewAnswer::Ready(preview)) => {
            println!(
                "delete preview    : count {}, {:?}, {:.1} s",
                preview.count,
                counter.take(),
                t0.elapsed().as_secs_f64()
            );
            let mut body = old.clone();
            body["token"] = json!(preview.token);
            body["agree"] = json!(true);
            body["reason"] = json!("benchmark of a bulk delete");
            let input = BulkDeleteInput::try_from(serde_json::from_value::<BulkDeleteRequest>(body).unwrap()).unwrap();
            let view = bulk_actions::create_bulk_delete(&app.store, &t, input.target, input.confirm, Utc::now())
                .await
                .unwrap();
            counter.take();
            let secs = run(&worker, &t, &view, BulkKind::BulkDelete).await;
            let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
            assert_eq!(
                (done.status.as_str(), done.deleted as usize),
                ("done", n_old),
                "{done:?}"
            );
            let calls = counter.take();
            println!(
                "bulk delete       : {n_old} of {n} customers in {secs:.1} s = {:.0}/s; {} items in transactions",
                n_old as f64 / secs,
                calls.get(TRANSACT_ITEMS).copied().unwrap_or(0)
            );
            // Read every customer once (the filter's matches are spread over all of them); delete each
            // match's item and member row and write its history exit, in full transactions (the group's
            // count once per transaction is left out); the job's fixed requests (read, claim, end).
            let pages = min_pages(&app.store, &t, &after.iter().collect::<Vec<_>>());
            let minimum = pages + (3 * n_old).div_ceil(100) as u64 + 3;
            report(
                "bulk delete",
                &calls,
                minimum,
                format!("{pages} pages + ceil({} items / 100) + 3", 3 * n_old),
            );
            let g = cg_domain::usecases::lookup::get_group(&app.store, &t, &g)
                .await
                .unwrap();
            assert_eq!(g.member_count as usize, n - n_old, "member count exact");
        }
        Err(e) => println!("delete preview    : {e}"),
    }
    cg_tests::drop_isolated(&app).await;
}
