//! JSON merge-patch fields (RFC 7396): a field may be absent (keep), `null` (clear) or a value (set).

use serde::{Deserialize, Deserializer};

/// One field of a partial update.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    /// The field was absent: keep the current value.
    #[default]
    Keep,
    /// The field was `null`: remove the value.
    Clear,
    /// The field had a value: replace the current one.
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the patch to the current value.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    // Only called when the field is present (absent fields take `Default`), so `null` means Clear.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        })
    }
}
