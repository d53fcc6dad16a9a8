//! Destinations on DynamoDB (issue 16): endpoints, integrations and mappings in one partition per
//! tenant, the delivery log with its dispatch cursors, notifications, and the decoding of the change
//! stream's records.

mod deliveries;
pub mod feed;
mod integrations;
mod items;
mod webhooks;
