//! Bulk actions over a target (issue 14, seed 004 sections 2.3-2.4): a bulk modify or a bulk delete of
//! the customers a [`TargetSpec`] names. The job is a [`CustomerActionSpec`] on the shared bulk record
//! (fencing, counts, checkpoint, `finish`); the spec holds the resolved target, the action and the
//! walk's position, which every chunk's commit advances with its counts in one transaction.

use crate::customer::{AttributeValue, Customer, CustomerPatch, MAX_TAGS};
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, TenantId};

use crate::search::target::TargetSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Most customers one bulk delete may delete (seed 004: "up to 100,000 pieces of data at a time").
pub const MAX_BULK_DELETE: u64 = 100_000;
/// Shortest reason of a bulk delete (seed 004: "at least 10 characters").
pub const MIN_DELETE_REASON: usize = 10;
/// Longest reason of a bulk delete.
pub const MAX_DELETE_REASON: usize = 1000;
/// Minutes a bulk delete's confirmation token stays valid.
pub const TOKEN_MINUTES: i64 = 15;
/// The statement a user agrees to before a bulk delete (seed 004 section 2.4).
pub const DELETE_STATEMENT: &str = "Bulk delete removes every matching customer for good: the profile, its attributes and tags, its identities (email, phone, external id) and its group memberships. Deleted customers cannot be restored. I have carefully read and agree to this statement.";

/// Profile fields a bulk modify may set (`null` clears the text and date ones).
pub const SETTABLE: [&str; 5] = [
    "name",
    "order_number",
    "signup_date",
    "registration_date",
    "activation_required",
];
const IDENTITIES: [&str; 5] = ["email", "phone", "external_id", "email_verified", "phone_verified"];
const READ_ONLY: [&str; 11] = [
    "id",
    "created_at",
    "updated_at",
    "version",
    "groups",
    "activity",
    "balances",
    "subscriptions",
    "tags",
    "attributes",
    "next_wake_at",
];

/// The `changes` of `POST /customers/bulk-modify`, as given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesBody {
    /// Profile fields to set (`null` clears one).
    #[serde(default)]
    pub set: Option<Map<String, Value>>,
    /// Typed custom attributes to set.
    #[serde(default)]
    pub set_attributes: Option<BTreeMap<String, AttributeValue>>,
    /// Custom attributes to remove.
    #[serde(default)]
    pub unset_attributes: Option<Vec<String>>,
    /// Tags every matching customer gets.
    #[serde(default)]
    pub add_tags: Option<Vec<String>>,
    /// Tags removed from every matching customer.
    #[serde(default)]
    pub remove_tags: Option<Vec<String>>,
}

/// A bulk modify's changes, parsed: a patch of non-identity fields and attributes, tags to add and
/// remove.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// Profile fields set (`null`: cleared).
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Attributes set (`Some`) or removed (`None`).
    #[serde(default)]
    pub attributes: BTreeMap<String, Option<AttributeValue>>,
    /// Tags added.
    #[serde(default)]
    pub add_tags: BTreeSet<String>,
    /// Tags removed.
    #[serde(default)]
    pub remove_tags: BTreeSet<String>,
}

impl TryFrom<ChangesBody> for Changes {
    type Error = DomainError;

    fn try_from(b: ChangesBody) -> Result<Changes> {
        let set = b.set.unwrap_or_default();
        for key in set.keys() {
            let field = format!("changes.set.{key}");
            if IDENTITIES.contains(&key.as_str()) {
                return Err(DomainError::validation(
                    field,
                    format!("{key} belongs to an identity, which a bulk modify cannot change; change it on one customer with PATCH /customers/{{customerId}}"),
                ));
            }
            if READ_ONLY.contains(&key.as_str()) {
                return Err(DomainError::validation(
                    field,
                    format!("{key} is read-only here; a bulk modify sets {} (attributes through set_attributes/unset_attributes, tags through add_tags/remove_tags)", SETTABLE.join(", ")),
                ));
            }
            if !SETTABLE.contains(&key.as_str()) {
                return Err(DomainError::validation(
                    field,
                    format!("unknown field {key:?}; a bulk modify sets {}", SETTABLE.join(", ")),
                ));
            }
        }
        let mut attributes: BTreeMap<String, Option<AttributeValue>> = BTreeMap::new();
        for (k, v) in b.set_attributes.unwrap_or_default() {
            attributes.insert(k, Some(v));
        }
        for (i, k) in b.unset_attributes.unwrap_or_default().into_iter().enumerate() {
            if attributes.contains_key(&k) {
                return Err(DomainError::validation(
                    format!("changes.unset_attributes[{i}]"),
                    format!("attribute {k:?} is both set and unset"),
                ));
            }
            attributes.insert(k, None);
        }
        let add_tags: BTreeSet<String> = b
            .add_tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.trim().to_owned())
            .collect();
        let remove_tags: BTreeSet<String> = b
            .remove_tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.trim().to_owned())
            .collect();
        if let Some(t) = add_tags.intersection(&remove_tags).next() {
            return Err(DomainError::validation(
                "changes.remove_tags",
                format!("tag {t:?} is both added and removed"),
            ));
        }
        let changes = Changes {
            set,
            attributes,
            add_tags,
            remove_tags,
        };
        if changes.set.is_empty()
            && changes.attributes.is_empty()
            && changes.add_tags.is_empty()
            && changes.remove_tags.is_empty()
        {
            return Err(DomainError::validation(
                "changes",
                "give at least one change: set, set_attributes, unset_attributes, add_tags or remove_tags",
            ));
        }
        // Every value is checked once here (text bounds, attribute names, tags), on a blank customer.
        let blank = crate::customer::NewCustomer::default().into_customer(DateTime::<Utc>::UNIX_EPOCH)?;
        changes
            .apply(&blank, DateTime::<Utc>::UNIX_EPOCH)
            .map_err(|e| match e {
                DomainError::Validation { field, message } => {
                    let field = match field.as_str() {
                        "tags" => "changes.add_tags".to_owned(),
                        f if f.starts_with("attributes") => format!("changes.set_{f}"),
                        f => format!("changes.set.{f}"),
                    };
                    DomainError::Validation { field, message }
                }
                other => other,
            })?;
        Ok(changes)
    }
}

