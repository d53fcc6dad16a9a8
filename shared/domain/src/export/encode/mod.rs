//! The streaming export encoder: header, rows and footer appended to a byte buffer, with no allocation
//! per row. Written by hand (rather than with the `csv` crate) to add formula neutralisation and the
//! JSON formats in the same pass; the tests check its output with the `csv` crate's reader and
//! `serde_json`.
//!
//! CSV: RFC 4180 (fields with `,` `"` CR or LF are quoted, quotes doubled, CRLF line ends), UTF-8 with an
//! optional byte order mark, ISO 8601 dates. A cell a spreadsheet would run as a formula (starting with
//! `=` `+` `-` `@`, TAB or CR) gets a leading `'` and is quoted, as OWASP recommends for CSV injection;
//! so that this stays reversible, a cell made of apostrophes followed by such a character gets one
//! more apostrophe too. [`unneutralise`] undoes it.

use super::ExportFormat;
use chrono::{Datelike, NaiveDate};
use std::io::Write as _;

/// The CSV header (seed 000: Order Number, Email, Signup Date).
pub const CSV_HEADER: &[u8] = b"Order Number,Email,Signup Date\r\n";
/// The UTF-8 byte order mark Excel looks for.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One exported row, borrowed from a member row or a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRow<'a> {
    /// The customer's id; in the JSON formats only (the CSV columns have none).
    pub id: &'a str,
    /// The Order Number column.
    pub order_number: Option<&'a str>,
    /// The Email column.
    pub email: Option<&'a str>,
    /// The Signup Date column, written `YYYY-MM-DD`.
    pub signup_date: Option<NaiveDate>,
}

/// Encodes rows of one export file in a format.
#[derive(Debug, Clone)]
pub struct Encoder {
    format: ExportFormat,
    bom: bool,
    rows: u64,
}

impl Encoder {
    /// `bom` applies to CSV only.
    pub fn new(format: ExportFormat, bom: bool) -> Self {
        Encoder {
            format,
            bom: bom && format == ExportFormat::Csv,
            rows: 0,
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends what precedes the rows: the optional BOM and the CSV header, or JSON's `[`.
    pub fn header(&mut self, out: &mut Vec<u8>) {
        match self.format {
            ExportFormat::Csv => {
                if self.bom {
                    out.extend_from_slice(UTF8_BOM);
                }
                out.extend_from_slice(CSV_HEADER);
            }
            ExportFormat::Json => out.push(b'['),
            ExportFormat::Jsonl => {}
        }
    }

    /// Appends one row: a CSV line, a JSON array element or a JSON Lines line.
    pub fn row(&mut self, row: &ExportRow<'_>, out: &mut Vec<u8>) {
        match self.format {
            ExportFormat::Csv => {
                csv_cell(row.order_number.unwrap_or(""), out);
                out.push(b',');
                csv_cell(row.email.unwrap_or(""), out);
                out.push(b',');
                match row.signup_date {
                    Some(d) if (0..=9999).contains(&d.year()) => write_iso_date(d, out),
                    // An expanded year may start with `-`: it goes through the cell rules.
                    Some(d) => csv_cell(&d.to_string(), out),
                    None => {}
                }
                out.extend_from_slice(b"\r\n");
            }
            ExportFormat::Json | ExportFormat::Jsonl => {
                json_framed(self.format, self.rows, out, |o| json_object(row, o))
            }
        }
        self.rows += 1;
    }

    /// Appends what follows the rows: JSON's closing `]`; nothing for CSV and JSON Lines.
    pub fn footer(&mut self, out: &mut Vec<u8>) {
        json_footer(self.format, self.rows, out);
    }
}

/// Writes `YYYY-MM-DD` (ISO 8601; years outside 0..=9999 in the expanded `+YYYYY` form).
pub fn write_iso_date(d: NaiveDate, out: &mut Vec<u8>) {
    let year = d.year();
    if !(0..=9999).contains(&year) {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{d}");
        return;
    }
    let (y, m, day) = (year as u32, d.month(), d.day());
    out.extend_from_slice(&[
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (day / 10) as u8,
        b'0' + (day % 10) as u8,
    ]);
}

/// First characters that make a spreadsheet evaluate a cell.
fn is_formula_trigger(b: u8) -> bool {
    matches!(b, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
}

/// Whether a cell gets a leading `'`: it starts with a trigger, or with apostrophes and then a trigger.
fn needs_neutralising(cell: &[u8]) -> bool {
    match cell.first() {
        Some(&b) if is_formula_trigger(b) => true,
        Some(b'\'') => cell
            .iter()
            .find(|&&b| b != b'\'')
            .is_some_and(|&b| is_formula_trigger(b)),
        _ => false,
    }
}

/// Undoes the neutralisation of one parsed CSV cell (for consumers and tests).
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_neutralising(rest.as_bytes()) => rest,
        _ => cell,
    }
}

/// Appends one CSV cell (RFC 4180 quoting, formulas neutralised): for other CSV files that follow the
/// export rules, such as an import's failure report.
pub fn write_csv_cell(cell: &str, out: &mut Vec<u8>) {
    csv_cell(cell, out)
}

fn csv_cell(cell: &str, out: &mut Vec<u8>) {
    let bytes = cell.as_bytes();
    let neutralise = needs_neutralising(bytes);
    if !neutralise && !bytes.iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    if neutralise {
        out.push(b'\'');
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' {
            out.extend_from_slice(&bytes[start..=i]);
            out.push(b'"');
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// For each byte: 0 if it is copied as is, else the letter after `\` (`u` for `\u00XX`).
static JSON_ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

fn json_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = JSON_ESCAPES[b as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn json_optional(value: Option<&str>, out: &mut Vec<u8>) {
    match value {
        Some(v) => json_string(v, out),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_object(row: &ExportRow<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    json_string(row.id, out);
    out.extend_from_slice(b",\"order_number\":");
    json_optional(row.order_number, out);
    out.extend_from_slice(b",\"email\":");
    json_optional(row.email, out);
    out.extend_from_slice(b",\"signup_date\":");
    match row.signup_date {
        Some(d) => {
            out.push(b'"');
            write_iso_date(d, out);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// Appends one JSON or JSON Lines row written by `write`: after a `,` and a newline in a JSON array
/// (`rows` written before it), or followed by a newline in JSON Lines.
pub(crate) fn json_framed(format: ExportFormat, rows: u64, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    if format == ExportFormat::Json {
        if rows > 0 {
            out.push(b',');
        }
        out.push(b'\n');
        write(out);
    } else {
        write(out);
        out.push(b'\n');
    }
}

/// Closes a JSON array of `rows` rows; nothing for the other formats.
pub(crate) fn json_footer(format: ExportFormat, rows: u64, out: &mut Vec<u8>) {
    if format == ExportFormat::Json {
        if rows > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(b"]\n");
    }
}

#[cfg(test)]
mod tests;
