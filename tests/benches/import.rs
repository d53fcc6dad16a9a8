//! The import benchmark (not a timed test; `infra/bench-import.sh` runs it in release mode against
//! moto): `--rows` generated customers (default 200,000: email, phone, name, a number attribute and
//! tags, every 500th row with a bad email) as CSV and as XLSX, each through the real job on a table and
//! queues of their own: upload through the presigned link, analysis and rows run by the bulk worker in
//! a child process (so its peak RSS is the worker's), DynamoDB requests counted with an SDK
//! interceptor on the worker's client and compared with the minimum the access pattern needs:
//! identity look-ups in BatchGetItems of 100 keys plus the write items in full 100-item transactions.

mod common;

use bytes::Bytes;
use cg_domain::bulk::BulkStatus;
use cg_domain::ids::{BulkJobId, TenantId};
use cg_domain::import::{ImportRequest, MappingRequest, NewImport};
use cg_domain::usecases::bulk_job::BulkSettings;
use cg_domain::usecases::imports;
use cg_lambda::App;
use chrono::Utc;
use common::{arg, Counter};
use http_body_util::Full;
use std::time::Instant;

const HEADER: [&str; 5] = ["Email", "Phone", "Name", "Points", "Tags"];

fn cells(i: usize) -> [String; 5] {
    let email = if i % 500 == 499 {
        format!("broken-{i}")
    } else {
        format!("customer.{i}@example.com")
    };
    [
        email,
        format!("+38067{:07}", i),
        format!("Customer {i}"),
        (i % 1000).to_string(),
        format!("t{}|imported", i % 7),
    ]
}

fn csv_file(n: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(n * 80));
    w.write_record(HEADER).unwrap();
    for i in 0..n {
        w.write_record(cells(i)).unwrap();
    }
    w.into_inner().unwrap()
}

fn xlsx_file(n: usize) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..n {
        let row = cells(i);
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &row[0]).unwrap();
        sheet.write_string(r, 1, &row[1]).unwrap();
        sheet.write_string(r, 2, &row[2]).unwrap();
        sheet.write_number(r, 3, (i % 1000) as f64).unwrap();
        sheet.write_string(r, 4, &row[4]).unwrap();
    }
    book.save_to_buffer().unwrap()
}

fn mapping() -> MappingRequest {
    serde_json::from_value(serde_json::json!({
        "columns": [
            {"column": "Email", "field": "email"},
            {"column": "Phone", "field": "phone"},
            {"column": "Name", "field": "name"},
            {"column": "Points", "field": "attributes.points", "type": "number"},
            {"column": "Tags", "field": "tags", "separator": "|"}
        ]
    }))
    .unwrap()
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Parent: a stack of its own, the file uploaded through the presigned link, then the worker child.
async fn run_format(format: &str, n: usize) {
    let app = cg_tests::isolated_app().await;
    let t = cg_tests::fresh_tenant();
    let started = Instant::now();
    let body = if format == "csv" { csv_file(n) } else { xlsx_file(n) };
    println!(
        "== {format}: {n} rows, {:.1} MiB file (generated in {:.1} s)",
        body.len() as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    let req = ImportRequest::try_from(NewImport {
        file_name: format!("customers.{format}"),
        format: None,
        sheet: None,
        content: None,
        content_base64: None,
    })
    .unwrap();
    let created = imports::create_import(&app.store, &app.store, &t, req, Utc::now())
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let put = http::Request::put(created.upload_url.unwrap())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    assert_eq!(client.request(put).await.unwrap().status(), 200);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            &app.store.table,
            &app.store.bulk_jobs_queue_url,
            t.as_str(),
            created.id.as_str(),
            &n.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "the worker child failed");
    cg_tests::drop_isolated(&app).await;
}

/// Child: the worker exactly as the bulk Lambda runs it (its DynamoDB client counted); the API calls
/// that start the analysis and the rows go through a second, uncounted client.
async fn child(table: &str, queue: &str, tenant: &str, id: &str, n: usize) {
    let mut api: App = cg_tests::app().await;
    api.store.table = table.to_owned();
    api.store.bulk_jobs_queue_url = queue.to_owned();
    let counter = Counter::default();
    let sdk = cg_local::provision::local_sdk_config().await;
    let mut worker = api.clone();
    worker.store.ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let (t, id) = (TenantId::parse(tenant).unwrap(), BulkJobId::parse(id).unwrap());
    let settings = BulkSettings::default();
    let drive = |want: BulkStatus| {
        let (api, worker, t, id, settings) = (&api, &worker, &t, &id, &settings);
        async move {
            loop {
                cg_local::bulk_jobs::poll_bulk_jobs_once(worker, settings, 1, 0)
                    .await
                    .unwrap();
                let v = imports::get_import(&api.store, &api.store, t, id, Utc::now())
                    .await
                    .unwrap();
                if v.status == want || v.status == BulkStatus::Failed {
                    return v;
                }
            }
        }
    };
    let t0 = Instant::now();
    imports::get_import(&api.store, &api.store, &t, &id, Utc::now())
        .await
        .unwrap();
    let ready = drive(BulkStatus::Ready).await;
    assert_eq!(ready.status, BulkStatus::Ready, "{:?}", ready.last_error);
    let analysis_secs = t0.elapsed().as_secs_f64();
    let analysis_calls = counter.take();
    let t1 = Instant::now();
    imports::start_import(&api.store, &t, &id, mapping(), Utc::now())
        .await
        .unwrap();
    let done = drive(BulkStatus::Done).await;
    let secs = t1.elapsed().as_secs_f64();
    assert_eq!(done.status, BulkStatus::Done, "{:?}", done.last_error);
    let calls = counter.take();
    let total = common::requests(&calls);
    let failed = done.counts.failed as usize;
    let ok = n - failed;
    // Each applied row: 2 identity keys looked up (email, phone; a failed row's email never parses, so
    // it looks up its phone only) and 4 items written (customer, email, phone, timeline entry); failed
    // rows 1 item.
    let keys = 2 * ok + failed;
    let items = 4 * ok + failed;
    let minimum = keys.div_ceil(100) + items.div_ceil(100);
    println!("analysis            : {analysis_secs:.1} s, DynamoDB {analysis_calls:?}");
    println!(
        "import              : {} rows in {secs:.1} s = {:.0} rows/s; counts {:?}; {} run(s)",
        done.rows_done,
        done.rows_done as f64 / secs,
        done.counts,
        done.attempts - 1
    );
    println!(
        "peak RSS (VmHWM)    : {:.1} MiB (worker process: analysis and import)",
        peak_rss_mib()
    );
    println!("DynamoDB requests   : {total} = {calls:?}");
    println!("minimum             : {minimum} = ceil({keys} identity keys / 100) + ceil({items} items / 100)");
    println!(
        "ratio               : {:.3}x (target <= 1.2x)",
        total as f64 / minimum as f64
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            &args[i + 2],
            &args[i + 3],
            &args[i + 4],
            args[i + 5].parse().unwrap(),
        )
        .await;
        return;
    }
    let n: usize = arg("--rows").and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let formats = arg("--formats").unwrap_or_else(|| "csv,xlsx".into());
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("AWS_ENDPOINT_URL is not set: run infra/bench-import.sh");
        return;
    }
    for f in formats.split(',') {
        run_format(f, n).await;
    }
}
