//! The batch engine of an import run. Rows arrive in file order; every [`LOOKAHEAD`] rows their
//! identities are looked up together (BatchGetItem, 100 keys a request) and the customers they name
//! read together; then each row is decided in order against what is known (stored state plus the
//! batch's own uncommitted writes, so rows that match the same customer apply in file order) and
//! added to the pending transaction. When the next row's items would not fit DynamoDB's 100 (or it
//! would touch an identity item another write of the transaction touches), the pending rows are
//! committed: their customers, identities and failed rows with the advanced checkpoint, in one
//! transaction under the fencing token. So a run killed anywhere leaves whole batches, and the next
//! run starts at the checkpoint.

use crate::bulk::ports::{BulkCommit, BulkJobStore, CustomerWrite, RowCommit, MAX_BATCH_ITEMS};
use crate::bulk::{BulkJob, Expect, FailedRow};
use crate::customer::{Customer, Identity};
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, TenantId};
use crate::import::mapping::Mapping;
use crate::membership::Plan;
use crate::ports::{MembershipPass, MembershipStore};
use crate::usecases::bulk_job::{follow_up, Budget, BulkSettings, FaultPoint};
pub use crate::usecases::import_rows::ParsedRow;
use crate::usecases::import_rows::{decide, Belief, Decision, Pending, PendingWrite};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet, VecDeque};

/// Rows looked up together: with an email and a phone each, two full BatchGetItems of identities and
/// one of customers.
pub const LOOKAHEAD: usize = 100;
/// Rows after which a batch is committed even if it wrote nothing (so the checkpoint moves on).
const MAX_PENDING_ROWS: usize = 1000;
/// Known customers kept between commits before the cache is dropped (memory stays bounded).
const MAX_KNOWN: usize = 5000;
/// Times a batch is read again and redone after a concurrent change before the run gives up (retryable).
const MAX_REDOS: u32 = 5;

/// Whether the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep feeding rows.
    Continue,
    /// The time budget is spent after a commit: hand on.
    HandOn,
    /// Another run or a cancel took the job over: stop.
    Fenced,
}

/// What a run's engine did, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineReport {
    /// Transactions committed.
    pub commits: u64,
    /// Batches read again after a concurrent change.
    pub redos: u64,
    /// Rows decided in this run.
    pub rows: u64,
}

/// One run's engine.
pub struct Engine<'a, S> {
    store: &'a S,
    t: &'a TenantId,
    mapping: &'a Mapping,
    /// The record as last committed.
    pub job: BulkJob,
    expect: Expect,
    plan: Plan,
    settings: &'a BulkSettings,
    budget: Budget,
    now: DateTime<Utc>,
    belief: Belief,
    pending: Pending,
    queue: VecDeque<ParsedRow>,
    redos: u32,
    /// What the run did.
    pub report: EngineReport,
}

