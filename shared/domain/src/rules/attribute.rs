//! The `attribute` condition: a profile field or a custom attribute compared with operands.
//!
//! Profile fields have a fixed type. A custom attribute (`attributes.<key>`) takes the type of its
//! operand: a JSON number is a number, `true`/`false` a boolean, a string that reads as a date operand
//! (`2026-01-01`, an RFC 3339 time, `now`, `-30d`) a date, any other string text; `"type"` (`string`,
//! `number`, `boolean`, `date`) overrides that guess. A stored value of another type does not match
//! (except `missing`); `exists`/`missing` without `"type"` look at the key whatever its type.
//! Email is stored lower-case, so email operands are lower-cased; other text compares case-sensitively
//! (`<`, `>` lexicographically by bytes).

use super::compare::{midnight, CmpOp, DateOperand, Test};
use super::reader::{self, invalid, kind_of, Fields};
use super::Outcome;
use crate::customer::{AttributeValue, Customer};
use crate::error::Result;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The field an `attribute` condition reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Email,
    Phone,
    Name,
    OrderNumber,
    ExternalId,
    SignupDate,
    RegistrationDate,
    CreatedAt,
    LastActiveAt,
    FirstBookingAt,
    LastBookingAt,
    Bookings,
    EmailVerified,
    PhoneVerified,
    /// `attributes.<key>`.
    Custom(String),
}

const PROFILE_FIELDS: [(Field, &str, Kind); 14] = [
    (Field::Email, "email", Kind::Text),
    (Field::Phone, "phone", Kind::Text),
    (Field::Name, "name", Kind::Text),
    (Field::OrderNumber, "order_number", Kind::Text),
    (Field::ExternalId, "external_id", Kind::Text),
    (Field::SignupDate, "signup_date", Kind::Date),
    (Field::RegistrationDate, "registration_date", Kind::Date),
    (Field::CreatedAt, "created_at", Kind::Date),
    (Field::LastActiveAt, "last_active_at", Kind::Date),
    (Field::FirstBookingAt, "first_booking_at", Kind::Date),
    (Field::LastBookingAt, "last_booking_at", Kind::Date),
    (Field::Bookings, "bookings", Kind::Number),
    (Field::EmailVerified, "email_verified", Kind::Boolean),
    (Field::PhoneVerified, "phone_verified", Kind::Boolean),
];

impl Field {
    fn parse(v: &Value, path: &str) -> Result<Self> {
        let name = reader::string(v, path)?;
        if let Some(key) = name.strip_prefix("attributes.") {
            let ok = key.len() <= 64
                && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(invalid(
                    path,
                    format!("attribute name {key:?} must start with a letter or '_' and use only letters, digits and '_' (at most 64)"),
                ));
            }
            return Ok(Field::Custom(key.to_owned()));
        }
        PROFILE_FIELDS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, _)| f.clone())
            .ok_or_else(|| {
                let names: Vec<_> = PROFILE_FIELDS.iter().map(|(_, n, _)| *n).collect();
                invalid(
                    path,
                    format!(
                        "unknown field {name:?}; expected one of {} or attributes.<key>",
                        names.join(", ")
                    ),
                )
            })
    }

    pub fn name(&self) -> String {
        match self {
            Field::Custom(k) => format!("attributes.{k}"),
            f => PROFILE_FIELDS
                .iter()
                .find(|(x, _, _)| x == f)
                .map_or_else(String::new, |(_, n, _)| (*n).to_owned()),
        }
    }

    fn kind(&self) -> Option<Kind> {
        PROFILE_FIELDS.iter().find(|(x, _, _)| x == self).map(|(_, _, k)| *k)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Boolean,
    Date,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
        }
    }

    fn parse(v: &Value, path: &str) -> Result<Self> {
        [Kind::Text, Kind::Number, Kind::Boolean, Kind::Date]
            .into_iter()
            .find(|k| v.as_str() == Some(k.name()))
            .ok_or_else(|| invalid(path, "expected one of string, number, boolean, date"))
    }

    /// The type a custom attribute takes from its operand when `"type"` is not given.
    fn guess(v: &Value) -> Option<Kind> {
        match v {
            Value::Bool(_) => Some(Kind::Boolean),
            Value::Number(_) => Some(Kind::Number),
            Value::String(s) if DateOperand::parse_str(s).is_some() => Some(Kind::Date),
            Value::String(_) => Some(Kind::Text),
            _ => None,
        }
    }

    fn ops(self) -> &'static [CmpOp] {
        use CmpOp::*;
        match self {
            Kind::Text => &[
                Eq, Ne, Lt, Le, Gt, Ge, Between, In, NotIn, Contains, StartsWith, Exists, Missing,
            ],
            Kind::Number | Kind::Date => &[Eq, Ne, Lt, Le, Gt, Ge, Between, In, NotIn, Exists, Missing],
            Kind::Boolean => &[Eq, Ne, Exists, Missing],
        }
    }
}

