//! The local stack's side of destinations (issue 16): the KMS key and the FIFO queue's name at
//! provisioning, and in the dev server what AWS runs for us: a reader of the table's stream that
//! hands filtered batches to the dispatcher as Lambda's event source mapping would, pollers of the
//! deliveries and sync queues, and the sweep on a timer.

use crate::export_jobs::poll_queue_once;
use crate::template::{local_name, QueueDef, Template};
use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use cg_lambda::destinations_worker::{process_deliveries, process_stream, process_syncs, run_sweep};
use cg_lambda::App;
use std::collections::HashMap;
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A queue's local name: kebab case of its logical id, the suffix, and `.fifo` for a FIFO queue.
pub fn queue_name(q: &QueueDef, suffix: &str) -> String {
    let base = format!("{}{suffix}", local_name(&q.logical_id));
    if q.fifo {
        format!("{base}.fifo")
    } else {
        base
    }
}

/// The local destinations key (one for every local stack: ciphertexts are bound to the tenant and
/// owner anyway): found by alias, or created. Returns its key id.
pub async fn ensure_key(sdk: &aws_config::SdkConfig, template: &Template) -> Result<String, BoxError> {
    let logical = template
        .kms_keys
        .first()
        .ok_or("template.yaml declares no AWS::KMS::Key")?;
    let alias = format!("alias/{}", local_name(logical));
    let kms = aws_sdk_kms::Client::new(sdk);
    if let Ok(found) = kms.describe_key().key_id(&alias).send().await {
        if let Some(id) = found.key_metadata.map(|m| m.key_id) {
            return Ok(id);
        }
    }
    let key = kms
        .create_key()
        .description("customer groups: destinations secrets (local)")
        .send()
        .await?;
    let id = key.key_metadata.map(|m| m.key_id).ok_or("CreateKey returned no key")?;
    match kms.create_alias().alias_name(&alias).target_key_id(&id).send().await {
        Ok(_) => Ok(id),
        // Another process created it meanwhile: use that one (ours stays unused).
        Err(_) => Ok(kms
            .describe_key()
            .key_id(&alias)
            .send()
            .await?
            .key_metadata
            .map(|m| m.key_id)
            .ok_or("the destinations key alias names no key")?),
    }
}

/// Where the stream reader is in each shard (the last sequence number handed over).
#[derive(Default)]
struct StreamPosition {
    arn: Option<String>,
    after: HashMap<String, String>,
}

/// Lambda's filter criteria of the dispatcher (template.yaml): inserts of items with a `feed`.
fn passes_filter(r: &aws_sdk_dynamodbstreams::types::Record) -> bool {
    let insert = r.event_name().map(|n| n.as_str()) == Some("INSERT");
    let feed = r
        .dynamodb()
        .and_then(|d| d.new_image())
        .and_then(|i| i.get("feed"))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|f| f == "membership" || f == "notification");
    insert && feed
}

fn lambda_record(r: aws_sdk_dynamodbstreams::types::Record) -> EventRecord {
    let mut change = StreamRecord::default();
    if let Some(d) = r.dynamodb {
        change.sequence_number = d.sequence_number;
        change.size_bytes = d.size_bytes.unwrap_or(0);
        change.keys = d.keys.unwrap_or_default().into();
        change.new_image = d.new_image.unwrap_or_default().into();
    }
    let mut rec = EventRecord::default();
    rec.aws_region = "us-east-1".into();
    rec.change = change;
    rec.event_id = r.event_id.unwrap_or_default();
    rec.event_name = r.event_name.map(|n| n.as_str().to_owned()).unwrap_or_default();
    rec.event_source = Some("aws:dynamodb".into());
    rec
}

