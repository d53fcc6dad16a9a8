//! Typed items of destinations (serde_dynamo, no `#[serde(flatten)]`): endpoints, integrations and
//! mappings in the tenant's destinations partition, messages, cursors and notifications.

use base64::Engine as _;
use cg_domain::destinations::delivery::{Attempt, Delivery, DeliveryState};
use cg_domain::destinations::event::EventType;
use cg_domain::destinations::integration::{Integration, Mapping, MappingStatus, Provider};
use cg_domain::destinations::ports::{StoredIntegration, StoredWebhook};
use cg_domain::destinations::secret::Sealed;
use cg_domain::destinations::webhook::{DisabledReason, Webhook};
use cg_domain::ids::{DeliveryId, GroupId, IntegrationId, MappingId, WebhookId};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Ciphertext as stored: base64 text.
pub(crate) fn sealed_text(s: &Sealed) -> String {
    base64::engine::general_purpose::STANDARD.encode(&s.0)
}

pub(crate) fn sealed_from(text: &str) -> Result<Sealed> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Sealed)
        .map_err(|e| DomainError::Internal(format!("stored ciphertext is not base64: {e}")))
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WebhookItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: WebhookId,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_ids: Option<Vec<GroupId>>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<DisabledReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The sealed signing secret (KMS ciphertext, base64).
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
}

impl WebhookItem {
    pub fn new(pk: String, sk: String, s: &StoredWebhook) -> Self {
        let w = &s.webhook;
        WebhookItem {
            pk,
            sk,
            id: w.id.clone(),
            url: w.url.clone(),
            description: w.description.clone(),
            event_types: w.event_types.clone(),
            group_ids: w.group_ids.clone(),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            disabled_at: w.disabled_at,
            failing_since: w.failing_since,
            previous_secret_expires_at: w.previous_secret_expires_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret: sealed_text(&s.secret),
            previous_secret: s.previous_secret.as_ref().map(sealed_text),
        }
    }

    pub fn webhook(&self) -> Webhook {
        Webhook {
            id: self.id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            event_types: self.event_types.clone(),
            group_ids: self.group_ids.clone(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            disabled_at: self.disabled_at,
            failing_since: self.failing_since,
            previous_secret_expires_at: self.previous_secret_expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn into_stored(self) -> Result<StoredWebhook> {
        Ok(StoredWebhook {
            webhook: self.webhook(),
            secret: sealed_from(&self.secret)?,
            previous_secret: self.previous_secret.as_deref().map(sealed_from).transpose()?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IntegrationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: IntegrationId,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The sealed credentials (KMS ciphertext of their JSON, base64).
    pub credentials: String,
}

impl IntegrationItem {
    pub fn new(pk: String, sk: String, s: &StoredIntegration) -> Self {
        let i = &s.integration;
        IntegrationItem {
            pk,
            sk,
            id: i.id.clone(),
            provider: i.provider,
            name: i.name.clone(),
            username: i.username.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            credentials: sealed_text(&s.credentials),
        }
    }

    pub fn integration(&self) -> Integration {
        Integration {
            id: self.id.clone(),
            provider: self.provider,
            name: self.name.clone(),
            username: self.username.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn into_stored(self) -> Result<StoredIntegration> {
        Ok(StoredIntegration {
            integration: self.integration(),
            credentials: sealed_from(&self.credentials)?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MappingItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: MappingId,
    pub integration_id: IntegrationId,
    pub group_id: GroupId,
    pub list_id: u64,
    pub status: MappingStatus,
    /// Confirmed minus removed (an ADD target, so it may dip below zero for a moment).
    pub members_synced: i64,
    pub skipped_without_email: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub push_run: String,
    pub created_at: DateTime<Utc>,
}

impl MappingItem {
    pub fn new(pk: String, sk: String, m: &Mapping) -> Self {
        MappingItem {
            pk,
            sk,
            id: m.id.clone(),
            integration_id: m.integration_id.clone(),
            group_id: m.group_id.clone(),
            list_id: m.list_id,
            status: m.status,
            members_synced: m.members_synced as i64,
            skipped_without_email: m.skipped_without_email as i64,
            last_sync_at: m.last_sync_at,
            last_error: m.last_error.clone(),
            push_run: m.push_run.clone(),
            created_at: m.created_at,
        }
    }

    pub fn into_mapping(self) -> Mapping {
        Mapping {
            id: self.id,
            integration_id: self.integration_id,
            group_id: self.group_id,
            list_id: self.list_id,
            status: self.status,
            members_synced: self.members_synced.max(0) as u64,
            skipped_without_email: self.skipped_without_email.max(0) as u64,
            last_sync_at: self.last_sync_at,
            last_error: self.last_error,
            push_run: self.push_run,
            created_at: self.created_at,
        }
    }
}

/// A message: the delivery's state and the body every attempt sends.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeliveryItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    pub status: DeliveryState,
    pub attempt_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub change_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    pub body: String,
    /// WakeIndex keys while pending, so the sweep finds a message whose queue message was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_sk: Option<String>,
    pub ttl: i64,
}

impl DeliveryItem {
    pub fn into_delivery(self) -> (Delivery, String) {
        (
            Delivery {
                id: self.id,
                webhook_id: self.webhook_id,
                event_type: self.event_type,
                created_at: self.created_at,
                status: self.status,
                attempt_count: self.attempt_count,
                next_attempt_at: self.next_attempt_at,
                change_count: self.change_count,
                failure_reason: self.failure_reason,
                attempts: self.attempts,
            },
            self.body,
        )
    }
}

/// How far one group's changes of one type are in messages for one endpoint.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CursorItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    /// The stream sequence number (40 digits) of the last change in a message.
    pub seq: String,
    pub ttl: i64,
}

/// A job's end for the change stream.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct NotificationItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub feed: String,
    pub event_type: EventType,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub group_ids: Vec<GroupId>,
    /// The payload's `data` as JSON text (its shape is the event type's).
    pub data_json: String,
    pub ttl: i64,
}
