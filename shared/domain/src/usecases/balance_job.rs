//! Group balance operations (seed 001's cashback tab) as bulk jobs: `POST /groups/{id}/balance-operations`
//! creates the record under its idempotency key and queues it; the bulk worker walks the group's
//! member rows in customer-id order ([`MEMBER_PAGE`] ids per Query, their customers 100 per
//! BatchGetItem) and commits each chunk of [`BATCH_CUSTOMERS`]: balances, ledger entries, (operation,
//! customer) markers, rejected members and the record's advanced position (the chunk's last member)
//! and counts in ONE transaction under the job's fencing token. A run killed anywhere leaves a chunk
//! wholly applied or not at all; the redelivery resumes after the stored member. The follow-up of a
//! chunk (the membership pass of its customers) is idempotent and redone from `pending`.

use crate::balance::job::{BalanceOperationSpec, BalanceOperationView};
use crate::balance::ports::{BalanceCommit, BalanceStore, BATCH_CUSTOMERS, MEMBER_PAGE};
use crate::balance::request::ChangeInput;
use crate::balance::{plan_write, EntryContext, Operation};
use crate::bulk::ports::{BulkJobStore, BulkQueue};
use crate::bulk::{BulkCounts, BulkJob, BulkKind, BulkSpec, BulkStatus, BulkTask, Checkpoint, Expect, FailedRow};
use crate::customer::Customer;
use crate::destinations::ports::Notifications;
use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, CustomerId, GroupId, TenantId};
use crate::ports::{Clock, MembershipPass, MembershipStore};
use crate::usecases::bulk_job::{
    claim_run, fail_unless_final, failure_reason, finish, follow_up, hand_on, Budget, BulkSettings, ClaimedRun,
    FaultPoint, JobEnd, RunOutcome,
};
use crate::usecases::lookup::get_group;
use chrono::{DateTime, Utc};

/// What a group balance operation needs.
pub trait BalancePorts:
    MembershipPass + MembershipStore + BulkJobStore + BalanceStore + BulkQueue + Clock + Notifications
{
}
impl<T: MembershipPass + MembershipStore + BulkJobStore + BalanceStore + BulkQueue + Clock + Notifications> BalancePorts
    for T
{
}

/// Rounds of re-reading a chunk whose customers changed under the commit before the run gives up
/// retryably (`ConcurrentUpdate`: the queue delivers the message again and the job goes on from its
/// last commit).
const PAGE_ATTEMPTS: usize = 16;

