//! Dynamic groups: saving rules (reference-graph checks), keeping membership current (events, wake-ups,
//! resyncs, customer changes) through one evaluate-and-commit path, preview, explain and history.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::events::{parse_event, Event, MAX_EVENTS_PER_REQUEST};
use crate::group::{draft_rules, Group, GroupKind, GroupPreviewRequest, SyncState};
use crate::history::HistoryEntry;
use crate::ids::{CustomerId, GroupId, JobId, TenantId};
use crate::jobs::{GroupJob, PartitionDone, ResyncJob, MAX_WAKE_BATCH};
use crate::membership::{apply_delta, ChangeReason, Plan};
use crate::page::{Page, PageRequest};
use crate::ports::{
    Commit, CommitResult, CustomerStore, GroupStore, JobQueue, MembershipWriter, ResyncJobs, Shards, TenantRegistry,
};
use crate::rules::{self, EvalContext};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Rounds of re-reading and redoing customers that changed under a commit before giving up (retryable).
const MAX_ROUNDS: usize = 6;
/// Customers a preview evaluates at most; beyond it the count is marked incomplete.
pub const PREVIEW_MAX_CUSTOMERS: u64 = 20_000;
const PREVIEW_DEFAULT_SAMPLE: u32 = 10;
const PREVIEW_MAX_SAMPLE: u32 = 50;

/// The tenant's groups (not being deleted) and the plan of its dynamic ones.
pub async fn load_plan<S: GroupStore>(store: &S, t: &TenantId) -> Result<(Vec<Group>, Plan)> {
    let groups = store.list_all_groups(t).await?;
    let plan = Plan::from_groups(&groups)?;
    Ok((groups, plan))
}

/// Checks the graph that saving `id` with references `uses` would make: every referenced group exists
/// and no reference chain leads back to `id`.
pub fn check_references(groups: &[Group], id: &GroupId, uses: &BTreeSet<GroupId>) -> Result<()> {
    for u in uses {
        if u == id {
            return Err(DomainError::validation(
                "rules",
                "a group cannot reference itself (member_of its own id)",
            ));
        }
        if !groups.iter().any(|g| &g.id == u) {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {u:?}, which does not exist"),
            ));
        }
    }
    let mut graph: Vec<(GroupId, BTreeSet<GroupId>)> = groups
        .iter()
        .filter(|g| &g.id != id)
        .map(|g| (g.id.clone(), g.uses_groups.iter().cloned().collect()))
        .collect();
    graph.push((id.clone(), uses.clone()));
    rules::dependency_order(&graph).map_err(|cycle| {
        let path: Vec<&str> = cycle.iter().map(GroupId::as_str).collect();
        DomainError::validation(
            "rules",
            format!(
                "member_of references would form a cycle: {}; remove one of them",
                path.join(" -> ")
            ),
        )
    })?;
    Ok(())
}

