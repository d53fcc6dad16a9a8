//! Exports through the real SDK clients against the emulator: each format of a group of a few thousand
//! members downloaded through its presigned link and parsed with a real CSV/JSON parser, the customer
//! export, a worker killed between parts, the dead-letter path, tenant isolation, and the HTTP flow.
//!
//! The large tests run in a table and queue of their own: moto answers every Query by walking the whole
//! table and copies the whole table for every TransactWriteItems, so thousands of rows in the shared
//! table would slow every other test (and schemathesis) down. Their thousands of member rows are bulk
//! loaded (`cg_aws::fixtures`, the same item shape `add_members` writes) for the same reason.

use bytes::Bytes;
use cg_aws::Store;
use cg_domain::customer::NewCustomer;
use cg_domain::export::encode::unneutralise;
use cg_domain::export::ports::{ExportSink, ExportStore, UploadedPart};
use cg_domain::export::{
    Export, ExportFormat, ExportJob, ExportObject, ExportRequest, ExportScope, ExportStatus, MIN_PART_SIZE,
};
use cg_domain::group::{GroupInput, Member, MemberList, NewGroup, ParsedMembers};
use cg_domain::ids::{CustomerId, ExportId, GroupId, TenantId};
use cg_domain::page::PageRequest;
use cg_domain::usecases::export_job::{self, ExportSettings, RunOutcome};
use cg_domain::usecases::exports;
use cg_domain::usecases::{customers, groups, lookup};
use cg_domain::{DomainError, Result};
use cg_lambda::App;
use cg_local::export_jobs::poll_export_jobs_once;
use cg_tests::{app, drop_isolated, fresh_tenant, isolated_app};
use chrono::{NaiveDate, Utc};
use http_body_util::{BodyExt, Empty};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// One expected row: id, order number, email, signup date (as the members list shows them).
type Row = (String, Option<String>, Option<String>, Option<NaiveDate>);

fn request(format: ExportFormat, bom: bool) -> ExportRequest {
    ExportRequest {
        format,
        bom,
        url_expires_in: 300,
        ..Default::default()
    }
}

/// Order numbers a spreadsheet or a naive CSV writer would trip over, and plain ones.
fn order_number(i: usize) -> Option<String> {
    match i % 7 {
        0 => None,
        1 => Some(format!("=HYPERLINK(\"http://x/{i}\")")),
        2 => Some(format!("A-{i}, \"quoted\"")),
        3 => Some(format!("+{i}")),
        4 => Some(format!("Замовлення №{i} ✓")),
        _ => Some(format!("A-{i:05}")),
    }
}

/// `n` customers created one by one through the customer use case, and a static group holding them.
async fn group_of_customers(app: &App, t: &TenantId, n: usize) -> GroupId {
    for i in 0..n {
        let mut body = json!({"id": format!("c-{i:05}")});
        if let Some(o) = order_number(i) {
            body["order_number"] = json!(o);
        }
        if let Some(e) = email(i) {
            body["email"] = json!(e);
        }
        if let Some(d) = signup_date(i) {
            body["signup_date"] = json!(d);
        }
        let input: NewCustomer = serde_json::from_value(body).unwrap();
        customers::create_customer(&app.store, t, input, Utc::now())
            .await
            .unwrap();
    }
    let new_group: NewGroup = serde_json::from_value(json!({"name": "Spring promo / VIP"})).unwrap();
    let group = groups::create_group(&app.store, t, GroupInput::try_from(new_group).unwrap(), Utc::now())
        .await
        .unwrap()
        .group;
    let list = MemberList {
        customer_ids: Some((0..n).map(|i| format!("c-{i:05}")).collect()),
        ..Default::default()
    };
    let report = groups::add_members(
        &app.store,
        t,
        &group.id,
        ParsedMembers::try_from(list).unwrap(),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.added as usize, n);
    group.id
}

/// Some emails start with `-` or `+`: valid addresses that would start a formula.
fn email(i: usize) -> Option<String> {
    (!i.is_multiple_of(5)).then(|| format!("{}user{i}@example.com", ["", "-", "+", "x."][i % 4]))
}

