//! Time: the scheduler's wake-up tick finds customers whose membership can change by the passing of
//! time (their `next_wake_at` has come) and queues them; the worker re-evaluates them.

use crate::error::Result;
use crate::ids::{CustomerId, TenantId};
use crate::jobs::{GroupJob, MAX_WAKE_BATCH};
use crate::membership::ChangeReason;
use crate::ports::{JobQueue, MembershipPass, Shards, WakeIndex};
use crate::usecases::membership::{reevaluate, ApplyReport};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Finds customers due at `now` in every WakeIndex partition and queues them for re-evaluation,
/// grouped by tenant. Returns how many customers were queued.
pub async fn wake_tick<S: WakeIndex + JobQueue + Shards>(store: &S, now: DateTime<Utc>) -> Result<usize> {
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

/// The worker's side of a wake-up: evaluated at the later of the scheduler's and the worker's clock.
pub async fn wake_customers<S: MembershipPass>(
    store: &S,
    t: &TenantId,
    ids: &[CustomerId],
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ApplyReport> {
    reevaluate(store, t, ids, ChangeReason::Time, at.max(now)).await
}
