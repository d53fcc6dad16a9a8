//! (a) our engine beside PostgreSQL 15 on the same generated customers and the same 20 rules, all in
//! one run. PostgreSQL runs the rules as one scan with 20 `count(*) FILTER (WHERE ..)` (the anchor: what
//! a PostgreSQL user would write for "every group at once", and what a resync does) and as 20 separate
//! `count(*)` queries (issue 3's anchor), each with its default parallel plan and with one worker.
//! Every count of every form must be equal, or the part fails.

use crate::engine::{self, Engines, Form};
use crate::pg;
use crate::{best, data, fmt_rate, load, rules, say, verdict, Args, Error, Summary};
use cg_domain::customer::Customer;
use cg_domain::rules::Rule;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Issue 18: the whole machine against PostgreSQL's single scan with its parallel plan.
const TARGET_MACHINE: f64 = 10.0;
/// Issue 18: one thread against PostgreSQL's single scan with one worker.
const TARGET_THREAD: f64 = 5.0;

/// Customers of the cache-resident sample.
const HOT_SAMPLE: usize = 200;

fn min_ms(ms: &[f64]) -> f64 {
    ms.iter().copied().fold(f64::INFINITY, f64::min)
}

fn sum_best(per_query: &[(u64, Vec<f64>)]) -> f64 {
    per_query.iter().map(|(_, ms)| min_ms(ms)).sum()
}

fn ms_list(ds: &[Duration]) -> Vec<u128> {
    ds.iter().map(|d| d.as_millis()).collect()
}

/// One timed form: its name, threads, best ms and every run.
struct Row {
    name: String,
    threads: usize,
    best_ms: f64,
    runs: Vec<u128>,
}

