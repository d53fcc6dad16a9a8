//! Keeping a group on a provider's list. Jobs run in order per mapping (a FIFO message group each):
//! a push sends every member as confirmed, a page range per job; a change job reads who is a member
//! *now* and confirms members and removes the others, so a late or repeated job converges on the
//! group's current members instead of replaying a stale direction.

use crate::destinations::integration::{
    Credentials, ListContact, Mapping, MappingStatus, ProviderError, SyncCustomer, SyncJob,
};
use crate::destinations::ports::{ContactListProvider, SyncPorts, SyncProgress};
use crate::destinations::secret::SealedFor;
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, IntegrationId, MappingId, TenantId};
use crate::page::PageRequest;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What one sync job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Contacts sent as confirmed.
    pub confirmed: u64,
    /// Contacts sent as removed.
    pub removed: u64,
    /// Members skipped for having no email.
    pub skipped: u64,
    /// Provider requests made.
    pub requests: u64,
    /// Whether a push handed the rest on to another job.
    pub handed_on: bool,
    /// Why the job did nothing (mapping gone, a newer push running).
    pub skipped_job: Option<&'static str>,
    /// A provider refusal recorded on the mapping (no retry helps).
    pub refused: Option<String>,
}

/// Member rows read per page of a push.
const PUSH_PAGE: u32 = 100;

/// Runs one sync job. A throttled or unreachable provider is `Unavailable` (the queue retries it);
/// refused credentials or a rejected request are recorded on the mapping and end the job.
pub async fn run_sync<S: SyncPorts, P: ContactListProvider>(
    store: &S,
    provider: &P,
    job: &SyncJob,
    now: DateTime<Utc>,
) -> Result<SyncReport> {
    let (t, integration_id, mapping_id) = match job {
        SyncJob::Push {
            tenant,
            integration_id,
            mapping_id,
            ..
        }
        | SyncJob::Changes {
            tenant,
            integration_id,
            mapping_id,
            ..
        } => (tenant, integration_id, mapping_id),
    };
    let mut report = SyncReport::default();
    let (Some(mapping), Some(integration)) = (
        store.get_mapping(t, integration_id, mapping_id).await?,
        store.get_integration(t, integration_id).await?,
    ) else {
        report.skipped_job = Some("the mapping or its integration was deleted");
        return Ok(report);
    };
    let plain = store
        .open(
            t,
            SealedFor::Integration(integration_id.as_str()),
            &integration.credentials,
        )
        .await?;
    let credentials: Credentials = serde_json::from_slice(&plain)
        .map_err(|e| DomainError::Internal(format!("stored credentials do not decode: {e}")))?;
    let kind = integration.integration.provider;
    let limit = kind.batch_limit();

    let (contacts, run, next) = match job {
        SyncJob::Push { run, cursor, part, .. } => {
            if *run != mapping.push_run {
                report.skipped_job = Some("a newer push of this mapping started");
                return Ok(report);
            }
            let (contacts, skipped, next) = push_page(store, t, &mapping, cursor.clone(), limit).await?;
            report.skipped = skipped;
            (contacts, Some(run.clone()), next.map(|c| (c, part + 1)))
        }
        SyncJob::Changes { customers, .. } => {
            let (contacts, skipped) = change_contacts(store, t, &mapping, customers).await?;
            report.skipped = skipped;
            (contacts, None, None)
        }
    };
    report.confirmed = contacts.iter().filter(|c| c.on_list).count() as u64;
    report.removed = contacts.len() as u64 - report.confirmed;
    for chunk in contacts.chunks(limit) {
        report.requests += 1;
        if let Err(e) = provider.sync_contacts(kind, &credentials, mapping.list_id, chunk).await {
            return refused(store, t, &mapping, run, e, now, report).await;
        }
    }
    let status = match (&next, run.is_some(), mapping.status) {
        (Some(_), _, _) => MappingStatus::Pushing,
        (None, true, _) => MappingStatus::Synced,
        // A change during a push leaves the push's status; after an error, a change that got through
        // shows the list is reachable again.
        (None, false, MappingStatus::Pushing) => MappingStatus::Pushing,
        (None, false, _) => MappingStatus::Synced,
    };
    let progress = SyncProgress {
        run: run.clone(),
        synced_delta: report.confirmed as i64 - report.removed as i64,
        skipped_delta: report.skipped as i64,
        status,
        error: None,
        at: now,
    };
    let current = store.record_sync(t, integration_id, mapping_id, &progress).await?;
    if let (true, Some((cursor, part)), Some(run)) = (current, next, run) {
        store
            .enqueue_sync(&[SyncJob::Push {
                tenant: t.clone(),
                integration_id: integration_id.clone(),
                mapping_id: mapping_id.clone(),
                run,
                cursor: Some(cursor),
                part,
            }])
            .await?;
        report.handed_on = true;
    }
    Ok(report)
}

