//! Customer search and counts (issue 14) on the emulator: results equal an oracle computed here over a
//! generated population, across page boundaries, in both directions, within the per-request read cap.

use cg_domain::customer::{Customer, NewCustomer};
use cg_domain::search::{CountInput, CountRequest, SearchInput, SearchRequest};
use cg_domain::usecases::customers;
use cg_domain::usecases::search;
use cg_domain::DomainError;
use cg_tests::{app, fresh_tenant};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const POPULATION: u64 = 700;
/// The read cap of this test's searches, below the population so the cap is reached.
const CAP: u64 = 400;
const NAMES: [&str; 5] = ["Anna", "Andrew", "Bob", "Carla", "Dmitri"];

/// A deterministic population: ids not in creation order, tags, names and a typed attribute.
fn population(now: DateTime<Utc>) -> Vec<Customer> {
    let mut r: u64 = 0x2545_f491_4f6c_dd1d;
    (0..POPULATION)
        .map(|i| {
            r = r
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = r >> 33;
            let mut tags = vec![];
            if x.is_multiple_of(7) {
                tags.push("vip");
            }
            if x.is_multiple_of(3) {
                tags.push("new");
            }
            // The largest id carries the one "needle" tag.
            let id = if i == POPULATION - 1 {
                tags.push("needle");
                "z-last".to_owned()
            } else {
                format!("c{:06}", (i * 7_919) % 1_000_003)
            };
            let body = json!({
                "id": id,
                "name": NAMES[(x % 5) as usize],
                "tags": tags,
                "attributes": {"score": {"type": "number", "value": (x % 100) as i64}},
            });
            serde_json::from_value::<NewCustomer>(body)
                .unwrap()
                // Pairs created at the same time: sorting by created_at then breaks the tie by id.
                .into_customer(now - Duration::minutes((i / 2) as i64))
                .unwrap()
        })
        .collect()
}

fn input(body: Value) -> SearchInput {
    SearchInput::try_from(serde_json::from_value::<SearchRequest>(body).unwrap()).unwrap()
}

/// Every page of a search, checking each page's bounds; returns the ids in order and the page count.
async fn all_pages(app: &cg_lambda::App, t: &cg_domain::ids::TenantId, body: Value) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let limit = body["limit"].as_u64().unwrap_or(25) as usize;
    loop {
        let mut b = body.clone();
        if let Some(c) = &cursor {
            b["cursor"] = json!(c);
        }
        let page = search::search(&app.store, t, input(b), Utc::now()).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= limit, "page over its limit");
        assert!(
            page.scanned <= app.store.search_read_cap,
            "read {} customers",
            page.scanned
        );
        ids.extend(page.items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 1_000, "search does not end");
    }
    (ids, pages)
}

