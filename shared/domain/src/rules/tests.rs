//! Unit tests of the rule engine: parsing and its errors, each condition type, lifecycle states and
//! their boundaries, templates and the dependency order.

use super::*;
use crate::activity::{Activity, Ledger, LedgerEntry};
use crate::customer::{AttributeValue, Subscription, SubscriptionStatus};
use crate::ids::CustomerId;
use chrono::{Duration, NaiveDate};
use serde_json::json;
use std::collections::BTreeMap;

pub(super) fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(super) fn now() -> DateTime<Utc> {
    at("2026-06-15T12:00:00Z")
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(super) fn customer() -> Customer {
    Customer {
        id: CustomerId::parse("c1").unwrap(),
        external_id: None,
        email: None,
        phone: None,
        name: None,
        order_number: None,
        signup_date: None,
        registration_date: None,
        attributes: BTreeMap::new(),
        tags: BTreeSet::new(),
        subscriptions: Vec::new(),
        email_verified: false,
        phone_verified: false,
        activation_required: false,
        activity: Activity::default(),
        balances: Default::default(),
        next_wake_at: None,
        groups: BTreeSet::new(),
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
        version: 1,
    }
}

fn sub(status: SubscriptionStatus) -> Subscription {
    Subscription {
        application: "app".into(),
        product: None,
        plan: None,
        period: None,
        paid: false,
        status,
        subscribed_at: None,
        renews_at: None,
        expires_at: None,
        canceled_at: None,
        last_active_at: None,
    }
}

fn rule(v: Value) -> Rule {
    match Definition::parse(Some(&v), None) {
        Ok(d) => d.rule,
        Err(e) => panic!("{v} should parse: {e:?}"),
    }
}

fn eval_with(r: &Rule, c: &Customer, now: DateTime<Utc>, settings: &LifecycleSettings) -> Outcome {
    let in_group = |g: &GroupId| c.groups.contains(g);
    evaluate(
        r,
        c,
        &EvalContext {
            now,
            settings,
            in_group: &in_group,
        },
    )
}

fn eval_at(r: &Rule, c: &Customer, now: DateTime<Utc>) -> Outcome {
    eval_with(r, c, now, &LifecycleSettings::default())
}

/// Whether `v` matches the customer at the fixed `now`.
fn matches(v: Value, c: &Customer) -> bool {
    eval_at(&rule(v), c, now()).matched
}

fn outcome(v: Value, c: &Customer) -> Outcome {
    eval_at(&rule(v), c, now())
}

fn yes(next: Option<&str>) -> Outcome {
    Outcome {
        matched: true,
        next_change: next.map(at),
    }
}

fn no(next: Option<&str>) -> Outcome {
    Outcome {
        matched: false,
        next_change: next.map(at),
    }
}

/// The field and message of the validation error of parsing `v` as a tree.
fn error(v: Value) -> (String, String) {
    match Definition::parse(Some(&v), None) {
        Err(DomainError::Validation { field, message }) => (field, message),
        other => panic!("{v} should be rejected, got {other:?}"),
    }
}

fn error_field(v: Value) -> String {
    error(v).0
}

// ---------- parsing and validation ----------

#[test]
fn unknown_fields_are_reported_at_their_path() {
    let v = json!({"all": [{"all_customers": {}}, {"any": [{"lifecycle": {"states": ["renewing"], "timing": {"before_dayz": 3}}}]}]});
    assert_eq!(error_field(v), "rules.all[1].any[0].lifecycle.timing.before_dayz");
    let (field, message) = error(json!({"attribute": {"field": "email", "op": "=", "value": "a", "extra": 1}}));
    assert_eq!(field, "rules.attribute.extra");
    assert!(message.contains("unknown field"), "{message}");
}

#[test]
fn wrong_operand_types_are_rejected_at_the_operand() {
    let (field, message) = error(json!({"attribute": {"field": "signup_date", "op": ">=", "value": 5}}));
    assert_eq!(field, "rules.attribute.value");
    assert!(message.contains("signup_date is a date"), "{message}");
    assert_eq!(
        error_field(json!({"attribute": {"field": "bookings", "op": "contains", "value": "1"}})),
        "rules.attribute.op"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "email_verified", "op": "<", "value": true}})),
        "rules.attribute.op"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "name", "op": "in", "values": ["a", 2]}})),
        "rules.attribute.values[1]"
    );
    assert_eq!(
        error_field(json!({"registration_date": {"op": ">", "value": "yesterday"}})),
        "rules.registration_date.value"
    );
    assert_eq!(
        error_field(json!({"bookings": {"op": ">", "value": -1}})),
        "rules.bookings.value"
    );
    assert_eq!(
        error_field(json!({"bookings": {"op": ">", "value": 1.5}})),
        "rules.bookings.value"
    );
}

#[test]
fn operands_must_fit_the_operator() {
    assert_eq!(
        error_field(json!({"bookings": {"op": "between", "from": 1}})),
        "rules.bookings.to"
    );
    assert_eq!(
        error_field(json!({"bookings": {"op": ">", "from": 1, "to": 2}})),
        "rules.bookings.from"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "name", "op": "exists", "value": "x"}})),
        "rules.attribute.value"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "name", "op": "in", "values": []}})),
        "rules.attribute.values"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "name", "op": "~"}})),
        "rules.attribute.op"
    );
    assert_eq!(
        error_field(json!({"bookings": {"op": "in", "value": 1}})),
        "rules.bookings.op"
    );
    assert_eq!(
        error_field(json!({"bookings": {"op": "=", "values": [1]}})),
        "rules.bookings.values"
    );
}

#[test]
fn empty_groups_and_bad_node_shapes_are_rejected() {
    assert_eq!(error_field(json!({"all": []})), "rules.all");
    assert_eq!(error_field(json!({"not": {"any": []}})), "rules.not.any");
    assert_eq!(error_field(json!({"all": {"all_customers": {}}})), "rules.all");
    assert_eq!(error_field(json!({"all_customers": {}, "tags": {}})), "rules");
    assert_eq!(error_field(json!([])), "rules");
    let (field, message) = error(json!({"any": [{"lifecycel": {}}]}));
    assert_eq!(field, "rules.any[0].lifecycel");
    assert!(
        message.contains("lifecycle"),
        "the message lists the valid types: {message}"
    );
    assert_eq!(error_field(json!({"all_customers": {"x": 1}})), "rules.all_customers.x");
    assert_eq!(error_field(json!({"all_customers": []})), "rules.all_customers");
}

