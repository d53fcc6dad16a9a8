//! Customer search (issue 14, seed 004 section 2.2): the filter that the customer list, counts, saved
//! filters, bulk actions and the export by query all take. A filter is the rule language of dynamic
//! groups (a tree or condition groups, every condition type, relative dates) AND-ed with seed 004's
//! simple filter (an exact email, phone, external id or id, a name or order-number prefix). The simple
//! filter is itself written as rule conditions, so one compiled `rules::Program` decides every match;
//! its exact identities additionally let a search read one customer instead of the partitions.

pub mod count;
mod fields;
mod request;
pub mod saved;
pub mod target;

pub use fields::{FieldSelection, SEARCH_FIELDS};
pub use request::{CountInput, CountRequest, Order, SearchInput, SearchRequest, Sort};

use crate::contact::{Email, Phone};
use crate::customer::Identity;
use crate::error::{DomainError, Result};
use crate::group::RuleFields;
use crate::ids::{CustomerId, GroupId};
use crate::rules::{Condition, Definition, LifecycleSettings, Program, Rule};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Seed 004's simple filter, as given in a body (`"simple": {...}`). Every given field must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleFilter {
    /// Exactly this customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Exactly this email (normalised as on create: trimmed, lower-cased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Exactly this phone (normalised to E.164 as on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Exactly this external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The name starts with this text (case-sensitive, like the rules' `starts_with`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// The order number starts with this text (case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number_prefix: Option<String>,
}

impl SimpleFilter {
    /// Whether no field is given.
    pub fn is_empty(&self) -> bool {
        *self == SimpleFilter::default()
    }
}

/// The exact identities of a simple filter: the one customer they can name, read directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactLookup {
    /// The customer id given.
    pub id: Option<CustomerId>,
    /// Email, phone and external id given, looked up through their identity items.
    pub identities: Vec<Identity>,
}

/// A parsed filter: the rules as given (shown back and saved in their form), the simple filter
/// (normalised), and the one rule tree that decides a match.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerQuery {
    /// The advanced filter as given; `None`: only the simple filter (or everything).
    pub definition: Option<Definition>,
    /// The template the rules came from, if any.
    pub template: Option<String>,
    /// Renewing, expiring and inactive days the lifecycle conditions use.
    pub settings: LifecycleSettings,
    /// The simple filter, normalised (email lower-cased, phone in E.164).
    pub simple: SimpleFilter,
    exact: ExactLookup,
    rule: Rule,
}

/// Longest prefix of the simple filter.
const MAX_PREFIX: usize = 256;

fn invalid(field: &str, message: impl Into<String>) -> DomainError {
    DomainError::validation(field, message)
}

/// Re-names a parsed value's error to the body field it came from (`simple.email`).
fn under(field: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Validation { message, .. } => invalid(field, message),
        other => other,
    }
}

fn condition(kind: &str, v: Value, path: &str) -> Result<Rule> {
    Ok(Rule::Cond(Condition::parse(kind, &v, path)?))
}

impl CustomerQuery {
    /// Parses the rule fields (at most one of rules, condition_groups, template; none means every
    /// customer), the lifecycle settings and the simple filter. Errors name the bad node's path
    /// (`rules.all[1].any`) or the simple filter's field (`simple.email`).
    pub fn parse(
        fields: RuleFields<'_>,
        settings: Option<LifecycleSettings>,
        simple: Option<SimpleFilter>,
    ) -> Result<CustomerQuery> {
        let draft = if fields.any() || fields.extra.is_some() {
            Some(fields.parse()?)
        } else {
            None
        };
        if let Some(s) = &settings {
            s.check()?;
        }
        let (definition, template) = match draft {
            Some(d) => (Some(d.definition), d.template),
            None => (None, None),
        };
        Self::build(
            definition,
            template,
            settings.unwrap_or_default(),
            simple.unwrap_or_default(),
        )
    }

