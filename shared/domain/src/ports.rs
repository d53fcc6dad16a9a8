//! The capabilities use cases need from storage and queues, one small trait each. The DynamoDB and SQS
//! adapters in `cg-aws` implement them.

use crate::customer::{Customer, Identity};
use crate::destinations::ports::Notifications;
use crate::error::Result;
use crate::group::{Group, Member};
use crate::history::HistoryEntry;
use crate::ids::{CustomerId, FilterId, GroupId, JobId, TenantId};
use crate::jobs::{GroupJob, PartitionDone, ResyncJob, RESYNC_SHARD_BUDGET};
use crate::membership::ChangeReason;
use crate::page::{Page, PageRequest};
use crate::search::saved::SavedFilter;
use crate::settings::TenantSettings;
use chrono::{DateTime, Utc};
use std::future::Future;

/// Customers and their unique identities.
pub trait CustomerStore: Send + Sync {
    /// Inserts the customer and its identities atomically; a taken id or identity is `Conflict`.
    fn create_customer(&self, t: &TenantId, c: &Customer) -> impl Future<Output = Result<()>> + Send;
    /// The customer, or `None` if the tenant has none with this id.
    fn get_customer(&self, t: &TenantId, id: &CustomerId) -> impl Future<Output = Result<Option<Customer>>> + Send;
    /// Reads many customers; missing ids are simply absent from the result.
    fn get_customers(&self, t: &TenantId, ids: &[CustomerId]) -> impl Future<Output = Result<Vec<Customer>>> + Send;
    /// Writes `after` if the stored version is still `before.version`, moving identities that changed.
    fn update_customer(
        &self,
        t: &TenantId,
        before: &Customer,
        after: &Customer,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the customer and its identities if the stored version is still `c.version`.
    fn delete_customer(&self, t: &TenantId, c: &Customer) -> impl Future<Output = Result<()>> + Send;
    /// One page of the tenant's customers, partition by partition.
    fn list_customers(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Customer>>> + Send;
    /// Looks identities up; the result is aligned with `keys`.
    fn resolve_identities(
        &self,
        t: &TenantId,
        keys: &[Identity],
    ) -> impl Future<Output = Result<Vec<Option<CustomerId>>>> + Send;
}

/// A tenant's settings.
pub trait SettingsStore: Send + Sync {
    /// The stored settings, or the defaults.
    fn get_settings(&self, t: &TenantId) -> impl Future<Output = Result<TenantSettings>> + Send;
    /// Stores the settings.
    fn save_settings(&self, t: &TenantId, s: &TenantSettings) -> impl Future<Output = Result<()>> + Send;
}

/// Group definitions.
pub trait GroupStore: Send + Sync {
    /// Stores a new group; its id must be new.
    fn create_group(&self, t: &TenantId, g: &Group) -> impl Future<Output = Result<()>> + Send;
    /// A group that is being deleted reads as absent.
    fn get_group(&self, t: &TenantId, id: &GroupId) -> impl Future<Output = Result<Option<Group>>> + Send;
    /// One page of the tenant's groups in id order, leaving out groups being deleted.
    fn list_groups(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Group>>> + Send;
    /// Every group of the tenant that is not being deleted (dynamic-group plans and the reference graph).
    fn list_all_groups(&self, t: &TenantId) -> impl Future<Output = Result<Vec<Group>>> + Send;
    /// What the membership pass needs of the tenant: every live group and the tenant's settings (in
    /// DynamoDB one Query: the settings item sorts just before the groups).
    fn plan_source(&self, t: &TenantId) -> impl Future<Output = Result<(Vec<Group>, TenantSettings)>> + Send;
    /// Rewrites name, rules and settings if the group still exists and was last updated at
    /// `expected_updated_at` (`ConcurrentUpdate` otherwise).
    fn update_group(
        &self,
        t: &TenantId,
        g: &Group,
        expected_updated_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Hides the group and stops new members; `NotFound` if it is absent or already being deleted.
    fn mark_group_deleting(&self, t: &TenantId, id: &GroupId) -> impl Future<Output = Result<()>> + Send;
    /// Groups marked for deletion whose purge has not finished (for the scheduler's sweep).
    fn list_deleting_groups(&self, t: &TenantId) -> impl Future<Output = Result<Vec<GroupId>>> + Send;
    /// Removes the group item once it has no member rows left.
    fn delete_group_item(&self, t: &TenantId, id: &GroupId) -> impl Future<Output = Result<()>> + Send;
}

/// Outcome of adding one customer to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The customer is now a member.
    Added,
    /// The customer was a member already; nothing was written.
    AlreadyMember,
    /// The customer was deleted between lookup and write.
    CustomerGone,
}

/// Member rows, the customers' group sets and the exact member count, always changed together.
pub trait MembershipStore: Send + Sync {
    /// Adds the customers; the result is aligned with `customers`. Fails `NotFound` if the group is gone.
    fn add_members(
        &self,
        t: &TenantId,
        g: &GroupId,
        customers: &[Customer],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AddOutcome>>> + Send;
    /// Removes one member; `false` if the customer was not a member.
    fn remove_member(&self, t: &TenantId, g: &GroupId, c: &CustomerId) -> impl Future<Output = Result<bool>> + Send;
    /// One page of a group's member rows, in customer id order.
    fn list_members(
        &self,
        t: &TenantId,
        g: &GroupId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<Member>>> + Send;
    /// Rewrites the copied profile columns on the customer's member rows after a profile change.
    fn refresh_member_profiles(&self, t: &TenantId, c: &Customer) -> impl Future<Output = Result<()>> + Send;
    /// Removes up to `max` members of a group being deleted; returns how many were removed (0 = none left).
    fn purge_members(&self, t: &TenantId, g: &GroupId, max: usize) -> impl Future<Output = Result<usize>> + Send;
    /// Counts member rows and stores the exact count; returns (stored before, counted).
    fn recount_members(&self, t: &TenantId, g: &GroupId) -> impl Future<Output = Result<(u64, u64)>> + Send;
}

/// Tenants that have data, so scheduled jobs can visit each without scanning the table.
pub trait TenantRegistry: Send + Sync {
    /// Records that the tenant has data (repeating it changes nothing).
    fn register_tenant(&self, t: &TenantId) -> impl Future<Output = Result<()>> + Send;
    /// Every registered tenant, for the nightly run.
    fn list_tenants(&self) -> impl Future<Output = Result<Vec<TenantId>>> + Send;
}

/// The queue that carries background jobs.
pub trait JobQueue: Send + Sync {
    /// Sends one job message.
    fn enqueue(&self, job: &GroupJob) -> impl Future<Output = Result<()>> + Send;
    /// Sends many jobs (batched ten per request).
    fn enqueue_many(&self, jobs: &[GroupJob]) -> impl Future<Output = Result<()>> + Send;
}

/// Events one commit carries at most: with the customer item, one marker each and room for membership
/// changes it fits DynamoDB's 100-item transaction (the adapter splits larger membership deltas).
pub const MAX_EVENTS_PER_COMMIT: usize = 40;

/// One customer's membership change, written atomically: the customer's group set, facts and next
/// wake-up, its member rows, the groups' counts, history entries and the ids of the events applied.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The customer as read (its `version` is the write condition).
    pub before: Customer,
    /// The customer to store (groups and `next_wake_at` already updated).
    pub after: Customer,
    /// Groups the customer enters: member rows, counts and history entries to write.
    pub entered: Vec<GroupId>,
    /// Groups the customer leaves: member rows to delete, counts and history entries to write.
    pub left: Vec<GroupId>,
    /// Event ids recorded with the write; one already recorded fails the commit with `SeenEvents`.
    pub events: Vec<String>,
    /// The events' timeline entries (aligned with `events`), written with their id markers.
    pub timeline: Vec<crate::timeline::TimelineEntry>,
    /// Whether facts changed (a full write) or only groups and the wake-up (an update).
    pub facts_changed: bool,
    /// Why, for the history entries.
    pub reason: ChangeReason,
}

/// What became of one customer's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitResult {
    /// Everything was written.
    Committed,
    /// The customer changed (or was deleted) since it was read: read it again and redo.
    Stale,
    /// These events were already ingested: drop them and redo.
    SeenEvents(Vec<String>),
    /// A group of the delta is gone or being deleted: reload the plan and redo.
    GroupGone,
}

/// Due customers (tenant and id) and the cursor of the next page.
pub type DuePage = (Vec<(TenantId, CustomerId)>, Option<String>);

/// Membership writes: the only way a customer's groups change with the dynamic groups' rules.
pub trait MembershipCommit: Send + Sync {
    /// Commits many customers' changes, packing them into as few transactions as fit; the result is
    /// aligned with `commits`.
    fn commit(
        &self,
        t: &TenantId,
        commits: Vec<Commit>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<CommitResult>>> + Send;
}

/// Reading a tenant's customers partition by partition (resync, preview).
pub trait CustomerScan: Send + Sync {
    /// One page of a customer partition, read consistently.
    fn scan_shard(
        &self,
        t: &TenantId,
        shard: u32,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<(Vec<Customer>, Option<String>)>> + Send;
}

/// Saved filters (issue 14).
pub trait FilterStore: Send + Sync {
    /// Stores a new filter; its id must be new.
    fn put_filter(&self, t: &TenantId, f: &SavedFilter) -> impl Future<Output = Result<()>> + Send;
    /// The filter, or `None`.
    fn get_filter(&self, t: &TenantId, id: &FilterId) -> impl Future<Output = Result<Option<SavedFilter>>> + Send;
    /// One page of the tenant's filters in creation order.
    fn list_filters(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<SavedFilter>>> + Send;
    /// Rewrites a filter if it exists and was last updated at `expected_updated_at` (`NotFound` if it is
    /// gone, `Conflict` if it changed meanwhile).
    fn update_filter(
        &self,
        t: &TenantId,
        f: &SavedFilter,
        expected_updated_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the filter; `false` if there was none.
    fn delete_filter(&self, t: &TenantId, id: &FilterId) -> impl Future<Output = Result<bool>> + Send;
}

/// One read of a customer partition in id order, strictly after (or, descending, before) a customer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRead {
    /// The partition.
    pub shard: u32,
    /// Read ids after this one (before it when descending); `None`: from the partition's start.
    pub after: Option<CustomerId>,
    /// Most customers to read; `None`: as many as one Query page holds.
    pub limit: Option<u32>,
    /// Largest first.
    pub descending: bool,
    /// Read in creation order (`created_at`, then id) instead of id order; `after` then names the
    /// customer created at `after_created` to read beyond.
    pub by_created: bool,
    /// With `by_created` and `after`: the creation time of `after`.
    pub after_created: Option<DateTime<Utc>>,
}

/// What one [`RangeRead`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangePage {
    /// The customers, in the read's order.
    pub customers: Vec<Customer>,
    /// Whether the partition holds more beyond the last one read.
    pub more: bool,
}

/// Reading a tenant's customer partitions from positions, several at once (search, counts).
pub trait CustomerRanges: Send + Sync {
    /// Runs the reads (concurrently where the store can); the result is aligned with `reads`.
    fn read_ranges(&self, t: &TenantId, reads: &[RangeRead]) -> impl Future<Output = Result<Vec<RangePage>>> + Send;
}

/// The index of customers whose membership changes with time.
pub trait WakeIndex: Send + Sync {
    /// Customers (of any tenant) whose next wake-up is at or before `now`, from one index partition.
    fn due_customers(
        &self,
        partition: u32,
        now: DateTime<Utc>,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<DuePage>> + Send;
}

/// A group's membership history.
pub trait HistoryLog: Send + Sync {
    /// Entries and exits, newest first.
    fn list_history(
        &self,
        t: &TenantId,
        g: &GroupId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<HistoryEntry>>> + Send;
}

/// What the membership pass needs: customers to read again, the plan's groups, and the commit.
pub trait MembershipPass: MembershipCommit + CustomerStore + GroupStore {}
impl<T: MembershipCommit + CustomerStore + GroupStore> MembershipPass for T {}

/// What a resync shard needs: the pass, the partitions to read, the job and the queue to hand on to.
/// A finished job reports its end through `Notifications` (issue 16: `group.resynced`).
pub trait ResyncPorts:
    MembershipPass + MembershipStore + CustomerScan + ResyncJobs + JobQueue + Shards + Clock + Notifications
{
}
impl<T: MembershipPass + MembershipStore + CustomerScan + ResyncJobs + JobQueue + Shards + Clock + Notifications>
    ResyncPorts for T
{
}

/// What group and static-membership changes need.
pub trait GroupPorts: MembershipPass + MembershipStore + TenantRegistry + ResyncJobs + JobQueue + Shards {}
impl<T: MembershipPass + MembershipStore + TenantRegistry + ResyncJobs + JobQueue + Shards> GroupPorts for T {}

/// Resync jobs and the sync status they report on their groups.
pub trait ResyncJobs: Send + Sync {
    /// Stores the job as the tenant's queued resync and marks its groups' sync status queued; `false`
    /// (nothing written) when another queued resync holds the tenant's slot (join that one).
    fn create_resync_job(&self, t: &TenantId, job: &ResyncJob) -> impl Future<Output = Result<bool>> + Send;
    /// The job with its progress so far, or `None` if there is no such job.
    fn get_resync_job(&self, t: &TenantId, id: &JobId) -> impl Future<Output = Result<Option<ResyncJob>>> + Send;
    /// The tenant's queued resync (not started yet), so new groups join it instead of a pass of their
    /// own; a slot naming a job that started or ended is freed.
    fn queued_job(&self, t: &TenantId) -> impl Future<Output = Result<Option<ResyncJob>>> + Send;
    /// Adds groups to a job that has not started, marking their sync status queued with it; `false`
    /// (nothing written) when the job started meanwhile.
    fn join_job(&self, t: &TenantId, job: &ResyncJob, groups: &[GroupId]) -> impl Future<Output = Result<bool>> + Send;
    /// Marks a queued job running as its first shard begins and frees the tenant's slot; `false` if it
    /// was no longer queued.
    fn start_job(&self, t: &TenantId, id: &JobId, now: DateTime<Utc>) -> impl Future<Output = Result<bool>> + Send;
    /// Records partitions as done (by number: recording one again changes nothing) and returns the job
    /// after it (`None`: no such job).
    fn finish_partitions(
        &self,
        t: &TenantId,
        id: &JobId,
        done: &[PartitionDone],
    ) -> impl Future<Output = Result<Option<ResyncJob>>> + Send;
    /// Marks the job and its groups' sync status done (or failed with `error`) if the job is still
    /// queued or running; `false` when it was already over (a job finishes once).
    fn finish_job(
        &self,
        t: &TenantId,
        job: &ResyncJob,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The service's clock: the system clock in AWS; the local stack can run it ahead (`POST /_dev/clock`)
/// to show time-based membership without waiting. Use cases that record when something happened read
/// it; evaluation instants are passed in explicitly.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// Number of partitions the customers are spread over (the widest fan-out of a resync).
pub trait Shards {
    /// How many partitions a tenant's customers are spread over.
    fn customer_shards(&self) -> u32;
    /// Work after which a resync shard hands its remaining partitions on (see [`RESYNC_SHARD_BUDGET`]).
    fn resync_shard_budget(&self) -> u64 {
        RESYNC_SHARD_BUDGET
    }
    /// Customers one search request reads at most (see `usecases::search::SEARCH_MAX_READ`).
    fn search_read_cap(&self) -> u64 {
        crate::usecases::search::SEARCH_MAX_READ
    }
    /// Customers a synchronous count reads at most; a larger tenant's count runs as a count job
    /// (see `usecases::search::COUNT_SYNC_MAX`).
    fn count_sync_max(&self) -> u64 {
        crate::usecases::search::COUNT_SYNC_MAX
    }
}
