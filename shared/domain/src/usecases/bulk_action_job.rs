//! The bulk modify and bulk delete jobs (shape of `balance_job`): a run claims the record under its
//! fencing token, walks the target from the stored [`Position`] (a filter: the customer partitions in
//! id order, evaluated with the compiled rules; a group: its member rows; an id list: by index), and
//! commits each chunk's writes with the record (the advanced position, counts, failures) in ONE
//! transaction. A run killed anywhere leaves a chunk wholly applied or not at all; the redelivery
//! resumes at the stored position, so every customer is changed and counted exactly once. A modified
//! chunk's follow-up (member-row profiles, the membership pass) is idempotent and redone from
//! `pending`; a delete removes the member rows (history: `deleted`) in its own transaction.

use crate::balance::ports::BalanceStore;
use crate::bulk::action::{CustomerAction, Position};
use crate::bulk::action_ports::{delete_items, BulkActionStore};
use crate::bulk::ports::{BulkCommit, BulkJobStore, BulkQueue, CustomerWrite, RowCommit, MAX_BATCH_ITEMS};
use crate::bulk::{BulkCounts, BulkJob, BulkStatus, BulkTask, Expect, FailedRow};
use crate::customer::Customer;
use crate::destinations::ports::Notifications;
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, TenantId};
use crate::membership::Plan;
use crate::ports::{Clock, CustomerRanges, MembershipPass, MembershipStore, Shards};
use crate::rules::Program;
use crate::usecases::bulk_actions::audit_of;
use crate::usecases::bulk_job::{
    claim_run, fail_unless_final, failure_reason, finish, follow_up, hand_on, Budget, BulkSettings, ClaimedRun,
    FaultPoint, JobEnd, RunOutcome,
};
use crate::usecases::bulk_walk::{step, Pack, Slot};
use chrono::{DateTime, Utc};

/// What a bulk modify or delete run needs.
pub trait ActionJobPorts:
    MembershipPass
    + MembershipStore
    + BulkJobStore
    + BulkCommit
    + BulkActionStore
    + BalanceStore
    + BulkQueue
    + CustomerRanges
    + Shards
    + Clock
    + Notifications
{
}
impl<T> ActionJobPorts for T where
    T: MembershipPass
        + MembershipStore
        + BulkJobStore
        + BulkCommit
        + BulkActionStore
        + BalanceStore
        + BulkQueue
        + CustomerRanges
        + Shards
        + Clock
        + Notifications
{
}

/// Rounds of re-reading a chunk whose customers changed under its commit before the run gives up
/// retryably.
const CHUNK_ATTEMPTS: usize = 16;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionReport {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Chunks committed by this run.
    pub commits: u64,
    /// Chunks read again because a customer changed under the commit.
    pub redos: u64,
}

/// Runs (or continues) one bulk modify or delete. `last_attempt`: the queue's final delivery.
pub async fn run_action_task<S: ActionJobPorts>(
    store: &S,
    task: &BulkTask,
    settings: &BulkSettings,
    last_attempt: bool,
    now: DateTime<Utc>,
) -> Result<ActionReport> {
    let (t, _) = task.target();
    let result = run(store, t, task, settings, now).await;
    if let Err(e) = &result {
        if !e.is_retryable() || last_attempt {
            fail_unless_final(store, t, task, &failure_reason(e), now).await;
            if let Ok(Some(job)) = store.get_bulk_job(t, task.kind(), task.target().1).await {
                if let Ok(entry) = audit_of(&job) {
                    let _ = store.put_audit(t, &entry).await;
                }
            }
        }
    }
    result
}

