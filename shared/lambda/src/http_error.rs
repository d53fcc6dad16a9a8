//! The one mapping from errors to HTTP: status, a stable code and a message that says what to fix.
//! Internal details are logged here and never written to a response.

use cg_domain::DomainError;
use lambda_http::{Body, Response};
use serde_json::json;

/// An error an API handler returns: a domain error or a problem with the request itself.
#[derive(Debug)]
pub enum ApiError {
    /// A domain error: its kind picks the status (422, 404, 409, 503, 500...).
    Domain(DomainError),
    /// 400: the request cannot be read (malformed JSON, wrong types, unknown fields, bad query).
    BadRequest(String),
    /// 401: the verified token carries no valid tenant claim.
    Unauthorized(String),
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge(String),
    /// 415: the body is declared as something other than JSON.
    UnsupportedMediaType(String),
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

impl ApiError {
    /// The HTTP status and the stable `error.code` of this error.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            ApiError::BadRequest(_) => (400, "bad_request"),
            ApiError::Unauthorized(_) => (401, "unauthorized"),
            ApiError::PayloadTooLarge(_) => (413, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (415, "unsupported_media_type"),
            ApiError::Domain(e) => match e {
                DomainError::Validation { .. } => (422, "validation_failed"),
                DomainError::Malformed(_) => (400, "bad_request"),
                DomainError::NotFound(_) => (404, "not_found"),
                DomainError::Conflict { .. } => (409, "conflict"),
                DomainError::ConcurrentUpdate => (409, "concurrent_update"),
                DomainError::Unavailable(_) => (503, "service_unavailable"),
                DomainError::Internal(_) => (500, "internal"),
            },
        }
    }

    /// The client-facing message: the rule broken and how to fix it, never internal detail.
    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m) => m.clone(),
            // A validation message names the input it is about (for rules, the path of the bad node).
            ApiError::Domain(DomainError::Validation { field, message }) if !message.contains(field.as_str()) => {
                format!("{field}: {message}")
            }
            ApiError::Domain(e) => e.to_string(),
        }
    }

    /// The input a 422 or a uniqueness 409 is about (a body field or a rule path), for clients (the
    /// console) that show the message next to that input.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Domain(DomainError::Validation { field, .. } | DomainError::Conflict { field, .. })
                if !field.is_empty() =>
            {
                Some(field)
            }
            _ => None,
        }
    }

    /// The JSON error response; internal and unavailable details are logged here, never sent.
    pub fn into_response(self) -> Response<Body> {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Domain(DomainError::Internal(detail)) => {
                tracing::error!(code, detail = %detail, "request failed")
            }
            ApiError::Domain(DomainError::Unavailable(detail)) => {
                tracing::warn!(code, detail = %detail, "request failed")
            }
            _ => tracing::info!(status, code, "request rejected"),
        }
        let mut body = json!({"error": {"code": code, "message": self.message()}});
        if let Some(field) = self.field() {
            body["error"]["field"] = field.into();
        }
        json_error(status, body)
    }
}

/// Builds `{"error":{"code":..,"message":.., ..extra}}` with the given status (a merge's 409 lists
/// its conflicts; a merged customer's 404 names `merged_into`).
pub fn error_with(
    status: u16,
    code: &str,
    message: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Response<Body> {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    error.extend(extra);
    json_error(status, json!({ "error": error }))
}

/// Builds `{"error":{"code":..,"message":..}}` with the given status.
pub fn error_response(status: u16, code: &str, message: &str) -> Response<Body> {
    json_error(status, json!({"error": {"code": code, "message": message}}))
}

fn json_error(status: u16, body: serde_json::Value) -> Response<Body> {
    let body = body.to_string();
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(r: &Response<Body>) -> serde_json::Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => panic!("expected a text body"),
        }
    }

    #[test]
    fn internal_details_never_reach_the_response() {
        let r = ApiError::Domain(DomainError::Internal("dynamodb said: secret table arn".into())).into_response();
        assert_eq!(r.status(), 500);
        let b = body_of(&r);
        assert_eq!(b["error"]["code"], "internal");
        assert!(!b.to_string().contains("secret"));
    }

    #[test]
    fn each_domain_error_has_its_own_status() {
        let cases = [
            (DomainError::validation("email", "bad"), 422),
            (DomainError::not_found("no"), 404),
            (DomainError::conflict("email", "taken"), 409),
            (DomainError::Unavailable("x".into()), 503),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::Domain(e).into_response().status(), status);
        }
    }

    #[test]
    fn a_validation_error_names_its_field() {
        let r = ApiError::Domain(DomainError::validation("rules.all[0].tags", "bad")).into_response();
        assert_eq!(body_of(&r)["error"]["field"], "rules.all[0].tags");
        let r = ApiError::Domain(DomainError::not_found("no")).into_response();
        assert!(body_of(&r)["error"].get("field").is_none());
    }
}
