//! Bulk import of customers from CSV and XLSX files (seed 004, 2.1.2): the request that creates an
//! import, what analysis finds in the file, the mapping `start` takes, and the import's view. The file
//! readers are in `file`, row parsing in `row`, the mapping in `mapping`; the job that applies the rows
//! is `usecases::import_job` on the shared bulk-job machinery (`crate::bulk`).

pub mod file;
pub mod mapping;
pub mod row;
mod xlsx;

use crate::bulk::{BulkCounts, BulkJob, BulkStatus};
use crate::error::{DomainError, Result};
use crate::ids::BulkJobId;
pub use mapping::{ColumnMapping, ImportMode, MappingRequest, MatchKey};
use serde::{Deserialize, Serialize};

/// The most data rows one import may have (seed 004: "up to 200,000 pieces of data").
pub const MAX_ROWS: u64 = 200_000;
/// The largest file an import reads (100 MiB: 200,000 rows of 500 bytes of CSV fit with room).
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 200;
/// Rows of the file the analysis shows.
pub const SAMPLE_ROWS: usize = 5;
/// How long an upload link stays valid (seconds; 15 minutes).
pub const UPLOAD_LINK_SECS: u32 = 900;
/// How long a failure-report link stays valid (seconds; 15 minutes).
pub const REPORT_LINK_SECS: u32 = 900;

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// RFC 4180 text, UTF-8 with or without BOM, `,` `;` or TAB separated.
    Csv,
    /// An Excel workbook (Office Open XML).
    Xlsx,
}

/// The body of `POST /imports`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// The file's name as the user knows it (shown back; the report is named after it).
    pub file_name: String,
    /// The expected format; detected from the content when absent.
    #[serde(default)]
    pub format: Option<FileFormat>,
    /// The worksheet of an XLSX file to read; the first one when absent.
    #[serde(default)]
    pub sheet: Option<String>,
    /// A small CSV file sent inline as text (instead of the upload link).
    #[serde(default)]
    pub content: Option<String>,
    /// A small file (CSV or XLSX) sent inline, base64 encoded.
    #[serde(default)]
    pub content_base64: Option<String>,
}

/// A validated `POST /imports`: the spec of the new import and the inline file, if one was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRequest {
    /// What the import record keeps.
    pub spec: ImportSpec,
    /// The file's bytes when sent inline.
    pub inline: Option<Vec<u8>>,
}

impl TryFrom<NewImport> for ImportRequest {
    type Error = DomainError;

    fn try_from(n: NewImport) -> Result<Self> {
        let name = n.file_name.trim();
        if name.is_empty() || name.chars().count() > 256 || name.chars().any(char::is_control) {
            return Err(DomainError::validation(
                "file_name",
                "file_name must be 1 to 256 characters without control characters",
            ));
        }
        if let Some(s) = &n.sheet {
            if s.trim().is_empty() || s.chars().count() > 31 || s.chars().any(char::is_control) {
                return Err(DomainError::validation(
                    "sheet",
                    "sheet must be 1 to 31 characters (Excel's limit for sheet names)",
                ));
            }
            if n.format == Some(FileFormat::Csv) {
                return Err(DomainError::validation(
                    "sheet",
                    "a CSV file has no sheets; leave sheet out",
                ));
            }
        }
        let inline = match (n.content, n.content_base64) {
            (Some(_), Some(_)) => {
                return Err(DomainError::validation(
                    "content",
                    "give content (text) or content_base64, not both",
                ))
            }
            (Some(text), None) => Some(text.into_bytes()),
            (None, Some(b64)) => {
                use base64::Engine as _;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|_| DomainError::validation("content_base64", "content_base64 is not valid base64"))?,
                )
            }
            (None, None) => None,
        };
        if inline.as_ref().is_some_and(|b| b.is_empty()) {
            return Err(DomainError::validation("content", "the inline file is empty"));
        }
        Ok(ImportRequest {
            spec: ImportSpec {
                file_name: name.to_owned(),
                format: n.format,
                sheet: n.sheet.map(|s| s.trim().to_owned()),
                size_bytes: None,
                analysis: None,
                mapping: None,
            },
            inline,
        })
    }
}

/// What an import keeps besides the shared bulk-job fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSpec {
    /// The file's name as given.
    pub file_name: String,
    /// The format asked for (or, after analysis, the one detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// The worksheet asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The uploaded file's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// What analysis found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// The mapping `start` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingRequest>,
}

/// What analysis found in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The detected format.
    pub format: FileFormat,
    /// The detected CSV delimiter (`,`, `;` or a TAB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// The worksheet read (XLSX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The header row's column names.
    pub header: Vec<String>,
    /// Data rows (blank rows left out).
    pub rows: u64,
    /// The first rows as text.
    pub sample: Vec<Vec<String>>,
    /// A mapping guessed from the column names; post it to `start` as is or changed.
    pub suggested_mapping: MappingRequest,
}

/// An import as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportView {
    /// The import's id.
    pub id: BulkJobId,
    /// Where the import is in its life.
    pub status: BulkStatus,
    /// The file's name as given.
    pub file_name: String,
    /// The format asked for or detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// The worksheet asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The uploaded file's size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Data rows of the file, once analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_total: Option<u64>,
    /// Rows applied or reported so far.
    pub rows_done: u64,
    /// Share of the rows done, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// What became of the rows.
    pub counts: BulkCounts,
    /// What analysis found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// The mapping the import runs with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingRequest>,
    /// Runs of the job so far (a redelivered or handed-on message starts another).
    pub attempts: u32,
    /// When the import was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When its rows started to be applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Where to PUT the file (the answer of `POST /imports` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// When `upload_url` stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A link to the CSV of every failed row (done imports with failed rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_report_url: Option<String>,
    /// When `failure_report_url` stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_report_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&BulkJob> for ImportView {
    fn from(job: &BulkJob) -> Self {
        let spec = job.import();
        ImportView {
            id: job.id.clone(),
            status: job.status,
            file_name: spec.file_name.clone(),
            format: spec.analysis.as_ref().map(|a| a.format).or(spec.format),
            sheet: spec.sheet.clone(),
            size_bytes: spec.size_bytes,
            rows_total: job.rows_total,
            rows_done: job.rows_done(),
            progress: job.progress(),
            counts: job.counts,
            analysis: spec.analysis.clone(),
            mapping: spec.mapping.clone(),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            last_error: job.last_error.clone(),
            upload_url: None,
            upload_expires_at: None,
            failure_report_url: None,
            failure_report_expires_at: None,
        }
    }
}

/// The failure report's download name: `<file name without extension>-failed-rows.csv`.
pub fn report_file_name(file_name: &str) -> String {
    let stem = match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file_name,
    };
    format!("{stem}-failed-rows.csv")
}