#[test]
fn before_days_is_only_for_states_that_lie_ahead() {
    let (field, message) =
        error(json!({"lifecycle": {"states": ["renewing", "canceled"], "timing": {"before_days": 3}}}));
    assert_eq!(field, "rules.lifecycle.timing");
    assert!(message.contains("canceled"), "{message}");
    let (field, message) = error(json!({"lifecycle": {"states": ["expiring"], "timing": {"after_days": 3}}}));
    assert_eq!(field, "rules.lifecycle.timing");
    assert!(message.contains("expiring"), "{message}");
    assert_eq!(
        error_field(json!({"lifecycle": {"states": ["renewing"], "timing": {"before_days": 3, "after_days": 1}}})),
        "rules.lifecycle.timing"
    );
    assert_eq!(
        error_field(json!({"lifecycle": {"states": ["renewing"], "timing": {"before_days": 3651}}})),
        "rules.lifecycle.timing.before_days"
    );
    assert_eq!(
        error_field(json!({"lifecycle": {"states": []}})),
        "rules.lifecycle.states"
    );
    assert_eq!(
        error_field(json!({"lifecycle": {"states": ["gone"]}})),
        "rules.lifecycle.states[0]"
    );
}

#[test]
fn currencies_and_periods_are_checked() {
    let (field, message) = error(json!({"payments_amount": {"op": ">", "currency": "eur", "amount_minor": 1}}));
    assert_eq!(field, "rules.payments_amount.currency");
    assert!(message.contains("three capital letters"), "{message}");
    for bad in ["12h", "401d", "0d", "-30d", "58w", "30"] {
        assert_eq!(
            error_field(json!({"expenses_amount": {"op": ">", "currency": "EUR", "amount_minor": 1, "period": bad}})),
            "rules.expenses_amount.period",
            "{bad}"
        );
    }
    assert!(Definition::parse(
        Some(&json!({"expenses_amount": {"op": ">", "currency": "EUR", "amount_minor": 1, "period": "57w"}})),
        None
    )
    .is_ok());
}

#[test]
fn depth_and_size_are_limited() {
    let mut deep = json!({"all_customers": {}});
    for _ in 0..15 {
        deep = json!({ "not": deep });
    }
    assert!(Definition::parse(Some(&deep), None).is_ok(), "16 levels are fine");
    let deeper = json!({ "not": deep });
    let (field, message) = error(deeper);
    assert_eq!(field, format!("rules{}", ".not".repeat(16)));
    assert!(message.contains("16"), "{message}");
    let wide = json!({"any": vec![json!({"all_customers": {}}); 199]});
    assert!(Definition::parse(Some(&wide), None).is_ok(), "200 nodes are fine");
    let wider = json!({"any": vec![json!({"all_customers": {}}); 200]});
    assert_eq!(error_field(wider), "rules.any[199]");
}

#[test]
fn exactly_one_of_rules_or_condition_groups() {
    let v = json!({"all_customers": {}});
    assert!(Definition::parse(None, None).is_err());
    assert!(Definition::parse(Some(&v), Some(&json!([[v.clone()]]))).is_err());
}

#[test]
fn condition_groups_are_checked_and_shown_back_as_given() {
    let groups = json!([
        [{"tags": {"has_any": ["vip"]}}, {"bookings": {"op": ">=", "value": 3}}],
        [{"email_verified": {"verified": true}}]
    ]);
    let d = Definition::parse(None, Some(&groups)).unwrap();
    assert_eq!(d.form, RuleForm::ConditionGroups);
    assert_eq!(d.to_json(), json!({ "condition_groups": groups }));
    assert_eq!(Definition::parse(None, d.to_json().get("condition_groups")).unwrap(), d);
    assert!(
        matches!(d.rule, Rule::All(ref gs) if gs.len() == 2 && matches!(gs[0], Rule::Any(ref cs) if cs.len() == 2))
    );

    let bad = |v: Value| match Definition::parse(None, Some(&v)) {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("{v} should be rejected: {other:?}"),
    };
    assert_eq!(bad(json!([])), "condition_groups");
    assert_eq!(bad(json!([[]])), "condition_groups[0]");
    assert_eq!(
        bad(json!([[{"all_customers": {}}], [{"all": []}]])),
        "condition_groups[1][0].all"
    );
    assert_eq!(
        bad(json!([[{"all_customers": {}}, {"bookings": {"op": ">", "value": "x"}}]])),
        "condition_groups[0][1].bookings.value"
    );
}

#[test]
fn trees_are_shown_back_as_given() {
    let tree = json!({"all": [
        {"not": {"tags": {"has_none": ["a", "b"]}}},
        {"any": [
            {"attribute": {"field": "signup_date", "op": "between", "from": "-30d", "to": "2026-01-01"}},
            {"attribute": {"field": "attributes.tier", "op": "in", "values": ["gold", "silver"]}},
            {"attribute": {"field": "attributes.code", "op": "=", "value": "30d", "type": "string"}},
            {"lifecycle": {"states": ["renewing", "expiring"], "plans": ["m"], "timing": {"before_days": 3}}},
            {"member_of": {"group_id": "g1"}},
            {"selected_customers": {"ids": "a b c"}}
        ]}
    ]});
    let d = Definition::parse(Some(&tree), None).unwrap();
    assert_eq!(d.form, RuleForm::Tree);
    assert_eq!(d.to_json(), json!({ "rules": tree }));
    assert_eq!(
        d.rule.referenced_groups().into_iter().collect::<Vec<_>>(),
        vec![GroupId::parse("g1").unwrap()]
    );
}

#[test]
fn operands_are_normalised_once() {
    let r = rule(json!({"attribute": {"field": "email", "op": "=", "value": "Ana@Example.COM"}}));
    assert_eq!(r.to_json()["attribute"]["value"], "ana@example.com");
    let r = rule(json!({"registration_date": {"op": ">", "value": "30d"}}));
    assert_eq!(r.to_json()["registration_date"]["value"], "+30d");
    let r = rule(json!({"registration_date": {"op": ">", "value": "+0h"}}));
    assert_eq!(r.to_json()["registration_date"]["value"], "now");
    let r = rule(json!({"registration_date": {"op": ">", "value": "2026-01-01T12:00:00+02:00"}}));
    assert_eq!(r.to_json()["registration_date"]["value"], "2026-01-01T10:00:00Z");
    let r = rule(json!({"selected_customers": {"ids": "c2,c1\n c3  c1"}}));
    assert_eq!(r.to_json()["selected_customers"]["ids"], "c1 c2 c3");
}

// ---------- conditions ----------

