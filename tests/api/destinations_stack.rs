//! What the destinations tests share: a stack of their own (table with its stream, queues, a dev
//! server with its stream reader, pollers and sweep) with short retry schedules and the local
//! allowance, and the Python webhook receiver that checks every delivery with the reference
//! `standardwebhooks` verifier.

use cg_lambda::App;
use cg_local::auth;
use cg_tests::http::Api;
use cg_tests::DEV_SECRET;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A stack of its own with a dev server on it.
pub struct Stack {
    /// The stack's app (its table and queues).
    pub app: App,
    /// The dev server's API.
    pub api: Api,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How the stack's destinations behave.
pub struct Knobs {
    /// Seconds before each attempt.
    pub schedule: Vec<i64>,
    /// Seconds a receiver may take.
    pub timeout_seconds: u64,
    /// The SmartEmailing API the stack talks to.
    pub smartemailing: Option<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            schedule: vec![0, 1, 1, 1, 1],
            timeout_seconds: 2,
            smartemailing: None,
        }
    }
}

impl Stack {
    /// Provisions a stack of its own and starts a dev server on it (local allowance on, as the dev
    /// server has it).
    pub async fn start(knobs: Knobs) -> Stack {
        let app = own_app(knobs).await;
        let (addr, tasks) = cg_local::dev_server::start(
            app.clone(),
            DEV_SECRET.into(),
            ([127, 0, 0, 1], 0).into(),
            Duration::from_secs(3600),
        )
        .await
        .expect("dev server");
        Stack {
            app,
            api: Api::new(format!("http://{addr}")),
            tasks,
        }
    }

    /// Stops the dev server and removes the stack's table and queues.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        cg_tests::drop_isolated(&self.app).await;
    }
}

/// A stack of its own without a dev server (a test drives its workers itself); remove it with
/// `cg_tests::drop_isolated`.
pub async fn own_app(knobs: Knobs) -> App {
    let shared = cg_tests::app().await;
    let sdk = cg_local::provision::local_sdk_config().await;
    let template = cg_local::template::load(&cg_local::template::default_path()).expect("template.yaml");
    let suffix = format!("-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut config = cg_local::provision::provision_named(&sdk, &template, &suffix)
        .await
        .expect("provision a stack of its own");
    config.tenant_claim = shared.tenant_claim.clone();
    config.destinations.allow_local = true;
    config.destinations.retry_schedule = knobs.schedule;
    config.destinations.timeout_seconds = knobs.timeout_seconds;
    config.destinations.sweep_grace_seconds = 3;
    if let Some(url) = knobs.smartemailing {
        config.destinations.smartemailing_base_url = url;
    }
    App::new(&config).await
}

/// A token for a new tenant.
pub fn token() -> String {
    auth::issue(DEV_SECRET, cg_tests::fresh_tenant().as_str(), 1800)
}

/// The Python receiver; killed when dropped.
pub struct Receiver {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    api: Api,
}

impl Receiver {
    /// Starts `tests/webhook_receiver.py` with the project's venv Python (infra/lib.sh installs
    /// `standardwebhooks` there from infra/requirements.txt).
    pub fn start() -> Receiver {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join(".venv/bin/python");
        let mut child = Command::new(&python)
            .arg(root.join("tests/webhook_receiver.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e} (run the tests through infra/test.sh)", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver prints its port");
        let port = line.trim().strip_prefix("PORT ").expect("PORT line").to_owned();
        let base = format!("http://127.0.0.1:{port}");
        Receiver {
            child,
            api: Api::new(base.clone()),
            base,
        }
    }

    /// How `path` answers (see the script's module doc).
    pub async fn configure(&self, path: &str, secrets: &[&str], script: &[&str], then: &str) {
        let r = self
            .api
            .send(
                "POST",
                "/_control/path",
                None,
                Some(&json!({"path": path, "secrets": secrets, "script": script, "then": then}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }

    /// Every request received so far.
    pub async fn log(&self) -> Vec<Value> {
        let r = self.api.send("GET", "/_control/log", None, None).await;
        r.body.as_array().cloned().unwrap_or_default()
    }

    /// The requests received on `path`.
    pub async fn log_of(&self, path: &str) -> Vec<Value> {
        self.log().await.into_iter().filter(|e| e["path"] == path).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 200 ms for up to `secs` seconds: `Ok` ends it; `Err` carries what was seen,
/// shown if time runs out.
pub async fn eventually<T, E: std::fmt::Debug, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut last = None;
    for _ in 0..secs * 5 {
        match check().await {
            Ok(v) => return v,
            Err(v) => last = Some(v),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen in {secs} s; last seen: {last:?}");
}
