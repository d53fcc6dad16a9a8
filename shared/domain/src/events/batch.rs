//! The body of `POST /events`, parsed at the edge: the request's shape is checked whole, each event on
//! its own, so one bad event is reported by its index while the others are ingested.

use super::{parse_event, Event, MAX_EVENTS_PER_REQUEST};
use crate::error::{DomainError, Result};
use serde_json::Value;

/// One entry of an ingestion request: the id it gave (for the report) and the event, or why it is invalid.
#[derive(Debug, Clone)]
pub struct BatchEntry {
    /// The `event_id` as sent, if it was a string.
    pub event_id: Option<String>,
    /// The validated event, or the validation error naming its field (`events[3].currency`).
    pub event: Result<Event>,
}

/// A parsed `{"events": [...]}` body of 1 to [`MAX_EVENTS_PER_REQUEST`] entries.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The entries in request order (an entry's index is its position).
    pub entries: Vec<BatchEntry>,
}

impl EventBatch {
    /// The `event_id` an entry gave, for reports.
    pub fn event_id(&self, index: usize) -> Option<String> {
        self.entries.get(index).and_then(|e| e.event_id.clone())
    }
}

impl TryFrom<Value> for EventBatch {
    type Error = DomainError;

    fn try_from(body: Value) -> Result<Self> {
        let Value::Object(mut obj) = body else {
            return Err(DomainError::Malformed(
                "the body must be a JSON object {\"events\": [...]}".into(),
            ));
        };
        if let Some(k) = obj.keys().find(|k| *k != "events") {
            return Err(DomainError::Malformed(format!(
                "unknown field {k:?}; the body is {{\"events\": [...]}}"
            )));
        }
        let Some(Value::Array(list)) = obj.remove("events") else {
            return Err(DomainError::Malformed("events must be an array of events".into()));
        };
        if list.is_empty() || list.len() > MAX_EVENTS_PER_REQUEST {
            return Err(DomainError::validation(
                "events",
                format!("send 1 to {MAX_EVENTS_PER_REQUEST} events per request"),
            ));
        }
        let entries = list
            .iter()
            .enumerate()
            .map(|(i, raw)| BatchEntry {
                event_id: raw.get("event_id").and_then(Value::as_str).map(str::to_owned),
                event: parse_event(&format!("events[{i}]"), raw),
            })
            .collect();
        Ok(EventBatch { entries })
    }
}
