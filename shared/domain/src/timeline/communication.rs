//! Messages sent to customers (`POST /communications`): parsed at the edge, 1 to
//! [`MAX_COMMUNICATIONS`] per request; the provider's message id makes recording idempotent.

use super::{Source, TimelineEntry};
use crate::bounds::check_instant;
use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Map;

/// Most messages one request may record.
pub const MAX_COMMUNICATIONS: usize = 500;
/// Longest subject (RFC 5322's line limit).
pub const MAX_SUBJECT: usize = 998;
/// Longest campaign name and provider message id.
pub const MAX_NAME: usize = 200;

/// How the message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An email.
    Email,
    /// A text message.
    Sms,
    /// A push notification.
    Push,
}

impl Channel {
    /// Every channel, as the API spells them.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    /// The API's name (`email`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    /// The timeline type of a message on this channel (`communication.email`).
    pub fn entry_type(self) -> String {
        format!("communication.{}", self.as_str())
    }

    /// Parses the API's name; the error names `field`.
    pub fn parse(field: &str, s: &str) -> Result<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| DomainError::validation(field, format!("{field} must be email, sms or push, got {s:?}")))
    }
}

/// What the provider last reported about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed to the provider.
    Sent,
    /// Delivered to the recipient.
    Delivered,
    /// Opened (email) or read.
    Opened,
    /// A link was clicked.
    Clicked,
    /// Bounced.
    Bounced,
    /// The provider could not send it.
    Failed,
}

impl DeliveryStatus {
    const ALL: [(DeliveryStatus, &'static str); 6] = [
        (DeliveryStatus::Sent, "sent"),
        (DeliveryStatus::Delivered, "delivered"),
        (DeliveryStatus::Opened, "opened"),
        (DeliveryStatus::Clicked, "clicked"),
        (DeliveryStatus::Bounced, "bounced"),
        (DeliveryStatus::Failed, "failed"),
    ];

    fn parse(field: &str, s: &str) -> Result<DeliveryStatus> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(st, _)| *st)
            .ok_or_else(|| {
                DomainError::validation(
                    field,
                    format!("{field} must be one of sent, delivered, opened, clicked, bounced, failed, got {s:?}"),
                )
            })
    }
}

/// A message as recorded: what the communication tab lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Communication {
    /// The provider's id of the message: recording it again changes nothing.
    pub provider_message_id: String,
    /// How it was sent.
    pub channel: Channel,
    /// The subject or title, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The campaign it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// The provider's status.
    pub status: DeliveryStatus,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// One message of the request body, as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunicationBody {
    /// The customer it was sent to.
    pub customer_id: Option<String>,
    /// `email`, `sms` or `push`.
    pub channel: Option<String>,
    /// The provider's message id.
    pub provider_message_id: Option<String>,
    /// RFC 3339 time it was sent.
    pub sent_at: Option<String>,
    /// The provider's status (default `sent`).
    #[serde(default)]
    pub status: Option<String>,
    /// Subject or title.
    #[serde(default)]
    pub subject: Option<String>,
    /// Campaign name.
    #[serde(default)]
    pub campaign: Option<String>,
}

/// The body of `POST /communications`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunicationsBody {
    /// 1 to 500 messages.
    pub communications: Vec<CommunicationBody>,
}

/// A validated message for one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommunication {
    /// The customer it was sent to.
    pub customer_id: CustomerId,
    /// The message.
    pub message: Communication,
}

impl NewCommunication {
    /// The message as a timeline entry (`communication.<channel>`, at its sent time).
    pub fn entry(&self) -> TimelineEntry {
        TimelineEntry {
            id: self.message.provider_message_id.clone(),
            entry_type: self.message.channel.entry_type(),
            source: Source::Communication,
            at: self.message.sent_at,
            properties: Map::new(),
            communication: Some(self.message.clone()),
        }
    }
}

/// A validated request: its messages in request order.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunicationBatch {
    /// The messages; an item's index is its position.
    pub items: Vec<NewCommunication>,
}

/// A printable text of 1 to `max` characters (no control characters); the error names `field`.
pub(crate) fn text(field: &str, v: Option<String>, max: usize, required: bool) -> Result<Option<String>> {
    match v {
        None if required => Err(DomainError::validation(field, format!("{field} is required"))),
        None => Ok(None),
        Some(s) if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(DomainError::validation(
                field,
                format!("{field} must be 1 to {max} characters without control characters"),
            ))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// An RFC 3339 instant within the accepted years; the error names `field`.
pub(crate) fn instant(field: &str, v: &str) -> Result<DateTime<Utc>> {
    let at = v.parse::<DateTime<Utc>>().map_err(|_| {
        DomainError::validation(
            field,
            format!("{field} must be an RFC 3339 time, e.g. 2026-11-24T10:00:00Z"),
        )
    })?;
    check_instant(field, at)?;
    Ok(at)
}

fn parse_one(i: usize, b: CommunicationBody) -> Result<NewCommunication> {
    let f = |name: &str| format!("communications[{i}].{name}");
    let raw_id = text(&f("customer_id"), b.customer_id, 128, true)?.unwrap_or_default();
    let customer_id = CustomerId::parse(&raw_id)
        .map_err(|_| DomainError::validation(f("customer_id"), "customer_id is not a valid customer id"))?;
    let channel = Channel::parse(
        &f("channel"),
        &text(&f("channel"), b.channel, 16, true)?.unwrap_or_default(),
    )?;
    let provider_message_id =
        text(&f("provider_message_id"), b.provider_message_id, MAX_NAME, true)?.unwrap_or_default();
    let sent_raw = text(&f("sent_at"), b.sent_at, 64, true)?.unwrap_or_default();
    let sent_at = instant(&f("sent_at"), &sent_raw)?;
    let status = match text(&f("status"), b.status, 16, false)? {
        Some(s) => DeliveryStatus::parse(&f("status"), &s)?,
        None => DeliveryStatus::Sent,
    };
    Ok(NewCommunication {
        customer_id,
        message: Communication {
            provider_message_id,
            channel,
            subject: text(&f("subject"), b.subject, MAX_SUBJECT, false)?,
            campaign: text(&f("campaign"), b.campaign, MAX_NAME, false)?,
            status,
            sent_at,
        },
    })
}

impl TryFrom<CommunicationsBody> for CommunicationBatch {
    type Error = DomainError;

    fn try_from(body: CommunicationsBody) -> Result<Self> {
        let n = body.communications.len();
        if n == 0 || n > MAX_COMMUNICATIONS {
            return Err(DomainError::validation(
                "communications",
                format!("send 1 to {MAX_COMMUNICATIONS} communications per request, got {n}"),
            ));
        }
        let items = body
            .communications
            .into_iter()
            .enumerate()
            .map(|(i, b)| parse_one(i, b))
            .collect::<Result<_>>()?;
        Ok(CommunicationBatch { items })
    }
}
