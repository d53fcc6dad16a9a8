//! The target of a search, a count or a bulk action (DESIGN.md section 7): a filter given in the body
//! (the rule language and the simple filter), a saved filter, a group's members, or a list of ids. A
//! body carries the target fields flat beside its own (`target_body!`); exactly one kind may be given.
//! A job stores the target resolved ([`TargetSpec`]: a saved filter is copied in as it was when the job
//! started), so what a job acts on never changes under it.

use super::{CustomerQuery, SimpleFilter};
use crate::error::{DomainError, Result};
use crate::group::RuleFields;
use crate::ids::{CustomerId, FilterId, GroupId, PathId};
use crate::rules::LifecycleSettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most ids a `customer_ids` target lists (bodies stay within the 256 KiB limit).
pub const MAX_TARGET_IDS: usize = 1000;

/// Declares a request body with the target fields (`rules`, `condition_groups`, `template`, `extra`,
/// `settings`, `simple`, `filter_id`, `group_id`, `customer_ids`) beside its own fields, and
/// `target_fields()` to read them. (`#[serde(flatten)]` cannot be used with `deny_unknown_fields`.)
macro_rules! target_body {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// A rule tree (as in dynamic groups).
            #[serde(default)]
            pub rules: Option<serde_json::Value>,
            /// Condition groups: OR inside a group, AND between groups.
            #[serde(default)]
            pub condition_groups: Option<serde_json::Value>,
            /// A built-in template.
            #[serde(default)]
            pub template: Option<String>,
            /// Extra conditions of the template.
            #[serde(default)]
            pub extra: Option<serde_json::Value>,
            /// Renewing, expiring and inactive days of the lifecycle conditions.
            #[serde(default)]
            pub settings: Option<crate::rules::LifecycleSettings>,
            /// Seed 004's simple filter.
            #[serde(default)]
            pub simple: Option<crate::search::SimpleFilter>,
            /// A saved filter.
            #[serde(default)]
            pub filter_id: Option<String>,
            /// A group's members.
            #[serde(default)]
            pub group_id: Option<String>,
            /// A list of customer ids.
            #[serde(default)]
            pub customer_ids: Option<Vec<String>>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The target fields, borrowed.
            pub fn target_fields(&self) -> crate::search::target::TargetFields<'_> {
                crate::search::target::TargetFields {
                    rules: self.rules.as_ref(),
                    condition_groups: self.condition_groups.as_ref(),
                    template: self.template.as_deref(),
                    extra: self.extra.as_ref(),
                    settings: self.settings,
                    simple: self.simple.as_ref(),
                    filter_id: self.filter_id.as_deref(),
                    group_id: self.group_id.as_deref(),
                    customer_ids: self.customer_ids.as_deref(),
                }
            }
        }
    };
}
pub(crate) use target_body;

/// The target fields of a body, before parsing.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetFields<'a> {
    /// `rules`.
    pub rules: Option<&'a Value>,
    /// `condition_groups`.
    pub condition_groups: Option<&'a Value>,
    /// `template`.
    pub template: Option<&'a str>,
    /// `extra`.
    pub extra: Option<&'a Value>,
    /// `settings`.
    pub settings: Option<LifecycleSettings>,
    /// `simple`.
    pub simple: Option<&'a SimpleFilter>,
    /// `filter_id`.
    pub filter_id: Option<&'a str>,
    /// `group_id`.
    pub group_id: Option<&'a str>,
    /// `customer_ids`.
    pub customer_ids: Option<&'a [String]>,
}

/// Which targets a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Filters only (search, count, export); no target means every customer.
    Filters,
    /// Any target, and one must be given (bulk actions: every customer only as an explicit
    /// `{"rules": {"all_customers": {}}}`).
    Any,
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A filter given in the body (every customer when none is given).
    Filter(Box<CustomerQuery>),
    /// A saved filter, read when the request runs.
    SavedFilter(FilterId),
    /// A group's members.
    Group(GroupId),
    /// Customers named by id (duplicates removed, order kept).
    Ids(Vec<CustomerId>),
}

