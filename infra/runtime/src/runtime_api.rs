//! A Lambda Runtime API endpoint for one function process, following the documented routes and headers
//! (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): `GET /2018-06-01/runtime/invocation/next`
//! hands out the next event with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//! `-Invoked-Function-Arn` and `-Trace-Id`; `POST .../invocation/{id}/response` and `.../{id}/error`
//! end that invocation; `POST /2018-06-01/runtime/init/error` reports a failed cold start.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};

const PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `/response`: the function's result.
    Response { body: Bytes, duration: Duration },
    /// `/error`: the function failed (a handler error or a panic).
    Error { report: ReportedError, duration: Duration },
}

impl Outcome {
    /// The time from handing out the event to receiving the result, as Lambda bills it.
    pub fn duration(&self) -> Duration {
        match self {
            Outcome::Response { duration, .. } | Outcome::Error { duration, .. } => *duration,
        }
    }
}

/// An error a runtime posted: the `Lambda-Runtime-Function-Error-Type` header and the JSON body
/// (`{"errorType":..,"errorMessage":..}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedError {
    pub error_type: Option<String>,
    pub body: serde_json::Value,
}

impl ReportedError {
    /// The body's `errorMessage`.
    pub fn message(&self) -> &str {
        self.body["errorMessage"].as_str().unwrap_or_default()
    }
}

struct Queued {
    id: String,
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct Running {
    reply: oneshot::Sender<Outcome>,
    handed_out: Instant,
}

struct State {
    function_arn: String,
    timeout: Duration,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    running: Mutex<HashMap<String, Running>>,
    first_next: OnceLock<Instant>,
    init_error: Mutex<Option<ReportedError>>,
    changed: Notify,
}

/// The endpoint; dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    submit: mpsc::UnboundedSender<Queued>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1 on the current Tokio runtime.
    pub async fn start(function_arn: String, timeout: Duration) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (submit, queue) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            function_arn,
            timeout,
            queue: tokio::sync::Mutex::new(queue),
            running: Mutex::new(HashMap::new()),
            first_next: OnceLock::new(),
            init_error: Mutex::new(None),
            changed: Notify::new(),
        });
        let server = tokio::spawn(serve(listener, state.clone()));
        Ok(RuntimeApi {
            addr,
            state,
            submit,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the receiver yields the outcome once the function posted it.
    pub fn submit(&self, payload: Bytes) -> oneshot::Receiver<Outcome> {
        let (reply, outcome) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        // The receiver lives in `state`, as long as `self`.
        let _ = self.submit.send(Queued { id, payload, reply });
        outcome
    }

    /// When the function first asked for an event: the end of its init phase.
    pub fn first_next(&self) -> Option<Instant> {
        self.state.first_next.get().copied()
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<ReportedError> {
        self.state.init_error.lock().expect("init error lock").clone()
    }

    /// Waits until the function asks for its first event or reports an init error.
    pub async fn init_done(&self) {
        loop {
            let changed = self.state.changed.notified();
            if self.first_next().is_some() || self.init_error().is_some() {
                return;
            }
            changed.await;
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn accepted() -> hyper::Response<Full<Bytes>> {
    reply(202, serde_json::json!({"status": "OK"}))
}

fn bad_request(error_type: &str, message: String) -> hyper::Response<Full<Bytes>> {
    reply(
        400,
        serde_json::json!({"errorType": error_type, "errorMessage": message}),
    )
}

async fn reported_error(req: hyper::Request<Incoming>) -> ReportedError {
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    ReportedError {
        error_type,
        body: serde_json::from_slice(&body)
            .unwrap_or_else(|_| serde_json::json!({"raw": String::from_utf8_lossy(&body)})),
    }
}

async fn route(state: &State, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(404, serde_json::json!({"errorType": "NotFound", "errorMessage": path}));
    };
    match (req.method().as_str(), rest) {
        ("GET", "/invocation/next") => next(state).await,
        ("POST", "/init/error") => {
            let report = reported_error(req).await;
            *state.init_error.lock().expect("init error lock") = Some(report);
            state.changed.notify_waiters();
            accepted()
        }
        ("POST", rest) if rest.starts_with("/invocation/") => {
            let mut parts = rest["/invocation/".len()..].splitn(2, '/');
            let (id, verb) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default(),
            );
            let Some(running) = state.running.lock().expect("running lock").remove(&id) else {
                return bad_request("InvalidRequestID", format!("no invocation {id} is running"));
            };
            let duration = running.handed_out.elapsed();
            let outcome = match verb {
                "response" => Outcome::Response {
                    body: req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default(),
                    duration,
                },
                "error" => Outcome::Error {
                    report: reported_error(req).await,
                    duration,
                },
                other => return bad_request("InvalidRequest", format!("unknown invocation verb {other:?}")),
            };
            let _ = running.reply.send(outcome);
            accepted()
        }
        (method, rest) => reply(
            404,
            serde_json::json!({"errorType": "NotFound", "errorMessage": format!("{method} {PREFIX}{rest}")}),
        ),
    }
}

/// Long-polls for the next event, as the real endpoint does.
async fn next(state: &State) -> hyper::Response<Full<Bytes>> {
    if state.first_next.set(Instant::now()).is_ok() {
        state.changed.notify_waiters();
    }
    let Some(queued) = state.queue.lock().await.recv().await else {
        return reply(
            500,
            serde_json::json!({"errorType": "Shutdown", "errorMessage": "no more events"}),
        );
    };
    let deadline = chrono::Utc::now() + state.timeout;
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=1",
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    state.running.lock().expect("running lock").insert(
        queued.id.clone(),
        Running {
            reply: queued.reply,
            handed_out: Instant::now(),
        },
    );
    let mut resp = hyper::Response::new(Full::new(queued.payload));
    let headers = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", queued.id);
    set("lambda-runtime-deadline-ms", deadline.timestamp_millis().to_string());
    set("lambda-runtime-invoked-function-arn", state.function_arn.clone());
    set("lambda-runtime-trace-id", trace);
    resp
}
