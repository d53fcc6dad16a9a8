//! Customers: profile, identities, typed attributes, tags and subscriptions per application/product/plan.

pub use crate::activity::{Activity, Ledger, LedgerEntry};
use crate::contact::{Email, Phone};
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, GroupId};
use crate::patch::Patch;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_ATTRIBUTES: usize = 100;
pub const MAX_TAGS: usize = 100;
pub const MAX_SUBSCRIPTIONS: usize = 50;
const MAX_TEXT: usize = 256;
const MAX_ATTRIBUTE_TEXT: usize = 1024;

/// A typed custom attribute value: `{"type":"date","value":"2024-05-01"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase", deny_unknown_fields)]
pub enum AttributeValue {
    String(String),
    Number(f64),
    Boolean(bool),
    Date(NaiveDate),
}

/// Subscription status as reported by the billing system; lifecycle states are derived from it and the dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    Active,
    /// Ordered, not yet provisioned ("in progress"): counts as a held service, not as subscribed.
    Pending,
    /// Held but suspended (e.g. unpaid): counts as a held service, not as subscribed.
    Suspended,
    Canceled,
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
    pub application: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Billing period as the billing system names it (e.g. `month`, `year`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Whether the service is paid (false for free and trial plans).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paid: bool,
    pub status: SubscriptionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed_at: Option<DateTime<Utc>>,
    /// When an active subscription renews (auto-renew on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews_at: Option<DateTime<Utc>>,
    /// When access ends (auto-renew off, or already ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<DateTime<Utc>>,
}

/// A stored customer: what the API returns and what rules read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<NaiveDate>,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub phone_verified: bool,
    /// The account exists but has not been activated yet.
    #[serde(default)]
    pub activation_required: bool,
    /// Activity, bookings, payments and expenses, maintained from ingested events.
    #[serde(default)]
    pub activity: Activity,
    /// The earliest instant at which any dynamic group's answer for this customer can change by the
    /// passing of time alone (maintained by the service; the scheduler re-evaluates the customer then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wake_at: Option<DateTime<Utc>>,
    /// Groups the customer is currently a member of (maintained by the service, read-only in the API).
    #[serde(default)]
    pub groups: BTreeSet<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, incremented on every write.
    #[serde(skip_serializing)]
    pub version: u64,
}

/// The identities that must be unique within a tenant, with the field name a clash reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    Email(Email),
    Phone(Phone),
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_date: Option<NaiveDate>,
}

/// The body of `POST /customers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub id: Option<CustomerId>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub order_number: Option<String>,
    pub signup_date: Option<NaiveDate>,
    pub registration_date: Option<NaiveDate>,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub phone_verified: bool,
    #[serde(default)]
    pub activation_required: bool,
    /// Usually built from events; accepted on create for imports.
    #[serde(default)]
    pub activity: Activity,
}

impl NewCustomer {
    /// Validates and normalises the input into a customer at version 1.
    pub fn into_customer(self, now: DateTime<Utc>) -> Result<Customer> {
        let customer = Customer {
            id: self.id.unwrap_or_else(CustomerId::generate),
            external_id: self.external_id.map(|x| text("external_id", x, MAX_TEXT)).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            phone: self.phone.as_deref().map(Phone::parse).transpose()?,
            name: self.name.map(|x| text("name", x, MAX_TEXT)).transpose()?,
            order_number: self
                .order_number
                .map(|x| text("order_number", x, MAX_TEXT))
                .transpose()?,
            signup_date: self.signup_date,
            registration_date: self.registration_date,
            attributes: self.attributes,
            tags: tags(self.tags)?,
            subscriptions: self.subscriptions,
            email_verified: self.email_verified,
            phone_verified: self.phone_verified,
            activation_required: self.activation_required,
            activity: self.activity,
            next_wake_at: None,
            groups: BTreeSet::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_attributes(&customer.attributes)?;
        check_subscriptions(&customer.subscriptions)?;
        customer.activity.check()?;
        Ok(customer)
    }
}

/// The body of `PATCH /customers/{id}`: merge-patch semantics, `null` clears a field; attribute keys set
/// to `null` are removed; `tags` and `subscriptions`, when present, replace the whole list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default)]
    pub external_id: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub phone: Patch<String>,
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub order_number: Patch<String>,
    #[serde(default)]
    pub signup_date: Patch<NaiveDate>,
    #[serde(default)]
    pub registration_date: Patch<NaiveDate>,
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, Option<AttributeValue>>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub subscriptions: Option<Vec<Subscription>>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub phone_verified: Option<bool>,
    #[serde(default)]
    pub activation_required: Option<bool>,
}

