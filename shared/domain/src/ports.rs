//! The capabilities use cases need from storage and queues, one small trait each. The DynamoDB and SQS
//! adapters in `cg-aws` implement them.

use crate::customer::{Customer, Identity};
use crate::error::Result;
use crate::group::{Group, Member};
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::jobs::GroupJob;
use crate::page::{Page, PageRequest};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Customers and their unique identities.
pub trait CustomerStore: Send + Sync {
    /// Inserts the customer and its identities atomically; a taken id or identity is `Conflict`.
    fn create_customer(&self, t: &TenantId, c: &Customer) -> impl Future<Output = Result<()>> + Send;
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
    fn list_customers(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Customer>>> + Send;
    /// Looks identities up; the result is aligned with `keys`.
    fn resolve_identities(
        &self,
        t: &TenantId,
        keys: &[Identity],
    ) -> impl Future<Output = Result<Vec<Option<CustomerId>>>> + Send;
}

/// Group definitions.
pub trait GroupStore: Send + Sync {
    fn create_group(&self, t: &TenantId, g: &Group) -> impl Future<Output = Result<()>> + Send;
    /// A group that is being deleted reads as absent.
    fn get_group(&self, t: &TenantId, id: &GroupId) -> impl Future<Output = Result<Option<Group>>> + Send;
    fn list_groups(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Group>>> + Send;
    fn rename_group(
        &self,
        t: &TenantId,
        id: &GroupId,
        name: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Group>> + Send;
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
    Added,
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
    fn register_tenant(&self, t: &TenantId) -> impl Future<Output = Result<()>> + Send;
    fn list_tenants(&self) -> impl Future<Output = Result<Vec<TenantId>>> + Send;
}

/// The queue that carries background jobs.
pub trait JobQueue: Send + Sync {
    fn enqueue(&self, job: &GroupJob) -> impl Future<Output = Result<()>> + Send;
}
