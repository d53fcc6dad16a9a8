//! Property tests: the `next_change` contract checked by sampling time, JSON round trips, condition
//! groups against the equivalent tree, and the combinators against a plain boolean fold. The generators
//! are shared with the compiled engine's equivalence test (`compiled/properties.rs`).

use super::tests::{customer, now as base_now};
use super::*;
use crate::activity::{Ledger, LedgerEntry};
use crate::contact::{Email, Phone};
use crate::customer::{AttributeValue, Subscription, SubscriptionStatus};
use crate::ids::CustomerId;
use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

// ---------- facts around a fixed instant ----------

pub(super) fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // Hours around the base instant, sometimes with minutes, so boundaries land on and between hours.
    (-1500i64..1500, prop_oneof![Just(0i64), 0i64..60])
        .prop_map(|(h, m)| base_now() + Duration::hours(h) + Duration::minutes(m))
}

fn opt_instant() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    prop::option::weighted(0.7, instant())
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (-70i64..70).prop_map(|d| base_now().date_naive() + Duration::days(d))
}

fn status() -> impl Strategy<Value = SubscriptionStatus> {
    select(vec![
        SubscriptionStatus::Active,
        SubscriptionStatus::Active,
        SubscriptionStatus::Active,
        SubscriptionStatus::Pending,
        SubscriptionStatus::Suspended,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Expired,
    ])
}

fn subscription() -> impl Strategy<Value = Subscription> {
    (
        (
            select(vec!["A", "B"]),
            prop::option::of(select(vec!["p", "q"])),
            prop::option::of(select(vec!["m", "y"])),
        ),
        (prop::option::of(select(vec!["month", "year"])), any::<bool>(), status()),
        (
            opt_instant(),
            opt_instant(),
            opt_instant(),
            prop::option::weighted(0.3, instant()),
            opt_instant(),
        ),
    )
        .prop_map(
            |((app, product, plan), (period, paid, status), (sub, renews, expires, canceled, active))| Subscription {
                application: app.into(),
                product: product.map(Into::into),
                plan: plan.map(Into::into),
                period: period.map(Into::into),
                paid,
                status,
                subscribed_at: sub,
                renews_at: renews,
                expires_at: expires,
                canceled_at: canceled,
                last_active_at: active,
            },
        )
}

fn ledger() -> impl Strategy<Value = Ledger> {
    prop::collection::vec((select(vec!["EUR", "USD"]), -420i64..30, -100i64..1000), 0..5).prop_map(|entries| {
        let mut l = Ledger::default();
        for (cur, d, amount) in entries {
            let on = base_now().date_naive() + Duration::days(d);
            l.entries.push(LedgerEntry {
                currency: cur.into(),
                on,
                amount_minor: amount,
            });
            *l.totals.entry(cur.into()).or_insert(0) += amount;
            let at = on.and_hms_opt(9, 0, 0).unwrap().and_utc();
            l.first_at = Some(l.first_at.map_or(at, |x| x.min(at)));
        }
        l
    })
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        select(vec!["gold", "silver", "30d", "2026-06-01"]).prop_map(|s| AttributeValue::String(s.into())),
        (-5i32..5).prop_map(|n| AttributeValue::Number(f64::from(n) / 2.0)),
        any::<bool>().prop_map(AttributeValue::Boolean),
        date().prop_map(AttributeValue::Date),
    ]
}

