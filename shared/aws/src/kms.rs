//! `SecretBox` on KMS: signing secrets and provider credentials are encrypted with the destinations
//! key, bound to the tenant and their owner by the encryption context, so a ciphertext moved to
//! another item does not decrypt. Decrypted secrets are cached for a few minutes per warm Lambda, so a
//! burst of deliveries to one endpoint costs one `Decrypt`.

use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_kms::primitives::Blob;
use cg_domain::destinations::ports::SecretBox;
use cg_domain::destinations::secret::{Sealed, SealedFor};
use cg_domain::ids::TenantId;
use cg_domain::{DomainError, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a decrypted secret is reused.
const CACHE_FOR: Duration = Duration::from_secs(300);
/// Entries kept at most (the oldest half is dropped beyond it).
const CACHE_MAX: usize = 1024;

/// Decrypted secrets by tenant, owner and ciphertext.
#[derive(Debug, Clone, Default)]
pub struct SecretCache(Arc<Mutex<HashMap<Vec<u8>, Cached>>>);

/// A plaintext and when it was decrypted.
type Cached = (Vec<u8>, Instant);

impl SecretCache {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let map = self.0.lock().ok()?;
        map.get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_FOR)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: Vec<u8>, value: Vec<u8>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_FOR / 2);
            }
            map.insert(key, (value, Instant::now()));
        }
    }
}

fn context(t: &TenantId, what: SealedFor<'_>) -> HashMap<String, String> {
    HashMap::from([
        ("tenant".to_owned(), t.to_string()),
        ("owner".to_owned(), what.context()),
    ])
}

impl SecretBox for Store {
    async fn seal(&self, t: &TenantId, what: SealedFor<'_>, plain: &[u8]) -> Result<Sealed> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.destinations.key_id)
            .plaintext(Blob::new(plain))
            .set_encryption_context(Some(context(t, what)))
            .send()
            .await
            .map_err(|e| from_sdk("kms.Encrypt", e))?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| DomainError::Internal("kms.Encrypt returned no ciphertext".into()))?;
        Ok(Sealed(blob.into_inner()))
    }

    async fn open(&self, t: &TenantId, what: SealedFor<'_>, sealed: &Sealed) -> Result<Vec<u8>> {
        // The cache key carries the context too: a ciphertext copied to another owner must miss and
        // then fail to decrypt, as it would without the cache.
        let cache_key = [t.as_str().as_bytes(), &[0], what.context().as_bytes(), &[0], &sealed.0].concat();
        if let Some(hit) = self.secret_cache.get(&cache_key) {
            return Ok(hit);
        }
        let out = self
            .kms
            .decrypt()
            .key_id(&self.destinations.key_id)
            .ciphertext_blob(Blob::new(sealed.0.clone()))
            .set_encryption_context(Some(context(t, what)))
            .send()
            .await
            .map_err(|e| from_sdk("kms.Decrypt", e))?;
        let plain = out
            .plaintext
            .ok_or_else(|| DomainError::Internal("kms.Decrypt returned no plaintext".into()))?
            .into_inner();
        self.secret_cache.put(cache_key, plain.clone());
        Ok(plain)
    }
}
