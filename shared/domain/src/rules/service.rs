//! Service conditions (seed 003): "client has services", "no services", "number of (paid) services".

use super::compare::{compare_date, CmpOp, DateOperand, Test};
use super::reader::{self, invalid, Fields};
use super::{AnyOf, Outcome};
use crate::customer::{Customer, Subscription, SubscriptionStatus};
use crate::error::Result;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A set of subscription statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSet(u8);

const STATUSES: [(SubscriptionStatus, &str); 5] = [
    (SubscriptionStatus::Active, "active"),
    (SubscriptionStatus::Pending, "pending"),
    (SubscriptionStatus::Suspended, "suspended"),
    (SubscriptionStatus::Canceled, "canceled"),
    (SubscriptionStatus::Expired, "expired"),
];

impl StatusSet {
    /// Active, pending and suspended: the statuses of a held service (seed 003).
    pub const HELD: StatusSet = StatusSet(0b00111);

    fn bit(s: SubscriptionStatus) -> u8 {
        1 << STATUSES.iter().position(|(x, _)| *x == s).unwrap_or(0)
    }

    pub fn contains(self, s: SubscriptionStatus) -> bool {
        self.0 & Self::bit(s) != 0
    }

    fn parse(v: &Value, path: &str) -> Result<Self> {
        let mut set = 0;
        for (i, item) in reader::array(v, path)?.iter().enumerate() {
            let found = STATUSES.iter().find(|(_, name)| item.as_str() == Some(name));
            let Some((status, _)) = found else {
                return Err(invalid(
                    &reader::index(path, i),
                    format!(
                        "unknown status {}; expected one of active, pending, suspended, canceled, expired",
                        reader::short(item)
                    ),
                ));
            };
            set |= Self::bit(*status);
        }
        Ok(StatusSet(set))
    }

    fn to_json(self) -> Value {
        STATUSES
            .iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, name)| Value::from(*name))
            .collect()
    }
}

/// Which subscriptions count: every given filter must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceFilter {
    pub application: Option<String>,
    pub product: Option<String>,
    pub plan: Option<String>,
    pub period: Option<String>,
    /// `None`: the held statuses (active, pending, suspended).
    pub status: Option<StatusSet>,
    pub paid: Option<bool>,
    /// Compared with `subscribed_at` (`>=`); a subscription without it does not match.
    pub ordered_from: Option<DateOperand>,
    /// Compared with `subscribed_at` (`<=`, a date includes its whole day).
    pub ordered_to: Option<DateOperand>,
}

const FILTER_FIELDS: [&str; 8] = [
    "application",
    "product",
    "plan",
    "period",
    "status",
    "paid",
    "ordered_from",
    "ordered_to",
];

impl ServiceFilter {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(v, path, &FILTER_FIELDS)?;
        let date = |k: &str| f.get(k).map(|v| DateOperand::parse(v, &f.path_of(k))).transpose();
        Ok(ServiceFilter {
            application: f.string("application")?,
            product: f.string("product")?,
            plan: f.string("plan")?,
            period: f.string("period")?,
            status: f
                .get("status")
                .map(|v| StatusSet::parse(v, &f.path_of("status")))
                .transpose()?,
            paid: f.bool("paid")?,
            ordered_from: date("ordered_from")?,
            ordered_to: date("ordered_to")?,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        put_text(&mut m, "application", &self.application);
        put_text(&mut m, "product", &self.product);
        put_text(&mut m, "plan", &self.plan);
        put_text(&mut m, "period", &self.period);
        if let Some(s) = self.status {
            m.insert("status".into(), s.to_json());
        }
        if let Some(p) = self.paid {
            m.insert("paid".into(), p.into());
        }
        if let Some(d) = &self.ordered_from {
            m.insert("ordered_from".into(), d.to_json());
        }
        if let Some(d) = &self.ordered_to {
            m.insert("ordered_to".into(), d.to_json());
        }
        Value::Object(m)
    }

    /// Whether the customer has a subscription matching every filter.
    pub(crate) fn has_service(&self, c: &Customer, now: DateTime<Utc>) -> Outcome {
        let mut acc = AnyOf::default();
        for s in &c.subscriptions {
            if acc.add(self.matches(s, now)) {
                break;
            }
        }
        acc.finish()
    }

    fn matches(&self, s: &Subscription, now: DateTime<Utc>) -> Outcome {
        let fixed = self.status.unwrap_or(StatusSet::HELD).contains(s.status)
            && self.paid.is_none_or(|p| p == s.paid)
            && same(&self.application, Some(&s.application))
            && same(&self.product, s.product.as_ref())
            && same(&self.plan, s.plan.as_ref())
            && same(&self.period, s.period.as_ref());
        if !fixed {
            return Outcome::fixed(false);
        }
        let mut out = Outcome::fixed(true);
        for (op, bound) in [(CmpOp::Ge, &self.ordered_from), (CmpOp::Le, &self.ordered_to)] {
            if let Some(bound) = bound {
                out = out.and(match s.subscribed_at {
                    Some(at) => compare_date(op, at, bound, now),
                    None => Outcome::fixed(false),
                });
            }
        }
        out
    }
}

/// "Number of (paid) services": held subscriptions matching the filters, compared with a count.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCount {
    pub application: Option<String>,
    pub product: Option<String>,
    pub plan: Option<String>,
    pub count: Test<i64>,
}

impl ServiceCount {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(
            v,
            path,
            &["application", "product", "plan", "op", "value", "from", "to"],
        )?;
        Ok(ServiceCount {
            application: f.string("application")?,
            product: f.string("product")?,
            plan: f.string("plan")?,
            count: parse_count(&f, "a number of services")?,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        put_text(&mut m, "application", &self.application);
        put_text(&mut m, "product", &self.product);
        put_text(&mut m, "plan", &self.plan);
        self.count.write(&mut m, "value", |n| (*n).into());
        Value::Object(m)
    }

    pub(crate) fn check(&self, c: &Customer, paid_only: bool) -> bool {
        let n = c
            .subscriptions
            .iter()
            .filter(|s| {
                s.status.is_held()
                    && (!paid_only || s.paid)
                    && same(&self.application, Some(&s.application))
                    && same(&self.product, s.product.as_ref())
                    && same(&self.plan, s.plan.as_ref())
            })
            .count();
        self.count.check(Some(&(n as i64)))
    }
}

/// `op` with a whole-number `value` (or `from`/`to`) from 0 to 2^32 - 1.
pub(crate) fn parse_count(f: &Fields, what: &str) -> Result<Test<i64>> {
    Test::parse(f, "value", &CmpOp::ORDER, what, |v, p| {
        reader::integer(v, p, 0, i64::from(u32::MAX))
    })
}

fn same(filter: &Option<String>, value: Option<&String>) -> bool {
    filter.as_ref().is_none_or(|f| value == Some(f))
}

pub(crate) fn put_text(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.into(), v.clone().into());
    }
}
