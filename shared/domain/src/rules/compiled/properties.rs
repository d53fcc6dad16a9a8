//! The compiled engine against the tree walker `rules::evaluate`, the oracle: on random customers,
//! rules and instants the two give the same outcome, `next_change` included. The instants are `now`
//! (with random sub-second parts) and every boundary ahead of it: the oracle's chain of next changes of
//! the whole tree and of each of its conditions alone (so boundaries a tree masks are probed too), each
//! exactly, one nanosecond and one second before, and one second after.

use super::Program;
use crate::customer::Customer;
use crate::ids::GroupId;
use crate::membership::{Delta, DynamicGroup, Plan};
use crate::rules::properties::{a_customer, condition, lifecycle, parse_tree, settings, tree};
use crate::rules::tests::now as base_now;
use crate::rules::{evaluate, explain, EvalContext, LifecycleSettings, Outcome, Rule};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn oracle(rule: &Rule, c: &Customer, now: DateTime<Utc>, settings: &LifecycleSettings) -> Outcome {
    let in_group = |g: &GroupId| c.groups.contains(g);
    evaluate(
        rule,
        c,
        &EvalContext {
            now,
            settings,
            in_group: &in_group,
        },
    )
}

/// The conditions of a tree.
fn leaves(rule: &Rule, out: &mut Vec<Rule>) {
    match rule {
        Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| leaves(r, out)),
        Rule::Not(r) => leaves(r, out),
        Rule::Cond(_) => out.push(rule.clone()),
    }
}

/// Around each next change along `next`'s chain from `now` (at most `steps`).
fn boundaries(
    now: DateTime<Utc>,
    steps: usize,
    mut next: impl FnMut(DateTime<Utc>) -> Option<DateTime<Utc>>,
    out: &mut Vec<DateTime<Utc>>,
) {
    let mut t = now;
    for _ in 0..steps {
        let Some(n) = next(t) else { break };
        out.extend([
            n - Duration::seconds(1),
            n - Duration::nanoseconds(1),
            n,
            n + Duration::seconds(1),
        ]);
        t = n;
    }
}

/// `now` and the boundaries of the rule and of each of its conditions.
fn instants(rule: &Rule, c: &Customer, settings: &LifecycleSettings, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = vec![now];
    boundaries(now, 16, |t| oracle(rule, c, t, settings).next_change, &mut out);
    let mut conds = Vec::new();
    leaves(rule, &mut conds);
    for cond in &conds {
        boundaries(now, 16, |t| oracle(cond, c, t, settings).next_change, &mut out);
    }
    out
}

fn agrees(
    v: &Value,
    c: &Customer,
    settings: &LifecycleSettings,
    now: DateTime<Utc>,
) -> std::result::Result<(), TestCaseError> {
    let rule = parse_tree(v);
    let program = Program::single(&rule, settings);
    for t in instants(&rule, c, settings, now) {
        let compiled = program.evaluate(c, t);
        prop_assert_eq!(compiled.len(), 1);
        prop_assert_eq!(compiled[0], oracle(&rule, c, t, settings), "at {} for {}", t, v);
    }
    Ok(())
}

/// A customer whose subscriptions often share instants (renewal at expiry, cancellation at expiry,
/// ...), the ties where `<` and `<=` part.
fn tied_customer() -> impl Strategy<Value = Customer> {
    (
        a_customer(),
        prop::collection::vec((0usize..5, 0usize..5, any::<bool>()), 4),
    )
        .prop_map(|(mut c, ties)| {
            for (s, (from, to, tie)) in c.subscriptions.iter_mut().zip(ties) {
                if !tie {
                    continue;
                }
                let dates = [
                    s.subscribed_at,
                    s.renews_at,
                    s.expires_at,
                    s.canceled_at,
                    s.last_active_at,
                ];
                let value = dates[from].or(dates[to]);
                match to {
                    0 => s.subscribed_at = value,
                    1 => s.renews_at = value,
                    2 => s.expires_at = value,
                    3 => s.canceled_at = value,
                    _ => s.last_active_at = value,
                }
            }
            c
        })
}

fn at(offset_minutes: i64, nanos: i64) -> DateTime<Utc> {
    base_now() + Duration::minutes(offset_minutes) + Duration::nanoseconds(nanos)
}

fn sub_second() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 0i64..1_000_000_000]
}

