//! Tenant settings (`GET|PATCH /settings`). A change of the renewal grace moves the instants at which
//! subscriptions lapse, so it queues a resync of every dynamic group (coalesced with any queued one).

use crate::error::Result;
use crate::group::GroupKind;
use crate::ids::TenantId;
use crate::ports::{GroupStore, JobQueue, ResyncJobs, SettingsStore, Shards, TenantRegistry};
use crate::settings::{SettingsPatch, TenantSettings};
use crate::usecases::resync::start_resync;
use chrono::{DateTime, Utc};

/// The tenant's settings (the defaults until it sets its own).
pub async fn get_settings<S: SettingsStore>(store: &S, t: &TenantId) -> Result<TenantSettings> {
    store.get_settings(t).await
}

/// Applies a patch; a changed grace re-evaluates every customer.
pub async fn update_settings<S>(
    store: &S,
    t: &TenantId,
    patch: SettingsPatch,
    now: DateTime<Utc>,
) -> Result<TenantSettings>
where
    S: SettingsStore + TenantRegistry + GroupStore + ResyncJobs + JobQueue + Shards,
{
    let current = store.get_settings(t).await?;
    let next = patch.apply(current)?;
    if next != current {
        store.register_tenant(t).await?;
        store.save_settings(t, &next).await?;
        let dynamic: Vec<_> = store
            .list_all_groups(t)
            .await?
            .into_iter()
            .filter(|g| g.kind == GroupKind::Dynamic)
            .map(|g| g.id)
            .collect();
        if !dynamic.is_empty() {
            start_resync(store, t, dynamic, now).await?;
        }
    }
    Ok(next)
}
