//! Imports through the real SDK clients against the emulator: a CSV and an XLSX of a few hundred rows
//! with every failure kind and every identity case, uploaded through the presigned link with a plain
//! HTTP client; the failure report downloaded and parsed with the `csv` crate; the customers compared
//! with an oracle written out below; workers killed between batches, after a commit and before one
//! (fault hook) ending exact; a re-import all unchanged; tenant isolation; and the bad inputs of the
//! issue over HTTP, each a clear 4xx or a failed import, never a 5xx.
//!
//! The job tests run on a table and queues of their own (`isolated_app`) and drive the bulk worker
//! themselves; the HTTP tests use the shared dev server, whose pollers run the jobs.

use bytes::Bytes;
use cg_domain::bulk::{BulkCounts, BulkKind, BulkStatus, BulkTask};
use cg_domain::customer::{AttributeValue, Customer, NewCustomer};
use cg_domain::export::encode::unneutralise;
use cg_domain::group::{GroupInput, NewGroup};
use cg_domain::ids::{BulkJobId, GroupId, TenantId};
use cg_domain::import::{ImportRequest, ImportView, MappingRequest, NewImport};
use cg_domain::page::PageRequest;
use cg_domain::timeline::query::TimelineFilter;
use cg_domain::usecases::bulk_job::{BulkSettings, FaultPoint, RunOutcome};
use cg_domain::usecases::import_job::run_import_task;
use cg_domain::usecases::{customers, groups, imports, timeline};
use cg_lambda::App;
use cg_local::bulk_jobs::poll_bulk_jobs_once;
use cg_tests::kill_at;
use cg_tests::{drop_isolated, fresh_tenant, isolated_app};
use chrono::Utc;
use http_body_util::{BodyExt, Empty, Full};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const HEADER: [&str; 10] = [
    "Customer ID",
    "Email",
    "Phone",
    "Name",
    "Points",
    "VIP",
    "Signup",
    "Tags",
    "CRM",
    "Notes",
];
/// Generated rows; with the special rows below, a few hundred.
const GENERATED: usize = 240;

/// One row of the test file and what it must do.
struct Row {
    cells: Vec<String>,
    /// The failure code, or `None` for a row that applies.
    fails: Option<&'static str>,
    /// For CSV only (the XLSX writer cannot write these).
    csv_only: bool,
}

fn row(cells: [&str; 10], fails: Option<&'static str>) -> Row {
    Row {
        cells: cells.iter().map(|c| c.to_string()).collect(),
        fails,
        csv_only: false,
    }
}

fn phone(i: usize) -> String {
    format!("+38067{:07}", 2_000_000 + i)
}

