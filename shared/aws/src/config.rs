//! Configuration, read once at cold start from the same variable names template.yaml sets.

use std::env;

mod destinations;
pub use destinations::{DestinationsConfig, SMARTEMAILING_BASE_URL};

/// The queues' maxReceiveCount in template.yaml.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The configuration every function reads once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The one DynamoDB table every item lives in (`TABLE_NAME`).
    pub table_name: String,
    /// The S3 bucket export files are written to (`BUCKET_NAME`).
    pub bucket_name: String,
    /// The queue of purge, recount, resync and wake-up jobs (`GROUP_JOBS_QUEUE_URL`).
    pub group_jobs_queue_url: String,
    /// The queue whose messages start export jobs (`EXPORT_JOBS_QUEUE_URL`).
    pub export_jobs_queue_url: String,
    /// The queue of bulk jobs: imports today (`BULK_JOBS_QUEUE_URL`).
    pub bulk_jobs_queue_url: String,
    /// The job queues' maxReceiveCount (`QUEUE_MAX_RECEIVES`): the delivery on which a failing job is
    /// recorded as failed, because the queue moves the message to its dead-letter queue next.
    pub max_receives: u32,
    /// The JWT claim that carries the tenant id (`tenant_id` unless an identity provider names it differently).
    pub tenant_claim: String,
    /// Work after which a resync shard hands its remaining partitions on (`RESYNC_SHARD_BUDGET`,
    /// default `cg_domain::jobs::RESYNC_SHARD_BUDGET`).
    pub resync_shard_budget: u64,
    /// Most customers a count reads within its request before it runs as a count job
    /// (`COUNT_SYNC_MAX`, default `cg_domain::usecases::search::COUNT_SYNC_MAX`).
    pub count_sync_max: u64,
    /// Set only locally (`AWS_ENDPOINT_URL`): the emulator's endpoint; S3 then uses path-style addressing.
    pub endpoint_url: Option<String>,
    /// Webhook deliveries and provider syncs (issue 16).
    pub destinations: DestinationsConfig,
}

/// Why the configuration could not be read: every variable that is missing or malformed, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Required variables that are unset or empty.
    pub missing: Vec<String>,
    /// Variables whose value cannot be used, with what was expected.
    pub malformed: Vec<(String, String)>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing environment variables: {}", self.missing.join(", ")));
        }
        for (name, why) in &self.malformed {
            parts.push(format!("{name}: {why}"));
        }
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// Collects the variables as they are read, so one error names every problem at once.
struct Reader {
    error: ConfigError,
}

impl Reader {
    fn required(&mut self, name: &str) -> String {
        env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            self.error.missing.push(name.to_owned());
            String::new()
        })
    }

    /// A whole number of at least 1; unset means `default`, anything else unparsable is an error.
    fn count<T: std::str::FromStr + PartialOrd + From<u8> + Copy>(&mut self, name: &str, default: T) -> T {
        match env::var(name) {
            Err(_) => default,
            Ok(raw) => match raw.trim().parse::<T>() {
                Ok(n) if n >= T::from(1) => n,
                _ => {
                    self.error.malformed.push((
                        name.to_owned(),
                        format!("expected a whole number of at least 1, got {raw:?}"),
                    ));
                    default
                }
            },
        }
    }
}

impl Config {
    /// Reads the environment, naming every missing or malformed variable at once.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut r = Reader {
            error: ConfigError {
                missing: Vec::new(),
                malformed: Vec::new(),
            },
        };
        let config = Config {
            table_name: r.required("TABLE_NAME"),
            bucket_name: r.required("BUCKET_NAME"),
            group_jobs_queue_url: r.required("GROUP_JOBS_QUEUE_URL"),
            export_jobs_queue_url: r.required("EXPORT_JOBS_QUEUE_URL"),
            bulk_jobs_queue_url: r.required("BULK_JOBS_QUEUE_URL"),
            max_receives: r.count("QUEUE_MAX_RECEIVES", DEFAULT_MAX_RECEIVES),
            resync_shard_budget: r.count("RESYNC_SHARD_BUDGET", cg_domain::jobs::RESYNC_SHARD_BUDGET),
            count_sync_max: r.count("COUNT_SYNC_MAX", cg_domain::usecases::search::COUNT_SYNC_MAX),
            tenant_claim: env::var("TENANT_CLAIM").unwrap_or_else(|_| "tenant_id".into()),
            endpoint_url: env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
            destinations: DestinationsConfig::read(&mut r),
        };
        if r.error.missing.is_empty() && r.error.malformed.is_empty() {
            Ok(config)
        } else {
            Err(r.error)
        }
    }

    /// The SDK configuration: the standard provider chain, which honours `AWS_ENDPOINT_URL` locally.
    /// Against the local emulator the SDK retries harder: moto is not thread-safe and answers some
    /// concurrent writes with a bare 500 ("dictionary changed size during iteration").
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if self.endpoint_url.is_some() {
            loader = loader.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10));
        }
        loader.load().await
    }

    /// An S3 client; path-style addressing against a local endpoint, which has no per-bucket DNS names.
    pub fn s3_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(self.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}
