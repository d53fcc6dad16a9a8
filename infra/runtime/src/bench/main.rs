//! The runtime benchmark (issue 12; run it with `infra/bench-runtime.sh`, which starts moto): the
//! function binaries run under the Runtime API of `cg-runtime`, their AWS requests through the metering
//! proxy. It prints the targets and writes the measured counts the cost model prices
//! (`infra/cost/counts.json`, read by `infra/cost/cost.py`):
//! (1) every stripped arm64 bootstrap `infra/package.sh` built <= 10 MiB;
//! (2) init to the first `next` request of each function, median of `--starts` starts <= 50 ms;
//! (3) warm latency of `GET /customers/{id}` and `POST /events` (one event), p50 and p99;
//! (4) the reference tenant's operations at a small scale, phase by phase: a nightly resync (first and
//!     steady), single events, a wake-up, a group export, API reads; and the table's storage by item kind.
//!
//! Flags: `--customers N` (1000), `--groups N` (50), `--events N` (200), `--latency N` (200),
//! `--starts N` (10), `--out PATH` (infra/cost/counts.json), `--release` (time release binaries).

mod workload;

use cg_runtime::metering::{self, Meter};
use cg_runtime::process::Binaries;
use cg_runtime::stack::Stack;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

const TARGET_BOOTSTRAP_BYTES: u64 = 10 * 1024 * 1024;
const TARGET_INIT_MS: f64 = 50.0;

pub struct Args {
    pub customers: usize,
    pub groups: usize,
    pub events: usize,
    pub latency: usize,
    pub starts: usize,
    pub out: String,
    pub release: bool,
}

fn parse_args() -> Result<Args, Error> {
    let mut a = Args {
        customers: 1000,
        groups: 50,
        events: 200,
        latency: 200,
        starts: 10,
        out: "infra/cost/counts.json".into(),
        release: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--customers" => a.customers = value()?.parse()?,
            "--groups" => a.groups = value()?.parse()?,
            "--events" => a.events = value()?.parse()?,
            "--latency" => a.latency = value()?.parse()?,
            "--starts" => a.starts = value()?.parse::<usize>()?.max(1),
            "--out" => a.out = value()?,
            "--release" => a.release = true,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The value at quantile `q` of sorted samples (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// (1) The arm64 bootstraps of the last `infra/package.sh`, if it ran.
fn bootstraps(stack: &Stack) -> Value {
    println!("\n## (1) arm64 bootstraps (infra/package.sh; target <= 10 MiB each)");
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), Into::into);
    let mut sizes = serde_json::Map::new();
    for f in &stack.functions {
        let path = target.join("lambda").join(&f.binary).join("bootstrap");
        if let Ok(meta) = std::fs::metadata(&path) {
            sizes.insert(f.binary.clone(), json!(meta.len()));
        }
    }
    if sizes.is_empty() {
        println!(
            "none found under {}: run infra/package.sh first",
            target.join("lambda").display()
        );
        return Value::Null;
    }
    let largest = sizes
        .iter()
        .max_by_key(|(_, v)| v.as_u64())
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)));
    if let Some((name, bytes)) = largest {
        println!(
            "{} bootstraps, largest {name} {bytes} bytes ({:.2} MiB) {}",
            sizes.len(),
            bytes as f64 / 1048576.0,
            verdict(bytes <= TARGET_BOOTSTRAP_BYTES && sizes.len() == stack.functions.len())
        );
    }
    Value::Object(sizes)
}

/// (2) Spawn to first `next`, `starts` times per function, one start at a time.
async fn init_times(stack: &Stack, binaries: &Binaries, starts: usize) -> Result<Value, Error> {
    println!("\n## (2) init to first `next` (host build, median of {starts} starts; target <= {TARGET_INIT_MS} ms)");
    let mut rows = Vec::new();
    for f in &stack.functions {
        let mut ms = Vec::new();
        for _ in 0..starts {
            let p = stack.start(binaries, &f.binary, &[]).await?;
            let d = p
                .init(Duration::from_secs(30))
                .await
                .map_err(|e| format!("{}: {e:?}", f.binary))?;
            ms.push(d.as_secs_f64() * 1e3);
            drop(p);
        }
        ms.sort_by(f64::total_cmp);
        rows.push((f.binary.clone(), quantile(&ms, 0.5), ms[ms.len() - 1]));
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, median, max) in &rows {
        println!("  {name:<32} median {median:>7.1} ms   max {max:>7.1} ms");
    }
    let (slowest, worst, _) = rows[0].clone();
    println!(
        "slowest median: {slowest} {worst:.1} ms (target <= {TARGET_INIT_MS} ms) {}",
        verdict(worst <= TARGET_INIT_MS)
    );
    Ok(json!({
        "starts": starts,
        "median_ms": rows.iter().map(|(n, m, _)| (n.clone(), json!(m))).collect::<serde_json::Map<_, _>>(),
        "slowest": slowest,
        "slowest_median_ms": worst,
    }))
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" "));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        println!("# cg-runtime-bench (issue 12)\ncommand: {command}");
        let moto = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL must point at moto; run infra/bench-runtime.sh")?;
        let release = args.release;
        let binaries = tokio::task::spawn_blocking(move || Binaries::build(release)).await??;
        let meter = Meter::default();
        let mut stack = Stack::provision().await?;
        stack.endpoint = metering::start(&moto, meter.clone()).await?;
        let sizes = bootstraps(&stack);
        let init = init_times(&stack, &binaries, args.starts).await?;
        let mut run = workload::Run::start(&stack, &binaries, meter.clone(), &args).await?;
        let measured = run.all(&binaries, &moto).await?;
        let storage = workload::storage(&moto, &stack, &run.tenant).await?;
        let counts = json!({
            "command": command,
            "measured_at": chrono::Utc::now().to_rfc3339(),
            "build": if args.release { "release" } else { "debug" },
            "machine": format!("{} cores", std::thread::available_parallelism().map_or(0, |n| n.get())),
            "sample": {"customers": args.customers, "groups": args.groups},
            "memory_mb": stack.functions.iter().map(|f| (f.binary.clone(), json!(f.memory_mb))).collect::<serde_json::Map<_, _>>(),
            "bootstrap_bytes": sizes,
            "init": init,
            "latency": measured.latency,
            "phases": measured.phases,
            "storage": storage,
        });
        let out = root().join(&args.out);
        std::fs::write(&out, serde_json::to_string_pretty(&counts)? + "\n")?;
        println!("\ncounts written to {}; price them with: python3 infra/cost/cost.py", args.out);
        drop(run);
        Ok::<_, Error>(())
    })?;
    Ok(())
}
