//! Groups kept on a SmartEmailing list (issue 16, seed 000), end to end on the local stack against a
//! fake SmartEmailing: its `POST /api/v3/import` checks HTTP Basic, refuses more than 500 contacts and
//! answers 422 to payloads that break the documented shape, and keeps the lists. After a mapping,
//! events, exits and a resync, the list is exactly the group's members with an email.

use crate::destinations_stack::{eventually, token, Knobs, Stack};
use bytes::Bytes;
use cg_tests::http::Api;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const USER: &str = "owner@shop.example";
const KEY: &str = "se-api-key-123";

/// What the fake keeps: list id -> email -> status, and the size of every accepted import.
#[derive(Default)]
struct Fake {
    lists: BTreeMap<u64, BTreeMap<String, String>>,
    imports: Vec<usize>,
    refused: Vec<u16>,
}

type Shared = Arc<Mutex<Fake>>;

fn answer(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

/// The documented import: settings booleans, 1 to 500 contacts, each with an email and list statuses.
fn check_import(v: &Value) -> Result<Vec<(String, u64, String)>, String> {
    let settings = v
        .get("settings")
        .and_then(Value::as_object)
        .ok_or("settings is required")?;
    for (k, x) in settings {
        if !x.is_boolean() {
            return Err(format!("settings.{k} must be a boolean"));
        }
    }
    let data = v.get("data").and_then(Value::as_array).ok_or("data must be an array")?;
    if data.is_empty() || data.len() > 500 {
        return Err(format!("data must hold 1 to 500 contacts, got {}", data.len()));
    }
    let mut out = Vec::new();
    for c in data {
        let email = c
            .get("emailaddress")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
            .ok_or("emailaddress is required")?;
        for l in c
            .get("contactlists")
            .and_then(Value::as_array)
            .ok_or("contactlists must be an array")?
        {
            let id = l
                .get("id")
                .and_then(Value::as_u64)
                .ok_or("contactlists[].id must be a number")?;
            let status = l
                .get("status")
                .and_then(Value::as_str)
                .ok_or("contactlists[].status is required")?;
            if !["confirmed", "unsubscribed", "removed"].contains(&status) {
                return Err(format!("unknown status {status}"));
            }
            out.push((email.to_owned(), id, status.to_owned()));
        }
    }
    Ok(out)
}

async fn serve(state: Shared, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    use base64::Engine as _;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{KEY}"))
    );
    let authorized = req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str());
    if req.method() != hyper::Method::POST || req.uri().path() != "/api/v3/import" {
        return answer(
            404,
            json!({"status": "error", "meta": [], "message": "no such endpoint"}),
        );
    }
    if !authorized {
        state.lock().unwrap().refused.push(401);
        return answer(
            401,
            json!({"status": "error", "meta": [], "message": "Invalid credentials"}),
        );
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|v| check_import(&v).map(|c| (v, c)));
    match parsed {
        Err(why) => {
            state.lock().unwrap().refused.push(422);
            answer(422, json!({"status": "error", "meta": [], "message": why}))
        }
        Ok((v, changes)) => {
            let mut s = state.lock().unwrap();
            s.imports.push(v["data"].as_array().unwrap().len());
            for (email, list, status) in changes {
                s.lists.entry(list).or_default().insert(email, status);
            }
            answer(201, json!({"status": "created", "meta": [], "contacts_map": []}))
        }
    }
}

