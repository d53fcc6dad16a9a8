//! SmartEmailing API v3 (`https://app.smartemailing.cz/api/v3/`), as documented: `POST import` with
//! HTTP Basic (login name and API key), `settings` (`update`, `preserve_unsubscribed: true`,
//! `skip_invalid_emails: true`) and `data`, at most 500 contacts, each with `emailaddress`, `name`,
//! `surname` and `contactlists: [{id, status}]` (`confirmed` puts the contact on the list, `removed`
//! takes it off). Unsubscribed contacts stay unsubscribed (`preserve_unsubscribed`).

use base64::Engine as _;
use bytes::Bytes;
use cg_domain::destinations::integration::{Credentials, ListContact, Provider, ProviderError};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use std::time::Duration;

/// How long one import may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The SmartEmailing client (the base URL is configuration, not user input, so no address guard).
#[derive(Clone, Debug)]
pub struct SmartEmailing {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base_url: String,
}

#[derive(Serialize)]
struct Import<'a> {
    settings: Settings,
    data: Vec<Contact<'a>>,
}

#[derive(Serialize)]
struct Settings {
    update: bool,
    preserve_unsubscribed: bool,
    skip_invalid_emails: bool,
}

#[derive(Serialize)]
struct Contact<'a> {
    emailaddress: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    surname: Option<&'a str>,
    contactlists: [ListStatus; 1],
}

#[derive(Serialize)]
struct ListStatus {
    id: u64,
    status: &'static str,
}

/// The request body of one import (public for the tests of its shape).
pub fn import_body(list_id: u64, contacts: &[ListContact]) -> String {
    let body = Import {
        settings: Settings {
            update: true,
            preserve_unsubscribed: true,
            skip_invalid_emails: true,
        },
        data: contacts
            .iter()
            .map(|c| Contact {
                emailaddress: c.email.as_str(),
                name: c.first_name.as_deref(),
                surname: c.last_name.as_deref(),
                contactlists: [ListStatus {
                    id: list_id,
                    status: if c.on_list { "confirmed" } else { "removed" },
                }],
            })
            .collect(),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

impl SmartEmailing {
    /// A client for the API at `base_url` (ending in `/api/v3/`).
    pub fn new(base_url: &str) -> std::io::Result<SmartEmailing> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        let mut base_url = base_url.to_owned();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        Ok(SmartEmailing {
            client: Client::builder(TokioExecutor::new()).build(https),
            base_url,
        })
    }

    /// `POST import` of up to 500 contacts for one list.
    pub async fn import(
        &self,
        credentials: &Credentials,
        list_id: u64,
        contacts: &[ListContact],
    ) -> Result<(), ProviderError> {
        if contacts.is_empty() {
            return Ok(());
        }
        if contacts.len() > Provider::SmartEmailing.batch_limit() {
            return Err(ProviderError::Rejected(format!(
                "{} contacts in one import; SmartEmailing takes at most 500",
                contacts.len()
            )));
        }
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.username, credentials.api_key));
        let request = http::Request::post(format!("{}import", self.base_url))
            .header(http::header::AUTHORIZATION, format!("Basic {auth}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(import_body(list_id, contacts))))
            .map_err(|e| ProviderError::Rejected(format!("SmartEmailing URL {:?}: {e}", self.base_url)))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        let (status, body) = match tokio::time::timeout(TIMEOUT, exchange).await {
            Err(_) => {
                return Err(ProviderError::Unavailable(
                    "SmartEmailing did not answer in 30 s".into(),
                ))
            }
            Ok(Err(e)) => return Err(ProviderError::Unavailable(format!("SmartEmailing unreachable: {e}"))),
            Ok(Ok(answer)) => answer,
        };
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(ProviderError::Credentials(format!(
                "SmartEmailing refused the credentials ({status}): {message}"
            ))),
            429 | 500..=599 => Err(ProviderError::Unavailable(format!(
                "SmartEmailing answered {status}: {message}"
            ))),
            _ => Err(ProviderError::Rejected(format!(
                "SmartEmailing rejected the import ({status}): {message}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cg_domain::contact::Email;

    #[test]
    fn the_import_body_follows_the_documented_shape() {
        let on = ListContact::new(Email::parse("ana@example.com").unwrap(), Some("Ana Lima"), true);
        let off = ListContact::new(Email::parse("ben@example.com").unwrap(), None, false);
        let body: serde_json::Value = serde_json::from_str(&import_body(7, &[on, off])).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "settings": {"update": true, "preserve_unsubscribed": true, "skip_invalid_emails": true},
                "data": [
                    {"emailaddress": "ana@example.com", "name": "Ana", "surname": "Lima",
                     "contactlists": [{"id": 7, "status": "confirmed"}]},
                    {"emailaddress": "ben@example.com", "contactlists": [{"id": 7, "status": "removed"}]}
                ]
            })
        );
    }
}
