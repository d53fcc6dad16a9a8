//! Customer groups domain: the model, its validation rules, the ports the adapters implement and the
//! use cases the handlers call. Nothing here knows about AWS, HTTP or Lambda.

#![warn(missing_docs)]

pub mod activity;
pub mod balance;
pub mod bounds;
pub mod bulk;
pub mod contact;
pub mod customer;
pub mod destinations;
pub mod error;
pub mod events;
pub mod export;
pub mod group;
pub mod history;
pub mod ids;
pub mod import;
pub mod jobs;
pub mod lapse;
pub mod membership;
pub mod merge;
pub mod page;
pub mod patch;
pub mod ports;
#[allow(missing_docs)] // documented with the compiled engine (issue 18)
pub mod rules;
pub mod search;
pub mod settings;
pub mod timeline;
pub mod usecases;

pub use error::{DomainError, Result};
