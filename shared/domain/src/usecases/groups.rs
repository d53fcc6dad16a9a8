//! Group use cases: definitions and static membership.

use crate::customer::Identity;
use crate::error::{DomainError, Result};
use crate::group::{
    AddMembersReport, Group, GroupChange, GroupInput, GroupKind, Member, MemberKey, ParsedMembers, RejectReason,
    Rejection, SyncState, SyncStatus,
};
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::jobs::{GroupJob, ResyncJob};
use crate::membership::ChangeReason;
use crate::page::{Page, PageRequest};
use crate::ports::{
    AddOutcome, CustomerStore, GroupPorts, GroupStore, JobQueue, MembershipPass, MembershipStore, ResyncJobs, Shards,
};
use crate::rules::{check_references, users_of};
use crate::usecases::lookup::get_group;
use crate::usecases::membership::reevaluate;
use crate::usecases::resync::start_resync;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The response of `POST /groups`: the group and, when it was created with members, their report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedGroup {
    /// The new group.
    #[serde(flatten)]
    pub group: Group,
    /// What adding the first members did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_report: Option<AddMembersReport>,
    /// A filter saved as a static group in a tenant too large to snapshot within the request: the
    /// count job that adds every match (follow it at `GET /count-jobs/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_job: Option<crate::search::count::CountJobView>,
}

/// Creates a group. A static group gets its first members when the request lists them; a dynamic
/// group's rules are checked against the reference graph and its first resync is queued.
pub async fn create_group<S: GroupPorts>(
    store: &S,
    tenant: &TenantId,
    input: GroupInput,
    now: DateTime<Utc>,
) -> Result<CreatedGroup> {
    let mut group = Group {
        id: GroupId::generate(),
        name: input.name,
        kind: input.kind,
        member_count: 0,
        created_at: now,
        updated_at: now,
        definition: None,
        template: None,
        settings: None,
        uses_groups: Vec::new(),
        sync: None,
    };
    let dynamic = input.draft.is_some();
    if let Some(d) = input.draft {
        let groups = store.list_all_groups(tenant).await?;
        check_references(
            groups.iter().map(Group::refs),
            &group.id,
            &d.definition.rule.referenced_groups(),
        )?;
        group.set_definition(d.definition);
        group.template = d.template;
        group.settings = Some(input.settings);
    }
    store.register_tenant(tenant).await?;
    store.create_group(tenant, &group).await?;
    if dynamic {
        let job = start_resync(store, tenant, vec![group.id.clone()], now).await?;
        group.sync = Some(queued(&job));
    }
    let Some(members) = input.members else {
        return Ok(CreatedGroup {
            group,
            member_report: None,
            snapshot_job: None,
        });
    };
    let (report, _) = add_parsed_members(store, tenant, &group.id, members, now).await?;
    let group = get_group(store, tenant, &group.id).await?;
    Ok(CreatedGroup {
        group,
        member_report: Some(report),
        snapshot_job: None,
    })
}

fn queued(job: &ResyncJob) -> SyncStatus {
    SyncStatus {
        status: SyncState::Queued,
        job_id: Some(job.id.clone()),
        started_at: Some(job.created_at),
        finished_at: None,
        last_synced_at: None,
        progress: 0.0,
        shards_done: 0,
        shards_total: job.shards_total,
        customers_evaluated: 0,
        last_error: None,
    }
}

/// A group with the live progress of its running resync.
pub async fn get_group_with_sync<S: GroupStore + ResyncJobs>(
    store: &S,
    tenant: &TenantId,
    id: &GroupId,
) -> Result<Group> {
    let mut group = get_group(store, tenant, id).await?;
    if let Some(sync) = group.sync.as_mut() {
        if let (SyncState::Queued | SyncState::Running, Some(job_id)) = (sync.status, sync.job_id.as_ref()) {
            if let Some(job) = store.get_resync_job(tenant, job_id).await? {
                // The job may have finished between the two reads: show it finished, as the group
                // item will say (finish_job writes both in one transaction).
                if matches!(job.status, SyncState::Done | SyncState::Failed) {
                    sync.finished_at = job.finished_at;
                    sync.last_error.clone_from(&job.last_error);
                    if job.status == SyncState::Done {
                        sync.last_synced_at = job.finished_at;
                    }
                }
                sync.status = job.status;
                sync.shards_done = job.shards_done;
                sync.shards_total = job.shards_total;
                sync.customers_evaluated = job.customers_evaluated;
                sync.progress = f64::from(job.shards_done) / f64::from(job.shards_total.max(1));
            }
        }
    }
    Ok(group)
}

