//! A tenant's settings: what applies to every group of the tenant rather than to one.

use crate::error::{DomainError, Result};
use serde::{Deserialize, Serialize};

/// Days after a renewal date without a renewal (nor a cancellation or expiry event) before the
/// subscription counts as expired, when a tenant has not set its own.
pub const DEFAULT_RENEWAL_GRACE_DAYS: u32 = 3;
/// The longest grace a tenant may set.
pub const MAX_RENEWAL_GRACE_DAYS: u32 = 365;

/// The settings of a tenant (`GET /settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Billing systems miss events: an active subscription whose `renews_at` passed this many days ago
    /// with no renewal ends, as expired at its renewal date (reached by a wake-up like every other
    /// time threshold).
    pub renewal_grace_days: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            renewal_grace_days: DEFAULT_RENEWAL_GRACE_DAYS,
        }
    }
}

/// The body of `PATCH /settings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// A new grace period in days (0 to 365).
    #[serde(default)]
    pub renewal_grace_days: Option<u32>,
}

impl SettingsPatch {
    /// The settings after the patch; a value out of range is a 422 naming it.
    pub fn apply(&self, current: TenantSettings) -> Result<TenantSettings> {
        let mut next = current;
        if let Some(days) = self.renewal_grace_days {
            if days > MAX_RENEWAL_GRACE_DAYS {
                return Err(DomainError::validation(
                    "renewal_grace_days",
                    format!("renewal_grace_days must be 0 to {MAX_RENEWAL_GRACE_DAYS}"),
                ));
            }
            next.renewal_grace_days = days;
        }
        Ok(next)
    }
}
