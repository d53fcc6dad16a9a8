//! Reading a request: the tenant from verified claims, a bounded JSON body, query parameters, and
//! writing JSON responses.

use crate::http_error::ApiError;
use cg_domain::ids::{PathId, TenantId};
use cg_domain::page::PageRequest;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest request body accepted; far above any valid request, far below DynamoDB's item limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The tenant from the JWT claims that API Gateway's authorizer (or the dev server) verified.
/// Never from the path, query or body.
pub fn tenant(req: &Request, claim: &str) -> Result<TenantId, ApiError> {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims)
        }
        _ => None,
    };
    let value = claims
        .and_then(|c| c.get(claim))
        .ok_or_else(|| ApiError::Unauthorized(format!("the access token has no {claim} claim")))?;
    TenantId::parse(value)
        .map_err(|_| ApiError::Unauthorized(format!("the token's {claim} claim is not a valid tenant id")))
}

/// A path parameter the route template guarantees (empty if the request was not routed).
pub fn path_param(req: &Request, name: &str) -> String {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
        .to_owned()
}

/// A path parameter parsed into its id type; one that cannot exist is 404, like an unknown id.
pub fn path_id<T: PathId>(req: &Request, name: &str) -> Result<T, ApiError> {
    Ok(T::from_path(&path_param(req, name))?)
}

/// `limit` and `cursor` from the query string; any other parameter is rejected so typos are visible.
pub fn page(req: &Request) -> Result<PageRequest, ApiError> {
    page_with(req, &[])
}

/// The values of a list's own query parameter (`type=a&type=b`), in order.
pub fn query_values<'r>(req: &'r Request, name: &str) -> Vec<&'r str> {
    req.query_string_parameters_ref()
        .and_then(|p| p.all(name))
        .unwrap_or_default()
}

/// Like [`page`], for a list that also takes the query parameters `extra` (read them with
/// [`query_values`]); any other parameter is rejected.
pub fn page_with(req: &Request, extra: &[&str]) -> Result<PageRequest, ApiError> {
    let params = req.query_string_parameters_ref();
    if let Some(params) = params {
        for (name, _) in params.iter() {
            if name != "limit" && name != "cursor" && !extra.contains(&name) {
                let known = ["limit", "cursor"]
                    .iter()
                    .chain(extra)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {name:?}; use {known}"
                )));
            }
        }
    }
    let get = |name| params.and_then(|p| p.all(name)).map(|v| v.to_vec()).unwrap_or_default();
    let (limit, cursor) = (get("limit"), get("cursor"));
    if limit.len() > 1 || cursor.len() > 1 {
        return Err(ApiError::BadRequest("limit and cursor may each be given once".into()));
    }
    // A bad query parameter is a malformed request (400), like a malformed body.
    PageRequest::parse(limit.first().copied(), cursor.first().copied()).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Parses a required JSON body: size-bounded, JSON content type, and serde's exact message on errors
/// (it names the unknown field or the expected type and the position).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get(http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !(essence.starts_with("application/") && essence.ends_with("+json")) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as application/json, not {essence:?}"
            )));
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("a JSON request body is required".into()));
    }
    // Every body is a JSON object: serde would read a struct from an array too (`[]` a no-op patch).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest("the request body must be a JSON object".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value)
        .map_err(|e| ApiError::Domain(cg_domain::DomainError::Internal(format!("encode response: {e}"))))?;
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// A 204 response with no body (successful deletes).
pub fn no_content() -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = http::StatusCode::NO_CONTENT;
    resp
}