const ONE_TARGET: &str = "give one target: rules, condition_groups or template and/or simple (a filter), filter_id (a saved filter), group_id (a group's members) or customer_ids";

impl Target {
    /// Parses the target fields; bad rules name the node's path, bad ids `customer_ids[i]`.
    pub fn parse(f: TargetFields<'_>, allowed: Targets) -> Result<Target> {
        let filter = f.rules.is_some()
            || f.condition_groups.is_some()
            || f.template.is_some()
            || f.extra.is_some()
            || f.simple.is_some()
            || f.settings.is_some();
        let given = [
            filter,
            f.filter_id.is_some(),
            f.group_id.is_some(),
            f.customer_ids.is_some(),
        ];
        let count = given.iter().filter(|g| **g).count();
        if count > 1 {
            return Err(DomainError::validation("target", ONE_TARGET));
        }
        if allowed == Targets::Filters && (f.group_id.is_some() || f.customer_ids.is_some()) {
            return Err(DomainError::validation(
                if f.group_id.is_some() { "group_id" } else { "customer_ids" },
                "this route takes a filter (rules, condition_groups, template, simple) or a saved filter (filter_id); list a group's members with GET /groups/{groupId}/members",
            ));
        }
        if count == 0 && allowed == Targets::Any {
            return Err(DomainError::validation(
                "target",
                format!("{ONE_TARGET}; for every customer say so: {{\"rules\": {{\"all_customers\": {{}}}}}}"),
            ));
        }
        if let Some(id) = f.filter_id {
            return FilterId::parse(id)
                .map(Target::SavedFilter)
                .map_err(|_| FilterId::not_found(id));
        }
        if let Some(id) = f.group_id {
            return GroupId::parse(id)
                .map(Target::Group)
                .map_err(|_| DomainError::not_found(format!("no group with id {id:?}")));
        }
        if let Some(ids) = f.customer_ids {
            if ids.is_empty() || ids.len() > MAX_TARGET_IDS {
                return Err(DomainError::validation(
                    "customer_ids",
                    format!("customer_ids lists 1 to {MAX_TARGET_IDS} ids; act on more through a filter or a group"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(ids.len());
            for (i, raw) in ids.iter().enumerate() {
                let id = CustomerId::parse(raw.trim()).map_err(|e| match e {
                    DomainError::Validation { message, .. } => {
                        DomainError::validation(format!("customer_ids[{i}]"), message)
                    }
                    other => other,
                })?;
                if seen.insert(id.clone()) {
                    out.push(id);
                }
            }
            return Ok(Target::Ids(out));
        }
        let rules = RuleFields {
            rules: f.rules,
            condition_groups: f.condition_groups,
            template: f.template,
            extra: f.extra,
        };
        CustomerQuery::parse(rules, f.settings, f.simple.cloned()).map(|q| Target::Filter(Box::new(q)))
    }
}

/// A target as a job stores it: resolved and self-contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetSpec {
    /// A filter (given, or copied from the saved filter `filter_id`) over the customer partitions.
    Filter {
        /// The filter in its stored form (`CustomerQuery::to_json`).
        query: Value,
        /// The saved filter it came from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter_id: Option<FilterId>,
    },
    /// A group's members.
    Group {
        /// The group.
        group_id: GroupId,
    },
    /// Customers by id.
    Ids {
        /// The ids, without duplicates.
        ids: Vec<CustomerId>,
    },
}

impl TargetSpec {
    /// The spec of a filter.
    pub fn filter(q: &CustomerQuery, filter_id: Option<FilterId>) -> TargetSpec {
        TargetSpec::Filter {
            query: q.to_json(),
            filter_id,
        }
    }

    /// The filter a job evaluates on every customer it reads (`None`: a group's or a list's customers
    /// are all matches).
    pub fn query(&self) -> Result<Option<CustomerQuery>> {
        match self {
            TargetSpec::Filter { query, .. } => CustomerQuery::from_json(query).map(Some),
            _ => Ok(None),
        }
    }

    /// The canonical text of the target: a confirmation token is bound to it.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
