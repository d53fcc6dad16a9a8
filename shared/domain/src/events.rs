//! Lifecycle and activity events. An event updates the customer's facts; the membership pass then
//! re-evaluates the customer. Ingestion is idempotent by event id (the adapter records each id in the
//! same transaction as the customer write), and a customer's events apply in `occurred_at` order.

use crate::activity::is_currency;
use crate::customer::{check_subscriptions, Customer, Subscription, SubscriptionStatus};
use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Most events one ingestion request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 500;

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub customer_id: CustomerId,
    pub occurred_at: DateTime<Utc>,
    pub kind: EventKind,
}

/// Which subscription an event is about: application, and product and plan when the billing system has them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRef {
    pub application: String,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
}

/// Subscription dates and terms an event may carry; absent fields keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionTerms {
    #[serde(default)]
    pub renews_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub paid: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum EventKind {
    /// The customer registered (sets the registration date if it is not set).
    #[serde(rename = "customer.registered")]
    Registered {},
    /// Any activity (login, visit, attendance): moves "last active".
    #[serde(rename = "customer.active")]
    Active {},
    #[serde(rename = "customer.email_verified")]
    EmailVerified {},
    #[serde(rename = "customer.phone_verified")]
    PhoneVerified {},
    #[serde(rename = "customer.activated")]
    Activated {},
    /// A booking of an activity that starts at `starts_at` (default: when the event occurred).
    #[serde(rename = "booking.created")]
    Booking {
        #[serde(default)]
        starts_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "payment.credited")]
    Payment { currency: String, amount_minor: i64 },
    #[serde(rename = "expense.charged")]
    Expense { currency: String, amount_minor: i64 },
    /// A new (or restarted) subscription: active from `occurred_at`.
    #[serde(rename = "subscription.created")]
    SubscriptionCreated {
        #[serde(flatten)]
        subscription: SubscriptionRef,
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Renewed: active, cancellation withdrawn, new dates.
    #[serde(rename = "subscription.renewed")]
    SubscriptionRenewed {
        #[serde(flatten)]
        subscription: SubscriptionRef,
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Terms changed (dates, period, paid).
    #[serde(rename = "subscription.updated")]
    SubscriptionUpdated {
        #[serde(flatten)]
        subscription: SubscriptionRef,
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Canceled: access continues until `expires_at` when that is later than the event ("canceling"),
    /// otherwise the subscription ends now ("canceled").
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled {
        #[serde(flatten)]
        subscription: SubscriptionRef,
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "subscription.expired")]
    SubscriptionExpired {
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
    #[serde(rename = "subscription.suspended")]
    SubscriptionSuspended {
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
    /// Activity within one subscription (also moves the customer's "last active").
    #[serde(rename = "subscription.active")]
    SubscriptionActive {
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Registered {} => "customer.registered",
            EventKind::Active {} => "customer.active",
            EventKind::EmailVerified {} => "customer.email_verified",
            EventKind::PhoneVerified {} => "customer.phone_verified",
            EventKind::Activated {} => "customer.activated",
            EventKind::Booking { .. } => "booking.created",
            EventKind::Payment { .. } => "payment.credited",
            EventKind::Expense { .. } => "expense.charged",
            EventKind::SubscriptionCreated { .. } => "subscription.created",
            EventKind::SubscriptionRenewed { .. } => "subscription.renewed",
            EventKind::SubscriptionUpdated { .. } => "subscription.updated",
            EventKind::SubscriptionCanceled { .. } => "subscription.canceled",
            EventKind::SubscriptionExpired { .. } => "subscription.expired",
            EventKind::SubscriptionSuspended { .. } => "subscription.suspended",
            EventKind::SubscriptionActive { .. } => "subscription.active",
        }
    }
}

/// Parses one event object; errors name the field under `path` (e.g. `events[3].currency`).
pub fn parse_event(path: &str, value: &Value) -> Result<Event> {
    let Some(obj) = value.as_object() else {
        return Err(DomainError::validation(path, format!("{path} must be an object")));
    };
    let mut rest: Map<String, Value> = obj.clone();
    let event_id = match rest.remove("event_id") {
        Some(Value::String(s)) if is_event_id(&s) => s,
        _ => {
            return Err(DomainError::validation(
                format!("{path}.event_id"),
                "event_id is required: 1 to 128 printable characters, unique per event",
            ))
        }
    };
    let customer_id = match rest.remove("customer_id") {
        Some(Value::String(s)) => CustomerId::parse(&s).map_err(|_| {
            DomainError::validation(format!("{path}.customer_id"), "customer_id is not a valid customer id")
        })?,
        _ => {
            return Err(DomainError::validation(
                format!("{path}.customer_id"),
                "customer_id is required",
            ))
        }
    };
    let occurred_at = match rest.remove("occurred_at") {
        Some(Value::String(s)) => s.parse::<DateTime<Utc>>().map_err(|_| {
            DomainError::validation(
                format!("{path}.occurred_at"),
                "occurred_at must be an RFC 3339 time, e.g. 2026-11-24T10:00:00Z",
            )
        })?,
        _ => {
            return Err(DomainError::validation(
                format!("{path}.occurred_at"),
                "occurred_at is required",
            ))
        }
    };
    let kind: EventKind = serde_json::from_value(Value::Object(rest)).map_err(|e| {
        DomainError::validation(
            path,
            format!("{path}: {e}; type is one of customer.registered, customer.active, customer.email_verified, customer.phone_verified, customer.activated, booking.created, payment.credited, expense.charged, subscription.created, subscription.renewed, subscription.updated, subscription.canceled, subscription.expired, subscription.suspended, subscription.active"),
        )
    })?;
    check_kind(path, &kind)?;
    Ok(Event {
        event_id,
        customer_id,
        occurred_at,
        kind,
    })
}

fn is_event_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| !c.is_control())
}