/// A page of the tenant's groups.
pub async fn list_groups<S: GroupStore>(store: &S, tenant: &TenantId, page: &PageRequest) -> Result<Page<Group>> {
    store.list_groups(tenant, page).await
}

/// Renames a group and, for a dynamic group, replaces its rules or settings; changed rules queue a
/// resync that brings the members in line.
pub async fn update_group<S>(
    store: &S,
    tenant: &TenantId,
    id: &GroupId,
    change: GroupChange,
    now: DateTime<Utc>,
) -> Result<Group>
where
    S: GroupStore + ResyncJobs + JobQueue + Shards,
{
    let current = get_group(store, tenant, id).await?;
    let mut next = current.clone();
    let redefine = change.redefines();
    if redefine && current.kind == GroupKind::Static {
        return Err(DomainError::conflict(
            "type",
            "a static group has no rules or settings; create a dynamic group instead",
        ));
    }
    if let Some(name) = change.name {
        next.name = name;
    }
    if let Some(settings) = change.settings {
        next.settings = Some(settings);
    }
    if let Some(draft) = change.draft {
        let groups = store.list_all_groups(tenant).await?;
        check_references(
            groups.iter().map(Group::refs),
            &current.id,
            &draft.definition.rule.referenced_groups(),
        )?;
        next.set_definition(draft.definition);
        next.template = draft.template;
        next.settings = Some(next.lifecycle_settings());
    }
    next.updated_at = now;
    store.update_group(tenant, &next, current.updated_at).await?;
    if redefine {
        let job = start_resync(store, tenant, vec![next.id.clone()], now).await?;
        next.sync = Some(SyncStatus {
            last_synced_at: current.sync.as_ref().and_then(|s| s.last_synced_at),
            ..queued(&job)
        });
    }
    Ok(next)
}

/// Hides the group at once and queues the purge of its members (a large group outlives one request).
/// A group that other groups' rules reference cannot be deleted.
pub async fn delete_group<S: GroupStore + JobQueue>(store: &S, tenant: &TenantId, id: &GroupId) -> Result<()> {
    let groups = store.list_all_groups(tenant).await?;
    let users = users_of(groups.iter().map(Group::refs), id);
    if !users.is_empty() {
        let names: Vec<String> = groups
            .iter()
            .filter(|g| users.contains(&g.id))
            .map(|g| format!("{} ({:?})", g.id, g.name))
            .collect();
        return Err(DomainError::conflict(
            "group_id",
            format!(
                "the group is used by the rules of {}; change those rules first",
                names.join(", ")
            ),
        ));
    }
    store.mark_group_deleting(tenant, id).await?;
    // If this enqueue fails, the scheduler's sweep of groups marked for deletion queues it again.
    store
        .enqueue(&GroupJob::PurgeGroup {
            tenant: tenant.clone(),
            group_id: id.clone(),
        })
        .await
}

/// Adds the listed customers to a static group and reports each line that was not added.
pub async fn add_members<S: MembershipPass + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    id: &GroupId,
    list: ParsedMembers,
    now: DateTime<Utc>,
) -> Result<AddMembersReport> {
    let group = get_group(store, tenant, id).await?;
    if group.kind != GroupKind::Static {
        return Err(dynamic_members_error());
    }
    let (report, ids) = add_parsed_members(store, tenant, &group.id, list, now).await?;
    refresh_dependents(store, tenant, &group.id, &ids, now).await?;
    Ok(report)
}

fn dynamic_members_error() -> DomainError {
    DomainError::conflict(
        "type",
        "a dynamic group's members follow its rules; change the rules, or use a static group for a hand-picked list",
    )
}

