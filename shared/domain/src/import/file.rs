//! Reading an import file from local disk, row by row with bounded memory: CSV with the `csv` crate
//! (UTF-8 with or without BOM, delimiter `,` `;` or TAB detected, RFC 4180 quoting; a row that is not
//! UTF-8 is a failed row, not a failed file), XLSX with calamine's cell reader (one sheet, cells
//! streamed from its XML; only the shared-strings table is held whole). Before calamine opens a
//! workbook its zip entries' declared uncompressed sizes are checked, so a zip bomb is refused
//! before anything is inflated.

use super::row::Cell;
use super::FileFormat;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The most an XLSX file's entries may expand to in all.
pub const MAX_XLSX_UNCOMPRESSED: u64 = 1024 * 1024 * 1024;
/// The most its shared-strings table may expand to (calamine holds that table in memory).
pub const MAX_XLSX_SHARED_STRINGS: u64 = 48 * 1024 * 1024;
/// Cells of one row kept beyond the header (more are noted, not stored).
pub(super) const EXTRA_CELLS: usize = 1;
/// Rows the XLSX reader thread runs ahead of the consumer.
const XLSX_CHANNEL_ROWS: usize = 256;

/// One row of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    /// The row number: the CSV line the record starts on, or the XLSX sheet row (1-based).
    pub row: u64,
    /// The cells, at most the header's width plus one.
    pub cells: Vec<Cell>,
    /// A problem that fails the row before mapping (`invalid_utf8`, `too_many_cells`).
    pub problem: Option<(&'static str, String)>,
}

/// Why a file cannot be read at all; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub String);

/// The detected CSV delimiter and where the data starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvShape {
    /// `,`, `;` or TAB.
    pub delimiter: u8,
    /// Whether the file starts with a UTF-8 byte order mark.
    pub bom: bool,
}

/// A source of rows, in file order.
pub enum RowSource {
    /// CSV records, and the line counter that numbers them.
    Csv(Box<csv::Reader<BufReader<File>>>, csv::ByteRecord, LineCounter),
    /// Rows from the XLSX reader thread.
    Xlsx(std::sync::mpsc::Receiver<Result<SourceRow, FileError>>),
}

/// The format of a file by its first bytes: a zip (`PK\x03\x04`) is XLSX, anything else is read as CSV.
pub fn sniff(path: &Path) -> Result<FileFormat, FileError> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).map_err(io)?;
    let n = read_up_to(&mut f, &mut head).map_err(io)?;
    Ok(if n == 4 && head == *b"PK\x03\x04" {
        FileFormat::Xlsx
    } else {
        FileFormat::Csv
    })
}

