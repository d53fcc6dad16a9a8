//! The Standard Webhooks signature: `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`,
//! keyed with the secret's decoded bytes; several signatures (a rotation's overlap) space-separated.

use aws_lc_rs::hmac;
use base64::Engine as _;
use cg_domain::destinations::secret::SigningSecret;

/// The `webhook-signature` header value for one attempt.
pub fn sign(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &str) -> String {
    let content = format!("{id}.{timestamp}.{body}");
    secrets
        .iter()
        .map(|s| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, s.bytes());
            let tag = hmac::sign(&key, content.as_bytes());
            format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(whsec: &str) -> SigningSecret {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(whsec.trim_start_matches("whsec_"))
            .unwrap();
        SigningSecret::from_bytes(raw).unwrap()
    }

    #[test]
    fn matches_the_specification_example() {
        // The example of the Standard Webhooks specification (and its reference libraries' tests).
        let s = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = sign(
            &[s],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_sends_both_signatures() {
        let a = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let b = SigningSecret::generate().unwrap();
        let both = sign(&[b.clone(), a.clone()], "msg_1", 1, "{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts, vec![sign(&[b], "msg_1", 1, "{}"), sign(&[a], "msg_1", 1, "{}")]);
    }
}
