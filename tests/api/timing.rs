//! Time on the emulator: a missed renewal lapses exactly at the end of its grace period through a
//! wake-up; a resync whose worker died is retried within the queue's visibility; a long export keeps
//! its message invisible by heartbeats; a resync repairs a drifted member count and shows when it
//! really finished. Each test that drains queues or runs wake-up ticks has a stack of its own.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use cg_domain::customer::{NewCustomer, SubscriptionStatus};
use cg_domain::group::{GroupInput, NewGroup, SyncState};
use cg_domain::ids::{CustomerId, GroupId, TenantId};
use cg_domain::jobs::GroupJob;
use cg_domain::ports::{CustomerStore, GroupStore, ResyncJobs};
use cg_domain::usecases::{customers, groups, jobs, resync, wake};
use cg_lambda::batch::{run_batch, Delivery, Heartbeat, Outcome, Worker};
use cg_lambda::App;
use cg_tests::{drop_isolated, fresh_tenant, isolated_app};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::time::Instant;

async fn dynamic(app: &App, t: &TenantId, rules: serde_json::Value, now: DateTime<Utc>) -> GroupId {
    let body: NewGroup = serde_json::from_value(json!({"name": "g", "type": "dynamic", "rules": rules})).unwrap();
    groups::create_group(&app.store, t, GroupInput::try_from(body).unwrap(), now)
        .await
        .unwrap()
        .group
        .id
}

