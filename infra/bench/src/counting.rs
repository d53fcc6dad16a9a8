//! Counts DynamoDB and SQS requests with an SDK interceptor registered on our own clients.
//!
//! `read_before_serialization` runs once per call (an "execution") and labels it `Service.Operation`, with
//! Queries split by what they read (customer pages, WakeIndex, other). `read_before_transmit` runs once
//! per HTTP attempt, so `attempts - executions` are the SDK's retries. The tables report executions; the
//! attempts are printed beside them (equal unless the SDK retried).

use aws_sdk_dynamodb::config::ConfigBag;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The customer-page Queries (`scan_shard`): PK `T#{tenant}#CS#{nn}` on the table.
pub const CUSTOMER_PAGES: &str = "DynamoDB.Query(customer pages)";
/// The Count Queries of a member recount (a resync's end): `Select = COUNT` over a member partition.
pub const RECOUNT_PAGES: &str = "DynamoDB.Query(member recount)";

#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Executions by label.
    pub calls: BTreeMap<String, u64>,
    pub attempts: u64,
}

impl Snapshot {
    pub fn total(&self, service_prefix: &str) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| k.starts_with(service_prefix))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn get(&self, label: &str) -> u64 {
        self.calls.get(label).copied().unwrap_or(0)
    }

    pub fn executions(&self) -> u64 {
        self.calls.values().sum()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Counter {
    inner: Arc<Mutex<Snapshot>>,
}

impl Counter {
    pub fn reset(&self) {
        *self.inner.lock().expect("counter lock") = Snapshot::default();
    }

    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().expect("counter lock").clone()
    }
}

fn label(context: &BeforeSerializationInterceptorContextRef<'_>, cfg: &ConfigBag) -> String {
    let (service, op) = cfg
        .load::<Metadata>()
        .map(|m| (m.service().to_owned(), m.name().to_owned()))
        .unwrap_or_else(|| ("?".into(), "?".into()));
    let service = match service.to_ascii_lowercase().as_str() {
        s if s.contains("dynamo") => "DynamoDB".to_owned(),
        s if s.contains("sqs") => "SQS".to_owned(),
        _ => service,
    };
    if op == "Query" {
        if let Some(q) = context.input().downcast_ref::<QueryInput>() {
            let what = if q.index_name() == Some("WakeIndex") {
                "WakeIndex"
            } else if q.select() == Some(&aws_sdk_dynamodb::types::Select::Count) {
                "member recount"
            } else if q
                .expression_attribute_values()
                .and_then(|v| v.get(":pk"))
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.contains("#CS#"))
            {
                "customer pages"
            } else {
                "other"
            };
            return format!("{service}.Query({what})");
        }
    }
    format!("{service}.{op}")
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "BenchRequestCounter"
    }

    // Not `read_before_execution`: a client interceptor runs that before the operation's configuration
    // (and its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let label = label(context, cfg);
        if std::env::var_os("BENCH_TRACE").is_some() {
            eprintln!("[{}] {label}", chrono::Utc::now().format("%H:%M:%S%.3f"));
        }
        *self.inner.lock().expect("counter lock").calls.entry(label).or_default() += 1;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.lock().expect("counter lock").attempts += 1;
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if std::env::var_os("BENCH_TRACE").is_some() {
            eprintln!("[{}]   done", chrono::Utc::now().format("%H:%M:%S%.3f"));
        }
        Ok(())
    }
}