/// The file: generated rows (every fourth kind fails), then one row per identity case and bad value.
fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for i in 0..GENERATED {
        let (email, ph, points, signup) = (
            format!("u{i}@ex.com"),
            phone(i),
            i.to_string(),
            format!("2026-01-{:02}", 1 + i % 28),
        );
        let (email, ph, points, signup, fails) = match i % 8 {
            0 => (format!("not-an-email-{i}"), ph, points, signup, Some("invalid_email")),
            1 => (email, "12345".to_owned(), points, signup, Some("invalid_phone")),
            2 => (email, ph, "lots".to_owned(), signup, Some("invalid_number")),
            3 => (email, ph, points, "31/02/2026".to_owned(), Some("invalid_date")),
            _ => (email, ph, points, signup, None),
        };
        let vip = if i % 2 == 0 { "yes" } else { "false" };
        let tags = format!("a|b{}", i % 3);
        let name = format!("User {i}");
        out.push(row(
            ["", &email, &ph, &name, &points, vip, &signup, &tags, "", "note"],
            fails,
        ));
    }
    let p2 = "+380671000002";
    out.extend([
        // Matches generated row 4 (created above) by email and adds a value: updated, in file order.
        row(["", "U4@ex.com", "", "", "", "", "", "", "crm-u4", ""], None),
        // The same again: unchanged.
        row(["", "u4@ex.com", "", "", "", "", "", "", "crm-u4", ""], None),
        // Matches pre-1 by email: updated.
        row(["", "pre1@x.com", "", "Pre One New", "", "", "", "", "", ""], None),
        // Email of pre-1, phone of pre-2: two customers.
        row(
            ["", "pre1@x.com", p2, "", "", "", "", "", "", ""],
            Some("identity_conflict"),
        ),
        // An external id that pre-3 holds (external_id is not matched on): taken.
        row(
            ["", "s5@ex.com", "", "", "", "", "", "", "crm-3", ""],
            Some("identity_taken"),
        ),
        // A new customer with its own id.
        row(["new-id-1", "s6@ex.com", "", "Six", "", "", "", "", "", ""], None),
        // A bad id; its name would be a formula in a spreadsheet (the report neutralises it).
        row(
            [
                "bad id!",
                "s7@ex.com",
                "",
                "=HYPERLINK(\"http://x\")",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            Some("invalid_id"),
        ),
        // Matches pre-2 by phone: updated (tags, source, group).
        row(["", "", "380671000002", "", "", "", "", "", "", ""], None),
        // A tag longer than 64 characters.
        row(
            ["", "s9@ex.com", "", "", "", "", "", &"t".repeat(70), "", ""],
            Some("invalid_tag"),
        ),
        // Email of generated row 5, phone of generated row 6: both created by this file.
        row(
            ["", "u5@ex.com", &phone(6), "", "", "", "", "", "", ""],
            Some("identity_conflict"),
        ),
        // Matches pre-3 by id; the email is new.
        row(["pre-3", "pre3-new@x.com", "", "", "", "", "", "", "", ""], None),
    ]);
    out.push(Row {
        cells: ["", "s10@ex.com", "", "", "", "", "", "", "", "", "extra"]
            .map(String::from)
            .to_vec(),
        fails: Some("too_many_cells"),
        csv_only: true,
    });
    out
}

/// The CSV bytes (`;` separated, BOM, one row with invalid UTF-8, a blank line), and its row numbers.
fn csv_file() -> (Vec<u8>, Vec<(u64, &'static str)>) {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let line = |cells: &[String]| {
        let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(Vec::new());
        w.write_record(cells).unwrap();
        w.into_inner().unwrap()
    };
    out.extend(line(&HEADER.map(String::from)));
    let mut failures = Vec::new();
    let mut n = 1u64;
    for r in rows() {
        n += 1;
        if let Some(code) = r.fails {
            failures.push((n, code));
        }
        out.extend(line(&r.cells));
    }
    out.extend(b"\r\n");
    n += 1;
    n += 1;
    out.extend(b";bad-utf8@ex.com;;\xFF\xFEname;;;;;;\r\n");
    failures.push((n, "invalid_utf8"));
    (out, failures)
}

/// The XLSX bytes (typed cells: numbers for points and a phone, a date), and its row numbers.
fn xlsx_file() -> (Vec<u8>, Vec<(u64, &'static str)>) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("Customers").unwrap();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let mut failures = Vec::new();
    let mut r = 0u32;
    for row in rows().into_iter().filter(|r| !r.csv_only) {
        r += 1;
        if let Some(code) = row.fails {
            failures.push((u64::from(r) + 1, code));
        }
        for (c, v) in row.cells.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            match (c, v.parse::<f64>()) {
                (4, Ok(n)) => sheet.write_number(r, c as u16, n).unwrap(),
                (2, Ok(n)) if !v.starts_with('+') && v.len() > 8 => sheet.write_number(r, c as u16, n).unwrap(),
                _ => sheet.write_string(r, c as u16, v).unwrap(),
            };
        }
    }
    (book.save_to_buffer().unwrap(), failures)
}

fn mapping(group: &GroupId) -> MappingRequest {
    serde_json::from_value(json!({
        "columns": [
            {"column": "Customer ID", "field": "id"},
            {"column": "Email", "field": "email"},
            {"column": "Phone", "field": "phone"},
            {"column": "Name", "field": "name"},
            {"column": "Points", "field": "attributes.points", "type": "number"},
            {"column": "VIP", "field": "attributes.vip", "type": "boolean"},
            {"column": "Signup", "field": "signup_date"},
            {"column": "Tags", "field": "tags", "separator": "|"},
            {"column": "CRM", "field": "external_id"},
            {"column": "Notes", "field": "ignore"}
        ],
        "add": {"tags": ["imported"], "source": "fair-2026", "groups": [group]}
    }))
    .unwrap()
}

