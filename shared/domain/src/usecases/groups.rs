//! Group use cases: definitions and static membership.

use crate::customer::Identity;
use crate::error::{DomainError, Result};
use crate::group::{
    group_name, AddMembersReport, Group, GroupRename, Member, MemberKey, MemberList, NewGroup, RejectReason, Rejection,
};
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::jobs::GroupJob;
use crate::page::{Page, PageRequest};
use crate::ports::{AddOutcome, CustomerStore, GroupStore, JobQueue, MembershipStore, TenantRegistry};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

fn group_not_found(id: &str) -> DomainError {
    DomainError::not_found(format!("no group with id {id:?}"))
}

fn path_group_id(id: &str) -> Result<GroupId> {
    GroupId::parse(id).map_err(|_| group_not_found(id))
}

/// Creates a group, and adds its first members when the request lists them.
pub async fn create_group<S>(
    store: &S,
    tenant: &TenantId,
    input: NewGroup,
    now: DateTime<Utc>,
) -> Result<(Group, Option<AddMembersReport>)>
where
    S: GroupStore + CustomerStore + MembershipStore + TenantRegistry,
{
    let group = Group {
        id: GroupId::generate(),
        name: group_name(&input.name)?,
        kind: input.kind,
        member_count: 0,
        created_at: now,
        updated_at: now,
    };
    // Validate the member list before anything is written, so a bad list creates nothing.
    let parsed = input.members.map(MemberList::parse).transpose()?;
    store.register_tenant(tenant).await?;
    store.create_group(tenant, &group).await?;
    let Some((keys, rejected)) = parsed else {
        return Ok((group, None));
    };
    let report = add_parsed_members(store, tenant, &group.id, keys, rejected, now).await?;
    let group = get_group(store, tenant, group.id.as_str()).await?;
    Ok((group, Some(report)))
}

pub async fn get_group<S: GroupStore>(store: &S, tenant: &TenantId, id: &str) -> Result<Group> {
    let id = path_group_id(id)?;
    store
        .get_group(tenant, &id)
        .await?
        .ok_or_else(|| group_not_found(id.as_str()))
}

pub async fn list_groups<S: GroupStore>(store: &S, tenant: &TenantId, page: &PageRequest) -> Result<Page<Group>> {
    store.list_groups(tenant, page).await
}

pub async fn rename_group<S: GroupStore>(
    store: &S,
    tenant: &TenantId,
    id: &str,
    input: GroupRename,
    now: DateTime<Utc>,
) -> Result<Group> {
    let id = path_group_id(id)?;
    let name = group_name(&input.name)?;
    store.rename_group(tenant, &id, &name, now).await
}

/// Hides the group at once and queues the purge of its members (a large group outlives one request).
pub async fn delete_group<S: GroupStore + JobQueue>(store: &S, tenant: &TenantId, id: &str) -> Result<()> {
    let id = path_group_id(id)?;
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
    S: GroupStore + CustomerStore + MembershipStore,
{
    let group = get_group(store, tenant, id).await?;
    let (keys, rejected) = list.parse()?;
    add_parsed_members(store, tenant, &group.id, keys, rejected, now).await
}

async fn add_parsed_members<S>(
    store: &S,
    tenant: &TenantId,
    group: &GroupId,
    keys: Vec<(usize, String, MemberKey)>,
    mut rejected: Vec<Rejection>,
    now: DateTime<Utc>,
) -> Result<AddMembersReport>
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
    let outcomes = store.add_members(tenant, group, &customers, now).await?;
    for (outcome, (line, value)) in outcomes.into_iter().zip(lines) {
        match outcome {
            AddOutcome::Added => report.added += 1,
            AddOutcome::AlreadyMember => report.already_members += 1,
            AddOutcome::CustomerGone => rejected.push(not_found(line, value)),
        }
    }
    rejected.sort_by_key(|r| r.line);
    report.rejected = rejected;
    Ok(report)
}

fn not_found(line: usize, value: String) -> Rejection {
    Rejection {
        line,
        message: format!("no customer matches {value:?}; create the customer first"),
        value,
        reason: RejectReason::NotFound,
    }
}

pub async fn remove_member<S: GroupStore + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    group_id: &str,
    customer_id: &str,
) -> Result<()> {
    let group = get_group(store, tenant, group_id).await?;
    let not_member = || DomainError::not_found(format!("customer {customer_id:?} is not a member of this group"));
    let customer = CustomerId::parse(customer_id).map_err(|_| not_member())?;
    if store.remove_member(tenant, &group.id, &customer).await? {
        Ok(())
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
