//! Exports: a group's members or the tenant's customers written to a CSV, JSON or JSON Lines file by a
//! background job. This module holds the request, the export record and its job message; `encode` is
//! the streaming encoder, `file_name` the download name rules and `ports` what the job needs from
//! storage.

pub mod encode;
pub mod file_name;
pub mod ports;
pub mod profile;
pub mod rows;

use crate::error::{DomainError, Result};
use crate::ids::{ExportId, FilterId, GroupId, TenantId};
use crate::search::target::target_body;
use chrono::{DateTime, Utc};
pub use profile::ExportColumns;
use serde::{Deserialize, Serialize};

/// How long a download link stays valid unless the request says otherwise (seconds).
pub const DEFAULT_URL_EXPIRY_SECS: u32 = 900;
/// The longest a download link may stay valid (seconds).
pub const MAX_URL_EXPIRY_SECS: u32 = 3600;
/// S3's smallest allowed part: every part of a multipart upload except the last must be this big.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// The part size of production exports: a buffer of this size is the only thing that grows with a row
/// count, and an export below it is a single PutObject.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Rows asked for per storage query; DynamoDB ends a Query page at 1 MB first (about 5,000 member
/// rows), so in practice every page is a full megabyte and a million members take about 200 Queries.
pub const PAGE_ROWS: u32 = 10_000;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// RFC 4180 CSV with the columns `Order Number,Email,Signup Date`.
    #[default]
    Csv,
    /// One JSON array of objects with `id`, `order_number`, `email`, `signup_date`.
    Json,
    /// JSON Lines: one such object per line.
    Jsonl,
}

impl ExportFormat {
    /// The file name's extension: `csv`, `json` or `jsonl`.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    /// The MIME type stored with the file and sent with its download.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

/// Where an export is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    /// Recorded; no worker has started it yet.
    Queued,
    /// A worker is writing the file (a redelivered job message restarts it).
    Running,
    /// The file is complete; each read of the export signs a new download link.
    Done,
    /// Given up; `failure_reason` says why.
    Failed,
}

/// What an export contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportScope {
    /// The members of one group.
    Group,
    /// The tenant's customers: all of them, or those a filter (given or saved) matches.
    Customers,
}

target_body! {
    /// The body of `POST /groups/{groupId}/exports` and `POST /customers/exports`. A customer export
    /// may name the customers with the target fields of `POST /customers/search` (a filter, or a saved
    /// filter by `filter_id`; none: every customer); a group export takes none of them.
    pub struct ExportRequest {
        /// The file format, which also sets the extension and the content type.
        pub format: ExportFormat,
        /// `basic` (default) or `profile` (every field, identities, tags and attributes; customer
        /// exports only).
        #[serde(default)]
        pub columns: ExportColumns,
        /// Starts a CSV file with a UTF-8 byte order mark, so Excel reads it as UTF-8.
        #[serde(default)]
        pub bom: bool,
        /// How long each download link stays valid, in seconds (1 to 3600).
        #[serde(default = "default_expiry")]
        pub url_expires_in: u32,
    }
}

fn default_expiry() -> u32 {
    DEFAULT_URL_EXPIRY_SECS
}

impl ExportRequest {
    /// Checks the rules serde cannot express.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_URL_EXPIRY_SECS).contains(&self.url_expires_in) {
            return Err(DomainError::validation(
                "url_expires_in",
                format!("url_expires_in must be 1 to {MAX_URL_EXPIRY_SECS} seconds"),
            ));
        }
        if self.bom && self.format != ExportFormat::Csv {
            return Err(DomainError::validation(
                "bom",
                "bom applies only to the csv format; leave it out or set it to false",
            ));
        }
        Ok(())
    }
}

/// An export record: what was asked for and how far the job got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    /// Time-ordered and unguessable; part of the file's object key.
    pub id: ExportId,
    /// A group's members or the tenant's customers.
    pub scope: ExportScope,
    /// The exported group (group scope only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<GroupId>,
    /// The file format asked for.
    pub format: ExportFormat,
    /// Whether the CSV file starts with a UTF-8 byte order mark.
    pub bom: bool,
    /// What each row holds.
    pub columns: ExportColumns,
    /// The filter of a customer export (`CustomerQuery::to_json`; a saved filter copied in when the
    /// export was requested); none: every customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
    /// The saved filter the export's filter came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_id: Option<FilterId>,
    /// How long each download link stays valid, in seconds, as requested.
    pub url_expires_in: u32,
    /// Where the export is in its life.
    pub status: ExportStatus,
    /// Rows encoded so far (all rows once done).
    pub rows_written: u64,
    /// Bytes of the file so far (its size once done).
    pub bytes_written: u64,
    /// The group's member count when the job started; the denominator of `progress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_rows: Option<u64>,
    /// The name the file downloads as, e.g. `VIP-2026-11-24.csv`.
    pub file_name: String,
    /// Why the export failed, in words for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// How many times a worker started this export (a redelivered job message starts it again).
    pub attempts: u32,
    /// When the export was requested.
    pub created_at: DateTime<Utc>,
    /// When the latest run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the export became done or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The multipart upload in progress, so a retry can abort exactly it. Internal.
    #[serde(skip)]
    pub upload_id: Option<String>,
}

impl Export {
    /// A new, queued export.
    pub fn queued(
        scope: ExportScope,
        group: Option<(&GroupId, &str)>,
        req: &ExportRequest,
        now: DateTime<Utc>,
    ) -> Self {
        let base = group.map(|(_, name)| name).unwrap_or("customers");
        Export {
            id: ExportId::generate(),
            scope,
            group_id: group.map(|(id, _)| id.clone()),
            format: req.format,
            bom: req.bom,
            columns: req.columns,
            filter: None,
            filter_id: None,
            url_expires_in: req.url_expires_in,
            status: ExportStatus::Queued,
            rows_written: 0,
            bytes_written: 0,
            expected_rows: None,
            file_name: file_name::file_name(base, now.date_naive(), req.format),
            failure_reason: None,
            attempts: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            upload_id: None,
        }
    }

