//! The export job: streams rows into the file. One page of rows at a time goes through the encoder
//! into a part buffer, and a full buffer becomes the next part of a multipart upload, so memory stays
//! at about one part whatever the row count. An export smaller than one part is a single PutObject. A
//! redelivered job message starts the file again from the first row: it aborts the uploads an earlier
//! run left open and writes the same object key, which the finished upload then replaces, so exactly
//! one complete file results.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::export::encode::{Encoder, ExportRow};
use crate::export::ports::{ExportSink, ExportSource, ExportStore, UploadedPart};
use crate::export::profile::{AttributeKeys, ProfileEncoder};
use crate::export::rows::{Row, Rows};
use crate::export::{
    Export, ExportColumns, ExportFormat, ExportJob, ExportObject, ExportScope, ExportStatus, PAGE_ROWS, PART_SIZE,
};
use crate::group::Member;
use crate::ids::{ExportId, PathId, TenantId};
use crate::page::PageRequest;
use crate::rules::Program;
use crate::search::CustomerQuery;
use chrono::{DateTime, Utc};

/// Room above the part size for the row that crosses it, so the buffer never reallocates.
const BUFFER_HEADROOM: usize = 64 * 1024;

/// A customer filter of the customer export: the compiled filter of the request.
pub type CustomerFilter = dyn Fn(&Customer) -> bool + Send + Sync;

/// Knobs of the export job: production uses the defaults; tests and the benchmark may change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSettings {
    /// Bytes per uploaded part (every part but the last); at least S3's 5 MiB minimum in production.
    pub part_size: usize,
    /// Rows per storage query.
    pub page_rows: u32,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            part_size: PART_SIZE,
            page_rows: PAGE_ROWS,
        }
    }
}

/// How a run of the export job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunOutcome {
    /// The file is complete and the record says done.
    #[default]
    Done,
    /// The record was already done or failed (a duplicate message): nothing to do.
    AlreadyFinished,
    /// Another delivery of the same job took the export over; that run finishes it.
    Superseded,
}

/// What one run of the export job did, for the worker's log and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportReport {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Rows written to the file.
    pub rows: u64,
    /// Bytes of the file written.
    pub bytes: u64,
    /// Storage queries (pages) read.
    pub pages: u64,
    /// Multipart parts uploaded (0 for a single PutObject).
    pub parts: u32,
    /// Unfinished uploads of an earlier run that this run aborted.
    pub stale_uploads_aborted: u32,
}

/// Runs one export job from the first row. `last_attempt` says this is the queue's final delivery: a
/// failure then marks the export failed (the message goes to the dead-letter queue), as does any
/// failure that a retry cannot fix.
pub async fn run_export<S, K>(
    store: &S,
    sink: &K,
    job: &ExportJob,
    settings: &ExportSettings,
    last_attempt: bool,
) -> Result<ExportReport>
where
    S: ExportStore + ExportSource,
    K: ExportSink,
{
    let Some(export) = store.get_export(&job.tenant, &job.export_id).await? else {
        return Err(ExportId::not_found(job.export_id.as_str()));
    };
    if matches!(export.status, ExportStatus::Done | ExportStatus::Failed) {
        return Ok(ExportReport {
            outcome: RunOutcome::AlreadyFinished,
            ..Default::default()
        });
    }
    let claimed_attempt = export.attempts + 1;
    let result = run_claimed(store, sink, &job.tenant, export, settings).await;
    if let Err(e) = &result {
        if !e.is_retryable() || last_attempt {
            mark_failed(store, &job.tenant, &job.export_id, claimed_attempt, e).await;
        }
    }
    result
}

/// The words a user sees for a failure; internal details stay in the logs.
fn failure_reason(e: &DomainError) -> String {
    match e {
        DomainError::NotFound(_) => "the group was deleted before the export finished".into(),
        DomainError::Unavailable(_) | DomainError::ConcurrentUpdate => {
            "the export failed repeatedly because a service was temporarily unavailable; start a new export".into()
        }
        _ => "the export failed because of an internal error; start a new export".into(),
    }
}

/// Marks the export failed unless a later run has taken it over or it finished meanwhile (best effort:
/// a failure here is logged, and the message's own failure is what the worker reports).
async fn mark_failed<S: ExportStore>(store: &S, tenant: &TenantId, id: &ExportId, attempt: u32, e: &DomainError) {
    let result = async {
        let Some(mut export) = store.get_export(tenant, id).await? else {
            return Ok(());
        };
        if export.attempts > attempt || export.status == ExportStatus::Done {
            return Ok(());
        }
        export.status = ExportStatus::Failed;
        export.failure_reason = Some(failure_reason(e));
        export.finished_at = Some(Utc::now());
        let fence = export.attempts;
        store.save_export(tenant, &export, fence).await.map(|_| ())
    }
    .await;
    if let Err(save) = result {
        tracing::warn!(tenant = %tenant, export = %id, error = ?save, "could not mark the export failed");
    }
}

