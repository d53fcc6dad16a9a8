//! Webhook messages and their delivery log: the body is built once when the message is recorded and
//! sent byte for byte on every attempt; the policy says when to try again.

use super::event::EventType;
use crate::ids::{DeliveryId, TenantId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: every attempt of the schedule failed, the receiver answered 410, or the endpoint was
    /// disabled or deleted. `POST .../replay` sends it again with the same id and body.
    Failed,
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the request was sent.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; `None` when there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What went wrong without an answer: `timeout`, `connection`, `refused_address` or `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds from sending to the answer (or the failure).
    pub latency_ms: u64,
    /// The start of the response body (at most [`EXCERPT_BYTES`] bytes, lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
}

/// Bytes of a response body kept in the log.
pub const EXCERPT_BYTES: usize = 256;

/// A message and its delivery, as `GET /webhooks/{id}/deliveries` lists it (without the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The `webhook-id` header: the receiver's idempotency key, the same on every attempt.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The payload's `type`.
    pub event_type: EventType,
    /// When the message was recorded.
    pub created_at: DateTime<Utc>,
    /// Pending, delivered or failed.
    pub status: DeliveryState,
    /// Attempts made in the current round (a replay starts a new round).
    pub attempt_count: u32,
    /// When the next attempt is due (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// How many membership changes the payload holds (1 for a notification).
    pub change_count: u32,
    /// Why it failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Every attempt, oldest first (the last [`MAX_LOGGED_ATTEMPTS`]).
    pub attempts: Vec<Attempt>,
}

/// Attempts kept per message.
pub const MAX_LOGGED_ATTEMPTS: usize = 20;

/// A message to record: the delivery as it starts, and the body every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The delivery, pending with its first attempt due now.
    pub delivery: Delivery,
    /// The exact bytes to send (a JSON document).
    pub body: String,
}

/// A stored delivery with its body, as the delivery worker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// The bytes every attempt sends.
    pub body: String,
}

/// The delivery queue's message: which delivery to attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    /// The endpoint's tenant.
    pub tenant: TenantId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The message.
    pub delivery_id: DeliveryId,
}

/// The retry schedule and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Delay before each attempt, the first included (0 = at once). One attempt per entry.
    pub schedule: Vec<Duration>,
    /// The longest a receiver may take to answer.
    pub timeout: std::time::Duration,
    /// An endpoint whose attempts all failed this long is disabled.
    pub disable_after: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_overlap: Duration,
    /// The longest `Retry-After` honoured (a longer one is capped to this).
    pub max_retry_after: Duration,
}

/// The schedule of the Standard Webhooks reference implementation: at once, 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h (about 27.6 hours in all).
pub const DEFAULT_SCHEDULE_SECONDS: [i64; 8] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            schedule: DEFAULT_SCHEDULE_SECONDS.iter().map(|s| Duration::seconds(*s)).collect(),
            timeout: std::time::Duration::from_secs(15),
            disable_after: Duration::days(5),
            rotation_overlap: Duration::hours(24),
            max_retry_after: Duration::hours(10),
        }
    }
}

/// What an attempt's result means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// 410: the receiver is gone for good; the endpoint is disabled.
    Gone,
    /// Anything else (timeout, connection error, 429, 5xx, other statuses, a redirect, which is never
    /// followed): try again per the schedule.
    Retry,
}

/// What the webhook client reports of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The status, if the receiver answered.
    pub status_code: Option<u16>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// The receiver's `Retry-After`, if any.
    pub retry_after: Option<std::time::Duration>,
    /// Time to the answer or the failure.
    pub latency_ms: u64,
    /// The start of the body.
    pub response_excerpt: Option<String>,
}

impl SendResult {
    /// The verdict of this result.
    pub fn verdict(&self) -> Verdict {
        match self.status_code {
            Some(s) if (200..300).contains(&s) => Verdict::Delivered,
            Some(410) => Verdict::Gone,
            _ => Verdict::Retry,
        }
    }
}

impl DeliveryPolicy {
    /// When the next attempt is due after `made` attempts of this round have failed; `None` once the
    /// schedule is used up. The schedule's delay gets a jitter of up to ±10 %, derived from the message
    /// id and the attempt (so messages that failed together spread out, and a rerun computes the same
    /// instant); a `Retry-After` pushes it later, never earlier.
    pub fn next_attempt(
        &self,
        id: &DeliveryId,
        made: u32,
        retry_after: Option<std::time::Duration>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let base = *self.schedule.get(made as usize)?;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.as_str().bytes().chain(made.to_le_bytes()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let permille = (hash % 201) as i64 - 100; // -100..=100: ±10 %
        let delay = base + Duration::milliseconds(base.num_milliseconds() * permille / 1000);
        let asked = retry_after
            .and_then(|d| Duration::from_std(d).ok())
            .map(|d| d.min(self.max_retry_after))
            .unwrap_or_else(Duration::zero);
        Some(now + delay.max(asked))
    }
}

/// The body of a message: `{"type", "timestamp", "data"}` as Standard Webhooks defines the payload,
/// serialised once (compact JSON) and then only ever sent as these bytes.
pub fn payload(event_type: EventType, timestamp: DateTime<Utc>, data: &serde_json::Value) -> String {
    // Written field by field so the order is the specification's whatever serde_json's map features.
    let timestamp = timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        serde_json::Value::from(event_type.name()),
        serde_json::Value::from(timestamp),
        data
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spreads_attempts_and_honours_retry_after() {
        let p = DeliveryPolicy::default();
        let id = DeliveryId::parse("msg_1").unwrap();
        let now = Utc::now();
        assert_eq!(
            p.next_attempt(&id, 0, None, now),
            Some(now),
            "the first attempt is immediate"
        );
        let second = p.next_attempt(&id, 1, None, now).unwrap() - now;
        assert!(second >= Duration::milliseconds(4500) && second <= Duration::milliseconds(5500));
        assert_eq!(p.next_attempt(&id, 1, None, now), p.next_attempt(&id, 1, None, now));
        let asked = p
            .next_attempt(&id, 1, Some(std::time::Duration::from_secs(60)), now)
            .unwrap();
        assert_eq!(asked - now, Duration::seconds(60));
        let capped = p
            .next_attempt(&id, 1, Some(std::time::Duration::from_secs(90 * 3600)), now)
            .unwrap();
        assert_eq!(capped - now, Duration::hours(10));
        assert!(p.next_attempt(&id, 8, None, now).is_none(), "eight attempts in all");
        let total: i64 = DEFAULT_SCHEDULE_SECONDS.iter().sum();
        assert_eq!(total, 99_305, "about 27.6 hours from the first to the last attempt");
    }

    #[test]
    fn statuses_decide_the_verdict() {
        let r = |s: Option<u16>| SendResult {
            status_code: s,
            error: None,
            retry_after: None,
            latency_ms: 1,
            response_excerpt: None,
        };
        assert_eq!(r(Some(204)).verdict(), Verdict::Delivered);
        assert_eq!(r(Some(410)).verdict(), Verdict::Gone);
        for s in [Some(429), Some(500), Some(302), Some(404), None] {
            assert_eq!(r(s).verdict(), Verdict::Retry, "{s:?}");
        }
    }

    #[test]
    fn the_payload_is_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z").unwrap().to_utc();
        let body = payload(EventType::ExportDone, at, &serde_json::json!({"export_id": "x"}));
        assert_eq!(
            body,
            r#"{"type":"export.done","timestamp":"2026-03-01T10:00:00.000Z","data":{"export_id":"x"}}"#
        );
    }
}
