//! One delivery attempt, and the sweep that finds pending messages whose queue message was lost.
//!
//! An attempt is claimed before it is sent (the attempt count moves under a condition), so two
//! workers holding the same message (a duplicate queue message, a sweep that overlapped a slow
//! attempt) send it once. Times here are the wall clock: the receiver checks `webhook-timestamp`
//! against its own clock, and queue delays run in real time, so the local stack's movable service
//! clock would only make signatures look stale.

use crate::destinations::delivery::{
    Attempt, Delivery, DeliveryJob, DeliveryPolicy, DeliveryState, Verdict, MAX_LOGGED_ATTEMPTS,
};
use crate::destinations::ports::{DeliverPorts, SignedPost, WebhookSender};
use crate::destinations::secret::{SealedFor, SigningSecret};
use crate::destinations::webhook::DisabledReason;
use crate::error::Result;
use chrono::{DateTime, Duration, Utc};

/// The longest an SQS message can be delayed; a later attempt is re-queued when this runs out.
pub const MAX_QUEUE_DELAY: std::time::Duration = std::time::Duration::from_secs(900);

/// How an attempt (or the decision not to make one) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed; the next attempt is due then.
    WillRetry(DateTime<Utc>),
    /// Given up, with the reason the log shows.
    Failed(String),
    /// Not attempted: nothing to do (already delivered, claimed by another worker, no such message).
    Skipped(&'static str),
    /// Not due yet (a delay longer than the queue's): queued again.
    Requeued,
}

/// Makes the attempt `job` names, if it is due.
pub async fn attempt_delivery<S: DeliverPorts, W: WebhookSender>(
    store: &S,
    sender: &W,
    policy: &DeliveryPolicy,
    job: &DeliveryJob,
    now: DateTime<Utc>,
) -> Result<DeliverOutcome> {
    let (t, w) = (&job.tenant, &job.webhook_id);
    let Some(stored) = store.get_delivery(t, w, &job.delivery_id).await? else {
        return Ok(DeliverOutcome::Skipped("no such message"));
    };
    let d = stored.delivery;
    if d.status != DeliveryState::Pending {
        return Ok(DeliverOutcome::Skipped("not pending"));
    }
    // Queue delays are whole seconds, rounded up; a message that arrives before its time waits again.
    if let Some(due) = d.next_attempt_at.filter(|at| *at > now + Duration::milliseconds(100)) {
        let wait = (due - now).to_std().unwrap_or_default().min(MAX_QUEUE_DELAY);
        store.enqueue_deliveries(&[(job.clone(), wait)]).await?;
        return Ok(DeliverOutcome::Requeued);
    }
    let Some(endpoint) = store.get_webhook(t, w).await? else {
        return give_up(store, job, &d, "the endpoint was deleted").await;
    };
    if !endpoint.webhook.enabled {
        return give_up(store, job, &d, "the endpoint is disabled").await;
    }

    // The claim: from now until the lease ends the sweep leaves the message alone.
    let lease = now + Duration::from_std(policy.timeout).unwrap_or_default() + Duration::seconds(30);
    let mut claimed = d.clone();
    claimed.attempt_count += 1;
    claimed.next_attempt_at = Some(lease);
    if !store
        .update_delivery(t, &claimed, (DeliveryState::Pending, d.attempt_count))
        .await?
    {
        return Ok(DeliverOutcome::Skipped("claimed by another worker"));
    }

    let mut secrets = vec![open(store, job, &endpoint.secret).await?];
    if let (Some(prev), Some(until)) = (&endpoint.previous_secret, endpoint.webhook.previous_secret_expires_at) {
        if until > now {
            secrets.push(open(store, job, prev).await?);
        }
    }
    let result = sender
        .send(SignedPost {
            url: &endpoint.webhook.url,
            id: &d.id,
            body: &stored.body,
            secrets: &secrets,
            timeout: policy.timeout,
        })
        .await;
    let mut after = claimed.clone();
    after.attempts.push(Attempt {
        at: now,
        status_code: result.status_code,
        error: result.error.clone(),
        latency_ms: result.latency_ms,
        response_excerpt: result.response_excerpt.clone(),
    });
    let keep_from = after.attempts.len().saturating_sub(MAX_LOGGED_ATTEMPTS);
    after.attempts.drain(..keep_from);
    let expected = (DeliveryState::Pending, claimed.attempt_count);

    let verdict = result.verdict();
    let outcome = match verdict {
        Verdict::Delivered => {
            after.status = DeliveryState::Delivered;
            after.next_attempt_at = None;
            DeliverOutcome::Delivered
        }
        Verdict::Gone => {
            after.status = DeliveryState::Failed;
            after.next_attempt_at = None;
            let why = "the receiver answered 410 Gone; the endpoint was disabled".to_owned();
            after.failure_reason = Some(why.clone());
            DeliverOutcome::Failed(why)
        }
        Verdict::Retry => match policy.next_attempt(&d.id, after.attempt_count, result.retry_after, now) {
            Some(at) => {
                after.next_attempt_at = Some(at);
                DeliverOutcome::WillRetry(at)
            }
            None => {
                after.status = DeliveryState::Failed;
                after.next_attempt_at = None;
                let why = format!("all {} attempts of the schedule failed", after.attempt_count);
                after.failure_reason = Some(why.clone());
                DeliverOutcome::Failed(why)
            }
        },
    };
    if !store.update_delivery(t, &after, expected).await? {
        // The lease ran out and another worker took the message over: its record stands.
        return Ok(DeliverOutcome::Skipped("lease lost"));
    }
    match (&outcome, verdict) {
        (DeliverOutcome::WillRetry(at), _) => {
            let wait = (*at - now).to_std().unwrap_or_default().min(MAX_QUEUE_DELAY);
            store.enqueue_deliveries(&[(job.clone(), wait)]).await?;
        }
        (_, Verdict::Gone) => store.disable_webhook(t, w, DisabledReason::Gone, now).await?,
        _ => {}
    }
    match verdict {
        Verdict::Delivered if endpoint.webhook.failing_since.is_some() => store.note_success(t, w).await?,
        Verdict::Retry => {
            if let Some(since) = store.note_failure(t, w, now).await? {
                if now - since >= policy.disable_after {
                    store.disable_webhook(t, w, DisabledReason::Failing, now).await?;
                }
            }
        }
        _ => {}
    }
    Ok(outcome)
}

