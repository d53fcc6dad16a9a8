//! Money conditions (seed 003): lifetime payments, payments over one year, expenses over a period;
//! and a cashback balance (issue 15).
//!
//! Windows are whole UTC days: "the last N days" are the days `today - N < day <= today`, so an entry
//! dated `day` counts from midnight of `day` until midnight of `day + N` (payments over a year: N = 365).

use super::compare::{midnight, CmpOp, Period, Test};
use super::reader::{self, invalid, Fields};
use super::{wake, Outcome};
use crate::activity::{is_currency, Ledger, LEDGER_DAYS};
use crate::balance::{Balances, Unit};
use crate::error::Result;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

/// Days of "payments over one year".
pub const YEAR_DAYS: i64 = 365;

/// An amount in one currency compared with minor units (cents).
#[derive(Debug, Clone, PartialEq)]
pub struct MoneyTest {
    pub currency: String,
    pub amount: Test<i64>,
}

impl MoneyTest {
    fn parse(f: &Fields) -> Result<Self> {
        let path = f.path_of("currency");
        let currency = reader::string(f.required("currency")?, &path)?;
        if !is_currency(&currency) {
            return Err(invalid(
                &path,
                format!("{currency:?} is not a currency code: use three capital letters (ISO 4217), e.g. EUR"),
            ));
        }
        let amount = Test::parse(f, "amount_minor", &CmpOp::ORDER, "an amount", |v, p| {
            reader::integer(v, p, i64::MIN, i64::MAX)
        })?;
        Ok(MoneyTest { currency, amount })
    }

    pub(crate) fn parse_total(v: &Value, path: &str) -> Result<Self> {
        Self::parse(&Fields::new(
            v,
            path,
            &["currency", "op", "amount_minor", "from", "to"],
        )?)
    }

    fn write(&self, m: &mut Map<String, Value>) {
        m.insert("currency".into(), self.currency.clone().into());
        self.amount.write(m, "amount_minor", |n| (*n).into());
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.write(&mut m);
        Value::Object(m)
    }

    /// Lifetime total.
    pub(crate) fn check_total(&self, ledger: &Ledger) -> Outcome {
        Outcome::fixed(self.amount.check(Some(&ledger.total(&self.currency))))
    }

    /// Sum over the last `days` days.
    pub(crate) fn check_window(&self, ledger: &Ledger, days: i64, now: DateTime<Utc>) -> Outcome {
        let today = now.date_naive();
        let span = Duration::days(days);
        let mut sum = 0i64;
        let mut next: Option<DateTime<Utc>> = None;
        for e in ledger
            .entries
            .iter()
            .filter(|e| e.currency == self.currency && e.amount_minor != 0)
        {
            let enters = midnight(e.on);
            let leaves = enters.checked_add_signed(span);
            if e.on <= today && leaves.is_some_and(|l| now < l) {
                sum = sum.saturating_add(e.amount_minor);
            }
            let boundary = if now < enters {
                Some(enters)
            } else {
                leaves.filter(|l| now < *l)
            };
            next = super::min_time(next, boundary.and_then(wake));
        }
        let matched = self.amount.check(Some(&sum));
        Outcome {
            matched,
            next_change: next,
        }
    }
}

/// "Expenses amount": expenses in a currency over the last period.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpensesTest {
    pub money: MoneyTest,
    pub period: Period,
}

impl ExpensesTest {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(v, path, &["currency", "op", "amount_minor", "from", "to", "period"])?;
        Ok(ExpensesTest {
            money: MoneyTest::parse(&f)?,
            period: Period::parse(f.required("period")?, &f.path_of("period"), LEDGER_DAYS)?,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        self.money.write(&mut m);
        m.insert("period".into(), self.period.to_json());
        Value::Object(m)
    }

    pub(crate) fn check(&self, ledger: &Ledger, now: DateTime<Utc>) -> Outcome {
        self.money.check_window(ledger, self.period.days(), now)
    }
}

/// "Balance": the customer's balance in one unit (an ISO 4217 code or `points`; none held = 0)
/// compared with minor units.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceTest {
    pub unit: Unit,
    pub amount: Test<i64>,
}

impl BalanceTest {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(v, path, &["unit", "op", "amount_minor", "from", "to"])?;
        let unit_path = f.path_of("unit");
        let text = reader::string(f.required("unit")?, &unit_path)?;
        let unit = Unit::parse(&text).map_err(|_| {
            invalid(
                &unit_path,
                format!("{text:?} is neither an active ISO 4217 code (upper case, e.g. EUR) nor \"points\""),
            )
        })?;
        let amount = Test::parse(&f, "amount_minor", &CmpOp::ORDER, "an amount", |v, p| {
            reader::integer(v, p, i64::MIN, i64::MAX)
        })?;
        Ok(BalanceTest { unit, amount })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("unit".into(), self.unit.to_string().into());
        self.amount.write(&mut m, "amount_minor", |n| (*n).into());
        Value::Object(m)
    }

    /// Balances change only by writes, never with time.
    pub(crate) fn check(&self, balances: &Balances) -> Outcome {
        Outcome::fixed(self.amount.check(Some(&balances.get(&self.unit).copied().unwrap_or(0))))
    }
}
