//! Customer merge (issue 15 items 5 and 6) as a durable, resumable procedure. The record is written
//! first; each step is conditional on the step before it and idempotent, so a request killed anywhere
//! and retried (same primary and secondary) resumes from the record and ends merged exactly once:
//!
//! 1. `planned`: the record (keyed by the secondary; a secondary is merged once).
//! 2. `combined`: ONE transaction moves identities, facts and balances (see `MergeStore::commit_combine`),
//!    so no identity is ever owned by both customers or by neither, and balances are added once.
//! 3. `joined`: the primary joins the secondary's static groups (adding a member is idempotent).
//! 4. `left`: the secondary leaves every group, history reason `merged` (a removal happens once).
//! 5. `deleted`: the secondary item is deleted; the record stays as its tombstone.
//! 6. `done`: the primary's member rows are refreshed and the membership pass re-evaluates its
//!    dynamic groups (both idempotent), then the record is marked done.
//!
//! Calls `lookup` and `membership` (below `customers`); nothing calls it back.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::group::GroupKind;
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::membership::ChangeReason;
use crate::merge::ports::MergeStore;
use crate::merge::{plan_merge, MergeInput, MergePlan, MergePreview, MergeRecord, MergeResult, MergeStep};
use crate::ports::{MembershipPass, MembershipStore};
use crate::usecases::membership::settle;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// What a merge needs.
pub trait MergePorts: MembershipPass + MembershipStore + MergeStore {}
impl<T: MembershipPass + MembershipStore + MergeStore> MergePorts for T {}

/// Rounds of re-reading and re-planning when a customer changed under the `combined` transaction.
const COMBINE_ATTEMPTS: usize = 5;

/// Test hook: stop the procedure (as a kill would) right after a step is recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// The step after which the run stops with a retryable error (`None`: run to the end).
    pub stop_after: Option<MergeStep>,
}

impl MergeOptions {
    fn check(&self, done: MergeStep) -> Result<()> {
        if self.stop_after == Some(done) {
            return Err(DomainError::Unavailable(format!(
                "merge stopped after step {}",
                done.as_str()
            )));
        }
        Ok(())
    }
}

/// The 404 of an id that names no customer (`field`: the request field).
fn unknown(field: &str, id: &CustomerId) -> DomainError {
    DomainError::not_found(format!("{field}: no customer with id {:?}", id.as_str()))
}

/// The 409 listing every identity conflict, reported against the first conflicting field.
fn conflict_error(plan: &MergePlan) -> DomainError {
    let list: Vec<String> = plan
        .conflicts
        .iter()
        .map(|c| format!("{} ({} vs {})", c.field, c.primary, c.secondary))
        .collect();
    DomainError::conflict(
        plan.conflicts[0].field.clone(),
        format!("the customers' identities conflict: {}", list.join(", ")),
    )
}

/// The secondary's static groups (dynamic ones are re-evaluated for the primary instead).
async fn static_groups<S: MergePorts>(store: &S, t: &TenantId, s: &Customer) -> Result<BTreeSet<GroupId>> {
    if s.groups.is_empty() {
        return Ok(BTreeSet::new());
    }
    let groups = store.list_all_groups(t).await?;
    Ok(groups
        .into_iter()
        .filter(|g| g.kind == GroupKind::Static && s.groups.contains(&g.id))
        .map(|g| g.id)
        .collect())
}

