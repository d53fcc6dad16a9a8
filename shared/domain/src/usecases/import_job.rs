//! The import job, the first kind of bulk job (`bulk_job` holds the shared steps): one task does what
//! the record's status asks. `analysing`: read the uploaded file once (format, delimiter or sheet,
//! header, row count, sample, a suggested mapping) and mark the import ready, or failed with a reason
//! before any write. `running`: stream the file from the checkpoint through the batch engine
//! (`import_batch`), hand on before the time budget ends, and at the end write the failure report
//! and record the end.

use crate::bulk::ports::{BulkCommit, BulkFiles, BulkJobStore, BulkObject, BulkQueue};
use crate::bulk::{BulkJob, BulkKind, BulkStatus, BulkTask, Expect};
use crate::destinations::ports::Notifications;
use crate::error::{DomainError, Result};
use crate::ids::{BulkJobId, TenantId};
use crate::import::file::{csv_shape, sniff, CsvShape, FileError, RowSource};
use crate::import::mapping::{suggest, Mapping};
use crate::import::row::parse_row;
use crate::import::{Analysis, FileFormat, MAX_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, SAMPLE_ROWS};
use crate::ports::{Clock, MembershipPass, MembershipStore};
use crate::usecases::bulk_job::{
    claim, fail_unless_final, failure_reason, finish, hand_on, report_end, write_failure_report, Budget, BulkSettings,
    JobEnd, RunOutcome,
};
use crate::usecases::import_batch::{Engine, EngineReport, Flow, ParsedRow};
use crate::usecases::lookup::load_plan;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// What an import job needs.
pub trait ImportPorts:
    MembershipPass + MembershipStore + BulkJobStore + BulkCommit + BulkQueue + Clock + Notifications
{
}
impl<T: MembershipPass + MembershipStore + BulkJobStore + BulkCommit + BulkQueue + Clock + Notifications> ImportPorts
    for T
{
}

/// What one run of an import task did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// What the batch engine did.
    pub engine: EngineReport,
}

/// Runs one import task. `last_attempt`: the queue's final delivery, so a failure marks the import
/// failed (as does any failure a retry cannot fix).
pub async fn run_import_task<S: ImportPorts, F: BulkFiles>(
    store: &S,
    files: &F,
    task: &BulkTask,
    settings: &BulkSettings,
    last_attempt: bool,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let (t, id) = task.target();
    let result = run(store, files, task, t, id, settings, now).await;
    if let Err(e) = &result {
        if !e.is_retryable() || last_attempt {
            fail_unless_final(store, t, task, &failure_reason(e), now).await;
        }
    }
    result
}

async fn run<S: ImportPorts, F: BulkFiles>(
    store: &S,
    files: &F,
    task: &BulkTask,
    t: &TenantId,
    id: &BulkJobId,
    settings: &BulkSettings,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let done = |outcome| ImportReport {
        outcome,
        ..Default::default()
    };
    let Some(job) = store.get_bulk_job(t, BulkKind::Import, id).await? else {
        return Ok(done(RunOutcome::AlreadyFinished));
    };
    match job.status {
        BulkStatus::Analysing => {
            let Some(job) = claim(store, t, job, now).await? else {
                return Ok(done(RunOutcome::Superseded));
            };
            analyse(store, files, t, job, settings, now).await.map(done)
        }
        BulkStatus::Running => {
            let Some(job) = claim(store, t, job, now).await? else {
                return Ok(done(RunOutcome::Superseded));
            };
            apply_rows(store, files, task, t, job, settings, now).await
        }
        // A redelivery after the end was written: report it again (idempotent), in case the run that
        // wrote it died before its notification was recorded.
        BulkStatus::Done | BulkStatus::Failed => {
            report_end(store, t, &job).await?;
            Ok(done(RunOutcome::AlreadyFinished))
        }
        _ => Ok(done(RunOutcome::AlreadyFinished)),
    }
}

/// The downloaded file, removed when the run ends however it ends.
struct LocalFile(PathBuf);

impl Drop for LocalFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn download<F: BulkFiles>(
    files: &F,
    t: &TenantId,
    job: &BulkJob,
    settings: &BulkSettings,
) -> Result<(LocalFile, u64)> {
    let path = settings
        .work_dir
        .join(format!("cg-import-{}-{}", job.id, uuid::Uuid::new_v4().simple()));
    let local = LocalFile(path);
    let size = files
        .download_to(&BulkObject::Upload(t.clone(), job.id.clone()), &local.0)
        .await?;
    Ok((local, size))
}

