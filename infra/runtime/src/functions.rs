//! The functions template.yaml deploys: binary, memory, timeout, environment (Globals merged with the
//! function's own) and the events that invoke it, with `!Ref` / `!GetAtt` resolved to the local stack's
//! resources, so a function runs locally with exactly the variables AWS would give it.

use crate::{ACCOUNT, REGION};
use cg_aws::Config;
use cg_local::template::Template;
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// What invokes a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An HttpApi route: method and path template (`/customers/{customerId}`).
    HttpApi { method: String, path: String },
    /// An SQS event source: the queue's logical id, its batch size and whether it reports item failures.
    Sqs {
        queue: String,
        batch_size: u32,
        reports_batch_item_failures: bool,
    },
    /// An EventBridge schedule and the constant input it sends (`None`: the scheduled event itself).
    Schedule { expression: String, input: Option<String> },
}

/// One `AWS::Serverless::Function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    pub logical_id: String,
    /// The `[[bin]]` of cg-functions (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// Variable name to its template value, still unresolved (`!Ref Table` is `Ref(Table)`).
    pub environment: BTreeMap<String, TemplateValue>,
    pub triggers: Vec<Trigger>,
}

/// An environment value as the template writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateValue {
    Literal(String),
    /// `!Ref X`.
    Ref(String),
    /// `!GetAtt X.Attribute`.
    GetAtt(String, String),
}

/// The local value of every resource a function's environment can name: `Ref` and attributes.
#[derive(Debug, Clone, Default)]
pub struct LocalResources {
    refs: HashMap<String, String>,
    attributes: HashMap<(String, String), String>,
}

impl LocalResources {
    /// The table, the bucket and the queues of `config` (as `cg_local::provision` created them).
    pub fn new(template: &Template, config: &Config) -> LocalResources {
        let mut r = LocalResources::default();
        let table = &template.table.logical_id;
        r.refs.insert(table.clone(), config.table_name.clone());
        r.attributes.insert(
            (table.clone(), "Arn".into()),
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", config.table_name),
        );
        let bucket = &template.bucket_logical_id;
        r.refs.insert(bucket.clone(), config.bucket_name.clone());
        r.attributes.insert(
            (bucket.clone(), "Arn".into()),
            format!("arn:aws:s3:::{}", config.bucket_name),
        );
        for queue in &template.queues {
            // A FIFO queue's name ends in `.fifo` (issue 16's sync queue).
            let name = cg_local::destinations::queue_name(queue, "");
            // Every local queue URL is the emulator's queue prefix plus the queue's local name.
            if let Some((prefix, _)) = config.group_jobs_queue_url.rsplit_once('/') {
                r.refs.insert(queue.logical_id.clone(), format!("{prefix}/{name}"));
            }
            r.attributes.insert(
                (queue.logical_id.clone(), "Arn".into()),
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            );
            r.attributes
                .insert((queue.logical_id.clone(), "QueueName".into()), name);
        }
        // The destinations key (issue 16), as `cg_local::provision` found or created it.
        for key in &template.kms_keys {
            let id = &config.destinations.key_id;
            r.refs.insert(key.clone(), id.clone());
            r.attributes.insert(
                (key.clone(), "Arn".into()),
                format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}"),
            );
        }
        r
    }

    /// Adds the template's parameters at their defaults (`!Ref WebhookRetrySchedule`), as a deploy
    /// without overrides passes them.
    pub fn with_parameter_defaults(mut self, template_text: &str) -> Result<LocalResources, String> {
        let doc: Value = serde_yaml::from_str(template_text).map_err(|e| format!("template.yaml: {e}"))?;
        if let Some(params) = doc.get("Parameters").and_then(Value::as_mapping) {
            for (name, p) in params {
                let (Some(name), Some(default)) = (name.as_str(), p.get("Default")) else {
                    continue;
                };
                if let TemplateValue::Literal(v) = template_value(default)? {
                    self.refs.insert(name.to_owned(), v);
                }
            }
        }
        Ok(self)
    }

    /// The local value of a template value; an error names what the local stack does not create.
    pub fn resolve(&self, value: &TemplateValue) -> Result<String, String> {
        match value {
            TemplateValue::Literal(s) => Ok(s.clone()),
            TemplateValue::Ref(id) => self
                .refs
                .get(id)
                .cloned()
                .ok_or_else(|| format!("!Ref {id}: the local stack has no such resource")),
            TemplateValue::GetAtt(id, attr) => self
                .attributes
                .get(&(id.clone(), attr.clone()))
                .cloned()
                .ok_or_else(|| format!("!GetAtt {id}.{attr}: the local stack has no such attribute")),
        }
    }
}