/// Reads each shard once from where it stopped and dispatches what the filter passes. The position
/// moves only after the dispatcher succeeded, so a failed batch is read and dispatched again, as
/// Lambda retries a failed stream batch. Returns how many records were read.
async fn read_stream_once(
    app: &App,
    streams: &aws_sdk_dynamodbstreams::Client,
    pos: &mut StreamPosition,
) -> Result<usize, BoxError> {
    let arn = match &pos.arn {
        Some(a) => a.clone(),
        None => {
            let table = app
                .store
                .ddb
                .describe_table()
                .table_name(&app.store.table)
                .send()
                .await?;
            let arn = table
                .table
                .and_then(|t| t.latest_stream_arn)
                .ok_or("the table has no stream (template.yaml's StreamSpecification)")?;
            pos.arn = Some(arn.clone());
            arn
        }
    };
    let described = streams.describe_stream().stream_arn(&arn).send().await?;
    let shards = described
        .stream_description
        .map(|d| d.shards.unwrap_or_default())
        .unwrap_or_default();
    let mut read = 0;
    for shard in shards {
        let Some(shard_id) = shard.shard_id else { continue };
        let mut it = streams.get_shard_iterator().stream_arn(&arn).shard_id(&shard_id);
        it = match pos.after.get(&shard_id) {
            Some(seq) => it
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None => it.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let Some(iterator) = it.send().await?.shard_iterator else {
            continue;
        };
        let records = streams
            .get_records()
            .shard_iterator(iterator)
            .limit(1000)
            .send()
            .await?
            .records
            .unwrap_or_default();
        let Some(last) = records
            .last()
            .and_then(|r| r.dynamodb().and_then(|d| d.sequence_number().map(str::to_owned)))
        else {
            continue;
        };
        read += records.len();
        let mut event = Event::default();
        event.records = records.into_iter().filter(passes_filter).map(lambda_record).collect();
        if !event.records.is_empty() {
            process_stream(app, event).await?;
        }
        pos.after.insert(shard_id, last);
    }
    Ok(read)
}

/// The stream reader: polls every `every` while idle, at once while records keep coming.
pub async fn run_stream_reader(app: App, every: Duration) {
    let sdk = crate::provision::local_sdk_config().await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let mut pos = StreamPosition::default();
    loop {
        match read_stream_once(&app, &streams, &mut pos).await {
            Ok(n) if n > 0 => {}
            Ok(_) => tokio::time::sleep(every).await,
            Err(e) => {
                tracing::warn!(error = %e, "change-stream batch failed; it is read again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn run_delivery_poller(app: App) {
    let url = app.store.destinations.deliveries_queue_url.clone();
    loop {
        if let Err(e) = poll_queue_once(&app, &url, 1, 2, |event| process_deliveries(&app, event)).await {
            tracing::warn!(error = %e, "webhook-deliveries poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn run_sync_poller(app: App) {
    let url = app.store.destinations.sync_queue_url.clone();
    loop {
        if let Err(e) = poll_queue_once(&app, &url, 1, 2, |event| process_syncs(&app, event)).await {
            tracing::warn!(error = %e, "destination-sync poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn run_sweeper(app: App, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = run_sweep(&app).await {
            tracing::warn!(error = ?e, "webhook sweep failed");
        }
    }
}

/// Delivery attempts run at once, as Lambda runs several invocations of the worker (a receiver that
/// hangs for the whole timeout holds one of them).
pub const DELIVERY_POLLERS: usize = 4;

/// How often the dev server's stream reader polls an idle stream, and its sweep runs.
pub const STREAM_POLL: Duration = Duration::from_millis(200);
/// How often the dev server's sweep runs (in AWS: every minute, template.yaml's schedule).
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Starts the stream reader, the queue pollers and the sweep.
pub fn start(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(run_stream_reader(app.clone(), STREAM_POLL)),
        tokio::spawn(run_sync_poller(app.clone())),
        tokio::spawn(run_sync_poller(app.clone())),
        tokio::spawn(run_sweeper(app.clone(), SWEEP_EVERY)),
    ];
    for _ in 0..DELIVERY_POLLERS {
        tasks.push(tokio::spawn(run_delivery_poller(app.clone())));
    }
    tasks
}
