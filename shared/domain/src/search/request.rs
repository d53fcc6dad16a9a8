//! The bodies of `POST /customers/search` and `POST /customers/count` and their parsed forms.

use super::fields::FieldSelection;
use super::target::{target_body, Target, Targets};
use crate::error::{DomainError, Result};
use crate::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use serde::{Deserialize, Serialize};

/// The order of search results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// By customer id (byte order), across all partitions.
    #[default]
    Id,
    /// By creation time, then id.
    CreatedAt,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Smallest first (oldest first for `created_at`).
    #[default]
    Asc,
    /// Largest first (newest first for `created_at`).
    Desc,
}

target_body! {
    /// The body of `POST /customers/search`: a filter or saved filter (none: every customer), the
    /// columns, the order and the page.
    pub struct SearchRequest {
        /// Fields of each customer to return (`id` always); all fields when absent.
        #[serde(default)]
        pub fields: Option<Vec<String>>,
        /// `id` (default) or `created_at`.
        #[serde(default)]
        pub sort: Option<Sort>,
        /// `asc` (default) or `desc`.
        #[serde(default)]
        pub order: Option<Order>,
        /// Customers per page, 1 to 100 (default 25).
        #[serde(default)]
        pub limit: Option<u32>,
        /// The previous page's `next_cursor`.
        #[serde(default)]
        pub cursor: Option<String>,
    }
}

target_body! {
    /// The body of `POST /customers/count`: a filter or a saved filter (none: every customer).
    pub struct CountRequest {}
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchInput {
    /// What to match.
    pub target: Target,
    /// The columns.
    pub fields: FieldSelection,
    /// The order.
    pub sort: Sort,
    /// The direction.
    pub order: Order,
    /// Matches per page.
    pub limit: u32,
    /// Where the previous page stopped.
    pub cursor: Option<String>,
}

impl TryFrom<SearchRequest> for SearchInput {
    type Error = DomainError;

    fn try_from(r: SearchRequest) -> Result<Self> {
        let target = Target::parse(r.target_fields(), Targets::Filters)?;
        let limit = r.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(DomainError::validation(
                "limit",
                format!("limit must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        if r.cursor.as_ref().is_some_and(|c| c.is_empty() || c.len() > 2048) {
            return Err(DomainError::validation(
                "cursor",
                "cursor must be the next_cursor value of a previous page",
            ));
        }
        Ok(SearchInput {
            target,
            fields: FieldSelection::parse(r.fields)?,
            sort: r.sort.unwrap_or_default(),
            order: r.order.unwrap_or_default(),
            limit,
            cursor: r.cursor,
        })
    }
}

/// A parsed count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountInput {
    /// What to count.
    pub target: Target,
}

impl TryFrom<CountRequest> for CountInput {
    type Error = DomainError;

    fn try_from(r: CountRequest) -> Result<Self> {
        Ok(CountInput {
            target: Target::parse(r.target_fields(), Targets::Filters)?,
        })
    }
}
