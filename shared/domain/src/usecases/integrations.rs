//! Email-provider integration use cases: the account (credentials sealed, never shown again) and its
//! mappings of groups to lists. A new mapping, and a resync of one, push every member.

use crate::destinations::integration::{
    Credentials, Integration, IntegrationChange, IntegrationInput, Mapping, MappingInput, MappingStatus, SyncJob,
};
use crate::destinations::ports::{IntegrationPorts, IntegrationStore, StoredIntegration};
use crate::destinations::secret::SealedFor;
use crate::error::{DomainError, Result};
use crate::ids::{IntegrationId, MappingId, PathId, TenantId};
use crate::page::{Page, PageRequest};
use chrono::{DateTime, Utc};

async fn stored<S: IntegrationStore>(store: &S, t: &TenantId, id: &IntegrationId) -> Result<StoredIntegration> {
    store
        .get_integration(t, id)
        .await?
        .ok_or_else(|| IntegrationId::not_found(id.as_str()))
}

async fn seal_credentials<S: IntegrationPorts>(
    store: &S,
    t: &TenantId,
    id: &IntegrationId,
    c: &Credentials,
) -> Result<crate::destinations::secret::Sealed> {
    let json = serde_json::to_vec(c).map_err(|e| DomainError::Internal(format!("encode credentials: {e}")))?;
    store.seal(t, SealedFor::Integration(id.as_str()), &json).await
}

/// Creates an integration; its credentials are stored sealed and never returned.
pub async fn create_integration<S: IntegrationPorts>(
    store: &S,
    t: &TenantId,
    input: IntegrationInput,
    now: DateTime<Utc>,
) -> Result<Integration> {
    let id = IntegrationId::generate();
    let credentials = seal_credentials(store, t, &id, &input.credentials).await?;
    let integration = Integration {
        id,
        provider: input.provider,
        name: input.name,
        username: input.credentials.username.clone(),
        created_at: now,
        updated_at: now,
    };
    store
        .create_integration(
            t,
            &StoredIntegration {
                integration: integration.clone(),
                credentials,
            },
        )
        .await?;
    Ok(integration)
}

/// One integration.
pub async fn get_integration<S: IntegrationStore>(store: &S, t: &TenantId, id: &IntegrationId) -> Result<Integration> {
    Ok(stored(store, t, id).await?.integration)
}

/// A page of the tenant's integrations.
pub async fn list_integrations<S: IntegrationStore>(
    store: &S,
    t: &TenantId,
    page: &PageRequest,
) -> Result<Page<Integration>> {
    store.list_integrations(t, page).await
}

/// Renames an integration or replaces its credentials.
pub async fn update_integration<S: IntegrationPorts>(
    store: &S,
    t: &TenantId,
    id: &IntegrationId,
    change: IntegrationChange,
    now: DateTime<Utc>,
) -> Result<Integration> {
    let current = stored(store, t, id).await?;
    let mut next = current.clone();
    if let Some(c) = &change.credentials {
        next.credentials = seal_credentials(store, t, id, c).await?;
        next.integration.username = c.username.clone();
    }
    next.integration.name = change.name.apply(next.integration.name.take());
    next.integration.updated_at = now;
    store.save_integration(t, &next, current.integration.updated_at).await?;
    Ok(next.integration)
}

/// Deletes an integration and its mappings (contacts already on the provider's lists stay there).
pub async fn delete_integration<S: IntegrationStore>(store: &S, t: &TenantId, id: &IntegrationId) -> Result<()> {
    if store.delete_integration(t, id).await? {
        Ok(())
    } else {
        Err(IntegrationId::not_found(id.as_str()))
    }
}

fn push_job(t: &TenantId, m: &Mapping) -> SyncJob {
    SyncJob::Push {
        tenant: t.clone(),
        integration_id: m.integration_id.clone(),
        mapping_id: m.id.clone(),
        run: m.push_run.clone(),
        cursor: None,
        part: 0,
    }
}

/// Maps a group to a list and starts pushing every member.
pub async fn create_mapping<S: IntegrationPorts>(
    store: &S,
    t: &TenantId,
    integration: &IntegrationId,
    input: MappingInput,
    now: DateTime<Utc>,
) -> Result<Mapping> {
    stored(store, t, integration).await?;
    if store.get_group(t, &input.group_id).await?.is_none() {
        return Err(DomainError::validation(
            "group_id",
            format!("no group with id {:?}", input.group_id.as_str()),
        ));
    }
    let existing = store.list_mappings(t, integration).await?;
    if let Some(m) = existing
        .iter()
        .find(|m| m.group_id == input.group_id && m.list_id == input.list_id)
    {
        return Err(DomainError::conflict(
            "list_id",
            format!("mapping {} already keeps this group on list {}", m.id, m.list_id),
        ));
    }
    let mapping = Mapping {
        id: MappingId::generate(),
        integration_id: integration.clone(),
        group_id: input.group_id,
        list_id: input.list_id,
        status: MappingStatus::Pushing,
        members_synced: 0,
        skipped_without_email: 0,
        last_sync_at: None,
        last_error: None,
        push_run: uuid::Uuid::now_v7().to_string(),
        created_at: now,
    };
    store.create_mapping(t, &mapping).await?;
    store.enqueue_sync(&[push_job(t, &mapping)]).await?;
    Ok(mapping)
}

/// Every mapping of an integration.
pub async fn list_mappings<S: IntegrationStore>(
    store: &S,
    t: &TenantId,
    integration: &IntegrationId,
) -> Result<Page<Mapping>> {
    stored(store, t, integration).await?;
    Ok(Page {
        items: store.list_mappings(t, integration).await?,
        next_cursor: None,
    })
}

/// Deletes a mapping (the contacts stay on the list).
pub async fn delete_mapping<S: IntegrationStore>(
    store: &S,
    t: &TenantId,
    integration: &IntegrationId,
    id: &MappingId,
) -> Result<()> {
    stored(store, t, integration).await?;
    if store.delete_mapping(t, integration, id).await? {
        Ok(())
    } else {
        Err(MappingId::not_found(id.as_str()))
    }
}

/// Pushes every member again (a new push run; the counters start over).
pub async fn resync_mapping<S: IntegrationPorts>(
    store: &S,
    t: &TenantId,
    integration: &IntegrationId,
    id: &MappingId,
) -> Result<Mapping> {
    stored(store, t, integration).await?;
    let mut m = store
        .get_mapping(t, integration, id)
        .await?
        .ok_or_else(|| MappingId::not_found(id.as_str()))?;
    m.status = MappingStatus::Pushing;
    m.members_synced = 0;
    m.skipped_without_email = 0;
    m.last_error = None;
    m.push_run = uuid::Uuid::now_v7().to_string();
    store.save_mapping(t, &m).await?;
    store.enqueue_sync(&[push_job(t, &m)]).await?;
    Ok(m)
}
