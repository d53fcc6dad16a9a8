//! Job ends as webhooks (issue 16 with issue 13's bulk jobs): an import that finishes sends
//! `import.done` with its counts, an import whose file is unusable sends `import.failed` with the
//! reason, an export sends `export.done`; each verified by the reference `standardwebhooks` verifier,
//! once per id, and only to an endpoint subscribed to the type.

use crate::destinations_stack::{eventually, token, Knobs, Receiver, Stack};
use cg_tests::http::Api;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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

/// Polls an import until its status is one of `until`.
async fn import_reaches(api: &Api, t: &str, id: &str, until: &[&str]) -> Value {
    eventually(60, "the import's status", || async {
        let r = ok(api, "GET", &format!("/imports/{id}"), t, None).await;
        if until.contains(&r["status"].as_str().unwrap_or("")) {
            Ok(r)
        } else {
            Err(r)
        }
    })
    .await
}

/// The bodies the receiver accepted on `path`, by webhook-id (each id accepted once, every request
/// verified).
async fn accepted(rx: &Receiver, path: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in rx.log_of(path).await {
        assert_eq!(
            e["verified_by"],
            json!([0]),
            "standardwebhooks rejected it: {}",
            e["errors"]
        );
        if e["action"] == "200" {
            let id = e["headers"]["webhook-id"].as_str().unwrap().to_owned();
            let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            assert!(out.insert(id.clone(), body).is_none(), "{id} accepted twice");
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_export_ends_arrive_signed_to_the_subscribed_endpoints() {
    let stack = Stack::start(Knobs::default()).await;
    let rx = Receiver::start();
    let (api, t) = (&stack.api, &token());
    let mut secrets = Vec::new();
    for (path, types) in [
        (
            "/jobs",
            json!(["import.done", "import.failed", "export.done", "export.failed"]),
        ),
        ("/members", json!(["group.member_entered"])),
    ] {
        let w = ok(
            api,
            "POST",
            "/webhooks",
            t,
            Some(json!({"url": format!("{}{path}", rx.base), "event_types": types})),
        )
        .await;
        let secret = w["secret"].as_str().unwrap().to_owned();
        // The first attempt fails: the retry carries the same id (checked by `accepted`).
        rx.configure(path, &[&secret], &["503"], "200").await;
        secrets.push(secret);
    }

    // An import that finishes: one row created, one in the failure report.
    let created = ok(
        api,
        "POST",
        "/imports",
        t,
        Some(json!({"file_name": "hooked.csv", "content": "Email,Name\nana@example.com,Ana\nnot-an-email,Bo\n"})),
    )
    .await;
    let done_id = created["id"].as_str().unwrap().to_owned();
    let ready = import_reaches(api, t, &done_id, &["ready"]).await;
    let mapping = ready["analysis"]["suggested_mapping"].clone();
    ok(api, "POST", &format!("/imports/{done_id}/start"), t, Some(mapping)).await;
    import_reaches(api, t, &done_id, &["done"]).await;

    // An import whose file has a header and no rows fails at its analysis.
    let created = ok(
        api,
        "POST",
        "/imports",
        t,
        Some(json!({"file_name": "empty.csv", "content": "Email,Name\n"})),
    )
    .await;
    let failed_id = created["id"].as_str().unwrap().to_owned();
    let failed = import_reaches(api, t, &failed_id, &["failed"]).await;

    // An export of a group.
    let g = ok(api, "POST", "/groups", t, Some(json!({"name": "Exported"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let export = ok(
        api,
        "POST",
        &format!("/groups/{g}/exports"),
        t,
        Some(json!({"format": "csv"})),
    )
    .await;
    let export_id = export["id"].as_str().unwrap().to_owned();

    let got = eventually(60, "the three job ends", || async {
        let got = accepted(&rx, "/jobs").await;
        if got.len() >= 3 {
            Ok(got)
        } else {
            Err(got)
        }
    })
    .await;
    let by_type: BTreeMap<String, Value> = got
        .values()
        .map(|b| (b["type"].as_str().unwrap().to_owned(), b.clone()))
        .collect();
    assert_eq!(got.len(), 3, "one message per job end: {got:?}");

    let done = &by_type["import.done"];
    assert_eq!(done["data"]["import_id"], done_id.as_str(), "{done}");
    assert_eq!(done["data"]["status"], "done");
    assert_eq!(done["data"]["file_name"], "hooked.csv");
    assert_eq!(
        done["data"]["counts"],
        json!({"created": 1, "updated": 0, "unchanged": 0, "failed": 1}),
        "{done}"
    );
    assert!(
        done["timestamp"].is_string() && done["data"]["finished_at"].is_string(),
        "{done}"
    );

    let fail = &by_type["import.failed"];
    assert_eq!(fail["data"]["import_id"], failed_id.as_str(), "{fail}");
    assert_eq!(fail["data"]["status"], "failed");
    assert_eq!(fail["data"]["error"], failed["last_error"], "the reason the API shows");

    let exported = &by_type["export.done"];
    assert_eq!(exported["data"]["export_id"], export_id.as_str(), "{exported}");
    assert_eq!(exported["data"]["group_id"], g.as_str());

    // The endpoint subscribed to member entries only got none of them (no member changed).
    assert!(accepted(&rx, "/members").await.is_empty());
    stack.stop().await;
}
