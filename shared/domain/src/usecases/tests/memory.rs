//! A small in-memory implementation of the narrow ports, for use-case tests that need no emulator.
//! It keeps the ports' contracts that the use cases rely on (versions, seen events, partitions
//! recorded once) but none of DynamoDB's storage semantics: those are tested on moto.

use crate::customer::{Customer, Identity};
use crate::error::{DomainError, Result};
use crate::group::{Group, Member};
use crate::history::HistoryEntry;
use crate::ids::{CustomerId, GroupId, JobId, TenantId};
use crate::jobs::{GroupJob, PartitionDone, ResyncJob};
use crate::page::{Page, PageRequest};
use crate::ports::{
    AddOutcome, Commit, CommitResult, CustomerScan, CustomerStore, DuePage, GroupStore, HistoryLog, JobQueue,
    MembershipCommit, MembershipStore, ResyncJobs, Shards, TenantRegistry, WakeIndex,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Everything one test's tenant has, behind one lock.
#[derive(Default)]
pub struct Memory {
    pub state: Mutex<State>,
    /// Partitions customers are spread over (by the id's last byte).
    pub partitions: u32,
    /// The resync hand-on budget.
    pub budget: u64,
}

/// The stored data, open to assertions.
#[derive(Default)]
pub struct State {
    pub customers: BTreeMap<CustomerId, Customer>,
    pub groups: BTreeMap<GroupId, Group>,
    pub seen_events: BTreeSet<String>,
    pub queued: Vec<GroupJob>,
    pub jobs: BTreeMap<JobId, (ResyncJob, BTreeMap<u32, PartitionDone>)>,
    pub commits: usize,
    /// Commits answered `Stale` before the store writes again (a concurrent writer, scripted).
    pub stale_next: usize,
    /// The tenant's settings.
    pub settings: crate::settings::TenantSettings,
    /// The tenant's queued resync.
    pub slot: Option<JobId>,
    /// The commit call (1-based) that fails as a worker dying would; `None`: none fails.
    pub fail_commit: Option<usize>,
    /// What the clock port answers.
    pub clock: DateTime<Utc>,
    /// Notifications recorded (issue 16), by id.
    pub notifications: BTreeMap<String, crate::destinations::event::Notification>,
}

impl Memory {
    pub fn new(partitions: u32, budget: u64) -> Memory {
        Memory {
            state: Mutex::new(State::default()),
            partitions,
            budget,
        }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("the test store's lock"))
    }

    fn partition_of(&self, id: &CustomerId) -> u32 {
        u32::from(id.as_str().bytes().last().unwrap_or(0)) % self.partitions.max(1)
    }
}

fn unused<T>(what: &str) -> Result<T> {
    Err(DomainError::Internal(format!(
        "the in-memory store does not implement {what}"
    )))
}

impl CustomerStore for Memory {
    async fn create_customer(&self, _t: &TenantId, c: &Customer) -> Result<()> {
        self.with(|s| match s.customers.insert(c.id.clone(), c.clone()) {
            None => Ok(()),
            Some(_) => Err(DomainError::conflict("id", "taken")),
        })
    }
    async fn get_customer(&self, _t: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
        Ok(self.with(|s| s.customers.get(id).cloned()))
    }
    async fn get_customers(&self, _t: &TenantId, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        Ok(self.with(|s| ids.iter().filter_map(|i| s.customers.get(i).cloned()).collect()))
    }
    async fn update_customer(&self, _t: &TenantId, before: &Customer, after: &Customer) -> Result<()> {
        self.with(|s| match s.customers.get(&before.id) {
            Some(c) if c.version == before.version => {
                s.customers.insert(after.id.clone(), after.clone());
                Ok(())
            }
            _ => Err(DomainError::ConcurrentUpdate),
        })
    }
    async fn delete_customer(&self, _t: &TenantId, c: &Customer) -> Result<()> {
        self.with(|s| {
            s.customers
                .remove(&c.id)
                .map(|_| ())
                .ok_or(DomainError::ConcurrentUpdate)
        })
    }
    async fn list_customers(&self, _t: &TenantId, _page: &PageRequest) -> Result<Page<Customer>> {
        unused("list_customers")
    }
    async fn resolve_identities(&self, _t: &TenantId, keys: &[Identity]) -> Result<Vec<Option<CustomerId>>> {
        Ok(self.with(|s| {
            keys.iter()
                .map(|k| {
                    s.customers
                        .values()
                        .find(|c| c.identities().contains(k))
                        .map(|c| c.id.clone())
                })
                .collect()
        }))
    }
}

