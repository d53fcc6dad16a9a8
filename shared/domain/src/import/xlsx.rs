//! The XLSX side of the import readers: the zip-bomb check before calamine opens a workbook, and the
//! reader thread that streams one sheet's cells (calamine's cell reader) as rows into a bounded channel.

use super::file::{io, FileError, SourceRow, EXTRA_CELLS, MAX_XLSX_SHARED_STRINGS, MAX_XLSX_UNCOMPRESSED};
use super::row::Cell;
use super::MAX_COLUMNS;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Refuses a workbook whose entries declare more than the bounds (a zip bomb), or that is no zip.
pub(super) fn check_zip(path: &Path) -> Result<(), FileError> {
    let f = File::open(path).map_err(io)?;
    let mut zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|_| FileError("the file is not a readable XLSX workbook (it is not a complete zip archive); save it again from Excel as .xlsx".into()))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|_| FileError("the XLSX workbook is damaged (an entry cannot be read)".into()))?;
        total = total.saturating_add(entry.size());
        let strings = entry.name().eq_ignore_ascii_case("xl/sharedStrings.xml");
        if (strings && entry.size() > MAX_XLSX_SHARED_STRINGS) || total > MAX_XLSX_UNCOMPRESSED {
            return Err(FileError(format!(
                "the XLSX workbook expands to more than {} MiB (or its text table to more than {} MiB); split it or save it as CSV",
                MAX_XLSX_UNCOMPRESSED >> 20,
                MAX_XLSX_SHARED_STRINGS >> 20
            )));
        }
    }
    Ok(())
}

fn data_cell(d: &calamine::DataRef<'_>) -> Cell {
    use calamine::{DataRef, DataType as _};
    match d {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(_) | DataRef::DateTimeIso(_) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => Cell::Date(dt.date()),
            Some(dt) => Cell::DateTime(dt),
            None => d.as_date().map(Cell::Date).unwrap_or(Cell::Error("#DATE?".into())),
        },
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// The reader thread: cells in sheet order, grouped into rows and sent on (row numbers 1-based).
pub(super) fn xlsx_rows(
    workbook: &mut calamine::Xlsx<BufReader<File>>,
    sheet: &str,
    tx: &std::sync::mpsc::SyncSender<Result<SourceRow, FileError>>,
) {
    let mut cells = match workbook.worksheet_cells_reader(sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Err(FileError(format!("the worksheet {sheet:?} cannot be read: {e}"))));
            return;
        }
    };
    let mut current: Option<SourceRow> = None;
    let flush = |row: Option<SourceRow>| match row {
        Some(r) if r.cells.iter().any(|c| !c.is_blank()) => tx.send(Ok(r)).is_ok(),
        _ => true,
    };
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let _ = flush(current.take());
                let _ = tx.send(Err(FileError(format!("the worksheet {sheet:?} is damaged: {e}"))));
                return;
            }
        };
        let (r, c) = cell.get_position();
        let row = u64::from(r) + 1;
        if current.as_ref().is_none_or(|cur| cur.row != row)
            && !flush(current.replace(SourceRow {
                row,
                cells: Vec::new(),
                problem: None,
            }))
        {
            return;
        }
        let Some(cur) = current.as_mut() else { continue };
        let c = c as usize;
        if c >= MAX_COLUMNS + EXTRA_CELLS {
            if !cell.get_value().is_empty_value() && cur.problem.is_none() {
                cur.problem = Some((
                    "too_many_cells",
                    format!("the row has a value in column {} beyond the header", c + 1),
                ));
            }
            continue;
        }
        if cur.cells.len() <= c {
            cur.cells.resize(c + 1, Cell::Empty);
        }
        cur.cells[c] = data_cell(cell.get_value());
    }
    let _ = flush(current.take());
}

trait EmptyValue {
    fn is_empty_value(&self) -> bool;
}

impl EmptyValue for calamine::DataRef<'_> {
    fn is_empty_value(&self) -> bool {
        matches!(self, calamine::DataRef::Empty)
    }
}
