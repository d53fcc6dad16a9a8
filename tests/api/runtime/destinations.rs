//! The destinations' functions (issue 16) under the Runtime API: the 17 API functions answer HTTP API
//! events; the dispatcher takes a DynamoDB stream batch of a real history item and records a message;
//! the delivery and sync workers take SQS batches of the messages the others queued (the sync worker
//! from the FIFO queue) and answer `batchItemFailures`; the sweep answers its schedule.

use super::failures;
use super::fleet::{self, call, expect, fresh_tenant, invoke, request, start};
use aws_sdk_dynamodb::types::AttributeValue;
use cg_runtime::events;
use serde_json::{json, Map, Value};

/// An item as a stream record's image (DynamoDB JSON).
fn image(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    fn value(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::Ss(l) => json!({ "SS": l }),
            AttributeValue::Ns(l) => json!({ "NS": l }),
            AttributeValue::L(l) => json!({ "L": l.iter().map(value).collect::<Vec<_>>() }),
            AttributeValue::M(m) => json!({ "M": image(m) }),
            other => panic!("no stream form for {other:?}"),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect::<Map<_, _>>())
}

/// The history items of a group in the stack's table, as the INSERT records of a stream batch.
async fn stream_batch(tenant: &str, group: &str) -> Value {
    let stack = fleet::stack().await;
    let ddb = aws_sdk_dynamodb::Client::new(&cg_runtime::stack::sdk_config(cg_runtime::REGION).await);
    let t = cg_domain::ids::TenantId::parse(tenant).expect("tenant");
    let g = cg_domain::ids::GroupId::parse(group).expect("group");
    let items = ddb
        .query()
        .table_name(&stack.config.table_name)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(cg_aws::keys::history_pk(&t, &g)))
        .send()
        .await
        .expect("Query the history")
        .items
        .unwrap_or_default();
    assert!(!items.is_empty(), "the member add wrote its history item");
    let arn = format!(
        "arn:aws:dynamodb:{}:{}:table/{}/stream/2026-01-01T00:00:00.000",
        cg_runtime::REGION,
        cg_runtime::ACCOUNT,
        stack.config.table_name
    );
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            json!({
                "eventID": format!("ev-{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": cg_runtime::REGION,
                "eventSourceARN": arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": chrono::Utc::now().timestamp(),
                    "Keys": {"PK": image(item)["PK"], "SK": image(item)["SK"]},
                    "NewImage": image(item),
                    "SequenceNumber": format!("{}", 100_000_000_000_000_000_000u128 + i as u128),
                    "SizeBytes": 200,
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn destination_functions_answer_their_events() {
    let t = fresh_tenant();
    let cfg = fleet::stack().await.config.destinations.clone();
    let (customers, groups, add) = tokio::join!(
        start("api-customers-create"),
        start("api-groups-create"),
        start("api-group-members-add"),
    );
    let (w_create, w_list, w_get, w_update, w_delete, w_rotate, d_list, d_replay) = tokio::join!(
        start("api-webhooks-create"),
        start("api-webhooks-list"),
        start("api-webhooks-get"),
        start("api-webhooks-update"),
        start("api-webhooks-delete"),
        start("api-webhooks-rotate-secret"),
        start("api-webhook-deliveries-list"),
        start("api-webhook-deliveries-replay"),
    );
    let (i_create, i_list, i_get, i_update, i_delete, m_create, m_list, m_delete, m_resync) = tokio::join!(
        start("api-integrations-create"),
        start("api-integrations-list"),
        start("api-integrations-get"),
        start("api-integrations-update"),
        start("api-integrations-delete"),
        start("api-mappings-create"),
        start("api-mappings-list"),
        start("api-mappings-delete"),
        start("api-mappings-resync"),
    );
    let (dispatcher, deliveries, syncs, sweep) = tokio::join!(
        start("worker-destinations-dispatcher"),
        start("worker-webhook-deliveries"),
        start("worker-destination-sync"),
        start("worker-webhook-sweep"),
    );

    // An endpoint (KMS Encrypt of its secret), then a member enters a group.
    let created = call(
        &w_create,
        request(&w_create, "/webhooks", &t)
            .json(&json!({"url": "https://hooks.example.com/rt", "event_types": ["group.member_entered"]})),
    )
    .await;
    expect(&created, 201);
    assert!(
        created.body["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")),
        "{}",
        created.raw
    );
    let w = created.body["id"].as_str().expect("webhook id").to_owned();
    let bad = call(
        &w_create,
        request(&w_create, "/webhooks", &t).json(&json!({"url": "http://10.0.0.1/x", "event_types": ["nope"]})),
    )
    .await;
    expect(&bad, 422);
    // No email: the list push below skips the member and makes no request to the provider.
    expect(
        &call(
            &customers,
            request(&customers, "/customers", &t).json(&json!({"id": "c-1"})),
        )
        .await,
        201,
    );
    let group = call(
        &groups,
        request(&groups, "/groups", &t).json(&json!({"name": "Hooked"})),
    )
    .await;
    expect(&group, 201);
    let g = group.body["id"].as_str().expect("group id").to_owned();
    let added = call(
        &add,
        request(&add, &format!("/groups/{g}/members"), &t).json(&json!({"customer_ids": ["c-1"]})),
    )
    .await;
    expect(&added, 200);

    // The dispatcher: the stream batch of that history item becomes one message.
    invoke(&dispatcher, &stream_batch(&t, &g).await).await;
    let log = call(&d_list, request(&d_list, &format!("/webhooks/{w}/deliveries"), &t)).await;
    expect(&log, 200);
    let items = log.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{}", log.raw);
    assert_eq!(items[0]["status"], "pending");
    let message = items[0]["id"].as_str().expect("message id").to_owned();

    // Disabled before its attempt: the delivery worker fails the message without sending it.
    let off = call(
        &w_update,
        request(&w_update, &format!("/webhooks/{w}"), &t).json(&json!({"enabled": false})),
    )
    .await;
    expect(&off, 200);
    assert_eq!(off.body["enabled"], false);
    let queued = fleet::receive(&cfg.deliveries_queue_url, &t, 1).await;
    let result = invoke(&deliveries, &fleet::sqs_event(&cfg.deliveries_queue_url, &queued)).await;
    assert_eq!(failures(&result), Vec::<String>::new(), "{}", deliveries.logs());
    fleet::delete(&cfg.deliveries_queue_url, &queued).await;
    let poisoned = invoke(&deliveries, &super::poison_event(&cfg.deliveries_queue_url)).await;
    assert_eq!(failures(&poisoned), vec!["poison-1".to_owned()]);
    let log = call(&d_list, request(&d_list, &format!("/webhooks/{w}/deliveries"), &t)).await;
    assert_eq!(log.body["items"][0]["status"], "failed", "{}", log.raw);
    let replay =
        |f: &cg_runtime::process::LambdaProcess| request(f, &format!("/webhooks/{w}/deliveries/{message}/replay"), &t);
    expect(&call(&d_replay, replay(&d_replay)).await, 409);
    expect(
        &call(
            &w_update,
            request(&w_update, &format!("/webhooks/{w}"), &t).json(&json!({"enabled": true})),
        )
        .await,
        200,
    );
    expect(&call(&d_replay, replay(&d_replay)).await, 202);

    let got = call(&w_get, request(&w_get, &format!("/webhooks/{w}"), &t)).await;
    expect(&got, 200);
    assert!(got.body.get("secret").is_none(), "{}", got.raw);
    let rotated = call(
        &w_rotate,
        request(&w_rotate, &format!("/webhooks/{w}/rotate-secret"), &t),
    )
    .await;
    expect(&rotated, 200);
    assert_ne!(rotated.body["secret"], created.body["secret"]);
    let listed = call(&w_list, request(&w_list, "/webhooks", &t)).await;
    expect(&listed, 200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));

    // An integration (KMS Encrypt) and a mapping, whose push the sync worker runs from the FIFO queue
    // (KMS Decrypt of the credentials).
    let credentials = json!({"username": "owner@shop.example", "api_key": "k-1"});
    let integration = call(
        &i_create,
        request(&i_create, "/integrations", &t)
            .json(&json!({"provider": "smartemailing", "name": "Shop", "credentials": credentials})),
    )
    .await;
    expect(&integration, 201);
    let i = integration.body["id"].as_str().expect("integration id").to_owned();
    expect(
        &call(&i_get, request(&i_get, &format!("/integrations/{i}"), &t)).await,
        200,
    );
    let listed = call(&i_list, request(&i_list, "/integrations", &t)).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.raw);
    expect(
        &call(
            &i_update,
            request(&i_update, &format!("/integrations/{i}"), &t).json(&json!({"name": "Shop 2"})),
        )
        .await,
        200,
    );
    let mapping = call(
        &m_create,
        request(&m_create, &format!("/integrations/{i}/mappings"), &t).json(&json!({"group_id": g, "list_id": 42})),
    )
    .await;
    expect(&mapping, 201);
    let m = mapping.body["id"].as_str().expect("mapping id").to_owned();
    let pushes = fleet::receive(&cfg.sync_queue_url, &t, 1).await;
    let result = invoke(&syncs, &fleet::sqs_event(&cfg.sync_queue_url, &pushes)).await;
    assert_eq!(failures(&result), Vec::<String>::new(), "{}", syncs.logs());
    fleet::delete(&cfg.sync_queue_url, &pushes).await;
    let mappings = call(&m_list, request(&m_list, &format!("/integrations/{i}/mappings"), &t)).await;
    expect(&mappings, 200);
    let shown = &mappings.body["items"][0];
    assert_eq!(
        (shown["status"].clone(), shown["skipped_without_email"].clone()),
        (json!("synced"), json!(1)),
        "{}",
        mappings.raw
    );
    expect(
        &call(
            &m_resync,
            request(&m_resync, &format!("/integrations/{i}/mappings/{m}/resync"), &t),
        )
        .await,
        202,
    );
    expect(
        &call(
            &m_delete,
            request(&m_delete, &format!("/integrations/{i}/mappings/{m}"), &t),
        )
        .await,
        204,
    );
    expect(
        &call(&i_delete, request(&i_delete, &format!("/integrations/{i}"), &t)).await,
        204,
    );
    expect(
        &call(&w_delete, request(&w_delete, &format!("/webhooks/{w}"), &t)).await,
        204,
    );

    // The sweep's schedule sends the scheduled event; it answers how many messages it queued.
    let swept = invoke(&sweep, &events::scheduled_event("WebhookSweep")).await;
    assert!(swept["queued"].is_u64(), "{swept}");
}