fn signup_date(i: usize) -> Option<NaiveDate> {
    (!i.is_multiple_of(3))
        .then(|| NaiveDate::from_ymd_opt(2010 + (i % 16) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32))
        .flatten()
}

/// A group named "Spring promo / VIP" with `n` bulk-loaded members of the same varied values.
async fn loaded_group(app: &App, t: &TenantId, n: usize) -> GroupId {
    let new_group: NewGroup = serde_json::from_value(json!({"name": "Spring promo / VIP"})).unwrap();
    let group = groups::create_group(&app.store, t, GroupInput::try_from(new_group).unwrap(), Utc::now())
        .await
        .unwrap()
        .group;
    let members: Vec<Member> = (0..n)
        .map(|i| Member {
            customer_id: CustomerId::parse(&format!("c-{i:05}")).unwrap(),
            profile: cg_domain::customer::MemberProfile {
                name: Some(format!("Name {i}")),
                order_number: order_number(i),
                email: email(i).map(|e| cg_domain::contact::Email::parse(&e).unwrap()),
                signup_date: signup_date(i),
                ..Default::default()
            },
            added_at: Utc::now(),
        })
        .collect();
    cg_aws::fixtures::load_member_rows(&app.store, t, &group.id, &members, 4)
        .await
        .unwrap();
    group.id
}

/// The group's members as the members list pages them.
async fn members_list(app: &App, t: &TenantId, g: &GroupId) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut page = PageRequest::first(1000);
    loop {
        let got = groups::list_members(&app.store, t, g, &page).await.unwrap();
        rows.extend(got.items.into_iter().map(|m| {
            (
                m.customer_id.to_string(),
                m.profile.order_number,
                m.profile.email.map(String::from),
                m.profile.signup_date,
            )
        }));
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return rows,
        }
    }
}

/// Drives the export worker over the export queue (as Lambda's trigger would) until the export is done.
async fn run_worker_until_done(app: &App, t: &TenantId, id: &ExportId) -> Value {
    let settings = ExportSettings::default();
    for _ in 0..200 {
        let view = exports::get_export(&app.store, t, id, Utc::now()).await.unwrap();
        match view.export.status {
            ExportStatus::Done => return serde_json::to_value(view).unwrap(),
            ExportStatus::Failed => panic!("export failed: {:?}", view.export.failure_reason),
            _ => {
                poll_export_jobs_once(app, &settings, 1, 0).await.unwrap();
            }
        }
    }
    panic!("export {id} never finished");
}

/// A plain HTTP GET (the presigned link needs no credentials): status, headers and body.
async fn download(url: &str) -> (u16, http::HeaderMap, Bytes) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.expect("download");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.into_body().collect().await.unwrap().to_bytes())
}

fn parse_csv(body: &[u8], bom: bool) -> Vec<Row> {
    assert_eq!(body.starts_with(b"\xEF\xBB\xBF"), bom, "byte order mark");
    let body = if bom { &body[3..] } else { body };
    let mut reader = csv::Reader::from_reader(body);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["Order Number", "Email", "Signup Date"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let cell = |i: usize| Some(unneutralise(&r[i]).to_owned()).filter(|v| !v.is_empty());
            (String::new(), cell(0), cell(1), cell(2).map(|d| d.parse().unwrap()))
        })
        .collect()
}

fn json_row(v: &Value) -> Row {
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 4, "exactly id, order_number, email, signup_date: {v}");
    let text = |k: &str| v[k].as_str().map(str::to_owned);
    (
        text("id").unwrap(),
        text("order_number"),
        text("email"),
        text("signup_date").map(|d| d.parse().unwrap()),
    )
}

fn parse(format: ExportFormat, bom: bool, body: &[u8]) -> Vec<Row> {
    match format {
        ExportFormat::Csv => parse_csv(body, bom),
        ExportFormat::Json => serde_json::from_slice::<Vec<Value>>(body)
            .unwrap()
            .iter()
            .map(json_row)
            .collect(),
        ExportFormat::Jsonl => body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| json_row(&serde_json::from_slice(l).unwrap()))
            .collect(),
    }
}

