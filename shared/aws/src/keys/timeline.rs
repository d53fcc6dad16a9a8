//! Keys of the timeline and the communication history (issue 15 parts 7 and 8), part of [`crate::keys`].

use cg_domain::ids::{CustomerId, TenantId};
use chrono::{DateTime, SecondsFormat, Utc};

/// Partition key of a customer's timeline: `T#<tenant>#TL#<customer id>`.
pub fn timeline_pk(t: &TenantId, c: &CustomerId) -> String {
    format!("T#{t}#TL#{c}")
}

/// An instant as a timeline sort key starts: fixed-width RFC 3339 with microseconds, so keys sort in
/// time order for every accepted year (1900 to 2199).
fn timeline_stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Sort key of a timeline entry: `<time>#<source code>#<id>`; newest first is a descending Query, and
/// the id (event id, provider message id, change key) keeps entries of the same instant apart.
pub fn timeline_sk(at: DateTime<Utc>, source: cg_domain::timeline::Source, id: &str) -> String {
    format!("{}#{}#{id}", timeline_stamp(at), source.code())
}

/// The sort-key range of entries from `from` to `to` (both inclusive; open ends cover every key).
pub fn timeline_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
    let lo = from.map_or_else(|| "0".to_owned(), timeline_stamp);
    // `#` then U+10FFFF: after every key of the instant `to`.
    let hi = to.map_or_else(|| "9".to_owned(), |t| format!("{}#\u{10FFFF}", timeline_stamp(t)));
    (lo, hi)
}

/// Partition key of a recorded provider message id (one per tenant), which makes recording a
/// communication idempotent: `T#<tenant>#MSG#<provider message id>`.
pub fn message_marker_pk(t: &TenantId, provider_message_id: &str) -> String {
    format!("T#{t}#MSG#{provider_message_id}")
}

/// Partition key of a manual event id recorded for a customer: `T#<tenant>#TLM#<customer>#<event id>`
/// (customer ids have no `#`, so the pair is unambiguous).
pub fn manual_marker_pk(t: &TenantId, c: &CustomerId, event_id: &str) -> String {
    format!("T#{t}#TLM#{c}#{event_id}")
}

/// Sort key of a timeline idempotency marker.
pub const TIMELINE_MARKER_SK: &str = "ONCE";
