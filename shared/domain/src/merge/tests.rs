//! Tests of the merge plan: conflicts, which values the primary takes, sums and the entries' versions.

use super::*;
use crate::customer::{Customer, NewCustomer};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

fn now() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn customer(json: serde_json::Value) -> Customer {
    serde_json::from_value::<NewCustomer>(json)
        .unwrap()
        .into_customer(now())
        .unwrap()
}

#[test]
fn every_identity_kind_conflicts_when_the_values_differ() {
    let p = customer(serde_json::json!({"id": "p", "email": "a@x.io", "phone": "+380980000001", "external_id": "e1"}));
    let s = customer(serde_json::json!({"id": "s", "email": "b@x.io", "phone": "+380980000002", "external_id": "e2"}));
    let plan = plan_merge(&p, &s, &BTreeSet::new(), "t", now()).unwrap();
    let fields: Vec<&str> = plan.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["email", "phone", "external_id"]);
    let same = customer(serde_json::json!({"id": "s2", "email": "a@x.io"}));
    assert!(plan_merge(&p, &same, &BTreeSet::new(), "t", now())
        .unwrap()
        .conflicts
        .is_empty());
}

#[test]
fn the_primary_keeps_its_values_takes_missing_ones_and_sums() {
    let mut p = customer(serde_json::json!({"id": "p", "name": "Ana", "tags": ["a"]}));
    let mut s = customer(
        serde_json::json!({"id": "s", "name": "Bob", "email": "b@x.io", "tags": ["b"],
        "order_number": "o-1"}),
    );
    p.activity.bookings = 2;
    s.activity.bookings = 3;
    p.balances.insert(crate::balance::Unit::parse("EUR").unwrap(), 100);
    s.balances.insert(crate::balance::Unit::parse("EUR").unwrap(), 50);
    s.balances.insert(crate::balance::Unit::parse("points").unwrap(), 7);
    let plan = plan_merge(&p, &s, &BTreeSet::new(), "t", now()).unwrap();
    let m = &plan.merged;
    assert_eq!(m.name.as_deref(), Some("Ana"));
    assert_eq!(m.email.as_ref().map(|e| e.as_str()), Some("b@x.io"));
    assert_eq!(m.order_number.as_deref(), Some("o-1"));
    assert_eq!(m.tags.iter().cloned().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(m.activity.bookings, 5);
    assert_eq!(m.balances.values().copied().collect::<Vec<_>>(), [150, 7]);
    assert_eq!(plan.entries.len(), 2);
    assert_eq!(
        (plan.entries[0].balance_before, plan.entries[0].balance_after),
        (100, 150)
    );
    assert_eq!(m.version, p.version + 2);
    assert_eq!(plan.summary.identities_moved, ["email"]);
    assert!(plan.stripped.email.is_none());
}

#[test]
fn self_merge_and_bad_ids_name_the_field() {
    let body = |p: &str, s: &str| MergeBody {
        primary_id: p.into(),
        secondary_id: s.into(),
    };
    let field = |r: crate::Result<MergeInput>| match r {
        Err(crate::DomainError::Validation { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(MergeInput::try_from(body("a", "a"))), "secondary_id");
    assert_eq!(field(MergeInput::try_from(body("", "a"))), "primary_id");
    assert_eq!(field(MergeInput::try_from(body("a", "b c"))), "secondary_id");
}
