//! The export benchmark (not a timed test; `infra/bench-export.sh` runs it in release mode):
//!
//! 1. Encoding: `--rows` member rows (default 1,000,000) through the export encoder, beside the raw
//!    `csv` crate writing the same rows to memory; prints rows/s of each and their ratio.
//! 2. The worker path against moto (needs `AWS_ENDPOINT_URL`; skipped with `--encode-only`): bulk loads
//!    `--worker-rows` members (default `--rows`) into a group in a table of its own, then runs the real
//!    export job (DynamoDB Query pages -> encoder -> S3 multipart upload) in a child process, and prints
//!    the child's peak RSS (VmHWM), rows/s and the S3 requests it made by type.
//! 3. The same job with `--rows` members generated page by page in memory instead of read from moto's
//!    DynamoDB (whose Query walks and sorts the whole table on every page, so a million rows there take
//!    hours): the real encoder, part buffer and S3 multipart upload to moto, in a child process.

use cg_aws::Store;
use cg_domain::customer::Customer;
use cg_domain::customer::MemberProfile;
use cg_domain::export::encode::{write_iso_date, Encoder, ExportRow};
use cg_domain::export::ports::{ExportSink, ExportSource, ExportStore, UploadedPart};
use cg_domain::export::{Export, ExportFormat, ExportJob, ExportObject, ExportRequest, ExportScope};
use cg_domain::group::{Group, GroupInput, GroupKind, Member, NewGroup};
use cg_domain::ids::{CustomerId, ExportId, GroupId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::usecases::export_job::{run_export, ExportSettings};
use cg_domain::usecases::groups;
use cg_domain::Result;
use chrono::{NaiveDate, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Realistic member values: an order number, an email, a signup date; one row in 50 with a value that
/// needs quoting or neutralising.
fn member_values(i: usize) -> (String, String, Option<String>, Option<NaiveDate>) {
    let order = match i % 50 {
        0 => Some(format!("=A-{i}")),
        1 => Some(format!("A-{i}, \"rush\"")),
        2 => None,
        _ => Some(format!("A-{i:08}")),
    };
    (
        format!("c-{i:08}"),
        format!("customer.{i}@example.com"),
        order,
        NaiveDate::from_ymd_opt(2015 + (i % 10) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32),
    )
}

type OwnedRow = (String, String, Option<String>, Option<NaiveDate>);

fn encode_ours(rows: &[OwnedRow]) -> usize {
    let mut out = Vec::with_capacity(64 << 20);
    let mut enc = Encoder::new(ExportFormat::Csv, false);
    enc.header(&mut out);
    for (id, email, order, date) in rows {
        let row = ExportRow {
            id,
            order_number: order.as_deref(),
            email: Some(email),
            signup_date: *date,
        };
        enc.row(&row, &mut out);
    }
    enc.footer(&mut out);
    out.len()
}

fn encode_json(rows: &[OwnedRow]) -> usize {
    let mut out = Vec::with_capacity(128 << 20);
    let mut enc = Encoder::new(ExportFormat::Json, false);
    enc.header(&mut out);
    for (id, email, order, date) in rows {
        let row = ExportRow {
            id,
            order_number: order.as_deref(),
            email: Some(email),
            signup_date: *date,
        };
        enc.row(&row, &mut out);
    }
    enc.footer(&mut out);
    out.len()
}

/// The raw `csv` crate writing the same three columns (dates formatted the same way) to memory.
fn encode_csv_crate(rows: &[OwnedRow]) -> usize {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(64 << 20));
    let mut date = Vec::with_capacity(16);
    w.write_record(["Order Number", "Email", "Signup Date"]).unwrap();
    for (_, email, order, d) in rows {
        date.clear();
        if let Some(d) = d {
            write_iso_date(*d, &mut date);
        }
        w.write_record([order.as_deref().unwrap_or("").as_bytes(), email.as_bytes(), &date])
            .unwrap();
    }
    w.into_inner().unwrap().len()
}

/// Best of three runs: (rows/s, bytes).
fn measure(rows: &[OwnedRow], f: fn(&[OwnedRow]) -> usize) -> (f64, usize) {
    let mut best = 0.0f64;
    let mut bytes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        bytes = std::hint::black_box(f(std::hint::black_box(rows)));
        best = best.max(rows.len() as f64 / t.elapsed().as_secs_f64());
    }
    (best, bytes)
}

