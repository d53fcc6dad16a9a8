//! The runtime contract: every function binary of template.yaml, started the way Lambda starts
//! `bootstrap` (its template environment resolved to the local resources, `AWS_LAMBDA_RUNTIME_API`
//! pointing at a Runtime API endpoint in this test), answers the events Lambda sends it. API functions
//! get API Gateway HTTP API v2 events with JWT claims and must answer what the dev server answers; the
//! SQS workers get SQS batches and answer `batchItemFailures`; the scheduler gets its schedules' inputs
//! and a scheduled event. A binary whose environment lacks a variable must fail at init, saying which.

mod destinations;
mod fleet;

use cg_runtime::events;
use cg_runtime::functions::Trigger;
use fleet::{call, expect, expect_init_failure, fresh_tenant, invoke, request, start};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The variables every function needs (`Config::from_env`), one of which each failing start lacks.
const REQUIRED: [&str; 5] = [
    "TABLE_NAME",
    "BUCKET_NAME",
    "GROUP_JOBS_QUEUE_URL",
    "EXPORT_JOBS_QUEUE_URL",
    "BULK_JOBS_QUEUE_URL",
];

/// The binaries the scenarios below invoke; a new function needs a case here.
const COVERED: [&str; 81] = [
    "api-customers-create",
    "api-customers-list",
    "api-customers-get",
    "api-customers-update",
    "api-customers-delete",
    "api-groups-create",
    "api-groups-list",
    "api-groups-get",
    "api-groups-update",
    "api-groups-delete",
    "api-group-members-add",
    "api-group-members-list",
    "api-group-members-remove",
    "api-groups-resync",
    "api-groups-preview",
    "api-groups-explain",
    "api-group-history-list",
    "api-group-templates-list",
    "api-events-ingest",
    "api-exports-create-group",
    "api-exports-create-customers",
    "api-exports-get",
    "api-exports-list",
    "api-settings-get",
    "api-settings-update",
    "api-imports-create",
    "api-imports-list",
    "api-imports-get",
    "api-imports-start",
    "api-imports-cancel",
    "api-console",
    "api-customer-ledger-list",
    // Timeline and communication history (issue 15 parts 7 and 8).
    "api-communications-create",
    "api-customer-communications-list",
    "api-customer-timeline-create",
    "api-customer-timeline-list",
    "api-balance-adjustments-create",
    "api-balance-operations-create",
    "api-balance-operations-get",
    "api-webhooks-create",
    "api-webhooks-list",
    "api-webhooks-get",
    "api-webhooks-update",
    "api-webhooks-delete",
    "api-webhooks-rotate-secret",
    "api-webhook-deliveries-list",
    "api-webhook-deliveries-replay",
    "api-integrations-create",
    "api-integrations-list",
    "api-integrations-get",
    "api-integrations-update",
    "api-integrations-delete",
    "api-mappings-create",
    "api-mappings-list",
    "api-mappings-delete",
    "api-mappings-resync",
    "worker-destinations-dispatcher",
    "worker-webhook-deliveries",
    "worker-destination-sync",
    "worker-webhook-sweep",
    "api-customers-search",
    "api-customers-count",
    "api-count-jobs-get",
    "api-filters-create",
    "api-filters-list",
    "api-filters-get",
    "api-filters-update",
    "api-filters-delete",
    "api-filters-copy",
    "api-filters-save-as-group",
    // Bulk actions (issue 14).
    "api-customers-bulk-modify",
    "api-bulk-jobs-get",
    "api-customers-bulk-delete-preview",
    "api-customers-bulk-delete",
    "api-audit-list",
    // Customer merge (issue 15).
    "api-customers-merge-preview",
    "api-customers-merge",
    "worker-group-jobs",
    "worker-bulk-jobs",
    "worker-exports",
    "scheduler",
];

#[tokio::test]
async fn every_template_function_has_a_runtime_case() {
    let stack = fleet::stack().await;
    let deployed: BTreeSet<&str> = stack.functions.iter().map(|f| f.binary.as_str()).collect();
    assert_eq!(
        deployed,
        COVERED.into_iter().collect(),
        "template.yaml functions vs COVERED"
    );
}

#[tokio::test]
async fn a_function_lacking_a_variable_reports_it_at_init_and_exits() {
    let stack = fleet::stack().await;
    let binaries = fleet::binaries().await;
    let mut starts = tokio::task::JoinSet::new();
    for (i, f) in stack.functions.iter().enumerate() {
        let missing = REQUIRED[i % REQUIRED.len()];
        let process = stack.start(binaries, &f.binary, &[missing]).await.expect("start");
        starts.spawn(async move { (missing, expect_init_failure(&process).await, process.logs()) });
    }
    // One start without any of them names all four at once.
    let process = stack.start(binaries, "scheduler", &REQUIRED).await.expect("start");
    let all = expect_init_failure(&process).await;
    assert!(REQUIRED.iter().all(|v| all.contains(v)), "{all}");
    let mut failed = 0;
    while let Some(done) = starts.join_next().await {
        let (missing, message, logs) = done.expect("start task");
        assert!(
            message.contains("missing environment variables") && message.contains(missing),
            "init error {message:?} does not name {missing}"
        );
        assert!(logs.contains(missing), "the log does not name {missing}: {logs}");
        failed += 1;
    }
    assert_eq!(failed, stack.functions.len());
}