prop_compose! {
    pub(super) fn a_customer()(
        (reg, signup, created) in (prop::option::of(date()), prop::option::of(date()), -400i64..0),
        (last_active, first_booking, last_booking, bookings) in (opt_instant(), opt_instant(), opt_instant(), 0u32..6),
        (payments, expenses) in (ledger(), ledger()),
        attributes in prop::collection::btree_map(select(vec!["tier", "score", "vip", "born"]), attribute_value(), 0..4),
        tags in prop::collection::btree_set(select(vec!["a", "b", "c"]), 0..3),
        subscriptions in prop::collection::vec(subscription(), 0..4),
        (email, phone, name) in (any::<bool>(), any::<bool>(), prop::option::of(select(vec!["Ana", "Bob", "ana"]))),
        (email_verified, phone_verified, activation_required) in (any::<bool>(), any::<bool>(), any::<bool>()),
        (groups, id) in (prop::collection::btree_set(select(vec!["g1", "g2"]), 0..3), select(vec!["c1", "c2", "c3"])),
    ) -> Customer {
        let mut c = customer();
        c.id = CustomerId::parse(id).unwrap();
        c.registration_date = reg;
        c.signup_date = signup;
        c.created_at = base_now() + Duration::days(created);
        c.activity.last_active_at = last_active;
        c.activity.first_booking_at = first_booking;
        c.activity.last_booking_at = last_booking;
        c.activity.bookings = bookings;
        c.activity.payments = payments;
        c.activity.expenses = expenses;
        c.attributes = attributes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        c.tags = tags.into_iter().map(str::to_owned).collect();
        // Subscriptions are unique per application, product and plan.
        let mut seen = BTreeSet::new();
        c.subscriptions = subscriptions
            .into_iter()
            .filter(|s| seen.insert((s.application.clone(), s.product.clone(), s.plan.clone())))
            .collect();
        c.email = email.then(|| Email::parse("ana@example.com").unwrap());
        c.phone = phone.then(|| Phone::parse("+442079460958").unwrap());
        c.name = name.map(str::to_owned);
        c.email_verified = email_verified;
        c.phone_verified = phone_verified;
        c.activation_required = activation_required;
        c.groups = groups.into_iter().map(|g| GroupId::parse(g).unwrap()).collect();
        c
    }
}

// ---------- rules as JSON ----------

fn date_operand() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("now")),
        (-60i64..60, select(vec!["h", "d"])).prop_map(|(n, u)| json!(format!("{n:+}{u}"))),
        (-8i64..8).prop_map(|n| json!(format!("{n}w"))),
        date().prop_map(|d| json!(d.format("%Y-%m-%d").to_string())),
        instant().prop_map(|t| json!(t.to_rfc3339())),
    ]
}

/// `op` with operands drawn from `operand`, for the operators `ops`.
fn test_json(ops: Vec<&'static str>, operand: BoxedStrategy<Value>, value_key: &'static str) -> BoxedStrategy<Value> {
    (
        select(ops),
        operand.clone(),
        operand.clone(),
        prop::collection::vec(operand, 1..3),
    )
        .prop_map(move |(op, a, b, values)| match op {
            "between" => json!({"op": op, "from": a, "to": b}),
            "in" | "not_in" => json!({"op": op, "values": values}),
            "exists" | "missing" => json!({"op": op}),
            _ => json!({"op": op, value_key: a}),
        })
        .boxed()
}

const DATE_OPS: [&str; 11] = [
    "=", "!=", "<", "<=", ">", ">=", "between", "in", "not_in", "exists", "missing",
];
const ORDER_OPS: [&str; 7] = ["=", "!=", "<", "<=", ">", ">=", "between"];

fn date_test() -> BoxedStrategy<Value> {
    test_json(DATE_OPS.to_vec(), date_operand().boxed(), "value")
}

fn count_test() -> BoxedStrategy<Value> {
    test_json(ORDER_OPS.to_vec(), (0i64..5).prop_map(|n| json!(n)).boxed(), "value")
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn service_filter() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(vec!["A", "B"])),
        prop::option::of(select(vec!["p", "q"])),
        prop::option::of(select(vec!["m", "y"])),
        prop::option::of(prop::sample::subsequence(
            vec!["active", "pending", "suspended", "canceled", "expired"],
            1..4,
        )),
        prop::option::of(any::<bool>()),
        prop::option::of(date_operand()),
        prop::option::of(date_operand()),
    )
        .prop_map(|(app, product, plan, status, paid, from, to)| {
            let mut m = serde_json::Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            };
            put("application", app.map(Value::from));
            put("product", product.map(Value::from));
            put("plan", plan.map(Value::from));
            put("status", status.map(|s| json!(s)));
            put("paid", paid.map(Value::from));
            put("ordered_from", from);
            put("ordered_to", to);
            Value::Object(m)
        })
}