/// The tenant's customers before the import, and a static group.
async fn seed(app: &App, t: &TenantId) -> GroupId {
    for body in [
        json!({"id": "pre-1", "email": "pre1@x.com", "phone": "+380671000001", "name": "Pre One", "tags": ["old"]}),
        json!({"id": "pre-2", "email": "pre2@x.com", "phone": "+380671000002"}),
        json!({"id": "pre-3", "external_id": "crm-3", "email": "pre3@x.com"}),
    ] {
        let input: NewCustomer = serde_json::from_value(body).unwrap();
        customers::create_customer(&app.store, t, input, Utc::now())
            .await
            .unwrap();
    }
    let g: NewGroup = serde_json::from_value(json!({"name": "Fair visitors"})).unwrap();
    groups::create_group(&app.store, t, GroupInput::try_from(g).unwrap(), Utc::now())
        .await
        .unwrap()
        .group
        .id
}

/// What the customers must hold afterwards, written out from the rows (id with the import's id
/// replaced by `X`): email, phone, name, external id, tags, points, vip, source, in the group.
type Expected = BTreeMap<
    String,
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Vec<String>,
        Option<f64>,
        Option<bool>,
        Option<String>,
        bool,
    ),
>;

fn oracle(csv: bool) -> Expected {
    let mut e = Expected::new();
    let some = |s: &str| Some(s.to_owned());
    // The generated rows apply at their row number (header is row 1).
    for i in (0..GENERATED).filter(|i| i % 8 >= 4) {
        let tags = vec!["a".to_owned(), format!("b{}", i % 3), "imported".to_owned()];
        let tags: Vec<String> = tags
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        e.insert(
            format!("imp-X-{}", i + 2),
            (
                some(&format!("u{i}@ex.com")),
                some(&phone(i)),
                some(&format!("User {i}")),
                (i == 4).then(|| "crm-u4".to_owned()),
                tags,
                Some(i as f64),
                Some(i % 2 == 0),
                some("fair-2026"),
                true,
            ),
        );
    }
    let _ = csv;
    e.insert(
        "pre-1".into(),
        (
            some("pre1@x.com"),
            some("+380671000001"),
            some("Pre One New"),
            None,
            vec!["imported".into(), "old".into()],
            None,
            None,
            some("fair-2026"),
            true,
        ),
    );
    e.insert(
        "pre-2".into(),
        (
            some("pre2@x.com"),
            some("+380671000002"),
            None,
            None,
            vec!["imported".into()],
            None,
            None,
            some("fair-2026"),
            true,
        ),
    );
    e.insert(
        "pre-3".into(),
        (
            some("pre3-new@x.com"),
            None,
            None,
            some("crm-3"),
            vec!["imported".into()],
            None,
            None,
            some("fair-2026"),
            true,
        ),
    );
    e.insert(
        "new-id-1".into(),
        (
            some("s6@ex.com"),
            None,
            some("Six"),
            None,
            vec!["imported".into()],
            None,
            None,
            some("fair-2026"),
            true,
        ),
    );
    e
}

fn expected_counts(failures: usize) -> BulkCounts {
    let generated_ok = (0..GENERATED).filter(|i| i % 8 >= 4).count() as u64;
    BulkCounts {
        created: generated_ok + 1,
        updated: 4,
        unchanged: 1,
        failed: failures as u64,
    }
}

async fn all_customers(app: &App, t: &TenantId, job: &str, g: &GroupId) -> Expected {
    let customers = every_customer(app, t).await;
    customers
        .iter()
        .map(|c| (c.id.as_str().replace(job, "X"), view(c, g)))
        .collect()
}

