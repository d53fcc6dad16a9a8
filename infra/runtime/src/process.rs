//! Starts a function binary the way Lambda starts `bootstrap`: a clean environment holding only
//! Lambda's reserved variables and the function's variables from template.yaml, `AWS_LAMBDA_RUNTIME_API`
//! pointing at a [`RuntimeApi`] of this process; then invokes it through that API.

use crate::functions::{FunctionDef, LocalResources};
use crate::runtime_api::{Outcome, ReportedError, RuntimeApi};
use crate::{ACCOUNT, REGION};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace's binaries by name, built by [`Binaries::build`].
#[derive(Debug, Clone)]
pub struct Binaries {
    paths: HashMap<String, PathBuf>,
}

impl Binaries {
    /// Builds every binary of the workspace with cargo and returns where they are. A debug build also
    /// names `--tests`, so features resolve as in `cargo test --workspace` and nothing but the binaries
    /// is compiled after it; a fresh build is a no-op. `release` for the benchmarks.
    pub fn build(release: bool) -> Result<Binaries, String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root).args([
            "build",
            "--workspace",
            "--bins",
            "--message-format=json-render-diagnostics",
        ]);
        // A release build shares nothing with the tests, so it leaves their targets out.
        cmd.arg(if release { "--release" } else { "--tests" });
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!("cargo build of the function binaries failed ({})", out.status));
        }
        let mut paths = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let (Some(name), Some(exe)) = (msg["target"]["name"].as_str(), msg["executable"].as_str()) {
                if msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
                {
                    paths.insert(name.to_owned(), PathBuf::from(exe));
                }
            }
        }
        Ok(Binaries { paths })
    }

    pub fn path(&self, binary: &str) -> Result<&Path, String> {
        self.paths
            .get(binary)
            .map(PathBuf::as_path)
            .ok_or_else(|| format!("cargo built no binary {binary:?}"))
    }
}

/// The environment Lambda gives `bootstrap`: its reserved variables, then the function's own.
/// `endpoint` is the local addition: the emulator (or the metering proxy) the SDK clients talk to.
pub fn lambda_environment(
    def: &FunctionDef,
    resources: &LocalResources,
    runtime_api: &str,
    endpoint: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut env = def.resolved_environment(resources)?;
    let stream = format!(
        "{}/[$LATEST]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        uuid::Uuid::new_v4().simple()
    );
    for (k, v) in [
        ("_HANDLER", "bootstrap".to_owned()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", def.logical_id.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", def.memory_mb.to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", def.logical_id)),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        // The execution role's temporary credentials.
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ] {
        env.insert(k.to_owned(), v);
    }
    Ok(env)
}

/// The ARN Lambda passes as `Lambda-Runtime-Invoked-Function-Arn`.
pub fn function_arn(def: &FunctionDef) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", def.logical_id)
}

/// Why an invocation produced no outcome.
#[derive(Debug)]
pub enum InvokeError {
    /// The function reported an init error (and exits).
    Init(ReportedError),
    /// The process ended without answering.
    Exited(Option<ExitStatus>),
    /// No answer within the function's timeout.
    TimedOut,
}

/// A running function process with its Runtime API; dropping it kills the process.
pub struct LambdaProcess {
    pub def: FunctionDef,
    api: RuntimeApi,
    child: Mutex<Child>,
    logs: Arc<Mutex<Vec<String>>>,
    spawned: Instant,
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn collect_lines(stream: impl std::io::Read + Send + 'static, logs: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            logs.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
}

impl LambdaProcess {
    /// Starts `exe` as the function `def` with the environment `env(runtime_api_address)` makes.
    pub async fn start(
        exe: &Path,
        def: &FunctionDef,
        env: impl FnOnce(&str) -> Result<BTreeMap<String, String>, String>,
    ) -> Result<LambdaProcess, String> {
        let api = RuntimeApi::start(function_arn(def), Duration::from_secs(def.timeout_seconds.into()))
            .await
            .map_err(|e| format!("runtime API: {e}"))?;
        let env = env(&api.address())?;
        let spawned = Instant::now();
        let mut child = Command::new(exe)
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {}: {e}", exe.display()))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect_lines(out, logs.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect_lines(err, logs.clone());
        }
        Ok(LambdaProcess {
            def: def.clone(),
            api,
            child: Mutex::new(child),
            logs,
            spawned,
        })
    }

    /// What the process printed so far (its logs, as CloudWatch would keep them).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// How many bytes the process logged so far (CloudWatch Logs ingests them).
    pub fn log_bytes(&self) -> u64 {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.iter().map(|l| l.len() as u64 + 1).sum()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait()
            .ok()
            .flatten()
    }

    /// Waits for the end of the init phase: the time from spawn to the first `next` request, or the
    /// init error the function reported.
    pub async fn init(&self, limit: Duration) -> Result<Duration, InvokeError> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.api.first_next() {
                return Ok(at - self.spawned);
            }
            if let Some(e) = self.api.init_error() {
                return Err(InvokeError::Init(e));
            }
            if let Some(status) = self.exited() {
                return Err(InvokeError::Exited(Some(status)));
            }
            if started.elapsed() > limit {
                return Err(InvokeError::TimedOut);
            }
            let _ = tokio::time::timeout(Duration::from_millis(5), self.api.init_done()).await;
        }
    }

    /// Waits for the process to end (after an init error), at most `limit`.
    pub async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&self, payload: &serde_json::Value) -> Result<Outcome, InvokeError> {
        let mut outcome = self.api.submit(Bytes::from(payload.to_string()));
        let limit = Duration::from_secs(self.def.timeout_seconds.into());
        let started = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_millis(20), &mut outcome).await {
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(_)) => return Err(InvokeError::Exited(self.exited())),
                Err(_) => {}
            }
            if let Some(e) = self.api.init_error() {
                return Err(InvokeError::Init(e));
            }
            if let Some(status) = self.exited() {
                return Err(InvokeError::Exited(Some(status)));
            }
            if started.elapsed() > limit {
                return Err(InvokeError::TimedOut);
            }
        }
    }
}
