//! The one integration-test binary (the AWS SDK links once): a module per feature, all against the
//! emulator at `AWS_ENDPOINT_URL` through the real SDK clients, started by `infra/test.sh`.

mod balances;
mod balances_http;
mod bulk_actions;
mod concurrency;
mod console;
mod contract;
mod count_jobs;
mod deliver_failing;
mod destinations_input;
mod destinations_stack;
mod dispatch;
mod dynamic_e2e;
mod dynamic_props;
mod export_query;
mod exports;
mod http_e2e;
mod imports;
mod merge;
mod robustness;
mod runtime;
mod search;
mod smartemailing;
mod store;
mod timeline;
mod timing;
mod webhook_job_ends;
mod webhooks;
