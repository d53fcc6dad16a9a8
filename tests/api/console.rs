//! The admin console's files: served without a token by the dev server (as by its function behind
//! the HttpApi with no authorizer), with their content types, ETags and cache headers; everything else
//! still needs the token; template.yaml and the OpenAPI document mark exactly these routes public.

use bytes::Bytes;
use cg_lambda::routes::{PUBLIC, ROUTES};
use cg_tests::http::Api;
use cg_tests::{shared_dev_server, DEV_SECRET};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeSet;
use std::path::Path;

async fn get(path: &str, if_none_match: Option<&str>) -> (u16, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::get(format!("{}{path}", shared_dev_server()));
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let resp = client
        .request(req.body(Full::default()).unwrap())
        .await
        .expect("dev server");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn the_page_and_its_modules_are_served_without_a_token() {
    let (status, headers, body) = get("/console", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(body.contains("/console/app.js"), "{body}");

    let (status, headers, body) = get("/console/screens/groups.js", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = get("/console/screens/groups.js", Some(&etag)).await;
    assert_eq!((status, body.as_str()), (304, ""));

    let (_, headers, _) = get("/console/style.css", None).await;
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    for missing in ["/console/nope.js", "/console/..%2F..%2FCargo.toml", "/console/screens"] {
        let (status, _, body) = get(missing, None).await;
        assert_eq!(status, 404, "{missing}: {body}");
        assert!(body.contains("not_found"), "{body}");
    }
}

#[tokio::test]
async fn the_api_still_needs_the_token_and_names_the_field_of_a_422() {
    let api = Api::new(shared_dev_server());
    assert_eq!(api.send("GET", "/groups", None, None).await.status, 401);
    let token = cg_local::auth::issue(DEV_SECRET, &cg_tests::fresh_tenant().to_string(), 600);
    let bad = api
        .call("POST", "/customers", &token, Some(serde_json::json!({"email": "ana@"})))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.raw);
    assert_eq!(bad.body["error"]["field"], "email", "{}", bad.raw);
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn public_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .filter(|r| PUBLIC.contains(&r.action))
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

#[test]
fn only_the_console_routes_skip_the_authorizer_in_the_template_and_the_openapi_document() {
    let tpl: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap();
    let mut open = BTreeSet::new();
    for (_, res) in tpl["Resources"].as_mapping().unwrap() {
        for (_, event) in res["Properties"]["Events"].as_mapping().into_iter().flatten() {
            let p = &event["Properties"];
            if event["Type"] == "HttpApi" && p["Auth"]["Authorizer"] == "NONE" {
                let method = p["Method"].as_str().unwrap().to_uppercase();
                open.insert((method, p["Path"].as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(open, public_routes(), "template.yaml routes with Authorizer: NONE");

    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("infra/openapi.yaml")).unwrap()).unwrap();
    let mut open = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            if op["security"].as_sequence().is_some_and(|s| s.is_empty()) {
                let m = method.as_str().unwrap().to_uppercase();
                open.insert((m, path.as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(open, public_routes(), "OpenAPI operations with security: []");
}
