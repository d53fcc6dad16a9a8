//! The one SQS batch runner: every worker is a [`Worker`] handed to [`run_batch`], which decodes each
//! record, runs it, and answers with a partial batch response naming only the records to deliver
//! again. One policy for every queue, configured once (`QUEUE_MAX_RECEIVES`, the queues'
//! maxReceiveCount):
//! - [`Outcome::Done`]: the record is deleted.
//! - [`Outcome::Retry`]: a transient failure; SQS delivers it again, and after maxReceiveCount
//!   receives moves it to the dead-letter queue. On that last delivery the worker's
//!   [`Worker::give_up`] runs first, so the job's record says failed when the message lands there.
//! - [`Outcome::GiveUp`]: no retry can help; `give_up` records why and the record is deleted.
//! - A body that is not a job of this queue (a poison message) fails every time, so it reaches the
//!   dead-letter queue for inspection, logged with its reason.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// How running one job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished (or nothing left to do): delete the message.
    Done,
    /// A transient failure (throttling, a dependency briefly down): deliver it again.
    Retry(String),
    /// A failure no retry can fix: record it and delete the message.
    GiveUp(String),
}

impl Outcome {
    /// The outcome of a use case's result: retryable errors retry, the others give up.
    pub fn of<T>(result: &Result<T, cg_domain::DomainError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Done,
            Err(e) if e.is_retryable() => Outcome::Retry(format!("{e:?}")),
            Err(e) => Outcome::GiveUp(format!("{e:?}")),
        }
    }
}

/// What a worker knows about the delivery of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The SQS message id.
    pub message_id: String,
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub receives: u32,
    /// Whether this is the queue's last delivery before the dead-letter queue.
    pub last: bool,
}

/// A queue's worker: the job type its messages carry, how to run one, and how to record one that is
/// given up (or about to reach the dead-letter queue).
pub trait Worker: Sync {
    /// The message body.
    type Job: DeserializeOwned + Debug + Send + Sync;

    /// The queue's name, for logs.
    const QUEUE: &'static str;

    /// Runs one job.
    fn run(&self, job: &Self::Job, delivery: &Delivery) -> impl Future<Output = Outcome> + Send;

    /// Records that a job will not be retried (given up, or failing on its last delivery).
    fn give_up(&self, job: &Self::Job, reason: &str) -> impl Future<Output = ()> + Send;
}

/// A long job keeps its message invisible while it runs: every `every` the runner extends the
/// message's visibility to `visibility` seconds from then. The queue's own visibility can then be
/// short, so a run that dies is retried soon (its message reappears at most `visibility` later).
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat<'a> {
    /// The store whose SQS client and queue the messages come from.
    pub store: &'a cg_aws::Store,
    /// The queue's URL.
    pub queue_url: &'a str,
    /// How often to extend.
    pub every: std::time::Duration,
    /// Seconds of invisibility each extension grants (the queue's visibility timeout).
    pub visibility: i32,
}

/// Runs every record of a batch through the worker; returns the records to deliver again.
pub async fn run_batch<W: Worker>(
    worker: &W,
    event: SqsEvent,
    max_receives: u32,
    heartbeat: Option<Heartbeat<'_>>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        if let Some(id) = run_record(worker, &record, max_receives, heartbeat).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Jobs are deep futures (SDK calls inside the membership pass); erasing their type keeps every worker
/// binary's future within the compiler's layout depth limit, for one allocation per message.
fn boxed<'a, T>(f: impl Future<Output = T> + Send + 'a) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(f)
}

