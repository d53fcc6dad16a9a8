//! The dev server: serves every route on 127.0.0.1 by building the API Gateway HTTP API (v2) request a
//! Lambda would get (path parameters, query, verified JWT claims) and calling the same handler; polls
//! the SQS queue into the worker handler; ticks the scheduler.

use crate::auth;
use bytes::Bytes;
use cg_lambda::http_error::error_response;
use cg_lambda::routes::{dispatch, match_route, Matched, PUBLIC};
use cg_lambda::App;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Bodies above this are refused before reaching a handler (handlers enforce their own, smaller limit).
const MAX_WIRE_BODY: usize = 1024 * 1024;

/// Serves HTTP on the listener until the task is dropped.
pub async fn serve_http(app: App, secret: String, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (app, secret) = (app.clone(), secret.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (app, secret) = (app.clone(), secret.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(&app, &secret, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn to_hyper(resp: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// One request, as API Gateway + Lambda would process it.
pub async fn handle(app: &App, secret: &str, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // API Gateway's authorizer runs before routing to the function, except on the routes that have
    // none (the console's static files).
    let public = matches!(match_route(&method, &path), Matched::Route(r, _) if PUBLIC.contains(&r.action));
    let claims = match auth::verify(secret, authorization) {
        Ok(c) => Some(c),
        Err(_) if public => None,
        Err(why) => return to_hyper(error_response(401, "unauthorized", why)),
    };
    if path == DEV_CLOCK_PATH {
        return to_hyper(dev_clock(app, &method, body).await);
    }
    let (route, params) = match match_route(&method, &path) {
        Matched::Route(r, p) => (r, p),
        Matched::MethodNotAllowed(allowed) => {
            let mut resp = error_response(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed on {path}; use {}", allowed.join(", ")),
            );
            if let Ok(v) = http::HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(http::header::ALLOW, v);
            }
            return to_hyper(resp);
        }
        Matched::NotFound => {
            return to_hyper(error_response(
                404,
                "not_found",
                &format!("no route for {method} {path}"),
            ))
        }
    };
    let bytes = match Limited::new(body, MAX_WIRE_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return to_hyper(error_response(
                413,
                "payload_too_large",
                "the body is larger than 1 MiB",
            ))
        }
    };
    let query: Vec<(String, String)> = match serde_urlencoded::from_str(parts.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(_) => {
            return to_hyper(error_response(
                400,
                "bad_request",
                "the query string is not valid URL encoding",
            ))
        }
    };
    let mut query_map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in query {
        query_map.entry(k).or_default().push(v);
    }

    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(format!("{} {}", route.method, route.path));
    if let Some(claims) = claims.filter(|_| !public) {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        ctx.authorizer = Some(authorizer);
    }

    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone());
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(body) else {
        return to_hyper(error_response(400, "bad_request", "the request could not be read"));
    };
    let request = request
        .with_path_parameters(params.into_iter().collect::<HashMap<_, _>>())
        .with_query_string_parameters(query_map)
        .with_request_context(RequestContext::ApiGatewayV2(ctx));
    let Ok(resp) = dispatch(route.action, app, request).await;
    to_hyper(resp)
}

/// The dev-server-only clock control. No deployed function serves it: it is not in the route table,
/// template.yaml or the OpenAPI document (tests/api/contract.rs checks).
pub const DEV_CLOCK_PATH: &str = "/_dev/clock";

/// `GET /_dev/clock` shows the service clock; `POST /_dev/clock` with `{"days": n}` and/or
/// `{"seconds": n}` (not negative) moves it forward for the API, the workers and the scheduler, and
/// runs a wake-up tick at the new time.
async fn dev_clock(app: &App, method: &str, body: Incoming) -> lambda_http::Response<Body> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Advance {
        #[serde(default)]
        days: u32,
        #[serde(default)]
        seconds: u32,
    }
    match method {
        "GET" => {}
        "POST" => {
            let bytes = match Limited::new(body, 4096).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return error_response(413, "payload_too_large", "the body is larger than 4 KiB"),
            };
            let advance: Advance = match serde_json::from_slice(&bytes) {
                Ok(a) => a,
                Err(e) => {
                    return error_response(
                        400,
                        "bad_request",
                        &format!("send {{\"days\": n}} and/or {{\"seconds\": n}}: {e}"),
                    )
                }
            };
            app.store.clock.advance(
                chrono::Duration::days(i64::from(advance.days)) + chrono::Duration::seconds(i64::from(advance.seconds)),
            );
            if let Err(e) = cg_lambda::scheduler::run_task(app, cg_lambda::scheduler::Task::Wake, app.now()).await {
                tracing::warn!(error = ?e, "wake-up tick after moving the clock failed");
            }
        }
        _ => return error_response(405, "method_not_allowed", "use GET or POST on /_dev/clock"),
    }
    let body = serde_json::json!({"now": app.now(), "offset_seconds": app.store.clock.offset().num_seconds()});
    let mut resp = lambda_http::Response::new(Body::Text(body.to_string()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Receives one batch from the group-jobs queue and runs the worker on it, as Lambda's SQS trigger would:
/// successes are deleted, failures become visible again (after `retry_delay`) and reach the DLQ after
/// maxReceiveCount. Returns how many messages were received.
pub async fn poll_group_jobs_once(app: &App, wait_seconds: i32, retry_delay: i32) -> Result<usize, String> {
    let url = app.store.group_jobs_queue_url.clone();
    crate::export_jobs::poll_queue_once(app, &url, wait_seconds, retry_delay, |event| {
        cg_lambda::worker::process_group_jobs(app, event)
    })
    .await
}

/// Group-job batches the dev server runs at once, as Lambda runs several invocations of a worker in
/// parallel (a resync's shard messages, wake-ups and purges side by side).
pub const GROUP_JOB_POLLERS: usize = 4;

/// Runs the worker poll loop forever (one of `GROUP_JOB_POLLERS`).
pub async fn run_workers(app: App) {
    loop {
        if let Err(e) = poll_group_jobs_once(&app, 1, 2).await {
            tracing::warn!(error = %e, "group-jobs poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Runs the scheduler as EventBridge would: the wake-up task every `every`, and the nightly task once a
/// day at 03:00 UTC (template.yaml's two schedules).
pub async fn run_scheduler(app: App, every: Duration) {
    use cg_lambda::scheduler::{run_task, Task};
    use chrono::Timelike;
    let mut interval = tokio::time::interval(every);
    let mut nightly_done = app.now().date_naive();
    loop {
        interval.tick().await;
        let now = app.now();
        if let Err(e) = run_task(&app, Task::Wake, now).await {
            tracing::warn!(error = ?e, "scheduler wake-up tick failed");
        }
        if now.date_naive() != nightly_done && now.hour() >= 3 {
            nightly_done = now.date_naive();
            if let Err(e) = run_task(&app, Task::Nightly, now).await {
                tracing::warn!(error = ?e, "nightly resync failed");
            }
        }
    }
}

/// Binds the HTTP listener and starts server, workers and scheduler in the background.
pub async fn start(
    app: App,
    secret: String,
    addr: SocketAddr,
    tick: Duration,
) -> std::io::Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let tasks = vec![
        tokio::spawn(serve_http(app.clone(), secret, listener)),
        tokio::spawn(crate::export_jobs::run_export_workers(app.clone())),
        tokio::spawn(crate::export_jobs::run_export_workers(app.clone())),
        tokio::spawn(run_scheduler(app.clone(), tick)),
    ];
    let mut tasks = tasks;
    for _ in 0..GROUP_JOB_POLLERS {
        tasks.push(tokio::spawn(run_workers(app.clone())));
    }
    // Issue 16: the change-stream reader, the delivery and sync pollers and the sweep.
    tasks.extend(crate::destinations::start(&app));
    for _ in 0..crate::bulk_jobs::BULK_JOB_POLLERS {
        tasks.push(tokio::spawn(crate::bulk_jobs::run_bulk_workers(app.clone())));
    }
    Ok((bound, tasks))
}
