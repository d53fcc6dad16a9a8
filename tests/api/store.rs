//! Storage, membership and queue behaviour through the real SDK clients against the emulator.

use cg_domain::customer::{CustomerPatch, NewCustomer};
use cg_domain::group::{GroupInput, MemberList, NewGroup, ParsedMembers, RejectReason};
use cg_domain::jobs::GroupJob;
use cg_domain::page::PageRequest;
use cg_domain::ports::{GroupStore, JobQueue, MembershipStore};
use cg_domain::usecases::{customers, groups, jobs, lookup};
use cg_domain::DomainError;
use cg_tests::cid;
use cg_tests::{app, fresh_tenant};
use chrono::Utc;
use serde_json::json;

fn new_customer(v: serde_json::Value) -> NewCustomer {
    serde_json::from_value(v).unwrap()
}

fn new_group(name: &str) -> NewGroup {
    serde_json::from_value(json!({"name": name})).unwrap()
}

#[tokio::test]
async fn unique_email_phone_and_external_id_clash_with_409_naming_the_field() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    customers::create_customer(
        &app.store,
        &t,
        new_customer(json!({"id": "a", "email": "A@x.com", "phone": "+380501234567", "external_id": "crm-1"})),
        now,
    )
    .await
    .unwrap();
    for (body, field) in [
        (json!({"email": " a@X.com "}), "email"),
        (json!({"phone": "380501234567"}), "phone"),
        (json!({"external_id": "crm-1"}), "external_id"),
        (json!({"id": "a"}), "id"),
    ] {
        let err = customers::create_customer(&app.store, &t, new_customer(body), now)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::Conflict { field: f, .. } if f == field),
            "{field}: {err:?}"
        );
    }
    // The same email in another tenant is fine: uniqueness is per tenant.
    customers::create_customer(
        &app.store,
        &fresh_tenant(),
        new_customer(json!({"email": "a@x.com"})),
        now,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn update_moves_identities_so_the_old_email_is_free_and_the_new_one_taken() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    customers::create_customer(
        &app.store,
        &t,
        new_customer(json!({"id": "a", "email": "old@x.com"})),
        now,
    )
    .await
    .unwrap();
    customers::create_customer(
        &app.store,
        &t,
        new_customer(json!({"id": "b", "email": "b@x.com"})),
        now,
    )
    .await
    .unwrap();
    let patch: CustomerPatch = serde_json::from_value(json!({"email": "new@x.com", "name": "Ana"})).unwrap();
    let updated = customers::update_customer(&app.store, &t, &cid("a"), patch, now)
        .await
        .unwrap();
    assert_eq!(updated.email.unwrap().as_str(), "new@x.com");
    // Old email reusable, new one taken, and a clash leaves the customer unchanged.
    customers::create_customer(&app.store, &t, new_customer(json!({"email": "old@x.com"})), now)
        .await
        .unwrap();
    let clash: CustomerPatch = serde_json::from_value(json!({"email": "new@x.com"})).unwrap();
    let err = customers::update_customer(&app.store, &t, &cid("b"), clash, now)
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict { ref field, .. } if field == "email"));
    assert_eq!(
        lookup::get_customer(&app.store, &t, &cid("b"))
            .await
            .unwrap()
            .email
            .unwrap()
            .as_str(),
        "b@x.com"
    );
}

