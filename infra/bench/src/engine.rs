//! (a), our side: the 20 rules over every customer, on one thread and on every core (the customers
//! split in equal contiguous slices, as a resync splits them into shards), in four forms:
//! - the tree walker `rules::evaluate` (the engine before issue 18, now the test oracle), rule by rule;
//! - the compiled engine with one program per rule (each decodes the customer itself);
//! - the compiled engine with one program for all 20 rules (the customer decoded once), one customer
//!   at a time and over pages of `PAGE` customers (`matches_many`, batches inside);
//! - the service's membership pass (match, delta and next wake-up of all groups): `Plan::evaluate` one
//!   customer at a time (events, wake-ups) and `Plan::evaluate_many` over pages (resync shards).

use cg_domain::customer::Customer;
use cg_domain::ids::GroupId;
use cg_domain::membership::{DynamicGroup, Plan};
use cg_domain::rules::{evaluate, EvalContext, LifecycleSettings, Program, Rule};
use chrono::{DateTime, Utc};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The rules in every form the benchmark times.
pub struct Engines {
    pub rules: Vec<Rule>,
    /// All rules in one program.
    pub program: Program,
    /// One program per rule.
    pub singles: Vec<Program>,
    pub plan: Plan,
}

impl Engines {
    pub fn new(rules: Vec<Rule>) -> Engines {
        let settings = LifecycleSettings::default();
        let groups: Vec<DynamicGroup> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| DynamicGroup {
                id: GroupId::parse(&format!("g{i:02}")).expect("valid id"),
                rule: r.clone(),
                settings,
            })
            .collect();
        Engines {
            program: Program::new(rules.iter().map(|r| (None, r, &settings))),
            singles: rules.iter().map(|r| Program::single(r, &settings)).collect(),
            plan: Plan::new(groups).expect("no references, no cycles"),
            rules,
        }
    }
}

/// Customers per page in the paged forms (a resync shard evaluates the customers of a page).
pub const PAGE: usize = 1000;

/// Which engine a timed pass runs.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    Walker,
    Singles,
    Program,
    ProgramPages,
    Plan,
    PlanPages,
}

/// Matches per rule by the compiled program and by the tree walker.
pub fn count_matches(e: &Engines, customers: &[Customer], now: DateTime<Utc>) -> (Vec<u64>, Vec<u64>) {
    let settings = LifecycleSettings::default();
    let mut compiled = vec![0u64; e.rules.len()];
    let mut walked = vec![0u64; e.rules.len()];
    let (mut matched, mut next) = (Vec::new(), Vec::new());
    for page in customers.chunks(PAGE) {
        e.program.matches_many(page, now, &mut matched, &mut next);
        for row in matched.chunks(e.rules.len()) {
            for (n, m) in compiled.iter_mut().zip(row) {
                *n += u64::from(*m);
            }
        }
    }
    for c in customers {
        let in_group = |g: &GroupId| c.groups.contains(g);
        let ctx = EvalContext {
            now,
            settings: &settings,
            in_group: &in_group,
        };
        for (n, rule) in walked.iter_mut().zip(&e.rules) {
            *n += u64::from(evaluate(rule, c, &ctx).matched);
        }
    }
    (compiled, walked)
}