async fn run_claimed<S, K>(
    store: &S,
    sink: &K,
    tenant: &TenantId,
    mut export: Export,
    settings: &ExportSettings,
) -> Result<ExportReport>
where
    S: ExportStore + ExportSource,
    K: ExportSink,
{
    let group = match (&export.scope, &export.group_id) {
        (ExportScope::Group, Some(g)) => Some(
            store
                .export_group(tenant, g)
                .await?
                .ok_or_else(|| DomainError::not_found(format!("no group with id {:?}", g.as_str())))?,
        ),
        (ExportScope::Group, None) => return Err(DomainError::Internal("group export without a group id".into())),
        (ExportScope::Customers, _) => None,
    };
    let obj = export.object(tenant);

    // Claim the export (the fencing token is `attempts`), then clear what an earlier run left behind.
    let expected = export.attempts;
    let stale_upload = export.upload_id.take();
    export.attempts += 1;
    export.status = ExportStatus::Running;
    export.started_at = Some(Utc::now());
    export.finished_at = None;
    export.failure_reason = None;
    export.rows_written = 0;
    export.bytes_written = 0;
    export.expected_rows = group.as_ref().map(|g| g.member_count);
    if !store.save_export(tenant, &export, expected).await? {
        return Ok(superseded());
    }
    let mut stale_aborted = 0;
    if let Some(upload) = stale_upload {
        sink.abort_upload(&obj, &upload).await?;
        stale_aborted += 1;
    }
    stale_aborted += sink.abort_unfinished_uploads(&obj).await?;

    // A filter is evaluated at the time the export was asked for, so every run writes the same rows.
    let program = match &export.filter {
        Some(f) => Some(CustomerQuery::from_json(f)?.program()),
        None => None,
    };
    let at = export.created_at;
    let keep = program.map(|p| move |c: &Customer| matches_at(&p, c, at));
    let keep = keep.as_ref().map(|k| k as &CustomerFilter);
    let mut keys = AttributeKeys::default();
    if export.columns == ExportColumns::Profile && export.format == ExportFormat::Csv {
        // The header names every attribute column, so the keys come from a first pass (reads only).
        collect_keys(store, tenant, settings, keep, &mut keys).await?;
    }
    let mut run = Run::new(store, sink, tenant, export, obj, settings, &keys);
    run.report.stale_uploads_aborted = stale_aborted;
    let streamed = match &group {
        Some(g) => run.stream_members(&g.id).await,
        None => run.stream_customers(keep).await,
    };
    match streamed {
        Ok(true) => run.finish().await,
        Ok(false) => {
            run.abort().await;
            Ok(superseded())
        }
        Err(e) => {
            run.abort().await;
            Err(e)
        }
    }
}

fn matches_at(program: &Program, c: &Customer, at: DateTime<Utc>) -> bool {
    let mut m = Vec::with_capacity(1);
    program.matches_into(c, at, &mut m);
    m.first().copied().unwrap_or(false)
}

