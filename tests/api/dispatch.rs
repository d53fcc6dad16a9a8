//! The dispatcher on moto (issue 16): a dispatcher killed between recording messages and queueing
//! them, retried with a batch of another size (as Lambda retries a stream batch), rebuilds nothing it
//! recorded, loses no change, puts no change in two messages, and the sweep queues the messages the
//! dead run never queued, under the ids they were recorded with.

use crate::destinations_stack::{own_app, Knobs};
use cg_domain::destinations::delivery::DeliveryState;
use cg_domain::destinations::event::{pad_sequence, EventType, FeedItem, FeedRecord, MembershipChange, Notification};
use cg_domain::destinations::ports::DeliveryLog;
use cg_domain::destinations::webhook::{NewWebhook, UrlPolicy, WebhookInput};
use cg_domain::history::Change;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::PageRequest;
use cg_domain::usecases::{deliver, dispatch, webhooks};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn change(t: &TenantId, g: &GroupId, n: usize) -> FeedRecord {
    let at = chrono::Utc::now();
    let customer = cg_tests::cid(&format!("c{n:04}"));
    FeedRecord {
        sequence: pad_sequence(&(1_000_000 + n).to_string()).unwrap(),
        item: FeedItem::Change(MembershipChange {
            tenant: t.clone(),
            group_id: g.clone(),
            key: format!("{}#{customer}#E", at.to_rfc3339()),
            customer_id: customer,
            change: Change::Entered,
            reason: "resync".into(),
            at,
            email: None,
        }),
    }
}

async fn receive_ids(app: &cg_lambda::App) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        let resp = app
            .store
            .sqs
            .receive_message()
            .queue_url(&app.store.destinations.deliveries_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in resp.messages.unwrap_or_default() {
            let job: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            ids.insert(job["delivery_id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_batch_is_redone_with_the_same_ids_and_no_change_twice() {
    let app = own_app(Knobs::default()).await;
    let (t, g) = (cg_tests::fresh_tenant(), GroupId::generate());
    let body = NewWebhook {
        url: "http://127.0.0.1:9/hook".into(),
        event_types: vec!["group.member_entered".into(), "export.done".into()],
        group_ids: None,
        description: None,
    };
    let now = chrono::Utc::now();
    let w = webhooks::create_webhook(
        &app.store,
        &t,
        WebhookInput::try_from(body).unwrap(),
        UrlPolicy { allow_local: true },
        now,
    )
    .await
    .unwrap()
    .webhook;
    let records: Vec<FeedRecord> = (0..300).map(|n| change(&t, &g, n)).collect();

    // The first run records its messages and dies before queueing them (its queue is unreachable).
    let mut dying = app.store.clone();
    dying.destinations.deliveries_queue_url.push_str("-gone");
    assert!(dispatch::dispatch(&dying, records[..150].to_vec(), now).await.is_err());
    let first = app
        .store
        .list_deliveries(&t, &w.id, &PageRequest::first(100))
        .await
        .unwrap()
        .items;
    let mut sizes: Vec<u32> = first.iter().map(|d| d.change_count).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![50, 100], "messages of at most 100 changes");
    let first_ids: BTreeSet<String> = first.iter().map(|d| d.id.to_string()).collect();

    // Lambda retries with a bigger batch: what is covered is skipped, the rest gets new messages.
    let r = dispatch::dispatch(&app.store, records.clone(), now).await.unwrap();
    assert_eq!((r.messages, r.already_covered), (2, 150), "{r:?}");
    let again = dispatch::dispatch(&app.store, records.clone(), now).await.unwrap();
    assert_eq!(
        (again.messages, again.already_covered),
        (0, 300),
        "a third delivery changes nothing"
    );

    let all = app
        .store
        .list_deliveries(&t, &w.id, &PageRequest::first(100))
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 4);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for d in &all {
        assert_eq!(d.status, DeliveryState::Pending);
        let stored = app.store.get_delivery(&t, &w.id, &d.id).await.unwrap().unwrap();
        let body: Value = serde_json::from_str(&stored.body).unwrap();
        for c in body["data"]["changes"].as_array().unwrap() {
            let prev = seen.insert(c["customer_id"].as_str().unwrap().to_owned(), d.id.to_string());
            assert!(prev.is_none(), "{} in two messages", c["customer_id"]);
        }
    }
    assert_eq!(seen.len(), 300, "every change in a message");
    assert!(
        first_ids.iter().all(|id| all.iter().any(|d| d.id.as_str() == id)),
        "the first run's ids stand"
    );

    // Only the retry's two messages were queued; the sweep queues the dead run's two as well.
    let queued = receive_ids(&app).await;
    assert_eq!(queued.len(), 2);
    assert!(queued.is_disjoint(&first_ids), "{queued:?}");
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    let swept = deliver::sweep_deliveries(&app.store, later, chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(swept, 4, "every pending message is overdue five minutes on");
    let requeued = receive_ids(&app).await;
    assert!(first_ids.is_subset(&requeued), "{requeued:?} holds {first_ids:?}");

    // A notification is one message however often its record comes.
    let n = Notification {
        id: "export:x1".into(),
        event_type: EventType::ExportDone,
        at: now,
        group_ids: vec![],
        data: serde_json::json!({"export_id": "x1"}),
    };
    let note = FeedRecord {
        sequence: pad_sequence("2000000").unwrap(),
        item: FeedItem::Notification(t.clone(), n),
    };
    let one = dispatch::dispatch(&app.store, vec![note.clone()], now).await.unwrap();
    let two = dispatch::dispatch(&app.store, vec![note], now).await.unwrap();
    assert_eq!((one.messages, two.messages), (1, 0));
    cg_tests::drop_isolated(&app).await;
}
