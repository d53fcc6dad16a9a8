//! Built-in templates: the predefined segments of seed 002, as rules over the customer's facts, with
//! the seed's optional narrowing by gender, customer group, aggregator and number of bookings.

use super::attribute::{AttributeTest, Field, TypedTest};
use super::compare::{CmpOp, DateOperand, Test};
use super::lifecycle::{Lifecycle, State, Timing};
use super::{Condition, Definition, Rule, RuleForm};
use crate::error::{DomainError, Result};
use crate::ids::GroupId;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A built-in template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
}

/// The optional extra conditions of a template (`extra` in a request), each ANDed with it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateExtras {
    /// The custom attribute `gender` is one of these.
    #[serde(default)]
    pub gender: Option<Vec<String>>,
    /// The customer is in this group.
    #[serde(default)]
    pub customer_group: Option<GroupId>,
    /// The custom attribute `aggregator` is one of these.
    #[serde(default)]
    pub aggregator: Option<Vec<String>>,
    /// `{"op": ">=", "value": 3}`: the number of bookings compared with a count.
    #[serde(default, deserialize_with = "bookings")]
    pub bookings: Option<(CmpOp, u32)>,
}

fn bookings<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<(CmpOp, u32)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bookings {
        op: CmpOp,
        value: u32,
    }
    Ok(Option::<Bookings>::deserialize(d)?.map(|b| (b.op, b.value)))
}

fn date(field: Field, op: CmpOp, at: &str) -> Rule {
    let operand = DateOperand::parse_str(at).expect("template dates are valid");
    Rule::Cond(Condition::Attribute(AttributeTest {
        field,
        test: TypedTest::Date(Test::Cmp(op, operand)),
    }))
}

fn lifecycle(state: State) -> Rule {
    Rule::Cond(Condition::Lifecycle(Lifecycle {
        states: [state].into_iter().collect(),
        applications: None,
        products: None,
        plans: None,
        timing: None::<Timing>,
    }))
}

/// The seed 002 segments. "Slipping away" reads `last_booking_at` (attended activities), not
/// `last_active_at` (any activity, logins included); customers who never booked are not slipping away.
pub fn templates() -> Vec<(Template, Rule)> {
    use CmpOp::{Ge, Gt, Le, Lt};
    use Field::{FirstBookingAt, LastBookingAt};
    vec![
        (
            Template {
                id: "new_leads",
                name: "New leads",
                description: "Customers with their first booking within the next 30 days.",
            },
            Rule::All(vec![date(FirstBookingAt, Gt, "now"), date(FirstBookingAt, Le, "+30d")]),
        ),
        (
            Template {
                id: "new_customers",
                name: "New customers",
                description: "Customers who have had their first booking within the last 30 days.",
            },
            Rule::All(vec![date(FirstBookingAt, Ge, "-30d"), date(FirstBookingAt, Le, "now")]),
        ),
        (
            Template {
                id: "active_customers",
                name: "Active customers",
                description: "Customers whose first booking is longer ago than 30 days and who have had at least one \
                              booking within the last 30 days.",
            },
            Rule::All(vec![
                date(FirstBookingAt, Lt, "-30d"),
                date(LastBookingAt, Ge, "-30d"),
                date(LastBookingAt, Le, "now"),
            ]),
        ),
        (
            Template {
                id: "active_members",
                name: "Active members",
                description: "Customers who still have a currently valid membership (lifecycle: subscribed).",
            },
            lifecycle(State::Subscribed),
        ),
        (
            Template {
                id: "terminating_members",
                name: "Terminating members",
                description: "Customers who still have a valid membership that has already been canceled (lifecycle: \
                              canceling).",
            },
            lifecycle(State::Canceling),
        ),
        (
            Template {
                id: "slipping_away",
                name: "Customers slipping away",
                description: "Customers who haven't attended an activity in the last 14 days (last booking 14 or more \
                              days ago).",
            },
            date(LastBookingAt, Le, "-14d"),
        ),
    ]
}

/// The template's rule, ANDed with the extra conditions (`All[template, extras...]`; the bare template
/// rule without extras). Errors name `template` or `extra.<field>`.
pub fn from_template(id: &str, extras: Option<&Value>) -> Result<Definition> {
    let all = templates();
    let Some((_, rule)) = all.iter().find(|(t, _)| t.id == id) else {
        let ids: Vec<_> = all.iter().map(|(t, _)| t.id).collect();
        return Err(DomainError::validation(
            "template",
            format!("unknown template {id:?}; expected one of {}", ids.join(", ")),
        ));
    };
    let extras = match extras.filter(|v| !v.is_null()) {
        Some(v) => TemplateExtras::deserialize(v).map_err(|e| DomainError::validation("extra", e.to_string()))?,
        None => TemplateExtras::default(),
    };
    let conditions = extras.conditions()?;
    let rule = if conditions.is_empty() {
        rule.clone()
    } else {
        Rule::All(std::iter::once(rule.clone()).chain(conditions).collect())
    };
    Ok(Definition {
        rule,
        form: RuleForm::Tree,
    })
}

impl TemplateExtras {
    fn conditions(&self) -> Result<Vec<Rule>> {
        let mut out = Vec::new();
        let one_of = |field: &str, key: &str, values: &[String]| -> Result<Rule> {
            if values.is_empty()
                || values
                    .iter()
                    .any(|v| v.is_empty() || v.chars().count() > super::reader::MAX_TEXT)
            {
                return Err(DomainError::validation(
                    format!("extra.{field}"),
                    format!(
                        "{field} needs at least one value of 1 to {} characters",
                        super::reader::MAX_TEXT
                    ),
                ));
            }
            let mut values = values.to_vec();
            values.sort();
            values.dedup();
            Ok(Rule::Cond(Condition::Attribute(AttributeTest {
                field: Field::Custom(key.to_owned()),
                test: TypedTest::Text(Test::In(values)),
            })))
        };
        if let Some(g) = &self.gender {
            out.push(one_of("gender", "gender", g)?);
        }
        if let Some(g) = &self.customer_group {
            out.push(Rule::Cond(Condition::MemberOf(g.clone())));
        }
        if let Some(a) = &self.aggregator {
            out.push(one_of("aggregator", "aggregator", a)?);
        }
        if let Some((op, n)) = self.bookings {
            if !matches!(
                op,
                CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge
            ) {
                return Err(DomainError::validation(
                    "extra.bookings.op",
                    "bookings takes one of =, !=, <, <=, >, >= with a value",
                ));
            }
            out.push(Rule::Cond(Condition::Bookings(Test::Cmp(op, i64::from(n)))));
        }
        Ok(out)
    }
}
