//! A manual event (`POST /customers/{id}/timeline`, seed 004's "record events"): a type, a time and
//! flat properties, with an optional id that makes recording it again a no-op.

use super::communication::{instant, text};
use super::{Source, TimelineEntry};
use crate::bounds::check_number;
use crate::error::{DomainError, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Most properties a manual event may carry.
pub const MAX_PROPERTIES: usize = 50;
/// Longest text property value.
pub const MAX_PROPERTY_TEXT: usize = 1000;
/// Longest event type and property name.
pub const MAX_TYPE: usize = 64;

/// The body of `POST /customers/{id}/timeline`, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualEventBody {
    /// The event type, e.g. `call.logged`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// RFC 3339 time it happened.
    pub occurred_at: Option<String>,
    /// Flat properties: text, numbers, booleans or null.
    #[serde(default)]
    pub properties: Option<Map<String, Value>>,
    /// An id unique per customer: the same id again records nothing (the first entry is returned).
    #[serde(default)]
    pub event_id: Option<String>,
}

/// A validated manual event.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualEvent {
    /// Its timeline entry.
    pub entry: TimelineEntry,
    /// Whether the client gave the id (then it is the idempotency key).
    pub client_id: bool,
}

/// Whether `s` is an event type or property name: a letter or digit, then letters, digits and
/// `_ . : -`, at most [`MAX_TYPE`] characters.
pub fn is_type_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= MAX_TYPE
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
}

fn check_properties(props: &Map<String, Value>) -> Result<()> {
    if props.len() > MAX_PROPERTIES {
        return Err(DomainError::validation(
            "properties",
            format!("properties may have at most {MAX_PROPERTIES} fields"),
        ));
    }
    for (k, v) in props {
        let field = format!("properties.{k}");
        if !is_type_name(k) {
            return Err(DomainError::validation(
                "properties",
                "property names are 1 to 64 letters, digits, _ . : - starting with a letter or digit",
            ));
        }
        match v {
            Value::Null | Value::Bool(_) => {}
            Value::Number(n) => check_number(&field, n.as_f64().unwrap_or(f64::NAN))?,
            Value::String(s) if s.chars().count() <= MAX_PROPERTY_TEXT => {}
            Value::String(_) => {
                return Err(DomainError::validation(
                    field,
                    format!("text properties are at most {MAX_PROPERTY_TEXT} characters"),
                ))
            }
            _ => {
                return Err(DomainError::validation(
                    field,
                    "a property is text, a number, true, false or null (no arrays or objects)",
                ))
            }
        }
    }
    Ok(())
}

impl TryFrom<ManualEventBody> for ManualEvent {
    type Error = DomainError;

    fn try_from(b: ManualEventBody) -> Result<Self> {
        let event_type = text("type", b.event_type, MAX_TYPE, true)?.unwrap_or_default();
        if !is_type_name(&event_type) {
            return Err(DomainError::validation(
                "type",
                "type is 1 to 64 letters, digits, _ . : - starting with a letter or digit, e.g. call.logged",
            ));
        }
        let at = instant(
            "occurred_at",
            &text("occurred_at", b.occurred_at, 64, true)?.unwrap_or_default(),
        )?;
        let properties = b.properties.unwrap_or_default();
        check_properties(&properties)?;
        let given = text("event_id", b.event_id, 128, false)?;
        let client_id = given.is_some();
        let id = given.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        Ok(ManualEvent {
            entry: TimelineEntry {
                id,
                entry_type: event_type,
                source: Source::Manual,
                at,
                properties,
                communication: None,
            },
            client_id,
        })
    }
}
