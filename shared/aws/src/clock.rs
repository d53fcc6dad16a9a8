//! The clock every function reads: the system clock plus an offset that is always zero in AWS. Only
//! the local dev server moves it (`POST /_dev/clock`, a route no deployed function serves), so the
//! whole local stack (API, workers, scheduler) agrees on one time.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A shared clock offset in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct ServiceClock {
    offset_ms: Arc<AtomicI64>,
}

impl ServiceClock {
    /// The current instant: the system clock plus the offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (local stack only); returns the new offset.
    pub fn advance(&self, by: Duration) -> Duration {
        let ms = self.offset_ms.fetch_add(by.num_milliseconds(), Ordering::Relaxed) + by.num_milliseconds();
        Duration::milliseconds(ms)
    }

    /// How far ahead of the system clock it runs.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }
}
