//! Group use cases: definitions and static membership.

use crate::customer::Identity;
use crate::error::{DomainError, Result};
use crate::group::{
    draft_rules, group_name, AddMembersReport, Group, GroupKind, GroupUpdate, Member, MemberKey, MemberList, NewGroup,
    RejectReason, Rejection, SyncState, SyncStatus,
};
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::jobs::GroupJob;
use crate::jobs::ResyncJob;
use crate::membership::ChangeReason;
use crate::page::{Page, PageRequest};
use crate::ports::{
    AddOutcome, CustomerStore, GroupStore, JobQueue, MembershipStore, MembershipWriter, ResyncJobs, Shards,
    TenantRegistry,
};
use crate::usecases::dynamic::{check_references, reevaluate, start_resync, users_of};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

fn group_not_found(id: &str) -> DomainError {
    DomainError::not_found(format!("no group with id {id:?}"))
}

fn path_group_id(id: &str) -> Result<GroupId> {
    GroupId::parse(id).map_err(|_| group_not_found(id))
}

/// Creates a group. A static group gets its first members when the request lists them; a dynamic
/// group's rules are checked against the reference graph and its first resync is queued.
pub async fn create_group<S>(
    store: &S,
    tenant: &TenantId,
    input: NewGroup,
    now: DateTime<Utc>,
) -> Result<(Group, Option<AddMembersReport>)>
where
    S: GroupStore
        + CustomerStore
        + MembershipStore
        + MembershipWriter
        + TenantRegistry
        + ResyncJobs
        + JobQueue
        + Shards,
{
    let draft = input.draft()?;
    let mut group = Group {
        id: GroupId::generate(),
        name: group_name(&input.name)?,
        kind: input.kind,
        member_count: 0,
        created_at: now,
        updated_at: now,
        rules: None,
        condition_groups: None,
        template: None,
        settings: None,
        uses_groups: Vec::new(),
        sync: None,
    };
    if let Some(d) = &draft {
        let groups = store.list_all_groups(tenant).await?;
        check_references(&groups, &group.id, &d.definition.rule.referenced_groups())?;
        group.set_definition(&d.definition);
        group.template.clone_from(&d.template);
        group.settings = Some(d.settings);
    }
    // Validate the member list before anything is written, so a bad list creates nothing.
    let parsed = input.members.map(MemberList::parse).transpose()?;
    store.register_tenant(tenant).await?;
    store.create_group(tenant, &group).await?;
    if draft.is_some() {
        let job = start_resync(store, tenant, vec![group.id.clone()], now).await?;
        group.sync = Some(queued(&job));
    }
    let Some((keys, rejected)) = parsed else {
        return Ok((group, None));
    };
    let (report, _) = add_parsed_members(store, tenant, &group.id, keys, rejected, now).await?;
    let group = get_group(store, tenant, group.id.as_str()).await?;
    Ok((group, Some(report)))
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

pub async fn get_group<S: GroupStore>(store: &S, tenant: &TenantId, id: &str) -> Result<Group> {
    let id = path_group_id(id)?;
    store
        .get_group(tenant, &id)
        .await?
        .ok_or_else(|| group_not_found(id.as_str()))
}

/// A group with the live progress of its running resync.
pub async fn get_group_with_sync<S: GroupStore + ResyncJobs>(store: &S, tenant: &TenantId, id: &str) -> Result<Group> {
    let mut group = get_group(store, tenant, id).await?;
    if let Some(sync) = group.sync.as_mut() {
        if let (SyncState::Queued | SyncState::Running, Some(job_id)) = (sync.status, sync.job_id.as_ref()) {
            if let Some(job) = store.get_resync_job(tenant, job_id).await? {
                sync.status = if job.shards_done > 0 {
                    SyncState::Running
                } else {
                    SyncState::Queued
                };
                sync.shards_done = job.shards_done;
                sync.shards_total = job.shards_total;
                sync.customers_evaluated = job.customers_evaluated;
                sync.progress = f64::from(job.shards_done) / f64::from(job.shards_total.max(1));
            }
        }
    }
    Ok(group)
}

pub async fn list_groups<S: GroupStore>(store: &S, tenant: &TenantId, page: &PageRequest) -> Result<Page<Group>> {
    store.list_groups(tenant, page).await
}

/// Renames a group and, for a dynamic group, replaces its rules or settings; changed rules queue a
/// resync that brings the members in line.
pub async fn update_group<S>(
    store: &S,
    tenant: &TenantId,
    id: &str,
    input: GroupUpdate,
    now: DateTime<Utc>,
) -> Result<Group>
where
    S: GroupStore + ResyncJobs + JobQueue + Shards,
{
    let current = get_group(store, tenant, id).await?;
    let mut next = current.clone();
    let new_rules = input.rules.is_some() || input.condition_groups.is_some() || input.template.is_some();
    if input.name.is_none() && !new_rules && input.settings.is_none() && input.extra.is_none() {
        return Err(DomainError::validation(
            "name",
            "nothing to change: give name, and for a dynamic group rules, condition_groups, template or settings",
        ));
    }
    if let Some(name) = &input.name {
        next.name = group_name(name)?;
    }
    let redefine = new_rules || input.settings.is_some() || input.extra.is_some();
    if redefine && current.kind == GroupKind::Static {
        return Err(DomainError::validation(
            "type",
            "a static group has no rules or settings; create a dynamic group instead",
        ));
    }
    if new_rules || input.extra.is_some() {
        let draft = draft_rules(
            input.rules.as_ref(),
            input.condition_groups.as_ref(),
            input.template.as_deref(),
            input.extra.as_ref(),
            input.settings.or(current.settings),
        )?;
        let groups = store.list_all_groups(tenant).await?;
        check_references(&groups, &current.id, &draft.definition.rule.referenced_groups())?;
        next.set_definition(&draft.definition);
        next.template = draft.template;
        next.settings = Some(draft.settings);
    } else if let Some(settings) = input.settings {
        settings.check()?;
        next.settings = Some(settings);
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
pub async fn delete_group<S: GroupStore + JobQueue>(store: &S, tenant: &TenantId, id: &str) -> Result<()> {
    let id = path_group_id(id)?;
    let groups = store.list_all_groups(tenant).await?;
    let users = users_of(&groups, &id);
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
    store.mark_group_deleting(tenant, &id).await?;
    // If this enqueue fails, the scheduler's sweep of groups marked for deletion queues it again.
    store
        .enqueue(&GroupJob::PurgeGroup {
            tenant: tenant.clone(),
            group_id: id,
        })
        .await
}

/// Adds the listed customers to a static group and reports each line that was not added.
pub async fn add_members<S>(
    store: &S,
    tenant: &TenantId,
    id: &str,
    list: MemberList,
    now: DateTime<Utc>,
) -> Result<AddMembersReport>
where
    S: GroupStore + CustomerStore + MembershipStore + MembershipWriter,
{
    let group = get_group(store, tenant, id).await?;
    if group.kind != GroupKind::Static {
        return Err(dynamic_members_error());
    }
    let (keys, rejected) = list.parse()?;
    let (report, ids) = add_parsed_members(store, tenant, &group.id, keys, rejected, now).await?;
    refresh_dependents(store, tenant, &group.id, &ids, now).await?;
    Ok(report)
}

fn dynamic_members_error() -> DomainError {
    DomainError::validation(
        "type",
        "a dynamic group's members follow its rules; change the rules, or use a static group for a hand-picked list",
    )
}

/// Re-evaluates customers whose membership of a group changed by hand, when dynamic groups use it.
async fn refresh_dependents<S>(
    store: &S,
    tenant: &TenantId,
    group: &GroupId,
    ids: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<()>
where
    S: GroupStore + CustomerStore + MembershipWriter,
{
    if ids.is_empty() {
        return Ok(());
    }
    let groups = store.list_all_groups(tenant).await?;
    if users_of(&groups, group).is_empty() {
        return Ok(());
    }
    reevaluate(store, tenant, ids, ChangeReason::DependencyChanged, now).await?;
    Ok(())
}

async fn add_parsed_members<S>(
    store: &S,
    tenant: &TenantId,
    group: &GroupId,
    keys: Vec<(usize, String, MemberKey)>,
    mut rejected: Vec<Rejection>,
    now: DateTime<Utc>,
) -> Result<(AddMembersReport, Vec<CustomerId>)>
where
    S: CustomerStore + MembershipStore,
{
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

pub async fn remove_member<S: GroupStore + MembershipStore + CustomerStore + MembershipWriter>(
    store: &S,
    tenant: &TenantId,
    group_id: &str,
    customer_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let group = get_group(store, tenant, group_id).await?;
    let not_member = || DomainError::not_found(format!("customer {customer_id:?} is not a member of this group"));
    let customer = CustomerId::parse(customer_id).map_err(|_| not_member())?;
    if group.kind != GroupKind::Static {
        return Err(dynamic_members_error());
    }
    if store.remove_member(tenant, &group.id, &customer).await? {
        refresh_dependents(store, tenant, &group.id, std::slice::from_ref(&customer), now).await
    } else {
        Err(not_member())
    }
}

pub async fn list_members<S: GroupStore + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    group_id: &str,
    page: &PageRequest,
) -> Result<Page<Member>> {
    let group = get_group(store, tenant, group_id).await?;
    store.list_members(tenant, &group.id, page).await
}