fn money(period: bool) -> BoxedStrategy<Value> {
    let amounts = (-100i64..1500).prop_map(|n| json!(n)).boxed();
    (
        test_json(ORDER_OPS.to_vec(), amounts, "amount_minor"),
        select(vec!["EUR", "USD"]),
        prop_oneof![
            (1u32..60).prop_map(|n| format!("{n}d")),
            (1u32..9).prop_map(|n| format!("{n}w"))
        ],
    )
        .prop_map(move |(t, cur, p)| {
            let m = with(t, json!({ "currency": cur }));
            if period {
                with(m, json!({ "period": p }))
            } else {
                m
            }
        })
        .boxed()
}

fn attribute() -> BoxedStrategy<Value> {
    let text = || {
        select(vec!["Ana", "ana", "An", "Bob", "gold", "30d"])
            .prop_map(Value::from)
            .boxed()
    };
    let text_field = select(vec![
        "email",
        "name",
        "phone",
        "order_number",
        "external_id",
        "attributes.tier",
    ]);
    let date_field = select(vec![
        "signup_date",
        "registration_date",
        "created_at",
        "last_active_at",
        "first_booking_at",
        "last_booking_at",
        "attributes.born",
        "attributes.tier",
    ]);
    let number = (-5i32..8).prop_map(|n| json!(f64::from(n) / 2.0)).boxed();
    prop_oneof![
        (
            text_field,
            test_json([&DATE_OPS[..], &["contains", "starts_with"]].concat(), text(), "value")
        )
            .prop_map(|(f, t)| with(t, json!({"field": f, "type": "string"}))),
        (date_field, date_test()).prop_map(|(f, t)| with(t, json!({ "field": f }))),
        (
            select(vec!["bookings", "attributes.score"]),
            test_json(DATE_OPS.to_vec(), number, "value")
        )
            .prop_map(|(f, t)| with(t, json!({ "field": f }))),
        (
            select(vec!["email_verified", "phone_verified", "attributes.vip"]),
            test_json(
                vec!["=", "!=", "exists", "missing"],
                any::<bool>().prop_map(Value::from).boxed(),
                "value"
            )
        )
            .prop_map(|(f, t)| with(t, json!({ "field": f }))),
        select(vec!["exists", "missing"]).prop_map(|op| json!({"field": "attributes.vip", "op": op})),
    ]
    .prop_map(|mut v| {
        // `type` is for custom attributes only.
        let custom = v["field"].as_str().is_some_and(|f| f.starts_with("attributes."));
        if !custom {
            v.as_object_mut().unwrap().remove("type");
        }
        v
    })
    .boxed()
}

pub(super) fn lifecycle() -> impl Strategy<Value = Value> {
    let all = vec![
        "registered",
        "subscribed",
        "renewing",
        "canceling",
        "expiring",
        "canceled",
        "expired",
        "inactive",
    ];
    (
        prop::sample::subsequence(all, 1..4),
        prop::option::of(prop::sample::subsequence(vec!["A", "B"], 1..3)),
        prop::option::of(prop::sample::subsequence(vec!["p", "q"], 1..3)),
        prop::option::of(prop::sample::subsequence(vec!["m", "y"], 1..3)),
        prop::option::of(0u32..40),
    )
        .prop_map(|(states, apps, products, plans, days)| {
            let ahead = states.iter().all(|s| matches!(*s, "renewing" | "expiring"));
            let behind = states.iter().all(|s| !matches!(*s, "renewing" | "expiring"));
            let mut v = json!({ "states": states });
            for (k, list) in [("applications", apps), ("products", products), ("plans", plans)] {
                if let Some(list) = list {
                    v[k] = json!(list);
                }
            }
            match days {
                Some(n) if ahead => v["timing"] = json!({ "before_days": n }),
                Some(n) if behind => v["timing"] = json!({ "after_days": n }),
                _ => {}
            }
            v
        })
}

