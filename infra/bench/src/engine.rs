//! (a), our side: every rule over every customer, on one thread and on every core (the customers split
//! in equal contiguous slices, as a resync splits them into shards).

use cg_domain::customer::Customer;
use cg_domain::ids::GroupId;
use cg_domain::membership::{DynamicGroup, Plan};
use cg_domain::rules::{evaluate, EvalContext, LifecycleSettings, Rule};
use chrono::{DateTime, Utc};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Matches per rule.
pub fn count_matches(rules: &[Rule], customers: &[Customer], now: DateTime<Utc>) -> Vec<u64> {
    let settings = LifecycleSettings::default();
    let mut counts = vec![0u64; rules.len()];
    for c in customers {
        let in_group = |g: &GroupId| c.groups.contains(g);
        let ctx = EvalContext {
            now,
            settings: &settings,
            in_group: &in_group,
        };
        for (n, rule) in counts.iter_mut().zip(rules) {
            *n += u64::from(evaluate(rule, c, &ctx).matched);
        }
    }
    counts
}

/// One pass of `evaluate` (match and next change) of every rule over every customer.
fn pass(rules: &[Rule], customers: &[Customer], now: DateTime<Utc>) -> u64 {
    let settings = LifecycleSettings::default();
    let mut acc = 0u64;
    for c in black_box(customers) {
        let in_group = |g: &GroupId| c.groups.contains(g);
        let ctx = EvalContext {
            now,
            settings: &settings,
            in_group: &in_group,
        };
        for rule in rules {
            let out = evaluate(rule, c, &ctx);
            acc = acc
                .wrapping_add(u64::from(out.matched))
                .wrapping_add(u64::from(out.next_change.is_some()));
        }
    }
    black_box(acc)
}

/// Best of `runs` passes after one warm-up pass.
pub fn time_evaluate(rules: &[Rule], customers: &[Customer], now: DateTime<Utc>, runs: usize) -> Vec<Duration> {
    pass(rules, customers, now);
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            pass(rules, customers, now);
            t.elapsed()
        })
        .collect()
}

/// Best of `runs` passes with the customers split over `threads` scoped threads, after a warm-up pass.
pub fn time_evaluate_parallel(
    rules: &[Rule],
    customers: &[Customer],
    now: DateTime<Utc>,
    runs: usize,
    threads: usize,
) -> Vec<Duration> {
    let slice = customers.len().div_ceil(threads.max(1)).max(1);
    let run = || {
        std::thread::scope(|s| {
            let handles: Vec<_> = customers
                .chunks(slice)
                .map(|part| s.spawn(move || pass(rules, part, now)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("evaluation thread"))
                .fold(0u64, u64::wrapping_add)
        })
    };
    black_box(run());
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(run());
            t.elapsed()
        })
        .collect()
}

/// Each rule alone over every customer (one timed pass per rule after the warm-up of `time_evaluate`).
pub fn time_per_rule(rules: &[Rule], customers: &[Customer], now: DateTime<Utc>) -> Vec<Duration> {
    rules
        .iter()
        .map(|r| {
            let one = std::slice::from_ref(r);
            let t = Instant::now();
            pass(one, customers, now);
            t.elapsed()
        })
        .collect()
}

/// The membership pass the service runs per customer (all groups in dependency order, delta and next
/// wake-up), for comparison with the bare rule evaluations.
pub fn time_plan(rules: &[Rule], customers: &[Customer], now: DateTime<Utc>, runs: usize) -> Vec<Duration> {
    let groups = rules
        .iter()
        .enumerate()
        .map(|(i, r)| DynamicGroup {
            id: GroupId::parse(&format!("g{i:02}")).expect("valid id"),
            rule: r.clone(),
            settings: LifecycleSettings::default(),
        })
        .collect();
    let plan = Plan::new(groups).expect("no references, no cycles");
    let run = || {
        let mut acc = 0usize;
        for c in black_box(customers) {
            let d = plan.evaluate(c, now);
            acc += d.entered.len() + d.left.len();
        }
        black_box(acc)
    };
    run();
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .collect()
}