pub fn run(args: &Args, rules: &[Rule], now: DateTime<Utc>, summary: &mut Summary) -> Result<(), Error> {
    let n = args.customers;
    say(format!(
        "\n## (a) rule evaluations: our engine vs PostgreSQL ({n} customers x {} rules)",
        rules.len()
    ));
    let t = Instant::now();
    let mut customers: Vec<Customer> = (0..n).map(data::customer).collect();
    say(format!(
        "generated {n} customers in {:.1}s (deterministic, seed fixed; at most ONE subscription per customer so \
         PostgreSQL reads the same facts as one flat row)",
        t.elapsed().as_secs_f64()
    ));
    let e = Engines::new(rules.to_vec());
    if let Some(form) = &args.profile {
        let form = match form.as_str() {
            "walker" => Form::Walker,
            "singles" => Form::Singles,
            "program" => Form::Program,
            "program-pages" => Form::ProgramPages,
            "plan" => Form::Plan,
            "plan-pages" => Form::PlanPages,
            other => return Err(format!("--profile {other}: expected walker, singles, program or plan").into()),
        };
        let ds = engine::time(&e, form, &customers, now, args.runs, 1);
        say(format!(
            "{form:?}, one thread, {} runs: best {:.0} ns per customer",
            ds.len(),
            best(&ds).as_secs_f64() * 1e9 / n as f64
        ));
        return Ok(());
    }
    let (ours, walked) = engine::count_matches(&e, &customers, now);
    let mut mismatches: Vec<String> = Vec::new();
    if ours != walked {
        mismatches.push("compiled engine vs tree walker".into());
    }
    let pg = if args.skip_pg || !pg::available() {
        say("PostgreSQL: skipped (no PGPORT; run through infra/bench.sh)");
        None
    } else {
        Some(pg::run(&customers, args.runs)?)
    };
    if let Some(p) = &pg {
        let forms: [(&str, Vec<u64>); 4] = [
            ("PostgreSQL single scan, parallel", p.scan_parallel.0.clone()),
            ("PostgreSQL single scan, 1 worker", p.scan_one.0.clone()),
            (
                "PostgreSQL 20 queries, parallel",
                p.separate_parallel.iter().map(|r| r.0).collect(),
            ),
            (
                "PostgreSQL 20 queries, 1 worker",
                p.separate_one.iter().map(|r| r.0).collect(),
            ),
        ];
        for (name, counts) in forms {
            if counts != ours {
                mismatches.push(name.into());
            }
        }
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let evals = n * rules.len() as u64;
    say(format!("timing our engine ({})", load()));
    let mut rows = Vec::new();
    let mut timed = |name: &str, form: Form, t: usize, customers: &[Customer]| -> f64 {
        let ds = engine::time(&e, form, customers, now, args.runs, t);
        let row = Row {
            name: name.to_owned(),
            threads: t,
            best_ms: best(&ds).as_secs_f64() * 1e3,
            runs: ms_list(&ds),
        };
        let ms = row.best_ms;
        rows.push(row);
        ms
    };
    let walker = timed(
        "tree walker rules::evaluate (before; the test oracle)",
        Form::Walker,
        1,
        &customers,
    );
    let singles = timed(
        "compiled, a program per rule, pages (customer decoded per rule)",
        Form::Singles,
        1,
        &customers,
    );
    let one_by_one = timed(
        "compiled, one program for all 20 rules, customer by customer",
        Form::Program,
        1,
        &customers,
    );
    let program_1 = timed(
        "compiled, one program, pages of 1000 (batches of 64)",
        Form::ProgramPages,
        1,
        &customers,
    );
    let program_n = timed(
        "compiled, one program, pages of 1000 (batches of 64)",
        Form::ProgramPages,
        threads,
        &customers,
    );
    let single_1 = timed(
        "Plan::evaluate, customer by customer (events, wake-ups)",
        Form::Plan,
        1,
        &customers,
    );
    let first_1 = timed(
        "Plan::evaluate_many, pages, first pass (all memberships new)",
        Form::PlanPages,
        1,
        &customers,
    );
    let first_n = timed(
        "Plan::evaluate_many, pages, first pass (all memberships new)",
        Form::PlanPages,
        threads,
        &customers,
    );
    let sample = &customers[..customers.len().min(HOT_SAMPLE)];
    let hot: Vec<(&str, f64)> = [
        ("tree walker", Form::Walker),
        ("compiled, pages", Form::ProgramPages),
        ("Plan::evaluate_many, first pass", Form::PlanPages),
    ]
    .into_iter()
    .map(|(name, form)| {
        let d = engine::time_hot(&e, form, sample, now, 2_000_000 / sample.len().max(1), args.runs);
        (name, d.as_secs_f64() * 1e9 / sample.len().max(1) as f64)
    })
    .collect();
    let sample_len = sample.len();
    let per_rule = engine::time_per_rule(&e, &customers, now);
    let entered = engine::settle(&e, &mut customers, now);
    let steady_1 = timed(
        "Plan::evaluate_many, pages, steady state (memberships current)",
        Form::PlanPages,
        1,
        &customers,
    );
    let steady_n = timed(
        "Plan::evaluate_many, pages, steady state (memberships current)",
        Form::PlanPages,
        threads,
        &customers,
    );

    let rate = |ms: f64| evals as f64 / (ms / 1e3);
    let mut table = format!(
        "\n{:<66} {:>7} {:>9} {:>11}  runs ms\n",
        "form", "threads", "best ms", "evals/s"
    );
    for r in &rows {
        let _ = writeln!(
            table,
            "{:<66} {:>7} {:>9.1} {:>11}  {:?}",
            r.name,
            r.threads,
            r.best_ms,
            fmt_rate(rate(r.best_ms)),
            r.runs
        );
    }
    if let Some(p) = &pg {
        let pg_rows = [
            (
                format!("PostgreSQL single scan, 20 FILTER counts, parallel ({})", p.workers),
                min_ms(&p.scan_parallel.1),
                &p.scan_parallel.1,
            ),
            (
                "PostgreSQL single scan, 20 FILTER counts, 1 worker".to_owned(),
                min_ms(&p.scan_one.1),
                &p.scan_one.1,
            ),
        ];
        for (name, ms, runs) in pg_rows {
            let _ = writeln!(
                table,
                "{:<66} {:>7} {:>9.1} {:>11}  {:?}",
                name,
                "-",
                ms,
                fmt_rate(rate(ms)),
                runs.iter().map(|x| x.round() as u64).collect::<Vec<_>>()
            );
        }
        for (name, per) in [
            (
                "PostgreSQL 20 queries, parallel (sum of best per query)",
                &p.separate_parallel,
            ),
            (
                "PostgreSQL 20 queries, 1 worker (sum of best per query)",
                &p.separate_one,
            ),
        ] {
            let ms = sum_best(per);
            let _ = writeln!(table, "{:<66} {:>7} {:>9.1} {:>11}", name, "-", ms, fmt_rate(rate(ms)));
        }
    }
    say(table);
    say(format!(
        "compute alone, one thread, the first {sample_len} customers over and over (their data stays in the cache): {}",
        hot.iter()
            .map(|(name, ns)| format!(
                "{name} {ns:.0} ns per customer ({})",
                fmt_rate(rules.len() as f64 * 1e9 / ns)
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    say(format!(
        "(steady state: the first pass's {entered} memberships written into the customers, so no delta; \
         one pass = {evals} group evaluations; {})",
        load()
    ));

    // Per rule: our engine with that rule alone (decoding what it needs), PostgreSQL's own query, 1 worker.
    let mut per = format!(
        "\n{:<68} {:>8} {:>8} {:>8} {:>9} {:>7}\n",
        "rule (each alone, one thread / one worker)", "ours", "postgres", "our ms", "pg ms", "pg/our"
    );
    for (i, r) in rules::RULES.iter().enumerate() {
        let our_ms = per_rule[i].as_secs_f64() * 1e3;
        let (pg_count, pg_ms, ratio) = match &pg {
            Some(p) => {
                let (c, ms) = &p.separate_one[i];
                let best = min_ms(ms);
                (c.to_string(), format!("{best:.1}"), format!("{:.1}x", best / our_ms))
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            per,
            "{:<68} {:>8} {:>8} {:>8.1} {:>9} {:>7}",
            r.name, ours[i], pg_count, our_ms, pg_ms, ratio
        );
    }
    say(per);
    say(format!(
        "steps, one thread: tree walker {walker:.0} ms -> compiled, a program per rule {singles:.0} ms ({:.2}x) -> one \
         program for all rules {one_by_one:.0} ms ({:.2}x) -> in batches of 64 customers {program_1:.0} ms ({:.2}x; {:.2}x \
         the tree walker) -> with delta and wake-up: Plan::evaluate_many {first_1:.0} ms first pass, {steady_1:.0} ms \
         steady state (Plan::evaluate customer by customer {single_1:.0} ms)",
        walker / singles,
        singles / one_by_one,
        one_by_one / program_1,
        walker / program_1
    ));

    let counts_line = if mismatches.is_empty() {
        if pg.is_some() {
            "all 20 counts equal in every form (compiled, tree walker, PostgreSQL x4)".to_owned()
        } else {
            "compiled and tree walker counts equal".to_owned()
        }
    } else {
        format!("COUNT MISMATCH: {mismatches:?}")
    };
    let Some(p) = &pg else {
        let line = format!(
            "(a) compiled engine {} on {threads} cores, {} on one thread; Plan::evaluate_many {} / {}; PostgreSQL skipped; {counts_line}",
            fmt_rate(rate(program_n)),
            fmt_rate(rate(program_1)),
            fmt_rate(rate(first_n)),
            fmt_rate(rate(first_1)),
        );
        say(format!("\n{line}"));
        summary.lines.push(line);
        return if mismatches.is_empty() {
            Ok(())
        } else {
            Err(counts_line.into())
        };
    };
    let (scan_par, scan_one) = (min_ms(&p.scan_parallel.1), min_ms(&p.scan_one.1));
    let (sep_par, sep_one) = (sum_best(&p.separate_parallel), sum_best(&p.separate_one));
    let mut lines = Vec::new();
    for (what, ms_n, ms_1) in [
        ("compiled engine (match + next change)", program_n, program_1),
        ("Plan::evaluate_many first pass", first_n, first_1),
        ("Plan::evaluate_many steady state", steady_n, steady_1),
    ] {
        let (machine, thread) = (scan_par / ms_n, scan_one / ms_1);
        lines.push(format!(
            "(a) {what}: {threads} cores {} = {machine:.2}x PostgreSQL's single scan {} (target >= {TARGET_MACHINE:.0}x) {}; \
             one thread {} = {thread:.2}x its 1-worker scan {} (target >= {TARGET_THREAD:.0}x) {}; \
             vs 20 queries: {:.2}x / {:.2}x",
            fmt_rate(rate(ms_n)),
            fmt_rate(rate(scan_par)),
            verdict(machine >= TARGET_MACHINE),
            fmt_rate(rate(ms_1)),
            fmt_rate(rate(scan_one)),
            verdict(thread >= TARGET_THREAD),
            sep_par / ms_n,
            sep_one / ms_1,
        ));
    }
    lines.push(format!("(a) {counts_line}; {}", p.version));
    say("");
    for l in lines {
        say(&l);
        summary.lines.push(l);
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(counts_line.into())
    }
}