#[tokio::test]
async fn search_and_count_equal_an_oracle_across_pages_within_the_read_cap() {
    let mut app = app().await;
    app.store.search_read_cap = CAP;
    let t = fresh_tenant();
    let now = Utc::now();
    let people = population(now);
    cg_aws::fixtures::load_customers(&app.store, &t, &people, 8)
        .await
        .unwrap();

    // (vip) AND (name starts with "An"), as condition groups.
    let filter = json!({"condition_groups": [
        [{"tags": {"has_any": ["vip"]}}],
        [{"attribute": {"field": "name", "op": "starts_with", "value": "An"}}]
    ]});
    let matching: Vec<&Customer> = people
        .iter()
        .filter(|c| c.tags.contains("vip") && c.name.as_deref().is_some_and(|n| n.starts_with("An")))
        .collect();
    let oracle: Vec<String> = {
        let mut v: Vec<String> = matching.iter().map(|c| c.id.to_string()).collect();
        v.sort();
        v
    };
    // Creation order: the time, then the id (pairs share a time).
    let by_created: Vec<String> = {
        let mut v: Vec<(DateTime<Utc>, String)> = matching.iter().map(|c| (c.created_at, c.id.to_string())).collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    };
    assert!(oracle.len() > 30, "a filter with many matches");
    assert_ne!(oracle, by_created, "ids are not in creation order");
    for (limit, order, sort) in [
        (9, "asc", "id"),
        (25, "desc", "id"),
        (100, "asc", "id"),
        (7, "asc", "created_at"),
        (25, "desc", "created_at"),
    ] {
        let mut body = filter.clone();
        body["limit"] = json!(limit);
        body["order"] = json!(order);
        body["sort"] = json!(sort);
        body["fields"] = json!(["name"]);
        let (ids, pages) = all_pages(&app, &t, body).await;
        let mut want = if sort == "id" {
            oracle.clone()
        } else {
            by_created.clone()
        };
        if order == "desc" {
            want.reverse();
        }
        assert_eq!(ids, want, "limit {limit} {order} by {sort}: every match once, in order");
        assert!(pages > 1, "more than one page");
    }
    // A cursor is bound to its sort.
    let mut by_id = filter.clone();
    by_id["limit"] = json!(5);
    let first = search::search(&app.store, &t, input(by_id.clone()), now).await.unwrap();
    by_id["sort"] = json!("created_at");
    by_id["cursor"] = json!(first.next_cursor.unwrap());
    let e = search::search(&app.store, &t, input(by_id), now).await;
    assert!(matches!(e, Err(DomainError::Malformed(_))), "{e:?}");

    // One match at the very end: the first page stops at the cap with a cursor, later pages find it.
    let needle = json!({"rules": {"tags": {"has_any": ["needle"]}}, "limit": 10});
    let first = search::search(&app.store, &t, input(needle.clone()), now)
        .await
        .unwrap();
    assert!(first.items.is_empty(), "{:?}", first.items);
    assert!(first.next_cursor.is_some() && first.scanned <= CAP);
    assert_eq!(all_pages(&app, &t, needle).await.0, vec!["z-last".to_owned()]);
    // Fields: id always, then only what was asked for.
    let page = search::search(
        &app.store,
        &t,
        input(json!({"fields": ["name", "attributes.score"], "limit": 3})),
        now,
    )
    .await
    .unwrap();
    for c in &page.items {
        let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "name", "attributes"]), "{c}");
        assert!(c["attributes"]["score"]["value"].is_number(), "{c}");
    }

    // The count is the oracle's, and every customer without a filter.
    let count = |body: Value| {
        let target = CountInput::try_from(serde_json::from_value::<CountRequest>(body).unwrap())
            .unwrap()
            .target;
        search::count(&app.store, &t, target, now)
    };
    let counted = count(filter.clone()).await.unwrap();
    assert_eq!((counted.count, counted.evaluated), (oracle.len() as u64, POPULATION));
    assert_eq!(count(json!({})).await.unwrap().count, POPULATION);

    // Another tenant sees none of it.
    let other = fresh_tenant();
    let empty = search::search(&app.store, &other, input(json!({})), now).await.unwrap();
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
    assert_eq!(
        search::count(
            &app.store,
            &other,
            CountInput::try_from(CountRequest::default()).unwrap().target,
            now
        )
        .await
        .unwrap()
        .count,
        0
    );
}

#[tokio::test]
async fn exact_identities_read_one_customer_and_bad_input_names_the_field() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    for body in [
        json!({"id": "e-1", "email": "ann@example.com", "name": "Ann", "tags": ["vip"]}),
        json!({"id": "e-2", "email": "bob@example.com", "phone": "+380501234567", "name": "Bob"}),
    ] {
        customers::create_customer(&app.store, &t, serde_json::from_value(body).unwrap(), now)
            .await
            .unwrap();
    }
    let ids = |page: search::SearchPage| -> Vec<String> {
        page.items
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let run = |body: Value| search::search(&app.store, &t, input(body), now);
    let found = run(json!({"simple": {"email": " ANN@example.com "}})).await.unwrap();
    assert_eq!(found.scanned, 1, "one customer read, not the partitions");
    assert_eq!(ids(found), vec!["e-1"]);
    assert_eq!(
        ids(run(json!({"simple": {"phone": "380501234567"}})).await.unwrap()),
        vec!["e-2"]
    );
    // Identities of different customers, or rules that do not hold: nothing.
    assert!(ids(
        run(json!({"simple": {"email": "ann@example.com", "phone": "+380501234567"}}))
            .await
            .unwrap()
    )
    .is_empty());
    assert!(ids(
        run(json!({"simple": {"email": "bob@example.com"}, "rules": {"tags": {"has_any": ["vip"]}}}))
            .await
            .unwrap()
    )
    .is_empty());
    assert_eq!(
        ids(run(json!({"simple": {"name_prefix": "Bo"}})).await.unwrap()),
        vec!["e-2"]
    );
    // Another tenant's customer is not found by its email.
    let other = search::search(
        &app.store,
        &fresh_tenant(),
        input(json!({"simple": {"email": "ann@example.com"}})),
        now,
    )
    .await
    .unwrap();
    assert!(other.items.is_empty());

    let parse =
        |body: Value| SearchInput::try_from(serde_json::from_value::<SearchRequest>(body).unwrap()).unwrap_err();
    for (body, field) in [
        (
            json!({"rules": {"all": [{"tags": {}}, {"tags": {"has_any": []}}]}}),
            "rules.all[0].tags",
        ),
        (json!({"simple": {"email": "nope"}}), "simple.email"),
        (json!({"fields": ["name", "password"]}), "fields[1]"),
        (json!({"limit": 0}), "limit"),
    ] {
        match parse(body.clone()) {
            DomainError::Validation { field: f, .. } => assert!(f.starts_with(field), "{body}: {f}"),
            e => panic!("{body}: {e:?}"),
        }
    }
    // A cursor is bound to its order; a member_of of a missing group is a 422 on `rules`.
    let page = run(json!({"limit": 1})).await.unwrap();
    let err = run(json!({"limit": 1, "order": "desc", "cursor": page.next_cursor.unwrap()}))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Malformed(_)), "{err:?}");
    let err = run(json!({"rules": {"member_of": {"group_id": "missing"}}}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DomainError::Validation { field, .. } if field == "rules"),
        "{err:?}"
    );
}