impl CustomerPatch {
    /// Applies the patch, validating every changed field; the result is the next version.
    pub fn apply(self, current: &Customer, now: DateTime<Utc>) -> Result<Customer> {
        let mut next = current.clone();
        next.external_id = map_patch(self.external_id, |x| text("external_id", x, MAX_TEXT))?.apply(next.external_id);
        next.email = map_patch(self.email, |x| Email::parse(&x))?.apply(next.email);
        next.phone = map_patch(self.phone, |x| Phone::parse(&x))?.apply(next.phone);
        next.name = map_patch(self.name, |x| text("name", x, MAX_TEXT))?.apply(next.name);
        next.order_number =
            map_patch(self.order_number, |x| text("order_number", x, MAX_TEXT))?.apply(next.order_number);
        next.signup_date = self.signup_date.apply(next.signup_date);
        next.registration_date = self.registration_date.apply(next.registration_date);
        if let Some(changes) = self.attributes {
            for (key, value) in changes {
                match value {
                    Some(v) => next.attributes.insert(key, v),
                    None => next.attributes.remove(&key),
                };
            }
            check_attributes(&next.attributes)?;
        }
        if let Some(t) = self.tags {
            next.tags = tags(t)?;
        }
        if let Some(s) = self.subscriptions {
            check_subscriptions(&s)?;
            next.subscriptions = s;
        }
        next.email_verified = self.email_verified.unwrap_or(next.email_verified);
        next.phone_verified = self.phone_verified.unwrap_or(next.phone_verified);
        next.activation_required = self.activation_required.unwrap_or(next.activation_required);
        next.updated_at = now;
        next.version = current.version + 1;
        Ok(next)
    }
}

fn map_patch<T, U>(p: Patch<T>, f: impl FnOnce(T) -> Result<U>) -> Result<Patch<U>> {
    Ok(match p {
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
        Patch::Set(v) => Patch::Set(f(v)?),
    })
}