/// One pass of a form over the customers: every rule's match and next change (and for the plan, the
/// delta); returns a checksum so nothing is optimised away.
fn pass(e: &Engines, form: Form, customers: &[Customer], now: DateTime<Utc>) -> u64 {
    let mut acc = 0u64;
    let mut matched = Vec::with_capacity(e.rules.len());
    let settings = LifecycleSettings::default();
    match form {
        Form::ProgramPages => {
            let mut next = Vec::new();
            for page in black_box(customers).chunks(PAGE) {
                e.program.matches_many(page, now, &mut matched, &mut next);
                acc += matched.iter().map(|m| u64::from(*m)).sum::<u64>();
                acc += next.iter().map(|t| u64::from(t.is_some())).sum::<u64>();
            }
            return black_box(acc);
        }
        Form::Singles => {
            let mut next = Vec::new();
            for page in black_box(customers).chunks(PAGE) {
                for p in &e.singles {
                    p.matches_many(page, now, &mut matched, &mut next);
                    acc += matched.iter().map(|m| u64::from(*m)).sum::<u64>();
                    acc += next.iter().map(|t| u64::from(t.is_some())).sum::<u64>();
                }
            }
            return black_box(acc);
        }
        Form::PlanPages => {
            for page in black_box(customers).chunks(PAGE) {
                for d in e.plan.evaluate_many(page, now) {
                    acc += (d.entered.len() + d.left.len()) as u64 + u64::from(d.next_wake_at.is_some());
                }
            }
            return black_box(acc);
        }
        _ => {}
    }
    for c in black_box(customers) {
        match form {
            Form::Walker => {
                let in_group = |g: &GroupId| c.groups.contains(g);
                let ctx = EvalContext {
                    now,
                    settings: &settings,
                    in_group: &in_group,
                };
                for rule in &e.rules {
                    let out = evaluate(rule, c, &ctx);
                    acc += u64::from(out.matched) + u64::from(out.next_change.is_some());
                }
            }
            Form::Program => {
                let next = e.program.matches_into(c, now, &mut matched);
                acc += matched.iter().map(|m| u64::from(*m)).sum::<u64>() + u64::from(next.is_some());
            }
            Form::Plan | Form::PlanPages | Form::ProgramPages | Form::Singles => {
                let d = e.plan.evaluate(c, now);
                acc += (d.entered.len() + d.left.len()) as u64 + u64::from(d.next_wake_at.is_some());
            }
        }
    }
    black_box(acc)
}

/// Best-of material: `runs` timed passes of a form after a warm-up pass, on `threads` scoped threads
/// over contiguous slices.
pub fn time(
    e: &Engines,
    form: Form,
    customers: &[Customer],
    now: DateTime<Utc>,
    runs: usize,
    threads: usize,
) -> Vec<Duration> {
    let slice = customers.len().div_ceil(threads.max(1)).max(1);
    let run = || {
        if threads <= 1 {
            return pass(e, form, customers, now);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = customers
                .chunks(slice)
                .map(|part| s.spawn(move || pass(e, form, part, now)))
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

/// Each rule alone (its own program, pages of `PAGE`) over every customer, one thread, one timed pass
/// per rule.
pub fn time_per_rule(e: &Engines, customers: &[Customer], now: DateTime<Utc>) -> Vec<Duration> {
    let (mut matched, mut next) = (Vec::new(), Vec::new());
    e.singles
        .iter()
        .map(|p| {
            let t = Instant::now();
            let mut acc = 0u64;
            for page in black_box(customers).chunks(PAGE) {
                p.matches_many(page, now, &mut matched, &mut next);
                acc += matched.iter().map(|m| u64::from(*m)).sum::<u64>();
                acc += next.iter().map(|t| u64::from(t.is_some())).sum::<u64>();
            }
            black_box(acc);
            t.elapsed()
        })
        .collect()
}

/// Writes the pass's memberships into the customers (as a first resync does), so the next passes
/// measure the steady state: nothing changes. In place: a copy of every customer would scatter the
/// customers' heap data and measure the allocator instead.
pub fn settle(e: &Engines, customers: &mut [Customer], now: DateTime<Utc>) -> usize {
    let mut entered = 0;
    for page in customers.chunks_mut(PAGE) {
        let deltas = e.plan.evaluate_many(page, now);
        for (c, d) in page.iter_mut().zip(deltas) {
            entered += d.entered.len();
            c.groups.extend(d.entered);
            for g in &d.left {
                c.groups.remove(g);
            }
            c.next_wake_at = d.next_wake_at;
        }
    }
    entered
}

/// Compute alone: `reps` passes over a small sample that stays in the cache (as a page a shard has
/// just deserialized would), best of `runs`; the time per pass over the sample.
pub fn time_hot(
    e: &Engines,
    form: Form,
    sample: &[Customer],
    now: DateTime<Utc>,
    reps: usize,
    runs: usize,
) -> Duration {
    pass(e, form, sample, now);
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                black_box(pass(e, form, sample, now));
            }
            t.elapsed() / reps.max(1) as u32
        })
        .min()
        .unwrap_or_default()
}
