//! Count jobs (`search::count` has the contract): start one over every customer partition, count one
//! partition (the bulk worker's `CountPartition` task), show one.

use crate::bulk::ports::BulkQueue;
use crate::bulk::BulkTask;
use crate::customer::Customer;
use crate::error::Result;
use crate::ids::{BulkJobId, GroupId, TenantId};
use crate::ports::{Clock, CustomerRanges, MembershipStore, RangeRead, Shards};
use crate::search::count::{count_job_not_found, CountJob, CountJobStore, CountJobView, PartitionCount};
use crate::search::target::TargetSpec;
use crate::usecases::bulk_job::{failure_reason, hand_on, Budget, BulkSettings, FaultPoint, RunOutcome};
use chrono::{DateTime, Utc};

/// What counting a partition needs.
pub trait CountPorts: CountJobStore + CustomerRanges + BulkQueue + Shards + Clock + MembershipStore {}
impl<T> CountPorts for T where T: CountJobStore + CustomerRanges + BulkQueue + Shards + Clock + MembershipStore {}

/// Customers one member write adds (a snapshot's page is added in chunks of this many).
const ADD_CHUNK: usize = 100;

/// Creates a count job for a filter and queues one task per customer partition.
pub async fn start_count_job<S: CountJobStore + BulkQueue + Shards>(
    store: &S,
    t: &TenantId,
    target: TargetSpec,
    now: DateTime<Utc>,
) -> Result<CountJobView> {
    start_job(store, t, target, None, now).await
}

/// Creates a count job that also adds every match to the static group `add_to` (a snapshot).
pub async fn start_snapshot_job<S: CountJobStore + BulkQueue + Shards>(
    store: &S,
    t: &TenantId,
    target: TargetSpec,
    add_to: GroupId,
    now: DateTime<Utc>,
) -> Result<CountJobView> {
    start_job(store, t, target, Some(add_to), now).await
}

async fn start_job<S: CountJobStore + BulkQueue + Shards>(
    store: &S,
    t: &TenantId,
    target: TargetSpec,
    add_to: Option<GroupId>,
    now: DateTime<Utc>,
) -> Result<CountJobView> {
    let job = CountJob {
        id: BulkJobId::generate(),
        target,
        partitions: store.customer_shards(),
        created_at: now,
        add_to,
    };
    store.create_count_job(t, &job).await?;
    // A snapshot's partitions run one after another (each queues the next when it ends): every add
    // also updates the group's member count, and 16 writers of that one item at once would keep
    // cancelling each other's transactions (TransactionConflict). A count has no shared item: all at once.
    let shards = if job.add_to.is_some() { 0..1 } else { 0..job.partitions };
    let tasks: Vec<BulkTask> = shards.map(|shard| partition_task(t, &job.id, shard)).collect();
    store.enqueue_bulk_many(&tasks).await?;
    Ok(CountJobView::of(&job, &[]))
}

fn partition_task(t: &TenantId, id: &BulkJobId, shard: u32) -> BulkTask {
    BulkTask::CountPartition {
        tenant: t.clone(),
        job_id: id.clone(),
        shard,
    }
}

/// A snapshot's partition that ended queues the next one, unless that one has started already (a
/// redelivery after the end queues it again: the run that wrote the end may have died before).
async fn queue_next<S: BulkQueue>(store: &S, t: &TenantId, job: &CountJob, shard: u32, started: bool) -> Result<()> {
    if job.add_to.is_none() || shard + 1 >= job.partitions || started {
        return Ok(());
    }
    store.enqueue_bulk(&partition_task(t, &job.id, shard + 1)).await
}

/// `GET /count-jobs/{id}`: the job with its progress (404 for another tenant's or an unknown id).
pub async fn get_count_job<S: CountJobStore>(store: &S, t: &TenantId, id: &BulkJobId) -> Result<CountJobView> {
    match store.get_count_job(t, id).await? {
        Some((job, parts)) => Ok(CountJobView::of(&job, &parts)),
        None => Err(count_job_not_found(id)),
    }
}

