//! The rule engine of dynamic groups: rule trees (AND / OR / NOT over conditions) parsed once from JSON,
//! evaluated per customer without allocating, with the earliest future instant at which the answer can
//! change by the passing of time alone (`next_change`, the customer's next wake-up).
//!
//! JSON: a node is `{"all": [node, ...]}`, `{"any": [node, ...]}` (both non-empty), `{"not": node}` or
//! a condition `{"<type>": {...}}`; at most 16 levels and 200 nodes. The seeds' condition groups
//! `[[c, c], [c]]` (OR inside a group, AND between groups) are the tree `all[any[c, c], any[c]]`.
//! Unknown fields, wrong operand types and empty groups are validation errors naming the node's path.

mod attribute;
mod compare;
pub mod compiled;
mod condition;
mod graph;
mod json;
mod lifecycle;
mod money;
mod parse;
use parse::{as_groups, parse_groups, parse_node};
mod reader;
mod service;
mod templates;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use attribute::{AttributeTest, Field, TypedTest};
pub use compare::{CmpOp, DateOperand, Period, Test, TimeUnit};
pub use compiled::Program;
pub use condition::{Condition, TagTest, CONDITION_TYPES, MAX_SELECTED};
pub use graph::{check_references, dependency_order, users_of, GroupRefs};
pub use lifecycle::{Lifecycle, LifecycleSettings, State, StateSet, Timing};
pub use money::{ExpensesTest, MoneyTest};
pub use service::{ServiceCount, ServiceFilter, StatusSet};
pub use templates::{from_template, templates, Template, TemplateExtras};

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::ids::GroupId;
use chrono::{DateTime, SecondsFormat, Utc};
use reader::{index, invalid, key};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::ops::Not;

/// Deepest accepted nesting (the root is level 1).
pub const MAX_DEPTH: usize = 16;
/// Most nodes (combinators and conditions) in one definition.
pub const MAX_NODES: usize = 200;

/// A rule tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Cond(Condition),
}

/// How the client wrote the rules, so they are shown back in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleForm {
    /// `{"rules": <tree>}`.
    Tree,
    /// `{"condition_groups": [[cond, ...], ...]}`.
    ConditionGroups,
}

/// A dynamic group's parsed rules and the form they were written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub rule: Rule,
    pub form: RuleForm,
}

impl Definition {
    /// Parses exactly one of `rules` (a tree) or `condition_groups` (OR inside a group, AND between
    /// groups). Errors name paths starting with `rules` or `condition_groups`.
    pub fn parse(rules: Option<&Value>, condition_groups: Option<&Value>) -> Result<Definition> {
        let mut nodes = 0;
        match (rules, condition_groups) {
            (Some(tree), None) => Ok(Definition {
                rule: parse_node(tree, "rules", 1, &mut nodes)?,
                form: RuleForm::Tree,
            }),
            (None, Some(groups)) => Ok(Definition {
                rule: parse_groups(groups, &mut nodes)?,
                form: RuleForm::ConditionGroups,
            }),
            _ => Err(DomainError::validation(
                "rules",
                "give exactly one of rules (a tree of all/any/not) or condition_groups (OR inside a group, AND between groups)",
            )),
        }
    }

    /// `{"rules": <tree>}` or `{"condition_groups": [[...]]}`, as the rules were given. A rule that is
    /// not all-of-any-of-conditions is written as a tree whatever its form.
    pub fn to_json(&self) -> Value {
        if self.form == RuleForm::ConditionGroups {
            if let Some(groups) = as_groups(&self.rule) {
                return json!({ "condition_groups": groups });
            }
        }
        json!({ "rules": self.rule.to_json() })
    }
}

impl Rule {
    /// The tree as JSON (the `rules` form).
    pub fn to_json(&self) -> Value {
        match self {
            Rule::All(rs) => json!({ "all": rs.iter().map(Rule::to_json).collect::<Vec<_>>() }),
            Rule::Any(rs) => json!({ "any": rs.iter().map(Rule::to_json).collect::<Vec<_>>() }),
            Rule::Not(r) => json!({ "not": r.to_json() }),
            Rule::Cond(c) => c.to_json(),
        }
    }

    /// Every group referenced by `member_of`.
    pub fn referenced_groups(&self) -> BTreeSet<GroupId> {
        let mut out = BTreeSet::new();
        self.collect_groups(&mut out);
        out
    }

    fn collect_groups(&self, out: &mut BTreeSet<GroupId>) {
        match self {
            Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| r.collect_groups(out)),
            Rule::Not(r) => r.collect_groups(out),
            Rule::Cond(Condition::MemberOf(id)) => {
                out.insert(id.clone());
            }
            Rule::Cond(_) => {}
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Rule::All(_) => "all",
            Rule::Any(_) => "any",
            Rule::Not(_) => "not",
            Rule::Cond(c) => c.kind(),
        }
    }
}

/// What evaluation reads besides the customer.
pub struct EvalContext<'a> {
    pub now: DateTime<Utc>,
    pub settings: &'a LifecycleSettings,
    /// Whether the customer is currently in a group (for `member_of`).
    pub in_group: &'a dyn Fn(&GroupId) -> bool,
}

