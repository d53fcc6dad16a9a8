//! Signing secrets and credentials: generated here, shown once, stored only sealed (encrypted by the
//! key service behind [`super::ports::SecretBox`]).

use crate::error::{DomainError, Result};
use base64::Engine as _;
use std::fmt;

/// Random bytes per signing secret (the Standard Webhooks minimum is 24).
pub const SECRET_BYTES: usize = 32;

/// A webhook signing secret: random bytes, written `whsec_` + base64 as Standard Webhooks says. Its
/// `Debug` never prints the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Result<SigningSecret> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| DomainError::Internal(format!("no random bytes for a secret: {e}")))?;
        Ok(SigningSecret(bytes))
    }

    /// The secret's bytes (the HMAC key).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A secret from its stored bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SigningSecret> {
        if bytes.len() < 24 {
            return Err(DomainError::Internal(
                "a stored signing secret is shorter than 24 bytes".into(),
            ));
        }
        Ok(SigningSecret(bytes))
    }

    /// `whsec_` + base64 of the bytes: the form shown to the user and read by verifiers.
    pub fn reveal(&self) -> String {
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// Ciphertext from the key service: opaque, bound to the tenant and the thing it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

/// What a sealed value belongs to; the key service binds the ciphertext to it (KMS encryption
/// context), so a ciphertext copied to another tenant's or endpoint's item does not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedFor<'a> {
    /// A webhook endpoint's signing secret.
    Webhook(&'a str),
    /// An integration's provider credentials.
    Integration(&'a str),
}

impl SealedFor<'_> {
    /// The context value, e.g. `webhook:{id}`.
    pub fn context(&self) -> String {
        match self {
            SealedFor::Webhook(id) => format!("webhook:{id}"),
            SealedFor::Integration(id) => format!("integration:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_shown_in_the_whsec_form() {
        let a = SigningSecret::generate().unwrap();
        let b = SigningSecret::generate().unwrap();
        assert_ne!(a, b);
        let shown = a.reveal();
        assert!(shown.starts_with("whsec_"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&shown["whsec_".len()..])
            .unwrap();
        assert_eq!(decoded.len(), SECRET_BYTES);
        assert_eq!(format!("{a:?}"), "SigningSecret(..)");
    }
}