#[tokio::test]
async fn customer_list_pages_through_every_shard_exactly_once() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    for i in 0..23 {
        customers::create_customer(&app.store, &t, new_customer(json!({"id": format!("c{i:02}")})), now)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5);
    loop {
        let got = customers::list_customers(&app.store, &t, &page).await.unwrap();
        assert!(got.items.len() <= 5);
        seen.extend(got.items.into_iter().map(|c| c.id.to_string()));
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    let expected: Vec<String> = (0..23).map(|i| format!("c{i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn adding_members_reports_every_line_and_keeps_the_count_exact() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    for (id, phone) in [("a", "+380501234567"), ("b", "+442079460958"), ("c", "+14155552671")] {
        customers::create_customer(&app.store, &t, new_customer(json!({"id": id, "phone": phone})), now)
            .await
            .unwrap();
    }
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group("VIP")).unwrap(), now)
        .await
        .unwrap()
        .group;
    let gid = group.id.clone();
    let phones = "380501234567\nnot a phone\n+44 20 7946 0958\n+33612345678\n380501234567\n";
    let report = groups::add_members(
        &app.store,
        &t,
        &gid,
        ParsedMembers::try_from(MemberList {
            phones: Some(phones.into()),
            ..Default::default()
        })
        .unwrap(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.added, 2);
    let reasons: Vec<(usize, RejectReason)> = report.rejected.iter().map(|r| (r.line, r.reason)).collect();
    assert_eq!(
        reasons,
        vec![
            (2, RejectReason::InvalidPhone),
            (4, RejectReason::NotFound),
            (5, RejectReason::Duplicate)
        ]
    );

    // Re-adding is idempotent; ids work too.
    let again = groups::add_members(
        &app.store,
        &t,
        &gid,
        ParsedMembers::try_from(MemberList {
            customer_ids: Some(vec!["a".into(), "c".into(), "zz".into()]),
            ..Default::default()
        })
        .unwrap(),
        now,
    )
    .await
    .unwrap();
    assert_eq!((again.added, again.already_members, again.rejected.len()), (1, 1, 1));
    assert_eq!(lookup::get_group(&app.store, &t, &gid).await.unwrap().member_count, 3);
    assert!(lookup::get_customer(&app.store, &t, &cid("a"))
        .await
        .unwrap()
        .groups
        .contains(&group.id));

    groups::remove_member(&app.store, &t, &gid, &cid("b"), chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        groups::remove_member(&app.store, &t, &gid, &cid("b"), chrono::Utc::now()).await,
        Err(DomainError::NotFound(_))
    ));
    // Deleting a customer takes it out of its groups first.
    customers::delete_customer(&app.store, &t, &cid("a")).await.unwrap();
    let members = groups::list_members(&app.store, &t, &gid, &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(
        members
            .items
            .iter()
            .map(|m| m.customer_id.to_string())
            .collect::<Vec<_>>(),
        vec!["c"]
    );
    assert_eq!(lookup::get_group(&app.store, &t, &gid).await.unwrap().member_count, 1);
    let (before, counted) = app.store.recount_members(&t, &group.id).await.unwrap();
    assert_eq!((before, counted), (1, 1), "the stored count matches the member rows");
}

#[tokio::test]
async fn member_rows_follow_profile_changes() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    customers::create_customer(
        &app.store,
        &t,
        new_customer(json!({"id": "a", "email": "a@x.com", "order_number": "1"})),
        now,
    )
    .await
    .unwrap();
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group("G")).unwrap(), now)
        .await
        .unwrap()
        .group;
    let ids = MemberList {
        customer_ids: Some(vec!["a".into()]),
        ..Default::default()
    };
    groups::add_members(&app.store, &t, &group.id, ParsedMembers::try_from(ids).unwrap(), now)
        .await
        .unwrap();
    let patch: CustomerPatch = serde_json::from_value(json!({"email": "new@x.com", "order_number": null})).unwrap();
    customers::update_customer(&app.store, &t, &cid("a"), patch, now)
        .await
        .unwrap();
    let member = &groups::list_members(&app.store, &t, &group.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items[0];
    assert_eq!(member.profile.email.as_ref().unwrap().as_str(), "new@x.com");
    assert_eq!(member.profile.order_number, None);
}

