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
/// grouped by tenant into messages of up to [`MAX_WAKE_BATCH`] customers, sent ten to a request
/// (SendMessageBatch) across partitions. Returns how many customers were queued.
pub async fn wake_tick<S: WakeIndex + JobQueue + Shards>(store: &S, now: DateTime<Utc>) -> Result<usize> {
    let mut queued = 0;
    let mut by_tenant: BTreeMap<TenantId, Vec<CustomerId>> = BTreeMap::new();
    let mut ready: Vec<GroupJob> = Vec::new();
    for partition in 0..store.customer_shards() {
        let mut cursor = None;
        loop {
            let (due, next) = store.due_customers(partition, now, cursor).await?;
            queued += due.len();
            for (t, c) in due {
                let ids = by_tenant.entry(t.clone()).or_default();
                ids.push(c);
                if ids.len() == MAX_WAKE_BATCH {
                    ready.push(wake_job(t, std::mem::take(ids), now));
                }
            }
            if ready.len() >= SEND_BATCH {
                let full: Vec<GroupJob> = ready.drain(..ready.len() / SEND_BATCH * SEND_BATCH).collect();
                store.enqueue_many(&full).await?;
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    ready.extend(
        by_tenant
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(t, ids)| wake_job(t, ids, now)),
    );
    store.enqueue_many(&ready).await?;
    Ok(queued)
}

/// Messages per SendMessageBatch.
const SEND_BATCH: usize = 10;

fn wake_job(tenant: TenantId, customer_ids: Vec<CustomerId>, at: DateTime<Utc>) -> GroupJob {
    GroupJob::WakeCustomers {
        tenant,
        customer_ids,
        at,
    }
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