impl GroupStore for Memory {
    async fn create_group(&self, _t: &TenantId, g: &Group) -> Result<()> {
        self.with(|s| s.groups.insert(g.id.clone(), g.clone()));
        Ok(())
    }
    async fn get_group(&self, _t: &TenantId, id: &GroupId) -> Result<Option<Group>> {
        Ok(self.with(|s| s.groups.get(id).cloned()))
    }
    async fn list_groups(&self, _t: &TenantId, _page: &PageRequest) -> Result<Page<Group>> {
        unused("list_groups")
    }
    async fn list_all_groups(&self, _t: &TenantId) -> Result<Vec<Group>> {
        Ok(self.with(|s| s.groups.values().cloned().collect()))
    }
    async fn plan_source(&self, _t: &TenantId) -> Result<(Vec<Group>, crate::settings::TenantSettings)> {
        Ok(self.with(|s| (s.groups.values().cloned().collect(), s.settings)))
    }
    async fn update_group(&self, _t: &TenantId, g: &Group, _expected: DateTime<Utc>) -> Result<()> {
        self.with(|s| s.groups.insert(g.id.clone(), g.clone()));
        Ok(())
    }
    async fn mark_group_deleting(&self, _t: &TenantId, id: &GroupId) -> Result<()> {
        self.with(|s| {
            s.groups
                .remove(id)
                .map(|_| ())
                .ok_or_else(|| DomainError::not_found("no group"))
        })
    }
    async fn list_deleting_groups(&self, _t: &TenantId) -> Result<Vec<GroupId>> {
        Ok(Vec::new())
    }
    async fn delete_group_item(&self, _t: &TenantId, _id: &GroupId) -> Result<()> {
        Ok(())
    }
}

impl MembershipStore for Memory {
    async fn add_members(
        &self,
        _t: &TenantId,
        g: &GroupId,
        customers: &[Customer],
        _now: DateTime<Utc>,
    ) -> Result<Vec<AddOutcome>> {
        Ok(self.with(|s| {
            customers
                .iter()
                .map(|c| match s.customers.get_mut(&c.id) {
                    None => AddOutcome::CustomerGone,
                    Some(stored) if stored.groups.contains(g) => AddOutcome::AlreadyMember,
                    Some(stored) => {
                        stored.groups.insert(g.clone());
                        stored.version += 1;
                        if let Some(group) = s.groups.get_mut(g) {
                            group.member_count += 1;
                        }
                        AddOutcome::Added
                    }
                })
                .collect()
        }))
    }
    async fn remove_member(&self, _t: &TenantId, g: &GroupId, c: &CustomerId) -> Result<bool> {
        Ok(self.with(|s| {
            let removed = s.customers.get_mut(c).is_some_and(|x| x.groups.remove(g));
            if removed {
                if let Some(group) = s.groups.get_mut(g) {
                    group.member_count -= 1;
                }
            }
            removed
        }))
    }
    async fn list_members(&self, _t: &TenantId, _g: &GroupId, _page: &PageRequest) -> Result<Page<Member>> {
        unused("list_members")
    }
    async fn refresh_member_profiles(&self, _t: &TenantId, _c: &Customer) -> Result<()> {
        Ok(())
    }
    async fn purge_members(&self, _t: &TenantId, _g: &GroupId, _max: usize) -> Result<usize> {
        Ok(0)
    }
    async fn recount_members(&self, _t: &TenantId, g: &GroupId) -> Result<(u64, u64)> {
        Ok(self.with(|s| {
            let counted = s.customers.values().filter(|c| c.groups.contains(g)).count() as u64;
            let Some(group) = s.groups.get_mut(g) else {
                return (0, 0);
            };
            let before = group.member_count;
            group.member_count = counted;
            (before, counted)
        }))
    }
}

