//! Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with a local secret. The dev
//! server verifies them and hands the same claims to the handlers that API Gateway would.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const ISSUER: &str = "cg-local";
pub const AUDIENCE: &str = "customer-groups";
/// The claim that names the tenant (template.yaml's `TENANT_CLAIM`).
pub const TENANT_CLAIM: &str = "tenant_id";

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

/// Signs arbitrary claims with the local secret: tests use it for tokens the issuer would never make
/// (a numeric tenant, a future `nbf`), to check the dev server refuses them as API Gateway does.
pub fn sign(secret: &str, claims: &serde_json::Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
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
    // As API Gateway's JWT authorizer: a token not valid yet (`nbf` in the future) is refused too.
    validation.validate_nbf = true;
    let data = decode::<HashMap<String, serde_json::Value>>(
        token.trim(),
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|_| "the token is invalid, expired or not valid yet")?;
    // The tenant must be a string claim: `null`, `true` or `123` name no tenant (API Gateway passes
    // claims to the function as strings, so in AWS the identity provider must issue it as a string).
    match data.claims.get(TENANT_CLAIM) {
        Some(serde_json::Value::String(t)) if !t.is_empty() => {}
        Some(_) => return Err("the token's tenant_id claim must be a non-empty string"),
        None => return Err("the token has no tenant_id claim"),
    }
    Ok(data
        .claims
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(claims: serde_json::Value) -> String {
        sign("s3cret", &claims)
    }

    #[test]
    fn the_tenant_claim_must_be_a_string_and_nbf_is_checked() {
        let now = chrono::Utc::now().timestamp();
        let base = serde_json::json!({"sub": "u", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "iat": now});
        for bad in [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(123),
            serde_json::json!(""),
        ] {
            let mut c = base.clone();
            c["tenant_id"] = bad.clone();
            assert!(
                verify("s3cret", Some(&format!("Bearer {}", signed(c)))).is_err(),
                "tenant_id {bad}"
            );
        }
        assert!(
            verify("s3cret", Some(&format!("Bearer {}", signed(base.clone())))).is_err(),
            "no tenant_id"
        );
        let mut later = base.clone();
        later["tenant_id"] = "acme".into();
        later["nbf"] = (now + 3600).into();
        assert!(
            verify("s3cret", Some(&format!("Bearer {}", signed(later)))).is_err(),
            "not valid yet"
        );
        let mut ok = base;
        ok["tenant_id"] = "acme".into();
        assert_eq!(
            verify("s3cret", Some(&format!("Bearer {}", signed(ok)))).unwrap()["tenant_id"],
            "acme"
        );
    }

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
