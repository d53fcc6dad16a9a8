//! The shared steps of every bulk job (see `crate::bulk` for the contract): claiming a run under the
//! fencing token, the time budget and hand-on, the fault hook tests kill runs with, the follow-up of a
//! commit (static groups and the membership pass), and [`finish`], the one place a job's end is
//! recorded. The import (`import_job`) is the first kind built on them.

use crate::bulk::ports::{BulkFiles, BulkJobStore, BulkObject, BulkQueue};
use crate::bulk::{BulkJob, BulkStatus, BulkTask, Expect};
use crate::customer::Customer;
use crate::destinations::ports::Notifications;
use crate::error::{DomainError, Result};
use crate::export::encode::write_csv_cell;
use crate::ids::{GroupId, TenantId};
use crate::membership::{ChangeReason, Plan};
use crate::ports::{AddOutcome, MembershipPass, MembershipStore};
use crate::usecases::lookup::load_plan;
use crate::usecases::membership::{apply, Work};
use crate::usecases::notify;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a run works before it hands on to a new message: well inside the worker's 900 s Lambda
/// timeout, with room for the last batch, the follow-up and the report.
pub const RUN_BUDGET: Duration = Duration::from_secs(600);

/// Where a test may stop a run dead (the run then never returns, as if the worker were killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Just before the n-th commit of the run (1-based) is sent.
    BeforeCommit(u64),
    /// Just after the n-th commit succeeded, before its follow-up.
    AfterCommit(u64),
    /// After the n-th commit's follow-up (between batches).
    AfterFollowUp(u64),
}

/// Returns `true` to kill the run at that point.
pub type FaultHook = Arc<dyn Fn(FaultPoint) -> bool + Send + Sync>;

/// Knobs of bulk runs: production uses the defaults; tests and the benchmark change them.
#[derive(Clone)]
pub struct BulkSettings {
    /// Work time after which a run hands on.
    pub time_budget: Duration,
    /// Where downloaded files go (Lambda's /tmp).
    pub work_dir: std::path::PathBuf,
    /// A test's kill switch.
    pub fault: Option<FaultHook>,
    /// Customers a count job reads per page (`None`: as many as one DynamoDB Query page holds;
    /// tests lower it to cross page boundaries with few customers).
    pub count_page: Option<u32>,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            time_budget: RUN_BUDGET,
            work_dir: std::env::temp_dir(),
            fault: None,
            count_page: None,
        }
    }
}

impl std::fmt::Debug for BulkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkSettings")
            .field("time_budget", &self.time_budget)
            .field("work_dir", &self.work_dir)
            .field("fault", &self.fault.is_some())
            .field("count_page", &self.count_page)
            .finish()
    }
}

impl BulkSettings {
    /// Stops the run for good if the test's hook says so.
    pub async fn checkpoint(&self, point: FaultPoint) {
        if self.fault.as_ref().is_some_and(|f| f(point)) {
            std::future::pending::<()>().await;
        }
    }
}

/// A run's clock against its budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    started: Instant,
    limit: Duration,
}

impl Budget {
    /// Starts counting now.
    pub fn start(limit: Duration) -> Budget {
        Budget {
            started: Instant::now(),
            limit,
        }
    }

