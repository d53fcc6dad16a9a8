//! Webhooks end to end on the local stack (issue 16): a receiver on 127.0.0.1 checks every delivery
//! with the reference `standardwebhooks` verifier. Static adds and removes, a dynamic group's entries
//! and exits after events and a resync all arrive, exactly the changes of the groups' history, each
//! webhook-id delivered once; failed first attempts come again with the same id and body; timeouts,
//! 429 with Retry-After, dropped connections, 410 and a failed message's replay behave as documented.

use crate::destinations_stack::{eventually, token, Knobs, Receiver, Stack};
use cg_tests::http::Api;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

async fn ok(api: &Api, method: &str, path: &str, t: &str, body: Option<Value>) -> Value {
    let r = api.call(method, path, t, body).await;
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {} {}",
        r.status,
        r.raw
    );
    r.body
}

async fn customers(api: &Api, t: &str, ids: &[&str]) {
    for id in ids {
        ok(
            api,
            "POST",
            "/customers",
            t,
            Some(json!({"id": id, "email": format!("{id}@example.com")})),
        )
        .await;
    }
}

/// A webhook for `types` to `receiver`'s `path`, with the receiver told its secret and script.
async fn endpoint(
    api: &Api,
    t: &str,
    rx: &Receiver,
    path: &str,
    types: &[&str],
    script: &[&str],
    then: &str,
) -> (String, String) {
    let w = ok(
        api,
        "POST",
        "/webhooks",
        t,
        Some(json!({"url": format!("{}{path}", rx.base), "event_types": types, "description": path})),
    )
    .await;
    let secret = w["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    rx.configure(path, &[&secret], script, then).await;
    (w["id"].as_str().unwrap().to_owned(), secret)
}

/// A change as the tests compare them: (group, customer, entered|left, time in milliseconds).
type ChangeKey = (String, String, String, String);

/// Every (group, customer, change, time) in a group's history.
async fn history(api: &Api, t: &str, g: &str) -> BTreeSet<ChangeKey> {
    let h = ok(api, "GET", &format!("/groups/{g}/history?limit=100"), t, None).await;
    h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let at: chrono::DateTime<chrono::Utc> = e["at"].as_str().unwrap().parse().unwrap();
            (
                g.to_owned(),
                e["customer_id"].as_str().unwrap().to_owned(),
                e["change"].as_str().unwrap().to_owned(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
        })
        .collect()
}

/// The changes of the member messages the receiver accepted (200), by change id, with the message
/// id each came in; and the accepted messages by id.
fn accepted(log: &[Value]) -> (BTreeMap<String, ChangeKey>, BTreeMap<String, Value>) {
    let mut changes = BTreeMap::new();
    let mut messages = BTreeMap::new();
    for e in log.iter().filter(|e| e["action"] == "200") {
        let id = e["headers"]["webhook-id"].as_str().unwrap().to_owned();
        let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
        assert!(
            messages.insert(id.clone(), body.clone()).is_none(),
            "{id} accepted twice"
        );
        if body["type"] == "group.member_entered" || body["type"] == "group.member_left" {
            let g = body["data"]["group_id"].as_str().unwrap().to_owned();
            let list = body["data"]["changes"].as_array().unwrap();
            assert_eq!(
                body["data"]["count"],
                list.len(),
                "the payload says which changes it holds"
            );
            for c in list {
                let key = (
                    g.clone(),
                    c["customer_id"].as_str().unwrap().to_owned(),
                    c["change"].as_str().unwrap().to_owned(),
                    c["at"].as_str().unwrap().to_owned(),
                );
                let change_id = c["id"].as_str().unwrap().to_owned();
                assert!(
                    changes.insert(change_id.clone(), key).is_none(),
                    "change {change_id} in two messages"
                );
            }
        }
    }
    (changes, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_signed_once_per_id_after_failed_first_attempts() {
    let stack = Stack::start(Knobs::default()).await;
    let rx = Receiver::start();
    let (api, t) = (&stack.api, &token());
    // Every message fails twice (500), then succeeds: the retries must carry the same id and body.
    let types = ["group.member_entered", "group.member_left", "group.resynced"];
    let (wid, _) = endpoint(api, t, &rx, "/all", &types, &["500", "500"], "200").await;
    customers(api, t, &["ana", "ben", "cy", "dee"]).await;

    // A static group: three added, one removed.
    let s = ok(api, "POST", "/groups", t, Some(json!({"name": "VIP"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        api,
        "POST",
        &format!("/groups/{s}/members"),
        t,
        Some(json!({"customer_ids": ["ana", "ben", "cy"]})),
    )
    .await;
    let r = api.call("DELETE", &format!("/groups/{s}/members/ben"), t, None).await;
    assert_eq!(r.status, 204, "{}", r.raw);

    // A dynamic group: entries and an exit after events, then a resync that moves everyone.
    let rules = |state: &str| json!({"lifecycle": {"states": [state], "applications": ["news"]}});
    let d = ok(
        api,
        "POST",
        "/groups",
        t,
        Some(json!({"name": "Subscribers", "type": "dynamic", "rules": rules("subscribed")})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(60, "the first resync", || async {
        let g = ok(api, "GET", &format!("/groups/{d}"), t, None).await;
        if g["sync"]["status"] == "done" {
            Ok(())
        } else {
            Err(g)
        }
    })
    .await;
    let now = chrono::Utc::now();
    let ev = |id: &str, c: &str, kind: &str| {
        json!({"event_id": id, "customer_id": c, "type": kind, "occurred_at": now.to_rfc3339(),
               "application": "news", "plan": "monthly", "renews_at": (now + chrono::Duration::days(30)).to_rfc3339()})
    };
    let events = json!({"events": [ev("e1", "ana", "subscription.created"), ev("e2", "ben", "subscription.created"),
        ev("e3", "dee", "subscription.created")]});
    assert_eq!(
        ok(api, "POST", "/events", t, Some(events)).await["membership_changes"],
        3
    );
    let expire = json!({"events": [{"event_id": "e4", "customer_id": "ben", "type": "subscription.expired",
        "occurred_at": now.to_rfc3339(), "application": "news", "plan": "monthly"}]});
    assert_eq!(
        ok(api, "POST", "/events", t, Some(expire)).await["membership_changes"],
        1
    );
    ok(
        api,
        "PATCH",
        &format!("/groups/{d}"),
        t,
        Some(json!({"rules": rules("expired")})),
    )
    .await;
    eventually(60, "the rules' resync", || async {
        let g = ok(api, "GET", &format!("/groups/{d}"), t, None).await;
        if g["sync"]["status"] == "done" && g["member_count"] == 1 {
            Ok(())
        } else {
            Err(g)
        }
    })
    .await;

    let mut want = history(api, t, &s).await;
    want.extend(history(api, t, &d).await);
    assert_eq!(
        want.len(),
        4 + 7,
        "static: 3 in, 1 out; dynamic: 3 in, 1 out, then 2 out and 1 in"
    );
    let log = eventually(60, "every change delivered", || async {
        let log = rx.log_of("/all").await;
        let (changes, messages) = accepted(&log);
        let resynced = messages.values().filter(|m| m["type"] == "group.resynced").count();
        let got: BTreeSet<_> = changes.values().cloned().collect();
        if got == want && resynced == 2 {
            Ok(log)
        } else {
            Err((got.len(), resynced))
        }
    })
    .await;

    // Every request verified by the reference verifier; each id: 500, 500, 200 with one body.
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &log {
        assert_eq!(
            e["verified_by"],
            json!([0]),
            "standardwebhooks rejected {}: {}",
            e["headers"],
            e["errors"]
        );
        by_id
            .entry(e["headers"]["webhook-id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    for (id, attempts) in &by_id {
        let actions: Vec<&str> = attempts.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["500", "500", "200"], "{id}");
        assert!(
            attempts.iter().all(|e| e["body"] == attempts[0]["body"]),
            "{id}: the body changed between attempts"
        );
        let stamps: Vec<i64> = attempts
            .iter()
            .map(|e| e["headers"]["webhook-timestamp"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            stamps.windows(2).all(|w| w[0] <= w[1]),
            "{id}: webhook-timestamp is each attempt's time"
        );
    }
    let (_, messages) = accepted(&log);
    for m in messages.values().filter(|m| m["type"] == "group.resynced") {
        assert_eq!(m["data"]["group_ids"], json!([d]), "{m}");
        assert_eq!(m["data"]["status"], "done");
    }
    // The delivery log says the same (once the last attempts' results are written, a moment after the
    // receiver answered them).
    let items = eventually(30, "every message delivered in the log", || async {
        let r = ok(api, "GET", &format!("/webhooks/{wid}/deliveries?limit=100"), t, None).await;
        let items = r["items"].as_array().unwrap().clone();
        let done = items.len() == by_id.len() && items.iter().all(|d| d["status"] == "delivered");
        if done {
            Ok(items)
        } else {
            Err(r)
        }
    })
    .await;
    for d in &items {
        assert_eq!(d["status"], "delivered", "{d}");
        let codes: Vec<Value> = d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status_code"].clone())
            .collect();
        assert_eq!(codes, vec![json!(500), json!(500), json!(200)], "{d}");
        assert!(d["attempts"][0]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("received"));
    }
    stack.stop().await;
}

/// Waits until the endpoint's newest message has `status`; returns it.
async fn settled(api: &Api, t: &str, w: &str, status: &str) -> Value {
    eventually(30, status, || async {
        let r = ok(api, "GET", &format!("/webhooks/{w}/deliveries"), t, None).await;
        let d = r["items"][0].clone();
        if d["status"] == status {
            Ok(d)
        } else {
            Err(d)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_a_410_disables_and_a_failed_message_replays_with_its_id() {
    let stack = Stack::start(Knobs::default()).await;
    let rx = Receiver::start();
    let (api, t) = (&stack.api, &token());
    let entered = ["group.member_entered"];
    let (hang, _) = endpoint(api, t, &rx, "/hang", &entered, &["hang:4"], "200").await;
    let (slow, _) = endpoint(api, t, &rx, "/slow", &entered, &["429:3"], "200").await;
    let (close, _) = endpoint(api, t, &rx, "/close", &entered, &["close"], "200").await;
    let (gone, _) = endpoint(api, t, &rx, "/gone", &entered, &["410"], "200").await;
    let (down, _) = endpoint(api, t, &rx, "/down", &entered, &[], "503").await;
    customers(api, t, &["ana", "ben"]).await;
    let g = ok(api, "POST", "/groups", t, Some(json!({"name": "G"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        api,
        "POST",
        &format!("/groups/{g}/members"),
        t,
        Some(json!({"customer_ids": ["ana"]})),
    )
    .await;

    let d = settled(api, t, &hang, "delivered").await;
    assert_eq!(d["attempts"][0]["error"], "timeout", "{d}");
    assert!(d["attempts"][0]["latency_ms"].as_u64().unwrap() >= 1900, "{d}");
    let d = settled(api, t, &close, "delivered").await;
    assert_eq!(d["attempts"][0]["error"], "connection", "{d}");
    let d = settled(api, t, &slow, "delivered").await;
    assert_eq!(d["attempts"][0]["status_code"], 429, "{d}");
    let times: Vec<f64> = rx
        .log_of("/slow")
        .await
        .iter()
        .map(|e| e["received_at"].as_f64().unwrap())
        .collect();
    assert!(times[1] - times[0] >= 2.9, "Retry-After: 3 was honoured: {times:?}");

    // 410: the message fails and the endpoint is disabled; later changes are not sent to it.
    let d = settled(api, t, &gone, "failed").await;
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    let w = eventually(30, "the endpoint disabled", || async {
        let w = ok(api, "GET", &format!("/webhooks/{gone}"), t, None).await;
        if w["enabled"] == false {
            Ok(w)
        } else {
            Err(w)
        }
    })
    .await;
    assert_eq!(w["disabled_reason"], "gone", "{w}");
    assert!(w.get("secret").is_none(), "the secret is never shown again");

    // Always 503: the whole schedule (5 attempts), then failed; replayed, the same id and body arrive.
    let d = settled(api, t, &down, "failed").await;
    assert_eq!(d["attempt_count"], 5, "{d}");
    assert!(
        d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status_code"] == 503),
        "{d}"
    );
    let before = rx.log_of("/down").await;
    rx.configure("/down", &[], &[], "200").await;
    let r = api
        .call(
            "POST",
            &format!("/webhooks/{down}/deliveries/{}/replay", d["id"].as_str().unwrap()),
            t,
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.raw);
    let again = api
        .call(
            "POST",
            &format!("/webhooks/{down}/deliveries/{}/replay", d["id"].as_str().unwrap()),
            t,
            None,
        )
        .await;
    assert!(again.status == 409 || again.status == 202, "{}", again.raw);
    settled(api, t, &down, "delivered").await;
    let after = rx.log_of("/down").await;
    let last = after.last().unwrap();
    assert_eq!(last["headers"]["webhook-id"], before[0]["headers"]["webhook-id"]);
    assert_eq!(last["body"], before[0]["body"]);

    // A second change reaches every enabled endpoint and not the disabled one.
    ok(
        api,
        "POST",
        &format!("/groups/{g}/members"),
        t,
        Some(json!({"customer_ids": ["ben"]})),
    )
    .await;
    eventually(30, "the second change", || async {
        let n = rx.log_of("/slow").await.len();
        if n >= 3 {
            Ok(())
        } else {
            Err(n)
        }
    })
    .await;
    assert_eq!(
        rx.log_of("/gone").await.len(),
        1,
        "a disabled endpoint receives nothing"
    );
    for e in rx.log().await {
        if e["action"] != "close" && e["path"] != "/down" {
            assert_eq!(e["verified_by"], json!([0]), "{}", e["errors"]);
        }
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_signs_with_both_secrets_during_the_overlap() {
    let stack = Stack::start(Knobs::default()).await;
    let rx = Receiver::start();
    let (api, t) = (&stack.api, &token());
    let (wid, old) = endpoint(api, t, &rx, "/rot", &["group.member_entered"], &[], "200").await;
    let r = ok(api, "POST", &format!("/webhooks/{wid}/rotate-secret"), t, None).await;
    let new = r["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let until: chrono::DateTime<chrono::Utc> = r["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > chrono::Utc::now() + chrono::Duration::hours(23), "{r}");
    rx.configure("/rot", &[&old, &new], &[], "200").await;
    customers(api, t, &["ana"]).await;
    let g = ok(api, "POST", "/groups", t, Some(json!({"name": "G"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        api,
        "POST",
        &format!("/groups/{g}/members"),
        t,
        Some(json!({"customer_ids": ["ana"]})),
    )
    .await;
    let got = eventually(30, "a delivery", || async {
        let log = rx.log_of("/rot").await;
        if log.is_empty() {
            Err(log)
        } else {
            Ok(log)
        }
    })
    .await;
    assert_eq!(
        got[0]["verified_by"],
        json!([0, 1]),
        "both secrets verify: {}",
        got[0]["errors"]
    );
    assert_eq!(
        got[0]["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    let listed = ok(api, "GET", "/webhooks", t, None).await;
    assert!(
        !listed.to_string().contains("whsec_"),
        "no secret in a listing: {listed}"
    );
    stack.stop().await;
}
