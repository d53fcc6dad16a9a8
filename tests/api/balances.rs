//! Balances on moto (issue 15): the single adjustment (once per idempotency key, 422 for an
//! insufficient balance, concurrent adjustments all land), the ledger (newest first, paged, entries
//! summing to the balance), and group balance operations run as bulk jobs: killed before a commit,
//! after it and after its follow-up, delivered twice at once and again after the end, concurrent
//! with other operations and adjustments, in random sequences checked against an oracle.

use cg_domain::balance::request::{ChangeBody, ChangeInput};
use cg_domain::balance::BalanceEntry;
use cg_domain::bulk::{BulkStatus, BulkTask};
use cg_domain::ids::{BulkJobId, CustomerId, GroupId, TenantId};
use cg_domain::page::PageRequest;
use cg_domain::usecases::balance_job::{create_group_operation, get_group_operation, run_balance_task};
use cg_domain::usecases::bulk_job::{BulkSettings, FaultPoint, RunOutcome};
use cg_domain::usecases::{balances, lookup};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_tests::given::{self, group, static_group};
use cg_tests::kill_at;
use cg_tests::{app, cid, drop_isolated, fresh_tenant, isolated_app};
use chrono::Utc;
use serde_json::json;
use std::collections::BTreeMap;

/// A customer `id` with `tags`.
async fn customer(app: &App, t: &TenantId, id: &str, tags: &[&str]) {
    given::customer(app, t, json!({"id": id, "tags": tags})).await
}

fn change(kind: &str, unit: &str, amount: i64, key: &str, allow_negative: bool) -> ChangeInput {
    let body: ChangeBody = serde_json::from_value(json!({"type": kind, "unit": unit, "amount": amount,
        "comment": format!("{kind} {amount} {unit}"), "idempotency_key": key, "allow_negative": allow_negative}))
    .unwrap();
    ChangeInput::try_from(body).unwrap()
}

/// One adjustment, sent again while the answer is a retryable conflict (409 `concurrent_update`, as a
/// client would).
async fn adjust(app: &App, t: &TenantId, id: &str, c: ChangeInput) -> Result<balances::AdjustmentView, DomainError> {
    loop {
        match balances::adjust_balance(&app.store, t, &cid(id), c.clone(), "tester").await {
            Err(DomainError::ConcurrentUpdate) => continue,
            other => return other,
        }
    }
}

