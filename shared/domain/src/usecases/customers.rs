//! Customer use cases: create, read, list, update and delete, each followed by the membership pass
//! for the customer it changed.

use crate::customer::{Customer, CustomerPatch, NewCustomer};
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, TenantId};
use crate::membership::ChangeReason;
use crate::page::{Page, PageRequest};
use crate::ports::{CustomerStore, MembershipPass, MembershipStore, TenantRegistry};
use crate::usecases::lookup::get_customer;
use crate::usecases::membership::settle;
use chrono::{DateTime, Utc};

/// How often a read-modify-write is retried when another writer got there first.
const WRITE_ATTEMPTS: usize = 5;

/// Creates a customer and evaluates it against the tenant's dynamic groups.
pub async fn create_customer<S: MembershipPass + TenantRegistry>(
    store: &S,
    tenant: &TenantId,
    input: NewCustomer,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let customer = input.into_customer(now)?;
    store.register_tenant(tenant).await?;
    store.create_customer(tenant, &customer).await?;
    // If evaluating fails the request fails retryably (503); the customer write stands and a retry,
    // the next event or the nightly resync brings its memberships up to date.
    settle(store, tenant, customer, ChangeReason::CustomerUpdated, now).await
}

/// A page of the tenant's customers.
pub async fn list_customers<S: CustomerStore>(
    store: &S,
    tenant: &TenantId,
    page: &PageRequest,
) -> Result<Page<Customer>> {
    store.list_customers(tenant, page).await
}

/// Applies a partial update. The patch is re-applied to a fresh read if a concurrent write won, and
/// member rows are refreshed when a copied column (name, email, phone, order number, signup date) changed.
pub async fn update_customer<S: MembershipPass + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    id: &CustomerId,
    patch: CustomerPatch,
    now: DateTime<Utc>,
) -> Result<Customer> {
    for _ in 0..WRITE_ATTEMPTS {
        let before = get_customer(store, tenant, id).await?;
        let after = patch.clone().apply(&before, now)?;
        match store.update_customer(tenant, &before, &after).await {
            Ok(()) => {
                if before.member_view() != after.member_view() && !after.groups.is_empty() {
                    store.refresh_member_profiles(tenant, &after).await?;
                }
                return settle(store, tenant, after, ChangeReason::CustomerUpdated, now).await;
            }
            Err(DomainError::ConcurrentUpdate) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DomainError::ConcurrentUpdate)
}

/// Deletes a customer: first leaves every group (keeping member counts exact), then deletes the customer
/// and its identities on the condition that no membership or profile change slipped in. A crash part-way
/// leaves a customer with fewer groups, and a retry of the request finishes the job.
pub async fn delete_customer<S: CustomerStore + MembershipStore>(
    store: &S,
    tenant: &TenantId,
    id: &CustomerId,
) -> Result<()> {
    for _ in 0..WRITE_ATTEMPTS {
        let current = get_customer(store, tenant, id).await?;
        if !current.groups.is_empty() {
            for group in &current.groups {
                store.remove_member(tenant, group, id).await?;
            }
            continue;
        }
        match store.delete_customer(tenant, &current).await {
            Ok(()) => return Ok(()),
            Err(DomainError::ConcurrentUpdate) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DomainError::ConcurrentUpdate)
}
