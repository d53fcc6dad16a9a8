//! Comparisons of one customer fact with the operands of a condition: the operators, their operands
//! (parsed once, at parse time) and the time-aware comparison of dates.
//!
//! Dates: a fact is an instant; date-only facts (signup_date, registration_date, date attributes) are
//! midnight UTC of their day. An operand is either an instant (RFC 3339 `2026-01-01T10:00:00Z`, or
//! relative to now: `now`, `-30d`, `+7d`, `30d` = `+30d`, `-12h`, `+2w`) or a whole UTC day
//! (`2026-01-01`, from its midnight to the next). `<` means before the operand (before the day starts),
//! `<=` not after it (up to the end of the day), `>` after it (from the end of the day), `>=` not before
//! it, `between` is `>= from` and `<= to`; `=` means on the same UTC calendar day as the operand, `!=`
//! its negation, `in`/`not_in` `=` any of the values. A missing fact matches only `missing`.

use super::reader::{self, invalid, kind_of, short, Fields};
use super::{window, Outcome};
use crate::error::Result;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::ops::Not;

/// Largest amount of a relative time (`+100000d`).
const MAX_RELATIVE: i64 = 100_000;

/// A comparison operator as written in `"op"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "between")]
    Between,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not_in")]
    NotIn,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "starts_with")]
    StartsWith,
    #[serde(rename = "exists")]
    Exists,
    #[serde(rename = "missing")]
    Missing,
}

impl CmpOp {
    pub const ALL: [CmpOp; 13] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Between,
        CmpOp::In,
        CmpOp::NotIn,
        CmpOp::Contains,
        CmpOp::StartsWith,
        CmpOp::Exists,
        CmpOp::Missing,
    ];
    /// The operators of counts and amounts.
    pub const ORDER: [CmpOp; 7] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Between,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Between => "between",
            CmpOp::In => "in",
            CmpOp::NotIn => "not_in",
            CmpOp::Contains => "contains",
            CmpOp::StartsWith => "starts_with",
            CmpOp::Exists => "exists",
            CmpOp::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<CmpOp> {
        CmpOp::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// Whether an ordering satisfies one of `= != < <= > >=` (false for the others and for `None`).
    pub(crate) fn holds(self, ord: Option<Ordering>) -> bool {
        let Some(ord) = ord else { return false };
        match self {
            CmpOp::Eq => ord.is_eq(),
            CmpOp::Ne => ord.is_ne(),
            CmpOp::Lt => ord.is_lt(),
            CmpOp::Le => ord.is_le(),
            CmpOp::Gt => ord.is_gt(),
            CmpOp::Ge => ord.is_ge(),
            _ => false,
        }
    }
}

/// What a condition asks of one fact; `T` is the operand type, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub enum Test<T> {
    /// One of `= != < <= > >=`.
    Cmp(CmpOp, T),
    /// Inclusive on both ends.
    Between(T, T),
    In(Vec<T>),
    NotIn(Vec<T>),
    /// Text only.
    Contains(T),
    /// Text only.
    StartsWith(T),
    Exists,
    Missing,
}

impl<T> Test<T> {
    pub fn op(&self) -> CmpOp {
        match self {
            Test::Cmp(op, _) => *op,
            Test::Between(..) => CmpOp::Between,
            Test::In(_) => CmpOp::In,
            Test::NotIn(_) => CmpOp::NotIn,
            Test::Contains(_) => CmpOp::Contains,
            Test::StartsWith(_) => CmpOp::StartsWith,
            Test::Exists => CmpOp::Exists,
            Test::Missing => CmpOp::Missing,
        }
    }

