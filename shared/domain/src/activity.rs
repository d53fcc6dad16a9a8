//! Activity facts that events maintain on the customer: last activity, bookings, and money ledgers for
//! payments and expenses. Ledgers keep one entry per currency and day for a bounded window (enough for
//! "over one year" and period conditions) plus lifetime totals, so the customer item stays small.

use crate::error::{DomainError, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days of daily ledger entries kept; conditions over a period may look back at most this far.
pub const LEDGER_DAYS: i64 = 400;
/// Currencies one ledger keeps. Entries are per currency and day, so this and [`LEDGER_DAYS`] bound a
/// ledger to 1,200 entries (about 60 KB): an event in a further currency is rejected with a reason
/// instead of growing the customer without bound.
pub const MAX_CURRENCIES: usize = 3;

/// What events have recorded about the customer's activity; rules read it, the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// The latest `customer.active` or `subscription.active` event; never moves back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<DateTime<Utc>>,
    /// Number of bookings made.
    #[serde(default)]
    pub bookings: u32,
    /// The earliest start of a booked activity (its `starts_at`, not when it was booked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_booking_at: Option<DateTime<Utc>>,
    /// The latest start of a booked activity; may be in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_booking_at: Option<DateTime<Utc>>,
    /// Credited payments.
    #[serde(default)]
    pub payments: Ledger,
    /// Expenses (charges for services).
    #[serde(default)]
    pub expenses: Ledger,
}

impl Activity {
    /// Checks imported activity: ISO 4217 currency codes and ledgers no longer than the window allows.
    pub fn check(&self) -> Result<()> {
        self.payments.check("activity.payments")?;
        self.expenses.check("activity.expenses")
    }

    /// Moves `last_active_at` forward to `at`; an older, late event leaves it as it is.
    pub fn record_activity(&mut self, at: DateTime<Utc>) {
        self.last_active_at = Some(self.last_active_at.map_or(at, |x| x.max(at)));
    }

    /// A booking for `starts_at` (the activity's time, possibly in the future).
    pub fn record_booking(&mut self, starts_at: DateTime<Utc>) {
        self.bookings = self.bookings.saturating_add(1);
        self.first_booking_at = Some(self.first_booking_at.map_or(starts_at, |x| x.min(starts_at)));
        self.last_booking_at = Some(self.last_booking_at.map_or(starts_at, |x| x.max(starts_at)));
    }
}

/// Money per currency: daily entries over the last [`LEDGER_DAYS`] days and lifetime totals, in minor
/// units (cents) so sums are exact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Daily sums in (day, currency) order, only the last [`LEDGER_DAYS`] days before the newest one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<LedgerEntry>,
    /// Lifetime sum per currency code, kept when old entries are dropped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, i64>,
    /// When the first amount was recorded (the `first_expense_date` condition reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at: Option<DateTime<Utc>>,
}

/// The sum of one currency's amounts on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// The UTC day of the amounts.
    pub on: NaiveDate,
    /// Their sum in minor units (cents), saturating rather than overflowing.
    pub amount_minor: i64,
}

impl Ledger {
    /// Adds an amount; entries older than the window (relative to the newest entry) are dropped. A
    /// currency beyond [`MAX_CURRENCIES`] is refused (`field` names what to report).
    pub fn record(&mut self, field: &str, currency: &str, at: DateTime<Utc>, amount_minor: i64) -> Result<()> {
        if !self.totals.contains_key(currency) && self.totals.len() >= MAX_CURRENCIES {
            let kept: Vec<&str> = self.totals.keys().map(String::as_str).collect();
            return Err(DomainError::validation(
                field,
                format!(
                    "a customer's {field} are kept in at most {MAX_CURRENCIES} currencies ({}); {currency} cannot be added",
                    kept.join(", ")
                ),
            ));
        }
        let on = at.date_naive();
        let total = self.totals.entry(currency.to_owned()).or_insert(0);
        *total = total.saturating_add(amount_minor);
        self.first_at = Some(self.first_at.map_or(at, |x| x.min(at)));
        match self.entries.iter_mut().find(|e| e.currency == currency && e.on == on) {
            Some(e) => e.amount_minor = e.amount_minor.saturating_add(amount_minor),
            None => self.entries.push(LedgerEntry {
                currency: currency.to_owned(),
                on,
                amount_minor,
            }),
        }
        self.entries
            .sort_by(|a, b| (a.on, &a.currency).cmp(&(b.on, &b.currency)));
        if let Some(newest) = self.entries.last().map(|e| e.on) {
            let oldest = newest - Duration::days(LEDGER_DAYS);
            self.entries.retain(|e| e.on > oldest);
        }
        Ok(())
    }

