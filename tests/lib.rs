//! Shared set-up of the emulator-backed tests: the stack provisioned once per test binary from
//! template.yaml, a fresh tenant per test (so tests never see each other's data), and an HTTP client.

use cg_domain::ids::TenantId;
use cg_lambda::App;
use tokio::sync::OnceCell;

static APP: OnceCell<App> = OnceCell::const_new();

/// The app wired to the emulator at `AWS_ENDPOINT_URL` (started by infra/test.sh).
pub async fn app() -> App {
    APP.get_or_init(|| async {
        // Errors the handlers log (internal details never reach responses) show up in test output.
        if std::env::var("RUST_LOG").is_ok() {
            cg_lambda::init_tracing();
        }
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok(),
            "AWS_ENDPOINT_URL must point at moto; run these tests through infra/test.sh"
        );
        let sdk = cg_local::provision::local_sdk_config().await;
        let template = cg_local::template::load(&cg_local::template::default_path()).expect("template.yaml");
        let config = cg_local::provision::provision(&sdk, &template)
            .await
            .expect("provision the emulator");
        App::new(&config).await
    })
    .await
    .clone()
}

/// A stack of its own (table with its index, queues with their dead-letter queues; the bucket is
/// shared) for a test that must not share a queue or the WakeIndex with the others: a worker or a
/// wake-up tick of one test would otherwise take another's messages or wake its customers.
pub async fn isolated_app() -> App {
    let shared = app().await;
    let sdk = cg_local::provision::local_sdk_config().await;
    let template = cg_local::template::load(&cg_local::template::default_path()).expect("template.yaml");
    let suffix = format!("-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let config = cg_local::provision::provision_named(&sdk, &template, &suffix)
        .await
        .expect("provision an isolated stack");
    let mut own = App::new(&config).await;
    own.tenant_claim = shared.tenant_claim;
    own
}

/// Removes what `isolated_app` created (table and job queues).
pub async fn drop_isolated(own: &App) {
    let store = &own.store;
    store
        .ddb
        .delete_table()
        .table_name(&store.table)
        .send()
        .await
        .expect("delete table");
    for url in [
        &store.group_jobs_queue_url,
        &store.export_jobs_queue_url,
        &store.destinations.deliveries_queue_url,
        &store.destinations.sync_queue_url,
        &store.bulk_jobs_queue_url,
    ] {
        store
            .sqs
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .expect("delete queue");
    }
}

/// The secret the shared dev server verifies tokens with.
pub const DEV_SECRET: &str = "e2e-secret";

/// A dev server for the whole test binary, with its own runtime on its own thread: its workers must
/// outlive every test's runtime, or a test that ends would drop a worker holding another test's
/// messages (invisible for the queue's 960 s visibility timeout). Returns the base URL.
pub fn shared_dev_server() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if std::env::var("RUST_LOG").is_ok() {
                cg_lambda::init_tracing();
            }
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let sdk = cg_local::provision::local_sdk_config().await;
                let template = cg_local::template::load(&cg_local::template::default_path()).expect("template.yaml");
                let config = cg_local::provision::provision(&sdk, &template)
                    .await
                    .expect("provision");
                let app = App::new(&config).await;
                let (addr, _tasks) = cg_local::dev_server::start(
                    app,
                    DEV_SECRET.into(),
                    ([127, 0, 0, 1], 0).into(),
                    std::time::Duration::from_secs(3600),
                )
                .await
                .expect("dev server");
                tx.send(format!("http://{addr}")).expect("report the address");
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("dev server started")
    })
    .clone()
}

/// A customer id from a literal of a test.
pub fn cid(id: &str) -> cg_domain::ids::CustomerId {
    cg_domain::ids::CustomerId::parse(id).expect("a valid customer id")
}

/// A tenant no other test uses.
pub fn fresh_tenant() -> TenantId {
    TenantId::parse(&format!("t-{}", uuid::Uuid::new_v4().simple())).unwrap()
}

/// A fault hook that kills a bulk run the first time it reaches `point` (the run stops there as a
/// dead worker would), and the signal that it got there: `select!` the run against `died.notified()`.
pub fn kill_at(
    point: cg_domain::usecases::bulk_job::FaultPoint,
) -> (
    cg_domain::usecases::bulk_job::FaultHook,
    std::sync::Arc<tokio::sync::Notify>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let died = std::sync::Arc::new(tokio::sync::Notify::new());
    let fired = AtomicBool::new(false);
    let signal = died.clone();
    let hook: cg_domain::usecases::bulk_job::FaultHook = std::sync::Arc::new(move |p| {
        let hit = p == point && !fired.swap(true, Ordering::SeqCst);
        if hit {
            signal.notify_one();
        }
        hit
    });
    (hook, died)
}

pub mod given {
    //! Set-up through the use cases that several test modules share: a customer, a group, a static
    //! group holding given ids.
    use cg_domain::customer::NewCustomer;
    use cg_domain::group::{GroupInput, MemberList, NewGroup, ParsedMembers};
    use cg_domain::ids::{GroupId, TenantId};
    use cg_domain::usecases::{customers, groups};
    use cg_lambda::App;
    use chrono::Utc;
    use serde_json::{json, Value};

    /// Creates the customer `body` (a `POST /customers` body).
    pub async fn customer(app: &App, t: &TenantId, body: Value) {
        let input: NewCustomer = serde_json::from_value(body).unwrap();
        customers::create_customer(&app.store, t, input, Utc::now())
            .await
            .unwrap();
    }

    /// Creates the group `body` (a `POST /groups` body).
    pub async fn group(app: &App, t: &TenantId, body: Value) -> GroupId {
        let g: NewGroup = serde_json::from_value(body).unwrap();
        groups::create_group(&app.store, t, GroupInput::try_from(g).unwrap(), Utc::now())
            .await
            .unwrap()
            .group
            .id
    }

    /// A static group `name` holding the customers `ids` (each of which must exist).
    pub async fn static_group<I: AsRef<str>>(app: &App, t: &TenantId, name: &str, ids: &[I]) -> GroupId {
        let g = group(app, t, json!({ "name": name })).await;
        let list = MemberList {
            customer_ids: Some(ids.iter().map(|s| s.as_ref().to_string()).collect()),
            emails: None,
            phones: None,
        };
        let report = groups::add_members(&app.store, t, &g, ParsedMembers::try_from(list).unwrap(), Utc::now())
            .await
            .unwrap();
        assert_eq!(report.added as usize, ids.len(), "every id added to {name}");
        g
    }
}

pub mod http {
    //! A minimal HTTP/1 client for the end-to-end tests against the dev server.
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use serde_json::Value;

    pub struct Response {
        pub status: u16,
        pub body: Value,
        pub raw: String,
    }

    pub struct Api {
        pub base: String,
        client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    }

    impl Api {
        pub fn new(base: String) -> Api {
            Api {
                base,
                client: Client::builder(TokioExecutor::new()).build_http(),
            }
        }

        /// Sends a request; `body` is sent verbatim with a JSON content type when given.
        pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Response {
            let mut req = http::Request::builder()
                .method(method)
                .uri(format!("{}{}", self.base, path));
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body.unwrap_or("").to_owned()))).unwrap();
            let resp = self.client.request(req).await.expect("dev server reachable");
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let raw = String::from_utf8_lossy(&bytes).into_owned();
            let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
            Response { status, body, raw }
        }

        pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
            let text = body.map(|b| b.to_string());
            self.send(method, path, Some(token), text.as_deref()).await
        }
    }
}
