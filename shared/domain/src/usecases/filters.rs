//! Saved filters (issue 14, seed 004 section 2.3): create, list, get, change, copy, delete, and save one
//! as a group: dynamic (its rules, kept current by the resync and the membership pass) or static (the
//! customers matching now). Viewing a filter's customers is `POST /customers/search` with `filter_id`.

use crate::bulk::ports::BulkQueue;
use crate::error::{DomainError, Result};
use crate::group::{DraftRules, GroupInput, GroupKind};
use crate::ids::{FilterId, PathId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{CustomerRanges, FilterStore, GroupPorts, Shards};
use crate::search::count::CountJobStore;
use crate::search::saved::{FilterInput, SaveAsGroup, SavedFilter};
use crate::search::target::TargetSpec;
use crate::search::CustomerQuery;
use crate::usecases::count_job::start_snapshot_job;
use crate::usecases::groups::{self, CreatedGroup};
use crate::usecases::search;
use chrono::{DateTime, Utc};

/// Customers added to a static group per write call.
const SNAPSHOT_BATCH: usize = 100;

async fn checked<S: crate::ports::GroupStore>(store: &S, t: &TenantId, q: &CustomerQuery) -> Result<()> {
    let refs = q.referenced_groups();
    if refs.is_empty() {
        return Ok(());
    }
    let groups = store.list_all_groups(t).await?;
    match refs.into_iter().find(|u| !groups.iter().any(|g| &g.id == u)) {
        Some(u) => Err(DomainError::validation(
            "rules",
            format!("member_of references group {u:?}, which does not exist"),
        )),
        None => Ok(()),
    }
}

/// The filter, or 404.
pub async fn get_filter<S: FilterStore>(store: &S, t: &TenantId, id: &FilterId) -> Result<SavedFilter> {
    store
        .get_filter(t, id)
        .await?
        .ok_or_else(|| FilterId::not_found(id.as_str()))
}

/// Saves a new filter.
pub async fn create_filter<S>(store: &S, t: &TenantId, input: FilterInput, now: DateTime<Utc>) -> Result<SavedFilter>
where
    S: FilterStore + crate::ports::GroupStore,
{
    let (Some(name), Some(query)) = (input.name, input.query) else {
        return Err(DomainError::validation("name", "a saved filter needs a name"));
    };
    checked(store, t, &query).await?;
    let f = SavedFilter {
        id: FilterId::generate(),
        name,
        filter: query.to_json(),
        created_at: now,
        updated_at: now,
    };
    store.put_filter(t, &f).await?;
    Ok(f)
}

/// One page of the tenant's filters, oldest first.
pub async fn list_filters<S: FilterStore>(store: &S, t: &TenantId, page: &PageRequest) -> Result<Page<SavedFilter>> {
    store.list_filters(t, page).await
}

/// Renames a filter and/or replaces its filter.
pub async fn update_filter<S>(
    store: &S,
    t: &TenantId,
    id: &FilterId,
    change: FilterInput,
    now: DateTime<Utc>,
) -> Result<SavedFilter>
where
    S: FilterStore + crate::ports::GroupStore,
{
    let mut f = get_filter(store, t, id).await?;
    let expected = f.updated_at;
    if let Some(q) = change.query {
        checked(store, t, &q).await?;
        f.filter = q.to_json();
    }
    if let Some(name) = change.name {
        f.name = name;
    }
    // Strictly later than the stored time, so the next change's condition tells them apart.
    f.updated_at = now.max(expected + chrono::Duration::milliseconds(1));
    store.update_filter(t, &f, expected).await?;
    Ok(f)
}

/// A copy under a new id ("Copy of <name>" unless a name is given).
pub async fn copy_filter<S: FilterStore>(
    store: &S,
    t: &TenantId,
    id: &FilterId,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<SavedFilter> {
    let f = get_filter(store, t, id).await?;
    let name = match name {
        Some(n) => crate::group::group_name(&n)?,
        None => format!("Copy of {}", f.name).chars().take(200).collect(),
    };
    let copy = SavedFilter {
        id: FilterId::generate(),
        name,
        filter: f.filter,
        created_at: now,
        updated_at: now,
    };
    store.put_filter(t, &copy).await?;
    Ok(copy)
}

/// Deletes a filter (groups saved from it keep their own copy of the rules).
pub async fn delete_filter<S: FilterStore>(store: &S, t: &TenantId, id: &FilterId) -> Result<()> {
    if store.delete_filter(t, id).await? {
        Ok(())
    } else {
        Err(FilterId::not_found(id.as_str()))
    }
}

/// Saves the filter as a group. Dynamic: the filter's rules (the simple filter folded in) and
/// settings, populated by the resync it queues. Static: the customers that match now, added through
/// the member write within the request for a tenant of at most `Shards::count_sync_max` customers,
/// otherwise by a snapshot job (a count job that adds every match; `snapshot_job` in the answer).
pub async fn save_as_group<S>(
    store: &S,
    t: &TenantId,
    id: &FilterId,
    to: SaveAsGroup,
    now: DateTime<Utc>,
) -> Result<CreatedGroup>
where
    S: FilterStore + GroupPorts + CustomerRanges + Shards + CountJobStore + BulkQueue,
{
    let f = get_filter(store, t, id).await?;
    let query = f.query()?;
    match to.kind {
        GroupKind::Dynamic => {
            let input = GroupInput {
                name: to.name,
                kind: GroupKind::Dynamic,
                draft: Some(DraftRules {
                    definition: query.as_group_definition(),
                    // A simple filter folds into a tree: it no longer is the template's.
                    template: query.template.clone().filter(|_| query.simple.is_empty()),
                }),
                settings: query.settings,
                members: None,
            };
            groups::create_group(store, t, input, now).await
        }
        GroupKind::Static => {
            let customers = search::matching_customers(store, t, &query, now).await?;
            let input = GroupInput {
                name: to.name,
                kind: GroupKind::Static,
                draft: None,
                settings: Default::default(),
                members: None,
            };
            let created = groups::create_group(store, t, input, now).await?;
            let Some(customers) = customers else {
                // Too many customers to read within the request: a count job adds every match.
                let spec = TargetSpec::filter(&query, Some(id.clone()));
                let job = start_snapshot_job(store, t, spec, created.group.id.clone(), now).await?;
                return Ok(CreatedGroup {
                    snapshot_job: Some(job),
                    ..created
                });
            };
            for batch in customers.chunks(SNAPSHOT_BATCH) {
                store.add_members(t, &created.group.id, batch, now).await?;
            }
            let group = crate::usecases::lookup::get_group(store, t, &created.group.id).await?;
            Ok(CreatedGroup {
                group,
                member_report: None,
                snapshot_job: None,
            })
        }
    }
}
