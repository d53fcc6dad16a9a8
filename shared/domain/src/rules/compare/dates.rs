//! Date operands (absolute days and instants, relative offsets like `-30d`), periods (`30d`) and the
//! time-aware comparison of a date fact with them, including when the answer next changes.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Hours,
    Days,
    Weeks,
}

impl TimeUnit {
    fn letter(self) -> char {
        match self {
            TimeUnit::Hours => 'h',
            TimeUnit::Days => 'd',
            TimeUnit::Weeks => 'w',
        }
    }

    fn hours(self) -> i64 {
        match self {
            TimeUnit::Hours => 1,
            TimeUnit::Days => 24,
            TimeUnit::Weeks => 24 * 7,
        }
    }
}

/// A date operand, resolved against `now` at evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum DateOperand {
    /// A whole UTC day.
    Day(NaiveDate),
    /// An instant.
    At(DateTime<Utc>),
    /// `now + offset`; `amount` and `unit` keep the written form.
    Relative {
        amount: i64,
        unit: TimeUnit,
        offset: Duration,
    },
}

impl DateOperand {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let expected = "expected a date (2026-01-01), an RFC 3339 time (2026-01-01T10:00:00Z) or a time relative to \
                        now (now, -30d, +7d, -12h, +2w; units h, d, w; at most 100000)";
        let Value::String(s) = v else {
            return Err(invalid(path, format!("{expected}, found {}", kind_of(v))));
        };
        Self::parse_str(s).ok_or_else(|| invalid(path, format!("{expected}, found {}", short(v))))
    }

    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        if s == "now" {
            return Some(Self::relative(0, TimeUnit::Days));
        }
        if let Some(r) = parse_relative(s) {
            return Some(r);
        }
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(DateOperand::Day);
        }
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| DateOperand::At(t.with_timezone(&Utc)))
    }

    fn relative(amount: i64, unit: TimeUnit) -> Self {
        // `+0h` and `now` are the same operand, written back as `now`.
        let unit = if amount == 0 { TimeUnit::Days } else { unit };
        DateOperand::Relative {
            amount,
            unit,
            offset: Duration::hours(amount * unit.hours()),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            DateOperand::Day(d) => d.format("%Y-%m-%d").to_string().into(),
            DateOperand::At(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true).into(),
            DateOperand::Relative { amount: 0, .. } => "now".into(),
            DateOperand::Relative { amount, unit, .. } => format!("{amount:+}{}", unit.letter()).into(),
        }
    }
}

fn parse_relative(s: &str) -> Option<DateOperand> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let unit = match rest.as_bytes().last()? {
        b'h' => TimeUnit::Hours,
        b'd' => TimeUnit::Days,
        b'w' => TimeUnit::Weeks,
        _ => return None,
    };
    let digits = &rest[..rest.len() - 1];
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: i64 = digits.parse().ok()?;
    (amount <= MAX_RELATIVE).then(|| DateOperand::relative(sign * amount, unit))
}

/// A look-back period of whole days (`30d`, `4w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub amount: u32,
    pub unit: TimeUnit,
}

impl Period {
    pub(crate) fn parse(v: &Value, path: &str, max_days: i64) -> Result<Self> {
        let expected = format!("expected a period in days or weeks, e.g. 30d or 4w, of 1 to {max_days} days");
        let parsed = v.as_str().and_then(parse_relative);
        match parsed {
            Some(DateOperand::Relative { amount, unit, .. })
                if unit != TimeUnit::Hours && v.as_str().is_some_and(|s| !s.starts_with(['+', '-'])) =>
            {
                let p = Period {
                    amount: u32::try_from(amount).unwrap_or(0),
                    unit,
                };
                if (1..=max_days).contains(&p.days()) {
                    Ok(p)
                } else {
                    Err(invalid(path, expected))
                }
            }
            _ => Err(invalid(path, format!("{expected}, found {}", short(v)))),
        }
    }

    pub fn days(self) -> i64 {
        i64::from(self.amount) * self.unit.hours() / 24
    }

    pub(crate) fn to_json(self) -> Value {
        format!("{}{}", self.amount, self.unit.letter()).into()
    }
}

/// Midnight UTC starting a day.
pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `t + d`, saturating at the ends of chrono's range.
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

pub(crate) fn sub(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

const NANO: Duration = Duration::nanoseconds(1);
const DAY: Duration = Duration::days(1);

impl Test<DateOperand> {
    /// Compares a date fact with the operands at `now`, with the instant the answer can change.
    pub(crate) fn check_at(&self, v: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Outcome {
        let Some(v) = v else {
            return Outcome::fixed(matches!(self, Test::Missing));
        };
        match self {
            Test::Cmp(op, t) => compare_date(*op, v, t, now),
            Test::Between(a, b) => compare_date(CmpOp::Ge, v, a, now).and(compare_date(CmpOp::Le, v, b, now)),
            Test::In(ts) => any_equal(ts, v, now),
            Test::NotIn(ts) => any_equal(ts, v, now).not(),
            Test::Exists => Outcome::fixed(true),
            Test::Missing | Test::Contains(_) | Test::StartsWith(_) => Outcome::fixed(false),
        }
    }
}

fn any_equal(ts: &[DateOperand], v: DateTime<Utc>, now: DateTime<Utc>) -> Outcome {
    let mut acc = crate::rules::AnyOf::default();
    for t in ts {
        if acc.add(compare_date(CmpOp::Eq, v, t, now)) {
            break;
        }
    }
    acc.finish()
}

/// `v <op> t` for one of `= != < <= > >=`. With a relative operand `t = now + offset`, so
/// `v <op> now + offset` is `v - offset <op> now`: a window of `now` bounded by `b = v - offset`.
pub(crate) fn compare_date(op: CmpOp, v: DateTime<Utc>, t: &DateOperand, now: DateTime<Utc>) -> Outcome {
    match t {
        DateOperand::Day(d) => {
            let (start, end) = (midnight(*d), add(midnight(*d), DAY));
            Outcome::fixed(match op {
                CmpOp::Lt => v < start,
                CmpOp::Le => v < end,
                CmpOp::Gt => v >= end,
                CmpOp::Ge => v >= start,
                CmpOp::Eq => start <= v && v < end,
                CmpOp::Ne => !(start <= v && v < end),
                _ => false,
            })
        }
        DateOperand::At(t) => Outcome::fixed(match op {
            CmpOp::Eq => v.date_naive() == t.date_naive(),
            CmpOp::Ne => v.date_naive() != t.date_naive(),
            op => op.holds(v.partial_cmp(t)),
        }),
        DateOperand::Relative { offset, .. } => {
            let b = sub(v, *offset);
            match op {
                CmpOp::Lt => window(Some(add(b, NANO)), None, now),
                CmpOp::Le => window(Some(b), None, now),
                CmpOp::Gt => window(None, Some(b), now),
                CmpOp::Ge => window(None, Some(add(b, NANO)), now),
                CmpOp::Eq | CmpOp::Ne => {
                    // Same day: `now + offset` lies in [day start, next midnight).
                    let day = midnight(v.date_naive());
                    let same = window(Some(sub(day, *offset)), Some(sub(add(day, DAY), *offset)), now);
                    if op == CmpOp::Eq {
                        same
                    } else {
                        same.not()
                    }
                }
                _ => Outcome::fixed(false),
            }
        }
    }
}