#[tokio::test]
async fn customer_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (create, get, update, list, delete) = tokio::join!(
        start("api-customers-create"),
        start("api-customers-get"),
        start("api-customers-update"),
        start("api-customers-list"),
        start("api-customers-delete"),
    );
    let body = json!({"id": "c-1", "email": " One@Example.com ", "phone": "380501234567", "tags": ["vip"]});
    let created = call(&create, request(&create, "/customers", &t).json(&body)).await;
    expect(&created, 201);
    assert_eq!(created.body["email"], "one@example.com");
    assert_eq!(created.body["phone"], "+380501234567");

    // API Gateway base64-encodes bodies of binary media types; the function reads them the same.
    let mut encoded = request(&create, "/customers", &t).json(&json!({"id": "c-2", "name": "Two"}));
    encoded.base64 = true;
    expect(&call(&create, encoded).await, 201);
    let conflict = call(
        &create,
        request(&create, "/customers", &t).json(&json!({"email": "one@example.com"})),
    )
    .await;
    expect(&conflict, 409);
    assert_eq!(conflict.body["error"]["code"], "conflict");

    let got = call(&get, request(&get, "/customers/c-1", &t)).await;
    expect(&got, 200);
    assert_eq!(got.body["id"], "c-1");
    let patched = call(
        &update,
        request(&update, "/customers/c-1", &t).json(&json!({"name": "One"})),
    )
    .await;
    expect(&patched, 200);
    assert_eq!(patched.body["name"], "One");
    let page = call(&list, request(&list, "/customers", &t).query("limit", "1")).await;
    expect(&page, 200);
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = page.body["next_cursor"].as_str().expect("a next page").to_owned();
    let page2 = call(
        &list,
        request(&list, "/customers", &t)
            .query("limit", "1")
            .query("cursor", &cursor),
    )
    .await;
    expect(&page2, 200);
    assert_ne!(page.body["items"][0]["id"], page2.body["items"][0]["id"]);
    expect(
        &call(&list, request(&list, "/customers", &t).query("colour", "red")).await,
        400,
    );

    expect(&call(&delete, request(&delete, "/customers/c-2", &t)).await, 204);
    let gone = call(&get, request(&get, "/customers/c-2", &t)).await;
    expect(&gone, 404);
    assert_eq!(gone.body["error"]["code"], "not_found");

    // A token without the tenant claim is refused by the function, not served for nobody.
    let mut anonymous = request(&get, "/customers/c-1", &t);
    anonymous.claims = Some(
        events::claims(&t)
            .into_iter()
            .filter(|(k, _)| k != "tenant_id")
            .collect(),
    );
    expect(&call(&get, anonymous).await, 401);
}

#[tokio::test]
async fn settings_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (get, update) = tokio::join!(start("api-settings-get"), start("api-settings-update"));
    let defaults = call(&get, request(&get, "/settings", &t)).await;
    expect(&defaults, 200);
    assert_eq!(defaults.body["renewal_grace_days"], 3);
    let changed = call(
        &update,
        request(&update, "/settings", &t).json(&json!({"renewal_grace_days": 5})),
    )
    .await;
    expect(&changed, 200);
    assert_eq!(changed.body["renewal_grace_days"], 5);
    let bad = call(
        &update,
        request(&update, "/settings", &t).json(&json!({"renewal_grace_days": 400})),
    )
    .await;
    expect(&bad, 422);
    assert_eq!(
        call(&get, request(&get, "/settings", &t)).await.body["renewal_grace_days"],
        5
    );
}

#[tokio::test]
async fn the_console_function_serves_its_files_without_a_token() {
    let console = start("api-console").await;
    let anonymous = |route: &str, path: &str| {
        let mut r = events::HttpRequest::new("GET", route, path, "nobody");
        (r.claims, r.bearer) = (None, None);
        r
    };
    let page = call(&console, anonymous("/console", "/console")).await;
    assert_eq!(page.status, 200, "{}", page.raw);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.raw.contains("<script type=\"module\""), "{}", page.raw);
    let module = call(&console, anonymous("/console/{proxy+}", "/console/screens/groups.js")).await;
    assert_eq!(module.status, 200, "{}", module.raw);
    assert_eq!(module.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(module.header("etag").is_some_and(|e| e.starts_with('"')));
    let missing = call(
        &console,
        anonymous("/console/{proxy+}", "/console/nope/../../etc/passwd"),
    )
    .await;
    expect(&missing, 404);
}

