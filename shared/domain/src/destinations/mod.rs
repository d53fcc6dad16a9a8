//! Destinations (issue 16): membership changes and job ends delivered as signed webhooks (Standard
//! Webhooks), and groups kept on an email provider's list (SmartEmailing API v3). Both read one change
//! stream: the history items each membership transaction writes, and notification items, picked up by
//! DynamoDB Streams. Nothing here knows about HTTP, KMS or DynamoDB.

pub mod address;
pub mod delivery;
pub mod event;
pub mod integration;
pub mod ports;
pub mod secret;
pub mod webhook;
