//! Tests of event parsing and application.

use super::*;
use crate::customer::NewCustomer;
use crate::customer::{Customer, SubscriptionStatus};
use crate::error::DomainError;
use serde_json::json;
use serde_json::Value;

fn customer() -> Customer {
    NewCustomer {
        id: Some(CustomerId::parse("c1").unwrap()),
        ..Default::default()
    }
    .into_customer("2026-01-01T00:00:00Z".parse().unwrap())
    .unwrap()
}

fn event(v: Value) -> Event {
    parse_event("events[0]", &v).unwrap()
}

#[test]
fn subscription_lifecycle_events_move_the_facts() {
    let mut c = customer();
    let app = json!({"application": "news", "plan": "monthly"});
    let ev = |c: &mut Customer, kind: &str, at: &str, extra: Value| {
        let mut v = json!({"event_id": format!("{kind}{at}"), "customer_id": "c1", "type": kind, "occurred_at": at});
        for (k, x) in app.as_object().unwrap().iter().chain(extra.as_object().unwrap()) {
            v[k] = x.clone();
        }
        event(v).apply(c).unwrap();
    };
    ev(
        &mut c,
        "subscription.created",
        "2026-01-01T00:00:00Z",
        json!({"renews_at": "2026-02-01T00:00:00Z", "paid": true}),
    );
    let s = &c.subscriptions[0];
    assert_eq!((s.status, s.paid), (SubscriptionStatus::Active, true));
    assert_eq!(s.renews_at, Some("2026-02-01T00:00:00Z".parse().unwrap()));
    ev(
        &mut c,
        "subscription.canceled",
        "2026-01-10T00:00:00Z",
        json!({"expires_at": "2026-02-01T00:00:00Z"}),
    );
    let s = &c.subscriptions[0];
    assert_eq!(
        s.status,
        SubscriptionStatus::Active,
        "canceling: access continues until it expires"
    );
    assert_eq!(s.renews_at, None);
    assert!(s.canceled_at.is_some());
    ev(&mut c, "subscription.expired", "2026-02-01T00:00:00Z", json!({}));
    assert_eq!(c.subscriptions[0].status, SubscriptionStatus::Expired);
    assert_eq!(c.subscriptions.len(), 1, "events address the same subscription");
}

#[test]
fn bad_events_name_the_field_to_fix() {
    let err = |v: Value| match parse_event("events[2]", &v) {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    let base = json!({"event_id": "e", "customer_id": "c1", "occurred_at": "2026-01-01T00:00:00Z"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    assert_eq!(err(json!([])), "events[2]");
    assert_eq!(err(with("event_id", json!(""))), "events[2].event_id");
    assert_eq!(err(with("customer_id", json!("a#b"))), "events[2].customer_id");
    assert_eq!(err(with("occurred_at", json!("yesterday"))), "events[2].occurred_at");
    assert_eq!(err(with("type", json!("nope"))), "events[2]");
    let mut pay = with("type", json!("payment.credited"));
    pay["amount_minor"] = json!(100);
    pay["currency"] = json!("eur");
    assert_eq!(err(pay.clone()), "events[2].currency");
    pay["currency"] = json!("EUR");
    pay["extra"] = json!(1);
    assert_eq!(err(pay), "events[2]", "unknown fields are rejected");
}

#[test]
fn payments_bookings_and_flags() {
    let mut c = customer();
    let base = |t: &str| json!({"event_id": t, "customer_id": "c1", "type": t, "occurred_at": "2026-03-01T10:00:00Z"});
    let mut pay = base("payment.credited");
    pay["currency"] = json!("EUR");
    pay["amount_minor"] = json!(1250);
    event(pay).apply(&mut c).unwrap();
    event(base("booking.created")).apply(&mut c).unwrap();
    event(base("customer.email_verified")).apply(&mut c).unwrap();
    event(base("customer.registered")).apply(&mut c).unwrap();
    assert_eq!(c.activity.payments.total("EUR"), 1250);
    assert_eq!(c.activity.bookings, 1);
    assert!(c.email_verified);
    assert_eq!(c.registration_date, Some("2026-03-01".parse().unwrap()));
}