/// An open file: its rows and what analysis needs to know of its shape.
struct Opened {
    source: RowSource,
    format: FileFormat,
    csv: Option<CsvShape>,
    sheet: Option<String>,
}

fn open(path: &std::path::Path, job: &BulkJob) -> std::result::Result<Opened, FileError> {
    let spec = job.import().map_err(|e| FileError(e.to_string()))?;
    let format = sniff(path)?;
    match (spec.format, format) {
        (Some(FileFormat::Xlsx), FileFormat::Csv) => {
            return Err(FileError("the file is not an XLSX workbook (it is not a zip archive); upload the .xlsx file, or create the import with format csv".into()))
        }
        (Some(FileFormat::Csv), FileFormat::Xlsx) => {
            return Err(FileError("the file is an XLSX workbook, not CSV; create the import with format xlsx or without a format".into()))
        }
        _ => {}
    }
    match format {
        FileFormat::Csv => {
            let shape = csv_shape(path)?;
            Ok(Opened {
                source: RowSource::csv(path, shape)?,
                format,
                csv: Some(shape),
                sheet: None,
            })
        }
        FileFormat::Xlsx => {
            let (source, sheet) = RowSource::xlsx(path, spec.sheet.as_deref())?;
            Ok(Opened {
                source,
                format,
                csv: None,
                sheet: Some(sheet),
            })
        }
    }
}

