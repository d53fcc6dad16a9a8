//! Seed 000's walkthrough end to end over HTTP on the local stack: a "Renewing in 7 days" group for
//! one application, lifecycle events for a few customers, the scheduler's clock moved forward, and who
//! enters and leaves — with the history, explain, preview and templates that show it.

use cg_lambda::scheduler::{run_task, Task};
use cg_local::auth;
use cg_tests::http::Api;
use cg_tests::{app, fresh_tenant, shared_dev_server};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use cg_tests::DEV_SECRET as SECRET;

async fn server() -> Api {
    Api::new(shared_dev_server())
}

async fn members(api: &Api, t: &str, g: &str) -> BTreeSet<String> {
    let r = api
        .call("GET", &format!("/groups/{g}/members?limit=100"), t, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customer_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (the dev server's workers drain the queue) until the group's members are `want`.
async fn eventually_members(api: &Api, t: &str, g: &str, want: &[&str]) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    for _ in 0..300 {
        if members(api, t, g).await == want {
            let group = api.call("GET", &format!("/groups/{g}"), t, None).await;
            assert_eq!(group.body["member_count"], want.len(), "{}", group.raw);
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("members of {g} are {:?}, expected {want:?}", members(api, t, g).await);
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn event(id: &str, customer: &str, kind: &str, occurred: DateTime<Utc>, extra: Value) -> Value {
    let mut e = json!({"event_id": id, "customer_id": customer, "type": kind, "occurred_at": at(occurred)});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[tokio::test]
async fn renewing_in_seven_days_follows_events_and_time() {
    let api = server().await;
    let tenant = fresh_tenant();
    let t = auth::issue(SECRET, tenant.as_str(), 600);
    let now = Utc::now();

    for id in ["ana", "ben", "cy", "dee"] {
        let r = api
            .call(
                "POST",
                "/customers",
                &t,
                Some(json!({"id": id, "email": format!("{id}@example.com")})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let created = api
        .call(
            "POST",
            "/groups",
            &t,
            Some(json!({
                "name": "Renewing in 7 days", "type": "dynamic",
                "rules": {"all": [{"lifecycle": {"states": ["renewing"], "applications": ["news"], "timing": {"before_days": 7}}}]}
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    assert_eq!(created.body["sync"]["status"], "queued", "{}", created.raw);
    let g = created.body["id"].as_str().unwrap().to_owned();

    // ana renews in 10 days (not yet), ben in 3 days (in), cy in 3 days but on another application,
    // dee canceled (no renewal).
    let news = json!({"application": "news", "plan": "monthly"});
    let with = |extra: Value| {
        let mut v = news.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let batch = json!({"events": [
        event("e1", "ana", "subscription.created", now, with(json!({"renews_at": at(now + Duration::days(10))}))),
        event("e2", "ben", "subscription.created", now, with(json!({"renews_at": at(now + Duration::days(3))}))),
        event("e3", "cy", "subscription.created", now, json!({"application": "sports", "renews_at": at(now + Duration::days(3))})),
        event("e4", "dee", "subscription.created", now - Duration::hours(1), with(json!({"renews_at": at(now + Duration::days(2))}))),
        event("e5", "dee", "subscription.canceled", now, with(json!({"expires_at": at(now + Duration::days(2))}))),
    ]});
    let r = api.call("POST", "/events", &t, Some(batch.clone())).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["accepted"], 5, "{}", r.raw);
    eventually_members(&api, &t, &g, &["ben"]).await;

    // The same batch again changes nothing.
    let again = api.call("POST", "/events", &t, Some(batch)).await;
    assert_eq!(again.status, 200, "{}", again.raw);
    assert_eq!(
        (again.body["accepted"].clone(), again.body["duplicates"].clone()),
        (json!(0), json!(5))
    );

    // Explain: ana does not match yet and will change exactly 7 days before her renewal.
    let ex = api.call("GET", &format!("/groups/{g}/explain/ana"), &t, None).await;
    assert_eq!(ex.status, 200, "{}", ex.raw);
    assert_eq!(ex.body["matched"], false);
    let next: DateTime<Utc> = ex.body["next_change"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, now + Duration::days(3));

    // Three days and a minute later (one scheduler tick): ana enters, ben's renewal date has passed.
    let app = app().await;
    run_task(&app, Task::Wake, now + Duration::days(3) + Duration::minutes(1))
        .await
        .unwrap();
    eventually_members(&api, &t, &g, &["ana"]).await;

    // ana renews for another month: she leaves at once, on the event.
    let renew = json!({"events": [event("e6", "ana", "subscription.renewed", now, with(json!({"renews_at": at(now + Duration::days(40))})))]});
    let r = api.call("POST", "/events", &t, Some(renew)).await;
    assert_eq!(r.body["membership_changes"], 1, "{}", r.raw);
    eventually_members(&api, &t, &g, &[]).await;

    // History shows each entry and exit with its reason, newest first.
    let h = api.call("GET", &format!("/groups/{g}/history"), &t, None).await;
    assert_eq!(h.status, 200, "{}", h.raw);
    let seen: Vec<(String, String, String)> = h.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["customer_id"].as_str().unwrap().to_owned(),
                e["change"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has =
        |c: &str, change: &str, reason: &str| seen.iter().any(|s| s.0 == c && s.1 == change && s.2.contains(reason));
    assert!(has("ben", "entered", "e2"), "{seen:?}");
    assert!(has("ben", "left", "time"), "{seen:?}");
    assert!(has("ana", "entered", "time"), "{seen:?}");
    assert!(has("ana", "left", "subscription.renewed"), "{seen:?}");
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test]
async fn rules_are_validated_previewed_resynced_and_referenced_groups_protected() {
    let api = server().await;
    let t = auth::issue(SECRET, fresh_tenant().as_str(), 600);
    for (id, score) in [("a", 10), ("b", 60), ("c", 90)] {
        let body = json!({"id": id, "attributes": {"score": {"type": "number", "value": score}}, "tags": if id == "a" { vec!["vip"] } else { vec![] }});
        assert_eq!(api.call("POST", "/customers", &t, Some(body)).await.status, 201);
    }
    // A bad node is a 422 naming its path.
    let bad = api
        .call(
            "POST",
            "/groups",
            &t,
            Some(json!({"name": "x", "type": "dynamic", "rules": {"all": [{"any": []}]}})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.raw);
    assert!(
        bad.body["error"]["message"].as_str().unwrap().contains("all[0]"),
        "{}",
        bad.raw
    );

    // Preview before saving.
    let high = json!({"attribute": {"field": "attributes.score", "op": ">=", "value": 50}});
    let p = api
        .call(
            "POST",
            "/groups/preview",
            &t,
            Some(json!({"rules": high.clone(), "sample_size": 1})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.raw);
    assert_eq!(
        (p.body["matched"].clone(), p.body["evaluated"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(p.body["sample"].as_array().unwrap().len(), 1);

    // Condition groups: (score >= 50 OR vip) AND (score < 80).
    let g1 = api
        .call(
            "POST",
            "/groups",
            &t,
            Some(json!({"name": "High", "type": "dynamic", "rules": high})),
        )
        .await;
    let g1 = g1.body["id"].as_str().unwrap().to_owned();
    let cg = json!([[{"member_of": {"group_id": g1}}, {"tags": {"has_any": ["vip"]}}], [{"attribute": {"field": "attributes.score", "op": "<", "value": 80}}]]);
    let g2 = api
        .call(
            "POST",
            "/groups",
            &t,
            Some(json!({"name": "Mixed", "type": "dynamic", "condition_groups": cg})),
        )
        .await;
    assert_eq!(g2.status, 201, "{}", g2.raw);
    assert!(
        g2.body["condition_groups"].is_array(),
        "shown in the form it was given: {}",
        g2.raw
    );
    let g2 = g2.body["id"].as_str().unwrap().to_owned();
    eventually_members(&api, &t, &g1, &["b", "c"]).await;
    eventually_members(&api, &t, &g2, &["a", "b"]).await;

    // A cycle is rejected; a referenced group cannot be deleted.
    let cycle = api
        .call(
            "PATCH",
            &format!("/groups/{g1}"),
            &t,
            Some(json!({"rules": {"member_of": {"group_id": g2}}})),
        )
        .await;
    assert_eq!(cycle.status, 422, "{}", cycle.raw);
    assert!(
        cycle.body["error"]["message"].as_str().unwrap().contains("cycle"),
        "{}",
        cycle.raw
    );
    let del = api.call("DELETE", &format!("/groups/{g1}"), &t, None).await;
    assert_eq!(del.status, 409, "{}", del.raw);
    assert!(
        del.body["error"]["message"].as_str().unwrap().contains(&g2),
        "{}",
        del.raw
    );

    // A customer change re-evaluates at once: c drops below 80 and joins Mixed.
    let r = api
        .call(
            "PATCH",
            "/customers/c",
            &t,
            Some(json!({"attributes": {"score": {"type": "number", "value": 70}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    eventually_members(&api, &t, &g2, &["a", "b", "c"]).await;

    // Resync: 202 with a job; the group then shows it done with a last synced time.
    let job = api.call("POST", &format!("/groups/{g2}/resync"), &t, None).await;
    assert_eq!(job.status, 202, "{}", job.raw);
    for _ in 0..300 {
        let g = api.call("GET", &format!("/groups/{g2}"), &t, None).await;
        if g.body["sync"]["status"] == "done" && g.body["sync"]["job_id"] == job.body["id"] {
            assert!(g.body["sync"]["last_synced_at"].is_string(), "{}", g.raw);
            assert_eq!(g.body["sync"]["progress"], 1.0);
            let templates = api.call("GET", "/group-templates", &t, None).await;
            assert_eq!(templates.status, 200);
            let ids: Vec<&str> = templates.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids.len(), 6, "{ids:?}");
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let g = api.call("GET", &format!("/groups/{g2}"), &t, None).await;
    panic!("resync {} did not finish: sync {}", job.raw, g.body["sync"]);
}