    fn build(
        definition: Option<Definition>,
        template: Option<String>,
        settings: LifecycleSettings,
        simple: SimpleFilter,
    ) -> Result<CustomerQuery> {
        let mut rules: Vec<Rule> = definition.iter().map(|d| d.rule.clone()).collect();
        let mut normal = SimpleFilter::default();
        let mut exact = ExactLookup::default();
        if let Some(raw) = &simple.id {
            let id = CustomerId::parse(raw.trim()).map_err(|e| under("simple.id", e))?;
            rules.push(condition(
                "selected_customers",
                json!({ "ids": id.as_str() }),
                "simple.id",
            )?);
            normal.id = Some(id.to_string());
            exact.id = Some(id);
        }
        if let Some(raw) = &simple.email {
            let e = Email::parse(raw).map_err(|e| under("simple.email", e))?;
            rules.push(condition(
                "attribute",
                json!({"field": "email", "op": "=", "value": e.as_str()}),
                "simple.email",
            )?);
            normal.email = Some(e.as_str().to_owned());
            exact.identities.push(Identity::Email(e));
        }
        if let Some(raw) = &simple.phone {
            let p = Phone::parse(raw).map_err(|e| under("simple.phone", e))?;
            rules.push(condition(
                "attribute",
                json!({"field": "phone", "op": "=", "value": p.as_str()}),
                "simple.phone",
            )?);
            normal.phone = Some(p.as_str().to_owned());
            exact.identities.push(Identity::Phone(p));
        }
        if let Some(raw) = &simple.external_id {
            let x = raw.trim();
            if x.is_empty() || x.chars().count() > MAX_PREFIX || x.chars().any(char::is_control) {
                return Err(invalid(
                    "simple.external_id",
                    format!("external_id must be 1 to {MAX_PREFIX} characters without control characters"),
                ));
            }
            rules.push(condition(
                "attribute",
                json!({"field": "external_id", "op": "=", "value": x}),
                "simple.external_id",
            )?);
            normal.external_id = Some(x.to_owned());
            exact.identities.push(Identity::External(x.to_owned()));
        }
        for (field, raw, name) in [
            ("name", &simple.name_prefix, "simple.name_prefix"),
            (
                "order_number",
                &simple.order_number_prefix,
                "simple.order_number_prefix",
            ),
        ] {
            let Some(raw) = raw else { continue };
            if raw.is_empty() || raw.chars().count() > MAX_PREFIX || raw.chars().any(char::is_control) {
                return Err(invalid(
                    name,
                    format!("a prefix must be 1 to {MAX_PREFIX} characters without control characters"),
                ));
            }
            rules.push(condition(
                "attribute",
                json!({"field": field, "op": "starts_with", "value": raw}),
                name,
            )?);
            if field == "name" {
                normal.name_prefix = Some(raw.clone());
            } else {
                normal.order_number_prefix = Some(raw.clone());
            }
        }
        let rule = match rules.len() {
            0 => Rule::Cond(Condition::AllCustomers),
            1 => rules.pop().expect("one rule"),
            _ => Rule::All(rules),
        };
        Ok(CustomerQuery {
            definition,
            template,
            settings,
            simple: normal,
            exact,
            rule,
        })
    }

    /// Every customer (no rules, no simple filter).
    pub fn everything() -> CustomerQuery {
        CustomerQuery {
            definition: None,
            template: None,
            settings: LifecycleSettings::default(),
            simple: SimpleFilter::default(),
            exact: ExactLookup::default(),
            rule: Rule::Cond(Condition::AllCustomers),
        }
    }

    /// The one rule that decides a match: the advanced filter AND the simple filter.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// The compiled rule, to evaluate pages of customers at once.
    pub fn program(&self) -> Program {
        Program::single(&self.rule, &self.settings)
    }

    /// Whether the filter matches every customer.
    pub fn is_everything(&self) -> bool {
        matches!(self.rule, Rule::Cond(Condition::AllCustomers))
    }

    /// The exact identities given, when there are any: at most one customer can match.
    pub fn exact(&self) -> Option<&ExactLookup> {
        (self.exact.id.is_some() || !self.exact.identities.is_empty()).then_some(&self.exact)
    }

    /// Groups the rules reference (`member_of`), which must exist.
    pub fn referenced_groups(&self) -> BTreeSet<GroupId> {
        self.rule.referenced_groups()
    }

    /// The definition a dynamic group saved from this filter gets: the rules as given when there is no
    /// simple filter, else the whole rule as a tree.
    pub fn as_group_definition(&self) -> Definition {
        match (&self.definition, self.simple.is_empty()) {
            (Some(d), true) => d.clone(),
            _ => Definition {
                rule: self.rule.clone(),
                form: crate::rules::RuleForm::Tree,
            },
        }
    }

    /// The stored and shown form: `{"rules"|"condition_groups", "template", "settings", "simple"}`.
    pub fn to_json(&self) -> Value {
        let mut out = match &self.definition {
            Some(d) => d.to_json(),
            None => json!({}),
        };
        if let Value::Object(m) = &mut out {
            if let Some(t) = &self.template {
                m.insert("template".into(), json!(t));
            }
            m.insert("settings".into(), json!(self.settings));
            if !self.simple.is_empty() {
                m.insert("simple".into(), json!(self.simple));
            }
        }
        out
    }

    /// Reads the stored form back (stored filters are re-parsed, so a stored filter is always valid).
    pub fn from_json(v: &Value) -> Result<CustomerQuery> {
        let settings = match v.get("settings") {
            Some(s) => serde_json::from_value(s.clone())
                .map_err(|e| DomainError::Internal(format!("stored filter settings: {e}")))?,
            None => LifecycleSettings::default(),
        };
        let simple = match v.get("simple") {
            Some(s) => serde_json::from_value(s.clone())
                .map_err(|e| DomainError::Internal(format!("stored simple filter: {e}")))?,
            None => SimpleFilter::default(),
        };
        let definition = match (v.get("rules"), v.get("condition_groups")) {
            (None, None) => None,
            (r, g) => Some(Definition::parse(r, g)?),
        };
        let template = v.get("template").and_then(Value::as_str).map(str::to_owned);
        Self::build(definition, template, settings, simple)
    }
}
