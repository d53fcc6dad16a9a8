//! Issue 11 over HTTP: DynamoDB's hard limits (100 items a transaction, 400 KB an item, the number
//! range), input edges (dates, merge patches) and the dev server's auth kept equal to API Gateway's JWT
//! authorizer. Each case answered a 5xx or was accepted before.

use cg_local::auth;
use cg_tests::http::{Api, Response};
use cg_tests::{fresh_tenant, DEV_SECRET};
use serde_json::{json, Value};

fn api() -> Api {
    Api::new(cg_tests::shared_dev_server())
}

async fn tenant_with_customer(api: &Api, id: &str) -> String {
    let token = auth::issue(DEV_SECRET, fresh_tenant().as_str(), 600);
    let r = api.call("POST", "/customers", &token, Some(json!({"id": id}))).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    token
}

fn bookings(n: usize, customer: &str, tag: &str) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"event_id": format!("{tag}-{i}"), "customer_id": customer, "type": "booking.created",
                   "occurred_at": format!("2026-11-{:02}T10:{:02}:{:02}Z", 1 + i % 28, i / 60 % 60, i % 60)})
        })
        .collect();
    json!({ "events": events })
}

fn assert_422(r: &Response, field: &str) {
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "validation_failed", "{}", r.raw);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(field), "the message names {field}: {}", r.raw);
}

#[tokio::test]
async fn one_request_of_up_to_500_events_for_one_customer_applies_each_once() {
    let api = api();
    for n in [1usize, 99, 100, 101, 500] {
        let token = tenant_with_customer(&api, "c1").await;
        let batch = bookings(n, "c1", "b");
        let r = api.call("POST", "/events", &token, Some(batch.clone())).await;
        assert_eq!(r.status, 200, "{n} events: {}", r.raw);
        assert_eq!(r.body["accepted"], n, "{n} events: {}", r.raw);
        // A client retrying the whole request (as after a timeout) changes nothing.
        let again = api.call("POST", "/events", &token, Some(batch)).await;
        assert_eq!(again.status, 200, "{}", again.raw);
        assert_eq!(
            (again.body["accepted"].as_u64(), again.body["duplicates"].as_u64()),
            (Some(0), Some(n as u64))
        );
        let c = api.call("GET", "/customers/c1", &token, None).await;
        assert_eq!(c.body["activity"]["bookings"], n, "{n} events: {}", c.raw);
    }
}

fn money(kind: &str, currency: &str, day: usize, n: usize) -> Value {
    let on = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(day as i64);
    json!({"event_id": format!("{kind}-{currency}-{day}-{n}"), "customer_id": "c1", "type": kind,
           "occurred_at": format!("{on}T12:00:00Z"), "currency": currency, "amount_minor": 100})
}

