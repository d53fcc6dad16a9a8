//! Count jobs (issue 14, item 2) on the emulator: a tenant larger than the synchronous limit (lowered
//! here) gets a count job with one queued task per customer partition; partitions counted page by page
//! under a killed run, a redelivery and two runs at once end with a count equal to an oracle; the bulk
//! delete's preview uses the job's count; errors name `count_job_id`; another tenant sees nothing.

use crate::bulk_actions::{delete_confirm, deliver as deliver_action, target_of, task_of};
use cg_domain::bulk::BulkTask;
use cg_domain::customer::{Customer, NewCustomer};
use cg_domain::ids::BulkJobId;
use cg_domain::search::count::{CountJobView, CountStatus};
use cg_domain::search::{CountInput, CountRequest};
use cg_domain::usecases::bulk_actions::{self, PreviewAnswer};
use cg_domain::usecases::bulk_job::{BulkSettings, FaultPoint, RunOutcome};
use cg_domain::usecases::count_job::{fail_partition, get_count_job, run_count_partition};
use cg_domain::usecases::search::{self, CountAnswer};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_tests::kill_at;
use cg_tests::{drop_isolated, fresh_tenant, isolated_app};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const POPULATION: usize = 300;
/// The synchronous limit in these tests: well below the population.
const SYNC_MAX: u64 = 50;
/// Customers per page of a partition's count, so each partition takes several pages.
const PAGE: u32 = 3;

/// A deterministic population: every 3rd is a vip, every 4th old.
fn population(now: DateTime<Utc>) -> Vec<Customer> {
    (0..POPULATION)
        .map(|i| {
            let mut tags = vec![];
            if i % 3 == 0 {
                tags.push("vip");
            }
            if i % 4 == 0 {
                tags.push("old");
            }
            let body = json!({"id": format!("c{:05}", (i * 7_919) % 100_003), "tags": tags});
            serde_json::from_value::<NewCustomer>(body)
                .unwrap()
                .into_customer(now - Duration::minutes(i as i64))
                .unwrap()
        })
        .collect()
}

fn with_tag(people: &[Customer], tag: &str) -> u64 {
    people.iter().filter(|c| c.tags.contains(tag)).count() as u64
}

fn filter(tag: &str) -> Value {
    json!({"rules": {"tags": {"has_any": [tag]}}})
}

fn count_target(body: Value) -> cg_domain::search::target::Target {
    CountInput::try_from(serde_json::from_value::<CountRequest>(body).unwrap())
        .unwrap()
        .target
}

async fn setup() -> (App, cg_domain::ids::TenantId, Vec<Customer>) {
    let mut app = isolated_app().await;
    app.store.count_sync_max = SYNC_MAX;
    let t = fresh_tenant();
    let people = population(Utc::now());
    cg_aws::fixtures::load_customers(&app.store, &t, &people, 4)
        .await
        .unwrap();
    (app, t, people)
}