async fn run<S: ActionJobPorts>(
    store: &S,
    t: &TenantId,
    task: &BulkTask,
    settings: &BulkSettings,
    now: DateTime<Utc>,
) -> Result<ActionReport> {
    let mut report = ActionReport::default();
    let (_, id) = task.target();
    let Some(job) = store.get_bulk_job(t, task.kind(), id).await? else {
        report.outcome = RunOutcome::AlreadyFinished;
        return Ok(report);
    };
    if job.status != BulkStatus::Running {
        // A run that died between the end and its audit entry: write it again (idempotent).
        if job.status.is_final() {
            store.put_audit(t, &audit_of(&job)?).await?;
        }
        report.outcome = RunOutcome::AlreadyFinished;
        return Ok(report);
    }
    let budget = Budget::start(settings.time_budget);
    let Some(ClaimedRun { mut job, mut plan }) = claim_run(store, t, job, true, now).await? else {
        report.outcome = RunOutcome::Superseded;
        return Ok(report);
    };
    let target = job.action()?.target.clone();
    let query = target.query()?;
    let program = query.as_ref().map(|q| q.program());
    loop {
        if job.action()?.position.exhausted {
            let expect = Expect::of(&job);
            let ended = finish(store, t, &mut job, expect, JobEnd::Done, store.now()).await?;
            report.outcome = if ended {
                store.put_audit(t, &audit_of(&job)?).await?;
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
        let pos = job.action()?.position.clone();
        let step = step(store, t, &target, program.as_ref(), &pos, store.now()).await?;
        // Pack the step's customers into commits of at most 100 items, in walk order. A partial last
        // batch waits for the next step, which reads on from the last commit, unless the step ends a
        // partition or the target or committed nothing: commits stay full (the cost is per request).
        let deleting = matches!(job.action()?.action, CustomerAction::Delete { .. });
        let mut batch: Vec<(Position, Slot)> = Vec::new();
        let mut pack = Pack::default();
        let mut committed = false;
        for (at, slot) in step.slots {
            if pack.items + pack.cost(&slot, deleting) > MAX_BATCH_ITEMS - 1 {
                let end = batch.last().map(|(p, _)| p.clone()).unwrap_or_else(|| pos.clone());
                let batch = std::mem::take(&mut batch);
                let ctx = Ctx {
                    settings,
                    program: program.as_ref(),
                    now,
                };
                if !commit_step(store, t, &mut job, &mut plan, batch, end, &ctx, &mut report).await? {
                    return Ok(report);
                }
                committed = true;
                pack = Pack::default();
            }
            pack.add(&slot, deleting);
            batch.push((at, slot));
        }
        if committed && !step.boundary {
            continue;
        }
        let ctx = Ctx {
            settings,
            program: program.as_ref(),
            now,
        };
        if !commit_step(store, t, &mut job, &mut plan, batch, step.end, &ctx, &mut report).await? {
            return Ok(report);
        }
    }
}

/// What every commit of a run shares.
struct Ctx<'a> {
    settings: &'a BulkSettings,
    program: Option<&'a Program>,
    now: DateTime<Utc>,
}

/// Commits one batch with the record advanced to `end`, then the follow-up; `false` when fenced.
#[allow(clippy::too_many_arguments)]
async fn commit_step<S: ActionJobPorts>(
    store: &S,
    t: &TenantId,
    job: &mut BulkJob,
    plan: &mut Plan,
    batch: Vec<(Position, Slot)>,
    end: Position,
    ctx: &Ctx<'_>,
    report: &mut ActionReport,
) -> Result<bool> {
    let (settings, now) = (ctx.settings, ctx.now);
    let mut matches: Vec<Customer> = Vec::new();
    let mut missing: Vec<CustomerId> = Vec::new();
    for (_, slot) in batch {
        match slot {
            Slot::Match(c) => matches.push(c),
            Slot::Missing(id) => missing.push(id),
            Slot::Skip => {}
        }
    }
    let action = job.action()?.action.clone();
    let expect = Expect::of(job);
    for attempt in 0..CHUNK_ATTEMPTS {
        if attempt > 0 {
            let ids: Vec<CustomerId> = matches.iter().map(|c| c.id.clone()).collect();
            // Gone since read (deleted by someone else): not this job's to count; changed so that the
            // filter no longer holds: not a match any more.
            matches = store.get_customers(t, &ids).await?;
            if let Some(p) = ctx.program {
                let (mut hit, mut changes) = (Vec::new(), Vec::new());
                p.matches_many(&matches, store.now(), &mut hit, &mut changes);
                let mut i = 0;
                matches.retain(|_| {
                    i += 1;
                    hit.get(i - 1).copied().unwrap_or(false)
                });
            }
        }
        let at = store.now();
        let mut next = job.clone();
        let mut counts = BulkCounts::default();
        let mut failed = Vec::new();
        let mut fail = |next: &mut BulkJob, id: &CustomerId, code: &str, message: String| -> Result<()> {
            let row = job.counts.failed + failed.len() as u64 + 1;
            failed.push(FailedRow::new(row, &[id.to_string()], code, message));
            *next.action_mut()?.failures.entry(code.to_owned()).or_default() += 1;
            Ok(())
        };
        for id in &missing {
            fail(
                &mut next,
                id,
                "not_found",
                format!("no customer with id {:?}", id.as_str()),
            )?;
            counts.failed += 1;
        }
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        for c in &matches {
            match &action {
                CustomerAction::Modify(changes) => match changes.apply(c, at) {
                    Ok(Some(after)) => {
                        counts.updated += 1;
                        writes.push(CustomerWrite::Update {
                            before: c.clone(),
                            after,
                        });
                    }
                    Ok(None) => counts.unchanged += 1,
                    Err(e) => {
                        counts.failed += 1;
                        fail(&mut next, &c.id, "invalid_change", e.to_string())?;
                    }
                },
                CustomerAction::Delete { .. } => {
                    if delete_items(c) > MAX_BATCH_ITEMS - 2 {
                        counts.failed += 1;
                        let m = format!("customer {} is in {} groups, too many to delete in bulk; remove it from some groups or delete it alone", c.id, c.groups.len());
                        fail(&mut next, &c.id, "too_many_groups", m)?;
                    } else {
                        counts.updated += 1;
                        deletes.push(c.clone());
                    }
                }
            }
        }
        next.counts.add(&counts);
        next.checkpoint.next_row = next.counts.total();
        next.checkpoint.pending = writes.iter().map(|w| w.after().id.clone()).collect();
        next.action_mut()?.position = end.clone();
        settings.checkpoint(FaultPoint::BeforeCommit(report.commits + 1)).await;
        let outcome = match &action {
            CustomerAction::Modify(_) => store.commit_rows(t, &writes, &failed, &next, expect, at).await?,
            CustomerAction::Delete { .. } => store.commit_deletes(t, &deletes, &failed, &next, expect, at).await?,
        };
        match outcome {
            RowCommit::Committed => {
                report.commits += 1;
                *job = next;
                settings.checkpoint(FaultPoint::AfterCommit(report.commits)).await;
                if !writes.is_empty() {
                    let written = writes
                        .into_iter()
                        .map(|w| match w {
                            CustomerWrite::Update { before, after } => {
                                let changed = before.member_view() != after.member_view();
                                (after, changed)
                            }
                            CustomerWrite::Create(c) => (c, true),
                        })
                        .collect();
                    follow_up(store, t, plan, &[], written, now).await?;
                }
                settings.checkpoint(FaultPoint::AfterFollowUp(report.commits)).await;
                return Ok(true);
            }
            RowCommit::Fenced => {
                report.outcome = RunOutcome::Superseded;
                return Ok(false);
            }
            RowCommit::Stale => report.redos += 1,
        }
    }
    Err(DomainError::ConcurrentUpdate)
}
