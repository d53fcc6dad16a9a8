//! Benchmark of issues 3 and 18 (not a test): run it with `infra/bench.sh`, which starts PostgreSQL 15
//! and moto.
//!
//! (a) rule evaluations per second of our engine beside PostgreSQL running the same 20 rules over the
//!     same generated customers, in one run: PostgreSQL as one scan with 20 `count(*) FILTER (WHERE ..)`
//!     (the anchor) and as 20 separate queries, each with its default parallel plan and with one worker;
//!     our engine on one thread and on every core, as a bare match loop and as the service's membership
//!     pass (`Plan::evaluate`). Targets (issue 18): >= 10x the single scan on the whole machine, >= 5x on
//!     one thread against one PostgreSQL worker. Every count must be equal, or the run fails;
//! (b) DynamoDB requests of a full resync of the emulator's customers against the minimum, customer
//!     pages read + ceil(changes / 25) writes (target: <= 1.1x), first from scratch, then in steady state;
//! (c) the requests of one event and of one wake-up (scheduler and worker side).
//!
//! Flags: `--customers N` (default 1000000), `--resync-customers N` (default 100000), `--skip-pg`,
//! `--skip-emulator`, `--runs N` (default 3), `--shard-parallel N` (default 1), `--load-parallel N`
//! (default 4), `--profile walker|singles|program|plan` (only that form of (a), one thread, for a profiler).

#[cfg(feature = "emulator")]
mod counting;
mod data;
#[cfg(feature = "emulator")]
mod emulator;
mod engine;
mod part_a;
#[cfg(feature = "emulator")]
mod part_d;
#[cfg(feature = "emulator")]
mod parts_bc;
mod pg;
mod rules;

use cg_domain::rules::{Definition, Rule};
use std::io::Write as _;
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

pub(crate) struct Args {
    pub customers: u64,
    pub resync_customers: u64,
    pub skip_pg: bool,
    pub skip_emulator: bool,
    pub runs: usize,
    pub shard_parallel: usize,
    pub load_parallel: usize,
    /// `--profile FORM`: time only that form of (a) on one thread (for perf / callgrind).
    pub profile: Option<String>,
    /// `--timing`: only (d), time on the emulator (issue 10).
    pub timing: bool,
    /// `--wake-sizes 1000,10000,100000`: table sizes at which (d1) times a wake-up tick.
    pub wake_sizes: Vec<u64>,
    /// `--timing-customers N`: customers of (d2)'s ten groups (default 1000).
    pub timing_customers: u64,
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
        profile: None,
        timing: false,
        wake_sizes: vec![1_000, 10_000, 100_000],
        timing_customers: 1_000,
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
            "--profile" => a.profile = Some(it.next().ok_or("--profile needs walker, program or plan")?),
            "--skip-pg" => a.skip_pg = true,
            "--timing" => a.timing = true,
            "--timing-customers" => a.timing_customers = value()?,
            "--wake-sizes" => {
                let v = it.next().ok_or("--wake-sizes needs a list, e.g. 1000,10000")?;
                a.wake_sizes = v
                    .split(',')
                    .map(|x| x.trim().replace('_', "").parse())
                    .collect::<Result<_, _>>()?;
            }
            "--skip-emulator" => a.skip_emulator = true,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

pub(crate) fn say(s: impl AsRef<str>) {
    println!("{}", s.as_ref());
    let _ = std::io::stdout().flush();
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The 1-minute load average and the core count: the machine may be shared while the timings run.
pub(crate) fn load() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let one = avg.split_whitespace().next().unwrap_or("?").to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, load average {one}")
}

pub(crate) fn best(ds: &[Duration]) -> Duration {
    ds.iter().copied().min().unwrap_or_default()
}

pub(crate) fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else {
        format!("{:.0} /s", r)
    }
}

/// The summary lines of each part, printed again at the end.
#[derive(Default)]
pub(crate) struct Summary {
    pub lines: Vec<String>,
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
        "# cg-bench (issues 3 and 18)\ncommand: {command}\nclock (our now and PostgreSQL's literal): {}",
        data::NOW
    ));
    let mut summary = Summary::default();
    if args.timing {
        timing_part(&args, &mut summary)?;
        say("\n## Summary");
        for l in &summary.lines {
            say(l);
        }
        say(format!("command: {command}"));
        return Ok(());
    }

    let part_a = part_a::run(&args, &rules, now, &mut summary);
    if let Err(e) = &part_a {
        say(format!("(a) FAILED: {e}"));
    }
    emulator_parts(&args, &mut summary)?;

    say("\n## Summary");
    for l in &summary.lines {
        say(l);
    }
    say(format!("command: {command}"));
    part_a
}

#[cfg(feature = "emulator")]
fn timing_part(args: &Args, summary: &mut Summary) -> Result<(), Error> {
    part_d::run(args, summary)
}

#[cfg(not(feature = "emulator"))]
fn timing_part(_: &Args, _: &mut Summary) -> Result<(), Error> {
    Err("--timing needs the emulator feature (infra/bench.sh without --skip-emulator)".into())
}

#[cfg(feature = "emulator")]
fn emulator_parts(args: &Args, summary: &mut Summary) -> Result<(), Error> {
    if args.skip_emulator || std::env::var("AWS_ENDPOINT_URL").is_err() {
        say("\n(b), (c): skipped (no AWS_ENDPOINT_URL; run through infra/bench.sh)");
        summary.lines.push("(b) (c) skipped".into());
        return Ok(());
    }
    parts_bc::run(args, summary)
}

#[cfg(not(feature = "emulator"))]
fn emulator_parts(_: &Args, summary: &mut Summary) -> Result<(), Error> {
    say("\n(b), (c): skipped (built without the emulator feature)");
    summary.lines.push("(b) (c) skipped".into());
    Ok(())
}
