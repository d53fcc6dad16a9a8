//! Typed item shapes (serde_dynamo). The storage shape is separate from the API shape: it adds keys,
//! keeps `groups` as a DynamoDB string set (so membership changes are atomic ADD/DELETE) and the version.

use cg_domain::contact::{Email, Phone};
use cg_domain::customer::{Activity, AttributeValue, Customer, MemberProfile, Subscription};
use cg_domain::group::{Group, GroupKind, Member};
use cg_domain::ids::{CustomerId, GroupId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CustomerItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
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
    #[serde(default)]
    pub activation_required: bool,
    #[serde(default)]
    pub activity: Activity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wake_at: Option<DateTime<Utc>>,
    /// WakeIndex keys, present only while `next_wake_at` is set (a sparse index of customers to wake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_sk: Option<String>,
    /// DynamoDB has no empty sets: an absent attribute means no groups.
    #[serde(
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        with = "serde_dynamo::string_set"
    )]
    pub groups: BTreeSet<GroupId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl CustomerItem {
    pub fn new(pk: String, sk: String, wake: Option<(String, String)>, c: &Customer) -> Self {
        let (wake_pk, wake_sk) = wake.unzip();
        CustomerItem {
            pk,
            sk,
            id: c.id.clone(),
            external_id: c.external_id.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            name: c.name.clone(),
            order_number: c.order_number.clone(),
            signup_date: c.signup_date,
            registration_date: c.registration_date,
            attributes: c.attributes.clone(),
            tags: c.tags.clone(),
            subscriptions: c.subscriptions.clone(),
            email_verified: c.email_verified,
            phone_verified: c.phone_verified,
            activation_required: c.activation_required,
            activity: c.activity.clone(),
            next_wake_at: c.next_wake_at,
            wake_pk,
            wake_sk,
            groups: c.groups.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }

    pub fn into_customer(self) -> Customer {
        Customer {
            id: self.id,
            external_id: self.external_id,
            email: self.email,
            phone: self.phone,
            name: self.name,
            order_number: self.order_number,
            signup_date: self.signup_date,
            registration_date: self.registration_date,
            attributes: self.attributes,
            tags: self.tags,
            subscriptions: self.subscriptions,
            email_verified: self.email_verified,
            phone_verified: self.phone_verified,
            activation_required: self.activation_required,
            activity: self.activity,
            next_wake_at: self.next_wake_at,
            groups: self.groups,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IdentityItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub customer_id: CustomerId,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct GroupItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: GroupId,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: GroupKind,
    pub member_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the group is deleted; its members are then purged by a job.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

impl GroupItem {
    pub fn into_group(self) -> Group {
        Group {
            id: self.id,
            name: self.name,
            kind: self.kind,
            member_count: self.member_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MemberItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub customer_id: CustomerId,
    #[serde(flatten)]
    pub profile: MemberProfile,
    pub added_at: DateTime<Utc>,
}

impl MemberItem {
    pub fn into_member(self) -> Member {
        Member {
            customer_id: self.customer_id,
            profile: self.profile,
            added_at: self.added_at,
        }
    }
}
