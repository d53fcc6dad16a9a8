//! The local resources the functions run against, provisioned from template.yaml in [`REGION`], and
//! the template's functions with their environment resolved to them.

use crate::functions::{self, FunctionDef, LocalResources};
use crate::process::{lambda_environment, Binaries, LambdaProcess};
use crate::REGION;
use cg_aws::Config;
use std::path::Path;

/// The provisioned resources and the functions of template.yaml.
#[derive(Debug, Clone)]
pub struct Stack {
    pub config: Config,
    pub resources: LocalResources,
    pub functions: Vec<FunctionDef>,
    /// Where the functions' SDK clients send requests: moto, or a metering proxy in front of it.
    pub endpoint: String,
}

/// The SDK configuration for moto (`AWS_ENDPOINT_URL`) in `region`.
pub async fn sdk_config(region: &'static str) -> aws_config::SdkConfig {
    // Sets moto's test credentials when the environment has none.
    let _ = cg_local::provision::local_sdk_config().await;
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::from_static(region))
        .load()
        .await
}

impl Stack {
    /// Creates what is missing on moto (`AWS_ENDPOINT_URL`): the bucket through the default region (S3
    /// names are global, and a bucket created through us-west-2 would need a location constraint),
    /// then the table and the queues in [`REGION`].
    pub async fn provision() -> Result<Stack, String> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .map_err(|_| "AWS_ENDPOINT_URL must point at moto (infra/test.sh sets it)")?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let template = cg_local::template::load(&root.join("template.yaml"))?;
        cg_local::provision::provision(&cg_local::provision::local_sdk_config().await, &template)
            .await
            .map_err(|e| format!("provision the default region: {e}"))?;
        let config = cg_local::provision::provision(&sdk_config(REGION).await, &template)
            .await
            .map_err(|e| format!("provision {REGION}: {e}"))?;
        Ok(Stack {
            resources: LocalResources::new(&template, &config).with_parameter_defaults(
                &std::fs::read_to_string(root.join("template.yaml")).map_err(|e| format!("template.yaml: {e}"))?,
            )?,
            functions: functions::load(&root.join("template.yaml"))?,
            config,
            endpoint,
        })
    }

    /// The function whose binary is `binary`.
    pub fn function(&self, binary: &str) -> Result<&FunctionDef, String> {
        self.functions
            .iter()
            .find(|f| f.binary == binary)
            .ok_or_else(|| format!("template.yaml has no function with Binary {binary}"))
    }

    /// Starts a function's binary with its template environment, less the variables in `remove`.
    pub async fn start(&self, binaries: &Binaries, binary: &str, remove: &[&str]) -> Result<LambdaProcess, String> {
        self.start_with(binaries, binary, remove, &[]).await
    }

    /// Starts a function's binary with its template environment, less `remove`, plus `set` (a knob
    /// a test turns, e.g. `COUNT_SYNC_MAX`).
    pub async fn start_with(
        &self,
        binaries: &Binaries,
        binary: &str,
        remove: &[&str],
        set: &[(&str, &str)],
    ) -> Result<LambdaProcess, String> {
        let def = self.function(binary)?;
        LambdaProcess::start(binaries.path(binary)?, def, |runtime_api| {
            let mut env = lambda_environment(def, &self.resources, runtime_api, &self.endpoint)?;
            for name in remove {
                env.remove(*name);
            }
            for (name, value) in set {
                env.insert((*name).to_owned(), (*value).to_owned());
            }
            Ok(env)
        })
        .await
    }

    /// An SQS client in the functions' region.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&sdk_config(REGION).await)
    }
}
