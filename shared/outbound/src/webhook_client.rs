//! The webhook client: one signed POST per attempt, per Standard Webhooks (`webhook-id`,
//! `webhook-timestamp` of the attempt, `webhook-signature`), the stored body sent byte for byte. It
//! connects through the SSRF guard (https only outside the local stack), never follows a redirect
//! (a 3xx is an answer like any other non-2xx) and gives up after the policy's timeout.

use crate::guard::{allowed, GuardedResolver, Reach, RefusedAddress};
use crate::signature::sign;
use bytes::Bytes;
use cg_domain::destinations::delivery::{SendResult, EXCERPT_BYTES};
use cg_domain::destinations::ports::{SignedPost, WebhookSender};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// The `user-agent` of deliveries.
pub const USER_AGENT: &str = "customer-groups-webhooks/1";

type Https = HttpsConnector<HttpConnector<GuardedResolver>>;

/// The client (a connection pool), built once per function.
#[derive(Clone, Debug)]
pub struct WebhookClient {
    client: Client<Https, Full<Bytes>>,
    reach: Reach,
}

impl WebhookClient {
    /// A client; `Reach::Any` and `Reach::LocalOnly` (the local stack only) also let it speak http.
    pub fn new(reach: Reach) -> std::io::Result<WebhookClient> {
        let allow_local = reach != Reach::Public;
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { reach });
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?;
        let https = if allow_local {
            builder.https_or_http().enable_http1().wrap_connector(http)
        } else {
            builder.https_only().enable_http1().wrap_connector(http)
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(WebhookClient { client, reach })
    }

    /// A literal address in the URL never reaches the resolver, so it is checked here.
    fn literal_refused(&self, uri: &http::Uri) -> bool {
        let host = uri.host().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().is_ok_and(|ip| !allowed(ip, self.reach))
    }
}

fn failure(error: &str, started: Instant) -> SendResult {
    SendResult {
        status_code: None,
        error: Some(error.to_owned()),
        retry_after: None,
        latency_ms: started.elapsed().as_millis() as u64,
        response_excerpt: None,
    }
}

/// What kind of failure an error is, by what its source chain holds.
fn classify(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        // An io::Error's `source` skips the error it wraps, so look inside it too.
        let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        let is = |check: &dyn Fn(&(dyn std::error::Error + 'static)) -> bool| {
            check(e) || inner.is_some_and(|i| check(i as &(dyn std::error::Error + 'static)))
        };
        if is(&|x| x.is::<RefusedAddress>()) {
            return "refused_address";
        }
        if is(&|x| x.is::<rustls::Error>()) {
            return "tls";
        }
        source = e.source();
    }
    "connection"
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let raw = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

impl WebhookSender for WebhookClient {
    async fn send(&self, post: SignedPost<'_>) -> SendResult {
        let started = Instant::now();
        let Ok(uri) = post.url.parse::<http::Uri>() else {
            return failure("invalid_url", started);
        };
        if self.reach == Reach::Public && uri.scheme_str() != Some("https") {
            return failure("https_required", started);
        }
        if self.literal_refused(&uri) {
            return failure("refused_address", started);
        }
        // The attempt's own time (the receiver checks it against its clock), not the event's.
        let timestamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signature = sign(post.secrets, post.id.as_str(), timestamp, post.body);
        let request = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, USER_AGENT)
            .header("webhook-id", post.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(Bytes::copy_from_slice(post.body.as_bytes())));
        let Ok(request) = request else {
            return failure("invalid_url", started);
        };
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let retry = retry_after(response.headers());
            let mut body = response.into_body();
            let mut excerpt = Vec::new();
            while excerpt.len() < EXCERPT_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            excerpt.extend_from_slice(data);
                        }
                    }
                    // A body cut short still leaves the status: the answer counts.
                    Some(Err(_)) | None => break,
                }
            }
            excerpt.truncate(EXCERPT_BYTES);
            Ok::<_, hyper_util::client::legacy::Error>((status, retry, excerpt))
        };
        match tokio::time::timeout(post.timeout, exchange).await {
            Err(_) => failure("timeout", started),
            Ok(Err(e)) => failure(classify(&e), started),
            Ok(Ok((status, retry, excerpt))) => SendResult {
                status_code: Some(status),
                error: None,
                retry_after: retry,
                latency_ms: started.elapsed().as_millis() as u64,
                response_excerpt: (!excerpt.is_empty()).then(|| String::from_utf8_lossy(&excerpt).into_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cg_domain::destinations::secret::SigningSecret;
    use cg_domain::ids::DeliveryId;

    #[tokio::test]
    async fn private_and_plain_http_targets_are_refused_outside_the_local_stack() {
        let client = WebhookClient::new(Reach::Public).unwrap();
        let secret = [SigningSecret::generate().unwrap()];
        let id = DeliveryId::parse("msg_1").unwrap();
        for (url, want) in [
            ("https://127.0.0.1:9/hook", "refused_address"),
            ("https://[::1]:9/hook", "refused_address"),
            ("https://169.254.169.254/latest/meta-data/", "refused_address"),
            ("https://localhost:9/hook", "refused_address"),
            ("http://example.com/hook", "https_required"),
        ] {
            let post = SignedPost {
                url,
                id: &id,
                body: "{}",
                secrets: &secret,
                timeout: Duration::from_secs(5),
            };
            let r = client.send(post).await;
            assert_eq!((r.status_code, r.error.as_deref()), (None, Some(want)), "{url}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert(http::header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
    }
}
