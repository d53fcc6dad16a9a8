//! The change stream's items: history items (written by every membership transaction) and
//! notification items, both marked with `feed` so the stream's filter passes only them; and how a
//! stream record's new image becomes a [`FeedRecord`].

use super::items::NotificationItem;
use crate::dynamo::items::{attr, HistoryItem};
use crate::keys;
use crate::Store;
use cg_domain::destinations::event::{pad_sequence, FeedItem, FeedRecord, MembershipChange, Notification};
use cg_domain::destinations::ports::Notifications;
use cg_domain::ids::TenantId;
use cg_domain::{DomainError, Result};
use chrono::Duration;

/// Days a notification item is kept (the stream has passed it on long before).
const NOTIFICATION_DAYS: i64 = 7;

impl Notifications for Store {
    async fn notify(&self, t: &TenantId, n: &Notification) -> Result<()> {
        let item = NotificationItem {
            pk: keys::notifications_pk(t),
            sk: n.id.clone(),
            feed: attr::FEED_NOTIFICATION.to_owned(),
            event_type: n.event_type,
            at: n.at,
            group_ids: n.group_ids.clone(),
            data_json: n.data.to_string(),
            ttl: (n.at + Duration::days(NOTIFICATION_DAYS)).timestamp(),
        };
        let item =
            serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode notification: {e}")))?;
        // Written before (a redelivered message): the first record stands.
        self.put_if_new(item).await.map(drop)
    }
}

/// A stream record's sequence number and new image as a [`FeedRecord`]. `Ok(None)`: not an item of
/// the change stream (the filter lets only `feed` items through, so this is a stray record). An
/// unreadable feed item is an error naming it, for the dispatcher to log and skip.
pub fn decode_record<I>(sequence: &str, new_image: I) -> Result<Option<FeedRecord>>
where
    I: Into<serde_dynamo::Item>,
{
    let image: serde_dynamo::Item = new_image.into();
    let feed = match image.get("feed") {
        Some(serde_dynamo::AttributeValue::S(f)) => f.clone(),
        _ => return Ok(None),
    };
    let sequence = pad_sequence(sequence)
        .ok_or_else(|| DomainError::Internal(format!("stream sequence {sequence:?} is not a number")))?;
    let bad = |e: serde_dynamo::Error| DomainError::Internal(format!("unreadable {feed} item in the stream: {e}"));
    let item = match feed.as_str() {
        attr::FEED_MEMBERSHIP => {
            let h: HistoryItem = serde_dynamo::from_item(image.clone()).map_err(bad)?;
            let (tenant, group_id) = keys::parse_history_pk(&h.pk)
                .ok_or_else(|| DomainError::Internal(format!("history item with key {:?}", h.pk)))?;
            FeedItem::Change(MembershipChange {
                tenant,
                group_id,
                customer_id: h.customer_id,
                change: h.change,
                reason: h.reason,
                at: h.at,
                key: h.sk,
                email: h.email,
            })
        }
        attr::FEED_NOTIFICATION => {
            let n: NotificationItem = serde_dynamo::from_item(image.clone()).map_err(bad)?;
            let tenant = keys::parse_notifications_pk(&n.pk)
                .ok_or_else(|| DomainError::Internal(format!("notification item with key {:?}", n.pk)))?;
            let data = serde_json::from_str(&n.data_json)
                .map_err(|e| DomainError::Internal(format!("notification {} data is not JSON: {e}", n.sk)))?;
            FeedItem::Notification(
                tenant,
                Notification {
                    id: n.sk,
                    event_type: n.event_type,
                    at: n.at,
                    group_ids: n.group_ids,
                    data,
                },
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(FeedRecord { sequence, item }))
}
