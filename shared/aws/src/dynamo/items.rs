//! Typed item shapes (serde_dynamo). The storage shape is separate from the API shape: it adds keys,
//! keeps `groups` as a DynamoDB string set (so membership changes are atomic ADD/DELETE) and the version.

use cg_domain::contact::{Email, Phone};
use cg_domain::customer::{Activity, AttributeValue, Customer, MemberProfile, Subscription};
use cg_domain::group::{Group, GroupKind, Member, SyncStatus};
use cg_domain::ids::{CustomerId, GroupId};
use cg_domain::rules::LifecycleSettings;
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

/// A group. Rules are stored as JSON text: their shape is the API's, and text round-trips numbers exactly.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_groups_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<LifecycleSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses_groups: Vec<GroupId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}

fn to_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|x| x.to_string())
}

fn from_text(v: Option<String>) -> Option<serde_json::Value> {
    v.and_then(|x| serde_json::from_str(&x).ok())
}

impl GroupItem {
    pub fn new(pk: String, sk: String, g: &Group) -> Self {
        GroupItem {
            pk,
            sk,
            id: g.id.clone(),
            name: g.name.clone(),
            kind: g.kind,
            member_count: g.member_count,
            created_at: g.created_at,
            updated_at: g.updated_at,
            deleting: false,
            rules_json: to_text(&g.rules),
            condition_groups_json: to_text(&g.condition_groups),
            template: g.template.clone(),
            settings: g.settings,
            uses_groups: g.uses_groups.clone(),
            sync: g.sync.clone(),
        }
    }

    pub fn into_group(self) -> Group {
        Group {
            id: self.id,
            name: self.name,
            kind: self.kind,
            member_count: self.member_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
            rules: from_text(self.rules_json),
            condition_groups: from_text(self.condition_groups_json),
            template: self.template,
            settings: self.settings,
            uses_groups: self.uses_groups,
            sync: self.sync,
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