/// The members of the next part of a push: up to `limit` members with email, the count of those
/// without, and where the next part starts.
async fn push_page<S: SyncPorts>(
    store: &S,
    t: &TenantId,
    m: &Mapping,
    mut cursor: Option<String>,
    limit: usize,
) -> Result<(Vec<ListContact>, u64, Option<String>)> {
    let (mut contacts, mut skipped) = (Vec::new(), 0);
    loop {
        let page = store
            .list_members(
                t,
                &m.group_id,
                &PageRequest {
                    limit: PUSH_PAGE,
                    cursor: cursor.clone(),
                },
            )
            .await?;
        for member in page.items {
            match member.profile.email.clone() {
                Some(email) => contacts.push(ListContact::new(email, member.profile.name.as_deref(), true)),
                None => skipped += 1,
            }
        }
        cursor = page.next_cursor;
        // A part stops at a page boundary once another page could overflow the provider's limit.
        if cursor.is_none() || contacts.len() + PUSH_PAGE as usize > limit {
            return Ok((contacts, skipped, cursor));
        }
    }
}

/// Confirms the customers who are members now (with their current email and name) and removes the
/// others by the email they had when they changed.
async fn change_contacts<S: SyncPorts>(
    store: &S,
    t: &TenantId,
    m: &Mapping,
    customers: &[SyncCustomer],
) -> Result<(Vec<ListContact>, u64)> {
    let ids: Vec<CustomerId> = customers.iter().map(|c| c.customer_id.clone()).collect();
    let members: HashMap<CustomerId, crate::group::Member> = store
        .member_rows(t, &m.group_id, &ids)
        .await?
        .into_iter()
        .map(|r| (r.customer_id.clone(), r))
        .collect();
    let (mut contacts, mut skipped) = (Vec::new(), 0);
    for c in customers {
        match members.get(&c.customer_id) {
            Some(row) => match row.profile.email.clone() {
                Some(email) => contacts.push(ListContact::new(email, row.profile.name.as_deref(), true)),
                None => skipped += 1,
            },
            None => {
                if let Some(email) = c.email.clone() {
                    contacts.push(ListContact::new(email, None, false));
                }
            }
        }
    }
    Ok((contacts, skipped))
}

async fn refused<S: SyncPorts>(
    store: &S,
    t: &TenantId,
    m: &Mapping,
    run: Option<String>,
    e: ProviderError,
    now: DateTime<Utc>,
    mut report: SyncReport,
) -> Result<SyncReport> {
    if let ProviderError::Unavailable(why) = &e {
        return Err(DomainError::Unavailable(format!("provider unavailable: {why}")));
    }
    record_error(store, t, &m.integration_id, &m.id, run, e.message(), now).await?;
    report.refused = Some(e.message().to_owned());
    Ok(report)
}

/// Marks the mapping failed with a reason (a refusal, or a job that kept failing).
pub async fn record_error<S: SyncPorts>(
    store: &S,
    t: &TenantId,
    integration: &IntegrationId,
    mapping: &MappingId,
    run: Option<String>,
    why: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let progress = SyncProgress {
        run,
        synced_delta: 0,
        skipped_delta: 0,
        status: MappingStatus::Error,
        error: Some(why.chars().take(500).collect()),
        at: now,
    };
    store.record_sync(t, integration, mapping, &progress).await.map(|_| ())
}

/// Records that a sync job will not be retried (its queue message is going to the dead-letter queue).
pub async fn fail_sync<S: SyncPorts>(store: &S, job: &SyncJob, reason: &str, now: DateTime<Utc>) -> Result<()> {
    let (t, i, m, run) = match job {
        SyncJob::Push {
            tenant,
            integration_id,
            mapping_id,
            run,
            ..
        } => (tenant, integration_id, mapping_id, Some(run.clone())),
        SyncJob::Changes {
            tenant,
            integration_id,
            mapping_id,
            ..
        } => (tenant, integration_id, mapping_id, None),
    };
    let why =
        format!("a sync kept failing and was set aside ({reason}); resync the mapping to push every member again");
    record_error(store, t, i, m, run, &why, now).await
}