/// Counts one partition from its stored position to its end, a DynamoDB page at a time, each page's
/// counts written with the advanced position under the previous step (see `search::count`).
/// `last_attempt`: the queue's final delivery; a failure then (or one no retry fixes) fails the
/// partition, and with it the job.
pub async fn run_count_partition<S: CountPorts>(
    store: &S,
    task: &BulkTask,
    settings: &BulkSettings,
    last_attempt: bool,
) -> Result<RunOutcome> {
    let BulkTask::CountPartition { tenant, job_id, shard } = task else {
        return Ok(RunOutcome::AlreadyFinished);
    };
    let result = count_partition(store, task, tenant, job_id, *shard, settings).await;
    if let Err(e) = &result {
        if !e.is_retryable() || last_attempt {
            fail_partition(store, tenant, job_id, *shard, &failure_reason(e)).await;
        }
    }
    result
}

async fn count_partition<S: CountPorts>(
    store: &S,
    task: &BulkTask,
    t: &TenantId,
    id: &BulkJobId,
    shard: u32,
    settings: &BulkSettings,
) -> Result<RunOutcome> {
    let Some((job, parts)) = store.get_count_job(t, id).await? else {
        return Ok(RunOutcome::AlreadyFinished);
    };
    let next_started = parts.iter().any(|p| p.shard == shard + 1);
    let mut p = parts
        .into_iter()
        .find(|p| p.shard == shard)
        .unwrap_or_else(|| PartitionCount::new(shard, store.now()));
    if shard >= job.partitions {
        return Ok(RunOutcome::AlreadyFinished);
    }
    if p.is_final() {
        if p.failed.is_none() {
            queue_next(store, t, &job, shard, next_started).await?;
        }
        return Ok(RunOutcome::AlreadyFinished);
    }
    let Some(query) = job.target.query()? else {
        return Ok(RunOutcome::AlreadyFinished);
    };
    let program = query.program();
    let budget = Budget::start(settings.time_budget);
    let (mut matched, mut changes) = (Vec::new(), Vec::new());
    for page_no in 1u64.. {
        if budget.spent() {
            return hand_on(store, task).await;
        }
        let read = RangeRead {
            shard,
            after: p.after.clone(),
            limit: settings.count_page,
            descending: false,
            by_created: false,
            after_created: None,
        };
        let page = store.read_ranges(t, &[read]).await?.pop().unwrap_or_default();
        program.matches_many(&page.customers, job.created_at, &mut matched, &mut changes);
        if let Some(g) = &job.add_to {
            let hits: Vec<Customer> = page
                .customers
                .iter()
                .zip(&matched)
                .filter(|(_, m)| **m)
                .map(|(c, _)| c.clone())
                .collect();
            for chunk in hits.chunks(ADD_CHUNK) {
                // Members already added (a page counted again) are no-ops; a group deleted meanwhile
                // is a 404 no retry fixes: the partition fails with it.
                store.add_members(t, g, chunk, store.now()).await?;
            }
        }
        let next = PartitionCount {
            shard,
            step: p.step + 1,
            after: page.customers.last().map(|c| c.id.clone()).or(p.after),
            matched: p.matched + matched.iter().filter(|m| **m).count() as u64,
            evaluated: p.evaluated + page.customers.len() as u64,
            done: !page.more,
            failed: None,
            updated_at: store.now(),
        };
        settings.checkpoint(FaultPoint::BeforeCommit(page_no)).await;
        if !store.advance_partition(t, id, &next).await? {
            // A duplicate delivery advanced the partition first; it goes on from there.
            return Ok(RunOutcome::Superseded);
        }
        settings.checkpoint(FaultPoint::AfterCommit(page_no)).await;
        if next.done {
            queue_next(store, t, &job, shard, false).await?;
            return Ok(RunOutcome::Finished);
        }
        p = next;
    }
    Ok(RunOutcome::Finished)
}

/// Marks a partition failed (best effort: a later run or a racing one may have ended it).
pub async fn fail_partition<S: CountJobStore + Clock>(store: &S, t: &TenantId, id: &BulkJobId, shard: u32, why: &str) {
    let Ok(Some((_, parts))) = store.get_count_job(t, id).await else {
        return;
    };
    let p = parts
        .into_iter()
        .find(|p| p.shard == shard)
        .unwrap_or_else(|| PartitionCount::new(shard, store.now()));
    if p.is_final() {
        return;
    }
    let failed = PartitionCount {
        step: p.step + 1,
        failed: Some(why.to_owned()),
        updated_at: store.now(),
        ..p
    };
    if let Err(e) = store.advance_partition(t, id, &failed).await {
        tracing::warn!(error = %e, "could not mark a count partition failed");
    }
}
