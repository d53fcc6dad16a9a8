//! The local stack: the emulator's resources built from template.yaml, HS256 tokens standing in for
//! API Gateway's JWT authorizer, demo data, and the dev server that serves every route through the
//! same handlers the Lambdas use.

pub mod auth;
pub mod bulk_jobs;
pub mod demo;
pub mod destinations;
pub mod dev_server;
pub mod export_jobs;
pub mod provision;
pub mod template;
