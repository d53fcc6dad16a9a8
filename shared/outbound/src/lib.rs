//! Outbound HTTP (issue 16): the webhook client, which signs each attempt per Standard Webhooks,
//! connects only to public addresses and never follows redirects, and the email providers' clients
//! (SmartEmailing API v3), each behind the domain's ports.

#![warn(missing_docs)]

pub mod guard;
pub mod signature;
pub mod smartemailing;
pub mod webhook_client;

use cg_domain::destinations::integration::{Credentials, ListContact, Provider, ProviderError};
use cg_domain::destinations::ports::ContactListProvider;

/// Every email provider's client; `sync_contacts` picks the adapter of the integration's provider.
#[derive(Clone, Debug)]
pub struct Providers {
    /// SmartEmailing API v3.
    pub smartemailing: smartemailing::SmartEmailing,
}

impl ContactListProvider for Providers {
    async fn sync_contacts(
        &self,
        provider: Provider,
        credentials: &Credentials,
        list_id: u64,
        contacts: &[ListContact],
    ) -> Result<(), ProviderError> {
        match provider {
            Provider::SmartEmailing => self.smartemailing.import(credentials, list_id, contacts).await,
        }
    }
}

/// Where providers are called with `no_outbound`: the discard port of the loopback address.
const UNREACHABLE: &str = "http://127.0.0.1:9/api/v3/";

/// The outbound clients a function needs, built once at cold start.
#[derive(Clone, Debug)]
pub struct Outbound {
    /// Webhook deliveries.
    pub webhooks: webhook_client::WebhookClient,
    /// Email providers.
    pub providers: Providers,
}

impl Outbound {
    /// The clients: `allow_local` is the local stack's allowance (http, loopback and private
    /// receivers); `no_outbound` keeps every request on the machine (webhooks to loopback addresses and
    /// `localhost` only, without a DNS query; providers at an unreachable local port); `smartemailing_base_url` where the
    /// SmartEmailing API is.
    pub fn new(allow_local: bool, no_outbound: bool, smartemailing_base_url: &str) -> std::io::Result<Outbound> {
        let reach = match (allow_local, no_outbound) {
            (_, true) => guard::Reach::LocalOnly,
            (true, false) => guard::Reach::Any,
            (false, false) => guard::Reach::Public,
        };
        let provider_url = if no_outbound {
            UNREACHABLE
        } else {
            smartemailing_base_url
        };
        Ok(Outbound {
            webhooks: webhook_client::WebhookClient::new(reach)?,
            providers: Providers {
                smartemailing: smartemailing::SmartEmailing::new(provider_url)?,
            },
        })
    }
}