/// Re-evaluates customers whose membership of a group changed by hand, when dynamic groups use it.
async fn refresh_dependents<S: MembershipPass>(
    store: &S,
    tenant: &TenantId,
    group: &GroupId,
    ids: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let groups = store.list_all_groups(tenant).await?;
    if users_of(groups.iter().map(Group::refs), group).is_empty() {
        return Ok(());
    }
    reevaluate(store, tenant, ids, ChangeReason::DependencyChanged, now).await?;
    Ok(())
}

async fn add_parsed_members<S>(
    store: &S,
    tenant: &TenantId,
    group: &GroupId,
    list: ParsedMembers,
    now: DateTime<Utc>,
) -> Result<(AddMembersReport, Vec<CustomerId>)>
where
    S: CustomerStore + MembershipStore,
{
    let ParsedMembers { keys, mut rejected } = list;
    // Resolve emails and phones to customer ids in one batched look-up.
    let lookups: Vec<Identity> = keys
        .iter()
        .filter_map(|(_, _, k)| match k {
            MemberKey::Email(e) => Some(Identity::Email(e.clone())),
            MemberKey::Phone(p) => Some(Identity::Phone(p.clone())),
            MemberKey::Id(_) => None,
        })
        .collect();
    let mut resolved = store.resolve_identities(tenant, &lookups).await?.into_iter();
    let mut wanted: Vec<(usize, String, CustomerId)> = Vec::with_capacity(keys.len());
    let mut seen = HashSet::new();
    for (line, value, key) in keys {
        let id = match key {
            MemberKey::Id(id) => Some(id),
            MemberKey::Email(_) | MemberKey::Phone(_) => resolved.next().flatten(),
        };
        match id {
            None => rejected.push(not_found(line, value)),
            Some(id) if !seen.insert(id.clone()) => rejected.push(Rejection {
                line,
                message: format!("customer {id} is already listed on an earlier line"),
                value,
                reason: RejectReason::Duplicate,
            }),
            Some(id) => wanted.push((line, value, id)),
        }
    }

    let ids: Vec<CustomerId> = wanted.iter().map(|w| w.2.clone()).collect();
    let mut found: HashMap<CustomerId, _> = store
        .get_customers(tenant, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut customers = Vec::with_capacity(wanted.len());
    let mut lines = Vec::with_capacity(wanted.len());
    for (line, value, id) in wanted {
        match found.remove(&id) {
            Some(c) => {
                customers.push(c);
                lines.push((line, value));
            }
            None => rejected.push(not_found(line, value)),
        }
    }

    let mut report = AddMembersReport::default();
    let mut added = Vec::new();
    let outcomes = store.add_members(tenant, group, &customers, now).await?;
    for ((outcome, (line, value)), c) in outcomes.into_iter().zip(lines).zip(&customers) {
        match outcome {
            AddOutcome::Added => {
                report.added += 1;
                added.push(c.id.clone());
            }
            AddOutcome::AlreadyMember => report.already_members += 1,
            AddOutcome::CustomerGone => rejected.push(not_found(line, value)),
        }
    }
    rejected.sort_by_key(|r| r.line);
    report.rejected = rejected;
    Ok((report, added))
}

fn not_found(line: usize, value: String) -> Rejection {
    Rejection {
        line,
        message: format!("no customer matches {value:?}; create the customer first"),
        value,
        reason: RejectReason::NotFound,
    }
}

/// Removes one member of a static group.
pub async fn remove_member<S: MembershipPass + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    group_id: &GroupId,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<()> {
    let group = get_group(store, tenant, group_id).await?;
    if group.kind != GroupKind::Static {
        return Err(dynamic_members_error());
    }
    if store.remove_member(tenant, &group.id, customer).await? {
        refresh_dependents(store, tenant, &group.id, std::slice::from_ref(customer), now).await
    } else {
        Err(not_a_member(customer.as_str()))
    }
}

/// The 404 of removing a customer that is not a member (or not a valid id).
pub fn not_a_member(customer_id: &str) -> DomainError {
    DomainError::not_found(format!("customer {customer_id:?} is not a member of this group"))
}

/// A page of a group's members.
pub async fn list_members<S: GroupStore + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    group_id: &GroupId,
    page: &PageRequest,
) -> Result<Page<Member>> {
    let group = get_group(store, tenant, group_id).await?;
    store.list_members(tenant, &group.id, page).await
}
