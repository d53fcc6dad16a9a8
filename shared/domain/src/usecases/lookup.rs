//! The lowest layer of the use cases: read one thing the caller named, or say it is not there. Every
//! other use-case module may call these; these call nothing above them.

use crate::customer::Customer;
use crate::error::Result;
use crate::group::Group;
use crate::ids::{CustomerId, GroupId, PathId, TenantId};
use crate::membership::Plan;
use crate::ports::{CustomerStore, GroupStore};

/// A group of the tenant that is not being deleted.
pub async fn get_group<S: GroupStore>(store: &S, tenant: &TenantId, id: &GroupId) -> Result<Group> {
    store
        .get_group(tenant, id)
        .await?
        .ok_or_else(|| GroupId::not_found(id.as_str()))
}

/// A customer of the tenant.
pub async fn get_customer<S: CustomerStore>(store: &S, tenant: &TenantId, id: &CustomerId) -> Result<Customer> {
    store
        .get_customer(tenant, id)
        .await?
        .ok_or_else(|| CustomerId::not_found(id.as_str()))
}

/// The tenant's groups (not being deleted) and the plan of its dynamic ones, with the tenant's settings.
pub async fn load_plan<S: GroupStore>(store: &S, t: &TenantId) -> Result<(Vec<Group>, Plan)> {
    let (groups, settings) = store.plan_source(t).await?;
    let plan = Plan::from_groups(&groups)?.with_tenant_settings(settings);
    Ok((groups, plan))
}
