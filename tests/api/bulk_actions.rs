//! Bulk modify and bulk delete by a target (issue 14) on the emulator: each job ends exact after a
//! worker killed before a commit, after it and after its follow-up, and after two deliveries at once;
//! dynamic groups, member counts, customers' `groups` and identity items stay consistent; the audit
//! entry; the delete's confirmation errors; tenant isolation. Jobs run on an isolated app (its own
//! queue), delivered by the test.

use cg_domain::bulk::request::{BulkModifyInput, BulkModifyRequest};
use cg_domain::bulk::BulkTask;
use cg_domain::customer::NewCustomer;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::PageRequest;
use cg_domain::timeline::query::TimelineFilter;
use cg_domain::timeline::TimelineEntry;
use cg_domain::usecases::bulk_action_job::run_action_task;
use cg_domain::usecases::bulk_actions::{self, BulkJobView};
use cg_domain::usecases::bulk_job::{BulkSettings, FaultPoint, RunOutcome};
use cg_domain::usecases::{groups, lookup, timeline};
use cg_domain::DomainError;
use cg_lambda::App;
use cg_tests::given::{customer, group, static_group};
use cg_tests::kill_at;
use cg_tests::{cid, drop_isolated, fresh_tenant, isolated_app};
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub(crate) fn modify_input(body: Value) -> Result<BulkModifyInput, DomainError> {
    let req: BulkModifyRequest = serde_json::from_value(body).map_err(|e| DomainError::Malformed(e.to_string()))?;
    BulkModifyInput::try_from(req)
}

