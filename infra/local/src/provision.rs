//! Creates the table (keys, GSIs, TTL), the bucket and the queues (with their DLQs and redrive) on the
//! emulator from template.yaml. Idempotent: existing resources are kept.

use crate::template::{local_name, Template};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use cg_aws::Config;
use std::collections::HashMap;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn key_schema(pairs: &[(String, String)]) -> Result<Vec<KeySchemaElement>, BoxError> {
    pairs
        .iter()
        .map(|(name, kind)| {
            Ok(KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

/// Creates whatever is missing and returns the configuration the handlers use to reach it.
pub async fn provision(sdk: &aws_config::SdkConfig, template: &Template) -> Result<Config, BoxError> {
    provision_named(sdk, template, "").await
}

/// The same resources with `suffix` after the table's and the queues' names (the bucket is shared:
/// its keys start with the tenant), so a test can run on a stack of its own. Several processes or
/// tasks may provision the same names at once: a resource another one created meanwhile is kept.
pub async fn provision_named(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    suffix: &str,
) -> Result<Config, BoxError> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let table_name = format!("{}{suffix}", local_name(&template.table.logical_id));
    let bucket_name = local_name(&template.bucket_logical_id);

    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let existing = ddb.list_tables().send().await?.table_names.unwrap_or_default();
    if !existing.contains(&table_name) {
        let t = &template.table;
        let mut req = ddb
            .create_table()
            .table_name(&table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&t.key_schema)?));
        for (name, kind) in &t.attributes {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()?,
            );
        }
        if let Some(view) = &t.stream_view_type {
            // Issue 16: the change stream the dispatcher reads (the dev server polls it).
            req = req.stream_specification(
                aws_sdk_dynamodb::types::StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(view.as_str()))
                    .build()?,
            );
        }
        for index in &t.indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_schema(&index.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(index.projection.as_str()))
                            .build(),
                    )
                    .build()?,
            );
        }
        let created = match req.send().await {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => false,
            Err(e) => return Err(e.into()),
        };
        if let (true, Some(ttl)) = (created, &t.ttl_attribute) {
            ddb.update_time_to_live()
                .table_name(&table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(ttl)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
    }

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    let buckets = s3.list_buckets().send().await?;
    if !buckets.buckets().iter().any(|b| b.name() == Some(bucket_name.as_str())) {
        match s3.create_bucket().bucket(&bucket_name).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // template.yaml lets the console's origin PUT to presigned upload links; locally that origin is
    // the dev server on whatever port it has, so any origin may (the link itself is the authority).
    let rule = aws_sdk_s3::types::CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_origins("*")
        .allowed_headers("*")
        .max_age_seconds(3600)
        .build()?;
    s3.put_bucket_cors()
        .bucket(&bucket_name)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(rule)
                .build()?,
        )
        .send()
        .await?;

    // Dead-letter queues first, so the queues that redrive into them can name their ARNs.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut urls: HashMap<String, String> = HashMap::new();
    let mut ordered = template.queues.clone();
    ordered.sort_by_key(|q| q.redrive.is_some());
    for queue in &ordered {
        let mut attrs = HashMap::new();
        if let Some(v) = queue.visibility_timeout {
            attrs.insert(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(v) = queue.retention_seconds {
            attrs.insert(QueueAttributeName::MessageRetentionPeriod, v.to_string());
        }
        if let Some((dlq, max)) = &queue.redrive {
            let dlq_url = urls
                .get(dlq)
                .ok_or_else(|| format!("{} redrives to unknown queue {dlq}", queue.logical_id))?;
            let arn = sqs
                .get_queue_attributes()
                .queue_url(dlq_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await?
                .attributes
                .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                .ok_or("dead-letter queue has no ARN")?;
            attrs.insert(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max}).to_string(),
            );
        }
        if queue.fifo {
            attrs.insert(QueueAttributeName::FifoQueue, "true".into());
        }
        let url = sqs
            .create_queue()
            .queue_name(crate::destinations::queue_name(queue, suffix))
            .set_attributes(Some(attrs))
            .send()
            .await?;
        urls.insert(
            queue.logical_id.clone(),
            url.queue_url.ok_or("CreateQueue returned no URL")?,
        );
    }

    // One maxReceiveCount for every job queue: the workers read it once as QUEUE_MAX_RECEIVES.
    let counts: std::collections::BTreeSet<i64> = template
        .queues
        .iter()
        .filter_map(|q| q.redrive.as_ref().map(|(_, max)| *max))
        .collect();
    let max_receives = match counts.iter().collect::<Vec<_>>().as_slice() {
        [one] => u32::try_from(**one).map_err(|_| "maxReceiveCount out of range")?,
        _ => return Err(format!("template.yaml's queues must share one maxReceiveCount, found {counts:?}").into()),
    };
    let destinations = cg_aws::config::DestinationsConfig::local(
        urls.remove("WebhookDeliveriesQueue")
            .ok_or("template.yaml has no WebhookDeliveriesQueue")?,
        urls.remove("DestinationSyncQueue")
            .ok_or("template.yaml has no DestinationSyncQueue")?,
        crate::destinations::ensure_key(sdk, template).await?,
    );
    Ok(Config {
        destinations,
        table_name,
        bucket_name,
        group_jobs_queue_url: urls
            .remove("GroupJobsQueue")
            .ok_or("template.yaml has no GroupJobsQueue")?,
        export_jobs_queue_url: urls
            .remove("ExportJobsQueue")
            .ok_or("template.yaml has no ExportJobsQueue")?,
        bulk_jobs_queue_url: urls
            .remove("BulkJobsQueue")
            .ok_or("template.yaml has no BulkJobsQueue")?,
        max_receives,
        resync_shard_budget: cg_domain::jobs::RESYNC_SHARD_BUDGET,
        // The browser tests lower it to walk the console through a count job with a few customers.
        count_sync_max: std::env::var("COUNT_SYNC_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cg_domain::usecases::search::COUNT_SYNC_MAX),
        tenant_claim: "tenant_id".into(),
        endpoint_url: endpoint,
    })
}

/// The SDK configuration for the emulator: the endpoint from `AWS_ENDPOINT_URL`, fixed test credentials
/// and region unless the environment sets them.
pub async fn local_sdk_config() -> aws_config::SdkConfig {
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(k).is_err() {
            // Set before any client or thread reads the environment.
            std::env::set_var(k, v);
        }
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}