async fn open<S: DeliverPorts>(
    store: &S,
    job: &DeliveryJob,
    sealed: &crate::destinations::secret::Sealed,
) -> Result<SigningSecret> {
    let bytes = store
        .open(&job.tenant, SealedFor::Webhook(job.webhook_id.as_str()), sealed)
        .await?;
    SigningSecret::from_bytes(bytes)
}

async fn give_up<S: DeliverPorts>(store: &S, job: &DeliveryJob, d: &Delivery, why: &str) -> Result<DeliverOutcome> {
    let mut after = d.clone();
    after.status = DeliveryState::Failed;
    after.next_attempt_at = None;
    after.failure_reason = Some(why.to_owned());
    // If another worker changed it meanwhile, its record stands.
    store
        .update_delivery(&job.tenant, &after, (DeliveryState::Pending, d.attempt_count))
        .await?;
    Ok(DeliverOutcome::Failed(why.to_owned()))
}

/// Queues an attempt for every pending message overdue by more than `grace` (its queue message was
/// lost, or its worker died during the attempt); returns how many. Safe to overlap with workers: the
/// claim keeps each attempt to one send.
pub async fn sweep_deliveries<S: DeliverPorts>(store: &S, now: DateTime<Utc>, grace: Duration) -> Result<usize> {
    let before = now - grace;
    let mut queued = 0;
    for partition in 0..store.delivery_partitions() {
        let mut cursor = None;
        loop {
            let (due, next) = store.due_deliveries(partition, before, cursor).await?;
            let jobs: Vec<(DeliveryJob, std::time::Duration)> =
                due.into_iter().map(|j| (j, std::time::Duration::ZERO)).collect();
            queued += jobs.len();
            store.enqueue_deliveries(&jobs).await?;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(queued)
}
