//! Set-up of the runtime contract tests: the function binaries built once per test binary, the stack
//! provisioned once, and small helpers to invoke a function with an HTTP request or an SQS batch.

use cg_runtime::events::{self, HttpRequest, HttpResponse};
use cg_runtime::functions::Trigger;
use cg_runtime::process::{Binaries, InvokeError, LambdaProcess};
use cg_runtime::runtime_api::Outcome;
use cg_runtime::stack::Stack;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::OnceCell;

static BINARIES: OnceLock<Result<Binaries, String>> = OnceLock::new();
static STACK: OnceCell<Stack> = OnceCell::const_new();

/// The binaries, built by cargo on first use (a no-op when `cargo test --workspace` built them).
pub async fn binaries() -> &'static Binaries {
    let built = tokio::task::spawn_blocking(|| BINARIES.get_or_init(|| Binaries::build(cfg!(not(debug_assertions)))))
        .await
        .expect("build task");
    built.as_ref().expect("build the function binaries")
}

/// The stack on moto, in the functions' own region.
pub async fn stack() -> &'static Stack {
    STACK
        .get_or_init(|| async { Stack::provision().await.expect("provision the local stack") })
        .await
}

/// A tenant no other test uses.
pub fn fresh_tenant() -> String {
    format!("rt-{}", uuid::Uuid::new_v4().simple())
}

/// Starts `binary` with its full template environment and waits until it asks for an event.
pub async fn start(binary: &str) -> LambdaProcess {
    start_with(binary, &[]).await
}

/// Starts a function with extra environment variables.
pub async fn start_with(binary: &str, set: &[(&str, &str)]) -> LambdaProcess {
    let f = stack()
        .await
        .start_with(binaries().await, binary, &[], set)
        .await
        .expect("start");
    if let Err(e) = f.init(Duration::from_secs(30)).await {
        panic!("{binary} did not start: {e:?}\n{}", f.logs());
    }
    f
}

/// Invokes and returns the function's result; panics with the function's logs otherwise.
pub async fn invoke(f: &LambdaProcess, event: &Value) -> Value {
    match f.invoke(event).await {
        Ok(Outcome::Response { body, .. }) => serde_json::from_slice(&body).expect("the result is JSON"),
        Ok(Outcome::Error { report, .. }) => {
            panic!("{} answered an invocation error {report:?}\n{}", f.def.binary, f.logs())
        }
        Err(e) => panic!("{} gave no answer: {e:?}\n{}", f.def.binary, f.logs()),
    }
}

/// One HTTP API request through `f`, which must serve its route (a function may serve several).
pub async fn call(f: &LambdaProcess, req: HttpRequest) -> HttpResponse {
    assert!(
        f.def
            .triggers
            .iter()
            .any(|t| matches!(t, Trigger::HttpApi { method, path }
            if (method.as_str(), path.as_str()) == (req.method.as_str(), req.route.as_str()))),
        "request sent to the wrong function: {} {} to {}",
        req.method,
        req.route,
        f.def.binary
    );
    match f.invoke(&req.event()).await {
        Ok(Outcome::Response { body, .. }) => {
            HttpResponse::parse(&body).unwrap_or_else(|e| panic!("{}: {e}\n{}", f.def.binary, f.logs()))
        }
        other => panic!("{} gave no HTTP response: {other:?}\n{}", f.def.binary, f.logs()),
    }
}

/// A request of `tenant` to the route of `f` at `path`.
pub fn request(f: &LambdaProcess, path: &str, tenant: &str) -> HttpRequest {
    let (method, route) = f.def.route().expect("an API function");
    HttpRequest::new(method, route, path, tenant)
}

/// Asserts an HTTP API response: the status, a JSON content type and, for errors, the error shape.
pub fn expect(resp: &HttpResponse, status: u16) {
    assert_eq!(resp.status, status, "{}", resp.raw);
    if status != 204 {
        assert_eq!(resp.header("content-type"), Some("application/json"), "{resp:?}");
        assert!(!resp.body.is_null(), "not JSON: {}", resp.raw);
    }
    if status >= 400 {
        assert!(resp.body["error"]["code"].is_string(), "{}", resp.raw);
        assert!(
            resp.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            resp.raw
        );
    }
}

/// Receives the messages of `queue_url` whose body mentions `tenant` until `count` arrived (at most
/// 30 s), with every attribute an SQS event carries.
pub async fn receive(queue_url: &str, tenant: &str, count: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let sqs = stack().await.sqs().await;
    let mut found = Vec::new();
    let started = std::time::Instant::now();
    while found.len() < count && started.elapsed() < Duration::from_secs(30) {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        // Another test's messages stay invisible until their visibility timeout; no test waits for them.
        found.extend(
            out.messages
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.body().is_some_and(|b| b.contains(tenant))),
        );
    }
    assert_eq!(found.len(), count, "messages of {tenant} on {queue_url}");
    found
}

/// Deletes handled messages, as the event source mapping does after a batch without failures.
pub async fn delete(queue_url: &str, messages: &[aws_sdk_sqs::types::Message]) {
    let sqs = stack().await.sqs().await;
    for m in messages {
        sqs.delete_message()
            .queue_url(queue_url)
            .receipt_handle(m.receipt_handle().unwrap_or_default())
            .send()
            .await
            .expect("DeleteMessage");
    }
}

/// The SQS event of `messages` from `queue_url`.
pub fn sqs_event(queue_url: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let name = queue_url.rsplit('/').next().unwrap_or_default();
    events::sqs_event(messages, &events::queue_arn(name))
}

/// Fails unless a start failed as it should: reported through `/init/error`, then exited non-zero.
pub async fn expect_init_failure(f: &LambdaProcess) -> String {
    match f.init(Duration::from_secs(30)).await {
        Err(InvokeError::Init(report)) => {
            let status = f.wait_exit(Duration::from_secs(10)).await;
            assert!(
                status.is_some_and(|s| !s.success()),
                "{} reported an init error but did not exit non-zero: {status:?}",
                f.def.binary
            );
            report.message().to_owned()
        }
        other => panic!("{} should fail at init, got {other:?}\n{}", f.def.binary, f.logs()),
    }
}

/// The bulk-jobs queue, held by one test at a time: the import, balance and bulk-action cases each
/// receive their own tenant's messages from it, and a receive makes the other cases' messages
/// invisible for the queue's visibility timeout, longer than `receive` waits.
pub async fn bulk_jobs_queue() -> (tokio::sync::MutexGuard<'static, ()>, String) {
    static HELD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = HELD.lock().await;
    (guard, stack().await.config.bulk_jobs_queue_url.clone())
}
