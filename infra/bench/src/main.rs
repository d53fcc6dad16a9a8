//! Benchmark of issue 3 (not a test): run it with `infra/bench.sh`, which starts PostgreSQL 15 and moto.
//!
//! (a) rule evaluations per second of our engine beside PostgreSQL running the same 20 rules as WHERE
//!     clauses over the same generated customers (target: >= 3x), both on all cores (PostgreSQL with its
//!     default parallel workers, our engine with one thread per core); the one-thread figure is printed too;
//! (b) DynamoDB requests of a full resync of the emulator's customers against the minimum, customer
//!     pages read + ceil(changes / 25) writes (target: <= 1.1x), first from scratch, then in steady state;
//! (c) the requests of one event and of one wake-up (scheduler and worker side).
//!
//! Flags: `--customers N` (default 1000000), `--resync-customers N` (default 100000), `--skip-pg`,
//! `--skip-emulator`, `--runs N` (default 3), `--shard-parallel N` (default 1), `--load-parallel N`
//! (default 4).

mod counting;
mod data;
mod emulator;
mod engine;
mod pg;
mod rules;

use cg_domain::customer::Customer;
use cg_domain::events::EventBatch;
use cg_domain::rules::{Definition, Rule};
use counting::Snapshot;
use emulator::{Emulator, ResyncRun};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

const TARGET_ENGINE_RATIO: f64 = 3.0;
const TARGET_RESYNC_RATIO: f64 = 1.1;

struct Args {
    customers: u64,
    resync_customers: u64,
    skip_pg: bool,
    skip_emulator: bool,
    runs: usize,
    shard_parallel: usize,
    load_parallel: usize,
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        customers: 1_000_000,
        resync_customers: 100_000,
        skip_pg: false,
        skip_emulator: false,
        runs: 3,
        shard_parallel: 1,
        load_parallel: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<u64, Error> {
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            Ok(v.replace('_', "").parse()?)
        };
        match flag.as_str() {
            "--customers" => a.customers = value()?,
            "--resync-customers" => a.resync_customers = value()?,
            "--runs" => a.runs = value()?.max(1) as usize,
            "--shard-parallel" => a.shard_parallel = value()?.max(1) as usize,
            "--load-parallel" => a.load_parallel = value()?.max(1) as usize,
            "--skip-pg" => a.skip_pg = true,
            "--skip-emulator" => a.skip_emulator = true,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

fn say(s: impl AsRef<str>) {
    println!("{}", s.as_ref());
    let _ = std::io::stdout().flush();
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The 1-minute load average and the core count: the machine may be shared while the timings run.
fn load() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one = avg.split_whitespace().next().unwrap_or("?").to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, load average {one}")
}

fn best(ds: &[Duration]) -> Duration {
    ds.iter().copied().min().unwrap_or_default()
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.0} /s", r)
    }
}

/// The summary lines of each part, printed again at the end.
#[derive(Default)]
struct Summary {
    lines: Vec<String>,
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
        let argv: Vec<String> = std::env::args().collect();
        argv.join(" ")
    });
    let now = data::now();
    let rules: Vec<Rule> = rules::RULES
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r.json).expect("rule JSON");
            Definition::parse(Some(&v), None)
                .map(|d| d.rule)
                .map_err(|e| format!("{}: {e}", r.name))
        })
        .collect::<Result<_, _>>()?;
    say(format!(
        "# cg-bench (issue 3)\ncommand: {command}\nclock (our now and PostgreSQL's literal): {}",
        data::NOW
    ));
    let mut summary = Summary::default();

    part_a(&args, &rules, now, &mut summary)?;
    if args.skip_emulator || std::env::var("AWS_ENDPOINT_URL").is_err() {
        say("\n(b), (c): skipped (no AWS_ENDPOINT_URL; run through infra/bench.sh)");
        summary.lines.push("(b) (c) skipped".into());
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(parts_b_c(&args, &mut summary))?;
    }

    say("\n## Summary");
    for l in &summary.lines {
        say(l);
    }
    say(format!("command: {command}"));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// (a)

