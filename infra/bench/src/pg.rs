//! (a), PostgreSQL's side, through `psql` (connection from the PG* variables infra/bench.sh exports).

use crate::{data, load as load_average, rules, say};
use cg_domain::customer::Customer;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Whether infra/bench.sh started a server for us.
pub fn available() -> bool {
    std::env::var("PGPORT").is_ok_and(|p| !p.is_empty())
}

/// Runs a script in one `psql` session and returns its output (unaligned, tuples only, with `\timing`
/// lines as psql prints them).
pub fn psql(script: &str) -> Result<String, Error> {
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    child.stdin.take().expect("piped").write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Creates the table, copies the CSV in and analyses it.
pub fn load(table_sql: &str, csv: &Path) -> Result<(), Error> {
    let script = format!(
        "DROP TABLE IF EXISTS customers;\n{table_sql};\n\\copy customers FROM '{}' WITH (FORMAT csv)\nVACUUM ANALYZE customers;\n",
        csv.display()
    );
    psql(&script)?;
    Ok(())
}

/// Server settings that matter for a sequential-scan count.
pub fn settings() -> Result<Vec<(String, String)>, Error> {
    let names = [
        "server_version",
        "max_parallel_workers_per_gather",
        "max_parallel_workers",
        "jit",
        "shared_buffers",
        "work_mem",
    ];
    let script: String = names.iter().map(|n| format!("SHOW {n};\n")).collect();
    let out = psql(&script)?;
    let values: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    Ok(names
        .iter()
        .map(|n| n.to_string())
        .zip(values.into_iter().map(str::to_owned))
        .collect())
}

pub fn table_size() -> Result<String, Error> {
    let out = psql("SELECT pg_size_pretty(pg_total_relation_size('customers'));\n")?;
    Ok(out.trim().to_owned())
}

/// How many processes PostgreSQL may scan with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workers {
    /// Its default parallel plan.
    Parallel,
    /// `SET max_parallel_workers_per_gather = 0`: the backend alone, one process.
    One,
}

impl Workers {
    fn prelude(self) -> &'static str {
        match self {
            Workers::Parallel => "SET TimeZone = 'UTC';\n",
            Workers::One => "SET TimeZone = 'UTC';\nSET max_parallel_workers_per_gather = 0;\n",
        }
    }
}

/// Runs `query` `runs` times in one session (settings before `\timing on`, so only the query is
/// timed); returns each run's output lines and time in ms.
fn timed(query: &str, runs: usize, workers: Workers) -> Result<Vec<(String, f64)>, Error> {
    let mut script = format!("{}\\timing on\n", workers.prelude());
    for _ in 0..runs {
        script.push_str(query);
        script.push('\n');
    }
    let out = psql(&script)?;
    let mut results = Vec::new();
    let mut rows = String::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("Time: ") {
            let ms = rest.split_whitespace().next().unwrap_or("");
            let ms = ms
                .parse::<f64>()
                .map_err(|_| format!("cannot read psql timing {line:?}"))?;
            results.push((std::mem::take(&mut rows), ms));
        } else {
            rows.push_str(line);
        }
    }
    if results.len() != runs {
        return Err(format!("expected {runs} timings, got {}", results.len()).into());
    }
    Ok(results)
}

fn counts(row: &str) -> Result<Vec<u64>, Error> {
    row.split('|')
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| format!("unexpected psql output {row:?}").into())
        })
        .collect()
}

/// The single-scan query: every rule's count in one pass over the table.
pub fn single_scan_sql(wheres: &[String]) -> String {
    let filters: Vec<String> = wheres.iter().map(|w| format!("count(*) FILTER (WHERE {w})")).collect();
    format!("SELECT {} FROM customers;", filters.join(", "))
}

/// One scan computing all counts: the counts and the time of each run in ms.
pub fn single_scan(wheres: &[String], runs: usize, workers: Workers) -> Result<(Vec<u64>, Vec<f64>), Error> {
    let results = timed(&single_scan_sql(wheres), runs, workers)?;
    let first = counts(&results[0].0)?;
    if first.len() != wheres.len() {
        return Err(format!("expected {} counts, got {}", wheres.len(), first.len()).into());
    }
    Ok((first, results.into_iter().map(|(_, ms)| ms).collect()))
}

/// Each WHERE clause as its own `count(*)`: per clause, the count and the time of each run in ms.
pub fn separate(wheres: &[String], runs: usize, workers: Workers) -> Result<Vec<(u64, Vec<f64>)>, Error> {
    wheres
        .iter()
        .map(|w| {
            let results = timed(&format!("SELECT count(*) FROM customers WHERE {w};"), runs, workers)?;
            let c = counts(&results[0].0)?;
            Ok((c[0], results.into_iter().map(|(_, ms)| ms).collect()))
        })
        .collect()
}

/// A query's plan (to show whether PostgreSQL ran it in parallel, and with how many workers).
pub fn explain(query: &str, workers: Workers) -> Result<String, Error> {
    psql(&format!(
        "{}EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {query}\n",
        workers.prelude()
    ))
}

/// PostgreSQL's four forms.
pub struct PgRun {
    pub scan_parallel: (Vec<u64>, Vec<f64>),
    pub scan_one: (Vec<u64>, Vec<f64>),
    pub separate_parallel: Vec<(u64, Vec<f64>)>,
    pub separate_one: Vec<(u64, Vec<f64>)>,
    pub version: String,
    pub workers: String,
}

/// Loads the customers into PostgreSQL and times the four forms.
pub fn run(customers: &[Customer], runs: usize) -> Result<PgRun, Error> {
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
    let loaded = load(data::PG_TABLE, &csv);
    let _ = std::fs::remove_file(&csv);
    loaded?;
    say(format!(
        "PostgreSQL: CSV {:.0} MB written in {:.1}s, COPY + VACUUM ANALYZE in {:.1}s, table {}",
        csv_bytes as f64 / 1e6,
        t_csv.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        table_size()?
    ));
    let settings = settings()?;
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
    let scan = single_scan_sql(&wheres);
    let plan = explain(&scan, Workers::Parallel)?;
    let workers = plan
        .lines()
        .find(|l| l.contains("Workers Launched"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "no parallel workers".into());
    let jit = if plan.contains("JIT") { "JIT used" } else { "no JIT" };
    let one = explain(&scan, Workers::One)?;
    let one_ok = !one.contains("Workers Launched");
    say(format!(
        "PostgreSQL plans: single scan {workers}, {jit}; with max_parallel_workers_per_gather = 0: {}",
        if one_ok {
            "no workers (one process)"
        } else {
            "STILL PARALLEL"
        }
    ));
    say(format!(
        "timing PostgreSQL, best of {runs} per form/query, psql \\timing ({})",
        load_average()
    ));
    let run = PgRun {
        scan_parallel: single_scan(&wheres, runs, Workers::Parallel)?,
        scan_one: single_scan(&wheres, runs, Workers::One)?,
        separate_parallel: separate(&wheres, runs, Workers::Parallel)?,
        separate_one: separate(&wheres, runs, Workers::One)?,
        version: format!(
            "PostgreSQL {}",
            settings
                .iter()
                .find(|(k, _)| k == "server_version")
                .map_or("?", |(_, v)| v.as_str())
        ),
        workers: format!("{workers}, {jit}"),
    };
    Ok(run)
}