    /// Lifetime total in a currency.
    pub fn total(&self, currency: &str) -> i64 {
        self.totals.get(currency).copied().unwrap_or(0)
    }

    /// Sum of the entries in a currency on days `since ..= until`.
    pub fn sum_between(&self, currency: &str, since: NaiveDate, until: NaiveDate) -> i64 {
        self.entries
            .iter()
            .filter(|e| e.currency == currency && e.on >= since && e.on <= until)
            .fold(0i64, |acc, e| acc.saturating_add(e.amount_minor))
    }

    fn check(&self, field: &str) -> Result<()> {
        let bad = self
            .entries
            .iter()
            .map(|e| &e.currency)
            .chain(self.totals.keys())
            .find(|c| !is_currency(c));
        if let Some(c) = bad {
            return Err(DomainError::validation(
                field,
                format!("{c:?} is not a currency code: use three capital letters (ISO 4217), e.g. EUR"),
            ));
        }
        if self.totals.len() > MAX_CURRENCIES {
            return Err(DomainError::validation(
                field,
                format!("a ledger keeps at most {MAX_CURRENCIES} currencies"),
            ));
        }
        if self.entries.len() > MAX_CURRENCIES * LEDGER_DAYS as usize {
            return Err(DomainError::validation(field, "too many ledger entries"));
        }
        Ok(())
    }
}

/// An ISO 4217-shaped code: three ASCII capital letters.
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ledger_aggregates_per_day_and_keeps_lifetime_totals_after_pruning() {
        let mut l = Ledger::default();
        l.record("p", "EUR", at("2025-01-01T10:00:00Z"), 100).unwrap();
        l.record("p", "EUR", at("2025-01-01T18:00:00Z"), 50).unwrap();
        l.record("p", "USD", at("2025-01-01T18:00:00Z"), 7).unwrap();
        assert_eq!(l.entries.len(), 2);
        l.record("p", "EUR", at("2026-11-24T00:00:00Z"), 10).unwrap();
        assert_eq!(l.entries.len(), 1, "entries older than the window are dropped");
        assert_eq!(l.total("EUR"), 160);
        assert_eq!(l.total("USD"), 7);
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(l.sum_between("EUR", d("2026-01-01"), d("2026-12-31")), 10);
        assert_eq!(l.first_at, Some(at("2025-01-01T10:00:00Z")));
    }

    #[test]
    fn a_ledger_keeps_a_bounded_number_of_currencies_and_days() {
        let mut l = Ledger::default();
        for (i, c) in ["EUR", "USD", "GBP"].iter().enumerate() {
            for day in 0..500 {
                let t = at("2025-01-01T10:00:00Z") + Duration::days(day) + Duration::minutes(i as i64);
                l.record("payments", c, t, 1).unwrap();
            }
        }
        assert_eq!(l.entries.len(), 3 * LEDGER_DAYS as usize, "400 days of 3 currencies");
        assert!(l.record("payments", "JPY", at("2026-06-01T00:00:00Z"), 1).is_err());
        assert_eq!(l.total("EUR"), 500, "lifetime totals stay exact");
        assert!(l.check("payments").is_ok());
    }

    #[test]
    fn bookings_track_first_and_last() {
        let mut a = Activity::default();
        a.record_booking(at("2026-05-01T10:00:00Z"));
        a.record_booking(at("2026-03-01T10:00:00Z"));
        assert_eq!(a.bookings, 2);
        assert_eq!(a.first_booking_at, Some(at("2026-03-01T10:00:00Z")));
        assert_eq!(a.last_booking_at, Some(at("2026-05-01T10:00:00Z")));
    }
}