#[test]
fn all_customers_member_of_and_simple_flags() {
    let mut c = customer();
    assert!(matches(json!({"all_customers": {}}), &c));
    assert!(!matches(json!({"member_of": {"group_id": "g1"}}), &c));
    c.groups.insert(GroupId::parse("g1").unwrap());
    assert!(matches(json!({"member_of": {"group_id": "g1"}}), &c));
    assert_eq!(
        error_field(json!({"member_of": {"group_id": "a/b"}})),
        "rules.member_of.group_id"
    );

    assert!(matches(json!({"email_verified": {"verified": false}}), &c));
    assert!(!matches(json!({"email_verified": {"verified": true}}), &c));
    assert!(matches(json!({"verified_phone_missing": {}}), &c));
    c.phone = Some(crate::contact::Phone::parse("+442079460958").unwrap());
    assert!(
        matches(json!({"verified_phone_missing": {}}), &c),
        "a phone that is not verified"
    );
    c.phone_verified = true;
    assert!(!matches(json!({"verified_phone_missing": {}}), &c));
    assert!(!matches(json!({"activation_required": {}}), &c));
    c.activation_required = true;
    assert!(matches(json!({"activation_required": {}}), &c));
}

#[test]
fn registration_date_compares_days_and_flips_at_the_boundary() {
    let mut c = customer();
    let r = json!({"registration_date": {"op": ">=", "value": "-30d"}});
    assert_eq!(outcome(r.clone(), &c), no(None), "missing matches only `missing`");
    assert!(matches(json!({"registration_date": {"op": "missing"}}), &c));
    c.registration_date = Some(day("2026-06-01"));
    // midnight of June 1st >= now - 30d holds until now - 30d passes it: 30 days after June 1st.
    assert_eq!(outcome(r.clone(), &c), yes(Some("2026-07-01T00:00:00.000000001Z")));
    assert!(!eval_at(&rule(r), &c, at("2026-07-01T00:00:00.000000001Z")).matched);
    assert_eq!(
        outcome(json!({"registration_date": {"op": "<", "value": "-30d"}}), &c),
        no(Some("2026-07-01T00:00:00.000000001Z"))
    );
    assert_eq!(
        outcome(json!({"registration_date": {"op": "<=", "value": "-30d"}}), &c),
        no(Some("2026-07-01T00:00:00Z"))
    );
    assert_eq!(
        outcome(json!({"registration_date": {"op": ">", "value": "-30d"}}), &c),
        yes(Some("2026-07-01T00:00:00Z"))
    );
    // `=` is the same calendar day: registered 14 days ago, for the whole of that day.
    assert_eq!(
        outcome(json!({"registration_date": {"op": "=", "value": "-14d"}}), &c),
        yes(Some("2026-06-16T00:00:00Z"))
    );
    assert_eq!(
        outcome(json!({"registration_date": {"op": "!=", "value": "-14d"}}), &c),
        no(Some("2026-06-16T00:00:00Z"))
    );
    assert_eq!(
        outcome(json!({"registration_date": {"op": "=", "value": "-13d"}}), &c),
        no(None)
    );
    // Absolute days cover their whole day.
    for (op, value, expected) in [
        ("=", "2026-06-01", true),
        ("<", "2026-06-01", false),
        ("<=", "2026-06-01", true),
        (">", "2026-06-01", false),
        (">=", "2026-06-01", true),
        (">", "2026-05-31", true),
        ("!=", "2026-05-31", true),
    ] {
        assert_eq!(
            outcome(json!({"registration_date": {"op": op, "value": value}}), &c),
            Outcome::fixed(expected),
            "{op} {value}"
        );
    }
    assert!(matches(
        json!({"registration_date": {"op": "between", "from": "2026-05-01", "to": "2026-06-01"}}),
        &c
    ));
    assert!(matches(
        json!({"registration_date": {"op": "in", "values": ["2026-01-01", "2026-06-01"]}}),
        &c
    ));
    assert!(matches(
        json!({"registration_date": {"op": "not_in", "values": ["2026-01-01"]}}),
        &c
    ));
    assert!(matches(json!({"registration_date": {"op": "exists"}}), &c));
}

#[test]
fn relative_between_reports_both_ends() {
    let mut c = customer();
    c.activity.first_booking_at = Some(at("2026-06-20T09:00:00Z"));
    // first booking within the next 7 days: enters when now + 7d reaches it, leaves when now passes it.
    let r = json!({"attribute": {"field": "first_booking_at", "op": "between", "from": "now", "to": "+7d"}});
    assert_eq!(outcome(r.clone(), &c), yes(Some("2026-06-20T09:00:00.000000001Z")));
    let earlier = at("2026-06-10T12:00:00Z");
    assert_eq!(eval_at(&rule(r.clone()), &c, earlier), no(Some("2026-06-13T09:00:00Z")));
    assert_eq!(eval_at(&rule(r), &c, at("2026-06-21T00:00:00Z")), no(None));
    // hours and weeks
    let h = json!({"attribute": {"field": "first_booking_at", "op": "<=", "value": "+12h"}});
    assert_eq!(outcome(h, &c), no(Some("2026-06-19T21:00:00Z")));
    let w = json!({"attribute": {"field": "first_booking_at", "op": "<=", "value": "+1w"}});
    assert_eq!(outcome(w, &c), yes(None));
}

#[test]
fn first_expense_date_reads_the_expense_ledger() {
    let mut c = customer();
    let r = json!({"first_expense_date": {"op": "<", "value": "-1w"}});
    assert!(!matches(r.clone(), &c));
    assert!(matches(json!({"first_expense_date": {"op": "missing"}}), &c));
    c.activity.expenses.first_at = Some(at("2026-06-10T00:00:00Z"));
    assert_eq!(outcome(r, &c), no(Some("2026-06-17T00:00:00.000000001Z")));
}