pub(super) fn io(e: std::io::Error) -> FileError {
    FileError(format!("the file could not be read: {e}"))
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Looks at the start of a CSV file: refuses binary content, detects the BOM and the delimiter (the
/// one of `,` `;` TAB that occurs most often in the first line outside quotes; `,` on a tie).
pub fn csv_shape(path: &Path) -> Result<CsvShape, FileError> {
    let mut f = File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut f, &mut buf).map_err(io)?;
    buf.truncate(n);
    if buf.is_empty() {
        return Err(FileError("the file is empty".into()));
    }
    let bom = buf.starts_with(b"\xEF\xBB\xBF");
    let text = if bom { &buf[3..] } else { &buf[..] };
    let binary = text.contains(&0) || text.iter().filter(|b| **b < 0x09 || (**b > 0x0D && **b < 0x20)).count() > 8;
    // The first line is the header: it must be text (a cut at the end of the 64 KiB sample is fine).
    let first_line_end = text.iter().position(|b| *b == b'\n').unwrap_or(text.len());
    let header_text = std::str::from_utf8(&text[..first_line_end]);
    let header_ok = match header_text {
        Ok(_) => true,
        Err(e) => first_line_end == text.len() && e.error_len().is_none(),
    };
    if binary || !header_ok {
        return Err(FileError(
            "the file is not CSV text (it holds binary data or its header row is not UTF-8); export the sheet as CSV UTF-8 or upload the .xlsx file".into(),
        ));
    }
    let (mut counts, mut quoted) = ([0usize; 3], false);
    for &b in &text[..first_line_end] {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    Ok(CsvShape {
        delimiter: [b',', b';', b'\t'][best],
        bom,
    })
}

impl RowSource {
    /// Opens a CSV file of the given shape.
    pub fn csv(path: &Path, shape: CsvShape) -> Result<RowSource, FileError> {
        let mut f = File::open(path).map_err(io)?;
        f.seek(SeekFrom::Start(if shape.bom { 3 } else { 0 })).map_err(io)?;
        let reader = csv::ReaderBuilder::new()
            .delimiter(shape.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(BufReader::with_capacity(256 * 1024, f));
        let lines = LineCounter::new(path, if shape.bom { 3 } else { 0 })?;
        Ok(RowSource::Csv(Box::new(reader), csv::ByteRecord::new(), lines))
    }

    /// Opens the named (or first) worksheet of an XLSX file after checking its entries' sizes; a
    /// reader thread streams its rows (it stops when the source is dropped).
    pub fn xlsx(path: &Path, sheet: Option<&str>) -> Result<(RowSource, String), FileError> {
        super::xlsx::check_zip(path)?;
        let mut workbook: calamine::Xlsx<BufReader<File>> = calamine::open_workbook(path).map_err(|e| {
            FileError(format!(
                "the file is not a readable XLSX workbook ({e}); save it again from Excel as .xlsx"
            ))
        })?;
        let names = calamine::Reader::sheet_names(&workbook);
        let name = match sheet {
            Some(s) => names.iter().find(|n| n.as_str() == s).cloned().ok_or_else(|| {
                FileError(format!(
                    "the workbook has no sheet named {s:?}; its sheets are {}",
                    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ))
            })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| FileError("the workbook has no worksheet".into()))?,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(XLSX_CHANNEL_ROWS);
        let sheet_name = name.clone();
        std::thread::spawn(move || super::xlsx::xlsx_rows(&mut workbook, &sheet_name, &tx));
        Ok((RowSource::Xlsx(rx), name))
    }

    /// The next row with content (blank rows are skipped), `None` at the end.
    pub fn next_row(&mut self, width: usize) -> Option<Result<SourceRow, FileError>> {
        match self {
            RowSource::Csv(reader, record, lines) => loop {
                match reader.read_byte_record(record) {
                    Ok(false) => return None,
                    Err(e) => {
                        return Some(Err(FileError(format!(
                            "the CSV file could not be read past line {}: {e}",
                            e.position().map_or(0, |p| p.line())
                        ))))
                    }
                    Ok(true) => {
                        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                            continue;
                        }
                        let start = record.position().map_or(0, |p| p.byte());
                        let row = match lines.line_of(start) {
                            Ok(r) => r,
                            Err(e) => return Some(Err(io(e))),
                        };
                        return Some(Ok(csv_row(row, record, width)));
                    }
                }
            },
            RowSource::Xlsx(rx) => rx.recv().ok().map(|r| {
                r.map(|mut row| {
                    if row.cells.len() > width {
                        if row.problem.is_none() && row.cells[width..].iter().any(|c| !c.is_blank()) {
                            row.problem = Some((
                                "too_many_cells",
                                format!("the row has values beyond the header's {width} columns"),
                            ));
                        }
                        row.cells.truncate(width + EXTRA_CELLS);
                    }
                    row
                })
            }),
        }
    }
}

/// Numbers CSV records by the text line they start on. The `csv` crate's own positions do not
/// count CRLF line ends and skipped blank lines the way an editor does, so this reads the same file
/// forward once more (sequentially, a buffer at a time) and counts line feeds up to each record's
/// first byte.
pub struct LineCounter {
    file: BufReader<File>,
    /// Bytes of the file consumed (after the BOM).
    at: u64,
    /// Line feeds seen so far.
    feeds: u64,
}

impl LineCounter {
    fn new(path: &Path, offset: u64) -> Result<LineCounter, FileError> {
        let mut f = File::open(path).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(LineCounter {
            file: BufReader::with_capacity(64 * 1024, f),
            at: 0,
            feeds: 0,
        })
    }

    /// The 1-based line of the record the reader reports at `start` (which may point at the line
    /// ends before it: they are skipped, counted, to the record's first byte).
    fn line_of(&mut self, start: u64) -> std::io::Result<u64> {
        use std::io::BufRead as _;
        loop {
            let buf = self.file.fill_buf()?;
            if buf.is_empty() {
                return Ok(self.feeds + 1);
            }
            let mut used = 0;
            let mut found = false;
            for &b in buf {
                if self.at >= start && b != b'\n' && b != b'\r' {
                    found = true;
                    break;
                }
                if b == b'\n' {
                    self.feeds += 1;
                }
                self.at += 1;
                used += 1;
            }
            self.file.consume(used);
            if found {
                return Ok(self.feeds + 1);
            }
        }
    }
}

fn csv_row(row: u64, record: &csv::ByteRecord, width: usize) -> SourceRow {
    let mut problem = None;
    let mut cells = Vec::with_capacity(record.len().min(width + EXTRA_CELLS));
    for (i, field) in record.iter().enumerate() {
        if i >= width + EXTRA_CELLS {
            break;
        }
        match std::str::from_utf8(field) {
            Ok("") => cells.push(Cell::Empty),
            Ok(t) => cells.push(Cell::Text(t.to_owned())),
            Err(_) => {
                problem.get_or_insert((
                    "invalid_utf8",
                    format!("cell {} is not UTF-8 text; save the file as CSV UTF-8", i + 1),
                ));
                cells.push(Cell::Text(String::from_utf8_lossy(field).into_owned()));
            }
        }
    }
    if record.len() > width && record.iter().skip(width).any(|f| !f.is_empty()) && problem.is_none() {
        problem = Some((
            "too_many_cells",
            format!(
                "the row has {} cells but the header only {width}; quote cells that contain the delimiter",
                record.len()
            ),
        ));
    }
    SourceRow { row, cells, problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = (u64, Vec<String>, Option<&'static str>);

    fn rows_of(bytes: &[u8]) -> (CsvShape, Vec<Read>) {
        let path = std::env::temp_dir().join(format!("cg-file-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, bytes).unwrap();
        let shape = csv_shape(&path).unwrap();
        let mut src = RowSource::csv(&path, shape).unwrap();
        let mut out = Vec::new();
        while let Some(r) = src.next_row(3) {
            let r = r.unwrap();
            out.push((r.row, r.cells.iter().map(Cell::text).collect(), r.problem.map(|p| p.0)));
        }
        std::fs::remove_file(&path).unwrap();
        (shape, out)
    }

    #[test]
    fn csv_rows_carry_the_line_an_editor_shows_through_crlf_blank_lines_and_quoted_line_breaks() {
        let (shape, rows) = rows_of(b"\xEF\xBB\xBFa;b;c\r\n1;\"x\r\ny\";3\r\n\r\n  \r\n4;5;6\r\n7;\xFF;9;10\r\n");
        assert_eq!((shape.delimiter, shape.bom), (b';', true));
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 2, 6, 7]);
        assert_eq!(rows[1].1, ["1", "x\r\ny", "3"]);
        assert_eq!(rows[3].2, Some("invalid_utf8"));
    }

    #[test]
    fn binary_and_empty_files_are_refused_and_tabs_are_detected() {
        assert!(csv_shape_of(b"").is_err());
        assert!(csv_shape_of(&[0u8, 1, 2, 3, 80, 75]).is_err());
        assert_eq!(csv_shape_of(b"a\tb,c\tc\n").unwrap().delimiter, b'\t');
        let (_, rows) = rows_of(b"a,b,c\n1,2,3,4\n");
        assert_eq!(rows[1].2, Some("too_many_cells"));
    }

    fn csv_shape_of(bytes: &[u8]) -> Result<CsvShape, FileError> {
        let path = std::env::temp_dir().join(format!("cg-file-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, bytes).unwrap();
        let shape = csv_shape(&path);
        std::fs::remove_file(&path).unwrap();
        shape
    }
}
