//! Customer merge on moto (issue 15 items 5 and 6): every conflict kind (409, nothing changed),
//! identities moved (a lookup by the secondary's phone finds the primary), static memberships united
//! with exact counts, the dynamic group re-evaluated, balances summed through `merge` ledger entries,
//! history exits with reason `merged`, the tombstone (`merged_into`), a merge stopped after each step
//! and retried ending equal to an uninterrupted one, a retry after success applying nothing, tenant
//! isolation and bad input.

use cg_domain::balance::request::{ChangeBody, ChangeInput};
use cg_domain::balance::OperationKind;
use cg_domain::contact::Phone;
use cg_domain::customer::Identity;
use cg_domain::history::Change;
use cg_domain::ids::TenantId;
use cg_domain::merge::ports::MergeStore;
use cg_domain::merge::{MergeInput, MergeStep};
use cg_domain::page::PageRequest;
use cg_domain::ports::{CustomerStore, GroupStore, HistoryLog, MembershipStore};
use cg_domain::usecases::merge::{merge, merged_into, preview, MergeOptions};
use cg_domain::usecases::{balances, lookup};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_tests::given::{customer, group, static_group};
use cg_tests::{app, cid, fresh_tenant};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::BTreeMap;

async fn adjust(app: &App, t: &TenantId, id: &str, unit: &str, amount: i64) {
    let body: ChangeBody = serde_json::from_value(json!({"type": "adjust", "unit": unit, "amount": amount,
        "comment": "seed", "idempotency_key": format!("seed-{id}-{unit}")}))
    .unwrap();
    balances::adjust_balance(&app.store, t, &cid(id), ChangeInput::try_from(body).unwrap(), "tester")
        .await
        .unwrap();
}

/// P (email, tags a, 100 EUR, in `both`) and S (phone, external id, tag vip, 50 EUR and 7 points, in
/// `only_s`, `both` and the dynamic `vip`); plus a bystander C in `only_s`.
async fn fixture(app: &App, t: &TenantId) {
    // First, so creating S puts it in `vip` through the membership pass.
    group(
        app,
        t,
        json!({"name": "vip", "type": "dynamic", "rules": {"tags": {"has_any": ["vip"]}}}),
    )
    .await;
    customer(
        app,
        t,
        json!({"id": "p", "email": "p@x.io", "name": "Pat", "tags": ["a"]}),
    )
    .await;
    customer(
        app,
        t,
        json!({"id": "s", "phone": "+380980000009", "external_id": "crm-9", "name": "Sam",
        "order_number": "o-9", "tags": ["vip"]}),
    )
    .await;
    customer(app, t, json!({"id": "c", "tags": ["b"]})).await;
    adjust(app, t, "p", "EUR", 100).await;
    adjust(app, t, "s", "EUR", 50).await;
    adjust(app, t, "s", "points", 7).await;
    static_group(app, t, "only_s", &["s", "c"]).await;
    static_group(app, t, "both", &["p", "s"]).await;
    let s = lookup::get_customer(&app.store, t, &cid("s")).await.unwrap();
    assert_eq!(s.groups.len(), 3, "S is in only_s, both and vip");
}

fn pair() -> MergeInput {
    MergeInput {
        primary: cid("p"),
        secondary: cid("s"),
    }
}