#[test]
fn has_service_and_no_service_apply_every_filter() {
    let mut c = customer();
    let mut s = sub(SubscriptionStatus::Active);
    s.product = Some("gym".into());
    s.plan = Some("monthly".into());
    s.period = Some("month".into());
    s.paid = true;
    s.subscribed_at = Some(at("2026-06-01T10:00:00Z"));
    c.subscriptions.push(s);
    c.subscriptions.push(sub(SubscriptionStatus::Canceled));
    assert!(matches(json!({"has_service": {}}), &c));
    assert!(matches(
        json!({"has_service": {"application": "app", "product": "gym", "plan": "monthly", "period": "month", "paid": true}}),
        &c
    ));
    assert!(!matches(json!({"has_service": {"plan": "yearly"}}), &c));
    assert!(
        !matches(json!({"has_service": {"paid": false}}), &c),
        "the free one is canceled: not held"
    );
    assert!(matches(
        json!({"has_service": {"paid": false, "status": ["canceled"]}}),
        &c
    ));
    assert!(matches(json!({"no_service": {"plan": "yearly"}}), &c));
    assert!(!matches(json!({"no_service": {"application": "app"}}), &c));
    assert!(matches(
        json!({"has_service": {"ordered_from": "2026-06-01", "ordered_to": "2026-06-01"}}),
        &c
    ));
    assert!(!matches(json!({"has_service": {"ordered_to": "2026-05-31"}}), &c));
    // Ordered within the last 30 days: stops matching 30 days after the order.
    assert_eq!(
        outcome(json!({"has_service": {"ordered_from": "-30d"}}), &c),
        yes(Some("2026-07-01T10:00:00.000000001Z"))
    );
    assert_eq!(
        outcome(json!({"no_service": {"ordered_from": "-30d"}}), &c),
        no(Some("2026-07-01T10:00:00.000000001Z"))
    );
    assert_eq!(
        error_field(json!({"has_service": {"status": ["gone"]}})),
        "rules.has_service.status[0]"
    );
    assert_eq!(
        error_field(json!({"has_service": {"paid": "yes"}})),
        "rules.has_service.paid"
    );
}

#[test]
fn service_counts_count_held_services() {
    let mut c = customer();
    let mut paid = sub(SubscriptionStatus::Suspended);
    paid.paid = true;
    paid.plan = Some("p".into());
    c.subscriptions = vec![paid, sub(SubscriptionStatus::Pending), sub(SubscriptionStatus::Expired)];
    for (op, n, expected) in [
        ("=", 2, true),
        ("!=", 2, false),
        ("<", 2, false),
        ("<=", 2, true),
        (">", 1, true),
        (">=", 3, false),
    ] {
        assert_eq!(
            matches(json!({"service_count": {"op": op, "value": n}}), &c),
            expected,
            "{op} {n}"
        );
    }
    assert!(matches(
        json!({"service_count": {"op": "between", "from": 2, "to": 5}}),
        &c
    ));
    assert!(matches(json!({"paid_service_count": {"op": "=", "value": 1}}), &c));
    assert!(matches(
        json!({"paid_service_count": {"plan": "p", "op": "=", "value": 1}}),
        &c
    ));
    assert!(matches(
        json!({"service_count": {"plan": "q", "op": "=", "value": 0}}),
        &c
    ));
    assert!(matches(
        json!({"service_count": {"application": "app", "op": "=", "value": 2}}),
        &c
    ));
}

fn ledger(entries: &[(&str, &str, i64)]) -> Ledger {
    let mut l = Ledger::default();
    for (cur, on, amount) in entries {
        l.entries.push(LedgerEntry {
            currency: (*cur).into(),
            on: day(on),
            amount_minor: *amount,
        });
        *l.totals.entry((*cur).into()).or_insert(0) += amount;
    }
    l
}

#[test]
fn payments_amount_uses_lifetime_totals() {
    let mut c = customer();
    c.activity.payments = ledger(&[
        ("EUR", "2024-01-01", 500),
        ("EUR", "2026-06-01", 700),
        ("USD", "2026-06-01", 1),
    ]);
    let r = |op: &str, n: i64| json!({"payments_amount": {"op": op, "currency": "EUR", "amount_minor": n}});
    assert!(matches(r("=", 1200), &c));
    assert!(matches(r(">", 1000), &c));
    assert!(!matches(r("<", 1000), &c));
    assert!(matches(
        json!({"payments_amount": {"op": "between", "currency": "USD", "from": 1, "to": 1}}),
        &c
    ));
    assert!(matches(
        json!({"payments_amount": {"op": "=", "currency": "GBP", "amount_minor": 0}}),
        &c
    ));
}

#[test]
fn payments_over_year_drop_out_a_year_after_their_day() {
    let mut c = customer();
    c.activity.payments = ledger(&[
        ("EUR", "2025-06-16", 500),
        ("EUR", "2026-06-01", 700),
        ("EUR", "2026-06-20", 50),
    ]);
    let r = json!({"payments_over_year": {"op": ">=", "currency": "EUR", "amount_minor": 1200}});
    // June 16th 2025 is the oldest counted day; it leaves at midnight, 365 days later.
    assert_eq!(outcome(r.clone(), &c), yes(Some("2026-06-16T00:00:00Z")));
    assert!(!eval_at(&rule(r.clone()), &c, at("2026-06-16T00:00:00Z")).matched);
    // A future-dated entry counts from its day.
    let r50 = json!({"payments_over_year": {"op": "=", "currency": "EUR", "amount_minor": 750}});
    assert_eq!(
        eval_at(&rule(r50.clone()), &c, at("2026-06-19T12:00:00Z")),
        no(Some("2026-06-20T00:00:00Z"))
    );
    assert!(eval_at(&rule(r50), &c, at("2026-06-20T00:00:00Z")).matched);
}

#[test]
fn expenses_amount_sums_the_last_period() {
    let mut c = customer();
    c.activity.expenses = ledger(&[("EUR", "2026-05-10", 100), ("EUR", "2026-06-10", 200)]);
    let r = |period: &str| json!({"expenses_amount": {"op": ">=", "currency": "EUR", "amount_minor": 300, "period": period}});
    assert_eq!(outcome(r("30d"), &c), no(Some("2026-07-10T00:00:00Z")));
    // 6 weeks reach back to May 5th: May 10th counts until midnight of June 21st (42 days later).
    assert_eq!(outcome(r("6w"), &c), yes(Some("2026-06-21T00:00:00Z")));
}

#[test]
fn selected_customers_checks_ids() {
    let c = customer();
    assert!(matches(json!({"selected_customers": {"ids": "x, c1\ny"}}), &c));
    assert!(!matches(json!({"selected_customers": {"ids": "x y"}}), &c));
    assert_eq!(
        error_field(json!({"selected_customers": {"ids": "a b#c"}})),
        "rules.selected_customers.ids"
    );
    assert_eq!(
        error_field(json!({"selected_customers": {"ids": " ,\n"}})),
        "rules.selected_customers.ids"
    );
    let many: Vec<String> = (0..10_001).map(|i| format!("c{i}")).collect();
    assert_eq!(
        error_field(json!({"selected_customers": {"ids": many.join(" ")}})),
        "rules.selected_customers.ids"
    );
}

