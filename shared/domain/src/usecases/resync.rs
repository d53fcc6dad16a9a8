//! Resync: every customer re-evaluated against the tenant's dynamic groups, as a job over the
//! customer partitions that starts as one SQS message and fans out as the work requires.

use crate::error::{DomainError, Result};
use crate::group::{GroupKind, SyncState};
use crate::ids::{GroupId, JobId, TenantId};
use crate::jobs::{GroupJob, PartitionDone, ResyncJob};
use crate::membership::{ChangeReason, Plan};
use crate::ports::{JobQueue, MembershipPass, ResyncJobs, ResyncPorts, Shards};
use crate::usecases::lookup::{get_group, load_plan};
use crate::usecases::membership::{apply, Work};
use chrono::{DateTime, Utc};

/// Starts a resync of the tenant's dynamic groups reported on `groups`: one job over every customer
/// partition, and one message that fans out as the work requires (see [`run_resync_shard`]).
///
/// Requests coalesce: while the tenant's newest job has not started, new groups join it (its pass
/// evaluates every dynamic group of the tenant anyway), so groups created or changed together share
/// one pass over the customers. Once a pass has started, the next request queues the next pass.
pub async fn start_resync<S>(store: &S, t: &TenantId, groups: Vec<GroupId>, now: DateTime<Utc>) -> Result<ResyncJob>
where
    S: ResyncJobs + JobQueue + Shards,
{
    for _ in 0..START_ATTEMPTS {
        if let Some(mut open) = store.queued_job(t).await? {
            let new: Vec<GroupId> = groups.iter().filter(|g| !open.groups.contains(g)).cloned().collect();
            if new.is_empty() || store.join_job(t, &open, &new).await? {
                open.groups.extend(new);
                return Ok(open);
            }
            // It started meanwhile: a new pass is needed for these groups.
        }
        let partitions = store.customer_shards();
        let job = ResyncJob {
            id: JobId::generate(),
            groups: groups.clone(),
            status: SyncState::Queued,
            shards_total: partitions,
            shards_done: 0,
            customers_evaluated: 0,
            changes: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            last_error: None,
        };
        if !store.create_resync_job(t, &job).await? {
            // Another request queued a pass at the same moment: join it.
            continue;
        }
        if let Err(e) = store
            .enqueue(&GroupJob::resync_shard(t, &job.id, (0..partitions).collect()))
            .await
        {
            // No message will ever run it: end it, so no later request joins a job that never runs.
            let reason = "the resync could not be queued; run Resync again";
            if let Err(fail) = store.finish_job(t, &job, Some(reason), now).await {
                tracing::warn!(tenant = %t, job = %job.id, error = ?fail, "could not end an unqueued resync");
            }
            return Err(e);
        }
        return Ok(job);
    }
    Err(DomainError::ConcurrentUpdate)
}

/// Rounds of finding, joining or creating the tenant's queued resync when others race for it.
const START_ATTEMPTS: usize = 6;

/// `POST /groups/{id}/resync`: 202 with the job.
pub async fn resync_group<S>(store: &S, t: &TenantId, id: &GroupId, now: DateTime<Utc>) -> Result<ResyncJob>
where
    S: crate::ports::GroupStore + ResyncJobs + JobQueue + Shards,
{
    let group = get_group(store, t, id).await?;
    if group.kind != GroupKind::Dynamic {
        return Err(DomainError::conflict(
            "type",
            "only dynamic groups are resynced; a static group's members are exactly the ones added",
        ));
    }
    start_resync(store, t, vec![group.id], now).await
}

/// What one shard of a resync did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShardReport {
    /// Customers evaluated.
    pub evaluated: u64,
    /// Membership entries plus exits written.
    pub changes: u64,
    /// Partitions handed on to new messages because this one used up its budget.
    pub handed_on: usize,
    /// Whether this shard finished the job.
    pub job_finished: bool,
}