/// Groups whose rules reference `id` (a referenced group cannot be deleted).
pub fn users_of(groups: &[Group], id: &GroupId) -> Vec<GroupId> {
    groups
        .iter()
        .filter(|g| g.uses_groups.contains(id))
        .map(|g| g.id.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// The evaluate-and-commit path shared by events, wake-ups, resyncs and customer changes.

/// A customer to re-evaluate, with the events to apply first (index in the request, event).
#[derive(Debug, Clone)]
pub struct Work {
    pub customer: Customer,
    pub events: Vec<(usize, Event)>,
}

impl Work {
    pub fn new(customer: Customer) -> Self {
        Work {
            customer,
            events: Vec::new(),
        }
    }
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ApplyReport {
    pub evaluated: u64,
    /// Membership entries plus exits written.
    pub changes: u64,
    /// Customers written (membership, facts or wake-up changed).
    pub written: u64,
    pub applied_events: Vec<usize>,
    pub duplicate_events: Vec<usize>,
    pub rejected_events: Vec<(usize, DomainError)>,
    /// Customers deleted while the pass ran (their events were not applied).
    pub gone: Vec<(CustomerId, Vec<usize>)>,
}

/// Applies each work item's events, evaluates every dynamic group and commits only what changed.
/// Customers that changed under the write are read again and redone, so the result is as if the pass
/// had run after every concurrent write.
pub async fn apply<S>(
    store: &S,
    t: &TenantId,
    plan: &mut Plan,
    work: Vec<Work>,
    reason: ChangeReason,
    now: DateTime<Utc>,
) -> Result<ApplyReport>
where
    S: MembershipWriter + CustomerStore + GroupStore,
{
    let mut report = ApplyReport {
        evaluated: work.len() as u64,
        ..Default::default()
    };
    let mut pending = work;
    for _ in 0..MAX_ROUNDS {
        let mut commits = Vec::new();
        let mut owners = Vec::new();
        for (i, w) in pending.iter_mut().enumerate() {
            if let Some(commit) = prepare(plan, w, &reason, now, &mut report) {
                commits.push(commit);
                owners.push(i);
            }
        }
        if commits.is_empty() {
            return Ok(report);
        }
        let sizes: Vec<u64> = commits
            .iter()
            .map(|c| (c.entered.len() + c.left.len()) as u64)
            .collect();
        let results = store.commit(t, commits, now).await?;
        let mut redo: Vec<Work> = Vec::new();
        let mut reread: Vec<Work> = Vec::new();
        let mut reload = false;
        let mut taken: Vec<Option<Work>> = pending.into_iter().map(Some).collect();
        for ((result, i), size) in results.into_iter().zip(owners).zip(sizes) {
            let Some(mut w) = taken[i].take() else { continue };
            match result {
                CommitResult::Committed => {
                    report.changes += size;
                    report.written += 1;
                    report.applied_events.extend(w.events.iter().map(|(n, _)| *n));
                }
                CommitResult::Stale => reread.push(w),
                CommitResult::SeenEvents(ids) => {
                    let seen: HashSet<&String> = ids.iter().collect();
                    report.duplicate_events.extend(
                        w.events
                            .iter()
                            .filter(|(_, e)| seen.contains(&e.event_id))
                            .map(|(n, _)| *n),
                    );
                    w.events.retain(|(_, e)| !seen.contains(&e.event_id));
                    redo.push(w);
                }
                CommitResult::GroupGone => {
                    reload = true;
                    redo.push(w);
                }
            }
        }
        if reload {
            *plan = load_plan(store, t).await?.1;
        }
        if !reread.is_empty() {
            let ids: Vec<CustomerId> = reread.iter().map(|w| w.customer.id.clone()).collect();
            let mut fresh: HashMap<CustomerId, Customer> = store
                .get_customers(t, &ids)
                .await?
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect();
            for mut w in reread {
                match fresh.remove(&w.customer.id) {
                    Some(c) => {
                        w.customer = c;
                        redo.push(w);
                    }
                    None => report
                        .gone
                        .push((w.customer.id.clone(), w.events.iter().map(|(n, _)| *n).collect())),
                }
            }
        }
        pending = redo;
    }
    Err(DomainError::ConcurrentUpdate)
}

/// The commit for one work item, or `None` when nothing changed.
fn prepare(
    plan: &Plan,
    w: &mut Work,
    reason: &ChangeReason,
    now: DateTime<Utc>,
    report: &mut ApplyReport,
) -> Option<Commit> {
    let mut after = w.customer.clone();
    w.events.sort_by_key(|(n, e)| (e.occurred_at, *n));
    let mut kept = Vec::with_capacity(w.events.len());
    for (n, e) in std::mem::take(&mut w.events) {
        let snapshot = after.clone();
        match e.apply(&mut after) {
            Ok(()) => kept.push((n, e)),
            Err(err) => {
                after = snapshot;
                report.rejected_events.push((n, err));
            }
        }
    }
    w.events = kept;
    let delta = plan.evaluate(&after, now);
    let mut after = apply_delta(&after, &delta);
    let facts_changed = !w.events.is_empty();
    if delta.is_empty() && after.next_wake_at == w.customer.next_wake_at && !facts_changed {
        return None;
    }
    if facts_changed {
        after.updated_at = now;
    }
    after.version = w.customer.version + 1;
    let reason = match w.events.last() {
        Some((_, e)) => ChangeReason::Event {
            event_id: e.event_id.clone(),
            kind: e.kind.name(),
        },
        None => reason.clone(),
    };
    Some(Commit {
        before: w.customer.clone(),
        after,
        entered: delta.entered,
        left: delta.left,
        events: w.events.iter().map(|(_, e)| e.event_id.clone()).collect(),
        facts_changed,
        reason,
    })
}

/// Re-evaluates the given customers (after an API change, a wake-up, or a change of a referenced group).
pub async fn reevaluate<S>(
    store: &S,
    t: &TenantId,
    ids: &[CustomerId],
    reason: ChangeReason,
    now: DateTime<Utc>,
) -> Result<ApplyReport>
where
    S: MembershipWriter + CustomerStore + GroupStore,
{
    if ids.is_empty() {
        return Ok(ApplyReport::default());
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let customers = store.get_customers(t, ids).await?;
    if plan.is_empty() && customers.iter().all(|c| c.next_wake_at.is_none()) {
        return Ok(ApplyReport::default());
    }
    apply(
        store,
        t,
        &mut plan,
        customers.into_iter().map(Work::new).collect(),
        reason,
        now,
    )
    .await
}

// ---------------------------------------------------------------------------------------------------
// Events

/// The response of `POST /events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestReport {
    pub received: usize,
    /// Events applied now.
    pub accepted: usize,
    /// Events whose id was already ingested (or repeated in the request): nothing changed.
    pub duplicates: usize,
    pub rejected: Vec<EventRejection>,
    /// Group entries and exits the events caused.
    pub membership_changes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRejection {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub code: &'static str,
    pub message: String,
}

/// Ingests a batch `{"events": [...]}`: valid events are applied (each customer's in time order) and
/// the customer re-evaluated in one pass; invalid ones are reported with their index.
pub async fn ingest_events<S>(store: &S, t: &TenantId, body: &Value, now: DateTime<Utc>) -> Result<IngestReport>
where
    S: MembershipWriter + CustomerStore + GroupStore + TenantRegistry,
{
    let list = parse_batch(body)?;
    let mut report = IngestReport {
        received: list.len(),
        ..Default::default()
    };
    let mut ids_seen = HashSet::new();
    let mut by_customer: BTreeMap<CustomerId, Vec<(usize, Event)>> = BTreeMap::new();
    for (i, raw) in list.iter().enumerate() {
        let path = format!("events[{i}]");
        match parse_event(&path, raw) {
            Ok(e) if !ids_seen.insert(e.event_id.clone()) => report.duplicates += 1,
            Ok(e) => by_customer.entry(e.customer_id.clone()).or_default().push((i, e)),
            Err(err) => report.rejected.push(EventRejection {
                index: i,
                event_id: raw.get("event_id").and_then(Value::as_str).map(str::to_owned),
                code: "validation_failed",
                message: err.to_string(),
            }),
        }
    }
    if by_customer.is_empty() {
        return Ok(report);
    }
    let ids: Vec<CustomerId> = by_customer.keys().cloned().collect();
    let customers = store.get_customers(t, &ids).await?;
    let mut work = Vec::with_capacity(customers.len());
    for c in customers {
        if let Some(events) = by_customer.remove(&c.id) {
            work.push(Work { customer: c, events });
        }
    }
    let event_id = |n: usize| {
        list.get(n)
            .and_then(|v| v.get("event_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for (id, events) in by_customer {
        for (n, _) in events {
            report.rejected.push(not_found_rejection(n, event_id(n), &id));
        }
    }
    let (_, mut plan) = load_plan(store, t).await?;
    let done = apply(store, t, &mut plan, work, ChangeReason::CustomerUpdated, now).await?;
    report.accepted = done.applied_events.len();
    report.duplicates += done.duplicate_events.len();
    report.membership_changes = done.changes;
    for (n, err) in done.rejected_events {
        report.rejected.push(EventRejection {
            index: n,
            event_id: event_id(n),
            code: "validation_failed",
            message: err.to_string(),
        });
    }
    for (id, events) in done.gone {
        for n in events {
            report.rejected.push(not_found_rejection(n, event_id(n), &id));
        }
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok(report)
}

fn not_found_rejection(index: usize, event_id: Option<String>, id: &CustomerId) -> EventRejection {
    EventRejection {
        index,
        event_id,
        code: "customer_not_found",
        message: format!("no customer with id {id:?}; create the customer first, then send the event again"),
    }
}

fn parse_batch(body: &Value) -> Result<&Vec<Value>> {
    let Some(obj) = body.as_object() else {
        return Err(DomainError::Malformed(
            "the body must be a JSON object {\"events\": [...]}".into(),
        ));
    };
    if let Some(k) = obj.keys().find(|k| *k != "events") {
        return Err(DomainError::Malformed(format!(
            "unknown field {k:?}; the body is {{\"events\": [...]}}"
        )));
    }
    let Some(list) = obj.get("events").and_then(Value::as_array) else {
        return Err(DomainError::Malformed("events must be an array of events".into()));
    };
    if list.is_empty() || list.len() > MAX_EVENTS_PER_REQUEST {
        return Err(DomainError::validation(
            "events",
            format!("send 1 to {MAX_EVENTS_PER_REQUEST} events per request"),
        ));
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------------
// Resync

/// Starts a resync of the tenant's dynamic groups reported on `groups`: one job over every customer
/// partition, and one message that fans out as the work requires (see [`run_resync_shard`]).
pub async fn start_resync<S>(store: &S, t: &TenantId, groups: Vec<GroupId>, now: DateTime<Utc>) -> Result<ResyncJob>
where
    S: ResyncJobs + JobQueue + Shards,
{
    let partitions = store.customer_shards();
    let job = ResyncJob {
        id: JobId::generate(),
        groups,
        status: SyncState::Queued,
        shards_total: partitions,
        shards_done: 0,
        customers_evaluated: 0,
        changes: 0,
        created_at: now,
        finished_at: None,
        last_error: None,
    };
    store.create_resync_job(t, &job).await?;
    store
        .enqueue(&GroupJob::resync_shard(t, &job.id, (0..partitions).collect()))
        .await?;
    Ok(job)
}

/// `POST /groups/{id}/resync`: 202 with the job.
pub async fn resync_group<S>(store: &S, t: &TenantId, id: &str, now: DateTime<Utc>) -> Result<ResyncJob>
where
    S: GroupStore + ResyncJobs + JobQueue + Shards,
{
    let group = super::groups::get_group(store, t, id).await?;
    if group.kind != GroupKind::Dynamic {
        return Err(DomainError::validation(
            "type",
            "only dynamic groups are resynced; a static group's members are exactly the ones added",
        ));
    }
    start_resync(store, t, vec![group.id], now).await
}

/// What one shard of a resync did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShardReport {
    pub evaluated: u64,
    pub changes: u64,
    /// Partitions handed on to new messages because this one used up its budget.
    pub handed_on: usize,
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
pub async fn run_resync_shard<S>(
    store: &S,
    t: &TenantId,
    job_id: &JobId,
    partitions: &[u32],
    now: DateTime<Utc>,
) -> Result<ShardReport>
where
    S: MembershipWriter + CustomerStore + GroupStore + ResyncJobs + JobQueue + Shards,
{
    let budget = store.resync_shard_budget();
    let mut report = ShardReport::default();
    let (_, mut plan) = load_plan(store, t).await?;
    let mut done = Vec::with_capacity(partitions.len());
    let mut work = 0;
    for (i, &partition) in partitions.iter().enumerate() {
        let (part, pages) = scan_partition(store, t, &mut plan, partition, now).await?;
        report.evaluated += part.evaluated;
        report.changes += part.changes;
        work += pages + part.changes.div_ceil(25);
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
    }
    let Some(after) = store.finish_partitions(t, job_id, &done).await? else {
        return Ok(report);
    };
    if after.shards_done >= after.shards_total && is_open(after.status) {
        report.job_finished = store.finish_job(t, &after, None, now).await?;
    }
    Ok(report)
}

/// A job still running: finishing it (done or failed) happens once.
fn is_open(status: SyncState) -> bool {
    matches!(status, SyncState::Queued | SyncState::Running)
}

/// Every customer of one partition, page by page, through the membership pass; with the pages read.
async fn scan_partition<S>(
    store: &S,
    t: &TenantId,
    plan: &mut Plan,
    partition: u32,
    now: DateTime<Utc>,
) -> Result<(PartitionDone, u64)>
where
    S: MembershipWriter + CustomerStore + GroupStore,
{
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
pub async fn fail_resync<S: ResyncJobs>(
    store: &S,
    t: &TenantId,
    job_id: &JobId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(job) = store.get_resync_job(t, job_id).await? {
        if is_open(job.status) {
            store.finish_job(t, &job, Some(error), now).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Time

/// The scheduler's wake-up tick: finds customers due at `now` in every WakeIndex partition and queues
/// them for re-evaluation, grouped by tenant. Returns how many customers were queued.
pub async fn wake_tick<S: MembershipWriter + JobQueue + Shards>(store: &S, now: DateTime<Utc>) -> Result<usize> {
    let mut queued = 0;
    for partition in 0..store.customer_shards() {
        let mut cursor = None;
        loop {
            let (due, next) = store.due_customers(partition, now, cursor).await?;
            let mut by_tenant: BTreeMap<TenantId, Vec<CustomerId>> = BTreeMap::new();
            for (t, c) in due {
                by_tenant.entry(t).or_default().push(c);
            }
            let mut jobs = Vec::new();
            for (tenant, ids) in by_tenant {
                queued += ids.len();
                for chunk in ids.chunks(MAX_WAKE_BATCH) {
                    jobs.push(GroupJob::WakeCustomers {
                        tenant: tenant.clone(),
                        customer_ids: chunk.to_vec(),
                        at: now,
                    });
                }
            }
            store.enqueue_many(&jobs).await?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(queued)
}

/// The worker's side of a wake-up.
pub async fn wake_customers<S>(
    store: &S,
    t: &TenantId,
    ids: &[CustomerId],
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ApplyReport>
where
    S: MembershipWriter + CustomerStore + GroupStore,
{
    reevaluate(store, t, ids, ChangeReason::Time, at.max(now)).await
}

// ---------------------------------------------------------------------------------------------------
// Preview, explain, history, templates

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub matched: u64,
    pub evaluated: u64,
    /// False when the tenant has more customers than a preview evaluates; `matched` then counts the
    /// customers evaluated.
    pub complete: bool,
    pub sample: Vec<PreviewCustomer>,
    pub rules: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewCustomer {
    pub customer_id: CustomerId,
    #[serde(flatten)]
    pub profile: crate::customer::MemberProfile,
}

/// Evaluates a draft definition over the tenant's customers without saving it.
pub async fn preview<S>(store: &S, t: &TenantId, req: GroupPreviewRequest, now: DateTime<Utc>) -> Result<Preview>
where
    S: MembershipWriter + GroupStore + Shards,
{
    let sample_size = req.sample_size.unwrap_or(PREVIEW_DEFAULT_SAMPLE);
    if sample_size > PREVIEW_MAX_SAMPLE {
        return Err(DomainError::validation(
            "sample_size",
            format!("sample_size must be 0 to {PREVIEW_MAX_SAMPLE}"),
        ));
    }
    let draft = draft_rules(
        req.rules.as_ref(),
        req.condition_groups.as_ref(),
        req.template.as_deref(),
        req.extra.as_ref(),
        req.settings,
    )?;
    let groups = store.list_all_groups(t).await?;
    for u in draft.definition.rule.referenced_groups() {
        if !groups.iter().any(|g| g.id == u) {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {u:?}, which does not exist"),
            ));
        }
    }
    let mut out = Preview {
        matched: 0,
        evaluated: 0,
        complete: true,
        sample: Vec::new(),
        rules: draft.definition.to_json(),
    };
    'shards: for shard in 0..store.customer_shards() {
        let mut cursor = None;
        loop {
            let (customers, next) = store.scan_shard(t, shard, cursor).await?;
            for c in customers {
                if out.evaluated >= PREVIEW_MAX_CUSTOMERS {
                    out.complete = false;
                    break 'shards;
                }
                out.evaluated += 1;
                let in_group = |g: &GroupId| c.groups.contains(g);
                let ctx = EvalContext {
                    now,
                    settings: &draft.settings,
                    in_group: &in_group,
                };
                if rules::evaluate(&draft.definition.rule, &c, &ctx).matched {
                    out.matched += 1;
                    if out.sample.len() < sample_size as usize {
                        out.sample.push(PreviewCustomer {
                            customer_id: c.id.clone(),
                            profile: c.member_view(),
                        });
                    }
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// For a dynamic group and a customer: the rule tree annotated with which nodes match now.
pub async fn explain<S>(store: &S, t: &TenantId, group_id: &str, customer_id: &str, now: DateTime<Utc>) -> Result<Value>
where
    S: GroupStore + CustomerStore,
{
    let group = super::groups::get_group(store, t, group_id).await?;
    let Some(definition) = group.definition()? else {
        return Err(DomainError::validation(
            "type",
            "explain applies to dynamic groups; a static group's members are the ones added",
        ));
    };
    let customer = super::customers::get_customer(store, t, customer_id).await?;
    let settings = group.lifecycle_settings();
    let in_group = |g: &GroupId| customer.groups.contains(g);
    let ctx = EvalContext {
        now,
        settings: &settings,
        in_group: &in_group,
    };
    let outcome = rules::evaluate(&definition.rule, &customer, &ctx);
    Ok(json!({
        "group_id": group.id,
        "customer_id": customer.id,
        "at": now,
        "matched": outcome.matched,
        "is_member": customer.groups.contains(&group.id),
        "next_change": outcome.next_change,
        "tree": rules::explain(&definition.rule, &customer, &ctx),
    }))
}

pub async fn history<S: GroupStore + MembershipWriter>(
    store: &S,
    t: &TenantId,
    group_id: &str,
    page: &PageRequest,
) -> Result<Page<HistoryEntry>> {
    let group = super::groups::get_group(store, t, group_id).await?;
    store.list_history(t, &group.id, page).await
}

/// The built-in templates (seed 002 segments) with their rules.
pub fn templates() -> Value {
    let items: Vec<Value> = rules::templates()
        .into_iter()
        .map(|(tpl, rule)| {
            json!({"id": tpl.id, "name": tpl.name, "description": tpl.description, "rules": rule.to_json()})
        })
        .collect();
    json!({ "items": items, "extras": ["gender", "customer_group", "aggregator", "bookings"] })
}
