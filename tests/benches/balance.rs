//! The balance-operation benchmark (not a timed test; `infra/bench-balance.sh` runs it against moto):
//! an `adjust` of `--members` customers (default 100,000) of one static group, each holding a balance,
//! through the real job on a table and queues of their own. DynamoDB requests of the run are counted
//! with an SDK interceptor on the worker's client and compared with the minimum the access pattern
//! needs: the member ids in 1 MB Query pages, every customer read once in BatchGetItems of 100 keys,
//! and the 4 items a changed customer takes (customer, ledger entry, marker, timeline entry) in full 100-item
//! transactions, plus the job's 4 fixed requests (read, claim, plan, end).

mod common;

use cg_domain::balance::request::{ChangeBody, ChangeInput};
use cg_domain::balance::Unit;
use cg_domain::bulk::{BulkStatus, BulkTask};
use cg_domain::customer::NewCustomer;
use cg_domain::group::{GroupInput, NewGroup};
use cg_domain::usecases::balance_job::{create_group_operation, get_group_operation, run_balance_task};
use cg_domain::usecases::bulk_job::{BulkSettings, RunOutcome};
use cg_domain::usecases::groups;
use chrono::Utc;
use common::{arg, Counter};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let n: usize = arg("--members").map_or(100_000, |v| v.parse().expect("--members N"));
    let app = cg_tests::isolated_app().await;
    let t = cg_tests::fresh_tenant();
    let g: NewGroup = serde_json::from_value(serde_json::json!({"name": "cashback"})).unwrap();
    let g = groups::create_group(&app.store, &t, GroupInput::try_from(g).unwrap(), Utc::now())
        .await
        .unwrap()
        .group
        .id;
    let t0 = Instant::now();
    let eur = Unit::parse("EUR").unwrap();
    let customers: Vec<_> = (0..n)
        .map(|i| {
            let input: NewCustomer = serde_json::from_value(serde_json::json!({"id": format!("b{i:07}")})).unwrap();
            let mut c = input.into_customer(Utc::now()).unwrap();
            c.groups.insert(g.clone());
            c.balances.insert(eur.clone(), 10_000);
            c
        })
        .collect();
    cg_aws::fixtures::load_customers_in_group(&app.store, &t, &g, &customers, 8)
        .await
        .unwrap();
    println!(
        "loaded              : {n} customers and member rows in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let body: ChangeBody = serde_json::from_value(serde_json::json!({"type": "adjust", "unit": "EUR",
        "amount": -2500, "comment": "bench write-off", "idempotency_key": "bench-1"}))
    .unwrap();
    let view = create_group_operation(
        &app.store,
        &t,
        &g,
        ChangeInput::try_from(body).unwrap(),
        "bench",
        Utc::now(),
    )
    .await
    .unwrap();
    let counter = Counter::default();
    let sdk = cg_local::provision::local_sdk_config().await;
    let mut worker = app.clone();
    worker.store.ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let task = BulkTask::BalanceOperation {
        tenant: t.clone(),
        job_id: view.id.clone(),
    };
    // Redelivered after a hand-on (a run's time budget spent) or a retryable error, as the queue would.
    let t1 = Instant::now();
    let (mut runs, mut commits, mut redos) = (0u32, 0u64, 0u64);
    loop {
        runs += 1;
        match run_balance_task(&worker.store, &task, &BulkSettings::default(), false, Utc::now()).await {
            Ok(r) => {
                commits += r.commits;
                redos += r.redos;
                if r.outcome == RunOutcome::Finished {
                    break;
                }
            }
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
    let secs = t1.elapsed().as_secs_f64();
    let done = get_group_operation(&app.store, &t, &view.id).await.unwrap();
    assert_eq!(done.status, BulkStatus::Done, "{:?}", done.last_error);
    assert_eq!(done.counts.applied as usize, n);
    let calls = counter.take();
    let total = common::requests(&calls);
    // A member id is about 70 bytes of a Query page (keys and the projected id): 1 MB holds ~15,000.
    // Four items per customer: the customer, its ledger entry, the operation's marker and the
    // timeline's `balance.changed` entry (issue 15 part 7).
    let minimum = n.div_ceil(15_000) + n.div_ceil(100) + (4 * n).div_ceil(100) + 4;
    println!(
        "operation           : {n} members in {secs:.1} s = {:.0} members/s; {:?} in {commits} commit(s), {redos} redo(s), {runs} run(s)",
        n as f64 / secs,
        done.counts,
    );
    println!("DynamoDB requests   : {total} = {calls:?}");
    println!(
        "minimum             : {minimum} = ceil({n} ids / ~15,000 per 1 MB Query) + ceil({n} / 100) BatchGetItem + ceil({} items / 100) + 4",
        4 * n
    );
    println!(
        "ratio               : {:.3}x (target <= 1.2x)",
        total as f64 / minimum as f64
    );
    cg_tests::drop_isolated(&app).await;
}
