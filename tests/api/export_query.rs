//! The customer export by query (issue 14, item 6) on the emulator: the rows of an export by a filter
//! equal an oracle computed here over a generated population, by a saved filter too; the `profile`
//! columns (CSV header from the attribute keys of the exported customers, typed values; JSON Lines
//! objects with typed attributes); tenant isolation; a bad filter is a 422 naming the node's path.
//! Runs in an isolated table and queue (it drains the export queue itself).

use cg_domain::customer::{AttributeValue, Customer, NewCustomer};
use cg_domain::export::encode::unneutralise;
use cg_domain::export::profile::PROFILE_COLUMNS;
use cg_domain::export::{ExportColumns, ExportRequest, ExportStatus};
use cg_domain::ids::{ExportId, TenantId};
use cg_domain::search::saved::{FilterBody, FilterInput};
use cg_domain::usecases::export_job::ExportSettings;
use cg_domain::usecases::{exports, filters};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_local::export_jobs::poll_export_jobs_once;
use cg_tests::{drop_isolated, fresh_tenant, isolated_app};
use chrono::{Duration, NaiveDate, Utc};
use http_body_util::{BodyExt, Empty};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const POPULATION: u64 = 160;

/// (vip) AND (score >= 50), as condition groups.
fn filter() -> Value {
    json!({"condition_groups": [
        [{"tags": {"has_any": ["vip"]}}],
        [{"attribute": {"field": "attributes.score", "op": ">=", "value": 50}}]
    ]})
}

fn oracle(c: &Customer) -> bool {
    c.tags.contains("vip") && matches!(c.attributes.get("score"), Some(AttributeValue::Number(n)) if *n >= 50.0)
}

/// A deterministic population with every kind of typed attribute; `hidden` only on customers the
/// filter never matches (so it must not become a column).
fn population(prefix: &str) -> Vec<Customer> {
    let now = Utc::now();
    let mut r: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..POPULATION)
        .map(|i| {
            r = r
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = r >> 33;
            let vip = !x.is_multiple_of(3);
            let score = (x % 100) as i64;
            let mut attributes = json!({"score": {"type": "number", "value": score}});
            if i.is_multiple_of(2) {
                attributes["city"] =
                    json!({"type": "string", "value": if i.is_multiple_of(4) { "=Praha" } else { "Brno, CZ" }});
            }
            if i.is_multiple_of(5) {
                attributes["birthday"] = json!({"type": "date", "value": "1990-05-01"});
            }
            if i.is_multiple_of(3) {
                attributes["newsletter"] = json!({"type": "boolean", "value": i.is_multiple_of(2)});
            }
            if !vip {
                attributes["hidden"] = json!({"type": "string", "value": "x"});
            }
            let mut body = json!({
                "id": format!("{prefix}{:04}", (i * 37) % 1009),
                "email": format!("{prefix}{i}@example.com"),
                "name": format!("Name {i}"),
                "order_number": format!("ON-{i}"),
                "signup_date": "2026-01-15",
                "tags": if vip { json!(["vip", "a,b"]) } else { json!(["new"]) },
                "attributes": attributes,
            });
            if i.is_multiple_of(7) {
                body["phone"] = json!(format!("+420777{:06}", i));
                body["external_id"] = json!(format!("crm-{i}"));
            }
            serde_json::from_value::<NewCustomer>(body)
                .unwrap()
                .into_customer(now - Duration::minutes(i as i64))
                .unwrap()
        })
        .collect()
}

fn request(body: Value) -> ExportRequest {
    serde_json::from_value(body).unwrap()
}

async fn run_until_done(app: &App, t: &TenantId, id: &ExportId) -> Value {
    for _ in 0..200 {
        let view = exports::get_export(&app.store, t, id, Utc::now()).await.unwrap();
        match view.export.status {
            ExportStatus::Done => return serde_json::to_value(view).unwrap(),
            ExportStatus::Failed => panic!("export failed: {:?}", view.export.failure_reason),
            _ => {
                poll_export_jobs_once(app, &ExportSettings::default(), 1, 0)
                    .await
                    .unwrap();
            }
        }
    }
    panic!("export {id} never finished");
}

async fn download(url: &str) -> Vec<u8> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.expect("download");
    assert_eq!(resp.status().as_u16(), 200);
    resp.into_body().collect().await.unwrap().to_bytes().to_vec()
}

async fn export(app: &App, t: &TenantId, body: Value) -> (Value, Vec<u8>) {
    let started = exports::start_customer_export(&app.store, t, request(body), Utc::now())
        .await
        .unwrap();
    let done = run_until_done(app, t, &started.export.id).await;
    let file = download(done["download_url"].as_str().unwrap()).await;
    (done, file)
}

