//! The conditions a rule tree is built from: one variant per condition type, each parsed once from its
//! JSON (`{"<type>": {...}}`) into a form that evaluates without allocating.

use super::attribute::AttributeTest;
use super::compare::{midnight, CmpOp, DateOperand, Test};
use super::lifecycle::Lifecycle;
use super::money::{BalanceTest, ExpensesTest, MoneyTest, YEAR_DAYS};
use super::reader::{self, invalid, Fields};
use super::service::{parse_count, ServiceCount, ServiceFilter};
use super::{EvalContext, Outcome};
use crate::customer::Customer;
use crate::error::Result;
use crate::ids::{CustomerId, GroupId};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::ops::Not;

/// Most ids in one `selected_customers` condition.
pub const MAX_SELECTED: usize = 10_000;

/// One condition of a rule tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `all_customers: {}`.
    AllCustomers,
    /// `member_of: {"group_id"}`: the customer is in that group.
    MemberOf(GroupId),
    /// `registration_date: {op, value | from/to | values}` on the customer's registration date.
    RegistrationDate(Test<DateOperand>),
    /// `first_expense_date: {op, ...}` on the first expense (missing: only `missing` matches).
    FirstExpenseDate(Test<DateOperand>),
    /// `has_service: {filters}`: a subscription matching every filter.
    HasService(ServiceFilter),
    /// `no_service: {filters}`: no subscription matching every filter.
    NoService(ServiceFilter),
    /// `service_count: {application?, product?, plan?, op, value}`: held subscriptions.
    ServiceCount(ServiceCount),
    /// `paid_service_count`: held paid subscriptions.
    PaidServiceCount(ServiceCount),
    /// `email_verified: {"verified": bool}`.
    EmailVerified(bool),
    /// `verified_phone_missing: {}`: no phone, or not verified.
    VerifiedPhoneMissing,
    /// `activation_required: {}`.
    ActivationRequired,
    /// `payments_amount: {op, currency, amount_minor}`: lifetime credited payments.
    PaymentsAmount(MoneyTest),
    /// `payments_over_year`: payments on the last 365 days.
    PaymentsOverYear(MoneyTest),
    /// `expenses_amount: {op, currency, amount_minor, period}`.
    ExpensesAmount(ExpensesTest),
    /// `selected_customers: {"ids": "c1 c2\nc3"}`.
    SelectedCustomers(HashSet<CustomerId>),
    /// `attribute: {field, op, ...}`: a profile field or custom attribute.
    Attribute(AttributeTest),
    /// `tags: {"has_any" | "has_all" | "has_none": [...]}`.
    Tags(TagTest),
    /// `bookings: {op, value}`: number of bookings.
    Bookings(Test<i64>),
    /// `balance: {unit, op, amount_minor}`: the cashback balance in one unit (issue 15).
    Balance(BalanceTest),
    /// `lifecycle: {states, ...}`: Tonos lifecycle states.
    Lifecycle(Lifecycle),
}

/// The tags a customer must have (any, all) or not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagTest {
    HasAny(Vec<String>),
    HasAll(Vec<String>),
    HasNone(Vec<String>),
}

/// Every condition type, as written in JSON.
pub const CONDITION_TYPES: [&str; 20] = [
    "all_customers",
    "member_of",
    "registration_date",
    "first_expense_date",
    "has_service",
    "no_service",
    "service_count",
    "paid_service_count",
    "email_verified",
    "verified_phone_missing",
    "activation_required",
    "payments_amount",
    "payments_over_year",
    "expenses_amount",
    "selected_customers",
    "attribute",
    "tags",
    "bookings",
    "lifecycle",
    "balance",
];

const DATE_OPS: [CmpOp; 11] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
    CmpOp::Between,
    CmpOp::In,
    CmpOp::NotIn,
    CmpOp::Exists,
    CmpOp::Missing,
];