pub(super) fn condition() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!({"all_customers": {}})),
        select(vec!["g1", "g2"]).prop_map(|g| json!({"member_of": {"group_id": g}})),
        date_test().prop_map(|t| json!({ "registration_date": t })),
        date_test().prop_map(|t| json!({ "first_expense_date": t })),
        service_filter().prop_map(|f| json!({ "has_service": f })),
        service_filter().prop_map(|f| json!({ "no_service": f })),
        (count_test(), prop::option::of(select(vec!["m", "y"]))).prop_map(|(t, plan)| {
            let t = match plan {
                Some(p) => with(t, json!({ "plan": p })),
                None => t,
            };
            json!({ "service_count": t })
        }),
        count_test().prop_map(|t| json!({ "paid_service_count": with(t, json!({"application": "A"})) })),
        any::<bool>().prop_map(|b| json!({"email_verified": {"verified": b}})),
        Just(json!({"verified_phone_missing": {}})),
        Just(json!({"activation_required": {}})),
        money(false).prop_map(|m| json!({ "payments_amount": m })),
        money(false).prop_map(|m| json!({ "payments_over_year": m })),
        money(true).prop_map(|m| json!({ "expenses_amount": m })),
        select(vec!["c1", "c1 c2", "c3,c4"]).prop_map(|ids| json!({"selected_customers": {"ids": ids}})),
        attribute().prop_map(|a| json!({ "attribute": a })),
        (
            select(vec!["has_any", "has_all", "has_none"]),
            prop::sample::subsequence(vec!["a", "b", "x"], 1..3)
        )
            .prop_map(|(k, tags)| json!({"tags": { k: tags }})),
        count_test().prop_map(|t| json!({ "bookings": t })),
        lifecycle().prop_map(|l| json!({ "lifecycle": l })),
    ]
    .boxed()
}

pub(super) fn tree() -> impl Strategy<Value = Value> {
    condition().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({ "all": v })),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({ "any": v })),
            inner.prop_map(|v| json!({ "not": v })),
        ]
    })
}

pub(super) fn parse_tree(v: &Value) -> Rule {
    match Definition::parse(Some(v), None) {
        Ok(d) => d.rule,
        Err(e) => panic!("generated rule {v} should parse: {e:?}"),
    }
}