impl Changes {
    fn patch(&self, tags: Option<Vec<String>>) -> Result<CustomerPatch> {
        let mut body = self.set.clone();
        if !self.attributes.is_empty() {
            let attrs = serde_json::to_value(&self.attributes)
                .map_err(|e| DomainError::Internal(format!("encode attributes: {e}")))?;
            body.insert("attributes".into(), attrs);
        }
        if let Some(tags) = tags {
            body.insert("tags".into(), Value::from(tags));
        }
        serde_json::from_value(Value::Object(body)).map_err(|e| {
            let msg = e.to_string();
            let field = SETTABLE
                .iter()
                .find(|f| msg.contains(*f))
                .map(|f| format!("changes.set.{f}"))
                .unwrap_or_else(|| "changes.set".into());
            DomainError::validation(field, format!("invalid value: {msg}"))
        })
    }

    /// The customer with the changes applied (validated as a PATCH is); `None` when nothing changes.
    pub fn apply(&self, c: &Customer, now: DateTime<Utc>) -> Result<Option<Customer>> {
        let tags = if self.add_tags.is_empty() && self.remove_tags.is_empty() {
            None
        } else {
            let mut tags = c.tags.clone();
            tags.extend(self.add_tags.iter().cloned());
            tags.retain(|t| !self.remove_tags.contains(t));
            if tags.len() > MAX_TAGS {
                return Err(DomainError::validation(
                    "tags",
                    format!(
                        "the customer would have {} tags; a customer can have at most {MAX_TAGS}",
                        tags.len()
                    ),
                ));
            }
            Some(tags.into_iter().collect())
        };
        let next = self.patch(tags)?.apply(c, now)?;
        let mut same = next.clone();
        same.version = c.version;
        same.updated_at = c.updated_at;
        Ok((same != *c).then_some(next))
    }
}

/// What a bulk action does to each customer of its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CustomerAction {
    /// Set or clear profile fields and attributes, add and remove tags.
    Modify(Changes),
    /// Delete each customer with its identities and memberships.
    Delete {
        /// The user's reason (at least 10 characters).
        reason: String,
        /// The count the preview showed and the user agreed to.
        agreed_count: u64,
    },
}

/// Where the walk of a target is: a filter's partition and last id, a group's last member, an id
/// list's next index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The partition a filter's walk reads (0..shards).
    #[serde(default)]
    pub shard: u32,
    /// The last customer committed in the partition or group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<CustomerId>,
    /// An id list's next index.
    #[serde(default)]
    pub index: u64,
    /// Nothing is left to walk.
    #[serde(default)]
    pub exhausted: bool,
}

/// The spec of a bulk modify or delete job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerActionSpec {
    /// What the job acts on, resolved when it was created.
    pub target: TargetSpec,
    /// What it does to each customer.
    pub action: CustomerAction,
    /// Who started it (the token's subject).
    pub actor: String,
    /// Where the walk is, as of the last commit.
    #[serde(default)]
    pub position: Position,
    /// Failed customers by code, as of the last commit.
    #[serde(default)]
    pub failures: BTreeMap<String, u64>,
}

/// An entry of the audit log (`GET /audit`): who did what to how many customers, why, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The entry's id: the job's.
    pub id: String,
    /// `bulk_modify` or `bulk_delete`.
    pub action: String,
    /// The token subject that started it.
    pub actor: String,
    /// When it was started.
    pub at: DateTime<Utc>,
    /// The user's reason (a bulk delete's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The target as the job stored it.
    pub target: Value,
    /// Customers matched so far (a delete: the count agreed to until the job ends).
    pub count: u64,
    /// `running`, `done` or `failed`, and the counts.
    pub outcome: Value,
}

/// A bulk delete's confirmation, stored single-use under the tenant until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The tenant that previewed.
    pub tenant: TenantId,
    /// The target's canonical text.
    pub target: String,
    /// The count the preview showed.
    pub count: u64,
    /// The token subject that previewed.
    pub subject: String,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// The job that used it, once used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
    /// The count job that counted `count` (a tenant too large to count within a request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_job: Option<crate::ids::BulkJobId>,
}
