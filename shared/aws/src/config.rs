//! Configuration, read once at cold start from the same variable names template.yaml sets.

use std::env;

/// The export queue's maxReceiveCount in template.yaml.
pub const DEFAULT_EXPORT_MAX_RECEIVES: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub bucket_name: String,
    pub group_jobs_queue_url: String,
    pub export_jobs_queue_url: String,
    /// The export queue's maxReceiveCount: the delivery at which a failing export is marked failed,
    /// because the queue moves the message to its dead-letter queue next.
    pub export_max_receives: u32,
    /// The JWT claim that carries the tenant id (`tenant_id` unless an identity provider names it differently).
    pub tenant_claim: String,
    /// Work after which a resync shard hands its remaining partitions on (`RESYNC_SHARD_BUDGET`,
    /// default `cg_domain::jobs::RESYNC_SHARD_BUDGET`).
    pub resync_shard_budget: u64,
    /// Set only locally (`AWS_ENDPOINT_URL`): the emulator's endpoint; S3 then uses path-style addressing.
    pub endpoint_url: Option<String>,
}

impl Config {
    /// Reads the environment, naming every missing variable at once.
    pub fn from_env() -> Result<Config, String> {
        let mut missing = Vec::new();
        let mut var = |name: &str| {
            env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
                missing.push(name.to_owned());
                String::new()
            })
        };
        let config = Config {
            table_name: var("TABLE_NAME"),
            bucket_name: var("BUCKET_NAME"),
            group_jobs_queue_url: var("GROUP_JOBS_QUEUE_URL"),
            export_jobs_queue_url: var("EXPORT_JOBS_QUEUE_URL"),
            export_max_receives: env::var("EXPORT_MAX_RECEIVES")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(DEFAULT_EXPORT_MAX_RECEIVES),
            resync_shard_budget: env::var("RESYNC_SHARD_BUDGET")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(cg_domain::jobs::RESYNC_SHARD_BUDGET),
            tenant_claim: env::var("TENANT_CLAIM").unwrap_or_else(|_| "tenant_id".into()),
            endpoint_url: env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
        };
        if missing.is_empty() {
            Ok(config)
        } else {
            Err(format!("missing environment variables: {}", missing.join(", ")))
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