/// Whether the customer matches, and the earliest instant strictly after `now` at which that can change
/// if the customer's facts and memberships stay as they are (`None`: never by time alone). It may be
/// earlier than the real change (an extra wake-up), never later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub matched: bool,
    pub next_change: Option<DateTime<Utc>>,
}

impl Outcome {
    /// An answer time alone does not change.
    pub fn fixed(matched: bool) -> Self {
        Outcome {
            matched,
            next_change: None,
        }
    }

    /// Both answers: false until every false side may have changed, true until either may change.
    pub fn and(self, other: Outcome) -> Self {
        let mut acc = AnyOf::default();
        acc.add(self.not());
        acc.add(other.not());
        acc.finish().not()
    }
}

/// The negation changes exactly when the answer does.
impl Not for Outcome {
    type Output = Outcome;

    fn not(self) -> Outcome {
        Outcome {
            matched: !self.matched,
            ..self
        }
    }
}

/// Folds children into an OR. While some children are true the OR stays true until every true child
/// may have changed (the latest of their changes); while all are false it may change at the earliest.
#[derive(Default)]
pub(crate) struct AnyOf {
    any_true: bool,
    true_latest: Option<DateTime<Utc>>,
    false_earliest: Option<DateTime<Utc>>,
}

impl AnyOf {
    /// Adds a child; `true` when the OR is decided for good (a child true forever).
    pub fn add(&mut self, o: Outcome) -> bool {
        if o.matched {
            let Some(t) = o.next_change else {
                self.any_true = true;
                self.true_latest = None;
                return true;
            };
            self.true_latest = if self.any_true {
                self.true_latest.map(|x| x.max(t))
            } else {
                Some(t)
            };
            self.any_true = true;
        } else {
            self.false_earliest = min_time(self.false_earliest, o.next_change);
        }
        false
    }

    pub fn finish(self) -> Outcome {
        if self.any_true {
            Outcome {
                matched: true,
                next_change: self.true_latest,
            }
        } else {
            Outcome {
                matched: false,
                next_change: self.false_earliest,
            }
        }
    }
}

/// The earlier of two optional instants, `None` meaning never.
pub(crate) fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A wake-up instant, or `None` past year 9999 (no store or scheduler needs that far).
pub(crate) fn wake(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    (t.year() <= 9999).then_some(t)
}

/// Whether `now` lies in `[start, end)` (`None`: unbounded) and when that changes.
pub(crate) fn window(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Outcome {
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            return Outcome::fixed(false);
        }
    }
    match (start, end) {
        (Some(s), _) if now < s => Outcome {
            matched: false,
            next_change: wake(s),
        },
        (_, Some(e)) if now < e => Outcome {
            matched: true,
            next_change: wake(e),
        },
        (_, Some(_)) => Outcome::fixed(false),
        (_, None) => Outcome::fixed(true),
    }
}

/// Whether the customer matches the rule at `ctx.now`, and when that can next change.
pub fn evaluate(rule: &Rule, customer: &Customer, ctx: &EvalContext) -> Outcome {
    match rule {
        Rule::Cond(c) => c.evaluate(customer, ctx),
        Rule::Not(r) => evaluate(r, customer, ctx).not(),
        Rule::Any(rs) => {
            let mut acc = AnyOf::default();
            for r in rs {
                if acc.add(evaluate(r, customer, ctx)) {
                    break;
                }
            }
            acc.finish()
        }
        Rule::All(rs) => {
            let mut acc = AnyOf::default();
            for r in rs {
                if acc.add(evaluate(r, customer, ctx).not()) {
                    break;
                }
            }
            acc.finish().not()
        }
    }
}

/// The tree annotated with each node's answer: `{"path", "kind", "node", "matched", "next_change",
/// "children"}`, where `node` is the node's JSON without its children (`{"all": []}`, `{"not": {}}`)
/// and paths start at `rules` (condition groups read as `rules.all[i].any[j]`).
pub fn explain(rule: &Rule, customer: &Customer, ctx: &EvalContext) -> Value {
    explain_at(rule, "rules", customer, ctx)
}

fn explain_at(rule: &Rule, path: &str, customer: &Customer, ctx: &EvalContext) -> Value {
    let (node, children): (Value, Vec<Value>) = match rule {
        Rule::All(rs) | Rule::Any(rs) => {
            let base = key(path, rule.kind());
            let children = rs
                .iter()
                .enumerate()
                .map(|(i, r)| explain_at(r, &index(&base, i), customer, ctx))
                .collect();
            (json!({ rule.kind(): [] }), children)
        }
        Rule::Not(r) => (
            json!({ "not": {} }),
            vec![explain_at(r, &key(path, "not"), customer, ctx)],
        ),
        Rule::Cond(c) => (c.to_json(), Vec::new()),
    };
    let out = evaluate(rule, customer, ctx);
    json!({
        "path": path,
        "kind": rule.kind(),
        "node": node,
        "matched": out.matched,
        "next_change": out.next_change.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        "children": children,
    })
}