    /// Whether the run should hand on.
    pub fn spent(&self) -> bool {
        self.started.elapsed() >= self.limit
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunOutcome {
    /// The job ended (done, or failed with a reason) in this run.
    #[default]
    Finished,
    /// Analysis finished; the job waits for `start`.
    Analysed,
    /// The budget ran out; the same task was queued again.
    HandedOn,
    /// The job had already ended, or the message did not match its state: nothing to do.
    AlreadyFinished,
    /// Another run (or a cancel) took the job over; this one stopped without writing.
    Superseded,
}

/// Claims the job for a run: `attempts` + 1 under the old value and status. `None`: another run (or a
/// cancel) got there first.
pub async fn claim<S: BulkJobStore>(
    store: &S,
    t: &TenantId,
    mut job: BulkJob,
    now: DateTime<Utc>,
) -> Result<Option<BulkJob>> {
    let expect = Expect::of(&job);
    job.attempts += 1;
    if job.status == BulkStatus::Running {
        job.started_at.get_or_insert(now);
    }
    Ok(store.save_bulk_job(t, &job, expect).await?.then_some(job))
}

/// A job claimed for a run, with the membership plan its writes end in.
pub struct ClaimedRun {
    /// The job as saved by the claim.
    pub job: BulkJob,
    /// The tenant's membership plan (dynamic groups), for every follow-up of this run.
    pub plan: Plan,
}

/// The start every run shares: claim the job, load the plan, and redo the follow-up of the
/// checkpoint's `pending` customers (the previous run may have died between its last commit and that
/// commit's follow-up). `profile_changed`: whether those customers' member-row columns may have changed.
/// `None`: another run (or a cancel) got there first.
pub async fn claim_run<S: BulkJobStore + MembershipPass + MembershipStore>(
    store: &S,
    t: &TenantId,
    job: BulkJob,
    profile_changed: bool,
    now: DateTime<Utc>,
) -> Result<Option<ClaimedRun>> {
    let Some(job) = claim(store, t, job, now).await? else {
        return Ok(None);
    };
    let (_, mut plan) = load_plan(store, t).await?;
    if !job.checkpoint.pending.is_empty() {
        let customers = store.get_customers(t, &job.checkpoint.pending).await?;
        let written = customers.into_iter().map(|c| (c, profile_changed)).collect();
        follow_up(store, t, &mut plan, &[], written, now).await?;
    }
    Ok(Some(ClaimedRun { job, plan }))
}

/// How a job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Every row was applied or reported.
    Done,
    /// It cannot go on; the reason is for people.
    Failed(String),
}

/// Records the end of a job, once: the one place a job's end is written, so its hooks go here: the
/// webhooks of issue 16 (`import.done`, `import.failed`, recorded after the end; a run that dies in
/// between is redelivered, finds the job final and reports it again, idempotently: see
/// [`report_end`]). `false` when the record no longer holds `expect` (another run, a cancel, or an
/// earlier end got there first).
pub async fn finish<S: BulkJobStore + Notifications>(
    store: &S,
    t: &TenantId,
    job: &mut BulkJob,
    expect: Expect,
    end: JobEnd,
    now: DateTime<Utc>,
) -> Result<bool> {
    match &end {
        JobEnd::Done => {
            job.status = BulkStatus::Done;
            job.last_error = None;
        }
        JobEnd::Failed(reason) => {
            job.status = BulkStatus::Failed;
            job.last_error = Some(reason.clone());
        }
    }
    job.finished_at = Some(now);
    job.checkpoint.pending.clear();
    let saved = store.save_bulk_job(t, job, expect).await?;
    if saved {
        tracing::info!(tenant = %t, job = %job.id, kind = job.kind().as_str(), status = job.status.as_str(),
            created = job.counts.created, updated = job.counts.updated, unchanged = job.counts.unchanged,
            failed = job.counts.failed, "bulk job ended");
        report_end(store, t, job).await?;
    }
    Ok(saved)
}

/// Reports a final job's end to the destinations (idempotent by the job's id, so a redelivered
/// message of a job that ended may call it again).
pub async fn report_end<S: Notifications>(store: &S, t: &TenantId, job: &BulkJob) -> Result<()> {
    notify::bulk_job_finished(store, t, job).await
}

/// Marks a job failed unless it already ended (the last delivery's or a give-up's record; best effort).
pub async fn fail_unless_final<S: BulkJobStore + Notifications>(
    store: &S,
    t: &TenantId,
    task: &BulkTask,
    reason: &str,
    now: DateTime<Utc>,
) {
    let (_, id) = task.target();
    for _ in 0..3 {
        let result = async {
            let Some(mut job) = store.get_bulk_job(t, task.kind(), id).await? else {
                return Ok(true);
            };
            if job.status.is_final() {
                return Ok(true);
            }
            let expect = Expect::of(&job);
            finish(store, t, &mut job, expect, JobEnd::Failed(reason.to_owned()), now).await
        }
        .await;
        match result {
            Ok(true) => return,
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(tenant = %t, job = %id, error = ?e, "could not mark the bulk job failed");
                return;
            }
        }
    }
}