#[tokio::test]
async fn saved_filter_lifecycle_search_by_filter_and_save_as_groups() {
    use cg_domain::group::GroupKind;
    use cg_domain::page::PageRequest;
    use cg_domain::ports::MembershipStore;
    use cg_domain::search::saved::{FilterBody, FilterInput, SaveAsGroup};
    use cg_domain::usecases::{filters, groups};
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    for (id, tags) in [
        ("f-1", json!(["vip"])),
        ("f-2", json!([])),
        ("f-3", json!(["vip", "new"])),
    ] {
        customers::create_customer(
            &app.store,
            &t,
            serde_json::from_value(json!({"id": id, "tags": tags})).unwrap(),
            now,
        )
        .await
        .unwrap();
    }
    let body = |v: Value| serde_json::from_value::<FilterBody>(v).unwrap();
    let made = filters::create_filter(
        &app.store,
        &t,
        FilterInput::new_filter(body(json!({"name": " VIP ", "rules": {"tags": {"has_any": ["vip"]}}}))).unwrap(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(made.name, "VIP");
    // Viewing the filter is a search with its id.
    let view = search::search(&app.store, &t, input(json!({"filter_id": made.id.as_str()})), now)
        .await
        .unwrap();
    let ids: Vec<&str> = view.items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["f-1", "f-3"]);
    // Rename, then replace the filter; a copy keeps the filter.
    let renamed = filters::update_filter(
        &app.store,
        &t,
        &made.id,
        FilterInput::change(body(json!({"name": "Renamed"}))).unwrap(),
        now,
    )
    .await
    .unwrap();
    assert_eq!((renamed.name.as_str(), &renamed.filter), ("Renamed", &made.filter));
    let changed = filters::update_filter(
        &app.store,
        &t,
        &made.id,
        FilterInput::change(body(json!({"rules": {"tags": {"has_all": ["vip", "new"]}}}))).unwrap(),
        now,
    )
    .await
    .unwrap();
    let copy = filters::copy_filter(&app.store, &t, &made.id, None, now).await.unwrap();
    assert_eq!((copy.name.as_str(), &copy.filter), ("Copy of Renamed", &changed.filter));
    let listed = filters::list_filters(&app.store, &t, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        listed.items.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
        vec![made.id.clone(), copy.id.clone()]
    );
    // Another tenant cannot read, change or use it.
    let other = fresh_tenant();
    assert!(matches!(
        filters::get_filter(&app.store, &other, &made.id).await,
        Err(DomainError::NotFound(_))
    ));
    assert!(matches!(
        filters::delete_filter(&app.store, &other, &made.id).await,
        Err(DomainError::NotFound(_))
    ));
    assert!(matches!(
        search::search(&app.store, &other, input(json!({"filter_id": made.id.as_str()})), now).await,
        Err(DomainError::NotFound(_))
    ));
    // A bad rule names its node; a filter's definition is validated as a group's.
    let err = FilterInput::new_filter(body(json!({"name": "x", "condition_groups": [[{"tags": {}}]]}))).unwrap_err();
    assert!(
        matches!(&err, DomainError::Validation { field, .. } if field.starts_with("condition_groups[0][0]")),
        "{err:?}"
    );

    // Static: the customers that match now (f-3), as members with an exact count.
    let snap = filters::save_as_group(
        &app.store,
        &t,
        &made.id,
        SaveAsGroup {
            name: "Snapshot".into(),
            kind: GroupKind::Static,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(snap.group.member_count, 1);
    let members = app
        .store
        .list_members(&t, &snap.group.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        members.items.iter().map(|m| m.customer_id.as_str()).collect::<Vec<_>>(),
        ["f-3"]
    );
    // Dynamic: the same rules, kept current (its first resync is queued).
    let dynamic = filters::save_as_group(
        &app.store,
        &t,
        &copy.id,
        SaveAsGroup {
            name: "Dynamic".into(),
            kind: GroupKind::Dynamic,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(dynamic.group.kind, GroupKind::Dynamic);
    let stored = groups::get_group_with_sync(&app.store, &t, &dynamic.group.id)
        .await
        .unwrap();
    assert_eq!(
        stored.definition.as_ref().map(|d| d.to_json()),
        Some(json!({"rules": {"tags": {"has_all": ["new", "vip"]}}}))
    );
    filters::delete_filter(&app.store, &t, &made.id).await.unwrap();
    assert!(matches!(
        filters::get_filter(&app.store, &t, &made.id).await,
        Err(DomainError::NotFound(_))
    ));
}