#[tokio::test]
async fn deleting_a_group_hides_it_and_a_repeated_purge_job_finishes_with_the_same_result() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    let ids: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    for id in &ids {
        customers::create_customer(&app.store, &t, new_customer(json!({"id": id})), now)
            .await
            .unwrap();
    }
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group("Big")).unwrap(), now)
        .await
        .unwrap()
        .group;
    let list = MemberList {
        customer_ids: Some(ids.clone()),
        ..Default::default()
    };
    assert_eq!(
        groups::add_members(&app.store, &t, &group.id, ParsedMembers::try_from(list).unwrap(), now)
            .await
            .unwrap()
            .added,
        60
    );
    assert_eq!(
        lookup::get_group(&app.store, &t, &group.id).await.unwrap().member_count,
        60
    );

    app.store.mark_group_deleting(&t, &group.id).await.unwrap();
    assert!(matches!(
        lookup::get_group(&app.store, &t, &group.id).await,
        Err(DomainError::NotFound(_))
    ));
    // A worker that dies after one purge step leaves work; the retried job finishes it.
    assert_eq!(app.store.purge_members(&t, &group.id, 25).await.unwrap(), 25);
    let job = GroupJob::PurgeGroup {
        tenant: t.clone(),
        group_id: group.id.clone(),
    };
    let report = jobs::run_group_job(&app.store, &job, chrono::Utc::now()).await.unwrap();
    assert_eq!(report.members_removed, 35);
    let again = jobs::run_group_job(&app.store, &job, chrono::Utc::now()).await.unwrap();
    assert_eq!(again.members_removed, 0);
    for id in &ids {
        assert!(
            lookup::get_customer(&app.store, &t, &cid(id))
                .await
                .unwrap()
                .groups
                .is_empty(),
            "{id} still lists the group"
        );
    }
    assert!(app.store.list_deleting_groups(&t).await.unwrap().is_empty());
}

#[tokio::test]
async fn worker_reports_only_failed_messages_and_poison_ends_in_the_dlq() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let app = app().await;
    // A dedicated queue pair with the template's redrive settings, so this test owns every message in it.
    let template = cg_local::template::load(&cg_local::template::default_path()).unwrap();
    let main_def = template
        .queues
        .iter()
        .find(|q| q.logical_id == "GroupJobsQueue")
        .unwrap();
    let (_, max_receives) = main_def.redrive.clone().unwrap();
    let sqs = &app.store.sqs;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let dlq = sqs
        .create_queue()
        .queue_name(format!("dlq-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue = sqs
        .create_queue()
        .queue_name(format!("q-{suffix}"))
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut local = app.clone();
    local.store.group_jobs_queue_url = queue.clone();

    let t = fresh_tenant();
    let group = groups::create_group(
        &app.store,
        &t,
        GroupInput::try_from(new_group("G")).unwrap(),
        Utc::now(),
    )
    .await
    .unwrap()
    .group;
    local
        .store
        .enqueue(&GroupJob::ResyncGroup {
            tenant: t.clone(),
            group_id: group.id.clone(),
        })
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{\"job\":\"explode\"}")
        .send()
        .await
        .unwrap();

    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 40, "poison message never reached the DLQ");
        cg_local::dev_server::poll_group_jobs_once(&local, 0, 0).await.unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        if attrs.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages] == "1" {
            break;
        }
    }
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(
        dead[0].body.as_deref(),
        Some("{\"job\":\"explode\"}"),
        "only the poison message is dead-lettered"
    );
}

#[tokio::test]
async fn scheduler_queues_a_resync_per_group_and_resync_repairs_a_drifted_count() {
    let app = app().await;
    let t = fresh_tenant();
    let now = Utc::now();
    customers::create_customer(&app.store, &t, new_customer(json!({"id": "a"})), now)
        .await
        .unwrap();
    let group = groups::create_group(&app.store, &t, GroupInput::try_from(new_group("G")).unwrap(), now)
        .await
        .unwrap()
        .group;
    groups::add_members(
        &app.store,
        &t,
        &group.id,
        ParsedMembers::try_from(MemberList {
            customer_ids: Some(vec!["a".into()]),
            ..Default::default()
        })
        .unwrap(),
        now,
    )
    .await
    .unwrap();
    // Simulate drift by corrupting the stored count.
    app.store
        .ddb
        .update_item()
        .table_name(&app.store.table)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(cg_aws::keys::tenant_pk(&t)),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(cg_aws::keys::group_sk(&group.id)),
        )
        .update_expression("SET member_count = :n")
        .expression_attribute_values(":n", aws_sdk_dynamodb::types::AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let job = GroupJob::ResyncGroup {
        tenant: t.clone(),
        group_id: group.id.clone(),
    };
    let report = jobs::run_group_job(&app.store, &job, chrono::Utc::now()).await.unwrap();
    assert_eq!((report.count_before, report.count_after), (7, 1));
    assert_eq!(
        lookup::get_group(&app.store, &t, &group.id).await.unwrap().member_count,
        1
    );
    assert!(jobs::schedule_resyncs(&app.store, chrono::Utc::now()).await.unwrap() >= 1);
}
