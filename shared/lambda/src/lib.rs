//! Lambda glue: verified claims to tenant, domain errors to HTTP responses, the API and worker handlers
//! (which take `&App` so they run the same under Lambda, in the dev server and in tests), tracing init.

#![warn(missing_docs)]

pub mod api;
pub mod balance_api;
pub mod batch;
pub mod bulk_api;
pub mod bulk_worker;
pub mod console;
pub mod destinations_worker;
pub mod export_api;
pub mod export_worker;
pub mod filter_api;
pub mod http_error;
pub mod import_api;
pub mod integrations_api;
pub mod merge_api;
pub mod request;
pub mod routes;
pub mod scheduler;
pub mod search_api;
pub mod settings_api;
pub mod startup;
pub mod timeline_api;
pub mod webhooks_api;
pub mod worker;

use cg_aws::{Config, Store};

/// Everything a handler needs, built once at cold start.
#[derive(Clone, Debug)]
pub struct App {
    /// Every adapter; handlers pass it to use cases as the ports they ask for.
    pub store: Store,
    /// The JWT claim that names the tenant (`TENANT_CLAIM`, default `tenant_id`).
    pub tenant_claim: String,
    /// The job queues' maxReceiveCount (see `Config::max_receives`).
    pub max_receives: u32,
    /// Outbound HTTP: the webhook client and the email providers (issue 16).
    pub outbound: cg_outbound::Outbound,
}

impl App {
    /// Reads configuration and builds the SDK clients; fails fast with the names of missing variables.
    pub async fn from_env() -> Result<App, lambda_runtime::Error> {
        let config = Config::from_env()?;
        Ok(App::new(&config).await)
    }

    /// Builds the clients from a configuration.
    pub async fn new(config: &Config) -> App {
        App {
            store: Store::connect(config).await,
            tenant_claim: config.tenant_claim.clone(),
            max_receives: config.max_receives,
            // Without the system's CA roots no https call could succeed: fail at cold start.
            outbound: cg_outbound::Outbound::new(
                config.destinations.allow_local,
                config.destinations.no_outbound,
                &config.destinations.smartemailing_base_url,
            )
            .expect("the system's TLS root certificates load"),
        }
    }
}

impl App {
    /// The service's clock (see `cg_aws::clock`).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.clock.now()
    }
}

/// Structured logs: JSON in Lambda (`LOG_FORMAT=json`), readable text locally; level from `RUST_LOG`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let result = if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests, dev server) keeps the first subscriber.
    let _ = result;
}