/// Today's membership pass, by the tree walker (`Plan::evaluate` before the compiled engine).
fn walked_pass(groups: &[DynamicGroup], c: &Customer, now: DateTime<Utc>) -> Delta {
    let mut current: BTreeSet<GroupId> = c.groups.clone();
    let mut delta = Delta::default();
    for g in groups {
        let in_group = |id: &GroupId| current.contains(id);
        let ctx = EvalContext {
            now,
            settings: &g.settings,
            in_group: &in_group,
        };
        let out = evaluate(&g.rule, c, &ctx);
        delta.next_wake_at = crate::rules::min_time(delta.next_wake_at, out.next_change);
        let was = current.contains(&g.id);
        if out.matched && !was {
            current.insert(g.id.clone());
            delta.entered.push(g.id.clone());
        } else if !out.matched && was {
            current.remove(&g.id);
            delta.left.push(g.id.clone());
        }
    }
    delta
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Whole trees: the same outcome at now and at every boundary of the tree and its conditions.
    #[test]
    fn compiled_trees_answer_like_the_tree_walker(
        c in a_customer(),
        v in tree(),
        offset_minutes in -43_200i64..43_200,
        nanos in sub_second(),
        settings in settings(),
    ) {
        agrees(&v, &c, &settings, at(offset_minutes, nanos))?;
    }

    /// Each condition type alone, along a longer chain of its boundaries.
    #[test]
    fn compiled_conditions_answer_like_the_tree_walker(
        c in a_customer(),
        v in condition(),
        offset_minutes in -43_200i64..43_200,
        nanos in sub_second(),
        settings in settings(),
    ) {
        agrees(&v, &c, &settings, at(offset_minutes, nanos))?;
    }

    /// Lifecycle conditions, whose boundaries are the most numerous.
    #[test]
    fn compiled_lifecycle_states_answer_like_the_tree_walker(
        c in tied_customer(),
        l in lifecycle(),
        offset_minutes in -43_200i64..43_200,
        nanos in sub_second(),
        settings in settings(),
    ) {
        agrees(&json!({ "lifecycle": l }), &c, &settings, at(offset_minutes, nanos))?;
    }

    /// The membership pass over several groups that may reference each other (`member_of` g1, g2):
    /// the same delta and next wake-up as the tree walker's pass, at now and along its wake-ups.
    #[test]
    fn the_membership_pass_matches_the_tree_walkers(
        c in a_customer(),
        rules in prop::collection::vec((tree(), settings()), 1..5),
        offset_minutes in -43_200i64..43_200,
        nanos in sub_second(),
    ) {
        let groups: Vec<DynamicGroup> = rules
            .iter()
            .enumerate()
            .map(|(i, (v, settings))| DynamicGroup {
                id: GroupId::parse(&format!("g{}", i + 1)).unwrap(),
                rule: parse_tree(v),
                settings: *settings,
            })
            .collect();
        let plan = Plan::new(groups);
        prop_assume!(plan.is_ok(), "references form a cycle");
        let plan = plan.unwrap();
        let now = at(offset_minutes, nanos);
        let mut points = vec![now];
        boundaries(now, 16, |t| walked_pass(plan.groups(), &c, t).next_wake_at, &mut points);
        for t in points {
            prop_assert_eq!(plan.evaluate(&c, t), walked_pass(plan.groups(), &c, t), "at {}", t);
        }
    }

    /// Many customers at once (batches, a leap-second customer among them): each customer's delta is
    /// the tree walker's.
    #[test]
    fn the_batched_pass_matches_the_tree_walkers(
        customers in prop::collection::vec(a_customer(), 1..150),
        rules in prop::collection::vec((tree(), settings()), 1..4),
        leap in any::<prop::sample::Index>(),
        offset_minutes in -43_200i64..43_200,
    ) {
        let groups: Vec<DynamicGroup> = rules
            .iter()
            .enumerate()
            .map(|(i, (v, settings))| DynamicGroup {
                id: GroupId::parse(&format!("g{}", i + 1)).unwrap(),
                rule: parse_tree(v),
                settings: *settings,
            })
            .collect();
        let plan = Plan::new(groups);
        prop_assume!(plan.is_ok(), "references form a cycle");
        let plan = plan.unwrap();
        let mut customers = customers;
        let k = leap.index(customers.len());
        customers[k].activity.last_active_at = Some("2016-12-31T23:59:60Z".parse().unwrap());
        let now = at(offset_minutes, 0);
        let deltas = plan.evaluate_many(&customers, now);
        prop_assert_eq!(deltas.len(), customers.len());
        for (c, d) in customers.iter().zip(&deltas) {
            prop_assert_eq!(d, &walked_pass(plan.groups(), c, now));
        }
    }

    /// Explain by the compiled engine is `rules::explain`.
    #[test]
    fn compiled_explain_is_the_tree_walkers(
        c in a_customer(),
        v in tree(),
        offset_minutes in -43_200i64..43_200,
        settings in settings(),
    ) {
        let rule = parse_tree(&v);
        let now = at(offset_minutes, 0);
        let in_group = |g: &GroupId| c.groups.contains(g);
        let ctx = EvalContext { now, settings: &settings, in_group: &in_group };
        let compiled = Program::single(&rule, &settings).explain(0, &c, now);
        prop_assert_eq!(compiled, Some(explain(&rule, &c, &ctx)));
    }
}

/// A customer with a leap-second instant is answered by the tree walker, the same way.
#[test]
fn leap_seconds_fall_back_to_the_tree_walker() {
    let mut c = crate::rules::tests::customer();
    c.activity.last_active_at = Some("2016-12-31T23:59:60Z".parse().unwrap());
    let rule = parse_tree(&json!({"attribute": {"field": "last_active_at", "op": "<", "value": "-14d"}}));
    let settings = LifecycleSettings::default();
    let now = base_now();
    assert_eq!(
        Program::single(&rule, &settings).evaluate(&c, now),
        vec![oracle(&rule, &c, now, &settings)]
    );
}