/// The header row's names: trailing blank cells dropped; a blank or repeated name fails the file.
fn header(source: &mut RowSource) -> std::result::Result<(u64, Vec<String>), FileError> {
    let first = match source.next_row(MAX_COLUMNS) {
        None => {
            return Err(FileError(
                "the file is empty; it needs a header row and at least one data row".into(),
            ))
        }
        Some(r) => r?,
    };
    if let Some((_, why)) = first.problem {
        return Err(FileError(format!("the header row cannot be read: {why}")));
    }
    let mut names: Vec<String> = first.cells.iter().map(|c| c.text().trim().to_owned()).collect();
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    if names.len() > MAX_COLUMNS {
        return Err(FileError(format!("the file has more than {MAX_COLUMNS} columns")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            return Err(FileError(format!(
                "column {} of the header row has no name; every column needs a unique name",
                i + 1
            )));
        }
        if !seen.insert(n.to_lowercase()) {
            return Err(FileError(format!(
                "the header row names the column {n:?} twice; every column needs a unique name"
            )));
        }
    }
    Ok((first.row, names))
}

async fn analyse<S: ImportPorts, F: BulkFiles>(
    store: &S,
    files: &F,
    t: &TenantId,
    mut job: BulkJob,
    settings: &BulkSettings,
    now: DateTime<Utc>,
) -> Result<RunOutcome> {
    let expect = Expect::of(&job);
    let fail = |mut job: BulkJob, why: String| async move {
        finish(store, t, &mut job, expect, JobEnd::Failed(why), now).await?;
        Ok(RunOutcome::Finished)
    };
    let size = files
        .object_size(&BulkObject::Upload(t.clone(), job.id.clone()))
        .await?;
    match size {
        None => return fail(job, "the file was not uploaded".into()).await,
        Some(n) if n > MAX_FILE_BYTES => {
            let why = format!(
                "the file is {} MiB; an import reads at most {} MiB",
                n >> 20,
                MAX_FILE_BYTES >> 20
            );
            return fail(job, why).await;
        }
        Some(0) => {
            return fail(
                job,
                "the file is empty; it needs a header row and at least one data row".into(),
            )
            .await
        }
        _ => {}
    }
    let (local, size) = download(files, t, &job, settings).await?;
    let analysis = match read_analysis(&local.0, &job) {
        Ok(a) => a,
        Err(FileError(why)) => return fail(job, why).await,
    };
    job.rows_total = Some(analysis.rows);
    let spec = job.import_mut()?;
    spec.size_bytes = Some(size);
    spec.format = Some(analysis.format);
    spec.analysis = Some(analysis);
    job.status = BulkStatus::Ready;
    Ok(if store.save_bulk_job(t, &job, expect).await? {
        RunOutcome::Analysed
    } else {
        RunOutcome::Superseded
    })
}

fn read_analysis(path: &std::path::Path, job: &BulkJob) -> std::result::Result<Analysis, FileError> {
    let mut opened = open(path, job)?;
    let (_, names) = header(&mut opened.source)?;
    let mut rows = 0u64;
    let mut sample = Vec::new();
    while let Some(row) = opened.source.next_row(names.len()) {
        let row = row?;
        rows += 1;
        if rows > MAX_ROWS {
            return Err(FileError(format!(
                "the file has more than {MAX_ROWS} data rows; split it into files of at most {MAX_ROWS}"
            )));
        }
        if sample.len() < SAMPLE_ROWS {
            sample.push(row.cells.iter().take(names.len()).map(|c| c.text()).collect());
        }
    }
    if rows == 0 {
        return Err(FileError("the file has a header row but no data rows".into()));
    }
    Ok(Analysis {
        format: opened.format,
        delimiter: opened.csv.map(|s| (s.delimiter as char).to_string()),
        sheet: opened.sheet,
        suggested_mapping: suggest(&names),
        header: names,
        rows,
        sample,
    })
}

async fn apply_rows<S: ImportPorts, F: BulkFiles>(
    store: &S,
    files: &F,
    task: &BulkTask,
    t: &TenantId,
    job: BulkJob,
    settings: &BulkSettings,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let budget = Budget::start(settings.time_budget);
    let expect = Expect::of(&job);
    let spec = job.import()?.clone();
    let (Some(analysis), Some(request)) = (spec.analysis.as_ref(), spec.mapping.as_ref()) else {
        return Err(DomainError::Internal(
            "a running import without analysis or mapping".into(),
        ));
    };
    let mapping = Mapping::parse(request, &analysis.header)?;
    for g in &mapping.add.groups {
        if store.get_group(t, g).await?.is_none() {
            let why = format!("the static group {g} was deleted before the import could add customers to it");
            let mut job = job;
            finish(store, t, &mut job, expect, JobEnd::Failed(why), now).await?;
            return Ok(ImportReport {
                outcome: RunOutcome::Finished,
                ..Default::default()
            });
        }
    }
    let (_, plan) = load_plan(store, t).await?;
    let (local, size) = download(files, t, &job, settings).await?;
    if spec.size_bytes.is_some_and(|s| s != size) {
        let why = "the file changed after it was analysed; create a new import for the new file".to_owned();
        let mut job = job;
        finish(store, t, &mut job, expect, JobEnd::Failed(why), now).await?;
        return Ok(ImportReport {
            outcome: RunOutcome::Finished,
            ..Default::default()
        });
    }
    let mut engine = Engine::new(store, t, &mapping, job, plan, settings, budget, now);
    engine.resume_pending().await?;
    let mut opened = open(&local.0, &engine.job).map_err(|FileError(why)| DomainError::validation("file", why))?;
    let (header_row, names) =
        header(&mut opened.source).map_err(|FileError(why)| DomainError::validation("file", why))?;
    let start = engine.job.checkpoint.next_row.max(header_row + 1);
    let width = names.len();
    let mut flow = Flow::Continue;
    while let Some(row) = opened.source.next_row(width) {
        let row = row.map_err(|FileError(why)| DomainError::validation("file", why))?;
        if row.row < start {
            continue;
        }
        let cells: Vec<String> = row.cells.iter().take(width + 1).map(|c| c.text()).collect();
        let values = match row.problem {
            Some((code, why)) => Err(crate::import::row::RowFailure::new(code, why)),
            None => parse_row(&mapping, &row.cells),
        };
        flow = engine
            .push(ParsedRow {
                row: row.row,
                cells,
                values,
            })
            .await?;
        if flow != Flow::Continue {
            break;
        }
    }
    if flow == Flow::Continue {
        flow = engine.finish().await?;
    }
    let report = engine.report;
    let with = |outcome| ImportReport {
        outcome,
        engine: report,
    };
    match flow {
        Flow::Fenced => Ok(with(RunOutcome::Superseded)),
        Flow::HandOn => hand_on(store, task).await.map(with),
        Flow::Continue => {
            let mut job = engine.job;
            if job.counts.failed > 0 {
                write_failure_report(store, files, t, &job, &names).await?;
            }
            let expect = Expect::of(&job);
            // `now` is the run's evaluation instant; the end is stamped when it happens.
            if finish(store, t, &mut job, expect, JobEnd::Done, store.now()).await? {
                Ok(with(RunOutcome::Finished))
            } else {
                Ok(with(RunOutcome::Superseded))
            }
        }
    }
}