impl Condition {
    /// The condition type as written in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::AllCustomers => "all_customers",
            Condition::MemberOf(_) => "member_of",
            Condition::RegistrationDate(_) => "registration_date",
            Condition::FirstExpenseDate(_) => "first_expense_date",
            Condition::HasService(_) => "has_service",
            Condition::NoService(_) => "no_service",
            Condition::ServiceCount(_) => "service_count",
            Condition::PaidServiceCount(_) => "paid_service_count",
            Condition::EmailVerified(_) => "email_verified",
            Condition::VerifiedPhoneMissing => "verified_phone_missing",
            Condition::ActivationRequired => "activation_required",
            Condition::PaymentsAmount(_) => "payments_amount",
            Condition::PaymentsOverYear(_) => "payments_over_year",
            Condition::ExpensesAmount(_) => "expenses_amount",
            Condition::SelectedCustomers(_) => "selected_customers",
            Condition::Attribute(_) => "attribute",
            Condition::Tags(_) => "tags",
            Condition::Bookings(_) => "bookings",
            Condition::Balance(_) => "balance",
            Condition::Lifecycle(_) => "lifecycle",
        }
    }

    /// Parses the parameters `v` of a condition of type `kind`; `path` is the path of the parameters.
    pub(crate) fn parse(kind: &str, v: &Value, path: &str) -> Result<Self> {
        let date = |v: &Value| -> Result<Test<DateOperand>> {
            let f = Fields::new(v, path, &["op", "value", "values", "from", "to"])?;
            Test::parse(&f, "value", &DATE_OPS, "a date", DateOperand::parse)
        };
        Ok(match kind {
            "all_customers" => no_fields(v, path, Condition::AllCustomers)?,
            "member_of" => {
                let f = Fields::new(v, path, &["group_id"])?;
                let id = reader::string(f.required("group_id")?, &f.path_of("group_id"))?;
                let id = GroupId::parse(&id).map_err(|e| invalid(&f.path_of("group_id"), e.to_string()))?;
                Condition::MemberOf(id)
            }
            "registration_date" => Condition::RegistrationDate(date(v)?),
            "first_expense_date" => Condition::FirstExpenseDate(date(v)?),
            "has_service" => Condition::HasService(ServiceFilter::parse(v, path)?),
            "no_service" => Condition::NoService(ServiceFilter::parse(v, path)?),
            "service_count" => Condition::ServiceCount(ServiceCount::parse(v, path)?),
            "paid_service_count" => Condition::PaidServiceCount(ServiceCount::parse(v, path)?),
            "email_verified" => {
                let f = Fields::new(v, path, &["verified"])?;
                f.required("verified")?;
                Condition::EmailVerified(f.bool("verified")?.unwrap_or(true))
            }
            "verified_phone_missing" => no_fields(v, path, Condition::VerifiedPhoneMissing)?,
            "activation_required" => no_fields(v, path, Condition::ActivationRequired)?,
            "payments_amount" => Condition::PaymentsAmount(MoneyTest::parse_total(v, path)?),
            "payments_over_year" => Condition::PaymentsOverYear(MoneyTest::parse_total(v, path)?),
            "expenses_amount" => Condition::ExpensesAmount(ExpensesTest::parse(v, path)?),
            "selected_customers" => Condition::SelectedCustomers(parse_selected(v, path)?),
            "attribute" => Condition::Attribute(AttributeTest::parse(v, path)?),
            "tags" => Condition::Tags(parse_tags(v, path)?),
            "bookings" => {
                let f = Fields::new(v, path, &["op", "value", "from", "to"])?;
                Condition::Bookings(parse_count(&f, "a number of bookings")?)
            }
            "lifecycle" => Condition::Lifecycle(Lifecycle::parse(v, path)?),
            "balance" => Condition::Balance(BalanceTest::parse(v, path)?),
            other => {
                return Err(invalid(
                    path,
                    format!(
                        "unknown condition type {other:?}; expected all, any, not or one of {}",
                        CONDITION_TYPES.join(", ")
                    ),
                ))
            }
        })
    }

    /// `{"<type>": {parameters}}`.
    pub fn to_json(&self) -> Value {
        let params = match self {
            Condition::AllCustomers | Condition::VerifiedPhoneMissing | Condition::ActivationRequired => json!({}),
            Condition::MemberOf(id) => json!({ "group_id": id.as_str() }),
            Condition::RegistrationDate(t) | Condition::FirstExpenseDate(t) => {
                let mut m = Map::new();
                t.write(&mut m, "value", DateOperand::to_json);
                Value::Object(m)
            }
            Condition::HasService(f) | Condition::NoService(f) => f.to_json(),
            Condition::ServiceCount(c) | Condition::PaidServiceCount(c) => c.to_json(),
            Condition::EmailVerified(b) => json!({ "verified": b }),
            Condition::PaymentsAmount(m) | Condition::PaymentsOverYear(m) => m.to_json(),
            Condition::ExpensesAmount(e) => e.to_json(),
            Condition::SelectedCustomers(ids) => {
                let mut ids: Vec<&str> = ids.iter().map(CustomerId::as_str).collect();
                ids.sort_unstable();
                json!({ "ids": ids.join(" ") })
            }
            Condition::Attribute(a) => a.to_json(),
            Condition::Tags(t) => {
                let (k, list) = match t {
                    TagTest::HasAny(l) => ("has_any", l),
                    TagTest::HasAll(l) => ("has_all", l),
                    TagTest::HasNone(l) => ("has_none", l),
                };
                json!({ k: list })
            }
            Condition::Bookings(t) => {
                let mut m = Map::new();
                t.write(&mut m, "value", |n| (*n).into());
                Value::Object(m)
            }
            Condition::Lifecycle(l) => l.to_json(),
            Condition::Balance(b) => b.to_json(),
        };
        json!({ self.kind(): params })
    }

    /// Evaluates the condition for one customer at `ctx.now`.
    pub fn evaluate(&self, c: &Customer, ctx: &EvalContext) -> Outcome {
        let now = ctx.now;
        match self {
            Condition::AllCustomers => Outcome::fixed(true),
            Condition::MemberOf(id) => Outcome::fixed((ctx.in_group)(id)),
            Condition::RegistrationDate(t) => t.check_at(c.registration_date.map(midnight), now),
            Condition::FirstExpenseDate(t) => t.check_at(c.activity.expenses.first_at, now),
            Condition::HasService(f) => f.has_service(c, now),
            Condition::NoService(f) => f.has_service(c, now).not(),
            Condition::ServiceCount(s) => Outcome::fixed(s.check(c, false)),
            Condition::PaidServiceCount(s) => Outcome::fixed(s.check(c, true)),
            Condition::EmailVerified(v) => Outcome::fixed(c.email_verified == *v),
            Condition::VerifiedPhoneMissing => Outcome::fixed(c.phone.is_none() || !c.phone_verified),
            Condition::ActivationRequired => Outcome::fixed(c.activation_required),
            Condition::PaymentsAmount(m) => m.check_total(&c.activity.payments),
            Condition::PaymentsOverYear(m) => m.check_window(&c.activity.payments, YEAR_DAYS, now),
            Condition::ExpensesAmount(e) => e.check(&c.activity.expenses, now),
            Condition::SelectedCustomers(ids) => Outcome::fixed(ids.contains(&c.id)),
            Condition::Attribute(a) => a.check(c, now),
            Condition::Tags(t) => Outcome::fixed(match t {
                TagTest::HasAny(l) => l.iter().any(|x| c.tags.contains(x)),
                TagTest::HasAll(l) => l.iter().all(|x| c.tags.contains(x)),
                TagTest::HasNone(l) => !l.iter().any(|x| c.tags.contains(x)),
            }),
            Condition::Bookings(t) => Outcome::fixed(t.check(Some(&i64::from(c.activity.bookings)))),
            Condition::Balance(b) => b.check(&c.balances),
            Condition::Lifecycle(l) => l.check(c, ctx),
        }
    }
}

