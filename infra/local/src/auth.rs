//! Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with a local secret. The dev
//! server verifies them and hands the same claims to the handlers that API Gateway would.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const ISSUER: &str = "cg-local";
pub const AUDIENCE: &str = "customer-groups";

/// The local signing secret (`CG_LOCAL_JWT_SECRET`, or a fixed development value).
pub fn secret() -> String {
    std::env::var("CG_LOCAL_JWT_SECRET").unwrap_or_else(|_| "local-development-secret-not-for-production".into())
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant_id: String,
    iss: String,
    aud: String,
    exp: u64,
    iat: u64,
}

/// Issues a token for a tenant, valid for `ttl_seconds`.
pub fn issue(secret: &str, tenant: &str, ttl_seconds: u64) -> String {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        sub: format!("{tenant}-user"),
        tenant_id: tenant.to_owned(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + ttl_seconds,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}

/// Verifies `Authorization: Bearer <jwt>` and returns its claims as API Gateway passes them (strings).
pub fn verify(secret: &str, authorization: Option<&str>) -> Result<HashMap<String, String>, &'static str> {
    let header = authorization.ok_or("send an Authorization: Bearer <token> header")?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or("the Authorization header must be 'Bearer <token>'")?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = decode::<HashMap<String, serde_json::Value>>(
        token.trim(),
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|_| "the token is invalid or expired")?;
    Ok(data
        .claims
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_the_tenant() {
        let token = issue("s3cret", "acme", 60);
        let claims = verify("s3cret", Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["tenant_id"], "acme");
    }

    #[test]
    fn wrong_secret_missing_header_and_expired_tokens_are_rejected() {
        let token = issue("s3cret", "acme", 60);
        assert!(verify("other", Some(&format!("Bearer {token}"))).is_err());
        assert!(verify("s3cret", None).is_err());
        assert!(verify("s3cret", Some(&token)).is_err(), "missing Bearer prefix");
        let mut expired = Validation::new(Algorithm::HS256);
        expired.leeway = 0;
        let old = encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "x".into(),
                tenant_id: "acme".into(),
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                iat: 1,
                exp: 2,
            },
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert!(verify("s3cret", Some(&format!("Bearer {old}"))).is_err());
    }
}