/// Runs one shard of a resync: its customer partitions one after the other, each page by page through
/// the membership pass. A job starts as one shard over every partition; a shard that has done
/// [`Shards::resync_shard_budget`] of work (pages read plus changes / 25, the units of a resync's
/// minimum cost) records what it did and hands the partitions left to two new messages. A small tenant's
/// resync is therefore one message (the group list read once, the job written twice), a large one fans
/// out to as many workers as its size needs, up to one per partition.
///
/// Safe to repeat: partitions are recorded by number (a repeated record changes nothing) and a
/// redone partition finds nothing left to change. The job is not read first, which saves a read per
/// shard and costs a redone pass on a rare redelivery.
pub async fn run_resync_shard<S: ResyncPorts>(
    store: &S,
    t: &TenantId,
    job_id: &JobId,
    partitions: &[u32],
    now: DateTime<Utc>,
) -> Result<ShardReport> {
    let budget = store.resync_shard_budget();
    let mut report = ShardReport::default();
    if partitions.len() as u32 == store.customer_shards() {
        // The job's first message: from here on the job shows running. A redelivery finds it running.
        store.start_job(t, job_id, store.now()).await?;
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let mut done = Vec::with_capacity(partitions.len());
    let (mut work, mut unrecorded) = (0, 0);
    for (i, &partition) in partitions.iter().enumerate() {
        let (part, pages) = scan_partition(store, t, &mut plan, partition, now).await?;
        report.evaluated += part.evaluated;
        report.changes += part.changes;
        let cost = pages + part.changes.div_ceil(25);
        work += cost;
        unrecorded += cost;
        done.push(part);
        let rest = &partitions[i + 1..];
        if !rest.is_empty() && work >= budget {
            // Recorded before the hand-on: a worker dying in between redoes this message, whose
            // partitions are then recorded again (no change) and handed on again. A job that is gone or
            // already over takes no more messages.
            let recorded = store.finish_partitions(t, job_id, &done).await?;
            if !recorded.is_some_and(|j| is_open(j.status)) {
                return Ok(report);
            }
            let (a, b) = rest.split_at(rest.len().div_ceil(2));
            let messages: Vec<GroupJob> = [a, b]
                .into_iter()
                .filter(|p| !p.is_empty())
                .map(|p| GroupJob::resync_shard(t, job_id, p.to_vec()))
                .collect();
            store.enqueue_many(&messages).await?;
            report.handed_on = rest.len();
            return Ok(report);
        }
        if !rest.is_empty() && unrecorded * PROGRESS_STEPS >= budget {
            // Progress for whoever watches the group: about every quarter of the budget, so a resync
            // that stays one message still shows its partitions going by.
            store.finish_partitions(t, job_id, &done).await?;
            done.clear();
            unrecorded = 0;
        }
    }
    let Some(after) = store.finish_partitions(t, job_id, &done).await? else {
        return Ok(report);
    };
    if after.shards_done >= after.shards_total && is_open(after.status) {
        // Seed 000: a resync "checks for any updates on Number of Users and updates it". The count is
        // repaired only if no membership change landed while counting (the next resync repairs it then).
        for g in &after.groups {
            store.recount_members(t, g).await?;
        }
        let finished_at = store.now();
        report.job_finished = store.finish_job(t, &after, None, finished_at).await?;
        if report.job_finished {
            let done = ResyncJob {
                status: SyncState::Done,
                finished_at: Some(finished_at),
                ..after.clone()
            };
            crate::usecases::notify::resync_finished(store, t, &done).await?;
        }
    } else if after.shards_done >= after.shards_total {
        // Issue 16: a redelivery that finds the job over reports its end again (the notification's id
        // makes it harmless), so a worker that died between finishing and notifying loses nothing.
        crate::usecases::notify::resync_finished(store, t, &after).await?;
    }
    Ok(report)
}

/// Progress is recorded about this many times per budget of work.
const PROGRESS_STEPS: u64 = 4;

/// A job still running: finishing it (done or failed) happens once.
fn is_open(status: SyncState) -> bool {
    matches!(status, SyncState::Queued | SyncState::Running)
}

/// Every customer of one partition, page by page, through the membership pass; with the pages read.
async fn scan_partition<S: MembershipPass + crate::ports::CustomerScan>(
    store: &S,
    t: &TenantId,
    plan: &mut Plan,
    partition: u32,
    now: DateTime<Utc>,
) -> Result<(PartitionDone, u64)> {
    let mut out = PartitionDone {
        partition,
        evaluated: 0,
        changes: 0,
    };
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let (customers, next) = store.scan_shard(t, partition, cursor).await?;
        pages += 1;
        let done = apply(
            store,
            t,
            plan,
            customers.into_iter().map(Work::new).collect(),
            ChangeReason::Resync,
            now,
        )
        .await?;
        out.evaluated += done.evaluated;
        out.changes += done.changes;
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok((out, pages)),
        }
    }
}

/// Records a resync that keeps failing (its message is about to reach the dead-letter queue).
pub async fn fail_resync<S: ResyncJobs + crate::destinations::ports::Notifications>(
    store: &S,
    t: &TenantId,
    job_id: &JobId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(job) = store.get_resync_job(t, job_id).await? {
        if is_open(job.status) && store.finish_job(t, &job, Some(error), now).await? {
            let failed = ResyncJob {
                status: SyncState::Failed,
                finished_at: Some(now),
                last_error: Some(error.to_owned()),
                ..job
            };
            crate::usecases::notify::resync_finished(store, t, &failed).await?;
        }
    }
    Ok(())
}
