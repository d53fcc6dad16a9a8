//! The timeline and communication history (issue 15 parts 7 and 8) over HTTP against the shared dev
//! server: messages recorded once per provider message id and listed newest first; manual events,
//! ingested lifecycle events (a redelivery writes nothing), group entries and exits, creation and
//! balance changes on the timeline; type and time filters; cursor paging without skips or repeats;
//! bounds and bad input as 4xx naming the field; tenant isolation.

use cg_local::auth;
use cg_tests::http::{Api, Response};
use cg_tests::{fresh_tenant, shared_dev_server, DEV_SECRET};
use serde_json::{json, Value};
use std::collections::HashSet;

async fn ok(api: &Api, method: &str, path: &str, token: &str, body: Option<Value>, status: u16) -> Response {
    let r = api.call(method, path, token, body).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
    r
}

fn assert_422(r: &Response, field: &str) {
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "validation_failed", "{}", r.raw);
    assert_eq!(r.body["error"]["field"], field, "{}", r.raw);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn setup() -> (Api, String) {
    let api = Api::new(shared_dev_server());
    let token = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900);
    (api, token)
}

async fn customer(api: &Api, token: &str, id: &str) {
    ok(api, "POST", "/customers", token, Some(json!({"id": id})), 201).await;
}

/// Every entry of a list, reading pages of `limit` through the cursor.
async fn all_pages(api: &Api, token: &str, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = ok(api, "GET", &url, token, None, 200).await;
        pages += 1;
        let page = r.body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit as usize, "{}", r.raw);
        items.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (items, pages),
        }
        assert!(pages < 200, "paging does not end");
    }
}

fn message(customer: &str, pid: &str, channel: &str, sent_at: &str) -> Value {
    json!({"customer_id": customer, "channel": channel, "provider_message_id": pid, "sent_at": sent_at,
           "subject": format!("subject {pid}"), "campaign": "november", "status": "delivered"})
}

#[tokio::test]
async fn communications_are_recorded_once_per_provider_message_id_and_listed_newest_first() {
    let (api, token) = setup().await;
    customer(&api, &token, "m1").await;
    customer(&api, &token, "m2").await;
    let batch = json!({"communications": [
        message("m1", "pm-1", "email", "2026-11-01T10:00:00Z"),
        message("m1", "pm-2", "sms", "2026-11-03T10:00:00Z"),
        message("m1", "pm-3", "push", "2026-11-02T10:00:00Z"),
        message("m2", "pm-4", "email", "2026-11-02T10:00:00Z"),
        message("nobody", "pm-5", "email", "2026-11-02T10:00:00Z"),
        message("m1", "pm-1", "email", "2026-11-05T10:00:00Z"),
    ]});
    let r = ok(&api, "POST", "/communications", &token, Some(batch.clone()), 200).await;
    assert_eq!(r.body["received"], 6, "{}", r.raw);
    assert_eq!(r.body["recorded"], 4, "{}", r.raw);
    assert_eq!(r.body["already_recorded"], 1, "{}", r.raw);
    assert_eq!(r.body["rejected"], 1, "{}", r.raw);
    assert_eq!(r.body["results"][4]["outcome"], "rejected");
    assert_eq!(r.body["results"][4]["code"], "customer_not_found");
    assert_eq!(r.body["results"][5]["outcome"], "already_recorded");

    // The same request again records nothing.
    let again = ok(&api, "POST", "/communications", &token, Some(batch), 200).await;
    assert_eq!(again.body["recorded"], 0, "{}", again.raw);
    assert_eq!(again.body["already_recorded"], 5, "{}", again.raw);

    let listed = ok(&api, "GET", "/customers/m1/communications", &token, None, 200).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["provider_message_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["pm-2", "pm-3", "pm-1"],
        "one entry per provider id, newest first: {}",
        listed.raw
    );
    assert_eq!(listed.body["items"][0]["channel"], "sms");
    assert_eq!(listed.body["items"][2]["subject"], "subject pm-1");
    assert_eq!(
        listed.body["items"][2]["sent_at"], "2026-11-01T10:00:00Z",
        "the first recording wins"
    );
    let sms = ok(
        &api,
        "GET",
        "/customers/m1/communications?channel=sms",
        &token,
        None,
        200,
    )
    .await;
    assert_eq!(sms.body["items"].as_array().map(Vec::len), Some(1), "{}", sms.raw);
    // Messages are on the timeline too.
    let tl = ok(
        &api,
        "GET",
        "/customers/m1/timeline?type=communication.email,communication.push",
        &token,
        None,
        200,
    )
    .await;
    let types: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["communication.push", "communication.email"], "{}", tl.raw);
    assert_eq!(tl.body["items"][1]["communication"]["provider_message_id"], "pm-1");
}