fn encoding_benchmark(n: usize) {
    let rows: Vec<OwnedRow> = (0..n).map(member_values).collect();
    let (ours, ours_bytes) = measure(&rows, encode_ours);
    let (raw, raw_bytes) = measure(&rows, encode_csv_crate);
    let (json, json_bytes) = measure(&rows, encode_json);
    println!("== encoding {n} rows in memory (best of 3)");
    println!("export encoder, csv : {:>12.0} rows/s  {ours_bytes} bytes", ours);
    println!("raw csv crate       : {:>12.0} rows/s  {raw_bytes} bytes", raw);
    println!("export encoder, json: {:>12.0} rows/s  {json_bytes} bytes", json);
    println!("ratio encoder/csv   : {:>12.2} (target >= 0.80)", ours / raw);
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The real S3 sink, counting requests by type.
#[derive(Default)]
struct Counts {
    put_object: AtomicU64,
    create_multipart: AtomicU64,
    upload_part: AtomicU64,
    complete_multipart: AtomicU64,
    abort_multipart: AtomicU64,
    list_multipart: AtomicU64,
}

struct CountingSink {
    inner: Store,
    counts: Counts,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl ExportSink for CountingSink {
    async fn put_file(&self, obj: &ExportObject, body: Vec<u8>) -> Result<()> {
        bump(&self.counts.put_object);
        self.inner.put_file(obj, body).await
    }
    async fn start_upload(&self, obj: &ExportObject) -> Result<String> {
        bump(&self.counts.create_multipart);
        self.inner.start_upload(obj).await
    }
    async fn upload_part(
        &self,
        obj: &ExportObject,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> Result<UploadedPart> {
        bump(&self.counts.upload_part);
        self.inner.upload_part(obj, upload_id, number, body).await
    }
    async fn complete_upload(&self, obj: &ExportObject, upload_id: &str, parts: &[UploadedPart]) -> Result<()> {
        bump(&self.counts.complete_multipart);
        self.inner.complete_upload(obj, upload_id, parts).await
    }
    async fn abort_upload(&self, obj: &ExportObject, upload_id: &str) -> Result<()> {
        bump(&self.counts.abort_multipart);
        self.inner.abort_upload(obj, upload_id).await
    }
    async fn abort_unfinished_uploads(&self, obj: &ExportObject) -> Result<u32> {
        // One ListMultipartUploads page (plus one abort per upload found, counted by the inner call).
        bump(&self.counts.list_multipart);
        self.inner.abort_unfinished_uploads(obj).await
    }
}

async fn app_with_table(table: &str) -> cg_lambda::App {
    let mut app = cg_tests::app().await;
    app.store.table = table.to_owned();
    app
}

/// Parent: loads the rows, then runs the export in a child process so its peak RSS is the worker's.
async fn worker_benchmark(n: usize) {
    let base = cg_tests::app().await;
    let table = format!("cg-bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&base.store, &table).await;
    let app = app_with_table(&table).await;
    let t = cg_tests::fresh_tenant();
    let new_group: NewGroup = serde_json::from_value(serde_json::json!({"name": "Benchmark"})).unwrap();
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group).unwrap(), Utc::now())
        .await
        .unwrap()
        .group;

    let load = Instant::now();
    const CHUNK: usize = 50_000;
    for start in (0..n).step_by(CHUNK) {
        let members: Vec<Member> = (start..(start + CHUNK).min(n)).map(member).collect();
        cg_aws::fixtures::load_member_rows(&app.store, &t, &group.id, &members, 4)
            .await
            .unwrap();
    }
    let load_secs = load.elapsed().as_secs_f64();
    println!("== worker path against moto, {n} members");
    println!(
        "loading members     : {load_secs:.1} s ({:.0} rows/s, BatchWriteItem of 25)",
        n as f64 / load_secs
    );

    let req = ExportRequest {
        format: ExportFormat::Csv,
        bom: false,
        url_expires_in: 900,
        ..Default::default()
    };
    let export = Export::queued(ExportScope::Group, Some((&group.id, &group.name)), &req, Utc::now());
    app.store.create_export(&t, &export).await.unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--export-child", &table, t.as_str(), export.id.as_str()])
        .status()
        .unwrap();
    assert!(child.success(), "the export child failed");
    base.store.ddb.delete_table().table_name(&table).send().await.unwrap();
}

async fn create_table(store: &Store, table: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let mut create = store
        .ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in [("PK", KeyType::Hash), ("SK", KeyType::Range)] {
        create = create
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
}

/// Member rows generated page by page (the cursor is the next row number); export records and files
/// go to the real table and bucket.
struct SyntheticSource {
    store: Store,
    rows: usize,
}

impl ExportSource for SyntheticSource {
    async fn export_group(&self, _t: &TenantId, g: &GroupId) -> Result<Option<Group>> {
        Ok(Some(Group {
            id: g.clone(),
            name: "Synthetic".into(),
            kind: GroupKind::Static,
            member_count: self.rows as u64,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            definition: None,
            template: None,
            settings: None,
            uses_groups: Vec::new(),
            sync: None,
        }))
    }
    async fn member_page(&self, _t: &TenantId, _g: &GroupId, page: &PageRequest) -> Result<Page<Member>> {
        // DynamoDB's 1 MB page holds about 5,000 of these rows.
        let start: usize = page.cursor.as_deref().map_or(0, |c| c.parse().unwrap());
        let end = (start + 5000).min(self.rows);
        let items = (start..end).map(member).collect();
        Ok(Page {
            items,
            next_cursor: (end < self.rows).then(|| end.to_string()),
        })
    }
    async fn customer_page(&self, _t: &TenantId, _page: &PageRequest) -> Result<Page<Customer>> {
        unreachable!("the benchmark exports a group")
    }
}

impl ExportStore for SyntheticSource {
    async fn create_export(&self, t: &TenantId, e: &Export) -> Result<()> {
        self.store.create_export(t, e).await
    }
    async fn get_export(&self, t: &TenantId, id: &ExportId) -> Result<Option<Export>> {
        self.store.get_export(t, id).await
    }
    async fn list_exports(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Export>> {
        self.store.list_exports(t, page).await
    }
    async fn save_export(&self, t: &TenantId, e: &Export, expected_attempts: u32) -> Result<bool> {
        self.store.save_export(t, e, expected_attempts).await
    }
}

fn member(i: usize) -> Member {
    let (id, email, order, date) = member_values(i);
    Member {
        customer_id: CustomerId::parse(&id).unwrap(),
        profile: MemberProfile {
            email: Some(cg_domain::contact::Email::parse(&email).unwrap()),
            order_number: order,
            signup_date: date,
            ..Default::default()
        },
        added_at: Utc::now(),
    }
}

/// Synthetic: `--rows` generated members, the real encoder and S3 sink, in a child process.
async fn synthetic_benchmark(n: usize) {
    let app = cg_tests::app().await;
    let t = cg_tests::fresh_tenant();
    let g = GroupId::generate();
    let req = ExportRequest {
        format: ExportFormat::Csv,
        bom: false,
        url_expires_in: 900,
        ..Default::default()
    };
    let export = Export::queued(ExportScope::Group, Some((&g, "Synthetic")), &req, Utc::now());
    app.store.create_export(&t, &export).await.unwrap();
    println!("== worker path, {n} members generated in memory, S3 on moto");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--export-child", "-", t.as_str(), export.id.as_str(), &n.to_string()])
        .status()
        .unwrap();
    assert!(child.success(), "the export child failed");
}

/// Child: the worker's part, exactly as the export Lambda runs it (table `-`: generated rows).
async fn export_child(table: &str, tenant: &str, export_id: &str, synthetic_rows: Option<usize>) {
    let job = ExportJob {
        tenant: TenantId::parse(tenant).unwrap(),
        export_id: ExportId::parse(export_id).unwrap(),
    };
    let (store, synthetic) = match synthetic_rows {
        Some(rows) => {
            let app = cg_tests::app().await;
            (app.store.clone(), Some(SyntheticSource { store: app.store, rows }))
        }
        None => (app_with_table(table).await.store, None),
    };
    let sink = CountingSink {
        inner: store.clone(),
        counts: Counts::default(),
    };
    let settings = ExportSettings::default();
    let started = Instant::now();
    let report = match &synthetic {
        Some(source) => run_export(source, &sink, &job, &settings, false).await,
        None => run_export(&store, &sink, &job, &settings, false).await,
    }
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let c = &sink.counts;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "export              : {} rows, {} bytes in {secs:.1} s",
        report.rows, report.bytes
    );
    println!("rows/s              : {:.0}", report.rows as f64 / secs);
    println!("peak RSS (VmHWM)    : {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    println!(
        "S3 requests         : {} total = PutObject {}, CreateMultipartUpload {}, UploadPart {}, \
         CompleteMultipartUpload {}, AbortMultipartUpload {}, ListMultipartUploads {}",
        get(&c.put_object)
            + get(&c.create_multipart)
            + get(&c.upload_part)
            + get(&c.complete_multipart)
            + get(&c.abort_multipart)
            + get(&c.list_multipart),
        get(&c.put_object),
        get(&c.create_multipart),
        get(&c.upload_part),
        get(&c.complete_multipart),
        get(&c.abort_multipart),
        get(&c.list_multipart)
    );
    println!(
        "DynamoDB requests   : Query {} pages{}, GetItem {} (export{}), PutItem {} (claim, one per part, done)",
        report.pages,
        if synthetic.is_some() {
            " (generated, not sent)"
        } else {
            ""
        },
        if synthetic.is_some() { 1 } else { 2 },
        if synthetic.is_some() { "" } else { ", group" },
        2 + report.parts
    );
}

#[tokio::main]
async fn main() {
    if flag("--export-child") {
        let args: Vec<String> = std::env::args().collect();
        let i = args.iter().position(|a| a == "--export-child").unwrap();
        let synthetic = args.get(i + 4).and_then(|v| v.parse().ok());
        export_child(&args[i + 1], &args[i + 2], &args[i + 3], synthetic).await;
        return;
    }
    let n: usize = arg("--rows").and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let worker_rows: usize = arg("--worker-rows").and_then(|v| v.parse().ok()).unwrap_or(n);
    encoding_benchmark(n);
    if flag("--encode-only") {
        return;
    }
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("AWS_ENDPOINT_URL is not set: skipping the worker benchmark (run infra/bench-export.sh)");
        return;
    }
    if worker_rows > 0 {
        worker_benchmark(worker_rows).await;
    }
    synthetic_benchmark(n).await;
}
