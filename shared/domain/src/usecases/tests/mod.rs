//! Focused tests of the use-case layer over the in-memory ports: how the use cases drive the ports
//! (redo on a stale write, duplicates, hand-on, rejections), not how storage behaves (moto's job).

mod memory;

use super::{events, groups, membership, resync, wake};
use crate::customer::{Customer, NewCustomer};
use crate::events::EventBatch;
use crate::group::{GroupChange, GroupInput, GroupUpdate, NewGroup};
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::jobs::GroupJob;
use crate::membership::ChangeReason;
use crate::usecases::events::RejectionCode;
use crate::DomainError;
use chrono::{DateTime, Utc};
use memory::Memory;
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("t").unwrap()
}

fn customer(id: &str, tags: &[&str]) -> Customer {
    serde_json::from_value::<NewCustomer>(json!({"id": id, "tags": tags}))
        .unwrap()
        .into_customer(now())
        .unwrap()
}

fn store_with(customers: &[Customer]) -> Memory {
    let store = Memory::new(4, 500);
    store.with(|s| {
        for c in customers {
            s.customers.insert(c.id.clone(), c.clone());
        }
    });
    store
}

async fn dynamic_group(store: &Memory, name: &str, rules: Value) -> GroupId {
    let body: NewGroup = serde_json::from_value(json!({"name": name, "type": "dynamic", "rules": rules})).unwrap();
    let created = groups::create_group(store, &tenant(), GroupInput::try_from(body).unwrap(), now())
        .await
        .unwrap();
    // Its first resync is not what these tests look at: forget it.
    store.with(|s| {
        s.queued.clear();
        s.jobs.clear();
        s.slot = None;
    });
    created.group.id
}

fn vip_rules() -> Value {
    json!({"tags": {"has_any": ["vip"]}})
}

fn id(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

#[tokio::test]
async fn a_stale_write_is_read_again_and_redone_until_it_lands() {
    let store = store_with(&[customer("a", &["vip"])]);
    let g = dynamic_group(&store, "VIP", vip_rules()).await;
    store.with(|s| s.stale_next = 2);
    let report = membership::reevaluate(&store, &tenant(), &[id("a")], ChangeReason::Resync, now())
        .await
        .unwrap();
    assert_eq!((report.written, report.changes), (1, 1));
    store.with(|s| {
        assert_eq!(s.commits, 3, "two stale answers, then the write");
        assert!(s.customers[&id("a")].groups.contains(&g));
        assert_eq!(s.groups[&g].member_count, 1);
    });
}

#[tokio::test]
async fn ingestion_reports_each_event_by_index_and_applies_a_repeat_once() {
    let store = store_with(&[customer("a", &[])]);
    let ev = |event_id: &str, customer: &str| {
        json!({"event_id": event_id, "customer_id": customer, "type": "booking.created",
               "occurred_at": "2026-11-24T09:00:00Z"})
    };
    let body = json!({"events": [ev("e1", "a"), ev("e1", "a"), ev("e2", "nobody"), {"event_id": "e3"}]});
    let batch = EventBatch::try_from(body).unwrap();
    let report = events::ingest_events(&store, &tenant(), &batch, now()).await.unwrap();
    assert_eq!((report.received, report.accepted, report.duplicates), (4, 1, 1));
    let codes: Vec<(usize, RejectionCode)> = report.rejected.iter().map(|r| (r.index, r.code)).collect();
    assert_eq!(
        codes,
        vec![
            (2, RejectionCode::CustomerNotFound),
            (3, RejectionCode::ValidationFailed)
        ]
    );
    // The same request again: the seen event id makes it a duplicate and nothing changes.
    let again = events::ingest_events(&store, &tenant(), &batch, now()).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 2));
    store.with(|s| assert_eq!(s.customers[&id("a")].activity.bookings, 1));
}

#[tokio::test]
async fn a_resync_shard_past_its_budget_records_its_partition_and_hands_the_rest_on_in_two() {
    let customers: Vec<Customer> = ["a0", "a1", "a2", "a3"].iter().map(|i| customer(i, &["vip"])).collect();
    let mut store = store_with(&customers);
    store.budget = 1;
    let g = dynamic_group(&store, "VIP", vip_rules()).await;
    let job = resync::start_resync(&store, &tenant(), vec![g.clone()], now())
        .await
        .unwrap();
    let first = store.with(|s| s.queued.remove(0));
    assert_eq!(
        first.partitions(),
        vec![0, 1, 2, 3],
        "a job starts as one message over every partition"
    );
    let report = resync::run_resync_shard(&store, &tenant(), &job.id, &first.partitions(), now())
        .await
        .unwrap();
    assert_eq!(report.handed_on, 3);
    let handed: Vec<Vec<u32>> = store.with(|s| s.queued.iter().map(GroupJob::partitions).collect());
    assert_eq!(handed, vec![vec![1, 2], vec![3]]);
    // The queue drained as the workers would: [1, 2] hands [2] on again.
    let mut runs = 1;
    while let Some(next) = store.with(|s| (!s.queued.is_empty()).then(|| s.queued.remove(0))) {
        resync::run_resync_shard(&store, &tenant(), &job.id, &next.partitions(), now())
            .await
            .unwrap();
        runs += 1;
    }
    assert_eq!(runs, 4, "one message per partition with a budget of one page");
    store.with(|s| {
        assert_eq!(s.groups[&g].member_count, 4);
        assert_eq!(s.jobs[&job.id].0.status, crate::group::SyncState::Done);
    });
}

