//! What destinations receive: the event types, one membership change as the change stream carries it,
//! and the notifications other features raise when a job ends.

use crate::contact::Email;
use crate::error::{DomainError, Result};
use crate::history::Change;
use crate::ids::{CustomerId, GroupId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The event types an endpoint can subscribe to (the `type` of a Standard Webhooks payload).
///
/// Adding one (the bulk-action job ends, once those jobs exist) is: a variant here with
/// its name in [`EventType::ALL`], the name in the OpenAPI `EventType` enum, and a call of
/// [`crate::usecases::notify::notify`] where the job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// Customers entered a group (batched: up to [`MAX_CHANGES_PER_MESSAGE`] per message).
    #[serde(rename = "group.member_entered")]
    MemberEntered,
    /// Customers left a group (batched like entries).
    #[serde(rename = "group.member_left")]
    MemberLeft,
    /// A resync job finished (done or failed) for the groups it reported on.
    #[serde(rename = "group.resynced")]
    GroupResynced,
    /// An export's file is ready.
    #[serde(rename = "export.done")]
    ExportDone,
    /// An export failed for good.
    #[serde(rename = "export.failed")]
    ExportFailed,
    /// An import finished: every row applied or in its failure report.
    #[serde(rename = "import.done")]
    ImportDone,
    /// An import failed for good (a bad file, or a failure no retry fixed).
    #[serde(rename = "import.failed")]
    ImportFailed,
}

/// Changes one message holds at most: a resync of 300,000 memberships is 3,000 requests, not 300,000.
pub const MAX_CHANGES_PER_MESSAGE: usize = 100;

impl EventType {
    /// Every type with its wire name, in the order the API documents them.
    pub const ALL: [(EventType, &'static str); 7] = [
        (EventType::MemberEntered, "group.member_entered"),
        (EventType::MemberLeft, "group.member_left"),
        (EventType::GroupResynced, "group.resynced"),
        (EventType::ExportDone, "export.done"),
        (EventType::ExportFailed, "export.failed"),
        (EventType::ImportDone, "import.done"),
        (EventType::ImportFailed, "import.failed"),
    ];

    /// The wire name, e.g. `group.member_entered`.
    pub fn name(self) -> &'static str {
        EventType::ALL.iter().find(|(t, _)| *t == self).map_or("", |(_, n)| n)
    }

    /// Parses a wire name; `field` names the input in the error.
    pub fn parse(raw: &str, field: &str) -> Result<EventType> {
        EventType::ALL
            .iter()
            .find(|(_, n)| *n == raw)
            .map(|(t, _)| *t)
            .ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|(_, n)| *n).collect();
                DomainError::validation(
                    field,
                    format!("unknown event type {raw:?}; use one of {}", known.join(", ")),
                )
            })
    }

    /// The type of a membership change.
    pub fn of_change(change: Change) -> EventType {
        match change {
            Change::Entered => EventType::MemberEntered,
            Change::Left => EventType::MemberLeft,
        }
    }

    /// Whether an endpoint's group filter applies (only `group.*` events concern groups).
    pub fn is_group_event(self) -> bool {
        matches!(
            self,
            EventType::MemberEntered | EventType::MemberLeft | EventType::GroupResynced
        )
    }
}

/// One entry or exit as the change stream delivers it: the group's history item, written in the same
/// transaction as the membership change itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// Whose group.
    pub tenant: TenantId,
    /// The group entered or left.
    pub group_id: GroupId,
    /// The customer.
    pub customer_id: CustomerId,
    /// Entered or left.
    pub change: Change,
    /// Why, as the history words it.
    pub reason: String,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// The history entry's key within the group (unique per change): the change's stable id.
    pub key: String,
    /// The customer's email at the time of the change (an email list removes the contact by it).
    pub email: Option<Email>,
}

/// Something that happened besides a membership change (a job's end), for the subscribed endpoints.
/// Written as an item of its own that the change stream picks up; its `id` makes a repeat harmless.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Unique per notification of the tenant, derived from what it reports (`resync:{job}`), so a job
    /// that reports its end twice (a redelivered message) sends one message.
    pub id: String,
    /// The event type.
    pub event_type: EventType,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Groups it concerns (an endpoint limited to groups receives it if it names one of them).
    pub group_ids: Vec<GroupId>,
    /// The payload's `data`.
    pub data: serde_json::Value,
}

/// One record of the change stream: its position and what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRecord {
    /// The stream's sequence number, zero-padded to 40 digits so string order is stream order.
    pub sequence: String,
    /// The change or the notification.
    pub item: FeedItem,
}

/// What a stream record carries.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedItem {
    /// A membership entry or exit.
    Change(MembershipChange),
    /// A job's end (or another notification).
    Notification(TenantId, Notification),
}

impl FeedItem {
    /// The tenant the record belongs to.
    pub fn tenant(&self) -> &TenantId {
        match self {
            FeedItem::Change(c) => &c.tenant,
            FeedItem::Notification(t, _) => t,
        }
    }
}

/// A stream sequence number as a fixed-width string (DynamoDB's are decimal, up to 40 digits).
pub fn pad_sequence(raw: &str) -> Option<String> {
    let digits = raw.trim_start_matches('0');
    (raw.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 40 && !raw.is_empty()).then(|| format!("{digits:0>40}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_their_wire_names() {
        for (t, name) in EventType::ALL {
            assert_eq!(t.name(), name);
            assert_eq!(EventType::parse(name, "event_types[0]").unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), name);
        }
        let err = EventType::parse("group.nope", "event_types[2]").unwrap_err();
        assert!(matches!(err, DomainError::Validation { field, .. } if field == "event_types[2]"));
    }

    #[test]
    fn padded_sequences_sort_like_numbers() {
        let a = pad_sequence("99").unwrap();
        let b = pad_sequence("100").unwrap();
        assert!(a < b);
        assert_eq!(a.len(), 40);
        assert!(pad_sequence("12a").is_none());
        assert!(pad_sequence("").is_none());
    }
}