#[tokio::test]
async fn payments_in_every_currency_and_day_keep_the_customer_small_and_a_fourth_currency_is_refused() {
    let api = api();
    let token = tenant_with_customer(&api, "c1").await;
    // Both ledgers filled past their window in three currencies: 2,460 amounts on 410 days, where the
    // unbounded ledger reached DynamoDB's 400 KB at 10,080 entries and every later payment was a 500.
    let all: Vec<Value> = (0..410)
        .flat_map(|day| {
            ["EUR", "USD", "CZK"].into_iter().flat_map(move |c| {
                [
                    money("payment.credited", c, day, 0),
                    money("expense.charged", c, day, 0),
                ]
            })
        })
        .collect();
    for chunk in all.chunks(500) {
        let r = api
            .call("POST", "/events", &token, Some(json!({ "events": chunk })))
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["accepted"], chunk.len(), "{}", r.raw);
    }
    let c = api.call("GET", "/customers/c1", &token, None).await;
    assert_eq!(c.status, 200, "{}", c.raw);
    assert!(
        c.raw.len() < 200_000,
        "the customer stays far below 400 KB: {} bytes",
        c.raw.len()
    );
    let payments = &c.body["activity"]["payments"];
    assert_eq!(payments["totals"]["EUR"], 41_000, "lifetime totals keep every amount");
    assert_eq!(
        payments["entries"].as_array().map(Vec::len),
        Some(3 * 400),
        "the window keeps 400 days"
    );

    // A fourth currency is a rejected event with its reason; the other events of the request apply.
    let r = api
        .call(
            "POST",
            "/events",
            &token,
            Some(
                json!({"events": [money("payment.credited", "GBP", 600, 0), money("payment.credited", "EUR", 600, 0)]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["accepted"], 1, "{}", r.raw);
    assert_eq!(r.body["rejected"][0]["index"], 0, "{}", r.raw);
    assert_eq!(r.body["rejected"][0]["code"], "validation_failed", "{}", r.raw);
    assert!(
        r.body["rejected"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("GBP"),
        "{}",
        r.raw
    );
}

#[tokio::test]
async fn numbers_dynamodb_cannot_store_are_a_422_naming_the_attribute() {
    let api = api();
    let token = tenant_with_customer(&api, "c1").await;
    for raw in ["1e200", "-1e200", "1e308", "1e-131", "5e-324", "1e126"] {
        let body = format!(r#"{{"id": "n1", "attributes": {{"score": {{"type": "number", "value": {raw}}}}}}}"#);
        let r = api.send("POST", "/customers", Some(&token), Some(&body)).await;
        assert_422(&r, "attributes.score");
        let patch = format!(r#"{{"attributes": {{"score": {{"type": "number", "value": {raw}}}}}}}"#);
        let r = api.send("PATCH", "/customers/c1", Some(&token), Some(&patch)).await;
        assert_422(&r, "attributes.score");
    }
    // The edges DynamoDB keeps are accepted and read back.
    for (raw, back) in [("9.99e125", 9.99e125), ("1e-130", 1e-130), ("0", 0.0)] {
        let patch = format!(r#"{{"attributes": {{"score": {{"type": "number", "value": {raw}}}}}}}"#);
        let r = api.send("PATCH", "/customers/c1", Some(&token), Some(&patch)).await;
        assert_eq!(r.status, 200, "{raw}: {}", r.raw);
        assert_eq!(r.body["attributes"]["score"]["value"].as_f64(), Some(back), "{}", r.raw);
    }
}

#[tokio::test]
async fn dates_outside_1900_to_2199_and_a_patch_that_is_not_an_object_are_refused() {
    let api = api();
    let token = tenant_with_customer(&api, "c1").await;
    for date in ["+10000-01-01", "0000-01-01", "1899-12-31", "2200-01-01"] {
        let r = api
            .call("POST", "/customers", &token, Some(json!({"signup_date": date})))
            .await;
        assert!(r.status == 422 || r.status == 400, "{date}: {}", r.raw);
        assert!(r.raw.contains("signup_date"), "{date}: {}", r.raw);
        let r = api
            .call(
                "PATCH",
                "/customers/c1",
                &token,
                Some(json!({"registration_date": date})),
            )
            .await;
        assert!(r.status == 422 || r.status == 400, "{date}: {}", r.raw);
        assert!(r.raw.contains("registration_date"), "{date}: {}", r.raw);
    }
    let r = api
        .call(
            "POST",
            "/events",
            &token,
            Some(json!({"events": [{"event_id": "e", "customer_id": "c1",
        "type": "customer.active", "occurred_at": "2300-01-01T00:00:00Z"}]})),
        )
        .await;
    // A request none of whose events applies is a 422 naming the first one's field.
    assert_422(&r, "events[0].occurred_at");
    let r = api
        .call(
            "PATCH",
            "/customers/c1",
            &token,
            Some(json!({"attributes": {"due": {"type": "date", "value": "+10000-01-01"}}})),
        )
        .await;
    assert!(r.status == 422 || r.status == 400, "{}", r.raw);
    assert!(r.raw.contains("attributes.due"), "{}", r.raw);
    for edge in ["1900-01-01", "2199-12-31"] {
        let r = api
            .call("PATCH", "/customers/c1", &token, Some(json!({"signup_date": edge})))
            .await;
        assert_eq!(
            (r.status, r.body["signup_date"].as_str()),
            (200, Some(edge)),
            "{}",
            r.raw
        );
    }
    for body in ["[]", "[1]", "\"x\"", "3", "null"] {
        let r = api.send("PATCH", "/customers/c1", Some(&token), Some(body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "bad_request", "{}", r.raw);
    }
}

#[tokio::test]
async fn the_dev_server_refuses_what_the_jwt_authorizer_refuses() {
    let api = api();
    let now = chrono::Utc::now().timestamp();
    let claims = |tenant: Option<Value>| {
        let mut c = json!({"sub": "u", "iss": auth::ISSUER, "aud": auth::AUDIENCE, "iat": now, "exp": now + 600});
        if let Some(t) = tenant {
            c["tenant_id"] = t;
        }
        c
    };
    let mut refused = vec![claims(None)];
    refused.extend([json!(null), json!(true), json!(123), json!(""), json!(["a"])].map(|t| claims(Some(t))));
    let mut not_yet = claims(Some(json!("acme")));
    not_yet["nbf"] = json!(now + 3600);
    refused.push(not_yet);
    let mut wrong_audience = claims(Some(json!("acme")));
    wrong_audience["aud"] = json!("someone-else");
    refused.push(wrong_audience);
    for c in refused {
        let r = api
            .send("GET", "/customers", Some(&auth::sign(DEV_SECRET, &c)), None)
            .await;
        assert_eq!(r.status, 401, "{c}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "unauthorized", "{}", r.raw);
    }
    let ok = auth::sign(DEV_SECRET, &claims(Some(json!(fresh_tenant().as_str()))));
    assert_eq!(api.send("GET", "/customers", Some(&ok), None).await.status, 200);
}

#[tokio::test]
async fn any_cursor_the_contract_allows_is_a_position_and_type_conflicts_are_409() {
    let api = api();
    let token = tenant_with_customer(&api, "c1").await;
    for c in ["c2", "c3"] {
        assert_eq!(
            api.call("POST", "/customers", &token, Some(json!({"id": c})))
                .await
                .status,
            201
        );
    }
    let first = api.call("GET", "/customers?limit=2", &token, None).await;
    let next = first.body["next_cursor"].as_str().expect("a next page").to_owned();
    let rest = api
        .call("GET", &format!("/customers?limit=2&cursor={next}"), &token, None)
        .await;
    assert_eq!(
        rest.body["items"].as_array().map(Vec::len),
        Some(1),
        "an issued cursor resumes exactly: {}",
        rest.raw
    );
    // Positions the lists did not issue: the first page ("before"), or an empty last page ("after" or not
    // an id of the list), never a 400. `MA` is "0", `AA` a NUL, `fn5-` bytes no list issues.
    for (path, cursor) in [
        ("/customers", "AA"),
        ("/customers", "MA"),
        ("/customers", "fn5-"),
        ("/groups", "MA"),
        ("/exports", "fn5-"),
        ("/imports", "0A"),
    ] {
        let r = api.call("GET", &format!("{path}?cursor={cursor}"), &token, None).await;
        assert_eq!(r.status, 200, "{path}?cursor={cursor}: {}", r.raw);
    }
    let empty = api.call("GET", "/customers?cursor=fn5-", &token, None).await;
    assert_eq!(
        (empty.body["items"].as_array().map(Vec::len), &empty.body["next_cursor"]),
        (Some(0), &Value::Null),
        "{}",
        empty.raw
    );
    let start = api.call("GET", "/customers?cursor=AA", &token, None).await;
    assert_eq!(
        start.body["items"].as_array().map(Vec::len),
        Some(3),
        "before the list is its start: {}",
        start.raw
    );

    let g = api.call("POST", "/groups", &token, Some(json!({"name": "List"}))).await;
    let id = g.body["id"].as_str().expect("a group id").to_owned();
    for (method, path) in [
        ("POST", format!("/groups/{id}/resync")),
        ("GET", format!("/groups/{id}/explain/c1")),
    ] {
        let r = api.call(method, &path, &token, None).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (409, Some("conflict")),
            "{path}: {}",
            r.raw
        );
    }
    let r = api.send("OPTIONS", "/customers/exports", Some(&token), None).await;
    assert_eq!(r.status, 405, "{}", r.raw);
}
