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
mod dates;
pub(crate) use dates::{add, compare_date, midnight, sub};
pub use dates::{DateOperand, Period, TimeUnit};
