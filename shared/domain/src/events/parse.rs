//! Parsing one event object at the edge; errors name the field under its path (`events[3].currency`).

use super::{Event, EventKind, SubscriptionTerms};
use crate::activity::is_currency;
use crate::bounds::{check_instant, check_opt_instant};
use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

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
    let mut properties = rest.clone();
    properties.remove("type");
    let kind: EventKind = serde_json::from_value(Value::Object(rest)).map_err(|e| {
        DomainError::validation(
            path,
            format!("{path}: {e}; type is one of customer.registered, customer.active, customer.email_verified, customer.phone_verified, customer.activated, booking.created, payment.credited, expense.charged, subscription.created, subscription.renewed, subscription.updated, subscription.canceled, subscription.expired, subscription.suspended, subscription.active"),
        )
    })?;
    check_kind(path, &kind)?;
    check_instant(&format!("{path}.occurred_at"), occurred_at)?;
    check_kind_dates(path, &kind)?;
    Ok(Event {
        event_id,
        customer_id,
        occurred_at,
        kind,
        properties,
    })
}

/// The instants an event carries within the accepted range.
fn check_kind_dates(path: &str, kind: &EventKind) -> Result<()> {
    let terms = |t: &SubscriptionTerms| -> Result<()> {
        check_opt_instant(&format!("{path}.renews_at"), t.renews_at)?;
        check_opt_instant(&format!("{path}.expires_at"), t.expires_at)
    };
    match kind {
        EventKind::Booking { starts_at } => check_opt_instant(&format!("{path}.starts_at"), *starts_at),
        EventKind::SubscriptionCreated { terms: t, .. }
        | EventKind::SubscriptionRenewed { terms: t, .. }
        | EventKind::SubscriptionUpdated { terms: t, .. } => terms(t),
        EventKind::SubscriptionCanceled { expires_at, .. } => {
            check_opt_instant(&format!("{path}.expires_at"), *expires_at)
        }
        _ => Ok(()),
    }
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