/// Queues the task again so a new run goes on from the checkpoint.
pub async fn hand_on<S: BulkQueue>(store: &S, task: &BulkTask) -> Result<RunOutcome> {
    store.enqueue_bulk(task).await?;
    Ok(RunOutcome::HandedOn)
}

/// The words a user sees for a failure no retry fixed; internal details stay in the logs.
pub fn failure_reason(e: &DomainError) -> String {
    match e {
        DomainError::NotFound(m) | DomainError::Validation { message: m, .. } => m.clone(),
        DomainError::Unavailable(_) | DomainError::ConcurrentUpdate => {
            "the job failed repeatedly because a service was temporarily unavailable; start a new one".into()
        }
        _ => "the job failed because of an internal error; start a new one".into(),
    }
}

/// The follow-up of a commit, for the customers it wrote (each with whether its member-row columns
/// may have changed): refresh the copied columns on its member rows, join the static groups every
/// customer of the job gets, then the membership pass (dynamic groups), as every customer write ends.
/// Idempotent,
/// so a run redoes it for the checkpoint's `pending` customers. Returns whether anything was written
/// (the callers' copies of these customers are then stale).
pub async fn follow_up<S: MembershipPass + MembershipStore>(
    store: &S,
    t: &TenantId,
    plan: &mut Plan,
    groups: &[GroupId],
    written: Vec<(Customer, bool)>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut wrote = false;
    let mut customers = Vec::with_capacity(written.len());
    for (c, profile_changed) in written {
        if profile_changed && !c.groups.is_empty() {
            store.refresh_member_profiles(t, &c).await?;
        }
        customers.push(c);
    }
    for g in groups {
        let need: Vec<usize> = (0..customers.len())
            .filter(|&i| !customers[i].groups.contains(g))
            .collect();
        if need.is_empty() {
            continue;
        }
        let batch: Vec<Customer> = need.iter().map(|&i| customers[i].clone()).collect();
        let outcomes = store.add_members(t, g, &batch, now).await.map_err(|e| match e {
            DomainError::NotFound(_) => DomainError::not_found(format!(
                "the static group {g} was deleted while the import ran; rows applied so far stay"
            )),
            other => other,
        })?;
        for (&i, outcome) in need.iter().zip(outcomes) {
            if outcome == AddOutcome::Added {
                customers[i].groups.insert(g.clone());
                customers[i].version += 1;
                wrote = true;
            }
        }
    }
    let work = customers.into_iter().map(Work::new).collect();
    let report = apply(store, t, plan, work, ChangeReason::CustomerUpdated, now).await?;
    Ok(wrote || report.written > 0)
}

/// The failure report of a bulk job, rebuilt from its failed-row items (so it is the same however
/// often the job ran): `Row`, the file's columns, `Error Code`, `Error Message`; RFC 4180 with the exports'
/// formula neutralisation.
pub async fn write_failure_report<S: BulkJobStore, F: BulkFiles>(
    store: &S,
    files: &F,
    t: &TenantId,
    job: &BulkJob,
    header: &[String],
) -> Result<()> {
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(crate::export::encode::UTF8_BOM);
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut Vec<u8>| {
        for (i, c) in cells.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_csv_cell(c, out);
        }
        out.extend_from_slice(b"\r\n");
    };
    let titles = ["Row"]
        .into_iter()
        .chain(header.iter().map(String::as_str))
        .chain(["Error Code", "Error Message"]);
    line(&mut titles.into_iter(), &mut out);
    let mut after = None;
    loop {
        let (rows, next) = store.failed_rows(t, &job.id, after).await?;
        for r in &rows {
            let number = r.row.to_string();
            // Rectangular, as RFC 4180 asks: cells beyond the header are named in the message instead.
            let mut cells: Vec<&str> = r.cells.iter().take(header.len()).map(String::as_str).collect();
            cells.resize(header.len(), "");
            let all = std::iter::once(number.as_str())
                .chain(cells)
                .chain([r.code.as_str(), r.message.as_str()]);
            line(&mut all.into_iter(), &mut out);
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    files
        .put_object(
            &BulkObject::FailureReport(t.clone(), job.id.clone()),
            out,
            "text/csv; charset=utf-8",
        )
        .await
}