impl FunctionDef {
    /// The function's environment with every reference resolved.
    pub fn resolved_environment(&self, resources: &LocalResources) -> Result<BTreeMap<String, String>, String> {
        self.environment
            .iter()
            .map(|(k, v)| {
                resources
                    .resolve(v)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| format!("{} {k}: {e}", self.logical_id))
            })
            .collect()
    }

    /// The HttpApi route of an API function.
    pub fn route(&self) -> Option<(&str, &str)> {
        self.triggers.iter().find_map(|t| match t {
            Trigger::HttpApi { method, path } => Some((method.as_str(), path.as_str())),
            _ => None,
        })
    }
}

fn template_value(v: &Value) -> Result<TemplateValue, String> {
    match v {
        Value::String(s) => Ok(TemplateValue::Literal(s.clone())),
        Value::Number(n) => Ok(TemplateValue::Literal(n.to_string())),
        Value::Bool(b) => Ok(TemplateValue::Literal(b.to_string())),
        Value::Tagged(t) => {
            let arg = t.value.as_str().ok_or_else(|| format!("{} needs a string", t.tag))?;
            match t.tag.to_string().as_str() {
                "!Ref" => Ok(TemplateValue::Ref(arg.to_owned())),
                "!GetAtt" => {
                    let (id, attr) = arg
                        .split_once('.')
                        .ok_or_else(|| format!("!GetAtt {arg}: no attribute"))?;
                    Ok(TemplateValue::GetAtt(id.to_owned(), attr.to_owned()))
                }
                other => Err(format!("{other} {arg}: not supported in an environment variable")),
            }
        }
        Value::Mapping(m) if m.len() == 1 => {
            if let Some(id) = m.get("Ref").and_then(Value::as_str) {
                return Ok(TemplateValue::Ref(id.to_owned()));
            }
            Err(format!("{v:?}: not supported in an environment variable"))
        }
        other => Err(format!("{other:?}: not supported in an environment variable")),
    }
}

fn environment(function: &Value) -> Result<BTreeMap<String, TemplateValue>, String> {
    let mut out = BTreeMap::new();
    if let Some(vars) = function
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
    {
        for (k, v) in vars {
            let k = k.as_str().ok_or("an environment variable name is not a string")?;
            out.insert(k.to_owned(), template_value(v).map_err(|e| format!("{k}: {e}"))?);
        }
    }
    Ok(out)
}