fn no_fields(v: &Value, path: &str, c: Condition) -> Result<Condition> {
    Fields::new(v, path, &[])?;
    Ok(c)
}

fn parse_selected(v: &Value, path: &str) -> Result<HashSet<CustomerId>> {
    let f = Fields::new(v, path, &["ids"])?;
    let ids_path = f.path_of("ids");
    let Some(raw) = f.required("ids")?.as_str() else {
        return Err(invalid(
            &ids_path,
            "expected customer ids in one string, separated by spaces, commas or new lines",
        ));
    };
    let mut ids = HashSet::new();
    for part in raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let id = CustomerId::parse(part).map_err(|_| {
            invalid(
                &ids_path,
                format!("{part:?} is not a customer id: use 1 to 128 letters, digits, '-', '_', '.' or ':'"),
            )
        })?;
        ids.insert(id);
        if ids.len() > MAX_SELECTED {
            return Err(invalid(&ids_path, format!("at most {MAX_SELECTED} customer ids")));
        }
    }
    if ids.is_empty() {
        return Err(invalid(&ids_path, "give at least one customer id"));
    }
    Ok(ids)
}

fn parse_tags(v: &Value, path: &str) -> Result<TagTest> {
    let f = Fields::new(v, path, &["has_any", "has_all", "has_none"])?;
    let given: Vec<&str> = ["has_any", "has_all", "has_none"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    let [k] = given[..] else {
        return Err(invalid(path, "give exactly one of has_any, has_all or has_none"));
    };
    let list = f.strings(k)?.unwrap_or_default();
    Ok(match k {
        "has_any" => TagTest::HasAny(list),
        "has_all" => TagTest::HasAll(list),
        _ => TagTest::HasNone(list),
    })
}