#[tokio::test]
async fn communications_take_1_to_500_and_name_the_bad_field() {
    let (api, token) = setup().await;
    customer(&api, &token, "b1").await;
    let r = api
        .call("POST", "/communications", &token, Some(json!({"communications": []})))
        .await;
    assert_422(&r, "communications");
    let many: Vec<Value> = (0..501)
        .map(|i| message("b1", &format!("x-{i}"), "email", "2026-11-01T10:00:00Z"))
        .collect();
    let r = api
        .call("POST", "/communications", &token, Some(json!({"communications": many})))
        .await;
    assert_422(&r, "communications");
    let r = api
        .call(
            "POST",
            "/communications",
            &token,
            Some(json!({"communications": [message("b1", "y", "fax", "2026-11-01T10:00:00Z")]})),
        )
        .await;
    assert_422(&r, "communications[0].channel");
    let r = api
        .call(
            "POST",
            "/communications",
            &token,
            Some(json!({"communications": [message("b1", "y", "sms", "yesterday")]})),
        )
        .await;
    assert_422(&r, "communications[0].sent_at");
    let r = api
        .call(
            "POST",
            "/communications",
            &token,
            Some(
                json!({"communications": [{"customer_id": "b1", "channel": "sms", "sent_at": "2026-11-01T10:00:00Z"}]}),
            ),
        )
        .await;
    assert_422(&r, "communications[0].provider_message_id");
    // Exactly 500 is accepted, in ten transactions of 50.
    let five_hundred: Vec<Value> = (0..500)
        .map(|i| {
            message(
                "b1",
                &format!("z-{i}"),
                "email",
                &format!("2026-10-01T10:{:02}:{:02}Z", i / 60, i % 60),
            )
        })
        .collect();
    let r = ok(
        &api,
        "POST",
        "/communications",
        &token,
        Some(json!({"communications": five_hundred})),
        200,
    )
    .await;
    assert_eq!(r.body["recorded"], 500, "{}", r.raw);
    let (items, _) = all_pages(&api, &token, "/customers/b1/communications", 100).await;
    assert_eq!(items.len(), 500);
    // A bad query parameter is a 4xx naming it.
    let r = api
        .call("GET", "/customers/b1/communications?channel=fax", &token, None)
        .await;
    assert_422(&r, "channel");
}