/// The typed comparison of an `attribute` condition.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedTest {
    Text(Test<String>),
    Number(Test<f64>),
    Boolean(Test<bool>),
    Date(Test<DateOperand>),
    /// `exists`/`missing` on a custom attribute of any type.
    Presence {
        exists: bool,
    },
}

/// `attribute: {"field", "op", "value" | "values" | "from"/"to", "type"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeTest {
    pub field: Field,
    pub test: TypedTest,
}

impl AttributeTest {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(v, path, &["field", "op", "value", "values", "from", "to", "type"])?;
        let field = Field::parse(f.required("field")?, &f.path_of("field"))?;
        let given = f.get("type").map(|t| Kind::parse(t, &f.path_of("type"))).transpose()?;
        let kind = match (&field, given) {
            (Field::Custom(_), Some(k)) => Some(k),
            (Field::Custom(_), None) => {
                let first = ["value", "from", "to"]
                    .iter()
                    .find_map(|k| f.get(k))
                    .or_else(|| f.get("values").and_then(|v| v.as_array()).and_then(|a| a.first()));
                first.and_then(Kind::guess)
            }
            (_, Some(_)) => {
                return Err(invalid(
                    &f.path_of("type"),
                    "type applies to custom attributes (attributes.<key>) only",
                ))
            }
            (f, None) => f.kind(),
        };
        let name = field.name();
        let Some(kind) = kind else {
            // A custom attribute without an operand: exists/missing of any type.
            let op = f.required("op")?;
            return match op.as_str() {
                Some("exists") | Some("missing") if !f.has("values") => Ok(AttributeTest {
                    field,
                    test: TypedTest::Presence {
                        exists: op.as_str() == Some("exists"),
                    },
                }),
                _ => Err(invalid(
                    &f.path_of("value"),
                    format!("give a value (string, number, boolean or date) to compare {name} with"),
                )),
            };
        };
        let what = format!("{name} ({})", kind.name());
        let email = field == Field::Email;
        let expected = |v: &Value, p: &str, what_kind: &str| {
            invalid(
                p,
                format!(
                    "{name} is a {}: expected {what_kind}, found {}",
                    kind.name(),
                    kind_of(v)
                ),
            )
        };
        let test = match kind {
            Kind::Text => TypedTest::Text(Test::parse(&f, "value", kind.ops(), &what, |v, p| {
                if !v.is_string() {
                    return Err(expected(v, p, "a string"));
                }
                let s = reader::string(v, p)?;
                Ok(if email { s.to_lowercase() } else { s })
            })?),
            Kind::Number => TypedTest::Number(Test::parse(&f, "value", kind.ops(), &what, |v, p| {
                v.as_f64().ok_or_else(|| expected(v, p, "a number"))
            })?),
            Kind::Boolean => TypedTest::Boolean(Test::parse(&f, "value", kind.ops(), &what, |v, p| {
                v.as_bool().ok_or_else(|| expected(v, p, "true or false"))
            })?),
            Kind::Date => TypedTest::Date(Test::parse(&f, "value", kind.ops(), &what, |v, p| {
                if !v.is_string() {
                    return Err(expected(
                        v,
                        p,
                        "a date (2026-01-01), an RFC 3339 time or a relative time (-30d)",
                    ));
                }
                DateOperand::parse(v, p)
            })?),
        };
        Ok(AttributeTest { field, test })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("field".into(), self.field.name().into());
        let kind = match &self.test {
            TypedTest::Text(t) => {
                t.write(&mut m, "value", |s| s.clone().into());
                Kind::Text
            }
            TypedTest::Number(t) => {
                t.write(&mut m, "value", |n| (*n).into());
                Kind::Number
            }
            TypedTest::Boolean(t) => {
                t.write(&mut m, "value", |b| (*b).into());
                Kind::Boolean
            }
            TypedTest::Date(t) => {
                t.write(&mut m, "value", DateOperand::to_json);
                Kind::Date
            }
            TypedTest::Presence { exists } => {
                m.insert("op".into(), if *exists { "exists" } else { "missing" }.into());
                return Value::Object(m);
            }
        };
        if matches!(self.field, Field::Custom(_)) {
            // Written only where the operand alone would read back as another type.
            let first = ["value", "from", "to"]
                .iter()
                .find_map(|k| m.get(*k))
                .or_else(|| m.get("values").and_then(|v| v.as_array()).and_then(|a| a.first()));
            if first.and_then(Kind::guess) != Some(kind) {
                m.insert("type".into(), kind.name().into());
            }
        }
        Value::Object(m)
    }

    pub(crate) fn check(&self, c: &Customer, now: DateTime<Utc>) -> Outcome {
        let a = &c.activity;
        let text = |t: &Test<String>, v: Option<&str>| Outcome::fixed(t.check(v));
        let date = |t: &Test<DateOperand>, v: Option<DateTime<Utc>>| t.check_at(v, now);
        match (&self.field, &self.test) {
            (Field::Email, TypedTest::Text(t)) => text(t, c.email.as_ref().map(|e| e.as_str())),
            (Field::Phone, TypedTest::Text(t)) => text(t, c.phone.as_ref().map(|p| p.as_str())),
            (Field::Name, TypedTest::Text(t)) => text(t, c.name.as_deref()),
            (Field::OrderNumber, TypedTest::Text(t)) => text(t, c.order_number.as_deref()),
            (Field::ExternalId, TypedTest::Text(t)) => text(t, c.external_id.as_deref()),
            (Field::SignupDate, TypedTest::Date(t)) => date(t, c.signup_date.map(midnight)),
            (Field::RegistrationDate, TypedTest::Date(t)) => date(t, c.registration_date.map(midnight)),
            (Field::CreatedAt, TypedTest::Date(t)) => date(t, Some(c.created_at)),
            (Field::LastActiveAt, TypedTest::Date(t)) => date(t, a.last_active_at),
            (Field::FirstBookingAt, TypedTest::Date(t)) => date(t, a.first_booking_at),
            (Field::LastBookingAt, TypedTest::Date(t)) => date(t, a.last_booking_at),
            (Field::Bookings, TypedTest::Number(t)) => Outcome::fixed(t.check(Some(&f64::from(a.bookings)))),
            (Field::EmailVerified, TypedTest::Boolean(t)) => Outcome::fixed(t.check(Some(&c.email_verified))),
            (Field::PhoneVerified, TypedTest::Boolean(t)) => Outcome::fixed(t.check(Some(&c.phone_verified))),
            (Field::Custom(key), test) => check_custom(c.attributes.get(key), test, now),
            // Parsing pairs each profile field with its own type only.
            _ => Outcome::fixed(false),
        }
    }
}

fn check_custom(value: Option<&AttributeValue>, test: &TypedTest, now: DateTime<Utc>) -> Outcome {
    match (test, value) {
        (TypedTest::Presence { exists }, v) => Outcome::fixed(v.is_some() == *exists),
        (TypedTest::Text(t), Some(AttributeValue::String(s))) => Outcome::fixed(t.check(Some(s.as_str()))),
        (TypedTest::Number(t), Some(AttributeValue::Number(n))) => Outcome::fixed(t.check(Some(n))),
        (TypedTest::Boolean(t), Some(AttributeValue::Boolean(b))) => Outcome::fixed(t.check(Some(b))),
        (TypedTest::Date(t), Some(AttributeValue::Date(d))) => t.check_at(Some(midnight(*d)), now),
        // Missing, or stored with another type: only `missing` matches.
        (TypedTest::Text(t), _) => Outcome::fixed(t.check(None)),
        (TypedTest::Number(t), _) => Outcome::fixed(t.check(None)),
        (TypedTest::Boolean(t), _) => Outcome::fixed(t.check(None)),
        (TypedTest::Date(t), _) => t.check_at(None, now),
    }
}