impl TenantRegistry for Memory {
    async fn register_tenant(&self, _t: &TenantId) -> Result<()> {
        Ok(())
    }
    async fn list_tenants(&self) -> Result<Vec<TenantId>> {
        Ok(Vec::new())
    }
}

impl JobQueue for Memory {
    async fn enqueue(&self, job: &GroupJob) -> Result<()> {
        self.with(|s| s.queued.push(job.clone()));
        Ok(())
    }
    async fn enqueue_many(&self, jobs: &[GroupJob]) -> Result<()> {
        self.with(|s| s.queued.extend_from_slice(jobs));
        Ok(())
    }
}

impl MembershipCommit for Memory {
    async fn commit(&self, _t: &TenantId, commits: Vec<Commit>, _now: DateTime<Utc>) -> Result<Vec<CommitResult>> {
        if self.with(|s| s.fail_commit == Some(s.commits + 1)) {
            self.with(|s| {
                s.commits += 1;
                s.fail_commit = None;
            });
            return Err(DomainError::Unavailable("the worker died".into()));
        }
        Ok(self.with(|s| {
            s.commits += 1;
            commits
                .into_iter()
                .map(|c| {
                    if s.stale_next > 0 {
                        s.stale_next -= 1;
                        // A concurrent writer got there first: the stored customer moves on.
                        if let Some(stored) = s.customers.get_mut(&c.before.id) {
                            stored.version += 1;
                        }
                        return CommitResult::Stale;
                    }
                    match s.customers.get(&c.before.id) {
                        Some(stored) if stored.version == c.before.version => {}
                        _ => return CommitResult::Stale,
                    }
                    let seen: Vec<String> = c
                        .events
                        .iter()
                        .filter(|e| s.seen_events.contains(*e))
                        .cloned()
                        .collect();
                    if !seen.is_empty() {
                        return CommitResult::SeenEvents(seen);
                    }
                    s.seen_events.extend(c.events.iter().cloned());
                    for g in &c.entered {
                        if let Some(group) = s.groups.get_mut(g) {
                            group.member_count += 1;
                        }
                    }
                    for g in &c.left {
                        if let Some(group) = s.groups.get_mut(g) {
                            group.member_count -= 1;
                        }
                    }
                    s.customers.insert(c.after.id.clone(), c.after);
                    CommitResult::Committed
                })
                .collect()
        }))
    }
}

impl CustomerScan for Memory {
    /// The whole partition in one page.
    async fn scan_shard(
        &self,
        _t: &TenantId,
        shard: u32,
        _cursor: Option<String>,
    ) -> Result<(Vec<Customer>, Option<String>)> {
        let all: Vec<Customer> = self.with(|s| s.customers.values().cloned().collect());
        Ok((
            all.into_iter().filter(|c| self.partition_of(&c.id) == shard).collect(),
            None,
        ))
    }
}

impl WakeIndex for Memory {
    async fn due_customers(&self, partition: u32, now: DateTime<Utc>, _cursor: Option<String>) -> Result<DuePage> {
        let t = TenantId::parse("t").expect("a tenant id");
        let all: Vec<Customer> = self.with(|s| s.customers.values().cloned().collect());
        let due = all
            .into_iter()
            .filter(|c| self.partition_of(&c.id) == partition && c.next_wake_at.is_some_and(|w| w <= now))
            .map(|c| (t.clone(), c.id))
            .collect();
        Ok((due, None))
    }
}

