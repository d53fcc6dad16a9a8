//! Background jobs: the group-jobs worker and the scheduler's tick.

use crate::error::Result;
use crate::group::GroupKind;
use crate::jobs::GroupJob;
use crate::ports::{GroupStore, JobQueue, MembershipStore, ResyncJobs, ResyncPorts, Shards, TenantRegistry};
use crate::usecases::resync::{run_resync_shard, start_resync};
use crate::usecases::wake::wake_customers;
use chrono::{DateTime, Utc};

/// Members removed per purge step; each step is a few small transactions.
const PURGE_STEP: usize = 500;
/// Purge steps per message (10,000 members) before the purge hands on to a new message.
const PURGE_STEPS_PER_MESSAGE: usize = 20;

/// What a job did, for the worker's structured log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobReport {
    /// Members a purge removed.
    pub members_removed: u64,
    /// A recount's stored count before.
    pub count_before: u64,
    /// A recount's counted rows.
    pub count_after: u64,
    /// Customers evaluated.
    pub evaluated: u64,
    /// Membership entries plus exits written.
    pub changes: u64,
}

/// Runs one job to completion. Safe to repeat: a purge resumes where a dead worker stopped, and a
/// resync of an already exact count changes nothing.
pub async fn run_group_job<S: ResyncPorts + MembershipStore>(
    store: &S,
    job: &GroupJob,
    now: DateTime<Utc>,
) -> Result<JobReport> {
    let mut report = JobReport::default();
    match job {
        GroupJob::PurgeGroup { tenant, group_id } => {
            for _ in 0..PURGE_STEPS_PER_MESSAGE {
                let removed = store.purge_members(tenant, group_id, PURGE_STEP).await?;
                if removed == 0 {
                    store.delete_group_item(tenant, group_id).await?;
                    return Ok(report);
                }
                report.members_removed += removed as u64;
            }
            // A large group outlives one message: the next message goes on where this one stopped,
            // so every message stays well inside the worker's timeout.
            store.enqueue(job).await?;
        }
        GroupJob::ResyncGroup { tenant, group_id } => {
            if store.get_group(tenant, group_id).await?.is_some() {
                let (before, after) = store.recount_members(tenant, group_id).await?;
                report.count_before = before;
                report.count_after = after;
            }
        }
        GroupJob::ResyncShard { tenant, job_id, .. } => {
            let r = run_resync_shard(store, tenant, job_id, &job.partitions(), now).await?;
            report.evaluated = r.evaluated;
            report.changes = r.changes;
        }
        GroupJob::WakeCustomers {
            tenant,
            customer_ids,
            at,
        } => {
            let r = wake_customers(store, tenant, customer_ids, *at, now).await?;
            report.evaluated = r.evaluated;
            report.changes = r.changes;
        }
    }
    Ok(report)
}

/// The nightly run: per tenant, one full resync job over every dynamic group (catching any drift),
/// a member recount of every static group, and re-queued unfinished deletions. Returns how many
/// messages were queued.
pub async fn schedule_resyncs<S>(store: &S, now: DateTime<Utc>) -> Result<usize>
where
    S: TenantRegistry + GroupStore + JobQueue + ResyncJobs + Shards,
{
    let mut queued = 0;
    for tenant in store.list_tenants().await? {
        let groups = store.list_all_groups(&tenant).await?;
        let (dynamic, fixed): (Vec<_>, Vec<_>) = groups.iter().partition(|g| g.kind == GroupKind::Dynamic);
        if !dynamic.is_empty() {
            start_resync(store, &tenant, dynamic.iter().map(|g| g.id.clone()).collect(), now).await?;
            queued += store.customer_shards() as usize;
        }
        let recounts: Vec<GroupJob> = fixed
            .iter()
            .map(|g| GroupJob::ResyncGroup {
                tenant: tenant.clone(),
                group_id: g.id.clone(),
            })
            .collect();
        store.enqueue_many(&recounts).await?;
        queued += recounts.len();
        for group_id in store.list_deleting_groups(&tenant).await? {
            store
                .enqueue(&GroupJob::PurgeGroup {
                    tenant: tenant.clone(),
                    group_id,
                })
                .await?;
            queued += 1;
        }
    }
    Ok(queued)
}
