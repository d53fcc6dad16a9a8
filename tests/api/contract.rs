//! The contracts between the parts: template.yaml, the OpenAPI document, the route table, the
//! functions' binaries and the emulator's resources must describe the same system.

use cg_lambda::routes::ROUTES;
use cg_local::template::{self, local_name};
use cg_tests::app;
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn route_table() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

#[test]
fn openapi_template_and_dev_server_routes_are_the_same_set() {
    let tpl = template::load(&root().join("template.yaml")).unwrap();
    let from_template: BTreeSet<(String, String)> =
        tpl.routes.iter().map(|(m, p, _, _)| (m.clone(), p.clone())).collect();
    assert_eq!(
        from_template.len(),
        tpl.routes.len(),
        "a route is declared twice in template.yaml"
    );

    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("infra/openapi.yaml")).unwrap()).unwrap();
    let mut from_openapi = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let m = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                from_openapi.insert((m, path.as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(
        from_template,
        route_table(),
        "template.yaml routes vs the dev server's route table"
    );
    assert_eq!(
        from_openapi,
        route_table(),
        "OpenAPI paths vs the dev server's route table"
    );
}

#[test]
fn each_route_is_served_by_its_own_function_binary() {
    let tpl = template::load(&root().join("template.yaml")).unwrap();
    let cargo = std::fs::read_to_string(root().join("functions/Cargo.toml")).unwrap();
    for route in ROUTES {
        let in_template = tpl
            .routes
            .iter()
            .find(|(m, p, _, _)| m == route.method && p == route.path)
            .unwrap();
        assert_eq!(
            in_template.3, route.binary,
            "{} {} is deployed from another binary",
            route.method, route.path
        );
        assert!(
            cargo.contains(&format!("name = \"{}\"", route.binary)),
            "functions/ has no [[bin]] {}",
            route.binary
        );
    }
}

#[tokio::test]
async fn local_resources_match_template_yaml() {
    let app = app().await;
    let tpl = template::load(&root().join("template.yaml")).unwrap();
    let table = app
        .store
        .ddb
        .describe_table()
        .table_name(local_name(&tpl.table.logical_id))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
        .collect();
    assert_eq!(keys, tpl.table.key_schema);
    let mut attrs: Vec<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
        .collect();
    let mut want_attrs = tpl.table.attributes.clone();
    attrs.sort();
    want_attrs.sort();
    assert_eq!(attrs, want_attrs);
    let indexes: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default().to_owned(),
                g.key_schema()
                    .iter()
                    .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
                    .collect(),
                g.projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let want: Vec<_> = tpl
        .table
        .indexes
        .iter()
        .map(|i| (i.name.clone(), i.key_schema.clone(), i.projection.clone()))
        .collect();
    assert!(!want.is_empty(), "template.yaml declares the wake-up GSI");
    assert_eq!(indexes, want);
    let ttl = app
        .store
        .ddb
        .describe_time_to_live()
        .table_name(local_name(&tpl.table.logical_id))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description.and_then(|d| d.attribute_name),
        tpl.table.ttl_attribute
    );

    // Every queue with a redrive policy in the template has the same one locally.
    for q in tpl.queues.iter().filter(|q| q.redrive.is_some()) {
        let url = app
            .store
            .sqs
            .get_queue_url()
            .queue_name(cg_local::destinations::queue_name(q, ""))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let attrs = app
            .store
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let redrive: serde_json::Value =
            serde_json::from_str(&attrs[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy]).unwrap();
        let (dlq, max) = q.redrive.clone().unwrap();
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            max.to_string()
        );
        assert!(redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(&cg_local::destinations::queue_name(
                tpl.queues.iter().find(|d| d.logical_id == dlq).unwrap(),
                ""
            )));
        assert_eq!(
            attrs[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
            q.visibility_timeout.unwrap().to_string()
        );
    }
}

/// The workers mark a job failed on the delivery before the dead-letter queue: `QUEUE_MAX_RECEIVES`
/// (Globals) must be every job queue's maxReceiveCount.
#[test]
fn queue_max_receives_is_every_queues_max_receive_count() {
    let raw = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let line = raw
        .lines()
        .find(|l| l.trim_start().starts_with("QUEUE_MAX_RECEIVES:"))
        .expect("Globals set QUEUE_MAX_RECEIVES");
    let configured: i64 = line
        .split(':')
        .nth(1)
        .unwrap()
        .trim()
        .trim_matches('"')
        .parse()
        .unwrap();
    let tpl = template::load(&root().join("template.yaml")).unwrap();
    let counts: BTreeSet<i64> = tpl
        .queues
        .iter()
        .filter_map(|q| q.redrive.as_ref().map(|r| r.1))
        .collect();
    assert_eq!(counts, BTreeSet::from([configured]));
}

/// The dev server's clock control exists only locally: no deployed function serves it and the
/// contract does not describe it.
#[test]
fn the_dev_clock_route_is_not_deployed() {
    let dev = cg_local::dev_server::DEV_CLOCK_PATH;
    assert!(ROUTES.iter().all(|r| !r.path.starts_with("/_dev")));
    for file in ["template.yaml", "infra/openapi.yaml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(!text.contains(dev), "{file} mentions {dev}");
        assert!(!text.contains("/_dev"), "{file} mentions a /_dev route");
    }
}