#[allow(clippy::type_complexity)]
fn view(
    c: &Customer,
    g: &GroupId,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<String>,
    Option<f64>,
    Option<bool>,
    Option<String>,
    bool,
) {
    let num = match c.attributes.get("points") {
        Some(AttributeValue::Number(n)) => Some(*n),
        _ => None,
    };
    let vip = match c.attributes.get("vip") {
        Some(AttributeValue::Boolean(b)) => Some(*b),
        _ => None,
    };
    let source = match c.attributes.get("source") {
        Some(AttributeValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    (
        c.email.as_ref().map(|e| e.to_string()),
        c.phone.as_ref().map(|p| p.to_string()),
        c.name.clone(),
        c.external_id.clone(),
        c.tags.iter().cloned().collect(),
        num,
        vip,
        source,
        c.groups.contains(g),
    )
}

fn client() -> hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// PUTs the file to the presigned link with a plain HTTP client.
async fn upload(url: &str, body: Vec<u8>) {
    let req = http::Request::put(url).body(Full::new(Bytes::from(body))).unwrap();
    let resp = client().request(req).await.expect("upload");
    assert_eq!(resp.status(), 200, "presigned PUT");
}

async fn download(url: &str) -> Bytes {
    let c =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let resp = c.get(url.parse().unwrap()).await.expect("download");
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap().to_bytes()
}

/// Drives the bulk worker over the isolated queue until the import leaves `from`.
async fn drive(app: &App, t: &TenantId, id: &BulkJobId, settings: &BulkSettings) -> ImportView {
    for _ in 0..400 {
        let v = imports::get_import(&app.store, &app.store, t, id, Utc::now())
            .await
            .unwrap();
        if !matches!(
            v.status,
            BulkStatus::Analysing | BulkStatus::Running | BulkStatus::AwaitingUpload
        ) {
            return v;
        }
        poll_bulk_jobs_once(app, settings, 0, 0).await.unwrap();
    }
    panic!("import {id} never settled");
}

/// Creates an import, uploads the file through the presigned link, analyses it.
async fn uploaded(app: &App, t: &TenantId, name: &str, body: Vec<u8>) -> ImportView {
    let req = ImportRequest::try_from(NewImport {
        file_name: name.into(),
        format: None,
        sheet: None,
        content: None,
        content_base64: None,
    })
    .unwrap();
    let created = imports::create_import(&app.store, &app.store, t, req, Utc::now())
        .await
        .unwrap();
    assert_eq!(created.status, BulkStatus::AwaitingUpload);
    upload(created.upload_url.as_deref().unwrap(), body).await;
    drive(app, t, &created.id, &BulkSettings::default()).await
}

/// The report's (row, code) pairs, checking its header, neutralisation and cells.
fn report_rows(body: &[u8]) -> Vec<(u64, String)> {
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut want = vec!["Row".to_owned()];
    want.extend(HEADER.map(String::from));
    want.extend(["Error Code".to_owned(), "Error Message".to_owned()]);
    assert_eq!(header, want);
    let mut out = Vec::new();
    for r in reader.records() {
        let r = r.unwrap();
        let n = r.len();
        if &r[n - 2] == "invalid_id" {
            assert_eq!(&r[4], "'=HYPERLINK(\"http://x\")", "formulas are neutralised");
            assert_eq!(unneutralise(&r[4]), "=HYPERLINK(\"http://x\")");
        }
        assert!(!r[n - 1].is_empty(), "a message for people");
        out.push((r[0].parse().unwrap(), r[n - 2].to_owned()));
    }
    out
}

async fn run_file(
    app: &App,
    t: &TenantId,
    g: &GroupId,
    name: &str,
    body: Vec<u8>,
    settings: &BulkSettings,
) -> ImportView {
    let ready = uploaded(app, t, name, body).await;
    assert_eq!(ready.status, BulkStatus::Ready, "{:?}", ready.last_error);
    let started = imports::start_import(&app.store, t, &ready.id, mapping(g), Utc::now())
        .await
        .unwrap();
    assert_eq!(started.status, BulkStatus::Running);
    drive(app, t, &ready.id, settings).await
}

fn sorted(mut v: Vec<(u64, &'static str)>) -> Vec<(u64, String)> {
    v.sort();
    v.into_iter().map(|(r, c)| (r, c.to_owned())).collect()
}

#[tokio::test]
async fn csv_and_xlsx_imports_match_the_oracle_report_every_failed_row_and_reimport_unchanged() {
    let app = isolated_app().await;
    for (name, (body, failures)) in [("customers.csv", csv_file()), ("customers.xlsx", xlsx_file())] {
        let t = fresh_tenant();
        let g = seed(&app, &t).await;
        let ready = uploaded(&app, &t, name, body.clone()).await;
        let a = ready.analysis.clone().unwrap();
        assert_eq!(a.header, HEADER.map(String::from).to_vec());
        assert_eq!(
            a.rows as usize,
            rows().iter().filter(|r| name.ends_with("csv") || !r.csv_only).count() + usize::from(name.ends_with("csv"))
        );
        assert_eq!(a.sample.len(), 5);
        if name.ends_with("csv") {
            assert_eq!(a.delimiter.as_deref(), Some(";"));
        } else {
            assert_eq!(a.sheet.as_deref(), Some("Customers"));
        }
        let started = imports::start_import(&app.store, &t, &ready.id, mapping(&g), Utc::now())
            .await
            .unwrap();
        assert_eq!(started.rows_total, Some(a.rows));
        // A budget of zero hands on after every batch: the run is many messages, as a long one would be.
        let settings = BulkSettings {
            time_budget: Duration::ZERO,
            ..Default::default()
        };
        let done = drive(&app, &t, &ready.id, &settings).await;
        assert_eq!(done.status, BulkStatus::Done, "{name}: {:?}", done.last_error);
        assert_eq!(done.counts, expected_counts(failures.len()), "{name}");
        assert_eq!(done.rows_done, a.rows);
        assert!(done.attempts > 2, "handed on: {}", done.attempts);
        let report = download(done.failure_report_url.as_deref().unwrap()).await;
        assert_eq!(
            report_rows(&report),
            sorted(failures.clone()),
            "{name}: report rows and codes"
        );
        let job = done.id.as_str().to_owned();
        assert_eq!(
            all_customers(&app, &t, &job, &g).await,
            oracle(name.ends_with("csv")),
            "{name}: customers"
        );

        // The same file again: every row that applied is unchanged now, the same rows fail.
        let again = run_file(&app, &t, &g, name, body, &BulkSettings::default()).await;
        let c = expected_counts(failures.len());
        assert_eq!(
            again.counts,
            BulkCounts {
                created: 0,
                updated: 0,
                unchanged: c.created + c.updated + c.unchanged,
                failed: c.failed
            },
            "{name}: re-import"
        );
        assert_eq!(all_customers(&app, &t, &job, &g).await, oracle(name.ends_with("csv")));
    }
    drop_isolated(&app).await;
}

/// Runs the import once with a fault hook that kills the run at `point`, then lets the queue's
/// redelivery (a plain run) finish it.
async fn killed_then_retried(app: &App, t: &TenantId, id: &BulkJobId, point: FaultPoint) {
    let (hook, died) = kill_at(point);
    let settings = BulkSettings {
        fault: Some(hook),
        ..Default::default()
    };
    let task = BulkTask::Import {
        tenant: t.clone(),
        job_id: id.clone(),
    };
    tokio::select! {
        r = run_import_task(&app.store, &app.store, &task, &settings, false, Utc::now()) => panic!("the dying run finished: {r:?}"),
        _ = died.notified() => {}
    }
    let report = run_import_task(
        &app.store,
        &app.store,
        &task,
        &BulkSettings::default(),
        false,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, RunOutcome::Finished);
}

#[tokio::test]
async fn workers_killed_before_a_commit_after_it_and_between_batches_end_exact() {
    let app = isolated_app().await;
    let (body, failures) = csv_file();
    for point in [
        FaultPoint::BeforeCommit(3),
        FaultPoint::AfterCommit(2),
        FaultPoint::AfterFollowUp(4),
    ] {
        let t = fresh_tenant();
        let g = seed(&app, &t).await;
        let ready = uploaded(&app, &t, "customers.csv", body.clone()).await;
        // Started without a queue message: this test alone runs the job.
        let mut job = app.store_job(&t, &ready.id).await;
        let expect = cg_domain::bulk::Expect::of(&job);
        job.status = BulkStatus::Running;
        job.import_mut().unwrap().mapping = Some(mapping(&g));
        assert!(
            cg_domain::bulk::ports::BulkJobStore::save_bulk_job(&app.store, &t, &job, expect)
                .await
                .unwrap()
        );
        killed_then_retried(&app, &t, &ready.id, point).await;
        let done = imports::get_import(&app.store, &app.store, &t, &ready.id, Utc::now())
            .await
            .unwrap();
        assert_eq!(done.status, BulkStatus::Done, "{point:?}");
        assert_eq!(
            done.counts,
            expected_counts(failures.len()),
            "{point:?}: no row counted twice or lost"
        );
        assert_eq!(done.attempts, 3, "analysis, the killed run, the retry");
        let report = download(done.failure_report_url.as_deref().unwrap()).await;
        assert_eq!(report_rows(&report), sorted(failures.clone()), "{point:?}");
        assert_eq!(
            all_customers(&app, &t, done.id.as_str(), &g).await,
            oracle(true),
            "{point:?}"
        );
        // The timeline: each customer the import wrote has its `customer.imported` entries, the newest
        // at its current version; one entry per created customer, none doubled by the retry.
        let (mut created, mut written) = (0, 0);
        for c in every_customer(&app, &t).await {
            let filter = TimelineFilter {
                types: vec!["customer.imported".into()],
                ..TimelineFilter::default()
            };
            let entries = timeline::list_timeline(&app.store, &t, &c.id, &filter, &PageRequest::first(100))
                .await
                .unwrap()
                .items;
            for e in &entries {
                assert_eq!(e.properties["job_id"], json!(done.id.to_string()), "{point:?}");
                created += usize::from(e.properties["created"] == json!(true));
            }
            if let Some(newest) = entries.first() {
                // The membership pass may write a later version.
                let v = newest.properties["version"].as_u64().unwrap();
                assert!(
                    v <= c.version,
                    "{point:?} {}: entry at {v}, customer at {}",
                    c.id,
                    c.version
                );
                written += 1;
            }
        }
        assert_eq!(
            created as u64, done.counts.created,
            "{point:?}: one entry per created customer"
        );
        let c = &done.counts;
        assert!(
            written as u64 <= c.created + c.updated && (c.updated == 0 || written > created),
            "{point:?}: {written} customers with entries for {c:?}"
        );
    }
    drop_isolated(&app).await;
}

async fn every_customer(app: &App, t: &TenantId) -> Vec<Customer> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = customers::list_customers(&app.store, t, &page).await.unwrap();
        out.extend(got.items);
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return out,
        }
    }
}