/// The tasks on the app's bulk queue (deleting them: the test delivers them itself).
async fn queued_tasks(app: &App) -> Vec<BulkTask> {
    let mut out = Vec::new();
    loop {
        let got = app
            .store
            .sqs
            .receive_message()
            .queue_url(&app.store.bulk_jobs_queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let msgs = got.messages.unwrap_or_default();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
            app.store
                .sqs
                .delete_message()
                .queue_url(&app.store.bulk_jobs_queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn paged() -> BulkSettings {
    BulkSettings {
        count_page: Some(PAGE),
        ..Default::default()
    }
}

async fn deliver(app: &App, task: &BulkTask, settings: &BulkSettings) -> RunOutcome {
    loop {
        match run_count_partition(&app.store, task, settings, false).await {
            Ok(outcome) => return outcome,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Delivers a partition's task: the `i`-th as once, killed before its 2nd write, killed after its 1st
/// write, or twice at once (then redelivered where the first run died).
async fn run_partition(app: &App, task: &BulkTask, i: usize) {
    let plain = paged();
    match i % 4 {
        0 => assert_eq!(deliver(app, task, &plain).await, RunOutcome::Finished),
        1 | 2 => {
            let point = if i % 4 == 1 {
                FaultPoint::BeforeCommit(2)
            } else {
                FaultPoint::AfterCommit(1)
            };
            let (hook, died) = kill_at(point);
            let killed = BulkSettings {
                fault: Some(hook),
                ..paged()
            };
            tokio::select! {
                r = deliver(app, task, &killed) => panic!("the run ended ({r:?}) before {point:?}"),
                _ = died.notified() => {}
            }
            assert_eq!(deliver(app, task, &plain).await, RunOutcome::Finished);
        }
        _ => {
            let (a, b) = tokio::join!(deliver(app, task, &plain), deliver(app, task, &plain));
            let outcomes = [a, b];
            assert!(outcomes.contains(&RunOutcome::Finished), "{outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, RunOutcome::Finished | RunOutcome::Superseded)),
                "{outcomes:?}"
            );
        }
    }
}

async fn started_job(answer: CountAnswer) -> CountJobView {
    match answer {
        CountAnswer::Job(job) => job,
        CountAnswer::Exact(c) => panic!("counted within the request: {c:?}"),
    }
}

#[tokio::test]
async fn a_large_tenants_count_is_a_job_whose_count_equals_an_oracle_after_kills_and_duplicates() {
    let (app, t, people) = setup().await;
    let oracle = with_tag(&people, "vip");

    // A small filter's count stays synchronous only for a small tenant: this one gets a job.
    let job = started_job(
        search::count_or_start_job(&app.store, &t, count_target(filter("vip")), Utc::now())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (job.status, job.count, job.partitions, job.partitions_done),
        (CountStatus::Running, None, 16, 0)
    );

    // One task per partition is on the queue.
    let tasks = queued_tasks(&app).await;
    let mut shards: Vec<u32> = tasks
        .iter()
        .map(|task| match task {
            BulkTask::CountPartition { job_id, shard, .. } if *job_id == job.id => *shard,
            other => panic!("unexpected task {other:?}"),
        })
        .collect();
    shards.sort_unstable();
    assert_eq!(shards, (0..16).collect::<Vec<_>>());

    for (i, task) in tasks.iter().enumerate() {
        run_partition(&app, task, i).await;
        let view = get_count_job(&app.store, &t, &job.id).await.unwrap();
        assert_eq!(view.partitions_done, i as u32 + 1);
        if i + 1 < tasks.len() {
            assert_eq!(
                (view.status, view.count),
                (CountStatus::Running, None),
                "not done before its last partition"
            );
        }
    }
    let done = get_count_job(&app.store, &t, &job.id).await.unwrap();
    assert_eq!(done.status, CountStatus::Done);
    assert_eq!(done.count, Some(oracle), "every customer counted once");
    assert_eq!(done.evaluated, POPULATION as u64);
    assert!(done.finished_at.is_some());

    // A redelivery after the end changes nothing.
    for task in &tasks {
        assert_eq!(deliver(&app, task, &paged()).await, RunOutcome::AlreadyFinished);
    }
    assert_eq!(get_count_job(&app.store, &t, &job.id).await.unwrap(), done);

    // Another tenant sees no such job.
    let theirs = get_count_job(&app.store, &fresh_tenant(), &job.id).await;
    assert!(matches!(theirs, Err(DomainError::NotFound(_))), "{theirs:?}");
    // A partition that fails fails the job, with its reason.
    let failing = started_job(
        search::count_or_start_job(&app.store, &t, count_target(filter("old")), Utc::now())
            .await
            .unwrap(),
    )
    .await;
    fail_partition(
        &app.store,
        &t,
        &failing.id,
        5,
        "the count failed repeatedly; start a new one",
    )
    .await;
    let failed = get_count_job(&app.store, &t, &failing.id).await.unwrap();
    assert_eq!(failed.status, CountStatus::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the count failed repeatedly; start a new one")
    );
    drop_isolated(&app).await;
}

fn field_of<T: std::fmt::Debug>(r: Result<T, DomainError>) -> String {
    match r {
        Err(DomainError::Validation { field, message }) => format!("422 {field}: {message}"),
        Err(DomainError::Conflict { field, message }) => format!("409 {field}: {message}"),
        Err(DomainError::NotFound(m)) => format!("404 {m}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_large_tenants_bulk_delete_is_previewed_with_its_count_job() {
    let (app, t, people) = setup().await;
    let oracle = with_tag(&people, "old");
    let now = Utc::now();
    let preview = |target: Value, job: Option<BulkJobId>, tenant: cg_domain::ids::TenantId, at| {
        let store = app.store.clone();
        async move { bulk_actions::preview_bulk_delete(&store, &tenant, target_of(target), job, "me", at).await }
    };
    let job = match preview(filter("old"), None, t.clone(), now).await.unwrap() {
        PreviewAnswer::Counting(job) => job,
        PreviewAnswer::Ready(p) => panic!("previewed within the request: {p:?}"),
    };
    // Still counting: 409 naming the job's progress.
    let e = field_of(preview(filter("old"), Some(job.id.clone()), t.clone(), now).await);
    assert!(e.starts_with("409 count_job_id") && e.contains("still counting"), "{e}");
    for task in queued_tasks(&app).await {
        assert_eq!(
            deliver(&app, &task, &BulkSettings::default()).await,
            RunOutcome::Finished
        );
    }
    // Another target, another tenant, a count too old: each refused, naming what to do.
    let e = field_of(preview(filter("vip"), Some(job.id.clone()), t.clone(), now).await);
    assert!(e.starts_with("422 count_job_id") && e.contains("another target"), "{e}");
    let e = field_of(preview(filter("old"), Some(job.id.clone()), fresh_tenant(), now).await);
    assert!(e.starts_with("404"), "{e}");
    let late = Utc::now() + Duration::minutes(16);
    let e = field_of(preview(filter("old"), Some(job.id.clone()), t.clone(), late).await);
    assert!(e.starts_with("422 count_job_id") && e.contains("15 minutes"), "{e}");

    let p = match preview(filter("old"), Some(job.id.clone()), t.clone(), Utc::now())
        .await
        .unwrap()
    {
        PreviewAnswer::Ready(p) => p,
        PreviewAnswer::Counting(j) => panic!("a second count job: {j:?}"),
    };
    assert_eq!(p.count, oracle, "the preview shows the job's exact count");
    let reason = "customers who left before 2020";
    let view = bulk_actions::create_bulk_delete(
        &app.store,
        &t,
        target_of(filter("old")),
        delete_confirm(&p.token, reason),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(view.total, Some(oracle));
    let task = task_of(&t, &view);
    assert_eq!(
        deliver_action(&app, &task, &BulkSettings::default()).await,
        RunOutcome::Finished
    );
    let end = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
    assert_eq!(end.deleted, oracle);

    // What is left: every customer without the tag (counted with no synchronous limit).
    let mut all = app.store.clone();
    all.count_sync_max = u64::MAX;
    let left = search::count(
        &all,
        &t,
        count_target(json!({"rules": {"not": {"tags": {"has_any": ["old"]}}}})),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(left.count, POPULATION as u64 - oracle);
    let gone = search::count(&all, &t, count_target(filter("old")), Utc::now())
        .await
        .unwrap();
    assert_eq!(gone.count, 0);
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_large_tenants_filter_saved_as_a_static_group_is_snapshotted_exactly_by_a_job() {
    use cg_domain::group::GroupKind;
    use cg_domain::search::saved::{FilterBody, FilterInput, SaveAsGroup};
    use cg_domain::usecases::{filters, lookup};
    let (app, t, people) = setup().await;
    let body: FilterBody =
        serde_json::from_value(json!({"name": "VIP", "rules": {"tags": {"has_any": ["vip"]}}})).unwrap();
    let f = filters::create_filter(&app.store, &t, FilterInput::new_filter(body).unwrap(), Utc::now())
        .await
        .unwrap();
    let made = filters::save_as_group(
        &app.store,
        &t,
        &f.id,
        SaveAsGroup {
            name: "VIP snapshot".into(),
            kind: GroupKind::Static,
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let job = made.snapshot_job.expect("a snapshot job for a tenant over the limit");
    assert_eq!(made.group.member_count, 0, "created empty");
    // The partitions run one after another: only the first is queued, each queues the next when it
    // ends. Each is delivered once, killed, or twice at once; every third one's run "dies" between
    // writing its end and queuing the next (the queued next is dropped) and its message comes back,
    // which queues the next again. Every member is added once.
    let mut shards = Vec::new();
    loop {
        let tasks = queued_tasks(&app).await;
        let Some(task) = tasks.first() else { break };
        let BulkTask::CountPartition { shard, .. } = task else {
            panic!("{task:?}")
        };
        assert!(tasks.iter().all(|t| t == task), "one partition at a time: {tasks:?}");
        shards.push(*shard);
        run_partition(&app, task, shards.len() - 1).await;
        if shards.len() % 3 == 0 {
            let lost = queued_tasks(&app).await;
            assert!(lost.len() <= 1, "{lost:?}");
            assert_eq!(deliver(&app, task, &paged()).await, RunOutcome::AlreadyFinished);
        }
        // Duplicates of an ended partition (a redelivery) find it ended.
        for dup in &tasks[1..] {
            assert_eq!(deliver(&app, dup, &paged()).await, RunOutcome::AlreadyFinished);
        }
    }
    assert_eq!(shards, (0..16).collect::<Vec<u32>>(), "every partition once, in order");
    let done = get_count_job(&app.store, &t, &job.id).await.unwrap();
    let oracle: std::collections::BTreeSet<String> = people
        .iter()
        .filter(|c| c.tags.contains("vip"))
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(done.count, Some(oracle.len() as u64));
    let g = lookup::get_group(&app.store, &t, &made.group.id).await.unwrap();
    assert_eq!(g.member_count, oracle.len() as u64, "the member count is exact");
    assert_eq!(crate::bulk_actions::member_ids(&app, &t, &made.group.id).await, oracle);
    drop_isolated(&app).await;
}
