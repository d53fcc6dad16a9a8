//! Lifecycle and activity events. An event updates the customer's facts; the membership pass then
//! re-evaluates the customer. Ingestion is idempotent by event id (the adapter records each id in the
//! same transaction as the customer write), and a customer's events apply in `occurred_at` order.

mod apply;
mod batch;
mod parse;
#[cfg(test)]
mod tests;

pub use batch::{BatchEntry, EventBatch};
pub use parse::parse_event;

use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::Deserialize;

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