/// Runs every queued group job at `now` until the queue is empty.
async fn drain(app: &App, now: DateTime<Utc>) {
    let sqs = &app.store.sqs;
    let url = &app.store.group_jobs_queue_url;
    loop {
        let msgs = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            return;
        }
        for m in msgs {
            let job: GroupJob = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            jobs::run_group_job(&app.store, &job, now).await.expect("job runs");
            sqs.delete_message()
                .queue_url(url)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_missed_renewal_lapses_at_the_end_of_the_grace_through_a_wake_up() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let now: DateTime<Utc> = "2026-06-01T12:00:00Z".parse().unwrap();
    let renews: DateTime<Utc> = "2026-06-10T00:00:00Z".parse().unwrap();
    let subscribed = dynamic(&app, &t, json!({"lifecycle": {"states": ["subscribed"]}}), now).await;
    let expired = dynamic(&app, &t, json!({"lifecycle": {"states": ["expired"]}}), now).await;
    drain(&app, now).await;
    let input: NewCustomer = serde_json::from_value(json!({"id": "c", "subscriptions": [
        {"application": "news", "status": "active", "renews_at": renews}]}))
    .unwrap();
    customers::create_customer(&app.store, &t, input, now).await.unwrap();
    let id = CustomerId::parse("c").unwrap();
    let c = app.store.get_customer(&t, &id).await.unwrap().unwrap();
    let lapse = renews + Duration::days(3);
    assert_eq!(
        c.next_wake_at,
        Some(lapse),
        "the wake-up is the end of the default 3-day grace"
    );
    assert!(c.groups.contains(&subscribed));

    // One second before the boundary: the tick finds nobody.
    assert_eq!(
        wake::wake_tick(&app.store, lapse - Duration::seconds(1)).await.unwrap(),
        0
    );
    // At the boundary: woken, expired at its renewal date, out of "subscribed", into "expired".
    assert_eq!(wake::wake_tick(&app.store, lapse).await.unwrap(), 1);
    drain(&app, lapse).await;
    let c = app.store.get_customer(&t, &id).await.unwrap().unwrap();
    let s = &c.subscriptions[0];
    assert_eq!(
        (s.status, s.expires_at, s.renews_at),
        (SubscriptionStatus::Expired, Some(renews), None)
    );
    assert!(
        !c.groups.contains(&subscribed) && c.groups.contains(&expired),
        "{:?}",
        c.groups
    );
    assert_eq!(
        app.store.get_group(&t, &expired).await.unwrap().unwrap().member_count,
        1
    );
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_resync_repairs_a_drifted_member_count_and_says_when_it_finished() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    for i in 0..3 {
        let input: NewCustomer = serde_json::from_value(json!({"id": format!("c{i}")})).unwrap();
        customers::create_customer(&app.store, &t, input, now).await.unwrap();
    }
    let g = dynamic(&app, &t, json!({"all_customers": {}}), now).await;
    drain(&app, now).await;
    // Drift: the stored count no longer equals the member rows.
    app.store
        .ddb
        .update_item()
        .table_name(&app.store.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("T#{t}")))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("G#{g}")))
        .update_expression("SET member_count = :n")
        .expression_attribute_values(":n", aws_sdk_dynamodb::types::AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let job = resync::resync_group(&app.store, &t, &g, now).await.unwrap();
    let before = Utc::now();
    drain(&app, now).await;
    let done = app.store.get_resync_job(&t, &job.id).await.unwrap().unwrap();
    assert_eq!(done.status, SyncState::Done);
    assert!(
        done.finished_at.unwrap() >= before,
        "finished when the work ended, not when it was picked up"
    );
    assert!(done.started_at.is_some());
    let group = app.store.get_group(&t, &g).await.unwrap().unwrap();
    assert_eq!(group.member_count, 3, "Resync updates the number of users (seed 000)");
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_resync_shard_whose_worker_died_is_retried_within_the_queue_visibility() {
    let app = isolated_app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    let input: NewCustomer = serde_json::from_value(json!({"id": "c0"})).unwrap();
    customers::create_customer(&app.store, &t, input, now).await.unwrap();
    let g = dynamic(&app, &t, json!({"all_customers": {}}), now).await;
    let job = app
        .store
        .get_group(&t, &g)
        .await
        .unwrap()
        .unwrap()
        .sync
        .unwrap()
        .job_id
        .unwrap();
    // A worker takes the shard message and dies: nobody deletes it or changes its visibility.
    let taken = app
        .store
        .sqs
        .receive_message()
        .queue_url(&app.store.group_jobs_queue_url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(taken.len(), 1);
    let killed = Instant::now();
    // The dev server's workers (as Lambda would) pick the message up when it is visible again.
    let (_, tasks) = cg_local::dev_server::start(
        app.clone(),
        "timing".into(),
        ([127, 0, 0, 1], 0).into(),
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    loop {
        let j = app.store.get_resync_job(&t, &job).await.unwrap().unwrap();
        if j.status == SyncState::Done {
            break;
        }
        assert!(
            killed.elapsed().as_secs() < 110,
            "not retried within the 90 s visibility (+ polling)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let waited = killed.elapsed().as_secs();
    assert!(
        waited >= 80,
        "retried only once the message was visible again ({waited} s)"
    );
    assert_eq!(app.store.get_group(&t, &g).await.unwrap().unwrap().member_count, 1);
    for task in tasks {
        task.abort();
    }
    drop_isolated(&app).await;
}

/// A job that takes longer than its queue's visibility.
struct Slow;

impl Worker for Slow {
    type Job = u32;
    const QUEUE: &'static str = "slow";

    async fn run(&self, _job: &u32, _d: &Delivery) -> Outcome {
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        Outcome::Done
    }

    async fn give_up(&self, _job: &u32, _reason: &str) {}
}

#[tokio::test]
async fn a_heartbeat_keeps_a_long_job_invisible_and_a_dead_one_reappears() {
    let app = isolated_app().await;
    let sqs = &app.store.sqs;
    let url = sqs
        .create_queue()
        .queue_name(format!("cg-slow-{}", uuid::Uuid::new_v4().simple()))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("7")
        .send()
        .await
        .unwrap();
    let m = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap()
        .remove(0);
    let mut msg = SqsMessage::default();
    msg.message_id = m.message_id.clone();
    msg.receipt_handle = m.receipt_handle.clone();
    msg.body = m.body.clone();
    let mut event = SqsEvent::default();
    event.records = vec![msg];
    let beat = Heartbeat {
        store: &app.store,
        queue_url: &url,
        every: std::time::Duration::from_millis(300),
        visibility: 1,
    };
    let watcher = async {
        let mut seen = 0;
        for _ in 0..6 {
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
            seen += sqs
                .receive_message()
                .queue_url(&url)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
                .len();
        }
        seen
    };
    let (resp, seen_while_running) = tokio::join!(run_batch(&Slow, event, 5, Some(beat)), watcher);
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(seen_while_running, 0, "no second delivery while the heartbeat runs");
    // Without a heartbeat (the worker died), the message is back after the 1 s visibility.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let back = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(back.len(), 1, "a message whose worker stopped beating reappears");
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    drop_isolated(&app).await;
}
