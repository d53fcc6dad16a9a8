//! The mapping `POST /imports/{id}/start` takes: each column to a profile field, a typed attribute,
//! tags, or nothing; the identities to match on; the mode; what to add to every imported customer. It
//! is checked against the analysed header, and the same shape is what analysis suggests.

use crate::error::{DomainError, Result};
use crate::ids::GroupId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One column's mapping: `{"column": "E-mail", "field": "email"}`,
/// `{"column": "Points", "field": "attributes.points", "type": "number"}`,
/// `{"column": "Labels", "field": "tags", "separator": ";"}`, `{"column": "Notes", "field": "ignore"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// The header name of the column.
    pub column: String,
    /// `id`, `external_id`, `email`, `phone`, `name`, `order_number`, `signup_date`,
    /// `registration_date`, `attributes.<key>`, `tags` or `ignore`.
    pub field: String,
    /// An attribute's type: `string` (default), `number`, `boolean` or `date`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<AttributeKind>,
    /// The separator between tags in one cell (default `,`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// The type of an imported attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeKind {
    /// Text.
    String,
    /// A finite number.
    Number,
    /// `true`/`false`, `yes`/`no`, `1`/`0`.
    Boolean,
    /// `YYYY-MM-DD` or a spreadsheet date.
    Date,
}

/// An identity a row can find an existing customer by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The customer id.
    Id,
    /// The tenant's external id.
    ExternalId,
    /// The mobile phone number.
    Phone,
    /// The email address.
    Email,
}

/// Whether rows create customers, update them, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// A row that matches a customer updates it; one that matches none creates one.
    #[default]
    CreateAndUpdate,
    /// Only new customers; a row that matches one fails (`already_exists`).
    CreateOnly,
    /// Only existing customers; a row that matches none fails (`not_found`).
    UpdateOnly,
}

/// What is added to every imported customer (seed 004: "add sources, tags ... and groups").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddToEach {
    /// Tags added to every imported customer (besides its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Stored as the string attribute `source` of customers that have none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Static groups every imported customer joins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupId>,
}

fn default_match() -> Vec<MatchKey> {
    vec![MatchKey::Id, MatchKey::Phone, MatchKey::Email]
}

/// The body of `POST /imports/{id}/start` (and the analysis' suggestion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRequest {
    /// The mapped columns; columns not listed are ignored.
    pub columns: Vec<ColumnMapping>,
    /// The identities that find existing customers (seed 004's default: customer id, mobile phone,
    /// email).
    #[serde(default = "default_match")]
    pub match_on: Vec<MatchKey>,
    /// Create and update (default), create only, or update only.
    #[serde(default)]
    pub mode: ImportMode,
    /// Added to every imported customer.
    #[serde(default)]
    pub add: AddToEach,
}

/// Where a column's values go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The customer id.
    Id,
    /// The external id.
    ExternalId,
    /// The email.
    Email,
    /// The phone.
    Phone,
    /// The display name.
    Name,
    /// The order number.
    OrderNumber,
    /// The signup date.
    SignupDate,
    /// The registration date.
    RegistrationDate,
    /// A typed custom attribute.
    Attribute(String, AttributeKind),
    /// Tags, split by the separator.
    Tags(String),
}

/// A mapping checked against the header: column positions and their targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// (column index, column name, target), in header order.
    pub columns: Vec<(usize, String, Target)>,
    /// The identities rows match on.
    pub match_on: BTreeSet<MatchKey>,
    /// The mode.
    pub mode: ImportMode,
    /// What every imported customer gets.
    pub add: AddToEach,
}

impl Mapping {
    /// Whether rows match on `key`.
    pub fn matches_on(&self, key: MatchKey) -> bool {
        self.match_on.contains(&key)
    }