#[test]
fn text_attributes_support_every_text_operator() {
    let mut c = customer();
    c.email = Some(crate::contact::Email::parse("ana@example.com").unwrap());
    c.name = Some("Ana Lima".into());
    let a = |field: &str, op: &str, value: Value| json!({"attribute": {"field": field, "op": op, "value": value}});
    assert!(
        matches(a("email", "=", json!("ANA@example.com")), &c),
        "email operands are lower-cased"
    );
    assert!(matches(a("email", "contains", json!("@EXAMPLE")), &c));
    assert!(matches(a("name", "starts_with", json!("Ana")), &c));
    assert!(!matches(a("name", "starts_with", json!("ana")), &c), "case-sensitive");
    assert!(matches(a("name", "contains", json!("Lim")), &c));
    assert!(matches(a("name", "!=", json!("Bob")), &c));
    assert!(matches(a("name", "<", json!("Bob")), &c));
    assert!(matches(a("name", "<=", json!("Ana Lima")), &c));
    assert!(matches(a("name", ">", json!("A")), &c));
    assert!(matches(a("name", ">=", json!("Ana")), &c));
    assert!(matches(
        json!({"attribute": {"field": "name", "op": "between", "from": "A", "to": "B"}}),
        &c
    ));
    assert!(matches(
        json!({"attribute": {"field": "name", "op": "in", "values": ["x", "Ana Lima"]}}),
        &c
    ));
    assert!(!matches(
        json!({"attribute": {"field": "name", "op": "not_in", "values": ["x", "Ana Lima"]}}),
        &c
    ));
    assert!(matches(json!({"attribute": {"field": "name", "op": "exists"}}), &c));
    assert!(matches(json!({"attribute": {"field": "phone", "op": "missing"}}), &c));
    assert!(
        !matches(a("phone", "!=", json!("+1")), &c),
        "a missing value matches only `missing`"
    );
    assert!(!matches(a("order_number", "=", json!("1")), &c));
    assert!(!matches(a("external_id", "=", json!("1")), &c));
}

#[test]
fn number_boolean_and_date_profile_fields() {
    let mut c = customer();
    c.activity.bookings = 3;
    c.phone_verified = true;
    c.signup_date = Some(day("2026-06-01"));
    c.activity.last_active_at = Some(at("2026-06-15T11:00:00Z"));
    let a = |field: &str, op: &str, value: Value| json!({"attribute": {"field": field, "op": op, "value": value}});
    assert!(matches(a("bookings", ">", json!(2)), &c));
    assert!(matches(a("bookings", "=", json!(3.0)), &c));
    assert!(matches(
        json!({"attribute": {"field": "bookings", "op": "in", "values": [1, 3]}}),
        &c
    ));
    assert!(matches(a("phone_verified", "=", json!(true)), &c));
    assert!(matches(a("email_verified", "!=", json!(true)), &c));
    assert!(matches(a("signup_date", "<", json!("2026-06-02")), &c));
    assert!(matches(a("created_at", "<", json!("-1w")), &c));
    assert_eq!(
        outcome(a("last_active_at", ">=", json!("-1h")), &c),
        yes(Some("2026-06-15T12:00:00.000000001Z"))
    );
    assert!(
        matches(a("last_active_at", "=", json!("2026-06-15T23:00:00Z")), &c),
        "= compares days"
    );
    assert!(!matches(
        json!({"attribute": {"field": "first_booking_at", "op": "exists"}}),
        &c
    ));
    assert!(matches(
        json!({"attribute": {"field": "last_booking_at", "op": "missing"}}),
        &c
    ));
    assert_eq!(error_field(a("nickname", "=", json!("x"))), "rules.attribute.field");
    assert_eq!(
        error_field(a("attributes.1x", "=", json!("x"))),
        "rules.attribute.field"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "name", "op": "=", "value": "x", "type": "string"}})),
        "rules.attribute.type"
    );
}

#[test]
fn custom_attributes_take_the_operand_type() {
    let mut c = customer();
    c.attributes
        .insert("tier".into(), AttributeValue::String("gold".into()));
    c.attributes.insert("score".into(), AttributeValue::Number(4.5));
    c.attributes.insert("vip".into(), AttributeValue::Boolean(true));
    c.attributes
        .insert("born".into(), AttributeValue::Date(day("1990-06-15")));
    let a = |field: &str, op: &str, value: Value| json!({"attribute": {"field": field, "op": op, "value": value}});
    assert!(matches(a("attributes.tier", "=", json!("gold")), &c));
    assert!(matches(a("attributes.score", ">=", json!(4)), &c));
    assert!(matches(a("attributes.vip", "=", json!(true)), &c));
    assert!(matches(a("attributes.born", "<", json!("2000-01-01")), &c));
    assert!(matches(a("attributes.born", "<", json!("-20w")), &c));
    // A stored value of another type does not match, except `missing` of that type.
    assert!(!matches(a("attributes.tier", "=", json!(1)), &c));
    assert!(!matches(a("attributes.score", "!=", json!("x")), &c));
    assert!(!matches(a("attributes.vip", "<", json!("2000-01-01")), &c));
    assert!(matches(
        json!({"attribute": {"field": "attributes.tier", "op": "missing", "type": "number"}}),
        &c
    ));
    assert!(!matches(
        json!({"attribute": {"field": "attributes.tier", "op": "missing"}}),
        &c
    ));
    assert!(matches(
        json!({"attribute": {"field": "attributes.nope", "op": "missing"}}),
        &c
    ));
    assert!(matches(
        json!({"attribute": {"field": "attributes.tier", "op": "exists"}}),
        &c
    ));
    // A text that reads as a date is a date unless typed.
    c.attributes.insert("code".into(), AttributeValue::String("30d".into()));
    assert!(!matches(a("attributes.code", "=", json!("30d")), &c));
    assert!(matches(
        json!({"attribute": {"field": "attributes.code", "op": "=", "value": "30d", "type": "string"}}),
        &c
    ));
    assert_eq!(
        error_field(json!({"attribute": {"field": "attributes.tier", "op": "contains", "value": 1}})),
        "rules.attribute.op"
    );
    assert_eq!(
        error_field(json!({"attribute": {"field": "attributes.tier", "op": "=", "value": 1, "type": "date"}})),
        "rules.attribute.value"
    );
}

#[test]
fn tags_has_any_all_none() {
    let mut c = customer();
    c.tags = ["a".to_owned(), "b".to_owned()].into();
    assert!(matches(json!({"tags": {"has_any": ["x", "a"]}}), &c));
    assert!(!matches(json!({"tags": {"has_all": ["a", "x"]}}), &c));
    assert!(matches(json!({"tags": {"has_all": ["a", "b"]}}), &c));
    assert!(matches(json!({"tags": {"has_none": ["x"]}}), &c));
    assert!(!matches(json!({"tags": {"has_none": ["b"]}}), &c));
    assert_eq!(
        error_field(json!({"tags": {"has_any": ["a"], "has_all": ["b"]}})),
        "rules.tags"
    );
    assert_eq!(error_field(json!({"tags": {}})), "rules.tags");
    assert_eq!(error_field(json!({"tags": {"has_any": []}})), "rules.tags.has_any");
}

