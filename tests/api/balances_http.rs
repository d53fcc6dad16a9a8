//! Balances over HTTP against the shared dev server (its bulk worker runs the operations): the
//! cashback tab of seed 001 end to end, the same idempotency key answering the first operation, bad
//! input as 4xx naming the field, and tenant isolation.

use cg_local::auth;
use cg_tests::http::{Api, Response};
use cg_tests::{fresh_tenant, shared_dev_server, DEV_SECRET};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn ok(api: &Api, method: &str, path: &str, token: &str, body: Option<Value>, status: u16) -> Response {
    let r = api.call(method, path, token, body).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
    r
}

async fn done(api: &Api, token: &str, id: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = ok(api, "GET", &format!("/balance-operations/{id}"), token, None, 200).await;
        if r.body["status"] == "done" {
            return r;
        }
        assert_ne!(r.body["status"], "failed", "{}", r.raw);
        assert!(Instant::now() < deadline, "operation {id} never finished: {}", r.raw);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_group_cashback_operation_over_http_applies_once_and_reports_rejections() {
    let api = Api::new(shared_dev_server());
    let token = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900);
    let phones = ["+380980000001", "+380980000002", "+380980000003"];
    for (i, p) in phones.iter().enumerate() {
        ok(
            &api,
            "POST",
            "/customers",
            &token,
            Some(json!({"id": format!("p{i}"), "phone": p})),
            201,
        )
        .await;
    }
    let g = ok(&api, "POST", "/groups", &token, Some(json!({"name": "cashback"})), 201).await;
    let g = g.body["id"].as_str().unwrap().to_owned();
    ok(
        &api,
        "POST",
        &format!("/groups/{g}/members"),
        &token,
        Some(json!({"phones": phones.join("\n")})),
        200,
    )
    .await;
    let credit =
        json!({"type": "adjust", "unit": "UAH", "amount": 300, "comment": "welcome", "idempotency_key": "k-1"});
    ok(
        &api,
        "POST",
        "/customers/p0/balance-adjustments",
        &token,
        Some(credit.clone()),
        201,
    )
    .await;
    let replay = ok(
        &api,
        "POST",
        "/customers/p0/balance-adjustments",
        &token,
        Some(credit),
        200,
    )
    .await;
    assert_eq!(replay.body["replayed"], true);

    let debit =
        json!({"type": "adjust", "unit": "UAH", "amount": -100, "comment": "write-off", "idempotency_key": "op-1"});
    let queued = ok(
        &api,
        "POST",
        &format!("/groups/{g}/balance-operations"),
        &token,
        Some(debit.clone()),
        202,
    )
    .await;
    let id = queued.body["id"].as_str().unwrap().to_owned();
    let finished = done(&api, &token, &id).await;
    assert_eq!(
        finished.body["counts"],
        json!({"applied": 1, "unchanged": 0, "rejected": 2}),
        "{}",
        finished.raw
    );
    assert_eq!(finished.body["rejected_by_reason"], json!({"insufficient_balance": 2}));
    let rejected: Vec<&str> = finished.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["p1", "p2"]);
    // The same key answers the first operation and applies nothing again.
    let again = ok(
        &api,
        "POST",
        &format!("/groups/{g}/balance-operations"),
        &token,
        Some(debit),
        202,
    )
    .await;
    assert_eq!(again.body["id"], id.as_str());
    let customer = ok(&api, "GET", "/customers/p0", &token, None, 200).await;
    assert_eq!(customer.body["balances"], json!({"UAH": 200}));
    let ledger = ok(&api, "GET", "/customers/p0/ledger?limit=1", &token, None, 200).await;
    assert_eq!(ledger.body["items"][0]["operation_id"], id.as_str());
    assert_eq!(ledger.body["items"][0]["balance_before"], 300);
    assert_eq!(ledger.body["items"][0]["balance_after"], 200);
    assert_eq!(ledger.body["items"][0]["group_id"], g.as_str());
    let cursor = ledger.body["next_cursor"].as_str().unwrap();
    let older = ok(
        &api,
        "GET",
        &format!("/customers/p0/ledger?limit=5&cursor={cursor}"),
        &token,
        None,
        200,
    )
    .await;
    assert_eq!(older.body["items"][0]["operation_id"], "k-1");
    assert_eq!(older.body["next_cursor"], Value::Null);

    // Another tenant sees none of it.
    let other = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900);
    ok(&api, "GET", &format!("/balance-operations/{id}"), &other, None, 404).await;
    ok(&api, "GET", "/customers/p0/ledger", &other, None, 404).await;
    let body = json!({"type": "set", "unit": "UAH", "amount": 1, "comment": "x", "idempotency_key": "z"});
    ok(
        &api,
        "POST",
        &format!("/groups/{g}/balance-operations"),
        &other,
        Some(body.clone()),
        404,
    )
    .await;
    ok(
        &api,
        "POST",
        "/customers/p0/balance-adjustments",
        &other,
        Some(body),
        404,
    )
    .await;
}

#[tokio::test]
async fn bad_balance_requests_are_4xx_naming_the_field() {
    let api = Api::new(shared_dev_server());
    let token = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 900);
    ok(&api, "POST", "/customers", &token, Some(json!({"id": "q"})), 201).await;
    let g = ok(&api, "POST", "/groups", &token, Some(json!({"name": "g"})), 201).await;
    let g = g.body["id"].as_str().unwrap().to_owned();
    let base = json!({"type": "adjust", "unit": "EUR", "amount": 5, "comment": "c", "idempotency_key": "k"});
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let cases = [
        (with("unit", json!("EURO")), "unit"),
        (with("unit", json!("eur")), "unit"),
        (with("amount", json!(1e30)), "amount"),
        (with("amount", json!(18446744073709551615u64)), "amount"),
        (with("amount", json!(0)), "amount"),
        (with("comment", json!("   ")), "comment"),
        (with("idempotency_key", json!("a b")), "idempotency_key"),
        (with("amount", json!(-6)), "amount"),
    ];
    for (body, field) in cases {
        for path in [
            "/customers/q/balance-adjustments".to_owned(),
            format!("/groups/{g}/balance-operations"),
        ] {
            if field == "amount" && body["amount"] == -6 && path.starts_with("/groups") {
                continue; // a group deduction is rejected per member, not for the request
            }
            let r = api.call("POST", &path, &token, Some(body.clone())).await;
            assert_eq!(r.status, 422, "{path} {body}: {}", r.raw);
            assert!(
                r.body["error"]["message"].as_str().unwrap().contains(field),
                "{field}: {}",
                r.raw
            );
        }
    }
    let r = api
        .call(
            "POST",
            "/customers/q/balance-adjustments",
            &token,
            Some(with("extra", json!(1))),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = api.call("GET", "/balance-operations/no-such-op", &token, None).await;
    assert_eq!(r.status, 404, "{}", r.raw);
    let r = api.call("GET", "/balance-operations/a%23b", &token, None).await;
    assert_eq!(r.status, 404, "{}", r.raw);
}