/// A trimmed, non-empty free-text value of bounded length without control characters.
fn text(field: &str, value: String, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(DomainError::validation(
            field,
            format!("{field} must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(v.to_owned())
}

fn tags(raw: Vec<String>) -> Result<BTreeSet<String>> {
    let set = raw
        .into_iter()
        .map(|t| text("tags", t, 64))
        .collect::<Result<BTreeSet<_>>>()?;
    if set.len() > MAX_TAGS {
        return Err(DomainError::validation(
            "tags",
            format!("a customer can have at most {MAX_TAGS} tags"),
        ));
    }
    Ok(set)
}

fn check_attributes(attrs: &BTreeMap<String, AttributeValue>) -> Result<()> {
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(DomainError::validation(
            "attributes",
            format!("a customer can have at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (key, value) in attrs {
        let name_ok = key.len() <= 64
            && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(DomainError::validation(
                "attributes",
                format!("attribute name {key:?} must start with a letter or '_' and use only letters, digits and '_' (at most 64)"),
            ));
        }
        match value {
            AttributeValue::String(s) if s.chars().count() > MAX_ATTRIBUTE_TEXT => {
                return Err(DomainError::validation(
                    "attributes",
                    format!("attribute {key:?} is longer than {MAX_ATTRIBUTE_TEXT} characters"),
                ))
            }
            AttributeValue::Number(n) if !n.is_finite() => {
                return Err(DomainError::validation(
                    "attributes",
                    format!("attribute {key:?} must be a finite number"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn check_subscriptions(subs: &[Subscription]) -> Result<()> {
    if subs.len() > MAX_SUBSCRIPTIONS {
        return Err(DomainError::validation(
            "subscriptions",
            format!("a customer can have at most {MAX_SUBSCRIPTIONS} subscriptions"),
        ));
    }
    let mut seen = BTreeSet::new();
    for s in subs {
        for (field, v) in [
            ("application", Some(&s.application)),
            ("product", s.product.as_ref()),
            ("plan", s.plan.as_ref()),
            ("period", s.period.as_ref()),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() || v.chars().count() > 128 || v.chars().any(char::is_control) {
                    return Err(DomainError::validation(
                        "subscriptions",
                        format!("subscription {field} must be 1 to 128 characters"),
                    ));
                }
            }
        }
        if !seen.insert((&s.application, &s.product, &s.plan)) {
            return Err(DomainError::validation(
                "subscriptions",
                format!(
                    "subscription for application {:?}, product {:?}, plan {:?} is listed twice",
                    s.application, s.product, s.plan
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-24T10:00:00Z".parse().unwrap()
    }

    fn created(json: serde_json::Value) -> Result<Customer> {
        serde_json::from_value::<NewCustomer>(json)
            .unwrap()
            .into_customer(now())
    }

    #[test]
    fn create_normalises_identities_and_generates_an_id() {
        let c = created(serde_json::json!({
            "email": " Ana@Example.com", "phone": "380980000000", "tags": ["vip", "vip", " b "],
            "attributes": {"tier": {"type": "string", "value": "gold"}, "born": {"type": "date", "value": "1990-01-02"}}
        }))
        .unwrap();
        assert_eq!(c.email.unwrap().as_str(), "ana@example.com");
        assert_eq!(c.phone.unwrap().as_str(), "+380980000000");
        assert_eq!(c.tags.into_iter().collect::<Vec<_>>(), vec!["b", "vip"]);
        assert_eq!(c.version, 1);
        assert!(CustomerId::parse(c.id.as_str()).is_ok());
    }

    #[test]
    fn create_rejects_bad_attribute_names_and_duplicate_subscriptions() {
        let bad_attr = created(serde_json::json!({"attributes": {"1x": {"type": "number", "value": 1}}}));
        assert!(matches!(bad_attr, Err(DomainError::Validation { field, .. }) if field == "attributes"));
        let sub = serde_json::json!({"application": "app", "status": "active"});
        let dup = created(serde_json::json!({"subscriptions": [sub.clone(), sub]}));
        assert!(matches!(dup, Err(DomainError::Validation { field, .. }) if field == "subscriptions"));
    }

    #[test]
    fn attribute_values_must_match_their_declared_type() {
        let wrong = serde_json::from_value::<NewCustomer>(
            serde_json::json!({"attributes": {"x": {"type": "date", "value": "not a date"}}}),
        );
        assert!(wrong.is_err());
    }

    #[test]
    fn patch_sets_clears_and_merges_attributes() {
        let c = created(serde_json::json!({
            "id": "c1", "email": "a@b.com", "name": "Ana",
            "attributes": {"a": {"type": "boolean", "value": true}, "b": {"type": "number", "value": 2}}
        }))
        .unwrap();
        let patch: CustomerPatch = serde_json::from_value(serde_json::json!({
            "name": null, "phone": "+44 20 7946 0958", "attributes": {"a": null, "c": {"type": "string", "value": "x"}}
        }))
        .unwrap();
        let next = patch.apply(&c, now()).unwrap();
        assert_eq!(next.name, None);
        assert_eq!(next.email, c.email, "absent fields are kept");
        assert_eq!(next.phone.unwrap().as_str(), "+442079460958");
        assert_eq!(next.attributes.keys().collect::<Vec<_>>(), vec!["b", "c"]);
        assert_eq!(next.version, 2);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_value::<NewCustomer>(serde_json::json!({"emial": "a@b.com"})).is_err());
        assert!(serde_json::from_value::<CustomerPatch>(serde_json::json!({"groups": []})).is_err());
    }
}
