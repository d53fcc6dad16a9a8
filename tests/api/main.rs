//! The one integration-test binary (the AWS SDK links once): a module per feature, all against the
//! emulator at `AWS_ENDPOINT_URL` through the real SDK clients, started by `infra/test.sh`.

mod concurrency;
mod contract;
mod dynamic_e2e;
mod dynamic_props;
mod exports;
mod http_e2e;
mod imports;
mod runtime;
mod search;
mod store;
mod timing;