#[tokio::test]
async fn a_static_group_cannot_take_rules_and_a_referenced_group_cannot_be_deleted() {
    let store = store_with(&[]);
    let body: NewGroup = serde_json::from_value(json!({"name": "List"})).unwrap();
    let list = groups::create_group(&store, &tenant(), GroupInput::try_from(body).unwrap(), now())
        .await
        .unwrap()
        .group;
    let change: GroupUpdate = serde_json::from_value(json!({"rules": vip_rules()})).unwrap();
    let err = groups::update_group(
        &store,
        &tenant(),
        &list.id,
        GroupChange::try_from(change).unwrap(),
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DomainError::Validation { ref field, .. } if field == "type"),
        "{err:?}"
    );
    dynamic_group(&store, "In list", json!({"member_of": {"group_id": list.id.as_str()}})).await;
    let err = groups::delete_group(&store, &tenant(), &list.id).await.unwrap_err();
    assert!(matches!(err, DomainError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn a_wake_tick_queues_only_due_customers_and_the_worker_re_evaluates_them() {
    let mut due = customer("a", &[]);
    due.next_wake_at = Some(now());
    let mut later = customer("b", &[]);
    later.next_wake_at = Some(now() + chrono::Duration::hours(1));
    let store = store_with(&[due, later]);
    assert_eq!(wake::wake_tick(&store, now()).await.unwrap(), 1);
    let queued = store.with(|s| s.queued.clone());
    let [GroupJob::WakeCustomers { customer_ids, .. }] = queued.as_slice() else {
        panic!("one wake-up message, got {queued:?}")
    };
    assert_eq!(customer_ids, &vec![id("a")]);
    // No dynamic group needs a wake-up any more: the pass clears it.
    wake::wake_customers(&store, &tenant(), customer_ids, now(), now())
        .await
        .unwrap();
    store.with(|s| assert_eq!(s.customers[&id("a")].next_wake_at, None));
}

#[tokio::test]
async fn resyncs_requested_before_a_pass_starts_share_it_and_later_ones_queue_the_next() {
    let store = store_with(&[customer("a0", &["vip"])]);
    let (g1, g2, g3) = (
        dynamic_group(&store, "one", vip_rules()).await,
        dynamic_group(&store, "two", vip_rules()).await,
        dynamic_group(&store, "three", vip_rules()).await,
    );
    let first = resync::start_resync(&store, &tenant(), vec![g1.clone()], now())
        .await
        .unwrap();
    let joined = resync::start_resync(&store, &tenant(), vec![g2.clone()], now())
        .await
        .unwrap();
    assert_eq!(joined.id, first.id, "a queued pass takes new groups");
    assert_eq!(joined.groups, vec![g1, g2]);
    assert_eq!(store.with(|s| s.queued.len()), 1, "one message for both");
    let message = store.with(|s| s.queued.remove(0));
    store.with(|s| s.clock = now() + chrono::Duration::seconds(30));
    resync::run_resync_shard(&store, &tenant(), &first.id, &message.partitions(), now())
        .await
        .unwrap();
    let next = resync::start_resync(&store, &tenant(), vec![g3], now()).await.unwrap();
    assert_ne!(
        next.id, first.id,
        "a pass that has started does not take groups any more"
    );
    store.with(|s| {
        let (job, _) = &s.jobs[&first.id];
        assert_eq!(job.status, crate::group::SyncState::Done);
        assert_eq!(
            job.finished_at,
            Some(now() + chrono::Duration::seconds(30)),
            "when it finished, not when it was picked up"
        );
        assert_eq!(job.started_at, Some(now() + chrono::Duration::seconds(30)));
    });
}

#[tokio::test]
async fn a_finished_resync_repairs_a_drifted_member_count() {
    let store = store_with(&[customer("a0", &["vip"]), customer("a1", &["vip"])]);
    let g = dynamic_group(&store, "VIP", vip_rules()).await;
    let job = resync::start_resync(&store, &tenant(), vec![g.clone()], now())
        .await
        .unwrap();
    let message = store.with(|s| s.queued.remove(0));
    resync::run_resync_shard(&store, &tenant(), &job.id, &message.partitions(), now())
        .await
        .unwrap();
    store.with(|s| s.groups.get_mut(&g).unwrap().member_count = 7);
    let again = resync::start_resync(&store, &tenant(), vec![g.clone()], now())
        .await
        .unwrap();
    let message = store.with(|s| s.queued.remove(0));
    resync::run_resync_shard(&store, &tenant(), &again.id, &message.partitions(), now())
        .await
        .unwrap();
    store.with(|s| assert_eq!(s.groups[&g].member_count, 2, "recounted from the members"));
}
