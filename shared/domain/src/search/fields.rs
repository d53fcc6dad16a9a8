//! Seed 004's column settings: which fields of each customer a search returns. `id` is always there;
//! `attributes.<key>` picks one custom attribute.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use serde_json::{Map, Value};

/// The fields a search can return (besides `attributes.<key>`).
pub const SEARCH_FIELDS: [&str; 20] = [
    "id",
    "external_id",
    "email",
    "phone",
    "name",
    "order_number",
    "signup_date",
    "registration_date",
    "attributes",
    "tags",
    "subscriptions",
    "email_verified",
    "phone_verified",
    "activation_required",
    "activity",
    "groups",
    "next_wake_at",
    "created_at",
    "updated_at",
    "version",
];

/// Most entries of `fields`.
const MAX_FIELDS: usize = 50;

/// The fields a search returns: every field (`None`) or the ones listed, in the customer's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelection(Option<Vec<String>>);

impl FieldSelection {
    /// Checks each name; an unknown one is a 422 naming `fields[i]`.
    pub fn parse(fields: Option<Vec<String>>) -> Result<FieldSelection> {
        let Some(list) = fields else {
            return Ok(FieldSelection(None));
        };
        if list.is_empty() || list.len() > MAX_FIELDS {
            return Err(DomainError::validation(
                "fields",
                format!("fields lists 1 to {MAX_FIELDS} field names, or is left out for every field"),
            ));
        }
        for (i, f) in list.iter().enumerate() {
            let custom = f.strip_prefix("attributes.").is_some_and(|k| {
                !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            // `version` is internal (never serialised); it is not a column.
            if !(custom || (SEARCH_FIELDS.contains(&f.as_str()) && f != "version")) {
                return Err(DomainError::validation(
                    format!("fields[{i}]"),
                    format!(
                        "unknown field {f:?}; use one of {} or attributes.<key>",
                        SEARCH_FIELDS[..19].join(", ")
                    ),
                ));
            }
        }
        Ok(FieldSelection(Some(list)))
    }

    /// The customer as a JSON object with the selected fields (`id` first, always).
    pub fn project(&self, c: &Customer) -> Value {
        let full = serde_json::to_value(c).unwrap_or(Value::Null);
        let Some(list) = &self.0 else { return full };
        let Value::Object(all) = full else { return Value::Null };
        let mut out = Map::new();
        out.insert("id".into(), Value::String(c.id.to_string()));
        for f in list {
            if let Some(key) = f.strip_prefix("attributes.") {
                let attrs = out.entry("attributes").or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(a), Some(v)) = (attrs, c.attributes.get(key)) {
                    a.insert(key.to_owned(), serde_json::to_value(v).unwrap_or(Value::Null));
                }
            } else if let Some(v) = all.get(f) {
                out.insert(f.clone(), v.clone());
            }
        }
        Value::Object(out)
    }
}
