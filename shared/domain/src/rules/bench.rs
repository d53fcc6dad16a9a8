//! A rough throughput check of evaluation (ignored by default; run with
//! `cargo test --release -p cg-domain rules::bench -- --ignored --nocapture`).

use super::tests::{customer, now};
use super::*;
use crate::customer::{AttributeValue, Subscription, SubscriptionStatus};
use chrono::Duration;
use serde_json::json;
use std::time::Instant;

fn customers(n: usize) -> Vec<Customer> {
    (0..n)
        .map(|i| {
            let mut c = customer();
            let h = |k: usize| Duration::hours(((i * 7919 + k * 104_729) % 3000) as i64 - 1500);
            c.activity.bookings = (i % 7) as u32;
            c.activity.first_booking_at = Some(now() + h(1));
            c.activity.last_booking_at = Some(now() + h(2));
            c.activity.last_active_at = Some(now() + h(3));
            c.registration_date = Some((now() + h(4)).date_naive());
            c.tags = [format!("t{}", i % 5)].into();
            c.attributes
                .insert("gender".into(), AttributeValue::String(["f", "m", "x"][i % 3].into()));
            c.subscriptions = (0..i % 3)
                .map(|k| Subscription {
                    application: format!("app{k}"),
                    product: None,
                    plan: Some(["m", "y"][i % 2].into()),
                    period: None,
                    paid: i % 2 == 0,
                    status: [SubscriptionStatus::Active, SubscriptionStatus::Canceled][k % 2],
                    subscribed_at: Some(now() + h(5 + k)),
                    renews_at: (i % 4 == 0).then(|| now() + h(8 + k)),
                    expires_at: (i % 4 == 1).then(|| now() + h(11 + k)),
                    canceled_at: (i % 5 == 0).then(|| now() + h(14 + k)),
                    last_active_at: None,
                })
                .collect();
            c
        })
        .collect()
}

#[test]
#[ignore = "throughput check, run on demand in release mode"]
fn evaluates_twenty_groups_for_a_million_customers() {
    let mut rules: Vec<Rule> = templates().into_iter().map(|(_, r)| r).collect();
    let more = [
        json!({"lifecycle": {"states": ["renewing", "expiring"], "timing": {"before_days": 7}}}),
        json!({"lifecycle": {"states": ["canceled", "expired"], "applications": ["app1"]}}),
        json!({"lifecycle": {"states": ["inactive"]}}),
        json!({"all": [{"tags": {"has_any": ["t1", "t2"]}}, {"bookings": {"op": ">=", "value": 3}}]}),
        json!({"attribute": {"field": "attributes.gender", "op": "in", "values": ["f", "x"]}}),
        json!({"registration_date": {"op": ">=", "value": "-30d"}}),
        json!({"has_service": {"plan": "m", "paid": true}}),
        json!({"paid_service_count": {"op": ">", "value": 0}}),
        json!({"not": {"member_of": {"group_id": "g1"}}}),
        json!({"any": [{"email_verified": {"verified": true}}, {"verified_phone_missing": {}}]}),
        json!({"attribute": {"field": "last_active_at", "op": "<", "value": "-14d"}}),
        json!({"no_service": {"status": ["canceled"]}}),
        json!({"lifecycle": {"states": ["subscribed"], "plans": ["y"], "timing": {"after_days": 30}}}),
        json!({"all": [{"lifecycle": {"states": ["registered"]}}, {"not": {"tags": {"has_all": ["t0"]}}}]}),
    ];
    rules.extend(more.iter().map(|v| Definition::parse(Some(v), None).unwrap().rule));
    assert_eq!(rules.len(), 20);
    let pool = customers(10_000);
    let settings = LifecycleSettings::default();
    let in_group = |_: &GroupId| false;
    let ctx = EvalContext {
        now: now(),
        settings: &settings,
        in_group: &in_group,
    };
    let started = Instant::now();
    let (mut matched, mut wakes) = (0u64, 0u64);
    for round in 0..100 {
        for c in &pool {
            for r in &rules {
                let out = evaluate(r, c, &ctx);
                matched += u64::from(out.matched);
                wakes += u64::from(out.next_change.is_some() && round == 0);
            }
        }
    }
    let took = started.elapsed();
    eprintln!(
        "20 groups x 1M customers: {took:?} ({:.0} ns per customer, {matched} matches, {wakes} wake-ups in the first round)",
        took.as_nanos() as f64 / 1e6
    );
}
