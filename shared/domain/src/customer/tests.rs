//! Tests of customer input: normalisation, validation, merge patches.

use super::*;
use crate::error::{DomainError, Result};

fn now() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn created(json: serde_json::Value) -> Result<Customer> {
    serde_json::from_value::<NewCustomer>(json)
        .unwrap()
        .into_customer(now())
}

#[test]
fn create_normalises_identities_and_generates_an_id() {
    let c = created(serde_json::json!({
        "email": " Ana@Example.com", "phone": "380980000000", "tags": ["vip", "vip", " b "],
        "attributes": {"tier": {"type": "string", "value": "gold"}, "born": {"type": "date", "value": "1990-01-02"}}
    }))
    .unwrap();
    assert_eq!(c.email.unwrap().as_str(), "ana@example.com");
    assert_eq!(c.phone.unwrap().as_str(), "+380980000000");
    assert_eq!(c.tags.into_iter().collect::<Vec<_>>(), vec!["b", "vip"]);
    assert_eq!(c.version, 1);
    assert!(CustomerId::parse(c.id.as_str()).is_ok());
}

#[test]
fn create_rejects_bad_attribute_names_and_duplicate_subscriptions() {
    let bad_attr = created(serde_json::json!({"attributes": {"1x": {"type": "number", "value": 1}}}));
    assert!(matches!(bad_attr, Err(DomainError::Validation { field, .. }) if field == "attributes"));
    let sub = serde_json::json!({"application": "app", "status": "active"});
    let dup = created(serde_json::json!({"subscriptions": [sub.clone(), sub]}));
    assert!(matches!(dup, Err(DomainError::Validation { field, .. }) if field == "subscriptions"));
}

#[test]
fn attribute_values_must_match_their_declared_type() {
    let wrong = serde_json::from_value::<NewCustomer>(
        serde_json::json!({"attributes": {"x": {"type": "date", "value": "not a date"}}}),
    );
    assert!(wrong.is_err());
}

#[test]
fn patch_sets_clears_and_merges_attributes() {
    let c = created(serde_json::json!({
        "id": "c1", "email": "a@b.com", "name": "Ana",
        "attributes": {"a": {"type": "boolean", "value": true}, "b": {"type": "number", "value": 2}}
    }))
    .unwrap();
    let patch: CustomerPatch = serde_json::from_value(serde_json::json!({
        "name": null, "phone": "+44 20 7946 0958", "attributes": {"a": null, "c": {"type": "string", "value": "x"}}
    }))
    .unwrap();
    let next = patch.apply(&c, now()).unwrap();
    assert_eq!(next.name, None);
    assert_eq!(next.email, c.email, "absent fields are kept");
    assert_eq!(next.phone.unwrap().as_str(), "+442079460958");
    assert_eq!(next.attributes.keys().collect::<Vec<_>>(), vec!["b", "c"]);
    assert_eq!(next.version, 2);
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(serde_json::from_value::<NewCustomer>(serde_json::json!({"emial": "a@b.com"})).is_err());
    assert!(serde_json::from_value::<CustomerPatch>(serde_json::json!({"groups": []})).is_err());
}
