//! (b) and (c) on the emulator: a `Store` built from our own instrumented clients, customers bulk-loaded
//! with BatchWriteItem, the 20 groups created through the use case, then resyncs, events and a wake-up
//! run through the use cases while every request is counted.

use crate::counting::{Counter, Snapshot, CUSTOMER_PAGES, RECOUNT_PAGES};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use cg_aws::{keys, Store};
use cg_domain::customer::{Activity, AttributeValue as Attr, Customer, NewCustomer, Subscription};
use cg_domain::group::{GroupInput, NewGroup, SyncState};
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::jobs::GroupJob;
use cg_domain::ports::{CustomerStore, ResyncJobs};
use cg_domain::usecases::{customers, groups, jobs, resync};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
type Item = HashMap<String, AttributeValue>;

/// The customer item as `cg_aws` stores it (`shared/aws/src/dynamo/items.rs`, crate-private there) for a
/// customer without groups or wake-up: checked against an item written by `create_customer` first.
#[derive(Serialize)]
struct BulkCustomerItem<'a> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signup_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_date: Option<NaiveDate>,
    attributes: &'a BTreeMap<String, Attr>,
    tags: &'a BTreeSet<String>,
    subscriptions: &'a [Subscription],
    email_verified: bool,
    phone_verified: bool,
    activation_required: bool,
    activity: &'a Activity,
    /// A wake-up (part (d1) loads customers that are due or will be), with its WakeIndex keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_wake_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wake_pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wake_sk: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: u64,
}

fn bulk_item(t: &TenantId, c: &Customer) -> Result<Item, Error> {
    assert!(
        c.email.is_none() && c.phone.is_none() && c.external_id.is_none() && c.order_number.is_none(),
        "bulk-loaded customers have no identities"
    );
    assert!(c.groups.is_empty(), "bulk-loaded customers start without groups");
    let (wake_pk, wake_sk) = c.next_wake_at.map(|at| keys::wake_keys(t, &c.id, at)).unzip();
    let item = BulkCustomerItem {
        pk: keys::customer_pk(t, &c.id),
        sk: keys::customer_sk(&c.id),
        id: c.id.as_str(),
        name: c.name.as_deref(),
        signup_date: c.signup_date,
        registration_date: c.registration_date,
        attributes: &c.attributes,
        tags: &c.tags,
        subscriptions: &c.subscriptions,
        email_verified: c.email_verified,
        phone_verified: c.phone_verified,
        activation_required: c.activation_required,
        activity: &c.activity,
        next_wake_at: c.next_wake_at,
        wake_pk,
        wake_sk,
        created_at: c.created_at,
        updated_at: c.updated_at,
        version: c.version,
    };
    Ok(serde_dynamo::to_item(item)?)
}

pub struct Emulator {
    pub store: Store,
    pub counter: Counter,
}

impl Emulator {
    /// Provisions the stack from template.yaml on the emulator at `AWS_ENDPOINT_URL`.
    pub async fn connect() -> Result<Emulator, Error> {
        let sdk = cg_local::provision::local_sdk_config().await;
        let template = cg_local::template::load(&cg_local::template::default_path())?;
        let config = cg_local::provision::provision(&sdk, &template).await?;
        let counter = Counter::default();
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        // Every other field as the service builds it; our instrumented clients for DynamoDB and SQS.
        let mut store = Store::connect(&config).await;
        store.ddb = ddb;
        store.sqs = sqs;
        Ok(Emulator { store, counter })
    }

