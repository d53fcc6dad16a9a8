//! Runs the function binaries the way Lambda runs them: each one started with its environment from
//! template.yaml (resolved to the local resources) against a Lambda Runtime API endpoint in this
//! process, fed the events Lambda would send (API Gateway HTTP API v2 requests with JWT claims, SQS
//! batches, EventBridge schedules). The runtime contract test and the runtime benchmark use it.

pub mod events;
pub mod functions;
pub mod metering;
pub mod process;
pub mod runtime_api;
pub mod stack;

/// The region the runtime tests and benchmarks run the functions in. moto keeps DynamoDB and SQS per
/// region, so their tables and queues are apart from every other test's (S3 buckets are global).
pub const REGION: &str = "us-west-2";

/// moto's account id, which appears in its queue URLs and ARNs.
pub const ACCOUNT: &str = "123456789012";
