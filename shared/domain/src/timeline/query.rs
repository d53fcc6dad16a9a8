//! The filters of `GET /customers/{id}/timeline` and `GET /customers/{id}/communications`, parsed at
//! the edge: types (one or several), a time range (`from` and `to`, both inclusive) and a channel.

use super::communication::instant;
use super::manual::is_type_name;
use super::Channel;
use crate::error::{DomainError, Result};
use chrono::{DateTime, Utc};

/// Most types one request may filter by.
pub const MAX_TYPES: usize = 20;

/// Which entries a list reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    /// Only these types (empty: every type).
    pub types: Vec<String>,
    /// Only types starting with this (the communications list: `communication.`).
    pub type_prefix: Option<String>,
    /// Only entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries at or before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl TimelineFilter {
    /// Parses the raw `type` (repeated or comma-separated), `from` and `to` query parameters; errors
    /// name the parameter, and `from` after `to` is an error naming `from`.
    pub fn parse(types: &[&str], from: Option<&str>, to: Option<&str>) -> Result<Self> {
        let mut list: Vec<String> = Vec::new();
        for t in types.iter().flat_map(|t| t.split(',')) {
            if !is_type_name(t) {
                return Err(DomainError::validation(
                    "type",
                    format!("type {t:?} is not an entry type: 1 to 64 letters, digits, _ . : -"),
                ));
            }
            if !list.iter().any(|x| x == t) {
                list.push(t.to_owned());
            }
        }
        if list.len() > MAX_TYPES {
            return Err(DomainError::validation(
                "type",
                format!("filter by at most {MAX_TYPES} types"),
            ));
        }
        let from = from.map(|f| instant("from", f)).transpose()?;
        let to = to.map(|t| instant("to", t)).transpose()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(DomainError::validation(
                    "from",
                    "from must not be after to (the range is reversed)",
                ));
            }
        }
        Ok(TimelineFilter {
            types: list,
            type_prefix: None,
            from,
            to,
        })
    }

    /// The communications list's filter: every channel, or the one given.
    pub fn communications(channel: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Self> {
        let mut f = TimelineFilter::parse(&[], from, to)?;
        match channel {
            Some(c) => f.types = vec![Channel::parse("channel", c)?.entry_type()],
            None => f.type_prefix = Some("communication.".into()),
        }
        Ok(f)
    }
}