#[tokio::test]
async fn search_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (customers, search, count) = tokio::join!(
        start("api-customers-create"),
        start("api-customers-search"),
        start("api-customers-count")
    );
    for (id, name) in [("s-1", "Ann"), ("s-2", "Bob"), ("s-3", "Anna")] {
        let body = json!({"id": id, "name": name});
        expect(
            &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
            201,
        );
    }
    let filter = json!({"simple": {"name_prefix": "Ann"}, "fields": ["name"]});
    let found = call(&search, request(&search, "/customers/search", &t).json(&filter)).await;
    expect(&found, 200);
    assert_eq!(
        found.body["items"],
        json!([{"id": "s-1", "name": "Ann"}, {"id": "s-3", "name": "Anna"}])
    );
    assert_eq!(found.body["next_cursor"], Value::Null);
    let counted = call(
        &count,
        request(&count, "/customers/count", &t).json(&json!({"simple": {"name_prefix": "Ann"}})),
    )
    .await;
    expect(&counted, 200);
    assert_eq!(counted.body["count"], 2);
    let bad = call(
        &search,
        request(&search, "/customers/search", &t).json(&json!({"rules": {"all": [{"nope": {}}]}})),
    )
    .await;
    expect(&bad, 422);
}

#[tokio::test]
async fn filter_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (create, list, get, update, delete, copy, save) = tokio::join!(
        start("api-filters-create"),
        start("api-filters-list"),
        start("api-filters-get"),
        start("api-filters-update"),
        start("api-filters-delete"),
        start("api-filters-copy"),
        start("api-filters-save-as-group")
    );
    let body = json!({"name": "VIP", "rules": {"tags": {"has_any": ["vip"]}}});
    let made = call(&create, request(&create, "/filters", &t).json(&body)).await;
    expect(&made, 201);
    let id = made.body["id"].as_str().expect("filter id").to_owned();
    let path = format!("/filters/{id}");
    expect(&call(&get, request(&get, &path, &t)).await, 200);
    let renamed = call(&update, request(&update, &path, &t).json(&json!({"name": "VIP 2"}))).await;
    expect(&renamed, 200);
    assert_eq!(renamed.body["name"], "VIP 2");
    let copied = call(&copy, request(&copy, &format!("{path}/copy"), &t).json(&json!({}))).await;
    expect(&copied, 201);
    assert_eq!(copied.body["name"], "Copy of VIP 2");
    let listed = call(&list, request(&list, "/filters", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));
    let group = call(
        &save,
        request(&save, &format!("{path}/groups"), &t).json(&json!({"name": "VIP group", "type": "dynamic"})),
    )
    .await;
    expect(&group, 201);
    assert_eq!(group.body["type"], "dynamic");
    expect(&call(&delete, request(&delete, &path, &t)).await, 204);
    expect(&call(&get, request(&get, &path, &t)).await, 404);
    let bad = call(
        &create,
        request(&create, "/filters", &t).json(&json!({"name": "x", "rules": {"all": [{"nope": {}}]}})),
    )
    .await;
    expect(&bad, 422);
}

