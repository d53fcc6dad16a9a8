//! Use cases: what each API action and background job does, over the ports.

pub mod customers;
pub mod dynamic;
pub mod exports;
pub mod groups;
pub mod jobs;
