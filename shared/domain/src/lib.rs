//! Customer groups domain: the model, its validation rules, the ports the adapters implement and the
//! use cases the handlers call. Nothing here knows about AWS, HTTP or Lambda.

pub mod contact;
pub mod customer;
pub mod error;
pub mod export;
pub mod group;
pub mod ids;
pub mod jobs;
pub mod page;
pub mod patch;
pub mod ports;
pub mod usecases;

pub use error::{DomainError, Result};