#[tokio::test]
async fn the_timeline_lists_newest_first_filters_by_type_and_time_and_pages_without_skips() {
    let (api, token) = setup().await;
    customer(&api, &token, "t1").await;
    // 30 manual events over 30 days, three types; two share an instant.
    for i in 0..30u32 {
        let kind = ["call.logged", "visit", "note"][(i % 3) as usize];
        let day = if i == 29 { 28 } else { i };
        let body = json!({"type": kind, "occurred_at": format!("2026-06-{:02}T12:00:00Z", day + 1),
                          "properties": {"n": i, "agent": "ana", "done": true}});
        let r = ok(&api, "POST", "/customers/t1/timeline", &token, Some(body), 201).await;
        assert_eq!(r.body["replayed"], false);
    }
    let (items, pages) = all_pages(&api, &token, "/customers/t1/timeline", 7).await;
    // The manual events plus `customer.created`.
    assert_eq!(items.len(), 31, "{items:?}");
    assert!(pages >= 5);
    let ids: HashSet<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 31, "no entry repeated");
    let times: Vec<&str> = items.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let ns: HashSet<u64> = items.iter().filter_map(|e| e["properties"]["n"].as_u64()).collect();
    assert_eq!(ns.len(), 30, "every manual event once");

    // One type, across pages.
    let (calls, _) = all_pages(&api, &token, "/customers/t1/timeline?type=call.logged", 3).await;
    assert_eq!(calls.len(), 10);
    assert!(calls
        .iter()
        .all(|e| e["type"] == "call.logged" && e["source"] == "manual"));
    // Several types, repeated or comma-separated.
    let (two, _) = all_pages(&api, &token, "/customers/t1/timeline?type=visit&type=note", 4).await;
    assert_eq!(two.len(), 20);
    let (two_b, _) = all_pages(&api, &token, "/customers/t1/timeline?type=visit,note", 100).await;
    assert_eq!(two, two_b);
    // A time range, both ends inclusive, with a type, across pages.
    let (range, _) = all_pages(
        &api,
        &token,
        "/customers/t1/timeline?from=2026-06-05T12:00:00Z&to=2026-06-14T12:00:00Z",
        4,
    )
    .await;
    let ns: Vec<u64> = range.iter().map(|e| e["properties"]["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (4..=13).rev().collect::<Vec<u64>>());
    let (typed_range, _) = all_pages(
        &api,
        &token,
        "/customers/t1/timeline?type=note&from=2026-06-05T12:00:00Z&to=2026-06-14T12:00:00Z",
        2,
    )
    .await;
    let ns: Vec<u64> = typed_range
        .iter()
        .map(|e| e["properties"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [11, 8, 5]);
    // A reversed range is a 422 naming `from`; a bad type names `type`.
    let r = api
        .call(
            "GET",
            "/customers/t1/timeline?from=2026-06-14T00:00:00Z&to=2026-06-05T00:00:00Z",
            &token,
            None,
        )
        .await;
    assert_422(&r, "from");
    let r = api.call("GET", "/customers/t1/timeline?type=a%20b", &token, None).await;
    assert_422(&r, "type");
    let r = api.call("GET", "/customers/t1/timeline?from=soon", &token, None).await;
    assert_422(&r, "from");
    let r = api
        .call(
            "POST",
            "/customers/t1/timeline",
            &token,
            Some(json!({"type": "x", "occurred_at": "2026-06-01T00:00:00Z", "properties": {"deep": {"a": 1}}})),
        )
        .await;
    assert_422(&r, "properties.deep");
    let r = api
        .call(
            "POST",
            "/customers/t1/timeline",
            &token,
            Some(json!({"occurred_at": "2026-06-01T00:00:00Z"})),
        )
        .await;
    assert_422(&r, "type");
}

#[tokio::test]
async fn a_manual_event_id_and_a_redelivered_lifecycle_event_each_make_one_entry() {
    let (api, token) = setup().await;
    customer(&api, &token, "e1").await;
    let body = json!({"type": "call.logged", "occurred_at": "2026-07-01T09:00:00Z", "event_id": "call-1",
                      "properties": {"minutes": 7}});
    ok(&api, "POST", "/customers/e1/timeline", &token, Some(body.clone()), 201).await;
    let mut changed = body.clone();
    changed["properties"]["minutes"] = json!(8);
    changed["occurred_at"] = json!("2026-07-02T09:00:00Z");
    let replay = ok(&api, "POST", "/customers/e1/timeline", &token, Some(changed), 200).await;
    assert_eq!(replay.body["replayed"], true);
    assert_eq!(
        replay.body["properties"]["minutes"], 7,
        "the first entry: {}",
        replay.raw
    );

    let event = json!({"events": [{"event_id": "ev-1", "customer_id": "e1", "type": "customer.active",
                                   "occurred_at": "2026-07-03T09:00:00Z"}]});
    let first = ok(&api, "POST", "/events", &token, Some(event.clone()), 200).await;
    assert_eq!(first.body["accepted"], 1, "{}", first.raw);
    let second = ok(&api, "POST", "/events", &token, Some(event), 200).await;
    assert_eq!(second.body["duplicates"], 1, "{}", second.raw);

    let tl = ok(&api, "GET", "/customers/e1/timeline", &token, None, 200).await;
    let entries = tl.body["items"].as_array().unwrap();
    let of = |id: &str| entries.iter().filter(|e| e["id"] == id).count();
    assert_eq!(of("call-1"), 1, "{}", tl.raw);
    assert_eq!(of("ev-1"), 1, "a redelivered event is one entry: {}", tl.raw);
    let ev = entries.iter().find(|e| e["id"] == "ev-1").unwrap();
    assert_eq!(ev["type"], "customer.active");
    assert_eq!(ev["source"], "event");
    assert_eq!(ev["at"], "2026-07-03T09:00:00Z");
    assert_eq!(
        entries[0]["type"], "customer.created",
        "created now, after the events it lists: {}",
        tl.raw
    );
}

#[tokio::test]
async fn group_entries_and_exits_and_balance_changes_are_on_the_timeline() {
    let (api, token) = setup().await;
    customer(&api, &token, "g1").await;
    let g = ok(&api, "POST", "/groups", &token, Some(json!({"name": "vip"})), 201).await;
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let dynamic = ok(
        &api,
        "POST",
        "/groups",
        &token,
        Some(json!({"name": "active", "type": "dynamic", "rules": {"tags": {"has_any": ["gold"]}}})),
        201,
    )
    .await;
    let did = dynamic.body["id"].as_str().unwrap().to_owned();
    ok(
        &api,
        "POST",
        &format!("/groups/{gid}/members"),
        &token,
        Some(json!({"customer_ids": ["g1"]})),
        200,
    )
    .await;
    ok(&api, "DELETE", &format!("/groups/{gid}/members/g1"), &token, None, 204).await;
    ok(
        &api,
        "PATCH",
        "/customers/g1",
        &token,
        Some(json!({"tags": ["gold"]})),
        200,
    )
    .await;
    let credit =
        json!({"type": "adjust", "unit": "points", "amount": 5, "comment": "welcome", "idempotency_key": "k1"});
    ok(
        &api,
        "POST",
        "/customers/g1/balance-adjustments",
        &token,
        Some(credit),
        201,
    )
    .await;

    let tl = ok(&api, "GET", "/customers/g1/timeline?limit=100", &token, None, 200).await;
    let entries = tl.body["items"].as_array().unwrap();
    let find = |kind: &str, group: Option<&str>| {
        entries
            .iter()
            .filter(|e| e["type"] == kind && group.is_none_or(|g| e["properties"]["group_id"] == g))
            .count()
    };
    assert_eq!(find("group.entered", Some(&gid)), 1, "{}", tl.raw);
    assert_eq!(find("group.left", Some(&gid)), 1, "{}", tl.raw);
    assert_eq!(find("group.entered", Some(&did)), 1, "the dynamic group: {}", tl.raw);
    assert_eq!(find("customer.created", None), 1);
    assert_eq!(find("customer.updated", None), 1);
    assert_eq!(find("balance.changed", None), 1, "{}", tl.raw);
    let balance = entries.iter().find(|e| e["type"] == "balance.changed").unwrap();
    assert_eq!(balance["properties"]["balance_after"], 5);
    assert!(entries.iter().all(|e| e["source"] == "system"));
    let only = ok(
        &api,
        "GET",
        "/customers/g1/timeline?type=group.entered,group.left",
        &token,
        None,
        200,
    )
    .await;
    assert_eq!(only.body["items"].as_array().map(Vec::len), Some(3), "{}", only.raw);
}

#[tokio::test]
async fn another_tenants_customer_has_no_timeline_and_takes_no_messages() {
    let (api, a) = setup().await;
    let b = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900);
    customer(&api, &a, "iso-1").await;
    ok(
        &api,
        "POST",
        "/communications",
        &a,
        Some(json!({"communications": [message("iso-1", "own-1", "email", "2026-11-01T10:00:00Z")]})),
        200,
    )
    .await;
    let before = ok(&api, "GET", "/customers/iso-1/timeline", &a, None, 200).await.body;
    for (method, path, body) in [
        ("GET", "/customers/iso-1/timeline", None),
        ("GET", "/customers/iso-1/communications", None),
        (
            "POST",
            "/customers/iso-1/timeline",
            Some(json!({"type": "x", "occurred_at": "2026-01-01T00:00:00Z"})),
        ),
    ] {
        let r = api.call(method, path, &b, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "not_found");
    }
    // B recording a message for A's customer id: unknown to B, rejected; and the same provider id in
    // B's tenant is B's own (markers are per tenant).
    let r = ok(
        &api,
        "POST",
        "/communications",
        &b,
        Some(json!({"communications": [message("iso-1", "own-1", "email", "2026-11-01T10:00:00Z")]})),
        200,
    )
    .await;
    assert_eq!(r.body["rejected"], 1, "{}", r.raw);
    assert_eq!(r.body["results"][0]["code"], "customer_not_found");
    let after = ok(&api, "GET", "/customers/iso-1/timeline", &a, None, 200).await.body;
    assert_eq!(before, after, "A's timeline is unchanged");
}
