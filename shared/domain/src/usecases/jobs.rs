//! Background jobs: the group-jobs worker and the scheduler's tick.

use crate::error::Result;
use crate::jobs::GroupJob;
use crate::page::{PageRequest, MAX_PAGE_SIZE};
use crate::ports::{GroupStore, JobQueue, MembershipStore, TenantRegistry};

/// Members removed per purge step; each step is a few small transactions.
const PURGE_STEP: usize = 500;

/// What a job did, for the worker's structured log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobReport {
    pub members_removed: u64,
    pub count_before: u64,
    pub count_after: u64,
}

/// Runs one job to completion. Safe to repeat: a purge resumes where a dead worker stopped, and a
/// resync of an already exact count changes nothing.
pub async fn run_group_job<S: GroupStore + MembershipStore>(store: &S, job: &GroupJob) -> Result<JobReport> {
    let mut report = JobReport::default();
    match job {
        GroupJob::PurgeGroup { tenant, group_id } => {
            loop {
                let removed = store.purge_members(tenant, group_id, PURGE_STEP).await?;
                if removed == 0 {
                    break;
                }
                report.members_removed += removed as u64;
            }
            store.delete_group_item(tenant, group_id).await?;
        }
        GroupJob::ResyncGroup { tenant, group_id } => {
            if store.get_group(tenant, group_id).await?.is_some() {
                let (before, after) = store.recount_members(tenant, group_id).await?;
                report.count_before = before;
                report.count_after = after;
            }
        }
    }
    Ok(report)
}

/// The scheduler's tick: queue a resync of every group and re-queue unfinished deletions.
/// Returns how many jobs were queued.
pub async fn schedule_resyncs<S: TenantRegistry + GroupStore + JobQueue>(store: &S) -> Result<usize> {
    let mut queued = 0;
    for tenant in store.list_tenants().await? {
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let groups = store.list_groups(&tenant, &page).await?;
            for g in &groups.items {
                store
                    .enqueue(&GroupJob::ResyncGroup {
                        tenant: tenant.clone(),
                        group_id: g.id.clone(),
                    })
                    .await?;
                queued += 1;
            }
            match groups.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
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