/// Reads both customers (404 naming the field; a secondary merged already names its primary) and plans.
async fn load_plan<S: MergePorts>(
    store: &S,
    t: &TenantId,
    input: &MergeInput,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<MergePlan> {
    let found = store
        .get_customers(t, &[input.primary.clone(), input.secondary.clone()])
        .await?;
    let pick = |id: &CustomerId| found.iter().find(|c| &c.id == id).cloned();
    let p = pick(&input.primary).ok_or_else(|| unknown("primary_id", &input.primary))?;
    let s = pick(&input.secondary).ok_or_else(|| unknown("secondary_id", &input.secondary))?;
    let statics = static_groups(store, t, &s).await?;
    plan_merge(&p, &s, &statics, actor, now)
}

/// `POST /customers/merge/preview`: the primary as it would be after the merge, every conflict and
/// what would move. Writes nothing.
pub async fn preview<S: MergePorts>(
    store: &S,
    t: &TenantId,
    input: &MergeInput,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<MergePreview> {
    refuse_merged(store, t, input).await?;
    let plan = load_plan(store, t, input, actor, now).await?;
    Ok(MergePreview {
        customer: plan.merged,
        conflicts: plan.conflicts,
        summary: plan.summary,
    })
}

/// Refuses ids that take part in another merge: a secondary merged (or being merged) into another
/// primary, or a primary that is itself some merge's secondary.
async fn refuse_merged<S: MergePorts>(store: &S, t: &TenantId, input: &MergeInput) -> Result<Option<MergeRecord>> {
    if let Some(r) = store.get_merge(t, &input.primary).await? {
        return Err(DomainError::not_found(format!(
            "primary_id: customer {:?} was merged into {:?}",
            input.primary.as_str(),
            r.primary_id.as_str()
        )));
    }
    match store.get_merge(t, &input.secondary).await? {
        Some(r) if r.primary_id != input.primary => Err(DomainError::not_found(format!(
            "secondary_id: customer {:?} was merged into {:?}",
            input.secondary.as_str(),
            r.primary_id.as_str()
        ))),
        other => Ok(other),
    }
}

/// `POST /customers/merge`: performs the merge, or resumes it from its record. The (primary,
/// secondary) pair identifies the merge: a retry after success applies nothing and returns the merged
/// primary with the first run's summary (`replayed: true`) for [`crate::merge::MERGE_TOMBSTONE_DAYS`].
pub async fn merge<S: MergePorts>(
    store: &S,
    t: &TenantId,
    input: &MergeInput,
    actor: &str,
    now: DateTime<Utc>,
    options: MergeOptions,
) -> Result<MergeResult> {
    let mut record = match refuse_merged(store, t, input).await? {
        Some(r) => r,
        None => {
            let plan = Box::pin(load_plan(store, t, input, actor, now)).await?;
            if !plan.conflicts.is_empty() {
                return Err(conflict_error(&plan));
            }
            let r = MergeRecord {
                primary_id: input.primary.clone(),
                secondary_id: input.secondary.clone(),
                step: MergeStep::Planned,
                summary: plan.summary,
                created_at: now,
                done_at: None,
            };
            if store.start_merge(t, &r).await? {
                options.check(MergeStep::Planned)?;
                r
            } else {
                // A concurrent request started it: continue from its record.
                refuse_merged(store, t, input)
                    .await?
                    .ok_or(DomainError::ConcurrentUpdate)?
            }
        }
    };
    let replayed = record.step == MergeStep::Done;
    if record.step == MergeStep::Planned {
        // Boxed, like the other large sub-futures: the whole merge would not fit a worker thread's stack.
        record.summary = Box::pin(combine(store, t, input, &record, actor, now)).await?;
        record.step = MergeStep::Combined;
        options.check(MergeStep::Combined)?;
    }
    if record.step == MergeStep::Combined {
        for g in &record.summary.groups_joined {
            let primary = crate::usecases::lookup::get_customer(store, t, &input.primary).await?;
            match Box::pin(store.add_members(t, g, &[primary], now)).await {
                // A group deleted meanwhile has no members to unite.
                Ok(_) | Err(DomainError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        step(store, t, &mut record, MergeStep::Joined, now).await?;
        options.check(MergeStep::Joined)?;
    }
    loop {
        if record.step == MergeStep::Joined {
            if let Some(s) = store.get_customer(t, &input.secondary).await? {
                for g in &s.groups {
                    Box::pin(store.leave_for_merge(t, g, &s, now)).await?;
                }
            }
            step(store, t, &mut record, MergeStep::Left, now).await?;
            options.check(MergeStep::Left)?;
        }
        if record.step != MergeStep::Left {
            break;
        }
        if Box::pin(store.delete_merged(t, &input.secondary, now)).await? {
            record.step = MergeStep::Deleted;
            options.check(MergeStep::Deleted)?;
            break;
        }
        // The secondary entered a group after it left them (an event's membership pass): leave again.
        let current = store.get_merge(t, &input.secondary).await?;
        match current {
            Some(r) if r.step == MergeStep::Left => {
                if store
                    .advance_merge(t, &input.secondary, MergeStep::Left, MergeStep::Joined, now)
                    .await?
                {
                    record.step = MergeStep::Joined;
                }
            }
            Some(r) => record = r,
            None => return Err(DomainError::ConcurrentUpdate),
        }
    }
    let primary = crate::usecases::lookup::get_customer(store, t, &input.primary).await?;
    if record.step == MergeStep::Deleted {
        if !primary.groups.is_empty() {
            Box::pin(store.refresh_member_profiles(t, &primary)).await?;
        }
        let primary = Box::pin(settle(store, t, primary, ChangeReason::Merged, now)).await?;
        step(store, t, &mut record, MergeStep::Done, now).await?;
        return Ok(MergeResult {
            customer: primary,
            summary: record.summary,
            replayed,
        });
    }
    Ok(MergeResult {
        customer: primary,
        summary: record.summary,
        replayed,
    })
}

/// Moves the record one step; a run that finds it moved on already continues from where it is.
async fn step<S: MergePorts>(
    store: &S,
    t: &TenantId,
    record: &mut MergeRecord,
    to: MergeStep,
    now: DateTime<Utc>,
) -> Result<()> {
    if store
        .advance_merge(t, &record.secondary_id, record.step, to, now)
        .await?
    {
        record.step = to;
        return Ok(());
    }
    match store.get_merge(t, &record.secondary_id).await? {
        Some(r) if r.step >= to => {
            *record = r;
            Ok(())
        }
        _ => Err(DomainError::ConcurrentUpdate),
    }
}

/// The `combined` step: re-read, re-plan and commit until the customers hold still. A conflict that
/// appeared meanwhile abandons the record (nothing was changed) and answers 409.
async fn combine<S: MergePorts>(
    store: &S,
    t: &TenantId,
    input: &MergeInput,
    record: &MergeRecord,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<crate::merge::MergeSummary> {
    for _ in 0..COMBINE_ATTEMPTS {
        let plan = match Box::pin(load_plan(store, t, input, actor, now)).await {
            Ok(p) => p,
            Err(e) => {
                store.abandon_merge(t, &input.secondary).await?;
                return Err(e);
            }
        };
        if !plan.conflicts.is_empty() {
            store.abandon_merge(t, &input.secondary).await?;
            return Err(conflict_error(&plan));
        }
        if Box::pin(store.commit_combine(t, &plan, record, now)).await? {
            return Ok(plan.summary);
        }
        // Another run may have combined already.
        if let Some(r) = store.get_merge(t, &input.secondary).await? {
            if r.step >= MergeStep::Combined {
                return Ok(r.summary);
            }
        }
    }
    Err(DomainError::ConcurrentUpdate)
}

/// The primary a merged secondary now answers for (`GET /customers/{id}`'s `merged_into`), while its
/// tombstone lasts; `None` for an id that was never merged away.
pub async fn merged_into<S: MergeStore>(store: &S, t: &TenantId, id: &CustomerId) -> Result<Option<CustomerId>> {
    Ok(store
        .get_merge(t, id)
        .await?
        .filter(|r| r.step >= MergeStep::Deleted)
        .map(|r| r.primary_id))
}
