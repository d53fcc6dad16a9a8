//! The dispatcher: turns a batch of change-stream records into webhook messages and list-sync jobs.
//!
//! - **Batching.** A tenant's changes go to each subscribed endpoint in messages of at most
//!   [`MAX_CHANGES_PER_MESSAGE`] changes of one group and one type (`group.member_entered` or
//!   `group.member_left`); the payload lists the changes it holds, each with its stable id.
//! - **No loss, no new ids on a retry.** A message is recorded in the same transaction as a cursor per
//!   (endpoint, group, type) that says up to which stream record the group's changes are in messages.
//!   A group's changes come from one stream partition in order, so a redelivered batch (of any size:
//!   Lambda may retry it whole or from a record) skips what is covered and rebuilds the rest. A
//!   message's id is derived from its endpoint, group, type and first record, so the same changes
//!   always get the same `webhook-id`. A dispatcher killed between recording a message and queueing
//!   its first attempt leaves a pending message that the sweep finds.
//! - **Notifications** (job ends) are one message each, keyed by the notification's id.
//! - **Lists.** Each mapping of a group gets the customers whose membership changed, in jobs of the
//!   provider's batch size; the sync worker reads who is a member now, so a repeated or late job
//!   converges on the right list.

use crate::destinations::delivery::{payload, Delivery, DeliveryJob, DeliveryState, NewMessage};
use crate::destinations::event::{
    EventType, FeedItem, FeedRecord, MembershipChange, Notification, MAX_CHANGES_PER_MESSAGE,
};
use crate::destinations::integration::{SyncCustomer, SyncJob};
use crate::destinations::ports::{CursorKey, CursorMove, Destinations, DispatchPorts};
use crate::destinations::webhook::Webhook;
use crate::error::{DomainError, Result};
use crate::history::Change;
use crate::ids::{DeliveryId, GroupId, TenantId};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// What one batch produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Records read.
    pub records: usize,
    /// Webhook messages recorded.
    pub messages: usize,
    /// Changes already in messages (a redelivered batch) and skipped.
    pub already_covered: usize,
    /// List-sync jobs queued.
    pub sync_jobs: usize,
}

/// Dispatches one batch of stream records (in stream order).
pub async fn dispatch<S: DispatchPorts>(
    store: &S,
    records: Vec<FeedRecord>,
    now: DateTime<Utc>,
) -> Result<DispatchReport> {
    let mut report = DispatchReport {
        records: records.len(),
        ..Default::default()
    };
    let mut by_tenant: BTreeMap<TenantId, Vec<FeedRecord>> = BTreeMap::new();
    for r in records {
        by_tenant.entry(r.item.tenant().clone()).or_default().push(r);
    }
    for (t, records) in by_tenant {
        let dest = store.destinations(&t).await?;
        if dest.webhooks.iter().all(|w| !w.enabled) && dest.mappings.is_empty() {
            continue;
        }
        let mut jobs = Vec::new();
        changes_to_messages(store, &t, &dest, &records, now, &mut jobs, &mut report).await?;
        notifications_to_messages(store, &t, &dest, &records, now, &mut jobs, &mut report).await?;
        let queued: Vec<(DeliveryJob, std::time::Duration)> =
            jobs.into_iter().map(|j| (j, std::time::Duration::ZERO)).collect();
        store.enqueue_deliveries(&queued).await?;
        let sync = sync_jobs(&t, &dest, &records);
        report.sync_jobs += sync.len();
        store.enqueue_sync(&sync).await?;
    }
    Ok(report)
}

/// Membership changes of the batch per (endpoint, group, type), in stream order.
type Streams<'a> = BTreeMap<CursorKey, Vec<(&'a str, &'a MembershipChange)>>;