fn part_a(args: &Args, rules: &[Rule], now: chrono::DateTime<chrono::Utc>, summary: &mut Summary) -> Result<(), Error> {
    let n = args.customers;
    say(format!(
        "\n## (a) rule evaluations: our engine vs PostgreSQL ({n} customers x {} rules)",
        rules.len()
    ));
    let t = Instant::now();
    let customers: Vec<Customer> = (0..n).map(data::customer).collect();
    say(format!(
        "generated {n} customers in {:.1}s (deterministic, seed fixed; at most ONE subscription per customer so \
         PostgreSQL reads the same facts as one flat row)",
        t.elapsed().as_secs_f64()
    ));
    let ours = engine::count_matches(rules, &customers, now);

    let pg = if args.skip_pg || !pg::available() {
        say("PostgreSQL: skipped (no PGPORT; run through infra/bench.sh)");
        None
    } else {
        Some(run_pg(&customers, args.runs)?)
    };

    let evals = n * rules.len() as u64;
    say(format!("timing our engine ({})", load()));
    let times = engine::time_evaluate(rules, &customers, now, args.runs);
    let ours_best = best(&times);
    let ours_rate = evals as f64 / ours_best.as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let par_times = engine::time_evaluate_parallel(rules, &customers, now, args.runs, threads);
    let par_best = best(&par_times);
    let par_rate = evals as f64 / par_best.as_secs_f64();
    let per_rule = engine::time_per_rule(rules, &customers, now);
    let plan_times = engine::time_plan(rules, &customers, now, args.runs);
    let plan_best = best(&plan_times);

    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<68} {:>8} {:>8} {:>5} {:>8} {:>8} {:>7}",
        "rule", "ours", "postgres", "same", "our ms", "pg ms", "pg/our"
    );
    let mut mismatches = Vec::new();
    for (i, r) in rules::RULES.iter().enumerate() {
        let our_ms = per_rule[i].as_secs_f64() * 1e3;
        let (pg_count, pg_ms, pg_ratio) = match &pg {
            Some(p) => {
                let (c, ms) = &p.results[i];
                let best = ms.iter().copied().fold(f64::INFINITY, f64::min);
                (c.to_string(), format!("{best:.1}"), format!("{:.1}x", best / our_ms))
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        let same = match &pg {
            Some(p) if p.results[i].0 == ours[i] => "yes",
            Some(_) => {
                mismatches.push(r.name);
                "NO"
            }
            None => "-",
        };
        let _ = writeln!(
            table,
            "{:<68} {:>8} {:>8} {:>5} {:>8.1} {:>8} {:>7}",
            r.name, ours[i], pg_count, same, our_ms, pg_ms, pg_ratio
        );
    }
    say(table);
    say("(our ms: that rule alone over every customer, one pass; pg ms: best of the runs of its count(*))");
    say(format!(
        "our engine: {} evaluations (evaluate(): match + next change), single thread, release build, after a warm-up \
         pass; runs {:?} ms; best {:.1} ms => {}",
        evals,
        times.iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
        ours_best.as_secs_f64() * 1e3,
        fmt_rate(ours_rate)
    ));
    say(format!(
        "our engine on all {threads} cores ({threads} threads, contiguous slices of the customers, as shards): runs {:?} ms; \
         best {:.1} ms => {} ({:.2}x one thread)",
        par_times.iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
        par_best.as_secs_f64() * 1e3,
        fmt_rate(par_rate),
        par_rate / ours_rate
    ));
    say(format!(
        "  (for reference: the service's membership pass Plan::evaluate over the same 20 groups, delta + wake-up: \
         best {:.1} ms => {} group evaluations)",
        plan_best.as_secs_f64() * 1e3,
        fmt_rate(evals as f64 / plan_best.as_secs_f64())
    ));
    match &pg {
        Some(p) => {
            let pg_rate = evals as f64 / (p.sum_best_ms / 1e3);
            let ratio = par_rate / pg_rate;
            say(format!(
                "PostgreSQL: sum over the 20 queries of the best of {} runs = {:.1} ms => {} ({})",
                args.runs,
                p.sum_best_ms,
                fmt_rate(pg_rate),
                p.describe
            ));
            let ok = ratio >= TARGET_ENGINE_RATIO && mismatches.is_empty();
            let line = format!(
                "(a) engine {} on {threads} cores vs PostgreSQL {} ({}) = {:.2}x (target >= {:.0}x) {}; \
                 one thread {} = {:.2}x{}",
                fmt_rate(par_rate),
                fmt_rate(pg_rate),
                p.workers,
                ratio,
                TARGET_ENGINE_RATIO,
                verdict(ok),
                fmt_rate(ours_rate),
                ours_rate / pg_rate,
                if mismatches.is_empty() {
                    ", all 20 counts equal".to_owned()
                } else {
                    format!(", COUNT MISMATCH in {mismatches:?}")
                }
            );
            say(format!("\n{line}"));
            summary.lines.push(line);
        }
        None => summary.lines.push(format!(
            "(a) engine {} on {threads} cores, {} on one thread (PostgreSQL skipped)",
            fmt_rate(par_rate),
            fmt_rate(ours_rate)
        )),
    }
    Ok(())
}

struct PgRun {
    results: Vec<(u64, Vec<f64>)>,
    sum_best_ms: f64,
    describe: String,
    /// The "Workers Launched" line of R01's plan.
    workers: String,
}

fn run_pg(customers: &[Customer], runs: usize) -> Result<PgRun, Error> {
    let dir = std::env::var("BENCH_TMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let csv = dir.join(format!("cg-bench-customers-{}.csv", std::process::id()));
    let t = Instant::now();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        let mut line = String::with_capacity(512);
        for c in customers {
            line.clear();
            data::csv_line(c, &mut line);
            f.write_all(line.as_bytes())?;
        }
        f.flush()?;
    }
    let csv_bytes = std::fs::metadata(&csv)?.len();
    let t_csv = t.elapsed();
    let t = Instant::now();
    let loaded = pg::load(data::PG_TABLE, &csv);
    let _ = std::fs::remove_file(&csv);
    loaded?;
    say(format!(
        "PostgreSQL: CSV {:.0} MB written in {:.1}s, COPY + VACUUM ANALYZE in {:.1}s, table {}",
        csv_bytes as f64 / 1e6,
        t_csv.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        pg::table_size()?
    ));
    let settings = pg::settings()?;
    let describe = settings
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    say(format!("PostgreSQL settings (defaults, not tuned): {describe}"));
    let today = data::now().date_naive().to_string();
    let wheres: Vec<String> = rules::RULES
        .iter()
        .map(|r| rules::where_clause(r, data::NOW, &today))
        .collect();
    say(format!("timing PostgreSQL ({})", load()));
    let results = pg::count_and_time(&wheres, runs)?;
    let sum_best_ms = results
        .iter()
        .map(|(_, ms)| ms.iter().copied().fold(f64::INFINITY, f64::min))
        .sum();
    let plan = pg::explain(&wheres[0])?;
    let workers = plan
        .lines()
        .find(|l| l.contains("Workers Launched"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "no parallel workers".into());
    let jit = if plan.contains("JIT") { "JIT used" } else { "no JIT" };
    Ok(PgRun {
        results,
        sum_best_ms,
        describe: format!("seq scan, {workers}, {jit} (plan of R01); psql \\timing, best of {runs} per query"),
        workers,
    })
}

// ---------------------------------------------------------------------------------------------------
// (b), (c)

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
        cg_domain::usecases::events::ingest_events(&emu.store, &tenant, &EventBatch::try_from(body)?, now),
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
        cg_domain::usecases::events::ingest_events(&emu.store, &tenant, &EventBatch::try_from(body)?, now),
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