/// The attribute keys of the customers `keep` accepts: a pass over the same pages the export writes.
async fn collect_keys<S: ExportSource>(
    store: &S,
    tenant: &TenantId,
    settings: &ExportSettings,
    keep: Option<&CustomerFilter>,
    keys: &mut AttributeKeys,
) -> Result<()> {
    let mut cursor = None;
    loop {
        let req = PageRequest {
            limit: settings.page_rows,
            cursor,
        };
        let page = store.customer_page(tenant, &req).await?;
        for c in page.items.iter().filter(|c| keep.is_none_or(|k| k(c))) {
            keys.add(c);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

fn superseded() -> ExportReport {
    ExportReport {
        outcome: RunOutcome::Superseded,
        ..Default::default()
    }
}

fn member_row(m: &Member) -> ExportRow<'_> {
    ExportRow {
        id: m.customer_id.as_str(),
        order_number: m.profile.order_number.as_deref(),
        email: m.profile.email.as_ref().map(|e| e.as_str()),
        signup_date: m.profile.signup_date,
    }
}

/// One run's state: the encoder, the part buffer and the upload it feeds.
struct Run<'a, S, K> {
    store: &'a S,
    sink: &'a K,
    tenant: &'a TenantId,
    export: Export,
    obj: ExportObject,
    settings: ExportSettings,
    encoder: Rows,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<UploadedPart>,
    uploaded_bytes: u64,
    report: ExportReport,
}

impl<'a, S, K> Run<'a, S, K>
where
    S: ExportStore + ExportSource,
    K: ExportSink,
{
    fn new(
        store: &'a S,
        sink: &'a K,
        tenant: &'a TenantId,
        export: Export,
        obj: ExportObject,
        settings: &ExportSettings,
        keys: &AttributeKeys,
    ) -> Self {
        let mut encoder = match export.columns {
            ExportColumns::Basic => Rows::Basic(Encoder::new(export.format, export.bom)),
            ExportColumns::Profile => Rows::Profile(ProfileEncoder::new(export.format, export.bom, keys)),
        };
        let mut buffer = Vec::with_capacity(settings.part_size + BUFFER_HEADROOM);
        encoder.header(&mut buffer);
        Run {
            store,
            sink,
            tenant,
            export,
            obj,
            settings: *settings,
            encoder,
            buffer,
            upload_id: None,
            parts: Vec::new(),
            uploaded_bytes: 0,
            report: ExportReport::default(),
        }
    }

    fn page(&self, cursor: Option<String>) -> PageRequest {
        PageRequest {
            limit: self.settings.page_rows,
            cursor,
        }
    }

    /// Encodes rows, uploading a part whenever the buffer is full; `false` if the run was superseded.
    async fn add_rows<'r>(&mut self, rows: impl Iterator<Item = Row<'r>> + Send) -> Result<bool> {
        for row in rows {
            self.encoder.row(row, &mut self.buffer);
            if self.buffer.len() >= self.settings.part_size && !self.upload_part().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn stream_members(&mut self, group: &crate::ids::GroupId) -> Result<bool> {
        let mut cursor = None;
        loop {
            let page = self.store.member_page(self.tenant, group, &self.page(cursor)).await?;
            self.report.pages += 1;
            if !self
                .add_rows(page.items.iter().map(|m| Row::Basic(member_row(m))))
                .await?
            {
                return Ok(false);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(true),
            }
        }
    }

    /// The tenant's customers, shard by shard, keeping those `keep` accepts (all when `None`).
    async fn stream_customers(&mut self, keep: Option<&CustomerFilter>) -> Result<bool> {
        let mut cursor = None;
        loop {
            let page = self.store.customer_page(self.tenant, &self.page(cursor)).await?;
            self.report.pages += 1;
            let rows = page
                .items
                .iter()
                .filter(|c| keep.is_none_or(|k| k(c)))
                .map(Row::Customer);
            if !self.add_rows(rows).await? {
                return Ok(false);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(true),
            }
        }
    }

    /// Uploads the buffer as the next part (starting the upload with the first) and records progress.
    async fn upload_part(&mut self) -> Result<bool> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let id = self.sink.start_upload(&self.obj).await?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let capacity = self.settings.part_size + BUFFER_HEADROOM;
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(capacity));
        let len = body.len() as u64;
        let number = self.parts.len() as u32 + 1;
        let part = self.sink.upload_part(&self.obj, &upload_id, number, body).await?;
        self.parts.push(part);
        self.uploaded_bytes += len;
        self.report.parts += 1;
        self.export.rows_written = self.encoder.rows();
        self.export.bytes_written = self.uploaded_bytes;
        self.export.upload_id = self.upload_id.clone();
        self.store
            .save_export(self.tenant, &self.export, self.export.attempts)
            .await
    }

    /// Writes the rest of the file and marks the export done.
    async fn finish(mut self) -> Result<ExportReport> {
        self.encoder.footer(&mut self.buffer);
        let body = std::mem::take(&mut self.buffer);
        let total = self.uploaded_bytes + body.len() as u64;
        match self.upload_id.clone() {
            None => self.sink.put_file(&self.obj, body).await?,
            Some(upload_id) => {
                if !body.is_empty() {
                    let number = self.parts.len() as u32 + 1;
                    let part = self.sink.upload_part(&self.obj, &upload_id, number, body).await?;
                    self.parts.push(part);
                    self.report.parts += 1;
                }
                self.sink.complete_upload(&self.obj, &upload_id, &self.parts).await?;
            }
        }
        self.export.status = ExportStatus::Done;
        self.export.rows_written = self.encoder.rows();
        self.export.bytes_written = total;
        self.export.upload_id = None;
        self.export.finished_at = Some(Utc::now());
        let fence = self.export.attempts;
        let outcome = if self.store.save_export(self.tenant, &self.export, fence).await? {
            RunOutcome::Done
        } else {
            RunOutcome::Superseded
        };
        Ok(ExportReport {
            outcome,
            rows: self.export.rows_written,
            bytes: total,
            ..self.report
        })
    }

    /// Best effort: aborts this run's upload so no parts linger (a retry or the bucket's lifecycle rule
    /// cleans up if this fails too).
    async fn abort(&self) {
        if let Some(upload_id) = &self.upload_id {
            if let Err(e) = self.sink.abort_upload(&self.obj, upload_id).await {
                tracing::warn!(export = %self.export.id, error = ?e, "could not abort the upload");
            }
        }
    }
}
