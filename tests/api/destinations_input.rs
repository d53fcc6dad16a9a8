//! Destinations' bad input and tenancy over HTTP against the shared dev server, which runs like AWS
//! (no local allowance): invalid URLs, plain http, private and metadata addresses, unknown event
//! types and groups, empty credentials are 4xx naming the field; another tenant's ids are 404.

use cg_local::auth;
use cg_tests::http::Api;
use cg_tests::{fresh_tenant, shared_dev_server, DEV_SECRET};
use serde_json::{json, Value};

fn token() -> String {
    auth::issue(DEV_SECRET, fresh_tenant().as_str(), 600)
}

fn assert_names(r: &cg_tests::http::Response, status: u16, field: &str) {
    assert_eq!(r.status, status, "{}", r.raw);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(field), "the message names {field}: {}", r.raw);
}

#[tokio::test]
async fn bad_webhook_and_integration_input_is_a_4xx_naming_the_field() {
    let api = Api::new(shared_dev_server());
    let t = token();
    let group = api.call("POST", "/groups", &t, Some(json!({"name": "G"}))).await;
    let g = group.body["id"].as_str().unwrap().to_owned();
    let hook = |url: &str, types: Value| json!({"url": url, "event_types": types});
    let entered = json!(["group.member_entered"]);
    let cases: Vec<(Value, u16, &str)> = vec![
        (hook("not a url", entered.clone()), 422, "url"),
        (hook("ftp://hooks.example.com/x", entered.clone()), 422, "url"),
        (hook("http://hooks.example.com/x", entered.clone()), 422, "url"),
        (hook("https://10.0.0.7/hook", entered.clone()), 422, "url"),
        (hook("https://127.0.0.1:8443/hook", entered.clone()), 422, "url"),
        (
            hook("https://169.254.169.254/latest/meta-data/", entered.clone()),
            422,
            "url",
        ),
        (hook("https://[fd00:ec2::254]/", entered.clone()), 422, "url"),
        (hook("https://localhost/hook", entered.clone()), 422, "url"),
        (hook("https://user:pw@hooks.example.com/", entered.clone()), 422, "url"),
        (hook("https://hooks.example.com/x", json!([])), 422, "event_types"),
        (
            hook(
                "https://hooks.example.com/x",
                json!(["group.member_entered", "group.nope"]),
            ),
            422,
            "event_types[1]",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["group.member_left"], "group_ids": [g, "no-such-group"]}),
            422,
            "group_ids[1]",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["export.done"], "secret": "mine"}),
            400,
            "secret",
        ),
    ];
    for (body, status, field) in cases {
        let r = api.call("POST", "/webhooks", &t, Some(body.clone())).await;
        assert_names(&r, status, field);
    }
    let ok = api
        .call(
            "POST",
            "/webhooks",
            &t,
            Some(hook("https://hooks.example.com/x", entered.clone())),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.raw);
    let w = ok.body["id"].as_str().unwrap().to_owned();
    let patch = api
        .call(
            "PATCH",
            &format!("/webhooks/{w}"),
            &t,
            Some(json!({"url": "http://hooks.example.com/"})),
        )
        .await;
    assert_names(&patch, 422, "url");

    let creds = |u: &str, k: &str| json!({"provider": "smartemailing", "credentials": {"username": u, "api_key": k}});
    for (body, status, field) in [
        (creds("me@shop.example", ""), 422, "credentials.api_key"),
        (creds(" ", "key"), 422, "credentials.username"),
        (
            json!({"provider": "mailchimp", "credentials": {"username": "a", "api_key": "b"}}),
            422,
            "provider",
        ),
        (json!({"provider": "smartemailing"}), 400, "credentials"),
    ] {
        let r = api.call("POST", "/integrations", &t, Some(body)).await;
        assert_names(&r, status, field);
    }
    let i = api
        .call("POST", "/integrations", &t, Some(creds("me@shop.example", "k")))
        .await;
    assert_eq!(i.status, 201, "{}", i.raw);
    let i = i.body["id"].as_str().unwrap().to_owned();
    for (body, field) in [
        (json!({"group_id": "no-such-group", "list_id": 3}), "group_id"),
        (json!({"group_id": g, "list_id": 0}), "list_id"),
    ] {
        let r = api
            .call("POST", &format!("/integrations/{i}/mappings"), &t, Some(body))
            .await;
        assert_names(&r, 422, field);
    }
}

#[tokio::test]
async fn another_tenants_webhooks_and_integrations_are_404() {
    let api = Api::new(shared_dev_server());
    let (a, b) = (token(), token());
    let w = api
        .call(
            "POST",
            "/webhooks",
            &a,
            Some(json!({"url": "https://hooks.example.com/a", "event_types": ["export.done"]})),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.raw);
    let w = w.body["id"].as_str().unwrap().to_owned();
    let i = api
        .call(
            "POST",
            "/integrations",
            &a,
            Some(json!({"provider": "smartemailing", "credentials": {"username": "u", "api_key": "k"}})),
        )
        .await;
    let i = i.body["id"].as_str().unwrap().to_owned();
    let g = api.call("POST", "/groups", &a, Some(json!({"name": "G"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = api
        .call(
            "POST",
            &format!("/integrations/{i}/mappings"),
            &a,
            Some(json!({"group_id": g, "list_id": 5})),
        )
        .await;
    assert_eq!(m.status, 201, "{}", m.raw);
    let m = m.body["id"].as_str().unwrap().to_owned();
    let msg = "msg_0000000000000aaaaaaaaaaaaaaaa";
    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/webhooks/{w}"), None),
        ("PATCH", format!("/webhooks/{w}"), Some(json!({"enabled": false}))),
        ("DELETE", format!("/webhooks/{w}"), None),
        ("POST", format!("/webhooks/{w}/rotate-secret"), None),
        ("GET", format!("/webhooks/{w}/deliveries"), None),
        ("POST", format!("/webhooks/{w}/deliveries/{msg}/replay"), None),
        ("GET", format!("/integrations/{i}"), None),
        ("PATCH", format!("/integrations/{i}"), Some(json!({"name": "mine"}))),
        ("DELETE", format!("/integrations/{i}"), None),
        ("GET", format!("/integrations/{i}/mappings"), None),
        (
            "POST",
            format!("/integrations/{i}/mappings"),
            Some(json!({"group_id": g, "list_id": 5})),
        ),
        ("DELETE", format!("/integrations/{i}/mappings/{m}"), None),
        ("POST", format!("/integrations/{i}/mappings/{m}/resync"), None),
    ];
    // Every destinations route that takes an id is walked.
    let with_ids = cg_lambda::routes::ROUTES
        .iter()
        .filter(|r| r.path.contains('{') && (r.path.starts_with("/webhooks") || r.path.starts_with("/integrations")))
        .count();
    assert_eq!(attempts.len(), with_ids);
    for (method, path, body) in attempts {
        let r = api.call(method, &path, &b, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.raw);
    }
    // And tenant A still has everything, unchanged.
    let mine = api.call("GET", &format!("/webhooks/{w}"), &a, None).await;
    assert_eq!(
        (mine.status, mine.body["enabled"].clone()),
        (200, json!(true)),
        "{}",
        mine.raw
    );
    let listed = api.call("GET", &format!("/integrations/{i}/mappings"), &a, None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{}", listed.raw);
}
