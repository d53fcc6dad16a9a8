//! (a), PostgreSQL's side, through `psql` (connection from the PG* variables infra/bench.sh exports).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// For each WHERE clause: the count, and the time of each of `runs` runs in ms (psql's `\timing`).
pub fn count_and_time(wheres: &[String], runs: usize) -> Result<Vec<(u64, Vec<f64>)>, Error> {
    let mut script = String::from("SET TimeZone = 'UTC';\n\\timing on\n");
    for w in wheres {
        for _ in 0..runs {
            script.push_str(&format!("SELECT count(*) FROM customers WHERE {w};\n"));
        }
    }
    let out = psql(&script)?;
    let mut counts = Vec::new();
    // `SET` runs before `\timing on`, so only the counts are timed.
    let mut times = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("Time: ") {
            let ms = rest.split_whitespace().next().unwrap_or("");
            times.push(
                ms.parse::<f64>()
                    .map_err(|_| format!("cannot read psql timing {line:?}"))?,
            );
        } else {
            counts.push(
                line.parse::<u64>()
                    .map_err(|_| format!("unexpected psql output {line:?}"))?,
            );
        }
    }
    if counts.len() != wheres.len() * runs || times.len() != wheres.len() * runs {
        return Err(format!(
            "expected {} counts and timings, got {} and {}",
            wheres.len() * runs,
            counts.len(),
            times.len()
        )
        .into());
    }
    Ok(wheres
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let c = counts[i * runs];
            (c, times[i * runs..(i + 1) * runs].to_vec())
        })
        .collect())
}

/// One query's plan (to show whether PostgreSQL ran it in parallel).
pub fn explain(where_clause: &str) -> Result<String, Error> {
    psql(&format!(
        "SET TimeZone = 'UTC';\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM customers WHERE {where_clause};\n"
    ))
}