trait StoreJob {
    async fn store_job(&self, t: &TenantId, id: &BulkJobId) -> cg_domain::bulk::BulkJob;
}

impl StoreJob for App {
    async fn store_job(&self, t: &TenantId, id: &BulkJobId) -> cg_domain::bulk::BulkJob {
        cg_domain::bulk::ports::BulkJobStore::get_bulk_job(&self.store, t, BulkKind::Import, id)
            .await
            .unwrap()
            .unwrap()
    }
}

// ------------------------------------------------------------------------- over HTTP

async fn api() -> (cg_tests::http::Api, String) {
    let api = cg_tests::http::Api::new(cg_tests::shared_dev_server());
    let token = cg_local::auth::issue(cg_tests::DEV_SECRET, fresh_tenant().as_str(), 600);
    (api, token)
}

async fn poll(api: &cg_tests::http::Api, token: &str, id: &str, until: &[&str]) -> Value {
    for _ in 0..300 {
        let r = api.call("GET", &format!("/imports/{id}"), token, None).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        if until.contains(&r.body["status"].as_str().unwrap_or("")) {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {id} never reached {until:?}");
}

/// Uploads `body` through a new import's link and waits for the analysis to end.
async fn analysed(api: &cg_tests::http::Api, token: &str, name: &str, body: Vec<u8>) -> Value {
    let created = api
        .call("POST", "/imports", token, Some(json!({"file_name": name})))
        .await;
    assert_eq!(created.status, 201, "{}", created.raw);
    upload(created.body["upload_url"].as_str().unwrap(), body).await;
    poll(api, token, created.body["id"].as_str().unwrap(), &["ready", "failed"]).await
}

#[tokio::test]
async fn import_flow_over_http_upload_start_poll_report_and_tenant_isolation() {
    let (api, token) = api().await;
    let csv =
        "Email,Phone,Name,Tags\nana@example.com,380671112233,Ana,vip\nnot-an-email,,Bo,\n,+380501234567,Cy,\"a,b\"\n";
    let ready = analysed(&api, &token, "contacts.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["analysis"]["rows"], 3);
    let id = ready["id"].as_str().unwrap().to_owned();
    let suggestion = ready["analysis"]["suggested_mapping"].clone();
    assert_eq!(suggestion["columns"][0]["field"], "email");

    // Another tenant sees nothing of it.
    let other = cg_local::auth::issue(cg_tests::DEV_SECRET, fresh_tenant().as_str(), 600);
    assert_eq!(
        api.call("GET", &format!("/imports/{id}"), &other, None).await.status,
        404
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("/imports/{id}/start"),
            &other,
            Some(suggestion.clone())
        )
        .await
        .status,
        404
    );
    assert_eq!(
        api.call("POST", &format!("/imports/{id}/cancel"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(api.call("GET", "/imports", &other, None).await.body["items"], json!([]));

    for (body, status, field) in [
        (
            json!({"columns": [{"column": "Email", "field": "emial"}]}),
            422,
            "columns[0].field",
        ),
        (
            json!({"columns": [{"column": "Email", "field": "email"}, {"column": "Email", "field": "phone"}]}),
            422,
            "columns[1].column",
        ),
        (
            json!({"columns": [{"column": "Nope", "field": "email"}]}),
            422,
            "columns[0].column",
        ),
        (json!({"columns": [], "extra": 1}), 400, ""),
    ] {
        let r = api
            .call("POST", &format!("/imports/{id}/start"), &token, Some(body))
            .await;
        assert_eq!(r.status, status, "{}", r.raw);
        assert!(r.raw.contains(field), "{}", r.raw);
    }
    // A dynamic group whose first resync has finished before the import: imported customers enter
    // it through the import's own membership pass.
    let vip = api
        .call(
            "POST",
            "/groups",
            &token,
            Some(json!({"name": "VIPs", "type": "dynamic", "rules": {"tags": {"has_any": ["vip"]}}})),
        )
        .await;
    assert_eq!(vip.status, 201, "{}", vip.raw);
    let gid = vip.body["id"].as_str().unwrap().to_owned();
    for _ in 0..300 {
        let g = api.call("GET", &format!("/groups/{gid}"), &token, None).await;
        if g.body["sync"]["status"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = api
        .call(
            "POST",
            &format!("/imports/{id}/start"),
            &token,
            Some(suggestion.clone()),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.raw);
    let second = api
        .call("POST", &format!("/imports/{id}/start"), &token, Some(suggestion))
        .await;
    assert_eq!(second.status, 409, "a second start: {}", second.raw);
    let done = poll(&api, &token, &id, &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        done["counts"],
        json!({"created": 2, "updated": 0, "unchanged": 0, "failed": 1})
    );
    let report = download(done["failure_report_url"].as_str().unwrap()).await;
    let text = String::from_utf8(report[3..].to_vec()).unwrap();
    assert!(
        text.starts_with("Row,Email,Phone,Name,Tags,Error Code,Error Message\r\n3,not-an-email,,Bo,,invalid_email,"),
        "{text}"
    );
    let list = api.call("GET", "/imports", &token, None).await;
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    let r = api.call("GET", "/customers?limit=10", &token, None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let members = api.call("GET", &format!("/groups/{gid}/members"), &token, None).await;
    let emails: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["ana@example.com"],
        "the imported VIP is in the dynamic group: {}",
        members.raw
    );
    let cancel = api.call("POST", &format!("/imports/{id}/cancel"), &token, None).await;
    assert_eq!(cancel.status, 409, "a done import cannot be canceled");
}

/// A zip whose text table declares 50 MiB of spaces (a few KB compressed).
fn zip_bomb() -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("[Content_Types].xml", opts).unwrap();
    w.write_all(b"<Types/>").unwrap();
    w.start_file("xl/sharedStrings.xml", opts).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..50 {
        w.write_all(&chunk).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn every_bad_input_is_a_clear_4xx_or_a_failed_import_never_a_5xx() {
    let (api, token) = api().await;
    let mut too_many = b"Email\n".to_vec();
    for i in 0..200_001 {
        too_many.extend(format!("u{i}@x.io\n").as_bytes());
    }
    let xlsx = xlsx_file().0;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.csv",
            (0..4096u32).map(|i| (i * 7 % 256) as u8).collect(),
            "not CSV text",
        ),
        ("truncated.xlsx", xlsx[..xlsx.len() / 2].to_vec(), "not a readable XLSX"),
        ("bomb.xlsx", zip_bomb(), "expands to more than"),
        ("header-only.csv", b"Email,Phone\n".to_vec(), "no data rows"),
        ("blank-header.csv", b"Email,,Phone\na@b.co,,\n".to_vec(), "has no name"),
        ("twice.csv", b"Email,email\na@b.co,c@d.co\n".to_vec(), "twice"),
        ("rows.csv", too_many, "more than 200000 data rows"),
    ];
    for (name, body, reason) in cases {
        let r = analysed(&api, &token, name, body).await;
        assert_eq!(r["status"], "failed", "{name}: {r}");
        assert!(r["last_error"].as_str().unwrap().contains(reason), "{name}: {r}");
    }
    // An empty file: PUT nothing.
    let r = analysed(&api, &token, "empty.csv", Vec::new()).await;
    assert!(r["last_error"].as_str().unwrap().contains("empty"), "{r}");

    // Start before the upload; cancel, then start; unknown ids; bad requests.
    let created = api
        .call("POST", "/imports", &token, Some(json!({"file_name": "later.csv"})))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let early = api
        .call(
            "POST",
            &format!("/imports/{id}/start"),
            &token,
            Some(json!({"columns": []})),
        )
        .await;
    assert_eq!(early.status, 409, "{}", early.raw);
    assert!(early.raw.contains("not been uploaded"), "{}", early.raw);
    assert_eq!(
        api.call("POST", &format!("/imports/{id}/cancel"), &token, None)
            .await
            .body["status"],
        "canceled"
    );
    assert_eq!(
        api.call("POST", &format!("/imports/{id}/cancel"), &token, None)
            .await
            .status,
        409
    );
    assert_eq!(api.call("GET", "/imports/nope", &token, None).await.status, 404);
    for (body, status) in [
        (json!({"file_name": "  "}), 422),
        (json!({"file_name": "x.csv", "format": "xls"}), 400),
        (
            json!({"file_name": "x.csv", "content": "a", "content_base64": "YQ=="}),
            422,
        ),
        (json!({"file_name": "x.csv", "content_base64": "***"}), 422),
        (json!({"file_name": "x.csv", "format": "csv", "sheet": "S1"}), 422),
    ] {
        let r = api.call("POST", "/imports", &token, Some(body)).await;
        assert_eq!(r.status, status, "{}", r.raw);
    }
    // An inline file is analysed at once; a named sheet that does not exist fails the import.
    let inline = api
        .call(
            "POST",
            "/imports",
            &token,
            Some(json!({"file_name": "inline.csv", "content": "Email\na@b.co\n"})),
        )
        .await;
    assert_eq!(
        (inline.status, inline.body["status"].as_str()),
        (201, Some("analysing")),
        "{}",
        inline.raw
    );
    let ready = poll(&api, &token, inline.body["id"].as_str().unwrap(), &["ready", "failed"]).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&xlsx);
    let named = api
        .call(
            "POST",
            "/imports",
            &token,
            Some(json!({"file_name": "x.xlsx", "sheet": "Nope", "content_base64": b64})),
        )
        .await;
    let failed = poll(&api, &token, named.body["id"].as_str().unwrap(), &["ready", "failed"]).await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("no sheet named \"Nope\""),
        "{failed}"
    );
}