#[test]
fn bookings_compare_the_count() {
    let mut c = customer();
    c.activity.bookings = 5;
    assert!(matches(json!({"bookings": {"op": ">=", "value": 5}}), &c));
    assert!(!matches(json!({"bookings": {"op": ">", "value": 5}}), &c));
    assert!(matches(json!({"bookings": {"op": "between", "from": 1, "to": 5}}), &c));
}

// ---------- lifecycle ----------

fn lifecycle(states: &[&str]) -> Value {
    json!({"lifecycle": {"states": states}})
}

#[test]
fn renewing_seven_days_includes_renewals_within_the_next_seven_days() {
    // Seed 000: "if you pick Renewing and 7 days, it will include all users whose subscription will
    // renew within the next 7 days."
    let mut c = customer();
    let mut s = sub(SubscriptionStatus::Active);
    s.renews_at = Some(at("2026-06-20T08:00:00Z"));
    c.subscriptions.push(s);
    let r = json!({"lifecycle": {"states": ["renewing"], "timing": {"before_days": 7}}});
    assert_eq!(outcome(r.clone(), &c), yes(Some("2026-06-20T08:00:00Z")));
    // 3 days before: not yet; enters 7 days before the renewal.
    assert_eq!(
        eval_at(&rule(r.clone()), &c, at("2026-06-10T00:00:00Z")),
        no(Some("2026-06-13T08:00:00Z"))
    );
    assert!(eval_at(&rule(r.clone()), &c, at("2026-06-13T08:00:00Z")).matched);
    assert_eq!(eval_at(&rule(r.clone()), &c, at("2026-06-20T08:00:00Z")), no(None));
    // The settings' renewing days apply without timing.
    let plain = rule(lifecycle(&["renewing"]));
    let two_days = LifecycleSettings {
        renewing_days: 2,
        ..LifecycleSettings::default()
    };
    assert_eq!(
        eval_with(&plain, &c, now(), &two_days),
        no(Some("2026-06-18T08:00:00Z"))
    );
    assert_eq!(eval_at(&plain, &c, now()), yes(Some("2026-06-20T08:00:00Z")));
    // A canceled subscription does not renew.
    c.subscriptions[0].canceled_at = Some(at("2026-06-01T00:00:00Z"));
    assert_eq!(outcome(r, &c), no(None));
}

#[test]
fn subscribed_canceling_and_canceled_follow_the_subscription() {
    let mut c = customer();
    let mut s = sub(SubscriptionStatus::Active);
    s.subscribed_at = Some(at("2026-01-01T00:00:00Z"));
    s.canceled_at = Some(at("2026-06-10T00:00:00Z"));
    s.expires_at = Some(at("2026-07-01T00:00:00Z"));
    c.subscriptions.push(s);
    assert_eq!(
        outcome(lifecycle(&["subscribed"]), &c),
        yes(Some("2026-07-01T00:00:00Z"))
    );
    assert_eq!(
        outcome(lifecycle(&["canceling"]), &c),
        yes(Some("2026-07-01T00:00:00Z"))
    );
    assert_eq!(outcome(lifecycle(&["canceled"]), &c), no(Some("2026-07-01T00:00:00Z")));
    assert_eq!(outcome(lifecycle(&["expiring"]), &c), no(Some("2026-06-24T00:00:00Z")));
    assert_eq!(outcome(lifecycle(&["expired"]), &c), no(None), "canceled, not expired");
    // Several states are an OR: canceling until the end, canceled after it (the hand-over is an
    // extra wake-up, allowed by the contract).
    assert_eq!(
        outcome(lifecycle(&["canceling", "canceled"]), &c),
        yes(Some("2026-07-01T00:00:00Z"))
    );
    assert!(
        eval_at(
            &rule(lifecycle(&["canceling", "canceled"])),
            &c,
            at("2026-07-01T00:00:00Z")
        )
        .matched
    );
    let after = json!({"lifecycle": {"states": ["canceled"], "timing": {"after_days": 3}}});
    assert_eq!(outcome(after.clone(), &c), no(Some("2026-07-04T00:00:00Z")));
    let canceling_after = json!({"lifecycle": {"states": ["canceling"], "timing": {"after_days": 7}}});
    assert_eq!(outcome(canceling_after, &c), no(Some("2026-06-17T00:00:00Z")));
    // A canceled status holds at once; with after_days it counts from the later of cancel and end.
    c.subscriptions[0].status = SubscriptionStatus::Canceled;
    assert_eq!(outcome(lifecycle(&["canceled"]), &c), yes(None));
    assert_eq!(outcome(after, &c), no(Some("2026-07-04T00:00:00Z")));
    assert_eq!(outcome(lifecycle(&["subscribed"]), &c), no(None));
}

#[test]
fn expiring_and_expired_follow_the_end_date() {
    let mut c = customer();
    let mut s = sub(SubscriptionStatus::Active);
    s.expires_at = Some(at("2026-06-18T00:00:00Z"));
    c.subscriptions.push(s);
    assert_eq!(outcome(lifecycle(&["expiring"]), &c), yes(Some("2026-06-18T00:00:00Z")));
    assert_eq!(outcome(lifecycle(&["expired"]), &c), no(Some("2026-06-18T00:00:00Z")));
    let before = json!({"lifecycle": {"states": ["expiring"], "timing": {"before_days": 2}}});
    assert_eq!(outcome(before, &c), no(Some("2026-06-16T00:00:00Z")));
    let later = at("2026-06-20T00:00:00Z");
    assert!(eval_at(&rule(lifecycle(&["expired"])), &c, later).matched);
    let after = json!({"lifecycle": {"states": ["expired"], "timing": {"after_days": 5}}});
    assert_eq!(eval_at(&rule(after), &c, later), no(Some("2026-06-23T00:00:00Z")));
    // Renewing rather than expiring when it renews.
    c.subscriptions[0].renews_at = Some(at("2026-06-18T00:00:00Z"));
    assert_eq!(outcome(lifecycle(&["expiring"]), &c), no(None));
    assert_eq!(outcome(lifecycle(&["expired"]), &c), no(Some("2026-06-18T00:00:00Z")));
    // The expired status holds at once.
    c.subscriptions[0].status = SubscriptionStatus::Expired;
    assert_eq!(outcome(lifecycle(&["expired"]), &c), yes(None));
    assert_eq!(outcome(lifecycle(&["subscribed"]), &c), no(None));
}