fn jsonl(file: &[u8]) -> Vec<Value> {
    std::str::from_utf8(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What a profile object must be for a customer.
fn expected_object(c: &Customer) -> Value {
    json!({
        "id": c.id.as_str(),
        "external_id": c.external_id,
        "email": c.email.as_ref().map(|e| e.as_str()),
        "email_verified": c.email_verified,
        "phone": c.phone.as_ref().map(|p| p.as_str()),
        "phone_verified": c.phone_verified,
        "name": c.name,
        "order_number": c.order_number,
        "signup_date": c.signup_date,
        "registration_date": c.registration_date,
        "activation_required": c.activation_required,
        "tags": c.tags,
        "attributes": c.attributes,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

#[tokio::test]
async fn export_by_filter_and_saved_filter_equals_the_oracle_with_profile_columns() {
    let app = isolated_app().await;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    let people = population("c");
    cg_aws::fixtures::load_customers(&app.store, &t, &people, 8)
        .await
        .unwrap();
    // Another tenant's customers all match the filter: none may appear in t's files.
    let theirs = population("b");
    cg_aws::fixtures::load_customers(&app.store, &other, &theirs[..20], 8)
        .await
        .unwrap();
    let want: BTreeMap<String, &Customer> = people
        .iter()
        .filter(|c| oracle(c))
        .map(|c| (c.id.to_string(), c))
        .collect();
    assert!(want.len() > 30 && want.len() < people.len() - 30, "{}", want.len());

    // JSON Lines, profile columns, by a filter in the body: exactly the oracle's customers, whole.
    let mut body = filter();
    body["format"] = json!("jsonl");
    body["columns"] = json!("profile");
    let (done, file) = export(&app, &t, body).await;
    assert_eq!(done["rows_written"], json!(want.len()));
    assert_eq!(done["columns"], json!("profile"));
    let rows = jsonl(&file);
    assert_eq!(rows.len(), want.len(), "each match once");
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        let c = want.get(id).unwrap_or_else(|| panic!("{id} does not match the filter"));
        assert_eq!(row, &expected_object(c), "{id}");
    }

    // The same query saved: the same customers; the record names the saved filter.
    let saved_body: FilterBody =
        serde_json::from_value(json!({"name": "VIP high", "condition_groups": filter()["condition_groups"]})).unwrap();
    let saved = filters::create_filter(&app.store, &t, FilterInput::new_filter(saved_body).unwrap(), Utc::now())
        .await
        .unwrap();
    let (done, file) = export(
        &app,
        &t,
        json!({"format": "csv", "columns": "profile", "filter_id": saved.id.as_str()}),
    )
    .await;
    assert_eq!(done["filter_id"], json!(saved.id.as_str()));
    let mut reader = csv::ReaderBuilder::new().from_reader(&file[..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let mut want_header: Vec<String> = PROFILE_COLUMNS.iter().map(|c| c.to_string()).collect();
    // Attribute columns: the keys the exported customers have, sorted; `hidden` is on none of them.
    want_header.extend(
        [
            "attributes.birthday",
            "attributes.city",
            "attributes.newsletter",
            "attributes.score",
        ]
        .map(String::from),
    );
    assert_eq!(header, want_header);
    let mut seen = BTreeSet::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        let cell = |name: &str| unneutralise(&rec[header.iter().position(|h| h == name).unwrap()]).to_owned();
        let id = cell("id");
        let c = want
            .get(&id)
            .unwrap_or_else(|| panic!("{id} does not match the saved filter"));
        assert!(seen.insert(id.clone()), "{id} twice");
        assert_eq!(cell("email"), c.email.as_ref().unwrap().as_str());
        assert_eq!(
            cell("phone"),
            c.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default()
        );
        assert_eq!(cell("external_id"), c.external_id.clone().unwrap_or_default());
        assert_eq!(cell("order_number"), c.order_number.clone().unwrap());
        assert_eq!(cell("signup_date"), "2026-01-15");
        assert_eq!(cell("email_verified"), "false");
        let tags: BTreeSet<String> = serde_json::from_str(&cell("tags")).unwrap();
        assert_eq!(tags, c.tags);
        for (key, value) in &c.attributes {
            let got = cell(&format!("attributes.{key}"));
            let expect = match value {
                AttributeValue::String(s) => s.clone(),
                AttributeValue::Number(n) => n.to_string(),
                AttributeValue::Boolean(b) => b.to_string(),
                AttributeValue::Date(d) => d.to_string(),
            };
            assert_eq!(got, expect, "{id} {key}");
        }
        for key in ["birthday", "city", "newsletter"] {
            if !c.attributes.contains_key(key) {
                assert_eq!(cell(&format!("attributes.{key}")), "", "{id} has no {key}");
            }
        }
    }
    assert_eq!(seen.len(), want.len());
    assert!(
        want.values().any(|c| c.attributes.get("birthday")
            == Some(&AttributeValue::Date(NaiveDate::from_ymd_opt(1990, 5, 1).unwrap()))),
        "a date attribute was exported"
    );

    // The other tenant cannot use t's saved filter (404) and its export has only its own customers.
    let err = exports::start_customer_export(
        &app.store,
        &other,
        request(json!({"format": "csv", "filter_id": saved.id.as_str()})),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DomainError::NotFound(_)), "{err:?}");
    let (_, file) = export(&app, &other, json!({"format": "jsonl", "columns": "profile"})).await;
    let ids: BTreeSet<String> = jsonl(&file)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let their_ids: BTreeSet<String> = theirs[..20].iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, their_ids);
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_bad_export_filter_is_a_422_naming_the_node() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    for (body, field) in [
        (
            json!({"format": "csv", "rules": {"all": [{"tags": {}}]}}),
            "rules.all[0].tags",
        ),
        (json!({"format": "csv", "group_id": "g1"}), "group_id"),
        (
            json!({"format": "csv", "rules": {"member_of": {"group_id": "nope"}}}),
            "rules",
        ),
    ] {
        match exports::start_customer_export(&app.store, &t, request(body.clone()), Utc::now()).await {
            Err(DomainError::Validation { field: f, .. }) => assert!(f.starts_with(field), "{body}: {f}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // A group export takes no filter and no profile columns.
    let g = cg_domain::ids::GroupId::generate();
    for (body, field) in [
        (
            json!({"format": "csv", "rules": {"tags": {"has_any": ["vip"]}}}),
            "target",
        ),
        (json!({"format": "csv", "columns": "profile"}), "columns"),
    ] {
        match exports::start_group_export(&app.store, &t, &g, request(body.clone()), Utc::now()).await {
            Err(DomainError::Validation { field: f, .. }) => assert_eq!(f, field, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    assert_eq!(request(json!({"format": "csv"})).columns, ExportColumns::Basic);
    drop_isolated(&app).await;
}