impl HistoryLog for Memory {
    async fn list_history(&self, _t: &TenantId, _g: &GroupId, _p: &PageRequest) -> Result<Page<HistoryEntry>> {
        unused("list_history")
    }
}

impl ResyncJobs for Memory {
    async fn create_resync_job(&self, _t: &TenantId, job: &ResyncJob) -> Result<bool> {
        Ok(self.with(|s| {
            if s.slot.is_some() {
                return false;
            }
            s.slot = Some(job.id.clone());
            s.jobs.insert(job.id.clone(), (job.clone(), BTreeMap::new()));
            true
        }))
    }
    async fn get_resync_job(&self, _t: &TenantId, id: &JobId) -> Result<Option<ResyncJob>> {
        Ok(self.with(|s| s.jobs.get(id).map(|(j, parts)| summed(j, parts))))
    }
    async fn queued_job(&self, _t: &TenantId) -> Result<Option<ResyncJob>> {
        Ok(self.with(|s| {
            let id = s.slot.clone()?;
            let queued = s
                .jobs
                .get(&id)
                .map(|(j, parts)| summed(j, parts))
                .filter(|j| j.status == crate::group::SyncState::Queued);
            if queued.is_none() {
                s.slot = None;
            }
            queued
        }))
    }
    async fn join_job(&self, _t: &TenantId, job: &ResyncJob, groups: &[GroupId]) -> Result<bool> {
        Ok(self.with(|s| match s.jobs.get_mut(&job.id) {
            Some((j, _)) if j.status == crate::group::SyncState::Queued => {
                j.groups.extend_from_slice(groups);
                true
            }
            _ => false,
        }))
    }
    async fn start_job(&self, _t: &TenantId, id: &JobId, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.with(|s| match s.jobs.get_mut(id) {
            Some((j, _)) if j.status == crate::group::SyncState::Queued => {
                j.status = crate::group::SyncState::Running;
                j.started_at = Some(now);
                if s.slot.as_ref() == Some(id) {
                    s.slot = None;
                }
                true
            }
            _ => false,
        }))
    }
    async fn finish_partitions(&self, _t: &TenantId, id: &JobId, done: &[PartitionDone]) -> Result<Option<ResyncJob>> {
        Ok(self.with(|s| {
            let (job, parts) = s.jobs.get_mut(id)?;
            for p in done {
                parts.entry(p.partition).or_insert(*p);
            }
            Some(summed(job, parts))
        }))
    }
    async fn finish_job(
        &self,
        _t: &TenantId,
        job: &ResyncJob,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.with(|s| {
            let Some((stored, _)) = s.jobs.get_mut(&job.id) else {
                return false;
            };
            if !matches!(
                stored.status,
                crate::group::SyncState::Queued | crate::group::SyncState::Running
            ) {
                return false;
            }
            stored.status = if error.is_some() {
                crate::group::SyncState::Failed
            } else {
                crate::group::SyncState::Done
            };
            stored.finished_at = Some(now);
            stored.last_error = error.map(str::to_owned);
            true
        }))
    }
}

fn summed(job: &ResyncJob, parts: &BTreeMap<u32, PartitionDone>) -> ResyncJob {
    let mut j = job.clone();
    j.shards_done = parts.len() as u32;
    j.customers_evaluated = parts.values().map(|p| p.evaluated).sum();
    j.changes = parts.values().map(|p| p.changes).sum();
    j
}

impl crate::ports::Clock for Memory {
    fn now(&self) -> DateTime<Utc> {
        self.with(|s| s.clock)
    }
}

impl Shards for Memory {
    fn customer_shards(&self) -> u32 {
        self.partitions
    }
    fn resync_shard_budget(&self) -> u64 {
        self.budget
    }
}

impl crate::destinations::ports::Notifications for Memory {
    async fn notify(&self, _t: &TenantId, n: &crate::destinations::event::Notification) -> Result<()> {
        self.with(|s| {
            s.notifications.entry(n.id.clone()).or_insert_with(|| n.clone());
        });
        Ok(())
    }
}