#[test]
fn inactive_counts_from_the_last_activity() {
    let mut c = customer();
    c.activity.last_active_at = Some(at("2026-06-01T00:00:00Z"));
    assert_eq!(outcome(lifecycle(&["inactive"]), &c), no(Some("2026-07-01T00:00:00Z")));
    let after = json!({"lifecycle": {"states": ["inactive"], "timing": {"after_days": 10}}});
    assert_eq!(outcome(after, &c), no(Some("2026-07-11T00:00:00Z")));
    c.activity.last_active_at = None;
    assert_eq!(
        outcome(lifecycle(&["inactive"]), &c),
        yes(None),
        "never active since created"
    );
    // Per subscription, its own last activity first.
    let mut s = sub(SubscriptionStatus::Active);
    s.application = "a".into();
    s.last_active_at = Some(at("2026-06-14T00:00:00Z"));
    c.subscriptions.push(s);
    c.activity.last_active_at = Some(at("2026-01-01T00:00:00Z"));
    let filtered = json!({"lifecycle": {"states": ["inactive"], "applications": ["a"]}});
    assert_eq!(outcome(filtered, &c), no(Some("2026-07-14T00:00:00Z")));
    let other = json!({"lifecycle": {"states": ["inactive"], "applications": ["b"]}});
    assert_eq!(outcome(other, &c), no(None));
}

#[test]
fn registered_is_customer_level_but_respects_filters() {
    let mut c = customer();
    assert_eq!(outcome(lifecycle(&["registered"]), &c), no(None));
    c.registration_date = Some(day("2026-06-10"));
    assert_eq!(outcome(lifecycle(&["registered"]), &c), yes(None));
    let after = json!({"lifecycle": {"states": ["registered"], "timing": {"after_days": 7}}});
    assert_eq!(outcome(after, &c), no(Some("2026-06-17T00:00:00Z")));
    let filtered = json!({"lifecycle": {"states": ["registered"], "products": ["gym"]}});
    assert_eq!(outcome(filtered.clone(), &c), no(None));
    let mut s = sub(SubscriptionStatus::Expired);
    s.product = Some("gym".into());
    c.subscriptions.push(s);
    assert_eq!(outcome(filtered, &c), yes(None));
}

#[test]
fn lifecycle_filters_apply_to_the_state_not_the_customer() {
    // Subscribed to A, renewing in B: "renewing in A" must not match.
    let mut c = customer();
    let mut a = sub(SubscriptionStatus::Active);
    a.application = "A".into();
    a.plan = Some("yearly".into());
    let mut b = sub(SubscriptionStatus::Active);
    b.application = "B".into();
    b.renews_at = Some(at("2026-06-16T00:00:00Z"));
    c.subscriptions = vec![a, b];
    let in_app = |app: &str| json!({"lifecycle": {"states": ["renewing"], "applications": [app]}});
    assert_eq!(outcome(in_app("A"), &c), no(None));
    assert_eq!(outcome(in_app("B"), &c), yes(Some("2026-06-16T00:00:00Z")));
    let plans = json!({"lifecycle": {"states": ["subscribed"], "plans": ["yearly"]}});
    assert_eq!(outcome(plans, &c), yes(None));
    let products = json!({"lifecycle": {"states": ["subscribed"], "products": ["x"]}});
    assert_eq!(
        outcome(products, &c),
        no(None),
        "no product never matches a product filter"
    );
}

#[test]
fn settings_are_checked() {
    assert!(LifecycleSettings::default().check().is_ok());
    let bad = LifecycleSettings {
        inactive_days: 0,
        ..LifecycleSettings::default()
    };
    assert!(matches!(bad.check(), Err(DomainError::Validation { field, .. }) if field == "settings.inactive_days"));
    let partial: LifecycleSettings = serde_json::from_value(json!({"renewing_days": 14})).unwrap();
    assert_eq!(partial.expiring_days, 7);
    assert!(serde_json::from_value::<LifecycleSettings>(json!({"renewing": 14})).is_err());
}

// ---------- combinators ----------

#[test]
fn combinators_report_when_the_whole_can_change() {
    let mut c = customer();
    c.activity.first_booking_at = Some(at("2026-06-20T00:00:00Z"));
    c.activity.last_booking_at = Some(at("2026-06-25T00:00:00Z"));
    let soon = json!({"attribute": {"field": "first_booking_at", "op": "<=", "value": "+1d"}}); // false until 06-19
    let later = json!({"attribute": {"field": "last_booking_at", "op": "<=", "value": "+1d"}}); // false until 06-24
    let never = json!({"tags": {"has_any": ["x"]}});
    // All stays false until every false child may have flipped.
    assert_eq!(
        outcome(json!({"all": [soon.clone(), later.clone()]}), &c),
        no(Some("2026-06-24T00:00:00Z"))
    );
    assert_eq!(outcome(json!({"all": [soon.clone(), never.clone()]}), &c), no(None));
    // Any changes at the first child that flips.
    assert_eq!(
        outcome(json!({"any": [soon.clone(), later.clone()]}), &c),
        no(Some("2026-06-19T00:00:00Z"))
    );
    assert_eq!(
        outcome(json!({"not": soon.clone()}), &c),
        yes(Some("2026-06-19T00:00:00Z"))
    );
    assert_eq!(outcome(json!({"any": [{"not": soon}, {"not": never}]}), &c), yes(None));
}

#[test]
fn far_future_boundaries_are_no_wake_up() {
    let mut c = customer();
    c.activity.first_booking_at = Some(at("9999-12-30T00:00:00Z"));
    let r = json!({"attribute": {"field": "first_booking_at", "op": "<=", "value": "+1w"}});
    assert_eq!(outcome(r, &c), no(Some("9999-12-23T00:00:00Z")));
    let r = json!({"attribute": {"field": "first_booking_at", "op": "<=", "value": "-1w"}});
    assert_eq!(outcome(r, &c), no(None));
}

#[test]
fn explain_annotates_every_node() {
    let mut c = customer();
    c.tags = ["vip".to_owned()].into();
    let r = rule(json!({"all": [{"tags": {"has_any": ["vip"]}}, {"not": {"bookings": {"op": ">", "value": 0}}}]}));
    let in_group = |_: &GroupId| false;
    let ctx = EvalContext {
        now: now(),
        settings: &LifecycleSettings::default(),
        in_group: &in_group,
    };
    let e = explain(&r, &c, &ctx);
    assert_eq!(e["path"], "rules");
    assert_eq!(e["kind"], "all");
    assert_eq!(e["node"], json!({"all": []}));
    assert_eq!(e["matched"], true);
    assert_eq!(e["next_change"], Value::Null);
    assert_eq!(e["children"][0]["path"], "rules.all[0]");
    assert_eq!(e["children"][0]["node"], json!({"tags": {"has_any": ["vip"]}}));
    assert_eq!(e["children"][1]["kind"], "not");
    assert_eq!(e["children"][1]["children"][0]["path"], "rules.all[1].not");
    assert_eq!(e["children"][1]["children"][0]["kind"], "bookings");
    assert_eq!(e["children"][1]["children"][0]["matched"], false);
}

