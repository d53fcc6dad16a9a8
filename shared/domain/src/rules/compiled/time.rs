//! Instants as `i128` nanoseconds since the Unix epoch: chrono's whole range fits, comparisons and
//! arithmetic are plain integer operations, and every result is the one chrono gives (saturating at the
//! ends of its range, as `compare::add` and `compare::sub` do). Leap-second instants (chrono keeps them
//! as a second range of nanoseconds) have no place on this line; decoding reports them and the caller
//! falls back to the tree walker.

use chrono::{DateTime, NaiveDate, Utc};

/// An instant in nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) type Ns = i128;

/// "Never": no next change; as a window end, unbounded.
pub(crate) const NEVER: Ns = i128::MAX;
/// A missing fact; as a window start, unbounded.
pub(crate) const UNSET: Ns = i128::MIN;

pub(crate) const SECOND: Ns = 1_000_000_000;
pub(crate) const DAY: Ns = 86_400 * SECOND;
/// `DateTime::<Utc>::MIN_UTC` and `MAX_UTC` (checked by a test).
const MIN: Ns = -8_334_601_228_800 * SECOND;
const MAX: Ns = 8_210_266_876_799 * SECOND + 999_999_999;
/// 10000-01-01T00:00:00Z: wake-ups from here on are "never" (`rules::wake`).
const WAKE_LIMIT: Ns = 253_402_300_800 * SECOND;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_DAY_FROM_CE: i64 = 719_163;

/// The instant, or `None` for a leap second.
pub(crate) fn ns(t: DateTime<Utc>) -> Option<Ns> {
    let frac = t.timestamp_subsec_nanos();
    (i128::from(frac) < SECOND).then(|| i128::from(t.timestamp()) * SECOND + i128::from(frac))
}

/// An optional fact: `UNSET` when missing; `Err(())` for a leap second.
pub(crate) fn opt_ns(t: Option<DateTime<Utc>>) -> Result<Ns, ()> {
    match t {
        None => Ok(UNSET),
        Some(t) => ns(t).ok_or(()),
    }
}

/// Back to chrono (`None` for `NEVER`).
pub(crate) fn to_time(t: Ns) -> Option<DateTime<Utc>> {
    if t == NEVER {
        return None;
    }
    let secs = i64::try_from(t.div_euclid(SECOND)).ok()?;
    let nanos = u32::try_from(t.rem_euclid(SECOND)).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// Days since 1970-01-01 of a calendar day.
pub(crate) fn day_number(d: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&d)) - EPOCH_DAY_FROM_CE
}

/// Midnight UTC starting a day.
pub(crate) fn midnight(d: NaiveDate) -> Ns {
    i128::from(day_number(d)) * DAY
}

/// The UTC day an instant falls on, as days since 1970-01-01.
pub(crate) fn day_of(t: Ns) -> i128 {
    // 128-bit division is a library call; the instants of four centuries around 1970 fit 64 bits.
    match i64::try_from(t) {
        Ok(t) => i128::from(t.div_euclid(DAY as i64)),
        Err(_) => t.div_euclid(DAY),
    }
}

/// `t + d`, saturating at the ends of chrono's range.
pub(crate) fn add(t: Ns, d: Ns) -> Ns {
    (t + d).clamp(MIN, MAX)
}

/// `t - d`, saturating at the ends of chrono's range.
pub(crate) fn sub(t: Ns, d: Ns) -> Ns {
    (t - d).clamp(MIN, MAX)
}

/// `t + d` when it stays in chrono's range (`checked_add_signed`).
pub(crate) fn checked_add(t: Ns, d: Ns) -> Option<Ns> {
    let r = t + d;
    (MIN..=MAX).contains(&r).then_some(r)
}

/// A wake-up instant, or `NEVER` past year 9999.
pub(crate) fn wake(t: Ns) -> Ns {
    if t >= WAKE_LIMIT {
        NEVER
    } else {
        t
    }
}

/// Whole days as nanoseconds.
pub(crate) fn days(n: u32) -> Ns {
    i128::from(n) * DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_and_the_wake_limit_are_chronos() {
        assert_eq!(ns(DateTime::<Utc>::MIN_UTC), Some(MIN));
        assert_eq!(ns(DateTime::<Utc>::MAX_UTC), Some(MAX));
        let y10k = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(midnight(y10k), WAKE_LIMIT);
        let t: DateTime<Utc> = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(to_time(ns(t).unwrap()), Some(t));
        assert_eq!(day_of(ns(t).unwrap()), -1);
        assert_eq!(midnight("1970-01-02".parse().unwrap()), DAY);
    }

    #[test]
    fn leap_seconds_are_reported() {
        let leap: DateTime<Utc> = "2016-12-31T23:59:60Z".parse().unwrap();
        assert_eq!(ns(leap), None);
    }
}
