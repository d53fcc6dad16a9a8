//! Adapters: the DynamoDB stores and the SQS job queue that implement the domain's ports, the
//! configuration read once at cold start, and the SDK clients built from it.

#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod destination_queues;
pub mod dynamo;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod keys;
pub mod kms;
pub mod s3;
pub mod sdk_error;
pub mod sqs;

pub use config::Config;

/// Every adapter behind one value, so a handler takes `&Store` and a use case sees only the ports it asks for.
#[derive(Clone, Debug)]
pub struct Store {
    /// DynamoDB client for the one table.
    pub ddb: aws_sdk_dynamodb::Client,
    /// SQS client for both job queues.
    pub sqs: aws_sdk_sqs::Client,
    /// The table every item lives in (`TABLE_NAME`).
    pub table: String,
    /// The queue of purge, recount, resync and wake-up jobs.
    pub group_jobs_queue_url: String,
    /// S3 client for export files (path-style against a local endpoint).
    pub s3: aws_sdk_s3::Client,
    /// The export bucket.
    pub bucket: String,
    /// The queue whose messages start export jobs.
    pub export_jobs_queue_url: String,
    /// The queue of bulk jobs (imports).
    pub bulk_jobs_queue_url: String,
    /// Work after which a resync shard hands its remaining partitions on (`RESYNC_SHARD_BUDGET`).
    pub resync_shard_budget: u64,
    /// Customers one search request reads at most (`SEARCH_MAX_READ`; tests lower it).
    pub search_read_cap: u64,
    /// Most customers a synchronous count reads before it becomes a count job (`COUNT_SYNC_MAX`;
    /// tests lower it).
    pub count_sync_max: u64,
    /// Most customers one bulk delete deletes (`MAX_BULK_DELETE`; tests lower it).
    pub bulk_delete_cap: u64,
    /// The service's clock (the system clock in AWS).
    pub clock: clock::ServiceClock,
    /// KMS client for the destinations key (issue 16: sealed secrets and credentials).
    pub kms: aws_sdk_kms::Client,
    /// The destinations' queues, key and knobs.
    pub destinations: config::DestinationsConfig,
    /// Secrets decrypted recently (per warm Lambda).
    pub secret_cache: kms::SecretCache,
    /// Tenants this process has registered already (a warm Lambda registers each once).
    pub registered: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<cg_domain::ids::TenantId>>>,
}

impl cg_domain::ports::Clock for Store {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

impl Store {
    /// Builds the clients once (cold start) from the configuration.
    pub async fn connect(config: &Config) -> Store {
        let sdk = config.sdk_config().await;
        Store {
            ddb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            table: config.table_name.clone(),
            group_jobs_queue_url: config.group_jobs_queue_url.clone(),
            s3: config.s3_client(&sdk),
            bucket: config.bucket_name.clone(),
            export_jobs_queue_url: config.export_jobs_queue_url.clone(),
            bulk_jobs_queue_url: config.bulk_jobs_queue_url.clone(),
            resync_shard_budget: config.resync_shard_budget,
            search_read_cap: cg_domain::usecases::search::SEARCH_MAX_READ,
            count_sync_max: config.count_sync_max,
            bulk_delete_cap: cg_domain::bulk::action::MAX_BULK_DELETE,
            clock: clock::ServiceClock::default(),
            kms: aws_sdk_kms::Client::new(&sdk),
            destinations: config.destinations.clone(),
            secret_cache: kms::SecretCache::default(),
            registered: Default::default(),
        }
    }
}
