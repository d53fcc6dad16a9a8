use super::*;

fn change(kind: ChangeKind, amount: i64, allow_negative: bool) -> Change {
    Change {
        kind,
        unit: Unit::parse("EUR").unwrap(),
        amount,
        allow_negative,
    }
}

fn held(v: i64) -> Balances {
    Balances::from([(Unit::parse("EUR").unwrap(), v)])
}

#[test]
fn units_are_iso_codes_or_points_exactly() {
    assert!(Unit::parse("EUR").is_ok());
    assert!(Unit::parse("points").is_ok());
    for bad in ["eur", "EURO", "XXX", "Points", ""] {
        assert!(matches!(Unit::parse(bad), Err(DomainError::Validation { field, .. }) if field == "unit"));
    }
}

#[test]
fn adjust_adds_and_deducts_but_not_below_zero_unless_allowed() {
    use Outcome::*;
    assert_eq!(
        change(ChangeKind::Adjust, 5, false).outcome(&held(10)),
        Applied { before: 10, after: 15 }
    );
    assert_eq!(
        change(ChangeKind::Adjust, -10, false).outcome(&held(10)),
        Applied { before: 10, after: 0 }
    );
    assert_eq!(
        change(ChangeKind::Adjust, -11, false).outcome(&held(10)),
        Rejected(Rejection::InsufficientBalance, 10)
    );
    assert_eq!(
        change(ChangeKind::Adjust, -11, true).outcome(&held(10)),
        Applied { before: 10, after: -1 }
    );
    assert_eq!(
        change(ChangeKind::Adjust, -1, false).outcome(&Balances::new()),
        Rejected(Rejection::InsufficientBalance, 0)
    );
    // A credit to a balance already below zero is always allowed.
    assert_eq!(
        change(ChangeKind::Adjust, 1, false).outcome(&held(-5)),
        Applied { before: -5, after: -4 }
    );
    assert_eq!(
        change(ChangeKind::Adjust, 1, false).outcome(&held(i64::MAX)),
        Rejected(Rejection::BalanceOverflow, i64::MAX)
    );
}

#[test]
fn set_replaces_and_a_set_to_the_same_value_is_unchanged() {
    assert_eq!(
        change(ChangeKind::Set, 7, false).outcome(&held(10)),
        Outcome::Applied { before: 10, after: 7 }
    );
    assert_eq!(
        change(ChangeKind::Set, 10, false).outcome(&held(10)),
        Outcome::Unchanged
    );
    assert_eq!(
        change(ChangeKind::Set, 0, false).outcome(&Balances::new()),
        Outcome::Unchanged
    );
    assert_eq!(
        change(ChangeKind::Set, i64::MAX, false).outcome(&held(-1)),
        Outcome::Rejected(Rejection::BalanceOverflow, -1)
    );
}

#[test]
fn a_customer_holds_at_most_max_units() {
    let mut b = Balances::new();
    for code in units::ISO_4217.iter().take(MAX_UNITS) {
        b.insert(Unit::parse(code).unwrap(), 1);
    }
    let c = Change {
        kind: ChangeKind::Adjust,
        unit: Unit::parse("points").unwrap(),
        amount: 1,
        allow_negative: false,
    };
    assert_eq!(c.outcome(&b), Outcome::Rejected(Rejection::TooManyUnits, 0));
}

#[test]
fn requests_name_the_bad_field() {
    let body = |amount: serde_json::Value, comment: &str, unit: &str| {
        let v =
            serde_json::json!({"type":"adjust","unit":unit,"amount":amount,"comment":comment,"idempotency_key":"k1"});
        ChangeInput::try_from(serde_json::from_value::<request::ChangeBody>(v).unwrap())
    };
    use request::ChangeInput;
    let field = |r: Result<ChangeInput>| match r {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(body(serde_json::json!(1e30), "c", "EUR")), "amount");
    assert_eq!(field(body(serde_json::json!(1.5), "c", "EUR")), "amount");
    assert_eq!(field(body(serde_json::json!(0), "c", "EUR")), "amount");
    assert_eq!(field(body(serde_json::json!(5), "  ", "EUR")), "comment");
    assert_eq!(field(body(serde_json::json!(5), "c", "ABC")), "unit");
    assert!(body(serde_json::json!(-5), "c", "points").is_ok());
}
