//! Customers: profile, identities, typed attributes, tags and subscriptions per application/product/plan.

mod input;
#[cfg(test)]
mod tests;

pub use crate::activity::{Activity, Ledger, LedgerEntry};
use crate::contact::{Email, Phone};
use crate::ids::{CustomerId, GroupId};
use chrono::{DateTime, NaiveDate, Utc};
pub(crate) use input::check_subscriptions;
pub use input::{CustomerPatch, NewCustomer};

/// The most a customer may take as JSON. DynamoDB refuses items over 400 KB; the stored item is about
/// the size of the JSON, so this leaves headroom for keys and the groups set. The bounds below
/// (attributes, tags, subscriptions, ledger currencies and days) keep a customer far under it; this is
/// the last line that turns anything else into a 422 or a rejected event instead of a store error.
pub const MAX_CUSTOMER_BYTES: usize = 300 * 1024;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most custom attributes one customer may have.
pub const MAX_ATTRIBUTES: usize = 100;
/// Most tags one customer may have.
pub const MAX_TAGS: usize = 100;
/// Most subscriptions one customer may have.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// A typed custom attribute value: `{"type":"date","value":"2024-05-01"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase", deny_unknown_fields)]
pub enum AttributeValue {
    /// Text of at most 1024 characters.
    String(String),
    /// A finite number (NaN and infinities are refused).
    Number(f64),
    /// A flag: `{"type":"boolean","value":true}`.
    Boolean(bool),
    /// A calendar day (`2024-05-01`); rules compare it as midnight UTC.
    Date(NaiveDate),
}

/// Subscription status as reported by the billing system; lifecycle states are derived from it and the dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Provisioned and running: the subscribed, renewing, canceling and expiring states derive from it.
    Active,
    /// Ordered, not yet provisioned ("in progress"): counts as a held service, not as subscribed.
    Pending,
    /// Held but suspended (e.g. unpaid): counts as a held service, not as subscribed.
    Suspended,
    /// Ended by a cancellation whose access has run out.
    Canceled,
    /// Ended because its term ran out without a renewal.
    Expired,
}

impl SubscriptionStatus {
    /// Whether the service counts for "number of services" conditions (seed 003: active, in progress,
    /// suspended).
    pub fn is_held(self) -> bool {
        matches!(self, Self::Active | Self::Pending | Self::Suspended)
    }
}

/// A customer's subscription to one application, optionally narrowed to a product and plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The application subscribed to, as the billing system names it.
    pub application: String,
    /// The product within the application, when the billing system has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The plan within the product, when the billing system has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Billing period as the billing system names it (e.g. `month`, `year`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Whether the service is paid (false for free and trial plans).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paid: bool,
    /// As last reported by the billing system (through events or the API).
    pub status: SubscriptionStatus,
    /// When the subscription started; the date of the subscribed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed_at: Option<DateTime<Utc>>,
    /// When an active subscription renews (auto-renew on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews_at: Option<DateTime<Utc>>,
    /// When access ends (auto-renew off, or already ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was canceled; a renewal clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_at: Option<DateTime<Utc>>,
    /// The latest `subscription.active` event; the inactive state reads it before the customer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<DateTime<Utc>>,
}

/// A stored customer: what the API returns and what rules read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Unique within the tenant: given on create or generated (UUID v7).
    pub id: CustomerId,
    /// The tenant's own id for the customer (e.g. from a CRM); unique within the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Unique within the tenant; a member list can name the customer by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Unique within the tenant; a member list can name the customer by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// Display name, copied onto member rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tenant's order reference; the export's Order Number column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// When the customer signed up, as the tenant says; the export's Signup Date column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_date: Option<NaiveDate>,
    /// When the customer registered; the registered lifecycle state reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<NaiveDate>,
    /// Typed custom attributes by name; rules read them as `attributes.<key>`.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Trimmed, de-duplicated labels; the `tags` condition reads them.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// One per application/product/plan; lifecycle states derive from them.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Set by the `customer.email_verified` event or the API.
    #[serde(default)]
    pub email_verified: bool,
    /// Set by the `customer.phone_verified` event or the API.
    #[serde(default)]
    pub phone_verified: bool,
    /// The account exists but has not been activated yet.
    #[serde(default)]
    pub activation_required: bool,
    /// Activity, bookings, payments and expenses, maintained from ingested events.
    #[serde(default)]
    pub activity: Activity,
    /// Cashback balances by unit in minor units (changed only through balance operations, each with
    /// a ledger entry; see `crate::balance`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub balances: crate::balance::Balances,
    /// The earliest instant at which any dynamic group's answer for this customer can change by the
    /// passing of time alone (maintained by the service; the scheduler re-evaluates the customer then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wake_at: Option<DateTime<Utc>>,
    /// Groups the customer is currently a member of (maintained by the service, read-only in the API).
    #[serde(default)]
    pub groups: BTreeSet<GroupId>,
    /// When the customer was created; the inactive state's fallback for a customer never active.
    pub created_at: DateTime<Utc>,
    /// When the customer's facts last changed (API or event); membership changes alone leave it.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, incremented on every write.
    #[serde(skip_serializing)]
    pub version: u64,
}

/// The identities that must be unique within a tenant, with the field name a clash reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// A normalised email address, reported as `email`.
    Email(Email),
    /// An E.164 phone number, reported as `phone`.
    Phone(Phone),
    /// The tenant's external id, reported as `external_id`.
    External(String),
}

impl Identity {
    /// The request field a clash on this identity is reported against.
    pub fn field(&self) -> &'static str {
        match self {
            Identity::Email(_) => "email",
            Identity::Phone(_) => "phone",
            Identity::External(_) => "external_id",
        }
    }
}

impl Customer {
    /// Refuses a customer that would be too large to store.
    pub fn check_size(&self) -> crate::Result<()> {
        let size = serde_json::to_vec(self).map_or(0, |v| v.len());
        if size > MAX_CUSTOMER_BYTES {
            return Err(crate::DomainError::validation(
                "customer",
                format!("the customer would take {size} bytes, more than the {MAX_CUSTOMER_BYTES} a customer may hold"),
            ));
        }
        Ok(())
    }

    /// The unique identities this customer holds.
    pub fn identities(&self) -> BTreeSet<Identity> {
        let mut ids = BTreeSet::new();
        if let Some(e) = &self.email {
            ids.insert(Identity::Email(e.clone()));
        }
        if let Some(p) = &self.phone {
            ids.insert(Identity::Phone(p.clone()));
        }
        if let Some(x) = &self.external_id {
            ids.insert(Identity::External(x.clone()));
        }
        ids
    }

    /// The columns a group's member rows copy from the customer (for member lists and exports).
    pub fn member_view(&self) -> MemberProfile {
        MemberProfile {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            order_number: self.order_number.clone(),
            signup_date: self.signup_date,
        }
    }
}

/// Customer columns denormalised onto member rows so member lists and exports are one Query.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberProfile {
    /// The customer's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The customer's email; the export's Email column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The customer's phone, shown in member lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// The export's Order Number column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// The export's Signup Date column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_date: Option<NaiveDate>,
}