#[tokio::test]
async fn import_functions_and_the_bulk_jobs_worker() {
    let t = fresh_tenant();
    let (_held, queue) = fleet::bulk_jobs_queue().await;
    let (create, list, get, start_import, cancel, worker) = tokio::join!(
        start("api-imports-create"),
        start("api-imports-list"),
        start("api-imports-get"),
        start("api-imports-start"),
        start("api-imports-cancel"),
        start("worker-bulk-jobs"),
    );
    // Runs the bulk worker over what the queue holds for this tenant until the import is `until`.
    let settle = |id: String, until: &'static str| {
        let (get, worker, queue, t) = (&get, &worker, queue.clone(), t.clone());
        async move {
            for _ in 0..20 {
                let got = call(get, request(get, &format!("/imports/{id}"), &t)).await;
                expect(&got, 200);
                if got.body["status"] == until {
                    return got;
                }
                for m in fleet::receive(&queue, &t, 1).await {
                    let result = invoke(worker, &fleet::sqs_event(&queue, std::slice::from_ref(&m))).await;
                    assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
                    fleet::delete(&queue, &[m]).await;
                }
            }
            panic!("import {id} never became {until}");
        }
    };
    let body = json!({"file_name": "in.csv", "content": "Email,Name\nana@example.com,Ana\n"});
    let created = call(&create, request(&create, "/imports", &t).json(&body)).await;
    expect(&created, 201);
    let id = created.body["id"].as_str().expect("import id").to_owned();
    let ready = settle(id.clone(), "ready").await;
    let mapping = ready.body["analysis"]["suggested_mapping"].clone();
    let started = call(
        &start_import,
        request(&start_import, &format!("/imports/{id}/start"), &t).json(&mapping),
    )
    .await;
    assert!(matches!(started.status, 200 | 202), "{}", started.raw);
    let done = settle(id.clone(), "done").await;
    assert_eq!(done.body["counts"]["created"], 1, "{}", done.raw);
    let listed = call(&list, request(&list, "/imports", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    let again = call(
        &create,
        request(&create, "/imports", &t).json(&json!({"file_name": "b.csv"})),
    )
    .await;
    expect(&again, 201);
    let other = again.body["id"].as_str().expect("import id");
    expect(
        &call(&cancel, request(&cancel, &format!("/imports/{other}/cancel"), &t)).await,
        200,
    );
    expect(
        &call(&cancel, request(&cancel, &format!("/imports/{id}/cancel"), &t)).await,
        409,
    );
    let poisoned = invoke(&worker, &poison_event(&queue)).await;
    assert_eq!(failures(&poisoned), vec!["poison-1".to_owned()]);
}

#[tokio::test]
async fn balance_functions_and_the_bulk_jobs_worker() {
    let t = fresh_tenant();
    let (_held, queue) = fleet::bulk_jobs_queue().await;
    let (customers, groups, add, adjust, ledger, create, get, worker) = tokio::join!(
        start("api-customers-create"),
        start("api-groups-create"),
        start("api-group-members-add"),
        start("api-balance-adjustments-create"),
        start("api-customer-ledger-list"),
        start("api-balance-operations-create"),
        start("api-balance-operations-get"),
        start("worker-bulk-jobs"),
    );
    let body = json!({"id": "b-1"});
    expect(
        &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
        201,
    );
    let g = call(
        &groups,
        request(&groups, "/groups", &t).json(&json!({"name": "cashback"})),
    )
    .await;
    expect(&g, 201);
    let g = g.body["id"].as_str().expect("group id").to_owned();
    let members = request(&add, &format!("/groups/{g}/members"), &t).json(&json!({"customer_ids": ["b-1"]}));
    expect(&call(&add, members).await, 200);
    let credit = json!({"type": "adjust", "unit": "points", "amount": 7, "comment": "c", "idempotency_key": "r-1"});
    let adjusted = call(
        &adjust,
        request(&adjust, "/customers/b-1/balance-adjustments", &t).json(&credit),
    )
    .await;
    expect(&adjusted, 201);
    let bad = json!({"type": "adjust", "unit": "points", "amount": 0, "comment": "c", "idempotency_key": "r-2"});
    expect(
        &call(
            &adjust,
            request(&adjust, "/customers/b-1/balance-adjustments", &t).json(&bad),
        )
        .await,
        422,
    );
    let set = json!({"type": "set", "unit": "points", "amount": 50, "comment": "c", "idempotency_key": "r-3"});
    let queued = call(
        &create,
        request(&create, &format!("/groups/{g}/balance-operations"), &t).json(&set),
    )
    .await;
    expect(&queued, 202);
    let id = queued.body["id"].as_str().expect("operation id").to_owned();
    for m in fleet::receive(&queue, &t, 1).await {
        let result = invoke(&worker, &fleet::sqs_event(&queue, std::slice::from_ref(&m))).await;
        assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
        fleet::delete(&queue, &[m]).await;
    }
    let got = call(&get, request(&get, &format!("/balance-operations/{id}"), &t)).await;
    expect(&got, 200);
    assert_eq!(got.body["status"], "done", "{}", got.raw);
    assert_eq!(got.body["counts"]["applied"], 1);
    let entries = call(&ledger, request(&ledger, "/customers/b-1/ledger", &t)).await;
    expect(&entries, 200);
    assert_eq!(entries.body["items"][0]["balance_after"], 50, "{}", entries.raw);
    assert_eq!(entries.body["items"][1]["balance_after"], 7);
}

#[tokio::test]
async fn merge_functions_preview_merge_and_leave_a_tombstone() {
    let t = fresh_tenant();
    let (customers, get, preview, merge) = tokio::join!(
        start("api-customers-create"),
        start("api-customers-get"),
        start("api-customers-merge-preview"),
        start("api-customers-merge"),
    );
    for body in [
        json!({"id": "m-p", "email": "m-p@example.com"}),
        json!({"id": "m-s", "phone": "+380980000077"}),
    ] {
        expect(
            &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
            201,
        );
    }
    let pair = json!({"primary_id": "m-p", "secondary_id": "m-s"});
    let shown = call(&preview, request(&preview, "/customers/merge/preview", &t).json(&pair)).await;
    expect(&shown, 200);
    assert_eq!(shown.body["customer"]["phone"], "+380980000077", "{}", shown.raw);
    let same = json!({"primary_id": "m-p", "secondary_id": "m-p"});
    let refused = call(&merge, request(&merge, "/customers/merge", &t).json(&same)).await;
    expect(&refused, 422);
    assert_eq!(refused.body["error"]["field"], "secondary_id");
    let done = call(&merge, request(&merge, "/customers/merge", &t).json(&pair)).await;
    expect(&done, 200);
    assert_eq!(done.body["replayed"], false, "{}", done.raw);
    let gone = call(&get, request(&get, "/customers/m-s", &t)).await;
    expect(&gone, 404);
    assert_eq!(gone.body["error"]["merged_into"], "m-p", "{}", gone.raw);
}

#[tokio::test]
async fn timeline_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (customers, record, messages, create, list) = tokio::join!(
        start("api-customers-create"),
        start("api-communications-create"),
        start("api-customer-communications-list"),
        start("api-customer-timeline-create"),
        start("api-customer-timeline-list"),
    );
    expect(
        &call(
            &customers,
            request(&customers, "/customers", &t).json(&json!({"id": "tl-1"})),
        )
        .await,
        201,
    );
    let batch = json!({"communications": [
        {"customer_id": "tl-1", "channel": "email", "provider_message_id": "rt-1", "sent_at": "2026-11-01T10:00:00Z"},
        {"customer_id": "tl-404", "channel": "sms", "provider_message_id": "rt-2", "sent_at": "2026-11-01T10:00:00Z"}
    ]});
    let recorded = call(&record, request(&record, "/communications", &t).json(&batch)).await;
    expect(&recorded, 200);
    assert_eq!(recorded.body["recorded"], 1, "{}", recorded.raw);
    assert_eq!(recorded.body["rejected"], 1, "{}", recorded.raw);
    let again = call(&record, request(&record, "/communications", &t).json(&batch)).await;
    assert_eq!(again.body["already_recorded"], 1, "{}", again.raw);
    let listed = call(&messages, request(&messages, "/customers/tl-1/communications", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"][0]["provider_message_id"], "rt-1", "{}", listed.raw);
    let event = json!({"type": "call.logged", "occurred_at": "2026-11-02T10:00:00Z", "event_id": "c-1"});
    let made = call(&create, request(&create, "/customers/tl-1/timeline", &t).json(&event)).await;
    expect(&made, 201);
    let replay = call(&create, request(&create, "/customers/tl-1/timeline", &t).json(&event)).await;
    expect(&replay, 200);
    let entries = call(&list, request(&list, "/customers/tl-1/timeline", &t)).await;
    expect(&entries, 200);
    let types: Vec<&str> = entries.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        ["customer.created", "call.logged", "communication.email"],
        "{}",
        entries.raw
    );
    let reversed = request(&list, "/customers/tl-1/timeline", &t)
        .query("from", "2026-12-01T00:00:00Z")
        .query("to", "2026-01-01T00:00:00Z");
    expect(&call(&list, reversed).await, 422);
}

// Count jobs (issue 14): the count function started with a synchronous limit of 1 customer.
#[tokio::test]
async fn a_count_over_the_limit_is_a_job_the_bulk_worker_counts_partition_by_partition() {
    let t = fresh_tenant();
    let (_held, queue) = fleet::bulk_jobs_queue().await;
    let (customers, count, get, worker) = tokio::join!(
        start("api-customers-create"),
        fleet::start_with("api-customers-count", &[("COUNT_SYNC_MAX", "1")]),
        start("api-count-jobs-get"),
        start("worker-bulk-jobs"),
    );
    for (id, tags) in [("k-1", json!(["vip"])), ("k-2", json!([])), ("k-3", json!(["vip"]))] {
        let body = json!({"id": id, "tags": tags});
        expect(
            &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
            201,
        );
    }
    let vip = json!({"rules": {"tags": {"has_any": ["vip"]}}});
    let started = call(&count, request(&count, "/customers/count", &t).json(&vip)).await;
    expect(&started, 202);
    assert_eq!(started.body["status"], "running", "{}", started.raw);
    let id = started.body["id"].as_str().expect("job id").to_owned();
    let tasks = fleet::receive(&queue, &t, 16).await;
    for batch in tasks.chunks(10) {
        let result = invoke(&worker, &fleet::sqs_event(&queue, batch)).await;
        assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
    }
    fleet::delete(&queue, &tasks).await;
    let got = call(&get, request(&get, &format!("/count-jobs/{id}"), &t)).await;
    expect(&got, 200);
    assert_eq!(
        (
            got.body["status"].clone(),
            got.body["count"].clone(),
            got.body["evaluated"].clone()
        ),
        (json!("done"), json!(2), json!(3)),
        "{}",
        got.raw
    );
    let theirs = call(&get, request(&get, &format!("/count-jobs/{id}"), &fresh_tenant())).await;
    expect(&theirs, 404);
}

// Bulk actions (issue 14).
#[tokio::test]
async fn bulk_action_functions_and_the_bulk_jobs_worker() {
    let t = fresh_tenant();
    let (_held, queue) = fleet::bulk_jobs_queue().await;
    let (customers, modify, get, worker, preview, delete, audit) = tokio::join!(
        start("api-customers-create"),
        start("api-customers-bulk-modify"),
        start("api-bulk-jobs-get"),
        start("worker-bulk-jobs"),
        start("api-customers-bulk-delete-preview"),
        start("api-customers-bulk-delete"),
        start("api-audit-list"),
    );
    for id in ["m-1", "m-2"] {
        let body = json!({"id": id, "tags": ["old"]});
        expect(
            &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
            201,
        );
    }
    let body = json!({"customer_ids": ["m-1", "m-2", "m-3"], "changes": {"add_tags": ["new"], "remove_tags": ["old"]}});
    let queued = call(&modify, request(&modify, "/customers/bulk-modify", &t).json(&body)).await;
    expect(&queued, 202);
    let id = queued.body["id"].as_str().expect("job id").to_owned();
    let identity = json!({"customer_ids": ["m-1"], "changes": {"set": {"email": "a@example.com"}}});
    let refused = call(&modify, request(&modify, "/customers/bulk-modify", &t).json(&identity)).await;
    expect(&refused, 422);
    assert_eq!(refused.body["error"]["field"], "changes.set.email", "{}", refused.raw);
    for m in fleet::receive(&queue, &t, 1).await {
        let result = invoke(&worker, &fleet::sqs_event(&queue, std::slice::from_ref(&m))).await;
        assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
        fleet::delete(&queue, &[m]).await;
    }
    let got = call(&get, request(&get, &format!("/bulk-jobs/{id}"), &t)).await;
    expect(&got, 200);
    assert_eq!(got.body["status"], "done", "{}", got.raw);
    assert_eq!(
        (got.body["modified"].clone(), got.body["failed"].clone()),
        (json!(2), json!(1)),
        "{}",
        got.raw
    );
    assert_eq!(got.body["failures"]["not_found"], 1);
    // The delete's two steps: preview (count, statement, token), then the confirmed job.
    let target = json!({"customer_ids": ["m-1"]});
    let previewed = call(
        &preview,
        request(&preview, "/customers/bulk-delete/preview", &t).json(&target),
    )
    .await;
    expect(&previewed, 200);
    assert_eq!(previewed.body["count"], 1, "{}", previewed.raw);
    let token = previewed.body["token"].clone();
    let short = json!({"customer_ids": ["m-1"], "token": token, "agree": true, "reason": "123456789"});
    let refused = call(&delete, request(&delete, "/customers/bulk-delete", &t).json(&short)).await;
    expect(&refused, 422);
    assert_eq!(refused.body["error"]["field"], "reason");
    let body = json!({"customer_ids": ["m-1"], "token": token, "agree": true, "reason": "duplicate account"});
    let queued = call(&delete, request(&delete, "/customers/bulk-delete", &t).json(&body)).await;
    expect(&queued, 202);
    let id = queued.body["id"].as_str().expect("job id").to_owned();
    for m in fleet::receive(&queue, &t, 1).await {
        let result = invoke(&worker, &fleet::sqs_event(&queue, std::slice::from_ref(&m))).await;
        assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
        fleet::delete(&queue, &[m]).await;
    }
    let got = call(&get, request(&get, &format!("/bulk-jobs/{id}"), &t)).await;
    assert_eq!(
        (got.body["status"].clone(), got.body["deleted"].clone()),
        (json!("done"), json!(1)),
        "{}",
        got.raw
    );
    let log = call(&audit, request(&audit, "/audit", &t)).await;
    expect(&log, 200);
    let actions: Vec<Value> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [json!("bulk_delete"), json!("bulk_modify")],
        "newest first: {}",
        log.raw
    );
    assert_eq!(log.body["items"][0]["reason"], "duplicate account");
}