async fn changes_to_messages<S: DispatchPorts>(
    store: &S,
    t: &TenantId,
    dest: &Destinations,
    records: &[FeedRecord],
    now: DateTime<Utc>,
    jobs: &mut Vec<DeliveryJob>,
    report: &mut DispatchReport,
) -> Result<()> {
    let mut streams: Streams<'_> = BTreeMap::new();
    for r in records {
        let FeedItem::Change(c) = &r.item else { continue };
        let event_type = EventType::of_change(c.change);
        for w in dest
            .webhooks
            .iter()
            .filter(|w| w.wants(event_type, std::slice::from_ref(&c.group_id)))
        {
            let key = CursorKey {
                webhook_id: w.id.clone(),
                group_id: c.group_id.clone(),
                event_type,
            };
            streams.entry(key).or_default().push((r.sequence.as_str(), c));
        }
    }
    if streams.is_empty() {
        return Ok(());
    }
    let keys: Vec<CursorKey> = streams.keys().cloned().collect();
    let cursors = store.cursors(t, &keys).await?;
    let names = group_names(store, t).await?;
    for (key, changes) in &streams {
        let mut from = cursors.get(key).cloned();
        let fresh: Vec<&(&str, &MembershipChange)> = changes
            .iter()
            .filter(|(seq, _)| from.as_deref().is_none_or(|f| *seq > f))
            .collect();
        report.already_covered += changes.len() - fresh.len();
        for chunk in fresh.chunks(MAX_CHANGES_PER_MESSAGE) {
            let (first_seq, first) = *chunk[0];
            let (last_seq, last) = *chunk[chunk.len() - 1];
            let id = DeliveryId::derive(
                first.at,
                &[
                    key.webhook_id.as_str(),
                    key.group_id.as_str(),
                    key.event_type.name(),
                    first_seq,
                ],
            );
            let data = serde_json::json!({
                "group_id": key.group_id,
                "group_name": names.get(&key.group_id),
                "count": chunk.len(),
                "changes": chunk.iter().map(|(_, c)| change_json(c)).collect::<Vec<_>>(),
            });
            let msg = message(id, &key.webhook_id, key.event_type, last.at, &data, chunk.len(), now);
            let moved = CursorMove {
                key,
                from: from.as_deref(),
                to: last_seq,
            };
            if !store.record_message(t, &msg, Some(moved)).await? {
                // Another run moved this cursor meanwhile: redo the batch, which then skips its work.
                return Err(DomainError::ConcurrentUpdate);
            }
            report.messages += 1;
            jobs.push(job(t, &msg));
            from = Some(last_seq.to_owned());
        }
    }
    Ok(())
}

async fn group_names<S: DispatchPorts>(store: &S, t: &TenantId) -> Result<HashMap<GroupId, String>> {
    Ok(store
        .list_all_groups(t)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

fn change_json(c: &MembershipChange) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{}/{}", c.group_id, c.key),
        "customer_id": c.customer_id,
        "change": match c.change { Change::Entered => "entered", Change::Left => "left" },
        "reason": c.reason,
        "at": c.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

fn message(
    id: DeliveryId,
    webhook: &crate::ids::WebhookId,
    event_type: EventType,
    timestamp: DateTime<Utc>,
    data: &serde_json::Value,
    changes: usize,
    now: DateTime<Utc>,
) -> NewMessage {
    NewMessage {
        body: payload(event_type, timestamp, data),
        delivery: Delivery {
            id,
            webhook_id: webhook.clone(),
            event_type,
            created_at: now,
            status: DeliveryState::Pending,
            attempt_count: 0,
            next_attempt_at: Some(now),
            change_count: changes as u32,
            failure_reason: None,
            attempts: Vec::new(),
        },
    }
}

fn job(t: &TenantId, msg: &NewMessage) -> DeliveryJob {
    DeliveryJob {
        tenant: t.clone(),
        webhook_id: msg.delivery.webhook_id.clone(),
        delivery_id: msg.delivery.id.clone(),
    }
}

async fn notifications_to_messages<S: DispatchPorts>(
    store: &S,
    t: &TenantId,
    dest: &Destinations,
    records: &[FeedRecord],
    now: DateTime<Utc>,
    jobs: &mut Vec<DeliveryJob>,
    report: &mut DispatchReport,
) -> Result<()> {
    for r in records {
        let FeedItem::Notification(_, n) = &r.item else {
            continue;
        };
        for w in dest.webhooks.iter().filter(|w| w.wants(n.event_type, &n.group_ids)) {
            let msg = notification_message(w, n, now);
            // An existing message (a redelivered record) may still need its first attempt queued:
            // queue it either way; the attempt's claim keeps it to one send.
            if store.record_message(t, &msg, None).await? {
                report.messages += 1;
            }
            jobs.push(job(t, &msg));
        }
    }
    Ok(())
}

fn notification_message(w: &Webhook, n: &Notification, now: DateTime<Utc>) -> NewMessage {
    let id = DeliveryId::derive(n.at, &[w.id.as_str(), "notification", &n.id]);
    message(id, &w.id, n.event_type, n.at, &n.data, 1, now)
}

/// One job per mapping and up to the provider's batch size of customers whose membership of the
/// mapping's group changed in this batch (the last email seen per customer).
fn sync_jobs(t: &TenantId, dest: &Destinations, records: &[FeedRecord]) -> Vec<SyncJob> {
    let mut out = Vec::new();
    for (m, provider) in &dest.mappings {
        let mut customers: Vec<SyncCustomer> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for r in records {
            let FeedItem::Change(c) = &r.item else { continue };
            if c.group_id != m.group_id {
                continue;
            }
            let entry = SyncCustomer {
                customer_id: c.customer_id.clone(),
                email: c.email.clone(),
            };
            match index.get(c.customer_id.as_str()) {
                Some(&i) if entry.email.is_some() => customers[i] = entry,
                Some(_) => {}
                None => {
                    index.insert(c.customer_id.as_str(), customers.len());
                    customers.push(entry);
                }
            }
        }
        for chunk in customers.chunks(provider.batch_limit()) {
            out.push(SyncJob::Changes {
                tenant: t.clone(),
                integration_id: m.integration_id.clone(),
                mapping_id: m.id.clone(),
                customers: chunk.to_vec(),
            });
        }
    }
    out
}