    /// The share of rows written, 0 to 1: exact once done, estimated from the member count at the start
    /// while a group export runs (at most 0.99 until it is done), unknown for a running customer export.
    pub fn progress(&self) -> Option<f64> {
        match self.status {
            ExportStatus::Queued => Some(0.0),
            ExportStatus::Done => Some(1.0),
            ExportStatus::Running | ExportStatus::Failed => self.expected_rows.map(|expected| {
                if expected == 0 {
                    0.0
                } else {
                    let share = self.rows_written as f64 / expected as f64;
                    (share.min(0.99) * 1000.0).floor() / 1000.0
                }
            }),
        }
    }

    /// The link validity actually used: the requested one, never more than the maximum.
    pub fn link_lifetime_secs(&self) -> u32 {
        self.url_expires_in.clamp(1, MAX_URL_EXPIRY_SECS)
    }

    /// The stored file this export writes.
    pub fn object(&self, tenant: &TenantId) -> ExportObject {
        ExportObject {
            tenant: tenant.clone(),
            export_id: self.id.clone(),
            file_name: self.file_name.clone(),
            content_type: self.format.content_type(),
        }
    }
}

/// The file an export writes, as the storage adapter needs to address it (the adapter builds the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportObject {
    /// The owner; the object key starts with it.
    pub tenant: TenantId,
    /// The export; the object key's folder after the tenant.
    pub export_id: ExportId,
    /// The download name: its ASCII form ends the key, the full name goes in `Content-Disposition`.
    pub file_name: String,
    /// The format's MIME type, stored with the object.
    pub content_type: &'static str,
}

/// An export as the API returns it: the record, its progress and, once done, a fresh download link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportView {
    /// The record, flattened into the response.
    #[serde(flatten)]
    pub export: Export,
    /// The share of rows written, 0 to 1 (see [`Export::progress`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// A link signed for this response, once the export is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// When `download_url` stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_expires_at: Option<DateTime<Utc>>,
}

impl From<Export> for ExportView {
    fn from(export: Export) -> Self {
        ExportView {
            progress: export.progress(),
            export,
            download_url: None,
            download_expires_at: None,
        }
    }
}

/// The message on the export queue that starts (or, redelivered, restarts) an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportJob {
    /// The tenant the export belongs to.
    pub tenant: TenantId,
    /// The export record the job runs.
    pub export_id: ExportId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(format: ExportFormat, bom: bool, url_expires_in: u32) -> ExportRequest {
        ExportRequest {
            format,
            bom,
            url_expires_in,
            ..Default::default()
        }
    }

    #[test]
    fn link_expiry_is_one_second_to_one_hour_and_defaults_to_fifteen_minutes() {
        let req: ExportRequest = serde_json::from_str(r#"{"format":"csv"}"#).unwrap();
        assert_eq!((req.url_expires_in, req.bom), (900, false));
        assert!(request(ExportFormat::Csv, false, 3600).validate().is_ok());
        for bad in [0, 3601, u32::MAX] {
            assert!(request(ExportFormat::Csv, false, bad).validate().is_err(), "{bad}");
        }
        let mut e = Export::queued(
            ExportScope::Customers,
            None,
            &request(ExportFormat::Csv, false, 60),
            Utc::now(),
        );
        assert_eq!(e.link_lifetime_secs(), 60);
        // A record written before the cap (or by hand) still never yields a link longer than an hour.
        e.url_expires_in = 86_400;
        assert_eq!(e.link_lifetime_secs(), MAX_URL_EXPIRY_SECS);
    }

    #[test]
    fn bom_is_only_for_csv_and_unknown_fields_are_refused() {
        assert!(request(ExportFormat::Json, true, 900).validate().is_err());
        assert!(request(ExportFormat::Csv, true, 900).validate().is_ok());
        assert!(serde_json::from_str::<ExportRequest>(r#"{"format":"xlsx"}"#).is_err());
        assert!(serde_json::from_str::<ExportRequest>(r#"{"format":"csv","limit":1}"#).is_err());
    }

    #[test]
    fn progress_is_capped_until_done_and_unknown_without_a_count() {
        let mut e = Export::queued(
            ExportScope::Customers,
            None,
            &request(ExportFormat::Json, false, 900),
            Utc::now(),
        );
        assert_eq!(e.progress(), Some(0.0));
        e.status = ExportStatus::Running;
        e.rows_written = 10;
        assert_eq!(e.progress(), None);
        e.expected_rows = Some(8);
        assert_eq!(e.progress(), Some(0.99));
        e.expected_rows = Some(40);
        assert_eq!(e.progress(), Some(0.25));
        e.status = ExportStatus::Done;
        assert_eq!(e.progress(), Some(1.0));
    }

    #[test]
    fn group_exports_are_named_after_the_group_and_the_day() {
        let now = "2026-11-24T23:59:00Z".parse().unwrap();
        let g = GroupId::parse("g1").unwrap();
        let e = Export::queued(
            ExportScope::Group,
            Some((&g, "VIP")),
            &request(ExportFormat::Csv, false, 900),
            now,
        );
        assert_eq!(e.file_name, "VIP-2026-11-24.csv");
        let c = Export::queued(
            ExportScope::Customers,
            None,
            &request(ExportFormat::Jsonl, false, 900),
            now,
        );
        assert_eq!(c.file_name, "customers-2026-11-24.jsonl");
        assert_ne!(e.id, c.id);
    }
}