/// CSV has no id column: compare it on the other three.
fn comparable(format: ExportFormat, rows: Vec<Row>) -> Vec<Row> {
    match format {
        ExportFormat::Csv => rows.into_iter().map(|(_, o, e, d)| (String::new(), o, e, d)).collect(),
        _ => rows,
    }
}

async fn etag(app: &App, key_prefix: &str) -> String {
    let listed = app
        .store
        .s3
        .list_objects_v2()
        .bucket(&app.store.bucket)
        .prefix(key_prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1, "one file under {key_prefix}");
    listed.contents()[0].e_tag().unwrap().to_owned()
}

async fn unfinished_uploads(app: &App, prefix: &str) -> usize {
    app.store
        .s3
        .list_multipart_uploads()
        .bucket(&app.store.bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .uploads()
        .len()
}

#[tokio::test]
async fn group_export_in_each_format_downloads_exactly_the_members_list() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let g = loaded_group(&app, &t, 3000).await;
    let members = members_list(&app, &t, &g).await;
    assert_eq!(members.len(), 3000);

    for (format, bom) in [
        (ExportFormat::Csv, true),
        (ExportFormat::Json, false),
        (ExportFormat::Jsonl, false),
    ] {
        let started = exports::start_group_export(&app.store, &t, &g, request(format, bom), Utc::now())
            .await
            .unwrap();
        assert_eq!(started.export.status, ExportStatus::Queued);
        let id = started.export.id.clone();
        let done = run_worker_until_done(&app, &t, &id).await;
        assert_eq!(done["rows_written"], 3000);
        assert_eq!(done["progress"], 1.0);
        let today = Utc::now().date_naive();
        let name = format!("Spring promo _ VIP-{today}.{}", format.extension());
        assert_eq!(done["file_name"], name.as_str());

        let (status, headers, body) = download(done["download_url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(body.len() as u64, done["bytes_written"].as_u64().unwrap());
        let disposition = headers[http::header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            disposition.starts_with(&format!("attachment; filename=\"Spring-promo-_-VIP-{today}.")),
            "{disposition}"
        );
        assert_eq!(
            parse(format, bom, &body),
            comparable(format, members.clone()),
            "{format:?} file == members list"
        );
        // Below one part, the file is a single PutObject: its ETag is a plain MD5, not `<md5>-<parts>`.
        let tag = etag(&app, &format!("{t}/exports/{id}/")).await;
        assert!(!tag.contains('-'), "single PutObject, got ETag {tag}");
    }
    drop_isolated(&app).await;
}

#[tokio::test]
async fn customer_export_writes_every_customer_of_the_tenant_once() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    group_of_customers(&app, &t, 150).await;
    let started = exports::start_customer_export(&app.store, &t, request(ExportFormat::Jsonl, false), Utc::now())
        .await
        .unwrap();
    assert_eq!(started.export.scope, ExportScope::Customers);
    let done = run_worker_until_done(&app, &t, &started.export.id).await;
    assert!(done["file_name"].as_str().unwrap().starts_with("customers-"));
    let (status, _, body) = download(done["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let mut exported = parse(ExportFormat::Jsonl, false, &body);

    let mut listed = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = customers::list_customers(&app.store, &t, &page).await.unwrap();
        listed.extend(got.items.into_iter().map(|c| {
            (
                c.id.to_string(),
                c.order_number,
                c.email.map(String::from),
                c.signup_date,
            )
        }));
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(exported, listed, "same rows in the customer list's order");
    exported.sort();
    exported.dedup();
    assert_eq!(exported.len(), 150);
    drop_isolated(&app).await;
}

/// Delegates to the real bucket, but "dies" (never returns) when asked for part `die_at_part`, and
/// tells the test, which then drops the run: no error handling or clean-up code of the run executes.
struct DyingSink {
    inner: Store,
    die_at_part: u32,
    died: Arc<Notify>,
}

impl ExportSink for DyingSink {
    async fn put_file(&self, obj: &ExportObject, body: Vec<u8>) -> Result<()> {
        self.inner.put_file(obj, body).await
    }
    async fn start_upload(&self, obj: &ExportObject) -> Result<String> {
        self.inner.start_upload(obj).await
    }
    async fn upload_part(
        &self,
        obj: &ExportObject,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> Result<UploadedPart> {
        if number == self.die_at_part {
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.upload_part(obj, upload_id, number, body).await
    }
    async fn complete_upload(&self, obj: &ExportObject, upload_id: &str, parts: &[UploadedPart]) -> Result<()> {
        self.inner.complete_upload(obj, upload_id, parts).await
    }
    async fn abort_upload(&self, obj: &ExportObject, upload_id: &str) -> Result<()> {
        self.inner.abort_upload(obj, upload_id).await
    }
    async fn abort_unfinished_uploads(&self, obj: &ExportObject) -> Result<u32> {
        self.inner.abort_unfinished_uploads(obj).await
    }
}

/// Member rows big enough (about 500 bytes of CSV each: the longest order number and email the service
/// accepts) that a few thousand of them span more than one 5 MiB part.
fn wide_members(n: usize) -> Vec<Member> {
    (0..n)
        .map(|i| {
            let profile = cg_domain::customer::MemberProfile {
                order_number: Some(format!("{i:07}-{}", "x".repeat(248))),
                email: Some(
                    cg_domain::contact::Email::parse(&format!(
                        "member{i:07}@{}.{}.{}.example.com",
                        "a".repeat(60),
                        "b".repeat(60),
                        "c".repeat(60)
                    ))
                    .unwrap(),
                ),
                signup_date: NaiveDate::from_ymd_opt(2020 + (i % 7) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32),
                ..Default::default()
            };
            Member {
                customer_id: CustomerId::parse(&format!("m-{i:07}")).unwrap(),
                profile,
                added_at: Utc::now(),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_worker_killed_between_parts_is_retried_into_one_exact_file_and_no_open_upload() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let new_group: NewGroup = serde_json::from_value(json!({"name": "Big"})).unwrap();
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group).unwrap(), Utc::now())
        .await
        .unwrap()
        .group;
    let n = 15_000;
    cg_aws::fixtures::load_member_rows(&app.store, &t, &group.id, &wide_members(n), 4)
        .await
        .unwrap();
    // The record only, no queue message: this test alone runs the job.
    let export = Export::queued(
        ExportScope::Group,
        Some((&group.id, &group.name)),
        &request(ExportFormat::Csv, false),
        Utc::now(),
    );
    app.store.create_export(&t, &export).await.unwrap();
    let job = ExportJob {
        tenant: t.clone(),
        export_id: export.id.clone(),
    };
    let settings = ExportSettings {
        part_size: MIN_PART_SIZE,
        ..Default::default()
    };
    let prefix = format!("{t}/exports/{}/", export.id);

    // Run 1 dies while uploading part 2: part 1 is in S3 under an open multipart upload.
    let died = Arc::new(Notify::new());
    let dying = DyingSink {
        inner: app.store.clone(),
        die_at_part: 2,
        died: died.clone(),
    };
    tokio::select! {
        _ = export_job::run_export(&app.store, &dying, &job, &settings, false) => panic!("the dying run finished"),
        _ = died.notified() => {}
    }
    let stuck = app.store.get_export(&t, &export.id).await.unwrap().unwrap();
    assert_eq!((stuck.status, stuck.attempts), (ExportStatus::Running, 1));
    assert!(stuck.upload_id.is_some() && stuck.rows_written > 0);
    assert_eq!(
        unfinished_uploads(&app, &prefix).await,
        1,
        "the dead run left its upload open"
    );

    // The redelivered message: run 2 aborts the orphan and writes the whole file again.
    let report = export_job::run_export(&app.store, &app.store, &job, &settings, false)
        .await
        .unwrap();
    assert_eq!(report.outcome, RunOutcome::Done);
    assert_eq!(report.stale_uploads_aborted, 1);
    assert_eq!(report.parts, 2, "{report:?}");
    assert_eq!(report.rows, n as u64);
    assert_eq!(
        unfinished_uploads(&app, &prefix).await,
        0,
        "no orphaned multipart upload"
    );
    let tag = etag(&app, &prefix).await;
    assert!(tag.trim_matches('"').ends_with(&format!("-{}", report.parts)), "{tag}");

    let view = exports::get_export(&app.store, &t, &export.id, Utc::now())
        .await
        .unwrap();
    assert_eq!((view.export.attempts, view.export.rows_written), (2, n as u64));
    let (status, _, body) = download(view.download_url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    let members = members_list(&app, &t, &group.id).await;
    assert_eq!(members.len(), n);
    assert_eq!(
        parse_csv(&body, false),
        comparable(ExportFormat::Csv, members),
        "no duplicate or missing rows"
    );

    // A third delivery of the same message finds the export done and changes nothing.
    let again = export_job::run_export(&app.store, &app.store, &job, &settings, false)
        .await
        .unwrap();
    assert_eq!(again.outcome, RunOutcome::AlreadyFinished);
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_group_deleted_before_the_job_runs_fails_the_export_for_good() {
    let app = app().await;
    let t = fresh_tenant();
    let g = group_of_customers(&app, &t, 3).await;
    let group = lookup::get_group(&app.store, &t, &g).await.unwrap();
    // The record only, no queue message: this test alone runs the job.
    let export = Export::queued(
        ExportScope::Group,
        Some((&group.id, &group.name)),
        &request(ExportFormat::Json, false),
        Utc::now(),
    );
    app.store.create_export(&t, &export).await.unwrap();
    groups::delete_group(&app.store, &t, &g).await.unwrap();
    let job = ExportJob {
        tenant: t.clone(),
        export_id: export.id.clone(),
    };
    let err = export_job::run_export(&app.store, &app.store, &job, &ExportSettings::default(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DomainError::NotFound(_)) && !err.is_retryable(),
        "{err:?}"
    );
    let failed = exports::get_export(&app.store, &t, &export.id, Utc::now())
        .await
        .unwrap();
    assert_eq!(failed.export.status, ExportStatus::Failed);
    assert_eq!(
        failed.export.failure_reason.as_deref(),
        Some("the group was deleted before the export finished")
    );
    assert!(failed.download_url.is_none());
}

#[tokio::test]
async fn an_export_that_keeps_failing_is_marked_failed_when_its_message_reaches_the_dlq() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let app = app().await;
    // A dedicated queue pair with the template's redrive settings, so this test owns every message in it.
    let template = cg_local::template::load(&cg_local::template::default_path()).unwrap();
    let (_, max_receives) = template
        .queues
        .iter()
        .find(|q| q.logical_id == "ExportJobsQueue")
        .and_then(|q| q.redrive.clone())
        .unwrap();
    let sqs = &app.store.sqs;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let dlq = sqs
        .create_queue()
        .queue_name(format!("xdlq-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue = sqs
        .create_queue()
        .queue_name(format!("xq-{suffix}"))
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // S3 is unreachable for this worker: every run fails with a retryable error.
    let mut broken = app.clone();
    broken.store.export_jobs_queue_url = queue.clone();
    broken.max_receives = max_receives as u32;
    let sdk = cg_local::provision::local_sdk_config().await;
    broken.store.s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url("http://127.0.0.1:9")
            .force_path_style(true)
            .build(),
    );

    let t = fresh_tenant();
    let started = exports::start_customer_export(&broken.store, &t, request(ExportFormat::Csv, false), Utc::now())
        .await
        .unwrap();
    let id = started.export.id.clone();
    let settings = ExportSettings::default();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 40, "the message never reached the DLQ");
        poll_export_jobs_once(&broken, &settings, 0, 0).await.unwrap();
        let view = exports::get_export(&app.store, &t, &id, Utc::now()).await.unwrap();
        let in_dlq = sqs
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
            == "1";
        if view.export.attempts < max_receives as u32 {
            assert_eq!(
                view.export.status,
                ExportStatus::Running,
                "not failed before the last delivery"
            );
        }
        if in_dlq {
            assert_eq!(view.export.status, ExportStatus::Failed);
            assert_eq!(view.export.attempts, max_receives as u32);
            let reason = view.export.failure_reason.unwrap();
            assert!(reason.contains("temporarily unavailable"), "{reason}");
            assert!(!reason.contains("127.0.0.1"), "no internal detail: {reason}");
            break;
        }
    }
}

#[tokio::test]
async fn another_tenant_never_sees_an_export_and_keys_start_with_the_tenant() {
    let app = app().await;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let g = group_of_customers(&app, &a, 5).await;
    let started = exports::start_group_export(&app.store, &a, &g, request(ExportFormat::Csv, false), Utc::now())
        .await
        .unwrap();
    let id = started.export.id.clone();
    run_worker_until_done(&app, &a, &id).await;

    let err = exports::get_export(&app.store, &b, &id, Utc::now()).await.unwrap_err();
    assert!(matches!(err, DomainError::NotFound(_)), "{err:?}");
    assert!(exports::list_exports(&app.store, &b, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        exports::start_group_export(&app.store, &b, &g, request(ExportFormat::Csv, false), Utc::now()).await,
        Err(DomainError::NotFound(_))
    ));
    // The file's key starts with the tenant and carries the export id.
    etag(&app, &format!("{a}/exports/{id}/")).await;
    let listed = exports::list_exports(&app.store, &a, &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(
        listed.items[0].download_url.is_none(),
        "links only from GET /exports/{{id}}"
    );
}

#[tokio::test]
async fn export_flow_over_http_from_post_to_download() {
    let api = cg_tests::http::Api::new(cg_tests::shared_dev_server());
    let token = cg_local::auth::issue(cg_tests::DEV_SECRET, fresh_tenant().as_str(), 600);
    for (id, email, order) in [("c1", "one@x.com", "=1+2"), ("c2", "two@x.com", "A-2")] {
        let r = api
            .call(
                "POST",
                "/customers",
                &token,
                Some(json!({"id": id, "email": email, "order_number": order, "signup_date": "2026-03-01"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.raw);
    }
    let g = api
        .call(
            "POST",
            "/groups",
            &token,
            Some(json!({"name": "VIP", "members": {"customer_ids": ["c1", "c2"]}})),
        )
        .await;
    let gid = g.body["id"].as_str().unwrap().to_owned();

    for (body, status, code) in [
        (json!({"format": "xlsx"}), 400, "bad_request"),
        (json!({"format": "json", "bom": true}), 422, "validation_failed"),
        (
            json!({"format": "csv", "url_expires_in": 3601}),
            422,
            "validation_failed",
        ),
        (json!({"format": "csv", "limit": 1}), 400, "bad_request"),
    ] {
        let r = api
            .call("POST", &format!("/groups/{gid}/exports"), &token, Some(body))
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{}",
            r.raw
        );
    }
    // The customer export by query (issue 14): a bad node is a 422 naming its path.
    let bad = api
        .call(
            "POST",
            "/customers/exports",
            &token,
            Some(json!({"format": "csv", "columns": "profile", "rules": {"all": [{"tags": {}}]}})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.raw);
    assert_eq!(bad.body["error"]["field"], json!("rules.all[0].tags"), "{}", bad.raw);
    let missing = api
        .call("POST", "/groups/nope/exports", &token, Some(json!({"format": "csv"})))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(api.call("GET", "/exports/nope", &token, None).await.status, 404);

    let started = api
        .call(
            "POST",
            &format!("/groups/{gid}/exports"),
            &token,
            Some(json!({"format": "csv"})),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.raw);
    assert_eq!(started.body["status"], "queued");
    assert_eq!(started.body["url_expires_in"], 900);
    let id = started.body["id"].as_str().unwrap().to_owned();
    // The dev server's export worker polls the queue; wait for it.
    let mut done = Value::Null;
    for _ in 0..150 {
        let r = api.call("GET", &format!("/exports/{id}"), &token, None).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        if r.body["status"] == "done" {
            done = r.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(done["rows_written"], 2, "{done}");
    let expires: chrono::DateTime<Utc> = done["download_expires_at"].as_str().unwrap().parse().unwrap();
    let lifetime = (expires - Utc::now()).num_seconds();
    assert!(
        (880..=900).contains(&lifetime),
        "default link lifetime 15 minutes, got {lifetime}s"
    );
    let (status, _, body) = download(done["download_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        "Order Number,Email,Signup Date\r\n\"'=1+2\",one@x.com,2026-03-01\r\nA-2,two@x.com,2026-03-01\r\n"
    );
    let list = api.call("GET", "/exports", &token, None).await;
    assert_eq!(list.body["items"][0]["id"], id.as_str());
}
