//! (d) Time on the local stack (issue 10): how long one wake-up tick takes as the table grows (it
//! must stay proportional to the due customers, not to the table), and how long ten dynamic groups
//! created at once take until all are synced (their resyncs coalesce into shared passes; workers run
//! in parallel as Lambda's would).

use crate::counting::Snapshot;
use crate::emulator::{self, Emulator};
use crate::{data, say, Args, Error, Summary};
use cg_domain::customer::Customer;
use cg_domain::group::{GroupInput, NewGroup, SyncState};
use cg_domain::jobs::GroupJob;
use cg_domain::ports::GroupStore;
use cg_domain::usecases::{groups, jobs, wake};
use chrono::Duration;
use std::collections::BTreeSet;
use std::time::Instant;

/// Customers due at every tick: the work a tick must do whatever the table size.
const DUE: u64 = 10;

pub fn run(args: &Args, summary: &mut Summary) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let emu = Emulator::connect().await?;
        wake_ticks(&emu, args, summary).await?;
        groups_at_once(&emu, args, summary).await
    })
}

fn with_wake(mut c: Customer, at: chrono::DateTime<chrono::Utc>) -> Customer {
    c.next_wake_at = Some(at);
    c
}

async fn wake_ticks(emu: &Emulator, args: &Args, summary: &mut Summary) -> Result<(), Error> {
    say("\n## (d1) one wake-up tick against the table size (moto, through infra/moto_server.py)");
    let now = data::now();
    let tenant = emulator::fresh_tenant("wake");
    let mut loaded = 0u64;
    for &size in &args.wake_sizes {
        // The first DUE customers are due now; everyone else wakes in a month (in the index, not due).
        let batch: Vec<Customer> = (loaded..size)
            .map(|i| {
                let at = if i < DUE {
                    now - Duration::minutes(1)
                } else {
                    now + Duration::days(30)
                };
                with_wake(data::customer(i), at)
            })
            .collect();
        let t = Instant::now();
        emu.bulk_write(&tenant, &batch, args.load_parallel).await?;
        let load = t.elapsed().as_secs_f64();
        loaded = size;
        let mut best = f64::MAX;
        let mut requests = Snapshot::default();
        let mut queued = 0;
        for _ in 0..3 {
            emu.counter.reset();
            let t = Instant::now();
            queued = wake::wake_tick(&emu.store, now).await?;
            best = best.min(t.elapsed().as_secs_f64());
            requests = emu.counter.snapshot();
            emu.drain_queue().await?;
        }
        let line = format!(
            "{size:>7} customers in the table (loaded in {load:.1}s): tick {:.0} ms (best of 3), {queued} due queued, \
             DynamoDB {} (WakeIndex Query {}), SQS {}",
            best * 1000.0,
            requests.total("DynamoDB"),
            requests.get("DynamoDB.Query(WakeIndex)"),
            requests.total("SQS"),
        );
        say(&line);
        summary.lines.push(format!("(d1) {line}"));
    }
    Ok(())
}

async fn groups_at_once(emu: &Emulator, args: &Args, summary: &mut Summary) -> Result<(), Error> {
    let n = args.timing_customers;
    say(format!(
        "\n## (d2) 10 dynamic groups created at once over {n} customers, {} workers in parallel",
        args.shard_parallel.max(4)
    ));
    let now = data::now();
    let tenant = emulator::fresh_tenant("ten");
    let customers: Vec<Customer> = (0..n).map(data::customer).collect();
    emu.bulk_write(&tenant, &customers, args.load_parallel).await?;
    emu.drain_queue().await?;
    let rules: Vec<serde_json::Value> = crate::rules::RULES
        .iter()
        .take(10)
        .map(|r| serde_json::from_str(r.json).expect("rule JSON"))
        .collect();
    emu.counter.reset();
    let started = Instant::now();
    let mut creates = tokio::task::JoinSet::new();
    for (i, rule) in rules.into_iter().enumerate() {
        let (store, tenant) = (emu.store.clone(), tenant.clone());
        creates.spawn(async move {
            let body: NewGroup =
                serde_json::from_value(serde_json::json!({"name": format!("g{i}"), "type": "dynamic", "rules": rule}))?;
            let created = groups::create_group(&store, &tenant, GroupInput::try_from(body)?, now).await?;
            Ok::<_, Error>(created.group.id)
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = creates.join_next().await {
        ids.push(r??);
    }
    let created_in = started.elapsed().as_secs_f64();
    // Workers as the dev server runs them: take messages until every group says done.
    let workers = args.shard_parallel.max(4);
    let mut jobs_seen = BTreeSet::new();
    let (mut messages, mut passes) = (0, 0);
    loop {
        let mut pending = Vec::new();
        for id in &ids {
            let g = emu.store.get_group(&tenant, id).await?.ok_or("a group vanished")?;
            let sync = g.sync.ok_or("a dynamic group without sync status")?;
            if let Some(j) = sync.job_id.clone() {
                jobs_seen.insert(j);
            }
            if sync.status != SyncState::Done {
                pending.push(id.clone());
            }
        }
        if pending.is_empty() {
            break;
        }
        let batch = emu.drain_queue().await?;
        messages += batch.len();
        passes += batch
            .iter()
            .filter(|j| matches!(j, GroupJob::ResyncShard { .. }) && j.partitions().len() == 16)
            .count();
        let mut set = tokio::task::JoinSet::new();
        let mut it = batch.into_iter();
        loop {
            while set.len() < workers {
                let Some(j) = it.next() else { break };
                let store = emu.store.clone();
                set.spawn(async move { jobs::run_group_job(&store, &j, now).await });
            }
            match set.join_next().await {
                Some(r) => {
                    r??;
                }
                None => break,
            }
        }
        if started.elapsed().as_secs() > 1800 {
            return Err("the groups did not sync in 30 minutes".into());
        }
    }
    let synced_in = started.elapsed().as_secs_f64();
    let requests = emu.counter.snapshot();
    let line = format!(
        "10 groups created in {created_in:.1}s, all synced {synced_in:.1}s after the first request: {passes} resync pass(es) \
         over the customers for the 10 groups ({} job(s) reported on them), {messages} shard message(s), DynamoDB {} requests",
        jobs_seen.len(),
        requests.total("DynamoDB")
    );
    say(&line);
    summary.lines.push(format!("(d2) {line}"));
    Ok(())
}