fn eval(rule: &Rule, c: &Customer, now: DateTime<Utc>, settings: &LifecycleSettings) -> Outcome {
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

pub(super) fn settings() -> impl Strategy<Value = LifecycleSettings> {
    prop_oneof![
        Just(LifecycleSettings::default()),
        (1u32..20, 1u32..20, 1u32..60).prop_map(|(r, e, i)| LifecycleSettings {
            renewing_days: r,
            expiring_days: e,
            inactive_days: i,
        }),
    ]
}

/// The boolean answer computed from the leaves alone, without `next_change` bookkeeping.
fn oracle(rule: &Rule, c: &Customer, now: DateTime<Utc>, settings: &LifecycleSettings) -> bool {
    match rule {
        Rule::All(rs) => rs.iter().all(|r| oracle(r, c, now, settings)),
        Rule::Any(rs) => rs.iter().any(|r| oracle(r, c, now, settings)),
        Rule::Not(r) => !oracle(r, c, now, settings),
        Rule::Cond(_) => eval(rule, c, now, settings).matched,
    }
}

/// Random fractions of the span to the next change, and a phase for a 6-hour probing grid.
fn probes() -> impl Strategy<Value = (Vec<f64>, i64)> {
    (prop::collection::vec(0.0f64..1.0, 8), 0i64..360)
}

/// Evaluates at `now` and at probes before the reported next change: a 6-hour grid with a random phase
/// over the span the generated facts can reach (generated boundaries are at least an hour apart), far
/// instants, random points, and the last nanosecond before the change.
fn holds_until_next_change(
    v: &Value,
    c: &Customer,
    offset_minutes: i64,
    settings: &LifecycleSettings,
    (fractions, phase_minutes): &(Vec<f64>, i64),
) -> std::result::Result<(), TestCaseError> {
    let rule = parse_tree(v);
    let now = base_now() + Duration::minutes(offset_minutes);
    let out = eval(&rule, c, now, settings);
    let until = out.next_change.unwrap_or(DateTime::<Utc>::MAX_UTC);
    if let Some(next) = out.next_change {
        prop_assert!(next > now, "next change {} is not after now {}", next, now);
    }
    let mut probes: Vec<DateTime<Utc>> = (0..600)
        .map(|i| now + Duration::minutes(phase_minutes + 360 * i))
        .chain([1i64, 365, 400, 3 * 365, 100 * 365].map(|d| now + Duration::days(d)))
        .chain(
            fractions
                .iter()
                .map(|f| now + Duration::minutes((f * 1_500_000.0) as i64)),
        )
        .chain(out.next_change.map(|next| next - Duration::nanoseconds(1)))
        .filter(|t| *t < until)
        .collect();
    if let Some(next) = out.next_change {
        let span = (next - now).num_nanoseconds().unwrap_or(i64::MAX) as f64;
        probes.extend(fractions.iter().map(|f| now + Duration::nanoseconds((span * f) as i64)));
    }
    for t in probes {
        let later = eval(&rule, c, t, settings);
        prop_assert_eq!(
            later.matched,
            out.matched,
            "at {} (now {}, next {:?}) for {}",
            t,
            now,
            out.next_change,
            v
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Between `now` and `next_change` the answer of a tree stays the same; without a next change it
    /// stays the same for good.
    #[test]
    fn answers_hold_until_the_next_change(
        c in a_customer(),
        v in tree(),
        offset_minutes in -43_200i64..43_200,
        settings in settings(),
        probes in probes(),
    ) {
        holds_until_next_change(&v, &c, offset_minutes, &settings, &probes)?;
    }

    /// The same contract for each condition alone, so rare time-dependent answers are not masked by
    /// the rest of a tree.
    #[test]
    fn conditions_hold_until_the_next_change(
        c in a_customer(),
        v in condition(),
        offset_minutes in -43_200i64..43_200,
        settings in settings(),
        probes in probes(),
    ) {
        holds_until_next_change(&v, &c, offset_minutes, &settings, &probes)?;
    }

    /// The same contract for lifecycle conditions, whose boundaries are the most numerous.
    #[test]
    fn lifecycle_states_hold_until_the_next_change(
        c in a_customer(),
        l in lifecycle(),
        offset_minutes in -43_200i64..43_200,
        settings in settings(),
        probes in probes(),
    ) {
        holds_until_next_change(&json!({ "lifecycle": l }), &c, offset_minutes, &settings, &probes)?;
    }

    /// Rules read back from their own JSON are the same rules.
    #[test]
    fn rules_round_trip_through_json(v in tree()) {
        let rule = parse_tree(&v);
        let again = parse_tree(&rule.to_json());
        prop_assert_eq!(&again, &rule);
        prop_assert_eq!(again.to_json(), rule.to_json());
    }

    /// Condition groups are the tree all[any[...], ...], and are written back as groups.
    #[test]
    fn condition_groups_equal_the_all_of_any_tree(
        groups in prop::collection::vec(prop::collection::vec(condition(), 1..4), 1..4),
        c in a_customer(),
        offset_minutes in -43_200i64..43_200,
    ) {
        let g = Value::from(groups.clone());
        let d = Definition::parse(None, Some(&g)).unwrap();
        let tree: Vec<Value> = groups.into_iter().map(|conds| json!({ "any": conds })).collect();
        let t = Definition::parse(Some(&json!({ "all": tree })), None).unwrap();
        let now = base_now() + Duration::minutes(offset_minutes);
        let settings = LifecycleSettings::default();
        prop_assert_eq!(eval(&d.rule, &c, now, &settings), eval(&t.rule, &c, now, &settings));
        let shown = d.to_json();
        prop_assert!(shown.get("condition_groups").is_some());
        prop_assert_eq!(Definition::parse(None, shown.get("condition_groups")).unwrap(), d);
    }

    /// all/any/not short-circuit and fold `next_change`, but answer like plain boolean logic.
    #[test]
    fn combinators_answer_like_boolean_logic(c in a_customer(), v in tree(), settings in settings()) {
        let rule = parse_tree(&v);
        let now = base_now();
        prop_assert_eq!(eval(&rule, &c, now, &settings).matched, oracle(&rule, &c, now, &settings));
    }
}