#[tokio::test]
async fn group_functions_answer_http_api_events() {
    let t = fresh_tenant();
    let (customers, create, list, get, update, delete) = tokio::join!(
        start("api-customers-create"),
        start("api-groups-create"),
        start("api-groups-list"),
        start("api-groups-get"),
        start("api-groups-update"),
        start("api-groups-delete"),
    );
    let (add, members, remove, resync, preview, explain, history, templates) = tokio::join!(
        start("api-group-members-add"),
        start("api-group-members-list"),
        start("api-group-members-remove"),
        start("api-groups-resync"),
        start("api-groups-preview"),
        start("api-groups-explain"),
        start("api-group-history-list"),
        start("api-group-templates-list"),
    );
    for (id, phone) in [("c-1", "+380501234567"), ("c-2", "+442079460958")] {
        let body = json!({"id": id, "phone": phone, "tags": ["demo"]});
        expect(
            &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
            201,
        );
    }
    let group = call(&create, request(&create, "/groups", &t).json(&json!({"name": "VIP"}))).await;
    expect(&group, 201);
    let g = group.body["id"].as_str().expect("group id").to_owned();
    let added = call(
        &add,
        request(&add, &format!("/groups/{g}/members"), &t)
            .json(&json!({"phones": "380501234567\n12345\n+44 20 7946 0958"})),
    )
    .await;
    expect(&added, 200);
    assert_eq!(added.body["added"], 2);
    assert_eq!(added.body["rejected"][0]["reason"], "invalid_phone");

    let listed = call(&list, request(&list, "/groups", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"][0]["member_count"], 2);
    let page = call(
        &members,
        request(&members, &format!("/groups/{g}/members"), &t).query("limit", "1"),
    )
    .await;
    expect(&page, 200);
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    assert!(page.body["next_cursor"].is_string());
    expect(
        &call(&remove, request(&remove, &format!("/groups/{g}/members/c-1"), &t)).await,
        204,
    );
    let renamed = call(
        &update,
        request(&update, &format!("/groups/{g}"), &t).json(&json!({"name": "Renamed"})),
    )
    .await;
    expect(&renamed, 200);
    assert_eq!(renamed.body["name"], "Renamed");
    let one = call(&get, request(&get, &format!("/groups/{g}"), &t)).await;
    expect(&one, 200);
    assert_eq!(
        (one.body["name"].as_str(), one.body["member_count"].as_u64()),
        (Some("Renamed"), Some(1))
    );

    let rules = json!({"tags": {"has_any": ["demo"]}});
    let previewed = call(
        &preview,
        request(&preview, "/groups/preview", &t).json(&json!({"rules": rules, "sample_size": 1})),
    )
    .await;
    expect(&previewed, 200);
    assert_eq!(previewed.body["matched"], 2, "{}", previewed.raw);
    let dynamic = call(
        &create,
        request(&create, "/groups", &t).json(&json!({"name": "Demo", "type": "dynamic", "rules": rules})),
    )
    .await;
    expect(&dynamic, 201);
    let d = dynamic.body["id"].as_str().expect("group id").to_owned();
    let explained = call(&explain, request(&explain, &format!("/groups/{d}/explain/c-2"), &t)).await;
    expect(&explained, 200);
    assert_eq!(explained.body["matched"], true, "{}", explained.raw);
    let hist = call(&history, request(&history, &format!("/groups/{g}/history"), &t)).await;
    expect(&hist, 200);
    assert!(hist.body["items"].is_array(), "{}", hist.raw);
    let job = call(&resync, request(&resync, &format!("/groups/{d}/resync"), &t)).await;
    expect(&job, 202);
    assert_eq!(job.body["status"], "queued");
    let listed = call(&templates, request(&templates, "/group-templates", &t)).await;
    expect(&listed, 200);
    assert!(
        !listed.raw.is_empty() && listed.raw.contains("new_customers"),
        "{}",
        listed.raw
    );

    let deleting = call(&delete, request(&delete, &format!("/groups/{g}"), &t)).await;
    expect(&deleting, 202);
    assert_eq!(deleting.body["status"], "deleting");
    expect(&call(&get, request(&get, &format!("/groups/{g}"), &t)).await, 404);
}

#[tokio::test]
async fn the_events_function_applies_an_event_once() {
    let t = fresh_tenant();
    let (customers, ingest) = tokio::join!(start("api-customers-create"), start("api-events-ingest"));
    expect(
        &call(
            &customers,
            request(&customers, "/customers", &t).json(&json!({"id": "c-1"})),
        )
        .await,
        201,
    );
    let body = json!({"events": [{
        "event_id": "ev-1", "customer_id": "c-1", "type": "subscription.created",
        "occurred_at": "2026-11-24T10:00:00Z", "application": "news-app", "plan": "monthly",
        "renews_at": "2026-12-24T10:00:00Z"
    }]});
    let first = call(&ingest, request(&ingest, "/events", &t).json(&body)).await;
    expect(&first, 200);
    assert_eq!(
        (first.body["accepted"].as_u64(), first.body["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    let again = call(&ingest, request(&ingest, "/events", &t).json(&body)).await;
    expect(&again, 200);
    assert_eq!(
        (again.body["accepted"].as_u64(), again.body["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let bad = call(
        &ingest,
        request(&ingest, "/events", &t).json(&json!({"events": [{"type": "nope"}]})),
    )
    .await;
    expect(&bad, 422);
}

/// The SQS result must list exactly the failed message ids.
fn failures(result: &Value) -> Vec<String> {
    result["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {result}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn poison_event(queue_url: &str) -> Value {
    let name = queue_url.rsplit('/').next().unwrap_or_default();
    json!({"Records": [events::sqs_record("poison-1", "rh-1", "not a job", events::sqs_attributes(1), &events::queue_arn(name))]})
}

#[tokio::test]
async fn export_functions_and_the_export_worker() {
    let t = fresh_tenant();
    let queue = fleet::stack().await.config.export_jobs_queue_url.clone();
    let (customers, groups, add) = tokio::join!(
        start("api-customers-create"),
        start("api-groups-create"),
        start("api-group-members-add")
    );
    let (for_group, for_customers, get, list, worker) = tokio::join!(
        start("api-exports-create-group"),
        start("api-exports-create-customers"),
        start("api-exports-get"),
        start("api-exports-list"),
        start("worker-exports"),
    );
    let body = json!({"id": "c-1", "email": "one@example.com", "order_number": "A-1", "signup_date": "2026-01-02"});
    expect(
        &call(&customers, request(&customers, "/customers", &t).json(&body)).await,
        201,
    );
    let group = call(
        &groups,
        request(&groups, "/groups", &t).json(&json!({"name": "Export me"})),
    )
    .await;
    let g = group.body["id"].as_str().expect("group id").to_owned();
    let added = call(
        &add,
        request(&add, &format!("/groups/{g}/members"), &t).json(&json!({"customer_ids": ["c-1"]})),
    )
    .await;
    expect(&added, 200);

    let by_group = call(
        &for_group,
        request(&for_group, &format!("/groups/{g}/exports"), &t).json(&json!({"format": "csv"})),
    )
    .await;
    expect(&by_group, 202);
    assert_eq!(by_group.body["status"], "queued");
    let all = call(
        &for_customers,
        request(&for_customers, "/customers/exports", &t).json(&json!({"format": "jsonl"})),
    )
    .await;
    expect(&all, 202);

    // The queue's event source mapping delivers one message per batch (BatchSize: 1).
    assert!(worker.def.triggers.iter().any(|t| matches!(
        t,
        Trigger::Sqs {
            batch_size: 1,
            reports_batch_item_failures: true,
            ..
        }
    )));
    let messages = fleet::receive(&queue, &t, 2).await;
    for m in &messages {
        let result = invoke(&worker, &fleet::sqs_event(&queue, std::slice::from_ref(m))).await;
        assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
    }
    fleet::delete(&queue, &messages).await;
    let x = by_group.body["id"].as_str().expect("export id");
    let done = call(&get, request(&get, &format!("/exports/{x}"), &t)).await;
    expect(&done, 200);
    assert_eq!(done.body["status"], "done", "{}", done.raw);
    assert_eq!(done.body["rows_written"], 1);
    assert!(
        done.body["download_url"]
            .as_str()
            .is_some_and(|u| u.contains("X-Amz-Signature")),
        "{}",
        done.raw
    );
    let listed = call(&list, request(&list, "/exports", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));

    let poisoned = invoke(&worker, &poison_event(&queue)).await;
    assert_eq!(failures(&poisoned), vec!["poison-1".to_owned()]);
}

#[tokio::test]
async fn the_group_jobs_worker_and_the_scheduler() {
    let t = fresh_tenant();
    let queue = fleet::stack().await.config.group_jobs_queue_url.clone();
    let (customers, create, get, worker, scheduler) = tokio::join!(
        start("api-customers-create"),
        start("api-groups-create"),
        start("api-groups-get"),
        start("worker-group-jobs"),
        start("scheduler"),
    );
    expect(
        &call(
            &customers,
            request(&customers, "/customers", &t).json(&json!({"id": "c-1", "tags": ["vip"]})),
        )
        .await,
        201,
    );
    let rules = json!({"tags": {"has_any": ["vip"]}});
    let group = call(
        &create,
        request(&create, "/groups", &t).json(&json!({"name": "VIP", "type": "dynamic", "rules": rules})),
    )
    .await;
    expect(&group, 201);
    let g = group.body["id"].as_str().expect("group id").to_owned();

    // The group's first resync, delivered as the event source mapping would.
    let messages = fleet::receive(&queue, &t, 1).await;
    let result = invoke(&worker, &fleet::sqs_event(&queue, &messages)).await;
    assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
    fleet::delete(&queue, &messages).await;
    let synced = call(&get, request(&get, &format!("/groups/{g}"), &t)).await;
    expect(&synced, 200);
    assert_eq!(synced.body["member_count"], 1, "{}", synced.raw);

    // Each schedule of template.yaml sends its constant input.
    let inputs: Vec<Value> = scheduler
        .def
        .triggers
        .iter()
        .filter_map(|t| match t {
            Trigger::Schedule { input: Some(i), .. } => Some(serde_json::from_str(i.as_str()).expect("Input is JSON")),
            _ => None,
        })
        .collect();
    assert_eq!(inputs, vec![json!({"task": "wake"}), json!({"task": "nightly"})]);
    for input in &inputs {
        let result = invoke(&scheduler, input).await;
        assert!(result["queued"].is_u64(), "{result}");
    }
    // The nightly task queued this tenant's resync; the worker runs it.
    let nightly = fleet::receive(&queue, &t, 1).await;
    let result = invoke(&worker, &fleet::sqs_event(&queue, &nightly)).await;
    assert_eq!(failures(&result), Vec::<String>::new(), "{}", worker.logs());
    fleet::delete(&queue, &nightly).await;
    // A schedule without Input delivers the scheduled event itself: a wake-up tick.
    let result = invoke(&scheduler, &events::scheduled_event("WakeSchedule")).await;
    assert!(result["queued"].is_u64(), "{result}");

    let poisoned = invoke(&worker, &poison_event(&queue)).await;
    assert_eq!(failures(&poisoned), vec!["poison-1".to_owned()]);
}