    /// Reads `op` and its operands from a condition object. `value_key` names the single operand
    /// (`value`, or `amount_minor` for money); `allowed` are the operators the fact supports.
    pub(crate) fn parse(
        f: &Fields,
        value_key: &str,
        allowed: &[CmpOp],
        what: &str,
        mut operand: impl FnMut(&Value, &str) -> Result<T>,
    ) -> Result<Self> {
        let op_path = f.path_of("op");
        let op_value = f.required("op")?;
        let names = || allowed.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ");
        let op = op_value.as_str().and_then(CmpOp::parse).ok_or_else(|| {
            invalid(
                &op_path,
                format!("unknown operator {}; expected one of {}", short(op_value), names()),
            )
        })?;
        if !allowed.contains(&op) {
            return Err(invalid(
                &op_path,
                format!(
                    "operator {} does not apply to {what}; use one of {}",
                    op.as_str(),
                    names()
                ),
            ));
        }
        let keys: &[&str] = match op {
            CmpOp::Between => &["from", "to"],
            CmpOp::In | CmpOp::NotIn => &["values"],
            CmpOp::Exists | CmpOp::Missing => &[],
            _ => &[value_key],
        };
        for k in [value_key, "values", "from", "to"] {
            if f.has(k) && !keys.contains(&k) {
                let hint = match keys {
                    [] => format!("operator {} takes no operand", op.as_str()),
                    _ => format!("operator {} takes {}", op.as_str(), keys.join(" and ")),
                };
                return Err(invalid(&f.path_of(k), format!("unexpected {k}: {hint}")));
            }
        }
        let mut one = |k: &str| operand(f.required(k)?, &f.path_of(k));
        Ok(match op {
            CmpOp::Between => Test::Between(one("from")?, one("to")?),
            CmpOp::In | CmpOp::NotIn => {
                let path = f.path_of("values");
                let items = reader::array(f.required("values")?, &path)?
                    .iter()
                    .enumerate()
                    .map(|(i, v)| operand(v, &reader::index(&path, i)))
                    .collect::<Result<Vec<_>>>()?;
                if op == CmpOp::In {
                    Test::In(items)
                } else {
                    Test::NotIn(items)
                }
            }
            CmpOp::Contains => Test::Contains(one(value_key)?),
            CmpOp::StartsWith => Test::StartsWith(one(value_key)?),
            CmpOp::Exists => Test::Exists,
            CmpOp::Missing => Test::Missing,
            op => Test::Cmp(op, one(value_key)?),
        })
    }

    /// Writes `op` and its operands into a condition object.
    pub(crate) fn write(&self, m: &mut Map<String, Value>, value_key: &str, operand: impl Fn(&T) -> Value) {
        m.insert("op".into(), self.op().as_str().into());
        match self {
            Test::Cmp(_, t) | Test::Contains(t) | Test::StartsWith(t) => {
                m.insert(value_key.into(), operand(t));
            }
            Test::Between(a, b) => {
                m.insert("from".into(), operand(a));
                m.insert("to".into(), operand(b));
            }
            Test::In(ts) | Test::NotIn(ts) => {
                m.insert("values".into(), ts.iter().map(operand).collect());
            }
            Test::Exists | Test::Missing => {}
        }
    }
}

/// A plain (time-independent) operand type: text, number, integer or boolean.
pub trait Scalar {
    type View: ?Sized + PartialOrd;
    fn view(&self) -> &Self::View;
    fn text(_v: &Self::View) -> Option<&str> {
        None
    }
}

impl Scalar for String {
    type View = str;
    fn view(&self) -> &str {
        self
    }
    fn text(v: &str) -> Option<&str> {
        Some(v)
    }
}

macro_rules! copy_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            type View = $t;
            fn view(&self) -> &$t {
                self
            }
        }
    )*};
}
copy_scalar!(f64, i64, bool);

impl<T: Scalar> Test<T> {
    /// Compares a fact (`None` when missing) with the operands.
    pub(crate) fn check(&self, v: Option<&T::View>) -> bool {
        let Some(v) = v else {
            return matches!(self, Test::Missing);
        };
        match self {
            Test::Cmp(op, t) => op.holds(v.partial_cmp(t.view())),
            Test::Between(a, b) => v >= a.view() && v <= b.view(),
            Test::In(ts) => ts.iter().any(|t| t.view() == v),
            Test::NotIn(ts) => !ts.iter().any(|t| t.view() == v),
            Test::Contains(t) => T::text(v).zip(T::text(t.view())).is_some_and(|(v, t)| v.contains(t)),
            Test::StartsWith(t) => T::text(v).zip(T::text(t.view())).is_some_and(|(v, t)| v.starts_with(t)),
            Test::Exists => true,
            Test::Missing => false,
        }
    }
}

/// Unit of a relative time or a period.
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
    let mut acc = super::AnyOf::default();
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