/// Starts the fake on 127.0.0.1; returns its API base URL and its state.
async fn fake_smartemailing() -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state: Shared = Arc::default();
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, std::convert::Infallible>(serve(st, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/api/v3/"), state)
}

fn confirmed(state: &Shared, list: u64) -> BTreeSet<String> {
    let s = state.lock().unwrap();
    s.lists
        .get(&list)
        .map(|l| {
            l.iter()
                .filter(|(_, st)| *st == "confirmed")
                .map(|(e, _)| e.clone())
                .collect()
        })
        .unwrap_or_default()
}

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

async fn member_emails(api: &Api, t: &str, g: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = ok(api, "GET", &format!("/groups/{g}/members?limit=100{cursor}"), t, None).await;
        for m in page["items"].as_array().unwrap() {
            if let Some(e) = m["email"].as_str() {
                out.insert(e.to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Waits until list 42 holds exactly the group's members with an email; returns them.
async fn converged(api: &Api, t: &str, g: &str, fake: &Shared, what: &str) -> BTreeSet<String> {
    eventually(30, what, || async {
        let want = member_emails(api, t, g).await;
        let got = confirmed(fake, 42);
        if got == want {
            Ok(got)
        } else {
            Err((got, want))
        }
    })
    .await
}

async fn mapping(api: &Api, t: &str, i: &str, m: &str) -> Value {
    let list = ok(api, "GET", &format!("/integrations/{i}/mappings"), t, None).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == m)
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_group_list_follows_events_exits_and_resyncs() {
    let (base, fake) = fake_smartemailing().await;
    let stack = Stack::start(Knobs {
        smartemailing: Some(base),
        ..Knobs::default()
    })
    .await;
    let (api, t) = (&stack.api, &token());
    for (id, email) in [
        ("ana", Some("ana@example.com")),
        ("ben", Some("ben@example.com")),
        ("cy", None),
        ("dee", Some("dee@example.com")),
    ] {
        let mut body = json!({"id": id, "name": format!("{id} Tester")});
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        ok(api, "POST", "/customers", t, Some(body)).await;
    }
    let rules = |state: &str| json!({"lifecycle": {"states": [state], "applications": ["news"]}});
    let g = ok(
        api,
        "POST",
        "/groups",
        t,
        Some(json!({"name": "Newsletter", "type": "dynamic", "rules": rules("subscribed")})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now();
    let ev = |id: &str, c: &str, kind: &str| {
        json!({"event_id": id, "customer_id": c, "type": kind, "occurred_at": now.to_rfc3339(),
               "application": "news", "plan": "m", "renews_at": (now + chrono::Duration::days(30)).to_rfc3339()})
    };
    // ana is a member before the mapping exists: the first push brings her.
    ok(
        api,
        "POST",
        "/events",
        t,
        Some(json!({"events": [ev("e1", "ana", "subscription.created")]})),
    )
    .await;

    let i = ok(
        api,
        "POST",
        "/integrations",
        t,
        Some(json!({"provider": "smartemailing", "name": "Shop",
        "credentials": {"username": USER, "api_key": KEY}})),
    )
    .await;
    assert!(!i.to_string().contains(KEY), "the API key is never shown: {i}");
    let i = i["id"].as_str().unwrap().to_owned();
    let m = ok(
        api,
        "POST",
        &format!("/integrations/{i}/mappings"),
        t,
        Some(json!({"group_id": g, "list_id": 42})),
    )
    .await;
    assert_eq!(m["status"], "pushing");
    let m = m["id"].as_str().unwrap().to_owned();
    let dup = api
        .call(
            "POST",
            &format!("/integrations/{i}/mappings"),
            t,
            Some(json!({"group_id": g, "list_id": 42})),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.raw);

    assert_eq!(
        converged(api, t, &g, &fake, "the first push").await,
        BTreeSet::from(["ana@example.com".to_owned()])
    );

    // Entries add (cy has no email: skipped and counted), an exit removes.
    let events = json!({"events": [ev("e2", "ben", "subscription.created"), ev("e3", "cy", "subscription.created"),
        ev("e4", "dee", "subscription.created")]});
    ok(api, "POST", "/events", t, Some(events)).await;
    converged(api, t, &g, &fake, "the entries").await;
    let x = eventually(30, "cy counted", || async {
        let x = mapping(api, t, &i, &m).await;
        if x["skipped_without_email"] == 1 && x["members_synced"] == 3 {
            Ok(x)
        } else {
            Err(x)
        }
    })
    .await;
    assert_eq!(
        x["members_synced"], 3,
        "ana by the push, ben and dee by the entries: {x}"
    );
    let expire = json!({"events": [{"event_id": "e5", "customer_id": "ben", "type": "subscription.expired",
        "occurred_at": now.to_rfc3339(), "application": "news", "plan": "m"}]});
    ok(api, "POST", "/events", t, Some(expire)).await;
    let after_exit = converged(api, t, &g, &fake, "the exit").await;
    assert_eq!(
        after_exit,
        BTreeSet::from(["ana@example.com".to_owned(), "dee@example.com".to_owned()])
    );
    assert_eq!(fake.lock().unwrap().lists[&42]["ben@example.com"], "removed");

    // A resync that moves everyone (new rules), then a resync of the mapping: the list follows.
    ok(
        api,
        "PATCH",
        &format!("/groups/{g}"),
        t,
        Some(json!({"rules": rules("expired")})),
    )
    .await;
    eventually(60, "the rules' resync", || async {
        let x = ok(api, "GET", &format!("/groups/{g}"), t, None).await;
        if x["sync"]["status"] == "done" && x["member_count"] == 1 {
            Ok(())
        } else {
            Err(x)
        }
    })
    .await;
    let moved = converged(api, t, &g, &fake, "the group's resync").await;
    assert_eq!(moved, BTreeSet::from(["ben@example.com".to_owned()]));
    let r = ok(api, "POST", &format!("/integrations/{i}/mappings/{m}/resync"), t, None).await;
    assert_eq!(r["status"], "pushing");
    let shown = eventually(30, "the mapping's resync", || async {
        let x = mapping(api, t, &i, &m).await;
        if x["status"] == "synced" {
            Ok(x)
        } else {
            Err(x)
        }
    })
    .await;
    assert_eq!(confirmed(&fake, 42), BTreeSet::from(["ben@example.com".to_owned()]));
    assert_eq!(shown["members_synced"], 1, "{shown}");
    assert!(
        shown["last_sync_at"].is_string() && shown["last_error"].is_null(),
        "{shown}"
    );
    assert!(
        fake.lock().unwrap().refused.is_empty(),
        "every import was valid and authorized"
    );

    // Wrong credentials: the mapping says so.
    let bad = ok(
        api,
        "POST",
        "/integrations",
        t,
        Some(json!({"provider": "smartemailing",
        "credentials": {"username": USER, "api_key": "wrong"}})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bm = ok(
        api,
        "POST",
        &format!("/integrations/{bad}/mappings"),
        t,
        Some(json!({"group_id": g, "list_id": 7})),
    )
    .await;
    let bm = bm["id"].as_str().unwrap().to_owned();
    let x = eventually(30, "the refusal", || async {
        let x = mapping(api, t, &bad, &bm).await;
        if x["status"] == "error" {
            Ok(x)
        } else {
            Err(x)
        }
    })
    .await;
    assert!(x["last_error"].as_str().unwrap().contains("401"), "{x}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_a_large_group_sends_at_most_500_contacts_a_request() {
    let (base, fake) = fake_smartemailing().await;
    let stack = Stack::start(Knobs {
        smartemailing: Some(base.clone()),
        ..Knobs::default()
    })
    .await;
    let tenant = cg_tests::fresh_tenant();
    let t = &cg_local::auth::issue(cg_tests::DEV_SECRET, tenant.as_str(), 1800);
    let api = &stack.api;
    let g = ok(api, "POST", "/groups", t, Some(json!({"name": "Everyone"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 1,230 member rows loaded straight into the group (one in ten without an email).
    let members: Vec<cg_domain::group::Member> = (0..1230)
        .map(|n| cg_domain::group::Member {
            customer_id: cg_tests::cid(&format!("c{n:05}")),
            profile: cg_domain::customer::MemberProfile {
                email: (n % 10 != 0).then(|| cg_domain::contact::Email::parse(&format!("c{n}@example.com")).unwrap()),
                ..Default::default()
            },
            added_at: chrono::Utc::now(),
        })
        .collect();
    let gid = cg_domain::ids::GroupId::parse(&g).unwrap();
    cg_aws::fixtures::load_member_rows(&stack.app.store, &tenant, &gid, &members, 4)
        .await
        .unwrap();

    let i = ok(
        api,
        "POST",
        "/integrations",
        t,
        Some(json!({"provider": "smartemailing",
        "credentials": {"username": USER, "api_key": KEY}})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = ok(
        api,
        "POST",
        &format!("/integrations/{i}/mappings"),
        t,
        Some(json!({"group_id": g, "list_id": 9})),
    )
    .await;
    let m = m["id"].as_str().unwrap().to_owned();
    let shown = eventually(60, "the push", || async {
        let x = mapping(api, t, &i, &m).await;
        if x["status"] == "synced" {
            Ok(x)
        } else {
            Err(x)
        }
    })
    .await;
    assert_eq!(
        (shown["members_synced"].clone(), shown["skipped_without_email"].clone()),
        (json!(1107), json!(123)),
        "{shown}"
    );
    assert_eq!(confirmed(&fake, 9).len(), 1107);
    let imports = fake.lock().unwrap().imports.clone();
    assert!(imports.iter().all(|n| *n <= 500), "{imports:?}");
    assert_eq!(imports.iter().sum::<usize>(), 1107, "{imports:?}");
    assert!(imports.len() >= 3, "{imports:?}");

    // The fake holds SmartEmailing's limits: 501 contacts or a malformed contact is a 422.
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{KEY}"));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let too_many: Vec<Value> = (0..501)
        .map(|n| json!({"emailaddress": format!("x{n}@e.com"), "contactlists": [{"id": 1, "status": "confirmed"}]}))
        .collect();
    for body in [
        json!({"settings": {"update": true}, "data": too_many}),
        json!({"settings": {"update": true}, "data": [{"contactlists": []}]}),
        json!({"data": [{"emailaddress": "a@b.c", "contactlists": [{"id": 1, "status": "gone"}]}]}),
    ] {
        let req = hyper::Request::post(format!("{base}import"))
            .header("authorization", format!("Basic {auth}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let status = client.request(req).await.unwrap().status();
        assert_eq!(status, 422, "{body}");
    }
    stack.stop().await;
}