fn number(props: &Value, globals: &Value, key: &str) -> Option<u32> {
    props
        .get(key)
        .or_else(|| globals.get(key))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn trigger(event: &Value) -> Result<Option<Trigger>, String> {
    let props = event.get("Properties").cloned().unwrap_or(Value::Null);
    let text = |key: &str| props.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(match event.get("Type").and_then(Value::as_str) {
        Some("HttpApi") => Some(Trigger::HttpApi {
            method: text("Method").ok_or("an HttpApi event has no Method")?.to_uppercase(),
            path: text("Path").ok_or("an HttpApi event has no Path")?,
        }),
        Some("SQS") => {
            let queue = match props.get("Queue") {
                Some(Value::Tagged(t)) => t.value.as_str().map(|s| s.split('.').next().unwrap_or(s).to_owned()),
                _ => None,
            };
            Some(Trigger::Sqs {
                queue: queue.ok_or("an SQS event's Queue is not a !GetAtt")?,
                // SAM's default BatchSize for SQS.
                batch_size: props.get("BatchSize").and_then(Value::as_u64).map_or(10, |n| n as u32),
                reports_batch_item_failures: props
                    .get("FunctionResponseTypes")
                    .and_then(Value::as_sequence)
                    .is_some_and(|s| s.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures"))),
            })
        }
        Some("Schedule") => Some(Trigger::Schedule {
            expression: match props.get("Schedule") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Tagged(t)) => format!("{} {}", t.tag, t.value.as_str().unwrap_or_default()),
                _ => return Err("a Schedule event has no Schedule".into()),
            },
            input: text("Input"),
        }),
        _ => None,
    })
}

/// Every function of the template, in template order.
pub fn parse(text: &str) -> Result<Vec<FunctionDef>, String> {
    let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template.yaml: {e}"))?;
    let globals = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .cloned()
        .unwrap_or(Value::Null);
    let global_env = environment(&globals)?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("template.yaml has no Resources")?;
    let mut out = Vec::new();
    for (id, res) in resources {
        if res.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or_default().to_owned();
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        let binary = res
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{id} has no Metadata.BuildProperties.Binary"))?
            .to_owned();
        let mut env = global_env.clone();
        env.extend(environment(&props).map_err(|e| format!("{id}: {e}"))?);
        let mut triggers = Vec::new();
        for (_, event) in props.get("Events").and_then(Value::as_mapping).into_iter().flatten() {
            if let Some(t) = trigger(event).map_err(|e| format!("{id}: {e}"))? {
                triggers.push(t);
            }
        }
        out.push(FunctionDef {
            memory_mb: number(&props, &globals, "MemorySize").unwrap_or(128),
            timeout_seconds: number(&props, &globals, "Timeout").unwrap_or(3),
            logical_id: id,
            binary,
            environment: env,
            triggers,
        });
    }
    Ok(out)
}

/// The functions of a template file.
pub fn load(path: &Path) -> Result<Vec<FunctionDef>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Globals:
  Function:
    MemorySize: 256
    Timeout: 29
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        RETRIES: 5
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: worker-jobs
    Properties:
      Timeout: 900
      Environment:
        Variables:
          QUEUE_ARN: !GetAtt Jobs.Arn
          RETRIES: "7"
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
            Input: '{"task": "wake"}'
"#;

    #[test]
    fn a_function_gets_the_globals_overridden_by_its_own_settings() {
        let f = &parse(TEMPLATE).unwrap()[0];
        assert_eq!(
            (f.binary.as_str(), f.memory_mb, f.timeout_seconds),
            ("worker-jobs", 256, 900)
        );
        assert_eq!(f.environment["TABLE_NAME"], TemplateValue::Ref("Table".into()));
        assert_eq!(f.environment["RETRIES"], TemplateValue::Literal("7".into()));
        assert_eq!(
            f.environment["QUEUE_ARN"],
            TemplateValue::GetAtt("Jobs".into(), "Arn".into())
        );
        assert_eq!(
            f.triggers,
            vec![
                Trigger::Sqs {
                    queue: "Jobs".into(),
                    batch_size: 10,
                    reports_batch_item_failures: true
                },
                Trigger::Schedule {
                    expression: "rate(5 minutes)".into(),
                    input: Some(r#"{"task": "wake"}"#.into())
                }
            ]
        );
    }

    #[test]
    fn a_reference_the_local_stack_cannot_resolve_is_an_error_naming_it() {
        let f = &parse(TEMPLATE).unwrap()[0];
        let err = f.resolved_environment(&LocalResources::default()).unwrap_err();
        assert!(err.contains("Worker") && err.contains("Jobs.Arn"), "{err}");
    }
}
