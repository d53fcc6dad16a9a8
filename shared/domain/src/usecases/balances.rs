//! Balance use cases of one customer: the single adjustment (exactly once per idempotency key and
//! customer, ending in the membership pass like every change of a customer's facts) and the ledger.

use crate::balance::ports::{BalanceCommit, BalanceStore};
use crate::balance::request::ChangeInput;
use crate::balance::{plan_write, BalanceEntry, Balances, EntryContext, Operation};
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, TenantId};
use crate::membership::ChangeReason;
use crate::page::{Page, PageRequest};
use crate::ports::{Clock, MembershipPass};
use crate::usecases::lookup::get_customer;
use crate::usecases::membership::settle;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Rounds of re-reading a customer that another writer changed first.
const WRITE_ATTEMPTS: usize = 8;

/// What an adjustment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    /// The balance changed; `entry` is the new ledger entry.
    Applied,
    /// The balance already was the set amount: no entry.
    Unchanged,
}

/// The answer of `POST /customers/{id}/balance-adjustments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdjustmentView {
    /// Applied or unchanged.
    pub status: AdjustmentStatus,
    /// Whether this is the answer to an earlier request with the same idempotency key (nothing was
    /// applied again).
    pub replayed: bool,
    /// The entry written (applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<BalanceEntry>,
    /// The customer's balances now (for a replay: as read now).
    pub balances: Balances,
}

/// Applies a set or adjust to one customer's balance, once per (idempotency key, customer): a repeat
/// returns the first answer's entry. A deduction below zero without `allow_negative` is 422 naming
/// `amount` with the reason `insufficient_balance`.
pub async fn adjust_balance<S: MembershipPass + BalanceStore + Clock>(
    store: &S,
    t: &TenantId,
    id: &CustomerId,
    input: ChangeInput,
    actor: &str,
) -> Result<AdjustmentView> {
    let op = Operation::adjustment(&input.key);
    let ctx = EntryContext {
        operation: &op,
        group_id: None,
        comment: &input.comment,
        actor,
    };
    for _ in 0..WRITE_ATTEMPTS {
        // Read the clock per attempt: an entry's time is when its commit was tried.
        let now: DateTime<Utc> = store.now();
        let customer = get_customer(store, t, id).await?;
        if let Some(entry) = store.applied_entry(t, &op, id).await? {
            return Ok(replay(entry, customer.balances));
        }
        let write = match plan_write(&customer, &input.change, &ctx, now) {
            Ok(Some(w)) => w,
            Ok(None) => {
                return Ok(AdjustmentView {
                    status: AdjustmentStatus::Unchanged,
                    replayed: false,
                    entry: None,
                    balances: customer.balances,
                })
            }
            Err((reason, balance)) => {
                return Err(DomainError::validation(
                    "amount",
                    format!(
                        "{}: the {} balance is {balance}; this {} of {} is refused (set allow_negative to allow a balance below zero)",
                        reason.as_str(),
                        input.change.unit,
                        match input.change.kind {
                            crate::balance::ChangeKind::Set => "set",
                            crate::balance::ChangeKind::Adjust => "adjustment",
                        },
                        input.change.amount
                    ),
                ))
            }
        };
        match store
            .commit_balances(t, std::slice::from_ref(&write), &[], None)
            .await?
        {
            BalanceCommit::Committed => {
                let stored = settle(store, t, write.after, ChangeReason::CustomerUpdated, now).await?;
                return Ok(AdjustmentView {
                    status: AdjustmentStatus::Applied,
                    replayed: false,
                    entry: Some(write.entry),
                    balances: stored.balances,
                });
            }
            // A concurrent request with the same key won, or the customer changed: read again.
            BalanceCommit::Stale { .. } => continue,
            BalanceCommit::Fenced => return Err(DomainError::Internal("a fenced commit without a job".into())),
        }
    }
    Err(DomainError::ConcurrentUpdate)
}

fn replay(entry: BalanceEntry, balances: Balances) -> AdjustmentView {
    AdjustmentView {
        status: AdjustmentStatus::Applied,
        replayed: true,
        entry: Some(entry),
        balances,
    }
}

/// `GET /customers/{id}/ledger`: the customer's balance entries, newest first.
pub async fn list_ledger<S: MembershipPass + BalanceStore>(
    store: &S,
    t: &TenantId,
    id: &CustomerId,
    page: &PageRequest,
) -> Result<Page<BalanceEntry>> {
    get_customer(store, t, id).await?;
    store.ledger(t, id, page).await
}
