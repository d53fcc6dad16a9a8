//! (b) and (c): DynamoDB and SQS requests of resyncs, an event and a wake-up on the emulator (moto).
//! Built with the `emulator` feature (the default), which brings in the AWS SDK.

use crate::counting::Snapshot;
use crate::emulator::{self, Emulator, ResyncRun};
use crate::{data, rules, say, verdict, Args, Error, Summary};
use cg_domain::customer::Customer;
use std::fmt::Write as _;
use std::time::Instant;

const TARGET_RESYNC_RATIO: f64 = 1.1;

/// Runs (b) and (c) on the emulator the environment points at.
pub fn run(args: &Args, summary: &mut Summary) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(parts_b_c(args, summary))
}

fn print_requests(title: &str, s: &Snapshot) {
    let mut out = format!("{title}\n");
    for (op, n) in &s.calls {
        let _ = writeln!(out, "    {op:<40} {n:>7}");
    }
    let _ = writeln!(
        out,
        "    {:<40} {:>7}  (DynamoDB {}, SQS {}; HTTP attempts {}, retries {})",
        "total",
        s.executions(),
        s.total("DynamoDB"),
        s.total("SQS"),
        s.attempts,
        s.attempts.saturating_sub(s.executions())
    );
    say(out);
}

fn print_resync(title: &str, r: &ResyncRun) -> String {
    print_requests(title, &r.requests);
    let ok = r.ratio() <= TARGET_RESYNC_RATIO;
    let line = format!(
        "DynamoDB requests {} vs minimum {} (customer pages {} + ceil({} changes / 25) = {}) = {:.2}x (target <= {:.1}x) {}; \
         {} customers evaluated by {} shard message(s); wall {:.1}s on moto",
        r.requests.total("DynamoDB"),
        r.minimum(),
        r.pages(),
        r.changes,
        r.changes.div_ceil(25),
        r.ratio(),
        TARGET_RESYNC_RATIO,
        verdict(ok),
        r.evaluated,
        r.messages,
        r.seconds
    );
    say(format!("  {line}"));
    line
}

async fn parts_b_c(args: &Args, summary: &mut Summary) -> Result<(), Error> {
    let now = data::now();
    let m = args.resync_customers;
    say(format!("\n## (b) full resync of {m} customers on the emulator (moto)"));
    let emu = Emulator::connect().await?;
    let customers: Vec<Customer> = (0..m).map(data::customer).collect();
    emu.check_bulk_item(&customers[0], now).await?;
    say("bulk item shape checked against create_customer's item (equal but for the tenant)");
    let tenant = emulator::fresh_tenant("bench");
    let t = Instant::now();
    emu.bulk_write(&tenant, &customers, args.load_parallel).await?;
    say(format!(
        "tenant {tenant}: {m} customers bulk-loaded (BatchWriteItem x {}) in {:.1}s",
        m.div_ceil(25),
        t.elapsed().as_secs_f64()
    ));
    let named: Vec<(String, serde_json::Value)> = rules::RULES
        .iter()
        .map(|r| (r.name.to_owned(), serde_json::from_str(r.json).expect("rule JSON")))
        .collect();
    let t = Instant::now();
    let (group_ids, created) = emulator::measured(&emu, async {
        emulator::create_groups(&emu.store, &tenant, &named, now)
            .await
            .map_err(|e| cg_domain::DomainError::Internal(e.to_string()))
    })
    .await?;
    let dropped = emu.drain_queue().await?.len();
    say(format!(
        "20 dynamic groups created through create_group in {:.1}s ({} requests; their {dropped} creation resync \
         messages drained from the queue, not run)",
        t.elapsed().as_secs_f64(),
        created.executions()
    ));

    say(format!(
        "shards run by run_group_job, {} at a time (same now as (a))",
        args.shard_parallel
    ));
    let first = emulator::full_resync(&emu, &tenant, &group_ids, now, args.shard_parallel).await?;
    let l1 = print_resync("\nfirst full resync (every membership new):", &first);
    let second = emulator::full_resync(&emu, &tenant, &group_ids, now, args.shard_parallel).await?;
    let l2 = print_resync(
        "\nsecond full resync right after (steady state, nothing changes):",
        &second,
    );
    summary.lines.push(format!("(b) first resync:  {l1}"));
    summary.lines.push(format!("(b) second resync: {l2}"));

    // (c)
    say("\n## (c) one event, one wake-up (20 dynamic groups present)");
    let picks = emulator::without_subscription(&customers, 2);
    let [a, b] = &picks[..] else {
        return Err("need two customers without a subscription".into());
    };
    let body = emulator::subscription_event(
        "bench-ev-1",
        a,
        "games",
        now + chrono::Duration::days(30) + emulator::hours(5),
        now,
    );
    let (report, event) = emulator::measured(
        &emu,
        cg_domain::usecases::events::ingest_events(
            &emu.store,
            &tenant,
            &cg_domain::events::EventBatch::try_from(body)?,
            now,
        ),
    )
    .await?;
    print_requests(
        &format!(
            "one event (subscription.created for {}, accepted {}, membership changes {}):",
            a.id, report.accepted, report.membership_changes
        ),
        &event,
    );
    // Make one customer due: renews in 7 days + 1 hour, so the "renewing within 7 days" groups wake it in an hour.
    let renews = now + chrono::Duration::days(7) + emulator::hours(1);
    let body = emulator::subscription_event("bench-ev-2", b, "news", renews, now);
    let (report2, event2) = emulator::measured(
        &emu,
        cg_domain::usecases::events::ingest_events(
            &emu.store,
            &tenant,
            &cg_domain::events::EventBatch::try_from(body)?,
            now,
        ),
    )
    .await?;
    print_requests(
        &format!(
            "a second event (subscription.created for {}, news, renews_at {renews}; accepted {}, membership changes {}):",
            b.id, report2.accepted, report2.membership_changes
        ),
        &event2,
    );
    let tick_at = now + emulator::hours(2);
    let (queued, tick) = emulator::measured(&emu, cg_domain::usecases::wake::wake_tick(&emu.store, tick_at)).await?;
    print_requests(
        &format!("wake-up, scheduler side: wake_tick(now + 2h) queued {queued} customer(s):"),
        &tick,
    );
    let jobs = emu.drain_queue().await?;
    let mut worker = Snapshot::default();
    let mut worker_changes = 0;
    for job in &jobs {
        let (r, s) =
            emulator::measured(&emu, cg_domain::usecases::jobs::run_group_job(&emu.store, job, tick_at)).await?;
        worker_changes += r.changes;
        for (k, v) in s.calls {
            *worker.calls.entry(k).or_default() += v;
        }
        worker.attempts += s.attempts;
    }
    print_requests(
        &format!(
            "wake-up, worker side: {} WakeCustomers message(s) through run_group_job (received outside the count), \
             {worker_changes} membership change(s):",
            jobs.len()
        ),
        &worker,
    );
    summary.lines.push(format!(
        "(c) one event: {} DynamoDB + {} SQS requests; wake-up: scheduler {} DynamoDB + {} SQS, worker {} DynamoDB + {} SQS \
         ({} customer(s) woken, {} change(s))",
        event.total("DynamoDB"),
        event.total("SQS"),
        tick.total("DynamoDB"),
        tick.total("SQS"),
        worker.total("DynamoDB"),
        worker.total("SQS"),
        queued,
        worker_changes
    ));
    Ok(())
}