fn check_kind(path: &str, kind: &EventKind) -> Result<()> {
    match kind {
        EventKind::Payment { currency, amount_minor } | EventKind::Expense { currency, amount_minor } => {
            if !is_currency(currency) {
                return Err(DomainError::validation(
                    format!("{path}.currency"),
                    "currency must be three capital letters (ISO 4217), e.g. EUR",
                ));
            }
            if *amount_minor < 0 || *amount_minor > 1_000_000_000_000 {
                return Err(DomainError::validation(
                    format!("{path}.amount_minor"),
                    "amount_minor is the amount in minor units (cents): 0 to 10^12",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

impl Event {
    /// Applies the event to the customer's facts.
    pub fn apply(&self, c: &mut Customer) -> Result<()> {
        let at = self.occurred_at;
        match &self.kind {
            EventKind::Registered {} => {
                c.registration_date.get_or_insert(at.date_naive());
            }
            EventKind::Active {} => c.activity.record_activity(at),
            EventKind::EmailVerified {} => c.email_verified = true,
            EventKind::PhoneVerified {} => c.phone_verified = true,
            EventKind::Activated {} => c.activation_required = false,
            EventKind::Booking { starts_at } => c.activity.record_booking(starts_at.unwrap_or(at)),
            EventKind::Payment { currency, amount_minor } => c.activity.payments.record(currency, at, *amount_minor),
            EventKind::Expense { currency, amount_minor } => c.activity.expenses.record(currency, at, *amount_minor),
            EventKind::SubscriptionCreated { subscription, terms } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Active;
                s.subscribed_at = Some(at);
                s.canceled_at = None;
                s.renews_at = None;
                s.expires_at = None;
                apply_terms(s, terms);
            }
            EventKind::SubscriptionRenewed { subscription, terms } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Active;
                s.subscribed_at.get_or_insert(at);
                s.canceled_at = None;
                apply_terms(s, terms);
            }
            EventKind::SubscriptionUpdated { subscription, terms } => {
                apply_terms(subscription_mut(c, subscription), terms);
            }
            EventKind::SubscriptionCanceled {
                subscription,
                expires_at,
            } => {
                let s = subscription_mut(c, subscription);
                s.canceled_at = Some(at);
                s.renews_at = None;
                if let Some(e) = expires_at {
                    s.expires_at = Some(*e);
                }
                if s.expires_at.is_none_or(|e| e <= at) {
                    s.status = SubscriptionStatus::Canceled;
                    s.expires_at.get_or_insert(at);
                }
            }
            EventKind::SubscriptionExpired { subscription } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Expired;
                s.renews_at = None;
                if s.expires_at.is_none_or(|e| e > at) {
                    s.expires_at = Some(at);
                }
            }
            EventKind::SubscriptionSuspended { subscription } => {
                subscription_mut(c, subscription).status = SubscriptionStatus::Suspended;
            }
            EventKind::SubscriptionActive { subscription } => {
                let s = subscription_mut(c, subscription);
                s.last_active_at = Some(s.last_active_at.map_or(at, |x| x.max(at)));
                c.activity.record_activity(at);
            }
        }
        check_subscriptions(&c.subscriptions)
            .map_err(|e| DomainError::validation("subscription", format!("the event cannot be applied: {e}")))
    }
}

fn apply_terms(s: &mut Subscription, t: &SubscriptionTerms) {
    if t.renews_at.is_some() {
        s.renews_at = t.renews_at;
    }
    if t.expires_at.is_some() {
        s.expires_at = t.expires_at;
    }
    if t.period.is_some() {
        s.period.clone_from(&t.period);
    }
    if let Some(p) = t.paid {
        s.paid = p;
    }
}

/// The customer's subscription the reference names, created (pending) if it does not exist yet.
fn subscription_mut<'a>(c: &'a mut Customer, r: &SubscriptionRef) -> &'a mut Subscription {
    let pos = c
        .subscriptions
        .iter()
        .position(|s| s.application == r.application && s.product == r.product && s.plan == r.plan);
    let i = pos.unwrap_or_else(|| {
        c.subscriptions.push(Subscription {
            application: r.application.clone(),
            product: r.product.clone(),
            plan: r.plan.clone(),
            period: None,
            paid: false,
            status: SubscriptionStatus::Pending,
            subscribed_at: None,
            renews_at: None,
            expires_at: None,
            canceled_at: None,
            last_active_at: None,
        });
        c.subscriptions.len() - 1
    });
    &mut c.subscriptions[i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::NewCustomer;
    use serde_json::json;

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
            let mut v =
                json!({"event_id": format!("{kind}{at}"), "customer_id": "c1", "type": kind, "occurred_at": at});
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
        let base =
            |t: &str| json!({"event_id": t, "customer_id": "c1", "type": t, "occurred_at": "2026-03-01T10:00:00Z"});
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
}
