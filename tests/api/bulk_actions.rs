//! Bulk modify and bulk delete by a target (issue 14) on the emulator: each job ends exact after a
//! worker killed before a commit, after it and after its follow-up, and after two deliveries at once;
//! dynamic groups, member counts, customers' `groups` and identity items stay consistent; the audit
//! entry; the delete's confirmation errors; tenant isolation. Jobs run on an isolated app (its own
//! queue), delivered by the test.

use cg_domain::bulk::request::{BulkModifyInput, BulkModifyRequest};
use cg_domain::bulk::BulkTask;
use cg_domain::customer::NewCustomer;
use cg_domain::group::{GroupInput, MemberList, NewGroup, ParsedMembers};
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::PageRequest;
use cg_domain::usecases::bulk_action_job::run_action_task;
use cg_domain::usecases::bulk_actions::{self, BulkJobView};
use cg_domain::usecases::bulk_job::{BulkSettings, FaultPoint, RunOutcome};
use cg_domain::usecases::{customers, groups, lookup};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_tests::{cid, drop_isolated, fresh_tenant, isolated_app};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

async fn customer(app: &App, t: &TenantId, body: Value) {
    let input: NewCustomer = serde_json::from_value(body).unwrap();
    customers::create_customer(&app.store, t, input, Utc::now())
        .await
        .unwrap();
}

async fn group(app: &App, t: &TenantId, body: Value) -> GroupId {
    let g: NewGroup = serde_json::from_value(body).unwrap();
    groups::create_group(&app.store, t, GroupInput::try_from(g).unwrap(), Utc::now())
        .await
        .unwrap()
        .group
        .id
}

async fn static_group(app: &App, t: &TenantId, ids: &[String]) -> GroupId {
    let g = group(app, t, json!({"name": "static"})).await;
    let list = MemberList {
        customer_ids: Some(ids.to_vec()),
        emails: None,
        phones: None,
    };
    groups::add_members(&app.store, t, &g, ParsedMembers::try_from(list).unwrap(), Utc::now())
        .await
        .unwrap();
    g
}

pub(crate) fn modify_input(body: Value) -> Result<BulkModifyInput, DomainError> {
    let req: BulkModifyRequest = serde_json::from_value(body).map_err(|e| DomainError::Malformed(e.to_string()))?;
    BulkModifyInput::try_from(req)
}

fn task_of(t: &TenantId, view: &BulkJobView) -> BulkTask {
    let kind = if view.kind == "bulk_delete" {
        cg_domain::bulk::BulkKind::BulkDelete
    } else {
        cg_domain::bulk::BulkKind::BulkModify
    };
    BulkTask::CustomerAction {
        tenant: t.clone(),
        kind,
        job_id: view.id.clone(),
    }
}

