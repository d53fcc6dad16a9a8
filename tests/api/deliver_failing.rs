//! An endpoint whose attempts all fail for 5 days is disabled (issue 16), on moto through the real
//! stores and webhook client: the attempts are made at chosen instants (the use case takes `now`),
//! against a closed port on 127.0.0.1 (the local allowance), so the failures are real connection
//! errors.

use crate::destinations_stack::{own_app, Knobs};
use cg_domain::destinations::delivery::DeliveryJob;
use cg_domain::destinations::event::{pad_sequence, FeedItem, FeedRecord, MembershipChange};
use cg_domain::destinations::ports::{DeliveryLog, WebhookStore};
use cg_domain::destinations::webhook::{DisabledReason, NewWebhook, UrlPolicy, WebhookInput};
use cg_domain::history::Change;
use cg_domain::ids::GroupId;
use cg_domain::page::PageRequest;
use cg_domain::usecases::deliver::{attempt_delivery, DeliverOutcome};
use cg_domain::usecases::{dispatch, webhooks};
use chrono::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let app = own_app(Knobs {
        schedule: vec![0; 10],
        ..Knobs::default()
    })
    .await;
    let (t, g) = (cg_tests::fresh_tenant(), GroupId::generate());
    let t0 = chrono::Utc::now();
    let body = NewWebhook {
        // Port 9 (discard) is closed: every attempt is a refused connection.
        url: "http://127.0.0.1:9/hook".into(),
        event_types: vec!["group.member_entered".into()],
        group_ids: None,
        description: None,
    };
    let w = webhooks::create_webhook(
        &app.store,
        &t,
        WebhookInput::try_from(body).unwrap(),
        UrlPolicy { allow_local: true },
        t0,
    )
    .await
    .unwrap()
    .webhook;
    let customer = cg_tests::cid("c1");
    let record = FeedRecord {
        sequence: pad_sequence("1000").unwrap(),
        item: FeedItem::Change(MembershipChange {
            tenant: t.clone(),
            group_id: g.clone(),
            key: format!("{}#{customer}#E", t0.to_rfc3339()),
            customer_id: customer,
            change: Change::Entered,
            reason: "added to the group".into(),
            at: t0,
            email: None,
        }),
    };
    dispatch::dispatch(&app.store, vec![record], t0).await.unwrap();
    let d = app
        .store
        .list_deliveries(&t, &w.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .remove(0);
    let job = DeliveryJob {
        tenant: t.clone(),
        webhook_id: w.id.clone(),
        delivery_id: d.id.clone(),
    };
    let policy = app.store.destinations.policy();
    let attempt = |at| attempt_delivery(&app.store, &app.outbound.webhooks, &policy, &job, at);
    let enabled = || async {
        let w = app.store.get_webhook(&t, &w.id).await.unwrap().unwrap().webhook;
        (w.enabled, w.disabled_reason)
    };

    // Failing for 4 days and 23 hours: still on.
    for at in [t0, t0 + Duration::days(2), t0 + Duration::hours(119)] {
        let outcome = attempt(at).await.unwrap();
        assert!(matches!(outcome, DeliverOutcome::WillRetry(_)), "{outcome:?}");
        assert_eq!(enabled().await, (true, None), "failing since t0, at {at}");
    }
    // Five days after the first failure, a failed attempt disables it.
    let outcome = attempt(t0 + Duration::days(5) + Duration::minutes(1)).await.unwrap();
    assert!(matches!(outcome, DeliverOutcome::WillRetry(_)), "{outcome:?}");
    assert_eq!(enabled().await, (false, Some(DisabledReason::Failing)));
    // Its next attempt is not made: the message fails, saying why.
    let outcome = attempt(t0 + Duration::days(6)).await.unwrap();
    assert!(matches!(outcome, DeliverOutcome::Failed(_)), "{outcome:?}");
    let log = app
        .store
        .get_delivery(&t, &w.id, &d.id)
        .await
        .unwrap()
        .unwrap()
        .delivery;
    assert_eq!(log.attempts.len(), 4, "{log:?}");
    assert!(
        log.attempts
            .iter()
            .all(|a| a.status_code.is_none() && a.error.is_some()),
        "{log:?}"
    );
    cg_tests::drop_isolated(&app).await;
}