    async fn raw_customer(&self, t: &TenantId, c: &Customer) -> Result<Item, Error> {
        let key = HashMap::from([
            ("PK".to_owned(), AttributeValue::S(keys::customer_pk(t, &c.id))),
            ("SK".to_owned(), AttributeValue::S(keys::customer_sk(&c.id))),
        ]);
        let out = self
            .store
            .ddb
            .get_item()
            .table_name(&self.store.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await?;
        out.item.ok_or_else(|| "customer item not found".into())
    }

    /// Writes one customer through `create_customer` (tenant A) and the same customer with the bulk
    /// writer (tenant B), and checks the two items are equal but for the tenant in the PK.
    pub async fn check_bulk_item(&self, sample: &Customer, now: DateTime<Utc>) -> Result<(), Error> {
        let a = fresh_tenant("probe-a");
        let b = fresh_tenant("probe-b");
        let input = NewCustomer {
            id: Some(sample.id.clone()),
            name: sample.name.clone(),
            signup_date: sample.signup_date,
            registration_date: sample.registration_date,
            attributes: sample.attributes.clone(),
            tags: sample.tags.iter().cloned().collect(),
            subscriptions: sample.subscriptions.clone(),
            email_verified: sample.email_verified,
            phone_verified: sample.phone_verified,
            activation_required: sample.activation_required,
            activity: sample.activity.clone(),
            ..Default::default()
        };
        let created = customers::create_customer(&self.store, &a, input, now).await?;
        self.bulk_write(&b, std::slice::from_ref(&created), 1).await?;
        let mut item_a = self.raw_customer(&a, &created).await?;
        let mut item_b = self.raw_customer(&b, &created).await?;
        item_a.remove("PK");
        item_b.remove("PK");
        if item_a != item_b {
            return Err(format!("bulk item differs from create_customer's:\n{item_a:?}\n{item_b:?}").into());
        }
        let read = self.store.get_customer(&b, &created.id).await?;
        if read.as_ref() != Some(&created) {
            return Err(format!("bulk item does not read back: {read:?}").into());
        }
        Ok(())
    }

    /// BatchWriteItem of 25, `parallel` requests in flight, unprocessed items retried.
    pub async fn bulk_write(&self, t: &TenantId, customers: &[Customer], parallel: usize) -> Result<(), Error> {
        let mut batches = Vec::new();
        for chunk in customers.chunks(25) {
            let mut requests = Vec::with_capacity(chunk.len());
            for c in chunk {
                let put = PutRequest::builder().set_item(Some(bulk_item(t, c)?)).build()?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            batches.push(requests);
        }
        let mut set = tokio::task::JoinSet::new();
        let mut batches = batches.into_iter();
        loop {
            while set.len() < parallel.max(1) {
                let Some(batch) = batches.next() else { break };
                let ddb = self.store.ddb.clone();
                let table = self.store.table.clone();
                set.spawn(async move { write_batch(&ddb, &table, batch).await });
            }
            match set.join_next().await {
                Some(r) => r??,
                None => return Ok(()),
            }
        }
    }

    /// Every message on the group-jobs queue, received and deleted (PurgeQueue is allowed once a minute).
    pub async fn drain_queue(&self) -> Result<Vec<GroupJob>, Error> {
        let queue = &self.store.group_jobs_queue_url;
        let mut out = Vec::new();
        loop {
            let resp = self
                .store
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await?;
            let messages = resp.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            let mut entries = Vec::new();
            for (i, m) in messages.iter().enumerate() {
                out.push(serde_json::from_str(m.body().unwrap_or(""))?);
                if let Some(h) = m.receipt_handle() {
                    entries.push(
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(h)
                            .build()?,
                    );
                }
            }
            self.store
                .sqs
                .delete_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await?;
        }
    }
}

async fn write_batch(ddb: &aws_sdk_dynamodb::Client, table: &str, batch: Vec<WriteRequest>) -> Result<(), Error> {
    let mut pending = batch;
    for round in 0..10u32 {
        let out = ddb.batch_write_item().request_items(table, pending).send().await?;
        pending = out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(6))).await;
    }
    Err("BatchWriteItem left items unprocessed".into())
}

pub fn fresh_tenant(prefix: &str) -> TenantId {
    TenantId::parse(&format!("{prefix}-{}", uuid::Uuid::new_v4().simple())).expect("valid tenant id")
}

/// Creates the groups through the use case; returns their ids.
pub async fn create_groups(
    store: &Store,
    t: &TenantId,
    rules: &[(String, Value)],
    now: DateTime<Utc>,
) -> Result<Vec<GroupId>, Error> {
    let mut ids = Vec::new();
    for (name, rule) in rules {
        let input: NewGroup = serde_json::from_value(json!({"name": name, "type": "dynamic", "rules": rule}))?;
        let created = groups::create_group(store, t, GroupInput::try_from(input)?, now).await?;
        ids.push(created.group.id);
    }
    Ok(ids)
}