pub(crate) fn task_of(t: &TenantId, view: &BulkJobView) -> BulkTask {
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

pub(crate) async fn deliver(app: &App, task: &BulkTask, settings: &BulkSettings) -> RunOutcome {
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
            let (hook, died) = kill_at(point);
            let settings = BulkSettings {
                fault: Some(hook),
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

/// The customer's `customer.bulk_modified` timeline entries.
async fn bulk_modified_entries(app: &App, t: &TenantId, id: &str) -> Vec<TimelineEntry> {
    let filter = TimelineFilter {
        types: vec!["customer.bulk_modified".into()],
        ..TimelineFilter::default()
    };
    timeline::list_timeline(&app.store, t, &cid(id), &filter, &PageRequest::first(100))
        .await
        .unwrap()
        .items
}

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
        let all = static_group(&app, &t, "static", &ids).await;
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
            // One `customer.bulk_modified` entry per modified customer, whatever the deliveries did.
            let entries = bulk_modified_entries(&app, &t, id).await;
            let modified = vip && !i.is_multiple_of(6);
            assert_eq!(
                entries.len(),
                usize::from(modified),
                "{how:?} {id}: timeline {entries:?}"
            );
            if let Some(e) = entries.first() {
                assert_eq!(e.properties["job_id"], json!(view.id.to_string()), "{how:?} {id}");
                // The version the modify wrote: the membership pass (gold entered) wrote the next.
                assert_eq!(e.properties["version"], json!(c.version - 1), "{how:?} {id}");
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

/// A group of 250 members walks in steps of 100 ids, and 49 modified customers fill a commit: each
/// step commits two full batches and leaves 2 customers to the next step, which reads on from the last
/// commit. Killed or delivered twice, every member is modified once, with one timeline entry.
#[tokio::test]
async fn a_partial_batch_carried_to_the_next_step_is_modified_exactly_once() {
    let app = isolated_app().await;
    for how in DELIVERIES {
        let t = fresh_tenant();
        let g = group(&app, &t, json!({"name": "many"})).await;
        let people: Vec<cg_domain::customer::Customer> = (0..250)
            .map(|i| {
                let body = json!({"id": format!("m{i:03}"), "tags": ["many"]});
                let mut c = serde_json::from_value::<NewCustomer>(body)
                    .unwrap()
                    .into_customer(Utc::now())
                    .unwrap();
                c.groups.insert(g.clone());
                c
            })
            .collect();
        cg_aws::fixtures::load_customers_in_group(&app.store, &t, &g, &people, 4)
            .await
            .unwrap();
        let input = modify_input(json!({"group_id": g.to_string(), "changes": {"add_tags": ["carried"]}})).unwrap();
        let view = bulk_actions::create_bulk_modify(&app.store, &t, input.target, input.changes, "tester", Utc::now())
            .await
            .unwrap();
        run_job(&app, &task_of(&t, &view), how).await;
        let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
        assert_eq!(
            (done.status.as_str(), done.matched, done.modified, done.failed),
            ("done", 250, 250, 0),
            "{how:?}"
        );
        for c in &people {
            let now = lookup::get_customer(&app.store, &t, &c.id).await.unwrap();
            assert!(now.tags.contains("carried"), "{how:?} {}", c.id);
            let entries = bulk_modified_entries(&app, &t, c.id.as_str()).await;
            assert_eq!(entries.len(), 1, "{how:?} {}: {entries:?}", c.id);
        }
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
    let g = static_group(&app, &t, "static", &["a", "b"]).await;
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
    // The audit log: newest first, one page at a time; nothing in the other tenant's.
    let first = bulk_actions::list_audit(&app.store, &t, &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(first.items[0].id, view.id.to_string(), "newest first");
    let rest = bulk_actions::list_audit(
        &app.store,
        &t,
        &PageRequest {
            limit: 5,
            cursor: first.next_cursor,
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].outcome["failed"], 1);
    assert!(rest.items[0].at <= first.items[0].at);
    let theirs = bulk_actions::list_audit(&app.store, &other, &PageRequest::first(5))
        .await
        .unwrap();
    assert!(theirs.items.is_empty());
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

pub(crate) fn delete_confirm(token: &str, reason: &str) -> bulk_actions::DeleteConfirmation {
    bulk_actions::DeleteConfirmation::parse(Some(token.to_owned()), Some(true), Some(reason.to_owned())).unwrap()
}

pub(crate) fn target_of(body: Value) -> cg_domain::search::target::Target {
    let req: cg_domain::bulk::request::DeletePreviewRequest = serde_json::from_value(body).unwrap();
    cg_domain::bulk::request::DeletePreviewInput::try_from(req)
        .unwrap()
        .target
}

/// A preview counted within the request (a count job's 202 fails the test).
async fn preview(
    store: &cg_aws::Store,
    t: &TenantId,
    target: cg_domain::search::target::Target,
    who: &str,
    now: chrono::DateTime<Utc>,
) -> Result<bulk_actions::DeletePreview, DomainError> {
    match bulk_actions::preview_bulk_delete(store, t, target, None, who, now).await? {
        bulk_actions::PreviewAnswer::Ready(p) => Ok(p),
        bulk_actions::PreviewAnswer::Counting(job) => panic!("counted by a job: {job:?}"),
    }
}

async fn history_reasons(app: &App, t: &TenantId, g: &GroupId) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = cg_domain::usecases::inspect::history(&app.store, t, g, &PageRequest { limit: 100, cursor })
            .await
            .unwrap();
        out.extend(
            page.items
                .iter()
                .filter(|e| e.change == cg_domain::history::Change::Left)
                .map(|e| (e.customer_id.to_string(), e.reason.clone())),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn bulk_delete_is_exact_after_kills_and_duplicate_deliveries() {
    let app = isolated_app().await;
    for how in DELIVERIES {
        let t = fresh_tenant();
        let vip = group(
            &app,
            &t,
            json!({"name": "vip", "type": "dynamic", "rules": {"tags": {"has_any": ["vip"]}}}),
        )
        .await;
        let ids: Vec<String> = (0..CUSTOMERS).map(|i| format!("d{i:03}")).collect();
        // Every 3rd is spam (the target), every 2nd a vip; every 5th has a phone and an external id too.
        for (i, id) in ids.iter().enumerate() {
            let mut tags = vec![];
            if i.is_multiple_of(3) {
                tags.push("spam");
            }
            if i.is_multiple_of(2) {
                tags.push("vip");
            }
            let mut body = json!({"id": id, "email": format!("{id}@example.com"), "tags": tags});
            if i.is_multiple_of(5) {
                body["phone"] = json!(format!("+42077700{i:04}"));
                body["external_id"] = json!(format!("ext-{id}"));
            }
            customer(&app, &t, body).await;
        }
        let all = static_group(&app, &t, "static", &ids).await;
        let spam: BTreeSet<String> = ids.iter().step_by(3).cloned().collect();
        let target = json!({"rules": {"tags": {"has_any": ["spam"]}}});
        let preview = preview(&app.store, &t, target_of(target.clone()), "deleter", Utc::now())
            .await
            .unwrap();
        assert_eq!(preview.count, spam.len() as u64);
        assert!(preview.statement.contains("cannot be restored"));
        let view = bulk_actions::create_bulk_delete(
            &app.store,
            &t,
            target_of(target),
            delete_confirm(&preview.token, "spam sign-ups from May"),
            Utc::now(),
        )
        .await
        .unwrap();
        run_job(&app, &task_of(&t, &view), how).await;

        let done = bulk_actions::get_bulk_job(&app.store, &t, &view.id).await.unwrap();
        assert_eq!(done.status.as_str(), "done", "{how:?}");
        assert_eq!(
            (done.matched, done.deleted, done.failed),
            (spam.len() as u64, spam.len() as u64, 0),
            "{how:?}"
        );
        // Deleted customers are gone with their identity items; the others are whole.
        for (i, id) in ids.iter().enumerate() {
            let got = lookup::get_customer(&app.store, &t, &cid(id)).await;
            let mut keys = vec![cg_domain::customer::Identity::Email(
                cg_domain::contact::Email::parse(&format!("{id}@example.com")).unwrap(),
            )];
            if i.is_multiple_of(5) {
                keys.push(cg_domain::customer::Identity::External(format!("ext-{id}")));
            }
            use cg_domain::ports::CustomerStore;
            let found = app.store.resolve_identities(&t, &keys).await.unwrap();
            if spam.contains(id) {
                assert!(matches!(got, Err(DomainError::NotFound(_))), "{how:?} {id}: deleted");
                assert!(found.iter().all(Option::is_none), "{how:?} {id}: identity items gone");
            } else {
                let c = got.unwrap();
                assert!(
                    found.iter().all(|f| f.as_ref() == Some(&c.id)),
                    "{how:?} {id}: identities kept"
                );
                assert!(c.groups.contains(&all));
                assert_eq!(c.groups.contains(&vip), i.is_multiple_of(2), "{how:?} {id}");
            }
        }
        // Member counts and rows exact; the history records each exit once, with reason `deleted`.
        let kept: BTreeSet<String> = ids.iter().filter(|i| !spam.contains(*i)).cloned().collect();
        assert_eq!(member_ids(&app, &t, &all).await, kept, "{how:?}");
        assert_eq!(
            lookup::get_group(&app.store, &t, &all).await.unwrap().member_count,
            kept.len() as u64
        );
        let vips: BTreeSet<String> = ids.iter().step_by(2).filter(|i| !spam.contains(*i)).cloned().collect();
        assert_eq!(member_ids(&app, &t, &vip).await, vips, "{how:?}");
        assert_eq!(
            lookup::get_group(&app.store, &t, &vip).await.unwrap().member_count,
            vips.len() as u64
        );
        let mut left = history_reasons(&app, &t, &all).await;
        left.sort();
        let expected: Vec<(String, String)> = spam.iter().map(|id| (id.clone(), "deleted".to_owned())).collect();
        assert_eq!(left, expected, "{how:?}: one `deleted` exit per deleted customer");
        // The audit entry: actor from the token, reason, target, count, outcome.
        let audit = bulk_actions::list_audit(&app.store, &t, &PageRequest::first(10))
            .await
            .unwrap();
        let e = &audit.items[0];
        assert_eq!((e.action.as_str(), e.actor.as_str()), ("bulk_delete", "deleter"));
        assert_eq!(e.reason.as_deref(), Some("spam sign-ups from May"));
        assert_eq!(
            (e.count, e.outcome["status"].clone(), e.outcome["deleted"].clone()),
            (spam.len() as u64, json!("done"), json!(spam.len()))
        );
    }
    drop_isolated(&app).await;
}

#[tokio::test]
async fn a_bulk_delete_refuses_bad_confirmations_and_stays_in_its_tenant() {
    let mut app = isolated_app().await;
    app.store.bulk_delete_cap = 4;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    for id in ["a", "b", "c", "d"] {
        customer(
            &app,
            &t,
            json!({"id": id, "tags": if id == "d" { json!(["keep"]) } else { json!(["old"]) }}),
        )
        .await;
    }
    customer(&app, &other, json!({"id": "z", "tags": ["old"]})).await;
    let old = || target_of(json!({"rules": {"tags": {"has_any": ["old"]}}}));
    let reason = "closed accounts";
    let now = Utc::now();
    let field = |r: Result<BulkJobView, DomainError>| match r {
        Err(DomainError::Validation { field, message }) => format!("422 {field}: {message}"),
        Err(DomainError::Conflict { field, message }) => format!("409 {field}: {message}"),
        other => panic!("{other:?}"),
    };
    // Reason of 9 characters, agree missing or false, no token: 422 naming the field.
    let parse = |token: Option<&str>, agree: Option<bool>, reason: &str| match bulk_actions::DeleteConfirmation::parse(
        token.map(str::to_owned),
        agree,
        Some(reason.to_owned()),
    ) {
        Err(DomainError::Validation { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(parse(Some("bdt_x"), Some(true), "123456789"), "reason");
    assert_eq!(parse(Some("bdt_x"), Some(true), "  12345678  "), "reason");
    assert_eq!(parse(Some("bdt_x"), None, reason), "agree");
    assert_eq!(parse(Some("bdt_x"), Some(false), reason), "agree");
    assert_eq!(parse(None, Some(true), reason), "token");

    let p = preview(&app.store, &t, old(), "me", now).await.unwrap();
    assert_eq!(p.count, 3);
    // Another target, another tenant, expired (the clock 16 minutes on).
    let keep = target_of(json!({"rules": {"tags": {"has_any": ["keep"]}}}));
    let e = field(bulk_actions::create_bulk_delete(&app.store, &t, keep, delete_confirm(&p.token, reason), now).await);
    assert!(e.starts_with("422 token") && e.contains("another target"), "{e}");
    let e =
        field(bulk_actions::create_bulk_delete(&app.store, &other, old(), delete_confirm(&p.token, reason), now).await);
    assert!(e.starts_with("422 token") && e.contains("tenant"), "{e}");
    let later = now + chrono::Duration::minutes(16);
    let e =
        field(bulk_actions::create_bulk_delete(&app.store, &t, old(), delete_confirm(&p.token, reason), later).await);
    assert!(e.starts_with("422 token") && e.contains("expired"), "{e}");
    // The count changed since the preview: 409, preview again.
    customer(&app, &t, json!({"id": "e", "tags": ["old"]})).await;
    let e = field(bulk_actions::create_bulk_delete(&app.store, &t, old(), delete_confirm(&p.token, reason), now).await);
    assert!(e.starts_with("409 token") && e.contains("not the 3 previewed"), "{e}");
    // Over the cap (4 here, 100,000 in production): 422 saying so.
    customer(&app, &t, json!({"id": "f", "tags": ["old"]})).await;
    let over = preview(&app.store, &t, old(), "me", now).await;
    match over {
        Err(DomainError::Validation { field, message }) => {
            assert_eq!(field, "target");
            assert!(message.contains("at most 4"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The ids of another tenant: 404, nothing deleted.
    let theirs = preview(&app.store, &t, target_of(json!({"customer_ids": ["z"]})), "me", now).await;
    assert!(matches!(theirs, Err(DomainError::NotFound(_))), "{theirs:?}");
    // Nothing to delete: count 0, the delete refused.
    let none = target_of(json!({"rules": {"tags": {"has_any": ["nobody"]}}}));
    let p0 = preview(&app.store, &t, none, "me", now).await.unwrap();
    assert_eq!(p0.count, 0);
    let none = target_of(json!({"rules": {"tags": {"has_any": ["nobody"]}}}));
    let e = field(bulk_actions::create_bulk_delete(&app.store, &t, none, delete_confirm(&p0.token, reason), now).await);
    assert!(e.starts_with("422 target") && e.contains("nothing to delete"), "{e}");
    // A good token works once; used again it is a 409 that says so.
    let ids = target_of(json!({"customer_ids": ["a", "b"]}));
    let p = preview(&app.store, &t, ids, "me", now).await.unwrap();
    let ids = || target_of(json!({"customer_ids": ["a", "b"]}));
    let view = bulk_actions::create_bulk_delete(&app.store, &t, ids(), delete_confirm(&p.token, reason), now)
        .await
        .unwrap();
    let e = field(bulk_actions::create_bulk_delete(&app.store, &t, ids(), delete_confirm(&p.token, reason), now).await);
    assert!(e.starts_with("409 token") && e.contains("already used"), "{e}");
    run_job(&app, &task_of(&t, &view), Delivery::Once).await;
    for id in ["a", "b"] {
        assert!(matches!(
            lookup::get_customer(&app.store, &t, &cid(id)).await,
            Err(DomainError::NotFound(_))
        ));
    }
    assert!(lookup::get_customer(&app.store, &t, &cid("c")).await.is_ok());
    assert!(
        lookup::get_customer(&app.store, &other, &cid("z")).await.is_ok(),
        "the other tenant's z is untouched"
    );
    drop_isolated(&app).await;
}
