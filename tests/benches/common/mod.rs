//! What the DynamoDB benchmarks share: a request counter on the worker's SDK client and the command
//! line. Included by each bench with `mod common;` (benches are separate crates).

use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts DynamoDB calls by operation (one per execution; SDK retries are not new calls) and the
/// items the write calls carry (`TransactWriteItems`, `BatchWriteItem`).
#[derive(Debug, Clone, Default)]
pub struct Counter(pub Arc<Mutex<BTreeMap<String, u64>>>);

/// The key under which [`Counter`] adds the items of transactions.
pub const TRANSACT_ITEMS: &str = "(items in TransactWriteItems)";

impl Counter {
    /// The counts so far, and clears them.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().expect("counter"))
    }

    /// A copy of `store` whose DynamoDB client counts into this counter.
    #[allow(dead_code)]
    pub async fn counted(&self, store: &cg_aws::Store) -> cg_aws::Store {
        let sdk = cg_local::provision::local_sdk_config().await;
        let mut counted = store.clone();
        counted.ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(self.clone())
                .build(),
        );
        counted
    }
}

/// Requests in a snapshot (the item tallies left out).
#[allow(dead_code)]
pub fn requests(calls: &BTreeMap<String, u64>) -> u64 {
    calls.iter().filter(|(k, _)| !k.starts_with('(')).map(|(_, v)| v).sum()
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "BenchRequestCounter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
        let items = context
            .input()
            .downcast_ref::<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput>()
            .map(|i| i.transact_items().len() as u64);
        let mut counts = self.0.lock().expect("counter");
        *counts.entry(op).or_default() += 1;
        if let Some(items) = items {
            *counts.entry(TRANSACT_ITEMS.into()).or_default() += items;
        }
        Ok(())
    }
}

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