/// `POST /groups/{id}/balance-operations`: a new operation (queued), or the one created earlier with
/// the same idempotency key (whatever its body was; re-queued if it never started, so a client that
/// retries after a failed enqueue gets it running).
pub async fn create_group_operation<S: BalancePorts>(
    store: &S,
    t: &TenantId,
    g: &GroupId,
    input: ChangeInput,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<BalanceOperationView> {
    let group = get_group(store, t, g).await?;
    let job = BulkJob {
        id: BulkJobId::generate(),
        status: BulkStatus::Running,
        rows_total: Some(group.member_count),
        counts: BulkCounts::default(),
        checkpoint: Checkpoint::default(),
        attempts: 0,
        created_at: now,
        started_at: None,
        finished_at: None,
        last_error: None,
        spec: BulkSpec::BalanceOperation(Box::new(BalanceOperationSpec {
            group_id: g.clone(),
            change: input.change,
            comment: input.comment,
            idempotency_key: input.key.clone(),
            actor: actor.to_owned(),
            after: None,
            members_exhausted: false,
            rejections: Default::default(),
        })),
    };
    let id = match store.create_balance_operation(t, &job, &input.key).await? {
        None => job.id.clone(),
        Some(earlier) => earlier,
    };
    let view = get_group_operation(store, t, &id).await?;
    if view.status == BulkStatus::Running && view.attempts == 0 {
        store
            .enqueue_bulk(&BulkTask::BalanceOperation {
                tenant: t.clone(),
                job_id: id,
            })
            .await?;
    }
    Ok(view)
}

/// `GET /balance-operations/{id}`.
pub async fn get_group_operation<S: BulkJobStore>(
    store: &S,
    t: &TenantId,
    id: &BulkJobId,
) -> Result<BalanceOperationView> {
    let job = store
        .get_bulk_job(t, BulkKind::BalanceOperation, id)
        .await?
        .ok_or_else(|| DomainError::not_found(format!("no balance operation with id {:?}", id.as_str())))?;
    let rejected = if job.counts.failed > 0 {
        store.failed_rows(t, id, None).await?.0
    } else {
        Vec::new()
    };
    BalanceOperationView::of(&job, &rejected)
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationReport {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Pages committed by this run.
    pub commits: u64,
    /// Pages read again because a customer changed under the commit.
    pub redos: u64,
}

/// Runs (or continues) one group balance operation. `last_attempt`: the queue's final delivery, so a
/// failure marks the operation failed (as does any failure a retry cannot fix).
pub async fn run_balance_task<S: BalancePorts>(
    store: &S,
    task: &BulkTask,
    settings: &BulkSettings,
    last_attempt: bool,
    now: DateTime<Utc>,
) -> Result<OperationReport> {
    let (t, id) = task.target();
    let result = run(store, t, id, task, settings, now).await;
    if let Err(e) = &result {
        if !e.is_retryable() || last_attempt {
            fail_unless_final(store, t, task, &failure_reason(e), now).await;
        }
    }
    result
}

async fn run<S: BalancePorts>(
    store: &S,
    t: &TenantId,
    id: &BulkJobId,
    task: &BulkTask,
    settings: &BulkSettings,
    now: DateTime<Utc>,
) -> Result<OperationReport> {
    let mut report = OperationReport::default();
    let Some(job) = store.get_bulk_job(t, BulkKind::BalanceOperation, id).await? else {
        report.outcome = RunOutcome::AlreadyFinished;
        return Ok(report);
    };
    if job.status != BulkStatus::Running {
        report.outcome = RunOutcome::AlreadyFinished;
        return Ok(report);
    }
    let budget = Budget::start(settings.time_budget);
    let Some(ClaimedRun { mut job, mut plan }) = claim_run(store, t, job, false, now).await? else {
        report.outcome = RunOutcome::Superseded;
        return Ok(report);
    };
    loop {
        if job.balance()?.members_exhausted {
            let expect = Expect::of(&job);
            report.outcome = if finish(store, t, &mut job, expect, JobEnd::Done, now).await? {
                RunOutcome::Finished
            } else {
                RunOutcome::Superseded
            };
            return Ok(report);
        }
        if budget.spent() {
            report.outcome = hand_on(store, task).await?;
            return Ok(report);
        }
        let spec = job.balance()?;
        let (ids, more) = store
            .member_ids(t, &spec.group_id, spec.after.as_ref(), MEMBER_PAGE)
            .await?;
        if ids.is_empty() {
            // No member after the last one committed: only the end is left to record.
            job.balance_mut()?.members_exhausted = true;
            continue;
        }
        let mut customers = store.get_customers(t, &ids).await?;
        let chunks: Vec<&[CustomerId]> = ids.chunks(BATCH_CUSTOMERS).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = !more && i + 1 == chunks.len();
            let read: Vec<Customer> = customers.extract_if(.., |c| chunk.contains(&c.id)).collect();
            match commit_chunk(store, t, &job, chunk, read, last, settings, &mut report).await? {
                None => {
                    report.outcome = RunOutcome::Superseded;
                    return Ok(report);
                }
                Some((next, written)) => {
                    job = next;
                    settings.checkpoint(FaultPoint::AfterCommit(report.commits)).await;
                    follow_up(
                        store,
                        t,
                        &mut plan,
                        &[],
                        written.into_iter().map(|c| (c, false)).collect(),
                        now,
                    )
                    .await?;
                    settings.checkpoint(FaultPoint::AfterFollowUp(report.commits)).await;
                }
            }
        }
    }
}

/// Commits one chunk of members (as read, `customers`; absent ones were deleted since they were
/// listed and are skipped) with the advanced record; `None` when fenced. A customer changed under the
/// commit is read again and the chunk redone. Returns the record as committed and the customers
/// written (for the follow-up).
#[allow(clippy::too_many_arguments)]
async fn commit_chunk<S: BalancePorts>(
    store: &S,
    t: &TenantId,
    job: &BulkJob,
    chunk: &[CustomerId],
    mut customers: Vec<Customer>,
    last: bool,
    settings: &BulkSettings,
    report: &mut OperationReport,
) -> Result<Option<(BulkJob, Vec<Customer>)>> {
    let spec = job.balance()?.clone();
    let op = Operation::group(&job.id);
    let ctx = EntryContext {
        operation: &op,
        group_id: Some(&spec.group_id),
        comment: &spec.comment,
        actor: &spec.actor,
    };
    let expect = Expect::of(job);
    let mut already = std::collections::BTreeSet::new();
    for attempt in 0..PAGE_ATTEMPTS {
        if attempt > 0 {
            customers = store.get_customers(t, chunk).await?;
        }
        // Entries carry the time of their commit's attempt, not the run's start.
        let now = store.now();
        customers.sort_by(|a, b| a.id.cmp(&b.id));
        let mut next = job.clone();
        let mut counts = BulkCounts::default();
        let mut writes = Vec::new();
        let mut failed = Vec::new();
        let next_spec = next.balance_mut()?;
        for c in &customers {
            if already.contains(&c.id) {
                // Its marker exists: this operation changed it already (never again).
                counts.updated += 1;
                continue;
            }
            match plan_write(c, &spec.change, &ctx, now) {
                Ok(Some(w)) => {
                    counts.updated += 1;
                    writes.push(w);
                }
                Ok(None) => counts.unchanged += 1,
                Err((reason, balance)) => {
                    counts.failed += 1;
                    *next_spec.rejections.entry(reason).or_default() += 1;
                    let row = job.counts.total() + counts.total();
                    let cells = [c.id.to_string(), spec.change.unit.to_string(), balance.to_string()];
                    let message = format!("{} balance {balance}: {}", spec.change.unit, reason.as_str());
                    failed.push(FailedRow::new(row, &cells, reason.as_str(), message));
                }
            }
        }
        next_spec.after = chunk.last().cloned();
        next_spec.members_exhausted = last;
        next.counts.add(&counts);
        next.checkpoint.next_row = next.counts.total();
        next.checkpoint.pending = writes.iter().map(|w| w.after.id.clone()).collect();
        settings.checkpoint(FaultPoint::BeforeCommit(report.commits + 1)).await;
        match store
            .commit_balances(t, &writes, &failed, Some((&next, expect)))
            .await?
        {
            BalanceCommit::Committed => {
                report.commits += 1;
                return Ok(Some((next, writes.into_iter().map(|w| w.after).collect())));
            }
            BalanceCommit::Fenced => return Ok(None),
            BalanceCommit::Stale { applied } => {
                report.redos += 1;
                already.extend(applied.into_iter().map(|i| writes[i].after.id.clone()));
            }
        }
    }
    Err(DomainError::ConcurrentUpdate)
}
