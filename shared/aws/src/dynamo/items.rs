//! Typed item shapes (serde_dynamo). The storage shape is separate from the API shape: it adds keys,
//! keeps `groups` as a DynamoDB string set (so membership changes are atomic ADD/DELETE) and the version.

use cg_domain::contact::{Email, Phone};
use cg_domain::customer::{Activity, AttributeValue, Customer, MemberProfile, Subscription};
use cg_domain::group::{Group, GroupKind, Member, SyncStatus};
use cg_domain::history::{Change, HistoryEntry};
use cg_domain::ids::{CustomerId, GroupId, TenantId};
use cg_domain::rules::{Definition, LifecycleSettings};
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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub balances: cg_domain::balance::Balances,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wake_at: Option<DateTime<Utc>>,
    /// CreatedIndex keys: the partition's key and `keys::created_sk` (creation time, then id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_sk: Option<String>,
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
            created_pk: Some(pk.clone()),
            created_sk: Some(crate::keys::created_sk(c.created_at, &c.id)),
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
            balances: c.balances.clone(),
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
            balances: self.balances,
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

/// The stored text of a definition: `rules_json` for a tree, `condition_groups_json` for condition groups.
fn to_text(d: Option<&Definition>) -> (Option<String>, Option<String>) {
    match d.map(Definition::to_json) {
        Some(serde_json::Value::Object(mut m)) => (
            m.remove("rules").map(|v| v.to_string()),
            m.remove("condition_groups").map(|v| v.to_string()),
        ),
        _ => (None, None),
    }
}

fn json_text(field: &str, text: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    text.map(|t| serde_json::from_str(t).map_err(|e| format!("{field} is not JSON: {e}")))
        .transpose()
}

impl GroupItem {
    pub fn new(pk: String, sk: String, g: &Group) -> Self {
        let (rules_json, condition_groups_json) = to_text(g.definition.as_ref());
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
            rules_json,
            condition_groups_json,
            template: g.template.clone(),
            settings: g.settings,
            uses_groups: g.uses_groups.clone(),
            sync: g.sync.clone(),
        }
    }

    /// The group with its rules parsed once; stored rules that no longer parse are corrupt data.
    pub fn into_group(self) -> cg_domain::Result<Group> {
        let definition = if self.kind == GroupKind::Static {
            None
        } else {
            let rules = json_text("rules_json", self.rules_json.as_deref());
            let groups = json_text("condition_groups_json", self.condition_groups_json.as_deref());
            let parsed = rules
                .and_then(|r| groups.map(|g| (r, g)))
                .and_then(|(r, g)| Definition::parse(r.as_ref(), g.as_ref()).map_err(|e| e.to_string()));
            Some(parsed.map_err(|e| {
                cg_domain::DomainError::Internal(format!("stored rules of group {} do not parse: {e}", self.id))
            })?)
        };
        Ok(Group {
            id: self.id,
            name: self.name,
            kind: self.kind,
            member_count: self.member_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
            definition,
            template: self.template,
            settings: self.settings,
            uses_groups: self.uses_groups,
            sync: self.sync,
        })
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
    /// The member row of a customer in a group, with the customer's columns copied.
    pub fn new(t: &TenantId, g: &GroupId, c: &Customer, added_at: DateTime<Utc>) -> Self {
        MemberItem {
            pk: crate::keys::members_pk(t, g),
            sk: crate::keys::member_sk(&c.id),
            customer_id: c.id.clone(),
            profile: c.member_view(),
            added_at,
        }
    }

    pub fn into_member(self) -> Member {
        Member {
            customer_id: self.customer_id,
            profile: self.profile,
            added_at: self.added_at,
        }
    }
}

/// One entry or exit in a group's history (kept `HISTORY_DAYS` by TTL).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HistoryItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub at: DateTime<Utc>,
    pub customer_id: CustomerId,
    pub change: Change,
    pub reason: String,
    pub ttl: i64,
    /// Marks the item for the change stream's filter (issue 16): [`attr::FEED_MEMBERSHIP`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// The customer's email at the change, so an email list can remove the contact after it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

impl HistoryItem {
    /// The history item of one entry or exit, marked for the change stream.
    pub fn new(
        t: &TenantId,
        g: &GroupId,
        c: &CustomerId,
        email: Option<&Email>,
        change: Change,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Self {
        HistoryItem {
            pk: crate::keys::history_pk(t, g),
            sk: crate::keys::history_sk(now, c, change == Change::Entered),
            at: now,
            customer_id: c.clone(),
            change,
            reason: reason.to_owned(),
            ttl: (now + chrono::Duration::days(cg_domain::history::HISTORY_DAYS)).timestamp(),
            feed: Some(attr::FEED_MEMBERSHIP.to_owned()),
            email: email.cloned(),
        }
    }

    pub fn into_entry(self) -> HistoryEntry {
        HistoryEntry {
            at: self.at,
            customer_id: self.customer_id,
            change: self.change,
            reason: self.reason,
        }
    }
}

/// A member row's keys and customer, as a purge reads them.
#[derive(Debug, Deserialize)]
pub(crate) struct MemberKeyItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub customer_id: CustomerId,
}

/// A saved filter; the filter is stored as JSON text (its shape is the API's; text keeps numbers exact).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FilterItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: cg_domain::ids::FilterId,
    pub name: String,
    pub filter_json: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Attribute names and conditions the stores' expressions share, named once beside the items.
pub(crate) mod attr {
    /// A group's exact member count.
    pub const MEMBER_COUNT: &str = "member_count";
    /// A group that is being deleted carries this.
    pub const DELETING: &str = "deleting";
    /// The item exists.
    pub const EXISTS: &str = "attribute_exists(PK)";
    /// The item does not exist yet.
    pub const IS_NEW: &str = "attribute_not_exists(PK)";
    /// A group item that exists and is not being deleted.
    pub const GROUP_IS_LIVE: &str = "attribute_exists(PK) AND attribute_not_exists(deleting)";
    /// An item that exists and was last updated at `:expected`.
    pub const UNCHANGED_SINCE: &str = "attribute_exists(PK) AND updated_at = :expected";
    /// A customer item still at version `:v`.
    pub const VERSION_IS: &str = "version = :v";
    /// Adds the group set `:g` to a customer's `groups` and bumps its version.
    pub const ADD_TO_GROUPS: &str = "ADD #groups :g, version :one";
    /// Removes the group set `:g` from a customer's `groups` and bumps its version.
    pub const REMOVE_FROM_GROUPS: &str = "DELETE #groups :g ADD version :one";
    /// The placeholder name of `groups` (a reserved word in expressions).
    pub const GROUPS_NAME: (&str, &str) = ("#groups", "groups");
    /// `feed` on a history item: the change stream's filter passes it to the dispatcher.
    pub const FEED_MEMBERSHIP: &str = "membership";
    /// `feed` on a notification item.
    pub const FEED_NOTIFICATION: &str = "notification";
    /// A timeline entry's type (`type` is a reserved word).
    pub const ENTRY_TYPE: &str = "entry_type";
    /// A timeline entry whose type starts with `:tp`.
    pub const ENTRY_TYPE_PREFIX: &str = "begins_with(entry_type, :tp)";
}