/// One resync's figures.
pub struct ResyncRun {
    pub requests: Snapshot,
    pub evaluated: u64,
    pub changes: u64,
    /// Shard messages run (one, plus those handed on).
    pub messages: usize,
    pub seconds: f64,
}

impl ResyncRun {
    pub fn pages(&self) -> u64 {
        self.requests.get(CUSTOMER_PAGES)
    }

    /// Customer pages read plus the BatchWriteItem calls the changes would need at 25 per call, plus
    /// the Count pages of the member recount a resync ends with (seed 000: Resync updates the number of
    /// users; a Count Query reads every member row, so those pages are its minimum too).
    pub fn minimum(&self) -> u64 {
        self.pages() + self.changes.div_ceil(25) + self.requests.get(RECOUNT_PAGES)
    }

    pub fn ratio(&self) -> f64 {
        self.requests.total("DynamoDB") as f64 / self.minimum().max(1) as f64
    }
}

/// `start_resync` for every group, then its shard messages through `run_group_job`, `parallel` at a
/// time, taken from the queue until it is empty (a shard over budget hands partitions on to new
/// messages). Receiving and deleting the messages is counted under SQS.
pub async fn full_resync(
    emu: &Emulator,
    t: &TenantId,
    group_ids: &[GroupId],
    now: DateTime<Utc>,
    parallel: usize,
) -> Result<ResyncRun, Error> {
    emu.counter.reset();
    let started = Instant::now();
    let job = resync::start_resync(&emu.store, t, group_ids.to_vec(), now).await?;
    let mut evaluated = 0;
    let mut changes = 0;
    let mut messages = 0;
    loop {
        let batch = emu.drain_queue().await?;
        if batch.is_empty() {
            break;
        }
        messages += batch.len();
        let mut set = tokio::task::JoinSet::new();
        let mut pending = batch.into_iter();
        loop {
            while set.len() < parallel.max(1) {
                let Some(j) = pending.next() else { break };
                let store = emu.store.clone();
                set.spawn(async move { jobs::run_group_job(&store, &j, now).await });
            }
            match set.join_next().await {
                Some(r) => {
                    let report = r??;
                    evaluated += report.evaluated;
                    changes += report.changes;
                }
                None => break,
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests = emu.counter.snapshot();
    let after = emu.store.get_resync_job(t, &job.id).await?.ok_or("the job is gone")?;
    if after.status != SyncState::Done || after.customers_evaluated != evaluated {
        return Err(format!(
            "the resync did not finish: {:?}, {} of {} partitions, {} customers recorded vs {evaluated} evaluated",
            after.status, after.shards_done, after.shards_total, after.customers_evaluated
        )
        .into());
    }
    Ok(ResyncRun {
        requests,
        evaluated,
        changes,
        messages,
        seconds,
    })
}

/// A `subscription.created` event.
pub fn subscription_event(
    event_id: &str,
    customer: &Customer,
    application: &str,
    renews_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Value {
    json!({"events": [{
        "event_id": event_id,
        "customer_id": customer.id,
        "occurred_at": now,
        "type": "subscription.created",
        "application": application,
        "plan": "monthly",
        "period": "month",
        "paid": true,
        "renews_at": renews_at,
    }]})
}

/// The requests of one call, with the call's result.
pub async fn measured<T, F>(emu: &Emulator, f: F) -> Result<(T, Snapshot), Error>
where
    F: std::future::Future<Output = cg_domain::Result<T>>,
{
    emu.counter.reset();
    let out = f.await?;
    Ok((out, emu.counter.snapshot()))
}

/// The first customers without a subscription (for the events).
pub fn without_subscription(customers: &[Customer], n: usize) -> Vec<Customer> {
    customers
        .iter()
        .filter(|c| c.subscriptions.is_empty())
        .take(n)
        .cloned()
        .collect()
}

pub fn hours(n: i64) -> Duration {
    Duration::hours(n)
}