impl<'a, S> Engine<'a, S>
where
    S: MembershipPass + MembershipStore + BulkJobStore + BulkCommit,
{
    /// An engine over the claimed job.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &'a S,
        t: &'a TenantId,
        mapping: &'a Mapping,
        job: BulkJob,
        plan: Plan,
        settings: &'a BulkSettings,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Self {
        let expect = Expect::of(&job);
        Engine {
            store,
            t,
            mapping,
            job,
            expect,
            plan,
            settings,
            budget,
            now,
            belief: Belief::default(),
            pending: Pending::default(),
            queue: VecDeque::new(),
            redos: 0,
            report: EngineReport::default(),
        }
    }

    /// Redoes the follow-up of the checkpoint's `pending` customers (a run may have died before it).
    pub async fn resume_pending(&mut self) -> Result<()> {
        let ids = std::mem::take(&mut self.job.checkpoint.pending);
        if ids.is_empty() {
            return Ok(());
        }
        let customers = self.store.get_customers(self.t, &ids).await?;
        let written = customers.into_iter().map(|c| (c, true)).collect();
        follow_up(
            self.store,
            self.t,
            &mut self.plan,
            &self.mapping.add.groups,
            written,
            self.now,
        )
        .await?;
        self.job.checkpoint.pending = ids;
        Ok(())
    }

    /// Adds a row; every [`LOOKAHEAD`] rows the queue is processed.
    pub async fn push(&mut self, row: ParsedRow) -> Result<Flow> {
        self.queue.push_back(row);
        if self.queue.len() < LOOKAHEAD {
            return Ok(Flow::Continue);
        }
        self.process().await
    }

    /// Processes what is left and commits the last batch (the end of the file).
    pub async fn finish(&mut self) -> Result<Flow> {
        match self.process().await? {
            Flow::Continue => {}
            other => return Ok(other),
        }
        match self.commit().await? {
            RowCommit::Committed => Ok(Flow::Continue),
            RowCommit::Fenced => Ok(Flow::Fenced),
            RowCommit::Stale => {
                self.redo()?;
                Box::pin(self.finish()).await
            }
        }
    }

    /// Looks the queued rows up, then decides them one by one, committing whenever the transaction is full.
    async fn process(&mut self) -> Result<Flow> {
        'read: loop {
            self.prefetch().await?;
            while let Some(row) = self.queue.pop_front() {
                let decision = match &row.values {
                    Err(f) => Decision::Failed(f.clone()),
                    Ok(v) => decide(&self.belief, self.mapping, &self.job.id, row.row, v, self.now),
                };
                if !self.fits(&decision) || self.pending.rows.len() >= MAX_PENDING_ROWS {
                    // The row is decided again after the commit: its follow-up may have moved on
                    // customers the decision read (their copies are then read again).
                    self.queue.push_front(row);
                    match self.commit().await? {
                        RowCommit::Committed => {}
                        RowCommit::Fenced => return Ok(Flow::Fenced),
                        RowCommit::Stale => self.redo()?,
                    }
                    if self.budget.spent() {
                        return Ok(Flow::HandOn);
                    }
                    continue 'read;
                }
                self.add(decision, row);
            }
            if self.budget.spent() && !self.pending.rows.is_empty() {
                return match self.commit().await? {
                    RowCommit::Committed => Ok(Flow::HandOn),
                    RowCommit::Fenced => Ok(Flow::Fenced),
                    RowCommit::Stale => {
                        self.redo()?;
                        continue 'read;
                    }
                };
            }
            return Ok(Flow::Continue);
        }
    }

    /// After a stale commit: forget what is known and put the batch's rows back in front of the queue.
    fn redo(&mut self) -> Result<()> {
        self.redos += 1;
        self.report.redos += 1;
        if self.redos > MAX_REDOS {
            return Err(DomainError::ConcurrentUpdate);
        }
        let rows = std::mem::take(&mut self.pending).rows;
        for row in rows.into_iter().rev() {
            self.queue.push_front(row);
        }
        self.belief = Belief::default();
        Ok(())
    }

    /// Reads the identities and customers the queued rows name that are not known yet.
    async fn prefetch(&mut self) -> Result<()> {
        let mut wanted: Vec<Identity> = Vec::new();
        let mut seen = HashSet::new();
        for row in &self.queue {
            if let Ok(v) = &row.values {
                for i in v.identities() {
                    if !self.belief.identities.contains_key(&i) && seen.insert(i.clone()) {
                        wanted.push(i);
                    }
                }
            }
        }
        if !wanted.is_empty() {
            let owners = self.store.resolve_identities(self.t, &wanted).await?;
            self.belief.identities.extend(wanted.into_iter().zip(owners));
        }
        let mut ids: Vec<CustomerId> = Vec::new();
        let mut seen = HashSet::new();
        for row in &self.queue {
            let Ok(v) = &row.values else { continue };
            let owners = v
                .identities()
                .into_iter()
                .filter_map(|i| self.belief.owner(&i).cloned());
            for id in v.id.iter().cloned().chain(owners) {
                if !self.belief.customers.contains_key(&id) && seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
        }
        if !ids.is_empty() {
            let found: HashMap<CustomerId, Customer> = self
                .store
                .get_customers(self.t, &ids)
                .await?
                .into_iter()
                .map(|c| (c.id.clone(), c))
                .collect();
            for id in ids {
                let c = found.get(&id).cloned();
                self.belief.customers.insert(id, c);
            }
        }
        Ok(())
    }

    /// The base of a write of customer `id`: its state before the pending transaction.
    fn base(&self, id: &CustomerId) -> Option<Customer> {
        match self.pending.writes.get(id) {
            Some(w) => w.base.clone(),
            None => self.belief.customer(id).cloned(),
        }
    }

    /// Whether the decision fits the pending transaction (items, and no identity item twice).
    fn fits(&self, d: &Decision) -> bool {
        let room = MAX_BATCH_ITEMS - 1;
        match d {
            Decision::Unchanged => true,
            Decision::Failed(_) => self.pending.items < room,
            Decision::Write { after, .. } => {
                let w = PendingWrite {
                    base: self.base(&after.id),
                    after: after.clone(),
                };
                let old = self.pending.writes.get(&after.id).map_or(0, |p| p.write().items());
                if self.pending.items - old + w.write().items() > room {
                    return false;
                }
                let mine = w.touched();
                self.pending
                    .writes
                    .iter()
                    .filter(|(id, _)| **id != after.id)
                    .all(|(_, other)| other.touched().is_disjoint(&mine))
            }
        }
    }

    /// Adds a decided row to the pending transaction and to what is known.
    fn add(&mut self, d: Decision, row: ParsedRow) {
        self.report.rows += 1;
        match d {
            Decision::Failed(f) => {
                self.pending
                    .failed
                    .push(FailedRow::new(row.row, &row.cells, f.code, f.message));
                self.pending.counts.failed += 1;
                self.pending.items += 1;
            }
            Decision::Unchanged => self.pending.counts.unchanged += 1,
            Decision::Write { created, mut after } => {
                let id = after.id.clone();
                let base = self.base(&id);
                after.version = base.as_ref().map_or(1, |b| b.version + 1);
                if let Some(b) = &base {
                    after.created_at = b.created_at;
                }
                let current = self.belief.customer(&id).map(Customer::identities).unwrap_or_default();
                let next = after.identities();
                for gone in current.difference(&next) {
                    self.belief.identities.insert(gone.clone(), None);
                }
                for new in next.difference(&current) {
                    self.belief.identities.insert(new.clone(), Some(id.clone()));
                }
                if created {
                    self.pending.counts.created += 1;
                } else {
                    self.pending.counts.updated += 1;
                }
                self.belief.customers.insert(id.clone(), Some(after.clone()));
                let write = PendingWrite { base, after };
                let old = self.pending.writes.insert(id.clone(), write).map(|w| w.write().items());
                match old {
                    Some(n) => self.pending.items -= n,
                    None => self.pending.order.push(id.clone()),
                }
                self.pending.items += self.pending.writes[&id].write().items();
            }
        }
        self.pending.rows.push(row);
    }

    /// Commits the pending transaction with the advanced checkpoint, then runs its follow-up.
    async fn commit(&mut self) -> Result<RowCommit> {
        let Some(last) = self.pending.rows.last().map(|r| r.row) else {
            return Ok(RowCommit::Committed);
        };
        let writes: Vec<CustomerWrite> = self
            .pending
            .order
            .iter()
            .map(|id| self.pending.writes[id].write())
            .collect();
        let mut next = self.job.clone();
        next.counts.add(&self.pending.counts);
        next.checkpoint.next_row = last + 1;
        next.checkpoint.pending = self.pending.order.clone();
        next.last_error = None;
        let n = self.report.commits + 1;
        self.settings.checkpoint(FaultPoint::BeforeCommit(n)).await;
        let result = self
            .store
            .commit_rows(self.t, &writes, &self.pending.failed, &next, self.expect, self.now)
            .await?;
        if result != RowCommit::Committed {
            return Ok(result);
        }
        self.report.commits = n;
        self.redos = 0;
        self.job = next;
        self.settings.checkpoint(FaultPoint::AfterCommit(n)).await;
        let pending = std::mem::take(&mut self.pending);
        let written: Vec<(Customer, bool)> = pending
            .order
            .iter()
            .map(|id| {
                let w = &pending.writes[id];
                let changed = w
                    .base
                    .as_ref()
                    .is_some_and(|b| b.member_view() != w.after.member_view());
                (w.after.clone(), changed)
            })
            .collect();
        if !written.is_empty() {
            let wrote = follow_up(
                self.store,
                self.t,
                &mut self.plan,
                &self.mapping.add.groups,
                written,
                self.now,
            )
            .await?;
            if wrote {
                for id in &pending.order {
                    self.belief.customers.remove(id);
                }
            }
        }
        if self.belief.customers.len() > MAX_KNOWN || self.belief.identities.len() > 3 * MAX_KNOWN {
            self.belief = Belief::default();
        }
        self.settings.checkpoint(FaultPoint::AfterFollowUp(n)).await;
        Ok(RowCommit::Committed)
    }
}