// ---------- templates ----------

#[test]
fn templates_follow_the_seed_segments() {
    let t = templates();
    let ids: Vec<_> = t.iter().map(|(t, _)| t.id).collect();
    assert_eq!(
        ids,
        [
            "new_leads",
            "new_customers",
            "active_customers",
            "active_members",
            "terminating_members",
            "slipping_away"
        ]
    );
    for (tpl, r) in &t {
        assert_eq!(
            Definition::parse(Some(&r.to_json()), None).unwrap().rule,
            *r,
            "{} round-trips",
            tpl.id
        );
    }
    let by_id = |id: &str| from_template(id, None).unwrap().rule;
    let mut c = customer();
    c.activity.first_booking_at = Some(at("2026-06-20T00:00:00Z"));
    assert_eq!(
        eval_at(&by_id("new_leads"), &c, now()),
        yes(Some("2026-06-20T00:00:00Z"))
    );
    assert_eq!(
        eval_at(&by_id("new_leads"), &c, at("2026-05-01T00:00:00Z")),
        no(Some("2026-05-21T00:00:00Z"))
    );
    assert_eq!(
        eval_at(&by_id("new_customers"), &c, now()),
        no(Some("2026-06-20T00:00:00Z"))
    );
    c.activity.first_booking_at = Some(at("2026-04-01T00:00:00Z"));
    c.activity.last_booking_at = Some(at("2026-06-10T00:00:00Z"));
    assert_eq!(
        eval_at(&by_id("active_customers"), &c, now()),
        yes(Some("2026-07-10T00:00:00.000000001Z"))
    );
    assert_eq!(
        eval_at(&by_id("slipping_away"), &c, now()),
        no(Some("2026-06-24T00:00:00Z"))
    );
    let mut s = sub(SubscriptionStatus::Active);
    s.canceled_at = Some(at("2026-06-01T00:00:00Z"));
    c.subscriptions.push(s);
    assert!(eval_at(&by_id("active_members"), &c, now()).matched);
    assert!(eval_at(&by_id("terminating_members"), &c, now()).matched);
}

#[test]
fn template_extras_narrow_the_segment() {
    let extras = json!({"gender": ["f"], "customer_group": "g1", "aggregator": ["classpass"], "bookings": {"op": ">=", "value": 3}});
    let d = from_template("active_members", Some(&extras)).unwrap();
    assert_eq!(d.form, RuleForm::Tree);
    let Rule::All(parts) = &d.rule else {
        panic!("extras are ANDed")
    };
    assert_eq!(parts.len(), 5);
    assert_eq!(d.rule.referenced_groups().len(), 1);
    assert_eq!(Definition::parse(d.to_json().get("rules"), None).unwrap(), d);
    let mut c = customer();
    c.subscriptions.push(sub(SubscriptionStatus::Active));
    c.groups.insert(GroupId::parse("g1").unwrap());
    c.attributes.insert("gender".into(), AttributeValue::String("f".into()));
    c.attributes
        .insert("aggregator".into(), AttributeValue::String("classpass".into()));
    c.activity.bookings = 3;
    assert!(eval_at(&d.rule, &c, now()).matched);
    c.activity.bookings = 2;
    assert!(!eval_at(&d.rule, &c, now()).matched);

    let field = |r: Result<Definition>| match r {
        Err(DomainError::Validation { field, message }) => (field, message),
        other => panic!("should be rejected: {other:?}"),
    };
    let (f, m) = field(from_template("vip", None));
    assert_eq!(f, "template");
    assert!(m.contains("new_leads") && m.contains("slipping_away"), "{m}");
    assert_eq!(field(from_template("new_leads", Some(&json!({"age": 3})))).0, "extra");
    assert_eq!(
        field(from_template("new_leads", Some(&json!({"gender": []})))).0,
        "extra.gender"
    );
    assert_eq!(
        field(from_template(
            "new_leads",
            Some(&json!({"bookings": {"op": "in", "value": 3}}))
        ))
        .0,
        "extra.bookings.op"
    );
    let parsed: TemplateExtras = serde_json::from_value(json!({"bookings": {"op": "<", "value": 2}})).unwrap();
    assert_eq!(parsed.bookings, Some((CmpOp::Lt, 2)));
}

// ---------- dependency order ----------

fn gid(s: &str) -> GroupId {
    GroupId::parse(s).unwrap()
}

fn uses(ids: &[&str]) -> BTreeSet<GroupId> {
    ids.iter().map(|s| gid(s)).collect()
}

#[test]
fn dependency_order_puts_referenced_groups_first() {
    let groups = vec![
        (gid("a"), uses(&["b", "static"])),
        (gid("b"), uses(&["c"])),
        (gid("c"), uses(&[])),
        (gid("d"), uses(&["a", "c"])),
    ];
    let order = dependency_order(&groups).unwrap();
    assert_eq!(order, vec![gid("c"), gid("b"), gid("a"), gid("d")]);
    assert_eq!(dependency_order(&[]).unwrap(), Vec::<GroupId>::new());
}

#[test]
fn dependency_order_reports_a_cycle() {
    let groups = vec![
        (gid("x"), uses(&[])),
        (gid("a"), uses(&["b"])),
        (gid("b"), uses(&["c"])),
        (gid("c"), uses(&["a"])),
    ];
    assert_eq!(
        dependency_order(&groups),
        Err(vec![gid("a"), gid("b"), gid("c"), gid("a")])
    );
    assert_eq!(
        dependency_order(&[(gid("s"), uses(&["s"]))]),
        Err(vec![gid("s"), gid("s")])
    );
}

#[test]
fn evaluation_time_is_independent_of_the_wall_clock() {
    // The same facts at the same `now` give the same answer: nothing reads the system clock.
    let mut c = customer();
    c.signup_date = Some(day("2026-06-01"));
    let r = rule(json!({"attribute": {"field": "signup_date", "op": ">=", "value": "-30d"}}));
    assert_eq!(eval_at(&r, &c, now()), eval_at(&r, &c, now()));
    assert_eq!(
        eval_at(&r, &c, now() + Duration::days(10)).next_change,
        Some(at("2026-07-01T00:00:00.000000001Z"))
    );
}
