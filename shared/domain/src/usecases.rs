//! Use cases: what each API action and background job does, over the ports. Dependencies go one way,
//! down this list: `lookup` (read what the caller named) <- `membership` (the one pass that decides
//! and commits membership) <- `events`, `resync`, `wake`, `inspect`, `search` <- `customers`, `groups` <-
//! `balances`, `exports`, `export_job`, `jobs`, `filters`, `bulk_job` <- `balance_job`, `import_rows` <-
//! `import_batch` <- `import_job`, `imports`; `bulk_actions` (beside `filters`, on `search`) <-
//! `bulk_walk` (the target walk, batch packing) <- `bulk_action_job`. No module calls one above it.
//! Destinations (issue 16):
//! `notify` sits beside `lookup` (the job ends call it); `webhooks`, `integrations`, `dispatch`,
//! `deliver` and `provider_sync` are at the top and call only `lookup`-level reads. `timeline` (issue 15)
//! calls only `lookup`. `merge` (issue 15) calls `lookup` and `membership`.

pub mod balance_job;
pub mod balances;
pub mod bulk_action_job;
pub mod bulk_actions;
pub mod bulk_job;
mod bulk_walk;
pub mod count_job;
pub mod customers;
pub mod deliver;
pub mod dispatch;
pub mod events;
pub mod export_job;
pub mod exports;
pub mod filters;
pub mod groups;
pub mod import_batch;
pub mod import_job;
mod import_rows;
pub mod imports;
pub mod inspect;
pub mod integrations;
pub mod jobs;
pub mod lookup;
pub mod membership;
pub mod merge;
pub mod notify;
pub mod provider_sync;
pub mod resync;
pub mod search;
pub mod settings;
pub mod timeline;
pub mod wake;
pub mod webhooks;

#[cfg(test)]
mod tests;