/// One delivery of the task, delivered again while it fails retryably, as the queue would.
async fn deliver(app: &App, task: &BulkTask, settings: &BulkSettings) -> RunOutcome {
    loop {
        match run_balance_task(&app.store, task, settings, false, Utc::now()).await {
            Ok(report) => return report.outcome,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

async fn ledger(app: &App, t: &TenantId, id: &CustomerId) -> Vec<BalanceEntry> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = balances::list_ledger(&app.store, t, id, &PageRequest { limit: 7, cursor })
            .await
            .unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// Every ledger is newest first, chains (each entry starts where the previous one ended) and sums to
/// the balance; returns the balances and each customer's number of entries.
async fn balances_and_entries(
    app: &App,
    t: &TenantId,
    ids: &[String],
) -> (BTreeMap<(String, String), i64>, BTreeMap<String, usize>) {
    let mut held = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for id in ids {
        let c = lookup::get_customer(&app.store, t, &cid(id)).await.unwrap();
        let entries = ledger(app, t, &c.id).await;
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for e in entries.iter().rev() {
            let sum = sums.entry(e.unit.to_string()).or_default();
            assert_eq!(e.balance_before, *sum, "{id}: entries chain");
            assert_eq!(e.delta, e.balance_after - e.balance_before);
            *sum = e.balance_after;
        }
        let stored: BTreeMap<String, i64> = c.balances.iter().map(|(u, v)| (u.to_string(), *v)).collect();
        assert_eq!(sums, stored, "{id}: the ledger sums to the balances");
        for (u, v) in stored {
            if v != 0 {
                held.insert((id.clone(), u), v);
            }
        }
        counts.insert(id.clone(), entries.len());
    }
    (held, counts)
}

#[tokio::test]
async fn a_single_adjustment_applies_once_per_key_and_the_ledger_lists_newest_first() {
    let app = app().await;
    let t = fresh_tenant();
    customer(&app, &t, "ana", &[]).await;
    let first = adjust(&app, &t, "ana", change("adjust", "EUR", 500, "k1", false))
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = adjust(&app, &t, "ana", change("adjust", "EUR", 500, "k1", false))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.entry, first.entry, "a repeat answers the first entry");
    adjust(&app, &t, "ana", change("adjust", "EUR", -200, "k2", false))
        .await
        .unwrap();
    let refused = adjust(&app, &t, "ana", change("adjust", "EUR", -301, "k3", false)).await;
    match refused {
        Err(DomainError::Validation { field, message }) => {
            assert_eq!(field, "amount");
            assert!(message.starts_with("insufficient_balance"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    adjust(&app, &t, "ana", change("adjust", "points", 40, "k4", false))
        .await
        .unwrap();
    let set = adjust(&app, &t, "ana", change("set", "EUR", 1000, "k5", false))
        .await
        .unwrap();
    assert_eq!(
        set.entry.as_ref().map(|e| (e.balance_before, e.delta)),
        Some((300, 700))
    );
    let same = adjust(&app, &t, "ana", change("set", "EUR", 1000, "k6", false))
        .await
        .unwrap();
    assert_eq!(same.status, balances::AdjustmentStatus::Unchanged);
    let c = lookup::get_customer(&app.store, &t, &cid("ana")).await.unwrap();
    assert_eq!(
        serde_json::to_value(&c).unwrap()["balances"],
        json!({"EUR": 1000, "points": 40})
    );

    let page = balances::list_ledger(&app.store, &t, &cid("ana"), &PageRequest { limit: 2, cursor: None })
        .await
        .unwrap();
    let keys: Vec<&str> = page.items.iter().map(|e| e.operation.id.as_str()).collect();
    assert_eq!(keys, ["k5", "k4"]);
    let rest = balances::list_ledger(
        &app.store,
        &t,
        &cid("ana"),
        &PageRequest {
            limit: 5,
            cursor: page.next_cursor,
        },
    )
    .await
    .unwrap();
    let keys: Vec<&str> = rest.items.iter().map(|e| e.operation.id.as_str()).collect();
    assert_eq!(keys, ["k2", "k1"]);
    assert!(rest.items.iter().all(|e| e.actor == "tester" && !e.comment.is_empty()));
    balances_and_entries(&app, &t, &["ana".into()]).await;

    // Another tenant sees neither the customer nor its ledger.
    let other = fresh_tenant();
    let missing = balances::list_ledger(&app.store, &other, &cid("ana"), &PageRequest::first(5)).await;
    assert!(matches!(missing, Err(DomainError::NotFound(_))));
    let missing = adjust(&app, &other, "ana", change("adjust", "EUR", 1, "k7", false)).await;
    assert!(matches!(missing, Err(DomainError::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adjustments_all_land_and_a_key_sent_at_once_applies_once() {
    let app = app().await;
    let t = fresh_tenant();
    customer(&app, &t, "bo", &[]).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, t) = (app.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            // Six distinct keys, each sent twice at once.
            let key = format!("k{}", i % 6);
            adjust(&app, &t, "bo", change("adjust", "points", 10 + (i % 6), &key, false))
                .await
                .unwrap()
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        fresh += usize::from(!task.await.unwrap().replayed);
    }
    assert_eq!(fresh, 6, "each key applied once");
    let (held, entries) = balances_and_entries(&app, &t, &["bo".into()]).await;
    assert_eq!(held[&("bo".to_owned(), "points".to_owned())], (10..16).sum::<i64>());
    assert_eq!(entries["bo"], 6);
}

/// Runs the task with a hook that kills the run at `point` (if the run gets there), then lets a plain
/// run (the queue's redelivery) finish it.
async fn killed_then_redelivered(app: &App, task: &BulkTask, point: FaultPoint) {
    let (hook, died) = kill_at(point);
    let settings = BulkSettings {
        fault: Some(hook),
        ..Default::default()
    };
    tokio::select! {
        r = deliver(app, task, &settings) => {
            assert_eq!(r, RunOutcome::Finished, "the run ended before {point:?}");
            return;
        }
        _ = died.notified() => {}
    }
    assert_eq!(deliver(app, task, &BulkSettings::default()).await, RunOutcome::Finished);
}

/// How a group operation is delivered to the worker.
#[derive(Debug, Clone, Copy)]
enum Delivery {
    Once,
    Killed(FaultPoint),
    TwiceAtOnce,
}

async fn run_operation(app: &App, t: &TenantId, g: &GroupId, c: ChangeInput, how: Delivery) -> BulkJobId {
    let view = create_group_operation(&app.store, t, g, c, "tester", Utc::now())
        .await
        .unwrap();
    let task = BulkTask::BalanceOperation {
        tenant: t.clone(),
        job_id: view.id.clone(),
    };
    let plain = BulkSettings::default();
    match how {
        Delivery::Once => assert_eq!(deliver(app, &task, &plain).await, RunOutcome::Finished),
        Delivery::Killed(point) => killed_then_redelivered(app, &task, point).await,
        Delivery::TwiceAtOnce => {
            let (a, b) = tokio::join!(deliver(app, &task, &plain), deliver(app, &task, &plain));
            let outcomes = [a, b];
            assert!(outcomes.contains(&RunOutcome::Finished), "{outcomes:?}");
            // Whichever lost either stopped at its next fenced write or found the job over.
            let ok = |o: &RunOutcome| {
                matches!(
                    o,
                    RunOutcome::Finished | RunOutcome::Superseded | RunOutcome::AlreadyFinished
                )
            };
            assert!(outcomes.iter().all(ok), "{outcomes:?}");
        }
    }
    // A delivery after the end changes nothing.
    assert_eq!(deliver(app, &task, &plain).await, RunOutcome::AlreadyFinished);
    view.id
}

/// The oracle: balances by (customer, unit), written from the rules of seed 001 and the README.
#[derive(Default)]
struct Oracle {
    held: BTreeMap<(String, String), i64>,
    entries: BTreeMap<String, usize>,
}

impl Oracle {
    /// Applies a change to one customer: `Some(true)` applied, `Some(false)` unchanged, `None` rejected.
    fn apply(&mut self, id: &str, kind: &str, unit: &str, amount: i64, allow_negative: bool) -> Option<bool> {
        let key = (id.to_owned(), unit.to_owned());
        let before = self.held.get(&key).copied().unwrap_or(0);
        let after = if kind == "set" { amount } else { before + amount };
        if after == before {
            return Some(false);
        }
        if after < 0 && after < before && !allow_negative {
            return None;
        }
        self.held.insert(key.clone(), after);
        if after == 0 {
            self.held.remove(&key);
        }
        *self.entries.entry(id.to_owned()).or_default() += 1;
        Some(true)
    }
}

/// A small deterministic generator (xorshift), so a failing sequence can be replayed from its seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const CUSTOMERS: usize = 80;

fn id(i: usize) -> String {
    format!("c{i:02}")
}

#[tokio::test]
async fn random_operation_sequences_with_kills_and_redeliveries_equal_the_oracle() {
    let app = isolated_app().await;
    for seed in [7u64, 1_234_567, 99_991] {
        let mut rng = Gen(seed);
        let t = fresh_tenant();
        // The dynamic group first, so each customer's creation evaluates it.
        let vip = group(
            &app,
            &t,
            json!({"name": "vip", "type": "dynamic", "rules": {"tags": {"has_any": ["vip"]}}}),
        )
        .await;
        let ids: Vec<String> = (0..CUSTOMERS).map(id).collect();
        for (i, c) in ids.iter().enumerate() {
            customer(&app, &t, c, if i % 3 == 0 { &["vip"] } else { &[] }).await;
        }
        let a = static_group(&app, &t, "static", &ids[..50]).await;
        let b = static_group(&app, &t, "static", &ids[30..]).await;
        let members: [(GroupId, Vec<String>); 3] = [
            (a, ids[..50].to_vec()),
            (b, ids[30..].to_vec()),
            (vip, ids.iter().step_by(3).cloned().collect()),
        ];
        let mut oracle = Oracle::default();
        for step in 0..7 {
            let kind = if rng.next(3) == 0 { "set" } else { "adjust" };
            let unit = if rng.next(2) == 0 { "EUR" } else { "points" };
            let amount = rng.next(800) as i64 - 300;
            let amount = if kind == "adjust" && amount == 0 { 1 } else { amount };
            let allow_negative = rng.next(5) == 0 || (kind == "set" && amount < 0);
            let key = format!("s{seed}-{step}");
            if rng.next(4) == 0 {
                // A single adjustment, sent twice.
                let who = id(rng.next(CUSTOMERS as u64) as usize);
                let expected = oracle.apply(&who, kind, unit, amount, allow_negative);
                for _ in 0..2 {
                    let got = adjust(&app, &t, &who, change(kind, unit, amount, &key, allow_negative)).await;
                    assert_eq!(got.is_ok(), expected.is_some(), "step {step}: {got:?}");
                }
                continue;
            }
            let (g, in_group) = &members[rng.next(3) as usize];
            let how = match rng.next(5) {
                0 => Delivery::Once,
                1 => Delivery::TwiceAtOnce,
                2 => Delivery::Killed(FaultPoint::BeforeCommit(1 + rng.next(2))),
                3 => Delivery::Killed(FaultPoint::AfterCommit(1 + rng.next(2))),
                _ => Delivery::Killed(FaultPoint::AfterFollowUp(1)),
            };
            let (mut applied, mut unchanged, mut rejected) = (0, 0, 0);
            for c in in_group {
                match oracle.apply(c, kind, unit, amount, allow_negative) {
                    Some(true) => applied += 1,
                    Some(false) => unchanged += 1,
                    None => rejected += 1,
                }
            }
            let op = run_operation(&app, &t, g, change(kind, unit, amount, &key, allow_negative), how).await;
            let view = get_group_operation(&app.store, &t, &op).await.unwrap();
            assert_eq!(view.status, BulkStatus::Done, "seed {seed} step {step} {how:?}");
            assert_eq!(
                (view.counts.applied, view.counts.unchanged, view.counts.rejected),
                (applied, unchanged, rejected),
                "seed {seed} step {step} {how:?} {kind} {amount} {unit}"
            );
            assert_eq!(view.rejected.len() as u64, rejected);
            assert!(view.rejected.iter().all(|r| r.reason == "insufficient_balance"));
            // The same key again returns this operation and applies nothing.
            let again = create_group_operation(
                &app.store,
                &t,
                g,
                change("adjust", "EUR", 1, &key, false),
                "tester",
                Utc::now(),
            )
            .await
            .unwrap();
            assert_eq!(again.id, op);
        }
        let (held, entries) = balances_and_entries(&app, &t, &ids).await;
        assert_eq!(held, oracle.held, "seed {seed}: balances");
        let expected: BTreeMap<String, usize> = ids
            .iter()
            .map(|c| (c.clone(), oracle.entries.get(c).copied().unwrap_or(0)))
            .collect();
        assert_eq!(entries, expected, "seed {seed}: one entry per applied change");
    }
    drop_isolated(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_operations_on_overlapping_groups_and_adjustments_lose_no_update() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let ids: Vec<String> = (0..60).map(id).collect();
    for c in &ids {
        customer(&app, &t, c, &[]).await;
    }
    let a = static_group(&app, &t, "static", &ids[..40]).await;
    let b = static_group(&app, &t, "static", &ids[20..]).await;
    let (app2, t2) = (app.clone(), t.clone());
    let singles = tokio::spawn(async move {
        for i in 20..40 {
            adjust(
                &app2,
                &t2,
                &id(i),
                change("adjust", "EUR", 1, &format!("one-{i}"), false),
            )
            .await
            .unwrap();
        }
    });
    tokio::join!(
        run_operation(
            &app,
            &t,
            &a,
            change("adjust", "EUR", 100, "op-a", false),
            Delivery::Once
        ),
        run_operation(
            &app,
            &t,
            &b,
            change("adjust", "EUR", 10, "op-b", false),
            Delivery::TwiceAtOnce
        ),
    );
    singles.await.unwrap();
    let (held, entries) = balances_and_entries(&app, &t, &ids).await;
    for (i, c) in ids.iter().enumerate() {
        let want = if i < 20 {
            100
        } else if i < 40 {
            111
        } else {
            10
        };
        assert_eq!(held.get(&(c.clone(), "EUR".into())), Some(&want), "{c}");
        assert_eq!(entries[c], if (20..40).contains(&i) { 3 } else { 1 }, "{c}");
    }
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_dynamic_group_on_a_balance_follows_adjustments_and_group_operations() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let rich = group(
        &app,
        &t,
        json!({"name": "rich", "type": "dynamic", "rules": {"balance": {"unit": "EUR", "op": ">=", "amount_minor": 1000}}}),
    )
    .await;
    let ids: Vec<String> = (0..3).map(id).collect();
    for c in &ids {
        customer(&app, &t, c, &[]).await;
    }
    let everyone = static_group(&app, &t, "static", &ids).await;
    let in_rich = |c: cg_domain::customer::Customer| c.groups.contains(&rich);
    adjust(&app, &t, "c00", change("adjust", "EUR", 1000, "r1", false))
        .await
        .unwrap();
    assert!(in_rich(
        lookup::get_customer(&app.store, &t, &cid("c00")).await.unwrap()
    ));
    adjust(&app, &t, "c00", change("adjust", "EUR", -1, "r2", false))
        .await
        .unwrap();
    assert!(!in_rich(
        lookup::get_customer(&app.store, &t, &cid("c00")).await.unwrap()
    ));
    // A group operation's follow-up is the membership pass too.
    run_operation(
        &app,
        &t,
        &everyone,
        change("set", "EUR", 5000, "r3", false),
        Delivery::Once,
    )
    .await;
    for c in &ids {
        assert!(
            in_rich(lookup::get_customer(&app.store, &t, &cid(c)).await.unwrap()),
            "{c}"
        );
    }
    drop_isolated(&app).await;
}
