//! Saved filters (seed 004 section 2.3: "like a temporary customer group"): a name and a filter in its
//! stored form, validated exactly as a search's (and so as a group's rules, with the bad node's path).

use super::{CustomerQuery, SimpleFilter};
use crate::error::{DomainError, Result};
use crate::group::{group_name, GroupKind, RuleFields};
use crate::ids::FilterId;
use crate::rules::LifecycleSettings;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A saved filter as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedFilter {
    /// The filter's id.
    pub id: FilterId,
    /// Its name (1 to 200 characters).
    pub name: String,
    /// The filter in its stored form: `rules` | `condition_groups` | `template` (+ `extra`),
    /// `settings`, `simple`.
    pub filter: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last renamed or changed.
    pub updated_at: DateTime<Utc>,
}

impl SavedFilter {
    /// The filter, parsed again (a stored filter was valid when saved).
    pub fn query(&self) -> Result<CustomerQuery> {
        CustomerQuery::from_json(&self.filter)
    }
}

/// The body of `POST /filters` and `PATCH /filters/{id}`: a name and the filter fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    /// The name (required on create).
    #[serde(default)]
    pub name: Option<String>,
    /// A rule tree.
    #[serde(default)]
    pub rules: Option<Value>,
    /// Condition groups.
    #[serde(default)]
    pub condition_groups: Option<Value>,
    /// A built-in template.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's extra conditions.
    #[serde(default)]
    pub extra: Option<Value>,
    /// Lifecycle day counts.
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
    /// Seed 004's simple filter.
    #[serde(default)]
    pub simple: Option<SimpleFilter>,
}

impl FilterBody {
    fn has_filter(&self) -> bool {
        self.rules.is_some()
            || self.condition_groups.is_some()
            || self.template.is_some()
            || self.extra.is_some()
            || self.settings.is_some()
            || self.simple.is_some()
    }

    fn query(&self) -> Result<CustomerQuery> {
        let fields = RuleFields {
            rules: self.rules.as_ref(),
            condition_groups: self.condition_groups.as_ref(),
            template: self.template.as_deref(),
            extra: self.extra.as_ref(),
        };
        CustomerQuery::parse(fields, self.settings, self.simple.clone())
    }
}

/// A parsed new filter, or a parsed change (`None`: keep).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterInput {
    /// The checked name.
    pub name: Option<String>,
    /// The filter; on a change, given fields replace the whole filter.
    pub query: Option<CustomerQuery>,
}

impl FilterInput {
    /// A new filter: a name and a filter (no filter fields: every customer).
    pub fn new_filter(b: FilterBody) -> Result<FilterInput> {
        let Some(name) = &b.name else {
            return Err(DomainError::validation("name", "a saved filter needs a name"));
        };
        Ok(FilterInput {
            name: Some(group_name(name)?),
            query: Some(b.query()?),
        })
    }

    /// A change: a new name, a new filter, or both; at least one.
    pub fn change(b: FilterBody) -> Result<FilterInput> {
        let name = b.name.as_deref().map(group_name).transpose()?;
        let query = if b.has_filter() { Some(b.query()?) } else { None };
        if name.is_none() && query.is_none() {
            return Err(DomainError::validation(
                "name",
                "give a new name, a new filter (rules, condition_groups, template, simple), or both",
            ));
        }
        Ok(FilterInput { name, query })
    }
}

/// The body of `POST /filters/{id}/copy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    /// The copy's name (default: "Copy of <name>").
    #[serde(default)]
    pub name: Option<String>,
}

/// The body of `POST /filters/{id}/groups`: the group to save the filter as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveAsGroupBody {
    /// The group's name.
    pub name: String,
    /// `dynamic` (the filter's rules, kept current) or `static` (the customers matching now).
    #[serde(rename = "type")]
    pub kind: GroupKind,
}

/// A parsed save-as-group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveAsGroup {
    /// The checked name.
    pub name: String,
    /// Static or dynamic.
    pub kind: GroupKind,
}

impl TryFrom<SaveAsGroupBody> for SaveAsGroup {
    type Error = DomainError;

    fn try_from(b: SaveAsGroupBody) -> Result<Self> {
        Ok(SaveAsGroup {
            name: group_name(&b.name)?,
            kind: b.kind,
        })
    }
}