async fn deliver(app: &App, task: &BulkTask, settings: &BulkSettings) -> RunOutcome {
    loop {
        match run_action_task(&app.store, task, settings, false, Utc::now()).await {
            Ok(report) => return report.outcome,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// How a job is delivered to the worker.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Delivery {
    Once,
    Killed(FaultPoint),
    TwiceAtOnce,
}

pub(crate) const DELIVERIES: [Delivery; 5] = [
    Delivery::Once,
    Delivery::Killed(FaultPoint::BeforeCommit(3)),
    Delivery::Killed(FaultPoint::AfterCommit(2)),
    Delivery::Killed(FaultPoint::AfterFollowUp(4)),
    Delivery::TwiceAtOnce,
];

/// Runs the job as `how` says, then once more after its end (which changes nothing).
async fn run_job(app: &App, task: &BulkTask, how: Delivery) {
    let plain = BulkSettings::default();
    match how {
        Delivery::Once => assert_eq!(deliver(app, task, &plain).await, RunOutcome::Finished),
        Delivery::Killed(point) => {
            let died = Arc::new(Notify::new());
            let fired = Arc::new(AtomicBool::new(false));
            let (d, f) = (died.clone(), fired.clone());
            let settings = BulkSettings {
                fault: Some(Arc::new(move |p| {
                    let hit = p == point && !f.swap(true, Ordering::SeqCst);
                    if hit {
                        d.notify_one();
                    }
                    hit
                })),
                ..Default::default()
            };
            tokio::select! {
                r = deliver(app, task, &settings) => panic!("the run ended ({r:?}) before {point:?}"),
                _ = died.notified() => {}
            }
            assert_eq!(deliver(app, task, &plain).await, RunOutcome::Finished);
        }
        Delivery::TwiceAtOnce => {
            let (a, b) = tokio::join!(deliver(app, task, &plain), deliver(app, task, &plain));
            let outcomes = [a, b];
            assert!(outcomes.contains(&RunOutcome::Finished), "{outcomes:?}");
            let ok = |o: &RunOutcome| {
                matches!(
                    o,
                    RunOutcome::Finished | RunOutcome::Superseded | RunOutcome::AlreadyFinished
                )
            };
            assert!(outcomes.iter().all(ok), "{outcomes:?}");
        }
    }
    assert_eq!(deliver(app, task, &plain).await, RunOutcome::AlreadyFinished);
}

pub(crate) async fn member_ids(app: &App, t: &TenantId, g: &GroupId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = groups::list_members(&app.store, t, g, &PageRequest { limit: 100, cursor })
            .await
            .unwrap();
        out.extend(page.items.iter().map(|m| m.customer_id.to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

const CUSTOMERS: usize = 60;

#[tokio::test]
async fn bulk_modify_by_filter_is_exact_after_kills_and_duplicate_deliveries() {
    let app = isolated_app().await;
    for how in DELIVERIES {
        let t = fresh_tenant();
        // The dynamic group first, so each customer's creation evaluates it.
        let gold = group(
            &app,
            &t,
            json!({"name": "gold", "type": "dynamic", "rules": {"tags": {"has_any": ["gold"]}}}),
        )
        .await;
        let ids: Vec<String> = (0..CUSTOMERS).map(|i| format!("c{i:03}")).collect();
        // Every 2nd is a vip (the target); every 6th already holds the changes (unchanged).
        for (i, id) in ids.iter().enumerate() {
            let mut tags = vec![];
            if i.is_multiple_of(2) {
                tags.push("vip");
            }
            let mut body =
                json!({"id": id, "name": format!("n{i}"), "email": format!("{id}@example.com"), "tags": tags});
            if i.is_multiple_of(6) {
                body["tags"] = json!(["vip", "gold"]);
                body["name"] = json!("Gold");
                body["attributes"] = json!({"tier": {"type": "string", "value": "gold"}});
            }
            customer(&app, &t, body).await;
        }
        let all = static_group(&app, &t, &ids).await;
        let input = modify_input(json!({
            "rules": {"tags": {"has_any": ["vip"]}},
            "changes": {"set": {"name": "Gold"}, "set_attributes": {"tier": {"type": "string", "value": "gold"}}, "add_tags": ["gold"]}
        }))
        .unwrap();
        let view = bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, "tester", Utc::now())
            .await
            .unwrap();
        run_job(&app, &task_of(&t, &view), how).await;

        let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
        let vips = ids.iter().step_by(2).count() as u64;
        let already = ids.iter().step_by(6).count() as u64;
        assert_eq!(done.status.as_str(), "done", "{how:?}");
        assert_eq!(
            (done.matched, done.modified, done.unchanged, done.failed),
            (vips, vips - already, already, 0),
            "{how:?}: every vip counted exactly once"
        );
        // The facts, the dynamic group (count, rows, customers' groups) and the static group's rows.
        let mut expected_gold = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            let c = lookup::get_customer(&app.store, &t, &cid(id)).await.unwrap();
            let vip = i.is_multiple_of(2);
            assert_eq!(c.tags.contains("gold"), vip, "{how:?} {id}");
            assert_eq!(c.name.as_deref() == Some("Gold"), vip, "{how:?} {id}");
            assert_eq!(c.attributes.contains_key("tier"), vip, "{how:?} {id}");
            assert_eq!(c.groups.contains(&gold), vip, "{how:?} {id}: customer's groups");
            assert_eq!(
                c.email.as_ref().map(|e| e.to_string()),
                Some(format!("{id}@example.com"))
            );
            if vip {
                expected_gold.insert(id.clone());
            }
        }
        assert_eq!(
            member_ids(&app, &t, &gold).await,
            expected_gold,
            "{how:?}: dynamic group rows"
        );
        let g = lookup::get_group(&app.store, &t, &gold).await.unwrap();
        assert_eq!(g.member_count, vips, "{how:?}: member count exact");
        let page = groups::list_members(&app.store, &t, &all, &PageRequest::first(100))
            .await
            .unwrap();
        for m in &page.items {
            let i: usize = m.customer_id.as_str()[1..].parse().unwrap();
            let name = serde_json::to_value(m).unwrap()["name"].clone();
            assert_eq!(
                name == json!("Gold"),
                i.is_multiple_of(2) || i.is_multiple_of(6),
                "{how:?}: member row profile of {}",
                m.customer_id
            );
        }
        // The audit entry: actor, target, count, outcome.
        let audit = bulk_actions::list_audit(&app.store, &t, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(audit.items.len(), 1);
        let e = &audit.items[0];
        assert_eq!(
            (e.action.as_str(), e.actor.as_str(), e.count),
            ("bulk_modify", "tester", vips)
        );
        assert_eq!(e.outcome["status"], "done");
        assert_eq!(e.outcome["modified"], vips - already);
        assert_eq!(e.target["type"], "filter");
    }
    drop_isolated(&app).await;
}

#[tokio::test]
async fn bulk_modify_of_ids_and_groups_counts_failures_and_stays_in_its_tenant() {
    let app = isolated_app().await;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    for id in ["a", "b"] {
        customer(&app, &t, json!({"id": id, "tags": ["x"]})).await;
    }
    customer(&app, &other, json!({"id": "z", "tags": ["x"]})).await;
    let g = static_group(&app, &t, &["a".into(), "b".into()]).await;
    // Ids of another tenant: 404, nothing changed; a group of another tenant: 404.
    let theirs = modify_input(json!({"customer_ids": ["z"], "changes": {"add_tags": ["hijacked"]}})).unwrap();
    let refused =
        bulk_actions::create_bulk_modify(&app.store, &t, theirs.target, theirs.changes, "x", Utc::now()).await;
    assert!(matches!(refused, Err(DomainError::NotFound(_))), "{refused:?}");
    let by_group = modify_input(json!({"group_id": g.to_string(), "changes": {"add_tags": ["hijacked"]}})).unwrap();
    let refused =
        bulk_actions::create_bulk_modify(&app.store, &other, by_group.target, by_group.changes, "x", Utc::now()).await;
    assert!(matches!(refused, Err(DomainError::NotFound(_))), "{refused:?}");
    let z = lookup::get_customer(&app.store, &other, &cid("z")).await.unwrap();
    assert!(!z.tags.contains("hijacked"));

    // An id list with an unknown id: modified 2, failed 1 (not_found); then the group's members.
    let input = modify_input(
        json!({"customer_ids": ["a", "b", "z"], "changes": {"remove_tags": ["x"], "unset_attributes": ["none"]}}),
    )
    .unwrap();
    let view = bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, "x", Utc::now())
        .await
        .unwrap();
    run_job(&app, &task_of(&t, &view), Delivery::Once).await;
    let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
    assert_eq!((done.matched, done.modified, done.failed), (3, 2, 1));
    assert_eq!(done.failed_customers[0].customer_id, "z");
    assert_eq!(done.failed_customers[0].code, "not_found");
    let input = modify_input(
        json!({"group_id": g.to_string(), "changes": {"add_tags": ["y"], "set": {"signup_date": "2024-05-01"}}}),
    )
    .unwrap();
    let view = bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, "x", Utc::now())
        .await
        .unwrap();
    run_job(&app, &task_of(&t, &view), Delivery::Killed(FaultPoint::AfterCommit(1))).await;
    let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
    assert_eq!((done.matched, done.modified, done.unchanged), (2, 2, 0));
    for id in ["a", "b"] {
        let c = lookup::get_customer(&app.store, &t, &cid(id)).await.unwrap();
        assert_eq!(c.tags, BTreeSet::from(["y".to_owned()]));
    }
    let z = lookup::get_customer(&app.store, &other, &cid("z")).await.unwrap();
    assert_eq!(
        z.tags,
        BTreeSet::from(["x".to_owned()]),
        "the other tenant's z is untouched"
    );
    // Another tenant cannot read the job.
    let got = bulk_actions::get_bulk_job(&app.store, &other, &view.id).await;
    assert!(matches!(got, Err(DomainError::NotFound(_))));
    drop_isolated(&app).await;
}

#[test]
fn a_bulk_modify_that_changes_an_identity_or_a_read_only_field_names_it() {
    let field = |body: Value| match modify_input(body) {
        Err(DomainError::Validation { field, message }) => {
            assert!(!message.is_empty());
            field
        }
        other => panic!("{other:?}"),
    };
    let with = |changes: Value| json!({"customer_ids": ["a"], "changes": changes});
    assert_eq!(field(with(json!({"set": {"email": "a@b.c"}}))), "changes.set.email");
    assert_eq!(
        field(with(json!({"set": {"phone": "+420777000111"}}))),
        "changes.set.phone"
    );
    assert_eq!(
        field(with(json!({"set": {"external_id": "x"}}))),
        "changes.set.external_id"
    );
    assert_eq!(field(with(json!({"set": {"groups": []}}))), "changes.set.groups");
    assert_eq!(
        field(with(json!({"set": {"created_at": "2020-01-01"}}))),
        "changes.set.created_at"
    );
    assert_eq!(field(with(json!({"set": {"nope": 1}}))), "changes.set.nope");
    assert_eq!(field(with(json!({"set": {"name": ""}}))), "changes.set.name");
    assert_eq!(field(with(json!({}))), "changes");
    assert_eq!(field(json!({"customer_ids": ["a"]})), "changes");
    assert_eq!(
        field(with(json!({"add_tags": ["a"], "remove_tags": ["a"]}))),
        "changes.remove_tags"
    );
    assert!(field(with(
        json!({"set_attributes": {"bad name": {"type": "string", "value": "x"}}})
    ))
    .starts_with("changes.set_attributes"));
    assert_eq!(field(json!({"changes": {"add_tags": ["a"]}})), "target");
    assert!(modify_input(with(json!({"add_tags": ["a"], "set": {"name": null}}))).is_ok());
}
