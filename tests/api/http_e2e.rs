//! End-to-end over HTTP against the dev server (the same handlers the Lambdas run): auth, bad input,
//! tenant isolation, and the static-group flow of the README.

use cg_local::auth;
use cg_tests::fresh_tenant;
use cg_tests::http::Api;
use serde_json::{json, Value};

use cg_tests::DEV_SECRET as SECRET;

async fn server() -> Api {
    Api::new(cg_tests::shared_dev_server())
}

fn token() -> String {
    auth::issue(SECRET, fresh_tenant().as_str(), 600)
}

fn assert_error(resp: &cg_tests::http::Response, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", resp.raw);
    assert_eq!(resp.body["error"]["code"], code, "{}", resp.raw);
    assert!(resp.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let api = server().await;
    assert_error(&api.send("GET", "/customers", None, None).await, 401, "unauthorized");
    assert_error(
        &api.send("GET", "/customers", Some("not-a-jwt"), None).await,
        401,
        "unauthorized",
    );
    let forged = auth::issue("another-secret", "acme", 600);
    assert_error(
        &api.send("GET", "/groups", Some(&forged), None).await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_that_says_what_to_fix() {
    let api = server().await;
    let t = token();
    let cases: Vec<(&str, &str, Option<String>, u16, &str)> = vec![
        ("POST", "/customers", Some("{".into()), 400, "bad_request"),
        ("POST", "/customers", Some("".into()), 400, "bad_request"),
        ("POST", "/customers", Some("[]".into()), 400, "bad_request"),
        ("POST", "/customers", Some(r#"{"email": 5}"#.into()), 400, "bad_request"),
        (
            "POST",
            "/customers",
            Some(r#"{"emial": "a@b.com"}"#.into()),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/customers",
            Some(r#"{"email": "nope"}"#.into()),
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/customers",
            Some(r#"{"phone": "+1 2"}"#.into()),
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/customers",
            Some(r#"{"id": "a#b"}"#.into()),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/customers",
            Some(format!(r#"{{"name": "{}"}}"#, "x".repeat(300 * 1024))),
            413,
            "payload_too_large",
        ),
        ("GET", "/customers?limit=0", None, 400, "bad_request"),
        ("GET", "/customers?limit=101", None, 400, "bad_request"),
        ("GET", "/customers?limit=abc", None, 400, "bad_request"),
        ("GET", "/customers?cursor=%%%", None, 400, "bad_request"),
        ("GET", "/customers?cursor=A", None, 400, "bad_request"),
        ("GET", "/customers?colour=red", None, 400, "bad_request"),
        ("GET", "/customers/does-not-exist", None, 404, "not_found"),
        (
            "PATCH",
            "/customers/does-not-exist",
            Some("{}".into()),
            404,
            "not_found",
        ),
        ("DELETE", "/groups/nope", None, 404, "not_found"),
        (
            "POST",
            "/groups",
            Some(r#"{"name": "  "}"#.into()),
            422,
            "validation_failed",
        ),
        (
            "POST",
            "/groups",
            Some(r#"{"name": "x", "type": "smart"}"#.into()),
            400,
            "bad_request",
        ),
        ("PUT", "/groups", None, 405, "method_not_allowed"),
        ("GET", "/nowhere", None, 404, "not_found"),
    ];
    for (method, path, body, status, code) in cases {
        let resp = api.send(method, path, Some(&t), body.as_deref()).await;
        assert_error(&resp, status, code);
        assert!(
            !resp.raw.contains("Dynamo") && !resp.raw.contains("SdkError"),
            "internal detail leaked: {}",
            resp.raw
        );
    }
    let ct = {
        let mut r = api.send("POST", "/groups", Some(&t), Some(r#"{"name":"x"}"#)).await;
        if r.status == 201 {
            r.status = 0;
        }
        r
    };
    assert_eq!(ct.status, 0, "a JSON body with the JSON content type is accepted");
}

#[tokio::test]
async fn another_tenants_ids_are_404_on_every_route_and_change_nothing() {
    let api = server().await;
    let a_tenant = fresh_tenant();
    let (a, b) = (auth::issue(SECRET, a_tenant.as_str(), 600), token());
    let cust = api
        .call(
            "POST",
            "/customers",
            &a,
            Some(json!({"id": "shared-id", "email": "x@a.com", "phone": "+380501234567"})),
        )
        .await;
    assert_eq!(cust.status, 201, "{}", cust.raw);
    let group = api
        .call(
            "POST",
            "/groups",
            &a,
            Some(json!({"name": "A's group", "members": {"customer_ids": ["shared-id"]}})),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.raw);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let export = api
        .call(
            "POST",
            &format!("/groups/{gid}/exports"),
            &a,
            Some(json!({"format": "csv"})),
        )
        .await;
    assert_eq!(export.status, 202, "{}", export.raw);
    let xid = export.body["id"].as_str().unwrap().to_owned();
    let import = api
        .call("POST", "/imports", &a, Some(json!({"file_name": "a.csv"})))
        .await;
    assert_eq!(import.status, 201, "{}", import.raw);
    let iid = import.body["id"].as_str().unwrap().to_owned();
    let change = json!({"type": "adjust", "unit": "EUR", "amount": 5, "comment": "c", "idempotency_key": "k"});
    let op = api
        .call(
            "POST",
            &format!("/groups/{gid}/balance-operations"),
            &a,
            Some(change.clone()),
        )
        .await;
    assert_eq!(op.status, 202, "{}", op.raw);
    let oid = op.body["id"].as_str().unwrap().to_owned();
    // A's own operation finishes before the snapshot (the dev server's worker runs it).
    for _ in 0..300 {
        let got = api.call("GET", &format!("/balance-operations/{oid}"), &a, None).await;
        if got.body["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let filter = api
        .call(
            "POST",
            "/filters",
            &a,
            Some(json!({"name": "A's filter", "simple": {"id": "shared-id"}})),
        )
        .await;
    assert_eq!(filter.status, 201, "{}", filter.raw);
    let fid = filter.body["id"].as_str().unwrap().to_owned();
    // Bulk actions (issue 14): A's own bulk modify, finished before the snapshot.
    let bulk = api
        .call(
            "POST",
            "/customers/bulk-modify",
            &a,
            Some(json!({"customer_ids": ["shared-id"], "changes": {"add_tags": ["a-only"]}})),
        )
        .await;
    assert_eq!(bulk.status, 202, "{}", bulk.raw);
    let jid = bulk.body["id"].as_str().unwrap().to_owned();
    for _ in 0..300 {
        let got = api.call("GET", &format!("/bulk-jobs/{jid}"), &a, None).await;
        if got.body["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A count job of A's (a tenant this small counts within the request, so it is started directly).
    let body = json!({"simple": {"id": "shared-id"}});
    let parsed = cg_domain::search::CountInput::try_from(
        serde_json::from_value::<cg_domain::search::CountRequest>(body).unwrap(),
    );
    let cg_domain::search::target::Target::Filter(query) = parsed.unwrap().target else {
        panic!("a filter")
    };
    let cjid = cg_domain::usecases::count_job::start_count_job(
        &cg_tests::app().await.store,
        &a_tenant,
        cg_domain::search::target::TargetSpec::filter(&query, None),
        chrono::Utc::now(),
    )
    .await
    .unwrap()
    .id;
    let timeline_before = api.call("GET", "/customers/shared-id/timeline", &a, None).await.body;
    let before = (
        api.call("GET", "/customers/shared-id", &a, None).await.body,
        api.call("GET", &format!("/groups/{gid}"), &a, None).await.body,
        api.call("GET", &format!("/groups/{gid}/members"), &a, None).await.body,
    );

    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/customers/shared-id".into(), None),
        (
            "PATCH",
            "/customers/shared-id".into(),
            Some(json!({"name": "hijacked"})),
        ),
        ("DELETE", "/customers/shared-id".into(), None),
        ("GET", format!("/groups/{gid}"), None),
        ("PATCH", format!("/groups/{gid}"), Some(json!({"name": "hijacked"}))),
        ("DELETE", format!("/groups/{gid}"), None),
        (
            "POST",
            format!("/groups/{gid}/members"),
            Some(json!({"customer_ids": ["shared-id"]})),
        ),
        ("GET", format!("/groups/{gid}/members"), None),
        ("DELETE", format!("/groups/{gid}/members/shared-id"), None),
        ("POST", format!("/groups/{gid}/resync"), None),
        ("GET", format!("/groups/{gid}/explain/shared-id"), None),
        ("GET", format!("/groups/{gid}/history"), None),
        ("POST", format!("/groups/{gid}/exports"), Some(json!({"format": "csv"}))),
        ("GET", format!("/exports/{xid}"), None),
        ("GET", format!("/imports/{iid}"), None),
        ("POST", format!("/imports/{iid}/start"), Some(json!({"columns": []}))),
        ("POST", format!("/imports/{iid}/cancel"), None),
        ("GET", "/customers/shared-id/ledger".into(), None),
        (
            "POST",
            "/customers/shared-id/balance-adjustments".into(),
            Some(change.clone()),
        ),
        (
            "POST",
            format!("/groups/{gid}/balance-operations"),
            Some(change.clone()),
        ),
        ("GET", format!("/balance-operations/{oid}"), None),
        // Timeline and communications (issue 15 parts 7 and 8).
        ("GET", "/customers/shared-id/communications".into(), None),
        ("GET", "/customers/shared-id/timeline".into(), None),
        (
            "POST",
            "/customers/shared-id/timeline".into(),
            Some(json!({"type": "hijacked", "occurred_at": "2026-01-01T00:00:00Z"})),
        ),
        ("GET", format!("/filters/{fid}"), None),
        ("PATCH", format!("/filters/{fid}"), Some(json!({"name": "hijacked"}))),
        ("DELETE", format!("/filters/{fid}"), None),
        ("POST", format!("/filters/{fid}/copy"), Some(json!({}))),
        (
            "POST",
            format!("/filters/{fid}/groups"),
            Some(json!({"name": "hijacked", "type": "static"})),
        ),
        ("GET", format!("/bulk-jobs/{jid}"), None),
        ("GET", format!("/count-jobs/{cjid}"), None),
    ];
    // Every route that takes an id is walked (the console's files are no tenant's: tests/api/console.rs;
    // the destinations' routes in destinations_input.rs).
    let with_ids = cg_lambda::routes::ROUTES
        .iter()
        .filter(|r| r.path.contains('{') && !cg_lambda::routes::PUBLIC.contains(&r.action))
        .filter(|r| !r.path.starts_with("/webhooks") && !r.path.starts_with("/integrations"))
        .count();
    assert_eq!(attempts.len(), with_ids);
    for (method, path, body) in attempts {
        let resp = api.call(method, &path, &b, body).await;
        assert_error(&resp, 404, "not_found");
    }
    // Bulk actions (issue 14) name A's customers and groups in the body: 404 for B, nothing changed.
    let modify = json!({"changes": {"add_tags": ["hijacked"]}});
    for target in [json!({"customer_ids": ["shared-id"]}), json!({"group_id": gid})] {
        let mut body = modify.clone();
        body.as_object_mut()
            .unwrap()
            .extend(target.as_object().unwrap().clone());
        let resp = api.call("POST", "/customers/bulk-modify", &b, Some(body)).await;
        assert_error(&resp, 404, "not_found");
    }
    // Customer merge (issue 15) names A's customer in the body: for B it is unknown (404), either way round.
    let own = api.call("POST", "/customers", &b, Some(json!({"id": "b-own"}))).await;
    assert_eq!(own.status, 201, "{}", own.raw);
    for path in ["/customers/merge/preview", "/customers/merge"] {
        for pair in [
            json!({"primary_id": "b-own", "secondary_id": "shared-id"}),
            json!({"primary_id": "shared-id", "secondary_id": "b-own"}),
        ] {
            let resp = api.call("POST", path, &b, Some(pair)).await;
            assert_error(&resp, 404, "not_found");
        }
    }
    assert_eq!(api.call("DELETE", "/customers/b-own", &b, None).await.status, 204);
    // B's lists are empty and B may reuse A's email: nothing of A's is visible.
    assert_eq!(api.call("GET", "/customers", &b, None).await.body["items"], json!([]));
    assert_eq!(api.call("GET", "/groups", &b, None).await.body["items"], json!([]));
    assert_eq!(api.call("GET", "/exports", &b, None).await.body["items"], json!([]));
    assert_eq!(api.call("GET", "/imports", &b, None).await.body["items"], json!([]));
    assert_eq!(
        api.call("GET", "/audit", &b, None).await.body["items"],
        json!([]),
        "A's bulk job is not in B's audit"
    );
    assert_eq!(
        api.call("POST", "/customers", &b, Some(json!({"email": "x@a.com"})))
            .await
            .status,
        201
    );

    let after = (
        api.call("GET", "/customers/shared-id", &a, None).await.body,
        api.call("GET", &format!("/groups/{gid}"), &a, None).await.body,
        api.call("GET", &format!("/groups/{gid}/members"), &a, None).await.body,
    );
    assert_eq!(before, after, "tenant A's data is unchanged");
    let timeline_after = api.call("GET", "/customers/shared-id/timeline", &a, None).await.body;
    assert_eq!(timeline_before, timeline_after, "tenant A's timeline is unchanged");
    let still = api.call("GET", &format!("/filters/{fid}"), &a, None).await;
    assert_eq!(still.body, filter.body, "tenant A's filter is unchanged");
    // B's searches and filters see nothing of A's.
    assert_eq!(api.call("GET", "/filters", &b, None).await.body["items"], json!([]));
    let found = api
        .call(
            "POST",
            "/customers/search",
            &b,
            Some(json!({"simple": {"email": "x@a.com"}})),
        )
        .await;
    assert_eq!(
        found.body["items"].as_array().map(Vec::len),
        Some(1),
        "only B's own x@a.com"
    );
    assert_ne!(found.body["items"][0]["id"], "shared-id");
}

#[tokio::test]
async fn static_group_flow_over_http() {
    let api = server().await;
    let t = token();
    for (id, phone, email) in [
        ("c1", "+380501234567", "one@x.com"),
        ("c2", "+442079460958", "two@x.com"),
    ] {
        let r = api
            .call(
                "POST",
                "/customers",
                &t,
                Some(json!({"id": id, "phone": phone, "email": email, "order_number": id})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let dup = api
        .call("POST", "/customers", &t, Some(json!({"email": "ONE@x.com"})))
        .await;
    assert_error(&dup, 409, "conflict");
    assert!(dup.body["error"]["message"].as_str().unwrap().contains("email"));

    let g = api
        .call("POST", "/groups", &t, Some(json!({"name": "Newsletter"})))
        .await;
    assert_eq!((g.status, g.body["member_count"].as_u64()), (201, Some(0)));
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let add = api
        .call(
            "POST",
            &format!("/groups/{gid}/members"),
            &t,
            Some(json!({"phones": "380501234567\n12345\n+44 20 7946 0958"})),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.raw);
    assert_eq!(add.body["added"], 2);
    assert_eq!(add.body["rejected"][0]["line"], 2);
    assert_eq!(add.body["rejected"][0]["reason"], "invalid_phone");

    let list = api.call("GET", "/groups", &t, None).await;
    assert_eq!(list.body["items"][0]["member_count"], 2);
    let page1 = api
        .call("GET", &format!("/groups/{gid}/members?limit=1"), &t, None)
        .await;
    assert_eq!(page1.body["items"].as_array().unwrap().len(), 1);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_owned();
    let page2 = api
        .call(
            "GET",
            &format!("/groups/{gid}/members?limit=1&cursor={cursor}"),
            &t,
            None,
        )
        .await;
    assert_ne!(
        page1.body["items"][0]["customer_id"],
        page2.body["items"][0]["customer_id"]
    );

    assert_eq!(
        api.call("PATCH", &format!("/groups/{gid}"), &t, Some(json!({"name": "Renamed"})))
            .await
            .body["name"],
        "Renamed"
    );
    assert_eq!(
        api.call("DELETE", &format!("/groups/{gid}/members/c1"), &t, None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.call("GET", &format!("/groups/{gid}"), &t, None).await.body["member_count"],
        1
    );
    assert_eq!(api.call("DELETE", "/customers/c2", &t, None).await.status, 204);
    assert_eq!(
        api.call("GET", &format!("/groups/{gid}"), &t, None).await.body["member_count"],
        0
    );
    assert_eq!(
        api.call("DELETE", &format!("/groups/{gid}"), &t, None).await.status,
        202
    );
    assert_error(
        &api.call("GET", &format!("/groups/{gid}"), &t, None).await,
        404,
        "not_found",
    );
}
