//! Destinations' part of the configuration (issue 16), read with the rest at cold start.

use super::Reader;
use cg_domain::destinations::delivery::{DeliveryPolicy, DEFAULT_SCHEDULE_SECONDS};
use std::env;

/// SmartEmailing's API v3 base URL (`SMARTEMAILING_BASE_URL` points the client elsewhere: tests).
pub const SMARTEMAILING_BASE_URL: &str = "https://app.smartemailing.cz/api/v3/";

/// Queues, key and knobs of webhook deliveries and provider syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationsConfig {
    /// The queue of delivery attempts (`WEBHOOK_DELIVERIES_QUEUE_URL`).
    pub deliveries_queue_url: String,
    /// The FIFO queue of provider-sync jobs (`DESTINATION_SYNC_QUEUE_URL`).
    pub sync_queue_url: String,
    /// The KMS key that seals signing secrets and provider credentials (`DESTINATIONS_KEY_ID`).
    pub key_id: String,
    /// Seconds before each attempt, the first included (`WEBHOOK_RETRY_SCHEDULE`, comma separated;
    /// default `0,5,300,1800,7200,18000,36000,36000`).
    pub retry_schedule: Vec<i64>,
    /// Seconds a receiver may take (`WEBHOOK_TIMEOUT_SECONDS`, default 15).
    pub timeout_seconds: u64,
    /// Seconds a pending message may be overdue before the sweep queues it again
    /// (`WEBHOOK_SWEEP_GRACE_SECONDS`, default 120).
    pub sweep_grace_seconds: u64,
    /// The SmartEmailing API base URL (`SMARTEMAILING_BASE_URL`).
    pub smartemailing_base_url: String,
    /// The local-mode allowance: webhook URLs may be http and reach loopback and private addresses.
    /// Never read from the environment: only the dev server and the tests set it, so no deployed
    /// function can have it.
    pub allow_local: bool,
    /// Nothing leaves the machine: webhooks reach only loopback and private addresses and the
    /// provider clients an unreachable local address. Set by `cg-local run --no-outbound` (the test
    /// command's schemathesis run, whose fuzzed endpoints must not receive real requests).
    pub no_outbound: bool,
}

impl DestinationsConfig {
    /// Reads the variables through the configuration's reader (errors are collected there).
    pub(super) fn read(r: &mut Reader) -> DestinationsConfig {
        DestinationsConfig {
            deliveries_queue_url: r.required("WEBHOOK_DELIVERIES_QUEUE_URL"),
            sync_queue_url: r.required("DESTINATION_SYNC_QUEUE_URL"),
            key_id: r.required("DESTINATIONS_KEY_ID"),
            retry_schedule: schedule(r, env::var("WEBHOOK_RETRY_SCHEDULE").ok()),
            timeout_seconds: r.count("WEBHOOK_TIMEOUT_SECONDS", 15),
            sweep_grace_seconds: r.count("WEBHOOK_SWEEP_GRACE_SECONDS", 120),
            smartemailing_base_url: env::var("SMARTEMAILING_BASE_URL")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| SMARTEMAILING_BASE_URL.into()),
            allow_local: false,
            no_outbound: false,
        }
    }

    /// The local stack's values: queues and key as provisioned, the production knobs, no allowance.
    pub fn local(deliveries_queue_url: String, sync_queue_url: String, key_id: String) -> DestinationsConfig {
        DestinationsConfig {
            deliveries_queue_url,
            sync_queue_url,
            key_id,
            retry_schedule: DEFAULT_SCHEDULE_SECONDS.to_vec(),
            timeout_seconds: 15,
            sweep_grace_seconds: 120,
            smartemailing_base_url: SMARTEMAILING_BASE_URL.into(),
            allow_local: false,
            no_outbound: false,
        }
    }

    /// The delivery policy these settings describe.
    pub fn policy(&self) -> DeliveryPolicy {
        DeliveryPolicy {
            schedule: self
                .retry_schedule
                .iter()
                .map(|s| chrono::Duration::seconds(*s))
                .collect(),
            timeout: std::time::Duration::from_secs(self.timeout_seconds),
            ..DeliveryPolicy::default()
        }
    }
}

fn schedule(r: &mut Reader, raw: Option<String>) -> Vec<i64> {
    let Some(raw) = raw.filter(|v| !v.trim().is_empty()) else {
        return DEFAULT_SCHEDULE_SECONDS.to_vec();
    };
    let parsed: Option<Vec<i64>> = raw
        .split(',')
        .map(|p| p.trim().parse::<i64>().ok().filter(|s| (0..=86_400).contains(s)))
        .collect();
    match parsed {
        Some(s) if !s.is_empty() && s.len() <= 20 => s,
        _ => {
            r.error.malformed.push((
                "WEBHOOK_RETRY_SCHEDULE".into(),
                format!("expected 1 to 20 comma-separated delays of 0 to 86400 seconds, got {raw:?}"),
            ));
            DEFAULT_SCHEDULE_SECONDS.to_vec()
        }
    }
}
