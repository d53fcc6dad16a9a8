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
    /// The sender's id (1 to 128 printable characters); a repeat within 90 days changes nothing.
    pub event_id: String,
    /// The customer whose facts the event changes.
    pub customer_id: CustomerId,
    /// When it happened: a customer's events apply in this order, and the facts it sets take this time.
    pub occurred_at: DateTime<Utc>,
    /// What happened, with the fields of its `type`.
    pub kind: EventKind,
    /// The fields of its `type` as sent (`type`, ids and time removed), kept on the timeline.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// Which subscription an event is about: application, and product and plan when the billing system has them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRef {
    /// The application, as in the customer's subscriptions.
    pub application: String,
    /// The product, when the billing system has one.
    #[serde(default)]
    pub product: Option<String>,
    /// The plan, when the billing system has one.
    #[serde(default)]
    pub plan: Option<String>,
}

/// Subscription dates and terms an event may carry; absent fields keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionTerms {
    /// The next renewal instant.
    #[serde(default)]
    pub renews_at: Option<DateTime<Utc>>,
    /// When access ends.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The billing period, e.g. `month`.
    #[serde(default)]
    pub period: Option<String>,
    /// Whether the service is paid.
    #[serde(default)]
    pub paid: Option<bool>,
}

/// What an event says happened, tagged by its `type` (`customer.active`, `subscription.renewed`...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum EventKind {
    /// The customer registered (sets the registration date if it is not set).
    #[serde(rename = "customer.registered")]
    Registered {},
    /// Any activity (login, visit, attendance): moves "last active".
    #[serde(rename = "customer.active")]
    Active {},
    /// The email was verified: sets `email_verified`.
    #[serde(rename = "customer.email_verified")]
    EmailVerified {},
    /// The phone was verified: sets `phone_verified`.
    #[serde(rename = "customer.phone_verified")]
    PhoneVerified {},
    /// The account was activated: clears `activation_required`.
    #[serde(rename = "customer.activated")]
    Activated {},
    /// A booking of an activity that starts at `starts_at` (default: when the event occurred).
    #[serde(rename = "booking.created")]
    Booking {
        /// When the booked activity starts; may be in the future.
        #[serde(default)]
        starts_at: Option<DateTime<Utc>>,
    },
    /// A payment was credited: adds to the payments ledger.
    #[serde(rename = "payment.credited")]
    Payment {
        /// ISO 4217 code, e.g. `EUR`.
        currency: String,
        /// The amount in minor units (cents), 0 to 10^12.
        amount_minor: i64,
    },
    /// A service was charged for: adds to the expenses ledger.
    #[serde(rename = "expense.charged")]
    Expense {
        /// ISO 4217 code, e.g. `EUR`.
        currency: String,
        /// The amount in minor units (cents), 0 to 10^12.
        amount_minor: i64,
    },
    /// A new (or restarted) subscription: active from `occurred_at`.
    #[serde(rename = "subscription.created")]
    SubscriptionCreated {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
        /// The dates and terms it starts with.
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Renewed: active, cancellation withdrawn, new dates.
    #[serde(rename = "subscription.renewed")]
    SubscriptionRenewed {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
        /// The new dates and terms.
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Terms changed (dates, period, paid).
    #[serde(rename = "subscription.updated")]
    SubscriptionUpdated {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
        /// The changed terms; absent ones keep their value.
        #[serde(flatten)]
        terms: SubscriptionTerms,
    },
    /// Canceled: access continues until `expires_at` when that is later than the event ("canceling"),
    /// otherwise the subscription ends now ("canceled").
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
        /// When access ends; absent, or not after the event, ends it at once.
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// The term ran out: the subscription is expired and will not renew.
    #[serde(rename = "subscription.expired")]
    SubscriptionExpired {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
    /// The subscription is held but suspended (e.g. unpaid).
    #[serde(rename = "subscription.suspended")]
    SubscriptionSuspended {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
    /// Activity within one subscription (also moves the customer's "last active").
    #[serde(rename = "subscription.active")]
    SubscriptionActive {
        /// Which subscription; one the customer does not have yet is added first.
        #[serde(flatten)]
        subscription: SubscriptionRef,
    },
}

impl EventKind {
    /// The event's `type` as sent (`booking.created`), for history reasons and logs.
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
