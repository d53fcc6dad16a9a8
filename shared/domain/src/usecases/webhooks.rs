//! Webhook endpoint use cases: create (the secret is shown once), read, change, delete, rotate the
//! secret, list the delivery log and replay a message.

use crate::destinations::delivery::{Delivery, DeliveryJob, DeliveryPolicy, DeliveryState};
use crate::destinations::ports::{StoredWebhook, WebhookApiPorts, WebhookStore};
use crate::destinations::secret::{SealedFor, SigningSecret};
use crate::destinations::webhook::{DisabledReason, UrlPolicy, Webhook, WebhookChange, WebhookInput};
use crate::error::{DomainError, Result};
use crate::ids::{DeliveryId, GroupId, PathId, TenantId, WebhookId};
use crate::page::{Page, PageRequest};
use crate::patch::Patch;
use crate::ports::GroupStore;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An endpoint with its signing secret: the only responses that carry the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_...`: store it now, it is never shown again.
    pub secret: String,
}

/// Creates an endpoint; the response carries its secret, once.
pub async fn create_webhook<S: WebhookApiPorts>(
    store: &S,
    t: &TenantId,
    input: WebhookInput,
    policy: UrlPolicy,
    now: DateTime<Utc>,
) -> Result<WebhookWithSecret> {
    policy.check(&input.url)?;
    if let Some(ids) = &input.group_ids {
        check_groups(store, t, ids).await?;
    }
    let id = WebhookId::generate();
    let secret = SigningSecret::generate()?;
    let sealed = store.seal(t, SealedFor::Webhook(id.as_str()), secret.bytes()).await?;
    let webhook = Webhook {
        id,
        url: input.url.to_string(),
        description: input.description,
        event_types: input.event_types,
        group_ids: input.group_ids,
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        failing_since: None,
        previous_secret_expires_at: None,
        created_at: now,
        updated_at: now,
    };
    store
        .create_webhook(
            t,
            &StoredWebhook {
                webhook: webhook.clone(),
                secret: sealed,
                previous_secret: None,
            },
        )
        .await?;
    Ok(WebhookWithSecret {
        webhook,
        secret: secret.reveal(),
    })
}

/// Every named group must exist for the tenant (422 naming the entry otherwise).
async fn check_groups<S: GroupStore>(store: &S, t: &TenantId, ids: &[GroupId]) -> Result<()> {
    for (i, g) in ids.iter().enumerate() {
        if store.get_group(t, g).await?.is_none() {
            return Err(DomainError::validation(
                format!("group_ids[{i}]"),
                format!("no group with id {:?}", g.as_str()),
            ));
        }
    }
    Ok(())
}

async fn stored<S: WebhookStore>(store: &S, t: &TenantId, id: &WebhookId) -> Result<StoredWebhook> {
    store
        .get_webhook(t, id)
        .await?
        .ok_or_else(|| WebhookId::not_found(id.as_str()))
}

/// One endpoint (never its secret).
pub async fn get_webhook<S: WebhookStore>(store: &S, t: &TenantId, id: &WebhookId) -> Result<Webhook> {
    Ok(stored(store, t, id).await?.webhook)
}

/// A page of the tenant's endpoints.
pub async fn list_webhooks<S: WebhookStore>(store: &S, t: &TenantId, page: &PageRequest) -> Result<Page<Webhook>> {
    store.list_webhooks(t, page).await
}

/// Changes an endpoint. Enabling it again forgets past failures; disabling it stops deliveries.
pub async fn update_webhook<S: WebhookApiPorts>(
    store: &S,
    t: &TenantId,
    id: &WebhookId,
    change: WebhookChange,
    policy: UrlPolicy,
    now: DateTime<Utc>,
) -> Result<Webhook> {
    let current = stored(store, t, id).await?;
    let mut next = current.clone();
    let w = &mut next.webhook;
    if let Some(url) = change.url {
        policy.check(&url)?;
        w.url = url.to_string();
    }
    if let Some(types) = change.event_types {
        w.event_types = types;
    }
    match change.group_ids {
        Patch::Keep => {}
        Patch::Clear => w.group_ids = None,
        Patch::Set(ids) => {
            check_groups(store, t, &ids).await?;
            w.group_ids = Some(ids);
        }
    }
    w.description = change.description.apply(w.description.take());
    match change.enabled {
        Some(true) if !w.enabled => {
            w.enabled = true;
            w.disabled_reason = None;
            w.disabled_at = None;
            w.failing_since = None;
        }
        Some(false) if w.enabled => {
            w.enabled = false;
            w.disabled_reason = Some(DisabledReason::ByRequest);
            w.disabled_at = Some(now);
        }
        _ => {}
    }
    w.updated_at = now;
    store.save_webhook(t, &next, current.webhook.updated_at).await?;
    Ok(next.webhook)
}

/// Deletes an endpoint; its pending messages are dropped when their turn comes.
pub async fn delete_webhook<S: WebhookStore>(store: &S, t: &TenantId, id: &WebhookId) -> Result<()> {
    if store.delete_webhook(t, id).await? {
        Ok(())
    } else {
        Err(WebhookId::not_found(id.as_str()))
    }
}

/// The response of a rotation: the new secret, once, and until when the old one still signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotatedSecret {
    /// The endpoint.
    pub id: WebhookId,
    /// `whsec_...`: the new secret, shown once.
    pub secret: String,
    /// Until then every delivery carries two signatures (new and previous secret).
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// Replaces the signing secret. The previous one keeps signing for the policy's overlap (both
/// signatures in `webhook-signature`), so receivers can switch without losing a delivery.
pub async fn rotate_secret<S: WebhookApiPorts>(
    store: &S,
    t: &TenantId,
    id: &WebhookId,
    policy: &DeliveryPolicy,
    now: DateTime<Utc>,
) -> Result<RotatedSecret> {
    let current = stored(store, t, id).await?;
    let secret = SigningSecret::generate()?;
    let sealed = store.seal(t, SealedFor::Webhook(id.as_str()), secret.bytes()).await?;
    let expires = now + policy.rotation_overlap;
    let mut next = current.clone();
    next.previous_secret = Some(current.secret.clone());
    next.secret = sealed;
    next.webhook.previous_secret_expires_at = Some(expires);
    next.webhook.updated_at = now;
    store.save_webhook(t, &next, current.webhook.updated_at).await?;
    Ok(RotatedSecret {
        id: id.clone(),
        secret: secret.reveal(),
        previous_secret_expires_at: expires,
    })
}

/// A page of an endpoint's messages, newest first.
pub async fn list_deliveries<S: WebhookApiPorts>(
    store: &S,
    t: &TenantId,
    id: &WebhookId,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    stored(store, t, id).await?;
    store.list_deliveries(t, id, page).await
}

/// Sends a message again with the same id and body: a new round of the schedule starts at once.
pub async fn replay<S: WebhookApiPorts>(
    store: &S,
    t: &TenantId,
    webhook_id: &WebhookId,
    id: &DeliveryId,
    now: DateTime<Utc>,
) -> Result<Delivery> {
    let endpoint = stored(store, t, webhook_id).await?;
    let found = store
        .get_delivery(t, webhook_id, id)
        .await?
        .ok_or_else(|| DeliveryId::not_found(id.as_str()))?;
    let was = found.delivery;
    if was.status == DeliveryState::Pending {
        return Err(DomainError::conflict(
            "delivery_id",
            "the message is still pending; it will be attempted as scheduled",
        ));
    }
    if !endpoint.webhook.enabled {
        return Err(DomainError::conflict(
            "webhook_id",
            "the endpoint is disabled; enable it (PATCH {\"enabled\": true}) before replaying",
        ));
    }
    let mut after = was.clone();
    after.status = DeliveryState::Pending;
    after.attempt_count = 0;
    after.next_attempt_at = Some(now);
    after.failure_reason = None;
    if !store
        .update_delivery(t, &after, (was.status, was.attempt_count))
        .await?
    {
        return Err(DomainError::ConcurrentUpdate);
    }
    let job = DeliveryJob {
        tenant: t.clone(),
        webhook_id: webhook_id.clone(),
        delivery_id: id.clone(),
    };
    // If this enqueue fails the sweep finds the pending message once it is overdue.
    store.enqueue_deliveries(&[(job, std::time::Duration::ZERO)]).await?;
    Ok(after)
}
