//! Reads the resource definitions the local stack needs out of template.yaml, so local resources are
//! built from the same definitions AWS deploys.

use serde_yaml::Value;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub logical_id: String,
    /// (name, type) pairs.
    pub attributes: Vec<(String, String)>,
    /// (name, HASH|RANGE) pairs.
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDef>,
    pub ttl_attribute: Option<String>,
    /// `StreamSpecification.StreamViewType`, when the table has a stream (issue 16: the change stream).
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDef {
    pub logical_id: String,
    pub visibility_timeout: Option<i64>,
    pub retention_seconds: Option<i64>,
    /// Logical id of the dead-letter queue and maxReceiveCount.
    pub redrive: Option<(String, i64)>,
    /// `FifoQueue: true` (the queue's name then ends in `.fifo`).
    pub fifo: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub table: TableDef,
    pub bucket_logical_id: String,
    pub queues: Vec<QueueDef>,
    /// (method, path, function logical id, binary) of every HttpApi event.
    pub routes: Vec<(String, String, String, String)>,
    /// Logical ids of the KMS keys (issue 16: the destinations key).
    pub kms_keys: Vec<String>,
}

/// The name a logical id gets locally: kebab case (`GroupJobsQueue` -> `cg-group-jobs-queue`).
pub fn local_name(logical_id: &str) -> String {
    let mut out = String::from("cg");
    for c in logical_id.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn pairs(list: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    list.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|e| Some((e.get(a)?.as_str()?.to_owned(), e.get(b)?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `!GetAtt X.Arn` / `!Ref X` / `{"Fn::GetAtt": [X, Arn]}` to `X`.
fn referenced_logical_id(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => t.value.as_str().map(|s| s.split('.').next().unwrap_or(s).to_owned()),
        Value::Mapping(m) => m
            .get("Fn::GetAtt")
            .and_then(|x| x.as_sequence())
            .and_then(|x| x.first())
            .and_then(|x| x.as_str())
            .map(str::to_owned),
        _ => None,
    }
}

pub fn load(path: &Path) -> Result<Template, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Template, String> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template.yaml: {e}"))?;
    let resources = doc
        .get("Resources")
        .and_then(|r| r.as_mapping())
        .ok_or("template.yaml has no Resources")?;
    let mut table = None;
    let mut bucket = None;
    let mut queues = Vec::new();
    let mut routes = Vec::new();
    let mut kms_keys = Vec::new();
    for (id, res) in resources {
        let id = id.as_str().unwrap_or_default().to_owned();
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        match res.get("Type").and_then(|t| t.as_str()).unwrap_or_default() {
            "AWS::DynamoDB::Table" => {
                let indexes = props
                    .get("GlobalSecondaryIndexes")
                    .and_then(|g| g.as_sequence())
                    .map(|gs| {
                        gs.iter()
                            .map(|g| IndexDef {
                                name: g
                                    .get("IndexName")
                                    .and_then(|v| v.as_str())
                                    .unwrap_or_default()
                                    .to_owned(),
                                key_schema: pairs(
                                    g.get("KeySchema").unwrap_or(&Value::Null),
                                    "AttributeName",
                                    "KeyType",
                                ),
                                projection: g
                                    .get("Projection")
                                    .and_then(|p| p.get("ProjectionType"))
                                    .and_then(|v| v.as_str())
                                    .unwrap_or("ALL")
                                    .to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let ttl = props
                    .get("TimeToLiveSpecification")
                    .filter(|t| t.get("Enabled").and_then(|e| e.as_bool()) == Some(true));
                table = Some(TableDef {
                    logical_id: id,
                    attributes: pairs(
                        props.get("AttributeDefinitions").unwrap_or(&Value::Null),
                        "AttributeName",
                        "AttributeType",
                    ),
                    key_schema: pairs(
                        props.get("KeySchema").unwrap_or(&Value::Null),
                        "AttributeName",
                        "KeyType",
                    ),
                    indexes,
                    ttl_attribute: ttl
                        .and_then(|t| t.get("AttributeName"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                    stream_view_type: props
                        .get("StreamSpecification")
                        .and_then(|s| s.get("StreamViewType"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                });
            }
            "AWS::S3::Bucket" => bucket = Some(id),
            "AWS::KMS::Key" => kms_keys.push(id),
            "AWS::SQS::Queue" => {
                let redrive = props.get("RedrivePolicy").and_then(|r| {
                    Some((
                        referenced_logical_id(r.get("deadLetterTargetArn")?)?,
                        r.get("maxReceiveCount")?.as_i64()?,
                    ))
                });
                queues.push(QueueDef {
                    logical_id: id,
                    visibility_timeout: props.get("VisibilityTimeout").and_then(|v| v.as_i64()),
                    retention_seconds: props.get("MessageRetentionPeriod").and_then(|v| v.as_i64()),
                    redrive,
                    fifo: props.get("FifoQueue").and_then(|v| v.as_bool()) == Some(true),
                });
            }
            "AWS::Serverless::Function" => {
                let binary = res
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(|b| b.as_str())
                    .unwrap_or_default()
                    .to_owned();
                for (_, event) in props.get("Events").and_then(|e| e.as_mapping()).into_iter().flatten() {
                    if event.get("Type").and_then(|t| t.as_str()) == Some("HttpApi") {
                        let p = event.get("Properties").cloned().unwrap_or(Value::Null);
                        routes.push((
                            p.get("Method")
                                .and_then(|m| m.as_str())
                                .unwrap_or_default()
                                .to_uppercase(),
                            p.get("Path").and_then(|m| m.as_str()).unwrap_or_default().to_owned(),
                            id.clone(),
                            binary.clone(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Template {
        table: table.ok_or("template.yaml declares no AWS::DynamoDB::Table")?,
        bucket_logical_id: bucket.ok_or("template.yaml declares no AWS::S3::Bucket")?,
        queues,
        routes,
        kms_keys,
    })
}

/// template.yaml at the workspace root.
pub fn default_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}
