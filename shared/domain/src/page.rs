//! Cursor pagination shared by every list.

use crate::error::{DomainError, Result};
use serde::Serialize;

/// Items per page when the request gives no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// The largest `limit` a request may give.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Which page to read: a size and the opaque cursor of the previous page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Most items to return: 1 to [`MAX_PAGE_SIZE`] from a request, more from internal readers.
    pub limit: u32,
    /// The previous page's `next_cursor`, opaque to clients; `None` for the first page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Validates the raw `limit` and `cursor` query parameters.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self> {
        let limit = match limit {
            None => DEFAULT_PAGE_SIZE,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    DomainError::validation(
                        "limit",
                        format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}, got {raw:?}"),
                    )
                })?,
        };
        let cursor = match cursor {
            None => None,
            Some(c) if c.is_empty() || c.len() > 2048 => {
                return Err(DomainError::validation(
                    "cursor",
                    "cursor must be the next_cursor value of a previous page",
                ))
            }
            Some(c) => Some(c.to_owned()),
        };
        Ok(PageRequest { limit, cursor })
    }

    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        PageRequest { limit, cursor: None }
    }
}

/// One page of results and the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Page<T> {
    /// This page's items, in the list's order.
    pub items: Vec<T>,
    /// The `cursor` that reads the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Converts every item (e.g. stored item to API view), keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The error for a cursor that was not produced by this service for this list.
pub fn bad_cursor() -> DomainError {
    DomainError::Malformed("cursor is not valid for this list; start again without a cursor".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "abc", "", "1.5"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert!(PageRequest::parse(None, Some("")).is_err());
    }
}
