//! The bodies of `POST /customers` and `PATCH /customers/{id}`, and the validation every customer
//! write goes through (text bounds, tags, attributes, subscriptions).

use super::{AttributeValue, Customer, Subscription, MAX_ATTRIBUTES, MAX_SUBSCRIPTIONS, MAX_TAGS};
use crate::activity::Activity;
use crate::bounds::{check_date, check_number, check_opt_instant};
use crate::contact::{Email, Phone};
use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use crate::patch::Patch;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

const MAX_TEXT: usize = 256;
const MAX_ATTRIBUTE_TEXT: usize = 1024;

/// The body of `POST /customers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// The customer's id; generated (UUID v7) when absent.
    pub id: Option<CustomerId>,
    /// The tenant's own id for the customer (e.g. from a CRM); unique within the tenant.
    pub external_id: Option<String>,
    /// Any case, surrounding spaces allowed; stored trimmed and lower-cased, unique within the tenant.
    pub email: Option<String>,
    /// With its country code (`+380...`, `380...` or `00380...`); stored as E.164, unique within the tenant.
    pub phone: Option<String>,
    /// Display name: 1 to 256 characters after trimming, no control characters.
    pub name: Option<String>,
    /// The tenant's order reference (1 to 256 characters); the export's Order Number column.
    pub order_number: Option<String>,
    /// When the customer signed up (`YYYY-MM-DD`); the export's Signup Date column.
    pub signup_date: Option<NaiveDate>,
    /// When the customer registered (`YYYY-MM-DD`); a later `customer.registered` event keeps it.
    pub registration_date: Option<NaiveDate>,
    /// Typed custom attributes by name (letters, digits and `_`, at most 64 characters; at most 100).
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Labels of 1 to 64 characters; duplicates collapse, at most 100 remain.
    #[serde(default)]
    pub tags: Vec<String>,
    /// At most 50, one per application/product/plan.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Whether the email is already verified (default false).
    #[serde(default)]
    pub email_verified: bool,
    /// Whether the phone is already verified (default false).
    #[serde(default)]
    pub phone_verified: bool,
    /// Whether the account still awaits activation (default false).
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
            balances: Default::default(),
            next_wake_at: None,
            groups: BTreeSet::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_attributes(&customer.attributes)?;
        check_dates(&customer)?;
        customer.check_size()?;
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
    /// A new external id (unique within the tenant), or `null` to remove it.
    #[serde(default)]
    pub external_id: Patch<String>,
    /// A new email, normalised and checked as on create, or `null` to remove it.
    #[serde(default)]
    pub email: Patch<String>,
    /// A new phone number, normalised to E.164 as on create, or `null` to remove it.
    #[serde(default)]
    pub phone: Patch<String>,
    /// A new display name (1 to 256 characters), or `null` to remove it.
    #[serde(default)]
    pub name: Patch<String>,
    /// A new order number (1 to 256 characters), or `null` to remove it.
    #[serde(default)]
    pub order_number: Patch<String>,
    /// A new signup date, or `null` to remove it.
    #[serde(default)]
    pub signup_date: Patch<NaiveDate>,
    /// A new registration date, or `null` to remove it.
    #[serde(default)]
    pub registration_date: Patch<NaiveDate>,
    /// Attributes to set by name; a `null` value removes that one, unnamed attributes are kept.
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, Option<AttributeValue>>>,
    /// The new tags, replacing all current ones.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The new subscriptions, replacing all current ones.
    #[serde(default)]
    pub subscriptions: Option<Vec<Subscription>>,
    /// The new email-verified flag; absent keeps it.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// The new phone-verified flag; absent keeps it.
    #[serde(default)]
    pub phone_verified: Option<bool>,
    /// The new activation-required flag; absent keeps it.
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
        check_dates(&next)?;
        if let Some(changes) = self.attributes {
            // The contract's `maxProperties`: a patch names at most as many attributes as a customer holds.
            if changes.len() > MAX_ATTRIBUTES {
                return Err(DomainError::validation(
                    "attributes",
                    format!("a patch may name at most {MAX_ATTRIBUTES} attributes"),
                ));
            }
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
        next.check_size()?;
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
            AttributeValue::Number(n) => check_number(&format!("attributes.{key}"), *n)?,
            AttributeValue::Date(d) => check_date(&format!("attributes.{key}"), *d)?,
            _ => {}
        }
    }
    Ok(())
}

/// The customer's own dates within the accepted range.
fn check_dates(c: &Customer) -> Result<()> {
    for (field, d) in [
        ("signup_date", c.signup_date),
        ("registration_date", c.registration_date),
    ] {
        if let Some(d) = d {
            check_date(field, d)?;
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
        for (field, t) in [
            ("subscriptions.subscribed_at", s.subscribed_at),
            ("subscriptions.renews_at", s.renews_at),
            ("subscriptions.expires_at", s.expires_at),
            ("subscriptions.canceled_at", s.canceled_at),
            ("subscriptions.last_active_at", s.last_active_at),
        ] {
            check_opt_instant(field, t)?;
        }
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