    /// Checks the request against the header; each problem is a 422 naming the entry at fault.
    pub fn parse(req: &MappingRequest, header: &[String]) -> Result<Mapping> {
        let mut columns = Vec::with_capacity(req.columns.len());
        let mut seen_columns = BTreeSet::new();
        let mut seen_fields = BTreeSet::new();
        for (i, c) in req.columns.iter().enumerate() {
            let at = |what: &str| format!("columns[{i}].{what}");
            let Some(index) = header.iter().position(|h| h == &c.column) else {
                return Err(DomainError::validation(
                    at("column"),
                    format!(
                        "{}: the file has no column named {:?}; its columns are {}",
                        at("column"),
                        c.column,
                        header.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            if !seen_columns.insert(index) {
                return Err(DomainError::validation(
                    at("column"),
                    format!(
                        "{}: column {:?} is mapped twice; map each column once",
                        at("column"),
                        c.column
                    ),
                ));
            }
            let target = target(&c.field, c.kind, c.separator.as_deref())
                .map_err(|m| DomainError::validation(at("field"), format!("{}: {m}", at("field"))))?;
            let Some(target) = target else { continue };
            let key = match &target {
                Target::Tags(_) => None,
                other => Some(format!("{other:?}")),
            };
            let field_key = match &target {
                Target::Attribute(k, _) => Some(format!("attributes.{k}")),
                _ => key,
            };
            if let Some(f) = field_key {
                if !seen_fields.insert(f) {
                    return Err(DomainError::validation(
                        at("field"),
                        format!(
                            "{}: field {:?} is mapped from two columns; map it once",
                            at("field"),
                            c.field
                        ),
                    ));
                }
            }
            columns.push((index, c.column.clone(), target));
        }
        let match_on: BTreeSet<MatchKey> = req.match_on.iter().copied().collect();
        if match_on.len() != req.match_on.len() {
            return Err(DomainError::validation("match_on", "match_on lists an identity twice"));
        }
        if req.mode == ImportMode::UpdateOnly && match_on.is_empty() {
            return Err(DomainError::validation(
                "match_on",
                "an update_only import needs at least one identity in match_on to find customers by",
            ));
        }
        for (i, t) in req.add.tags.iter().enumerate() {
            let t = t.trim();
            if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
                return Err(DomainError::validation(
                    format!("add.tags[{i}]"),
                    format!("add.tags[{i}]: a tag is 1 to 64 characters without control characters"),
                ));
            }
        }
        if let Some(s) = &req.add.source {
            if s.trim().is_empty() || s.chars().count() > 1024 || s.chars().any(char::is_control) {
                return Err(DomainError::validation(
                    "add.source",
                    "add.source must be 1 to 1024 characters without control characters",
                ));
            }
        }
        let unique_groups: BTreeSet<&GroupId> = req.add.groups.iter().collect();
        if unique_groups.len() != req.add.groups.len() || req.add.groups.len() > 10 {
            return Err(DomainError::validation(
                "add.groups",
                "add.groups lists at most 10 different static groups",
            ));
        }
        Ok(Mapping {
            columns,
            match_on,
            mode: req.mode,
            add: AddToEach {
                tags: req.add.tags.iter().map(|t| t.trim().to_owned()).collect(),
                source: req.add.source.as_ref().map(|s| s.trim().to_owned()),
                groups: req.add.groups.clone(),
            },
        })
    }
}

const FIELDS: &str = "id, external_id, email, phone, name, order_number, signup_date, registration_date, \
                      attributes.<key>, tags or ignore";

/// The target of a field name; `None` for `ignore`.
fn target(
    field: &str,
    kind: Option<AttributeKind>,
    separator: Option<&str>,
) -> std::result::Result<Option<Target>, String> {
    if kind.is_some() && !field.starts_with("attributes.") {
        return Err(format!("type applies to attributes.<key> only, not to {field:?}"));
    }
    if separator.is_some() && field != "tags" {
        return Err(format!("separator applies to tags only, not to {field:?}"));
    }
    let t = match field {
        "ignore" => return Ok(None),
        "id" => Target::Id,
        "external_id" => Target::ExternalId,
        "email" => Target::Email,
        "phone" => Target::Phone,
        "name" => Target::Name,
        "order_number" => Target::OrderNumber,
        "signup_date" => Target::SignupDate,
        "registration_date" => Target::RegistrationDate,
        "tags" => {
            let sep = separator.unwrap_or(",");
            if sep.is_empty() || sep.chars().count() > 4 {
                return Err("a tag separator is 1 to 4 characters".into());
            }
            Target::Tags(sep.to_owned())
        }
        other => match other.strip_prefix("attributes.") {
            Some(key)
                if !key.is_empty()
                    && key.len() <= 64
                    && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Target::Attribute(key.to_owned(), kind.unwrap_or(AttributeKind::String))
            }
            Some(key) => {
                return Err(format!(
                    "attribute name {key:?} must start with a letter or '_' and use only letters, digits and '_' (at most 64)"
                ))
            }
            None => return Err(format!("unknown field {other:?}; use one of {FIELDS}")),
        },
    };
    Ok(Some(t))
}

/// The mapping analysis suggests from the column names: known names to their fields (`E-mail`,
/// `Mobile phone number`, `Customer ID`...), everything else to a string attribute named after it.
pub fn suggest(header: &[String]) -> MappingRequest {
    let mut used = BTreeSet::new();
    let mut columns = Vec::new();
    for name in header {
        let key: String = name.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
        let field = match key.as_str() {
            "id" | "customerid" | "clientid" => "id".to_owned(),
            "externalid" | "crmid" => "external_id".to_owned(),
            "email" | "mail" | "emailaddress" | "mailbox" => "email".to_owned(),
            "phone" | "mobile" | "mobilephone" | "mobilephonenumber" | "phonenumber" | "tel" | "telephone" => {
                "phone".to_owned()
            }
            "name" | "fullname" | "customername" => "name".to_owned(),
            "ordernumber" | "order" | "orderno" => "order_number".to_owned(),
            "signupdate" | "signup" => "signup_date".to_owned(),
            "registrationdate" | "registered" => "registration_date".to_owned(),
            "tags" | "tag" | "labels" => "tags".to_owned(),
            _ => {
                let snake: String = name
                    .trim()
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                let snake = snake.trim_matches('_').chars().take(60).collect::<String>();
                if snake.is_empty() || snake.starts_with(|c: char| c.is_ascii_digit()) {
                    "ignore".to_owned()
                } else {
                    format!("attributes.{snake}")
                }
            }
        };
        let field = if field != "tags" && field != "ignore" && !used.insert(field.clone()) {
            "ignore".to_owned()
        } else {
            field
        };
        columns.push(ColumnMapping {
            column: name.clone(),
            field,
            kind: None,
            separator: None,
        });
    }
    MappingRequest {
        columns,
        match_on: default_match(),
        mode: ImportMode::default(),
        add: AddToEach::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<String> {
        ["Customer ID", "E-mail", "Mobile", "Points", "Labels"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn the_suggestion_is_a_valid_mapping_of_known_names() {
        let s = suggest(&header());
        let fields: Vec<&str> = s.columns.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["id", "email", "phone", "attributes.points", "tags"]);
        let m = Mapping::parse(&s, &header()).unwrap();
        assert_eq!(m.columns.len(), 5);
        assert!(m.matches_on(MatchKey::Phone) && !m.matches_on(MatchKey::ExternalId));
    }

    #[test]
    fn unknown_fields_columns_and_doubles_are_422s_naming_the_entry() {
        let col = |c: &str, f: &str| ColumnMapping {
            column: c.into(),
            field: f.into(),
            kind: None,
            separator: None,
        };
        let bad = [
            (vec![col("E-mail", "emial")], "columns[0].field"),
            (vec![col("Nope", "email")], "columns[0].column"),
            (
                vec![col("E-mail", "email"), col("E-mail", "phone")],
                "columns[1].column",
            ),
            (vec![col("E-mail", "email"), col("Mobile", "email")], "columns[1].field"),
            (vec![col("Points", "attributes.1x")], "columns[0].field"),
        ];
        for (columns, field) in bad {
            let req = MappingRequest {
                columns,
                ..suggest(&header())
            };
            match Mapping::parse(&req, &header()) {
                Err(DomainError::Validation { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