/// Runs one record; returns its id if SQS should deliver it again.
async fn run_record<W: Worker>(
    worker: &W,
    record: &SqsMessage,
    max_receives: u32,
    heartbeat: Option<Heartbeat<'_>>,
) -> Option<String> {
    let message_id = record.message_id.clone().unwrap_or_default();
    let receives: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let job: W::Job = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(job)) => job,
        other => {
            let reason = match other {
                Some(Err(e)) => e.to_string(),
                _ => "empty body".to_owned(),
            };
            tracing::error!(queue = W::QUEUE, message_id = %message_id, receives, reason = %reason,
                "poison message: not a job of this queue; it goes to the dead-letter queue");
            return Some(message_id);
        }
    };
    let delivery = Delivery {
        message_id: message_id.clone(),
        receives,
        last: receives >= max_receives,
    };
    let started = std::time::Instant::now();
    let mut run = boxed(worker.run(&job, &delivery));
    let outcome = match (heartbeat, record.receipt_handle.as_deref()) {
        (Some(beat), Some(receipt)) => loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                () = tokio::time::sleep(beat.every) => {
                    if let Err(e) = beat.store.extend_visibility(beat.queue_url, receipt, beat.visibility).await {
                        tracing::warn!(queue = W::QUEUE, message_id = %message_id, error = ?e,
                            "could not extend the message's visibility; another delivery may start");
                    }
                }
            }
        },
        _ => run.await,
    };
    let ms = started.elapsed().as_millis() as u64;
    match outcome {
        Outcome::Done => {
            tracing::info!(queue = W::QUEUE, message_id = %message_id, receives, ms, job = ?job, "job done");
            None
        }
        Outcome::Retry(reason) if delivery.last => {
            tracing::error!(queue = W::QUEUE, message_id = %message_id, receives, ms, job = ?job, reason = %reason,
                "job failed on its last delivery; recorded as failed, the message goes to the dead-letter queue");
            boxed(worker.give_up(&job, &reason)).await;
            Some(message_id)
        }
        Outcome::Retry(reason) => {
            tracing::warn!(queue = W::QUEUE, message_id = %message_id, receives, ms, job = ?job, reason = %reason,
                "job failed; SQS will deliver it again");
            Some(message_id)
        }
        Outcome::GiveUp(reason) => {
            tracing::error!(queue = W::QUEUE, message_id = %message_id, receives, ms, job = ?job, reason = %reason,
                "job failed for good; recorded as failed and the message deleted");
            boxed(worker.give_up(&job, &reason)).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Scripted {
        outcome: Outcome,
        given_up: Mutex<Vec<String>>,
    }

    impl Worker for Scripted {
        type Job = u32;
        const QUEUE: &'static str = "test";

        async fn run(&self, _job: &u32, _d: &Delivery) -> Outcome {
            self.outcome.clone()
        }

        async fn give_up(&self, job: &u32, reason: &str) {
            self.given_up.lock().unwrap().push(format!("{job}:{reason}"));
        }
    }

    fn record(id: &str, body: &str, receives: u32) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m.attributes
            .insert("ApproximateReceiveCount".into(), receives.to_string());
        m
    }

    async fn run(outcome: Outcome, records: Vec<SqsMessage>) -> (Vec<String>, Vec<String>) {
        let w = Scripted {
            outcome,
            given_up: Mutex::new(Vec::new()),
        };
        let mut event = SqsEvent::default();
        event.records = records;
        let resp = run_batch(&w, event, 5, None).await;
        let failed = resp
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        (failed, w.given_up.into_inner().unwrap())
    }

    #[tokio::test]
    async fn only_retried_and_poison_records_are_reported() {
        let (failed, given_up) = run(Outcome::Done, vec![record("a", "1", 1), record("b", "not json", 1)]).await;
        assert_eq!(failed, vec!["b"], "a poison message fails so it reaches the DLQ");
        assert!(given_up.is_empty());
        let (failed, given_up) = run(Outcome::Retry("slow".into()), vec![record("a", "1", 2)]).await;
        assert_eq!((failed, given_up.len()), (vec!["a".to_owned()], 0));
    }

    #[tokio::test]
    async fn the_last_delivery_and_a_give_up_record_the_failure() {
        let (failed, given_up) = run(Outcome::Retry("slow".into()), vec![record("a", "7", 5)]).await;
        assert_eq!(failed, vec!["a"], "still reported, so SQS moves it to the DLQ");
        assert_eq!(given_up, vec!["7:slow"]);
        let (failed, given_up) = run(Outcome::GiveUp("bad".into()), vec![record("a", "8", 1)]).await;
        assert!(failed.is_empty(), "a given-up message is deleted, not retried");
        assert_eq!(given_up, vec!["8:bad"]);
    }
}