/// Everything a merge decides, without times and generated ids (groups by name).
async fn snapshot(app: &App, t: &TenantId) -> Value {
    let store = &app.store;
    let p = lookup::get_customer(store, t, &cid("p")).await.unwrap();
    let mut groups = BTreeMap::new();
    for g in store.list_all_groups(t).await.unwrap() {
        let members = store
            .list_members(
                t,
                &g.id,
                &PageRequest {
                    limit: 100,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        let ids: Vec<String> = members.items.iter().map(|m| m.customer_id.to_string()).collect();
        let history = store
            .list_history(
                t,
                &g.id,
                &PageRequest {
                    limit: 100,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        let exits: Vec<String> = history
            .items
            .iter()
            .filter(|h| h.customer_id.as_str() == "s" && h.change == Change::Left)
            .map(|h| h.reason.clone())
            .collect();
        groups.insert(
            g.name.clone(),
            json!({"count": g.member_count, "members": ids, "s_exits": exits}),
        );
    }
    let ledger = balances::list_ledger(
        store,
        t,
        &cid("p"),
        &PageRequest {
            limit: 100,
            cursor: None,
        },
    )
    .await
    .unwrap();
    let entries: Vec<Value> = ledger
        .items
        .iter()
        .map(|e| {
            json!([
                e.unit.to_string(),
                e.delta,
                e.balance_before,
                e.balance_after,
                e.operation.kind == OperationKind::Merge
            ])
        })
        .collect();
    let phone = Identity::Phone(Phone::parse("+380980000009").unwrap());
    let ext = Identity::External("crm-9".into());
    let owners = store.resolve_identities(t, &[phone, ext]).await.unwrap();
    let mut p_view = serde_json::to_value(&p).unwrap();
    for k in ["created_at", "updated_at"] {
        p_view.as_object_mut().unwrap().remove(k);
    }
    // Group ids are generated per tenant: compare how many (the groups map names them).
    p_view["groups"] = json!(p.groups.len());
    json!({
        "primary": p_view,
        "secondary": store.get_customer(t, &cid("s")).await.unwrap().is_some(),
        "groups": groups,
        "ledger": entries,
        "owners": owners,
        "merged_into": merged_into(store, t, &cid("s")).await.unwrap(),
    })
}

#[tokio::test]
async fn a_merge_moves_identities_unites_groups_and_sums_balances() {
    let app = app().await;
    let t = fresh_tenant();
    fixture(&app, &t).await;
    let shown = preview(&app.store, &t, &pair(), "tester", Utc::now()).await.unwrap();
    assert!(shown.conflicts.is_empty());
    assert_eq!(shown.customer.phone.as_ref().map(|p| p.as_str()), Some("+380980000009"));
    assert!(
        app.store.get_merge(&t, &cid("s")).await.unwrap().is_none(),
        "a preview writes nothing"
    );

    let done = merge(&app.store, &t, &pair(), "tester", Utc::now(), MergeOptions::default())
        .await
        .unwrap();
    assert!(!done.replayed);
    let c = &done.customer;
    assert_eq!(c.name.as_deref(), Some("Pat"), "the primary keeps its values");
    assert_eq!(c.email.as_ref().map(|e| e.as_str()), Some("p@x.io"));
    assert_eq!(
        c.external_id.as_deref(),
        Some("crm-9"),
        "and takes the secondary's where it has none"
    );
    assert_eq!(c.order_number.as_deref(), Some("o-9"));
    assert_eq!(c.tags.iter().cloned().collect::<Vec<_>>(), ["a", "vip"]);
    let s = snapshot(&app, &t).await;
    assert_eq!(
        s["owners"],
        json!(["p", "p"]),
        "the secondary's identities resolve to the primary"
    );
    assert_eq!(s["secondary"], json!(false));
    assert_eq!(s["merged_into"], json!("p"));
    assert_eq!(s["primary"]["balances"], json!({"EUR": 150, "points": 7}));
    // Newest first: the two merge entries (one per unit) over the seed adjustment, chaining to the balance.
    assert_eq!(
        s["ledger"],
        json!([
            ["points", 7, 0, 7, true],
            ["EUR", 50, 100, 150, true],
            ["EUR", 100, 0, 100, false]
        ])
    );
    assert_eq!(
        s["groups"]["only_s"],
        json!({"count": 2, "members": ["c", "p"], "s_exits": ["merged"]})
    );
    assert_eq!(
        s["groups"]["both"],
        json!({"count": 1, "members": ["p"], "s_exits": ["merged"]})
    );
    assert_eq!(
        s["groups"]["vip"],
        json!({"count": 1, "members": ["p"], "s_exits": ["merged"]}),
        "re-evaluated"
    );
    assert_eq!(s["primary"]["groups"], json!(3));

    // A retry of the same pair applies nothing again and answers the first summary.
    let again = merge(&app.store, &t, &pair(), "tester", Utc::now(), MergeOptions::default())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.summary, done.summary);
    assert_eq!(snapshot(&app, &t).await, s);
    // The secondary is gone for reads, merged into another primary it is a 404 naming the field.
    let err = lookup::get_customer(&app.store, &t, &cid("s")).await.unwrap_err();
    assert!(matches!(err, DomainError::NotFound(_)));
    let other = MergeInput {
        primary: cid("c"),
        secondary: cid("s"),
    };
    match merge(&app.store, &t, &other, "tester", Utc::now(), MergeOptions::default()).await {
        Err(DomainError::NotFound(m)) => assert!(m.starts_with("secondary_id") && m.contains("\"p\""), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_merge_stopped_after_any_step_and_retried_ends_as_an_uninterrupted_one() {
    let app = app().await;
    let base = fresh_tenant();
    fixture(&app, &base).await;
    merge(
        &app.store,
        &base,
        &pair(),
        "tester",
        Utc::now(),
        MergeOptions::default(),
    )
    .await
    .unwrap();
    let expected = snapshot(&app, &base).await;
    for stop in [
        MergeStep::Planned,
        MergeStep::Combined,
        MergeStep::Joined,
        MergeStep::Left,
        MergeStep::Deleted,
    ] {
        let t = fresh_tenant();
        fixture(&app, &t).await;
        let options = MergeOptions { stop_after: Some(stop) };
        let err = merge(&app.store, &t, &pair(), "tester", Utc::now(), options)
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{stop:?}: {err:?}");
        assert_eq!(app.store.get_merge(&t, &cid("s")).await.unwrap().unwrap().step, stop);
        // Stopped mid-way: no identity is owned by nobody (each resolves to exactly one customer).
        let phone = Identity::Phone(Phone::parse("+380980000009").unwrap());
        assert!(app.store.resolve_identities(&t, &[phone]).await.unwrap()[0].is_some());
        let done = merge(&app.store, &t, &pair(), "tester", Utc::now(), MergeOptions::default())
            .await
            .unwrap();
        assert!(!done.replayed, "{stop:?}");
        assert_eq!(
            snapshot(&app, &t).await,
            expected,
            "stopped after {stop:?} then retried"
        );
        let again = merge(&app.store, &t, &pair(), "tester", Utc::now(), MergeOptions::default())
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(
            snapshot(&app, &t).await,
            expected,
            "a retry after {stop:?} applies nothing twice"
        );
    }
}

#[tokio::test]
async fn conflicting_identities_of_every_kind_are_409_and_change_nothing() {
    let app = app().await;
    for (field, p, s) in [
        ("email", json!({"email": "a@x.io"}), json!({"email": "b@x.io"})),
        (
            "phone",
            json!({"phone": "+380980000001"}),
            json!({"phone": "+380980000002"}),
        ),
        (
            "external_id",
            json!({"external_id": "e-1"}),
            json!({"external_id": "e-2"}),
        ),
    ] {
        let t = fresh_tenant();
        let mut pb = p.clone();
        pb["id"] = json!("p");
        let mut sb = s.clone();
        sb["id"] = json!("s");
        customer(&app, &t, pb).await;
        customer(&app, &t, sb).await;
        adjust(&app, &t, "s", "EUR", 5).await;
        let shown = preview(&app.store, &t, &pair(), "tester", Utc::now()).await.unwrap();
        assert_eq!(shown.conflicts.len(), 1);
        assert_eq!(shown.conflicts[0].field, field);
        let before = (
            app.store.get_customer(&t, &cid("p")).await.unwrap(),
            app.store.get_customer(&t, &cid("s")).await.unwrap(),
        );
        match merge(&app.store, &t, &pair(), "tester", Utc::now(), MergeOptions::default()).await {
            Err(DomainError::Conflict { field: f, message }) => {
                assert_eq!(f, field);
                assert!(message.contains(field), "{message}");
            }
            other => panic!("{field}: {other:?}"),
        }
        let after = (
            app.store.get_customer(&t, &cid("p")).await.unwrap(),
            app.store.get_customer(&t, &cid("s")).await.unwrap(),
        );
        assert_eq!(before, after, "{field}: nothing changed");
        assert!(app.store.get_merge(&t, &cid("s")).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn unknown_ids_and_another_tenants_ids_are_404_naming_the_field() {
    let app = app().await;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    customer(&app, &a, json!({"id": "p"})).await;
    customer(&app, &b, json!({"id": "s"})).await;
    for (input, field) in [
        (pair(), "secondary_id"),
        (
            MergeInput {
                primary: cid("nobody"),
                secondary: cid("p"),
            },
            "primary_id",
        ),
    ] {
        for run in 0..2 {
            let r = if run == 0 {
                preview(&app.store, &a, &input, "tester", Utc::now()).await.map(|_| ())
            } else {
                merge(&app.store, &a, &input, "tester", Utc::now(), MergeOptions::default())
                    .await
                    .map(|_| ())
            };
            match r {
                Err(DomainError::NotFound(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(
        app.store.get_customer(&b, &cid("s")).await.unwrap().is_some(),
        "B's customer untouched"
    );
}
