//! What DynamoDB and the service can store, checked at the edge so a value out of range is a 422
//! naming its field instead of a store error: numbers DynamoDB keeps (38 digits, magnitudes from
//! 1E-130 to 9.99E+125) and dates within a documented range.

use crate::error::{DomainError, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The earliest year of a date or instant the service accepts.
pub const MIN_YEAR: i32 = 1900;
/// The latest year of a date or instant the service accepts.
pub const MAX_YEAR: i32 = 2199;

/// The smallest non-zero magnitude DynamoDB stores.
const MIN_MAGNITUDE: f64 = 1e-130;
/// Magnitudes from here on DynamoDB refuses (its largest is 9.9999...E+125).
const MAX_MAGNITUDE: f64 = 1e126;

/// A number DynamoDB can store: finite, zero or a magnitude between 1E-130 and 9.99E+125.
pub fn check_number(field: &str, n: f64) -> Result<()> {
    let m = n.abs();
    if n.is_finite() && (m == 0.0 || (MIN_MAGNITUDE..MAX_MAGNITUDE).contains(&m)) {
        Ok(())
    } else {
        Err(DomainError::validation(
            field,
            format!("{field} must be a finite number, 0 or of magnitude 1e-130 to 9.99e125, got {n:e}"),
        ))
    }
}

fn year_ok(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

/// A date within years 1900 to 2199.
pub fn check_date(field: &str, d: NaiveDate) -> Result<()> {
    if year_ok(d.year()) {
        Ok(())
    } else {
        Err(out_of_range(field))
    }
}

/// An instant within years 1900 to 2199.
pub fn check_instant(field: &str, t: DateTime<Utc>) -> Result<()> {
    check_date(field, t.date_naive())
}

/// An optional instant within years 1900 to 2199.
pub fn check_opt_instant(field: &str, t: Option<DateTime<Utc>>) -> Result<()> {
    t.map_or(Ok(()), |t| check_instant(field, t))
}

fn out_of_range(field: &str) -> DomainError {
    DomainError::validation(
        field,
        format!("{field} must be a date from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_dynamodb_cannot_store_are_refused() {
        for bad in [1e200, -1e200, 1e308, 1e-131, 5e-324, f64::NAN, f64::INFINITY, 1e126] {
            assert!(check_number("n", bad).is_err(), "{bad}");
        }
        for good in [0.0, -0.0, 1e-130, 9.99e125, -3.5, 42.0] {
            assert!(check_number("n", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn dates_are_bounded() {
        assert!(check_date("d", NaiveDate::from_ymd_opt(10000, 1, 1).unwrap()).is_err());
        assert!(check_date("d", NaiveDate::from_ymd_opt(0, 1, 1).unwrap()).is_err());
        assert!(check_date("d", NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()).is_ok());
        assert!(check_date("d", NaiveDate::from_ymd_opt(2199, 12, 31).unwrap()).is_ok());
    }
}
