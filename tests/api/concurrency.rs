//! Many writers at once on the local stack, as a busy tenant has them: customers created and patched,
//! events with distinct ids for the same customers, static members added and removed, while resyncs
//! run. Afterwards every count the service keeps must equal what was sent: activity counters equal
//! the events, every group's `member_count` its member rows, every customer's `groups` the groups
//! that list it, and every dynamic group the customers its rule selects.

use cg_local::auth;
use cg_tests::http::{Api, Response};
use cg_tests::{fresh_tenant, shared_dev_server, DEV_SECRET};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CUSTOMERS: usize = 200;
const WRITERS: usize = 16;
const EVENTS_PER_WRITER: usize = 50;
/// Events go to the first few customers only, so writers collide on them all the time.
const HOT: usize = 6;

/// Sends until the answer is not a retryable 503 or a `concurrent_update` 409.
async fn settled(api: &Api, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
    for _ in 0..50 {
        let r = api.call(method, path, token, body.clone()).await;
        let retry = r.status == 503 || (r.status == 409 && r.body["error"]["code"] == "concurrent_update");
        if !retry {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{method} {path} kept failing");
}

async fn all_pages(api: &Api, path: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let r = settled(api, "GET", &url, token, None).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        items.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

/// Waits until every group's last resync is over.
async fn resyncs_done(api: &Api, token: &str, groups: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(240);
    for g in groups {
        loop {
            let r = settled(api, "GET", &format!("/groups/{g}"), token, None).await;
            let status = r.body["sync"]["status"].as_str().unwrap_or("done").to_owned();
            if status == "done" {
                break;
            }
            assert_ne!(status, "failed", "{}", r.raw);
            assert!(Instant::now() < deadline, "resync of {g} never finished: {}", r.raw);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_writers_leave_every_count_and_membership_exact() {
    let api = Arc::new(Api::new(shared_dev_server()));
    let token: Arc<str> = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900).into();
    let group = |body: Value| {
        let (api, token) = (api.clone(), token.clone());
        async move {
            let r = settled(&api, "POST", "/groups", &token, Some(body)).await;
            assert_eq!(r.status, 201, "{}", r.raw);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let all = group(json!({"name": "everyone", "type": "dynamic", "rules": {"all_customers": {}}})).await;
    let bookers = group(json!({"name": "bookers", "type": "dynamic",
        "rules": {"attribute": {"field": "bookings", "op": ">=", "value": 8}}}))
    .await;
    let hand = group(json!({"name": "hand-picked"})).await;
    let in_hand = group(json!({"name": "in hand-picked", "type": "dynamic",
        "rules": {"member_of": {"group_id": hand}}}))
    .await;

    // Customers created over 8 connections while the groups' first resyncs run.
    let mut creates = Vec::new();
    for w in 0..WRITERS {
        let (api, token) = (api.clone(), token.clone());
        creates.push(tokio::spawn(async move {
            for i in (w..CUSTOMERS).step_by(WRITERS) {
                let r = settled(&api, "POST", "/customers", &token, Some(json!({"id": format!("c{i}")}))).await;
                assert_eq!(r.status, 201, "{}", r.raw);
            }
        }));
    }
    for c in creates {
        c.await.unwrap();
    }

    // Then everything at once: events, static member changes, patches and resyncs.
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (api, token) = (api.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent: BTreeMap<String, (u64, i64)> = BTreeMap::new();
            for n in 0..EVENTS_PER_WRITER {
                let customer = format!("c{}", (w + n) % HOT);
                let booking = n % 3 != 0;
                let event = if booking {
                    json!({"event_id": format!("b-{w}-{n}"), "customer_id": customer, "type": "booking.created",
                           "occurred_at": "2026-11-20T10:00:00Z"})
                } else {
                    json!({"event_id": format!("p-{w}-{n}"), "customer_id": customer, "type": "payment.credited",
                           "occurred_at": "2026-11-20T10:00:00Z", "currency": "EUR", "amount_minor": 125})
                };
                let r = settled(&api, "POST", "/events", &token, Some(json!({"events": [event]}))).await;
                assert_eq!(r.status, 200, "{}", r.raw);
                let e = sent.entry(customer).or_default();
                if booking {
                    e.0 += 1;
                } else {
                    e.1 += 125;
                }
            }
            sent
        }));
    }
    let mut members = Vec::new();
    for m in 0..2 {
        let (api, token, hand) = (api.clone(), token.clone(), hand.clone());
        members.push(tokio::spawn(async move {
            for n in 0..20 {
                let customer = format!("c{}", (m * 11 + n * 3) % CUSTOMERS);
                let r = settled(
                    &api,
                    "POST",
                    &format!("/groups/{hand}/members"),
                    &token,
                    Some(json!({"customer_ids": [customer.clone()]})),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.raw);
                if n % 2 == 0 {
                    let r = settled(
                        &api,
                        "DELETE",
                        &format!("/groups/{hand}/members/{customer}"),
                        &token,
                        None,
                    )
                    .await;
                    assert!(matches!(r.status, 204 | 404), "{}", r.raw);
                }
            }
        }));
    }
    {
        let (api, token, all) = (api.clone(), token.clone(), all.clone());
        members.push(tokio::spawn(async move {
            for n in 0..6 {
                let r = settled(&api, "POST", &format!("/groups/{all}/resync"), &token, None).await;
                assert_eq!(r.status, 202, "{}", r.raw);
                let c = format!("c{}", n % CUSTOMERS);
                let r = settled(
                    &api,
                    "PATCH",
                    &format!("/customers/{c}"),
                    &token,
                    Some(json!({"tags": [format!("t{n}")]})),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.raw);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }
    let mut expected: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for t in tasks {
        for (c, (b, p)) in t.await.unwrap() {
            let e = expected.entry(c).or_default();
            e.0 += b;
            e.1 += p;
        }
    }
    for m in members {
        m.await.unwrap();
    }
    let groups = [all.clone(), bookers.clone(), hand.clone(), in_hand.clone()];
    resyncs_done(&api, &token, &groups).await;

    let customers = all_pages(&api, "/customers", &token).await;
    assert_eq!(customers.len(), CUSTOMERS);
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in &groups {
        let rows = all_pages(&api, &format!("/groups/{g}/members"), &token).await;
        let count = settled(&api, "GET", &format!("/groups/{g}"), &token, None).await.body["member_count"]
            .as_u64()
            .unwrap();
        assert_eq!(count, rows.len() as u64, "member_count of {g} equals its member rows");
        for r in rows {
            listed
                .entry(r["customer_id"].as_str().unwrap().to_owned())
                .or_default()
                .insert(g.clone());
        }
    }
    let hand_members = all_pages(&api, &format!("/groups/{hand}/members"), &token).await;
    let hand_members: BTreeSet<String> = hand_members
        .iter()
        .map(|m| m["customer_id"].as_str().unwrap().to_owned())
        .collect();
    for c in &customers {
        let id = c["id"].as_str().unwrap().to_owned();
        let (bookings, paid) = expected.get(&id).copied().unwrap_or_default();
        assert_eq!(
            c["activity"]["bookings"].as_u64().unwrap_or(0),
            bookings,
            "{id}: bookings equal the events"
        );
        let total: i64 = c["activity"]["payments"]["totals"]["EUR"].as_i64().unwrap_or(0);
        assert_eq!(total, paid, "{id}: payments equal the events: {}", c["activity"]);
        let groups_of: BTreeSet<String> = c["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            groups_of,
            listed.get(&id).cloned().unwrap_or_default(),
            "{id}: groups equal the member rows"
        );
        // The dynamic groups follow their rules.
        assert!(groups_of.contains(&all), "{id} is in everyone");
        assert_eq!(
            groups_of.contains(&bookers),
            bookings >= 8,
            "{id}: bookers follows bookings {bookings}"
        );
        assert_eq!(
            groups_of.contains(&in_hand),
            hand_members.contains(&id),
            "{id}: in-hand follows hand-picked"
        );
    }
}
