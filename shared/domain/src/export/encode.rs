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
    pub id: &'a str,
    pub order_number: Option<&'a str>,
    pub email: Option<&'a str>,
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
            ExportFormat::Json => {
                if self.rows > 0 {
                    out.push(b',');
                }
                out.push(b'\n');
                json_object(row, out);
            }
            ExportFormat::Jsonl => {
                json_object(row, out);
                out.push(b'\n');
            }
        }
        self.rows += 1;
    }

    pub fn footer(&mut self, out: &mut Vec<u8>) {
        if self.format == ExportFormat::Json {
            if self.rows > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(b"]\n");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: ExportFormat, bom: bool, rows: &[ExportRow<'_>]) -> Vec<u8> {
        let mut enc = Encoder::new(format, bom);
        let mut out = Vec::new();
        enc.header(&mut out);
        for r in rows {
            enc.row(r, &mut out);
        }
        enc.footer(&mut out);
        out
    }

    fn row<'a>(
        id: &'a str,
        order: Option<&'a str>,
        email: Option<&'a str>,
        day: Option<(i32, u32, u32)>,
    ) -> ExportRow<'a> {
        ExportRow {
            id,
            order_number: order,
            email,
            signup_date: day.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        }
    }

    #[test]
    fn csv_has_the_seed_columns_crlf_quoting_and_iso_dates() {
        let rows = [
            row("c1", Some("A-1"), Some("a@x.com"), Some((2026, 3, 1))),
            row("c2", Some("B, \"big\"\nline"), None, None),
        ];
        let out = encode(ExportFormat::Csv, false, &rows);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Order Number,Email,Signup Date\r\nA-1,a@x.com,2026-03-01\r\n\"B, \"\"big\"\"\nline\",,\r\n"
        );
    }

    #[test]
    fn csv_neutralises_formulas_and_can_start_with_a_bom() {
        let rows = [
            row("c1", Some("=HYPERLINK(\"x\")"), Some("-1@x.com"), None),
            row("c2", Some("'=kept"), Some("'plain"), None),
            row("c3", Some("\tx"), Some("@a"), None),
        ];
        let out = encode(ExportFormat::Csv, true, &rows);
        assert!(out.starts_with(UTF8_BOM));
        let text = String::from_utf8(out[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "Order Number,Email,Signup Date\r\n\
             \"'=HYPERLINK(\"\"x\"\")\",\"'-1@x.com\",\r\n\
             \"''=kept\",'plain,\r\n\
             \"'\tx\",\"'@a\",\r\n"
        );
        assert_eq!(unneutralise("''=kept"), "'=kept");
        assert_eq!(unneutralise("'plain"), "'plain");
        assert_eq!(unneutralise("'=x"), "=x");
    }

    #[test]
    fn json_is_an_array_with_nulls_and_escapes_and_jsonl_one_object_a_line() {
        let rows = [
            row("c1", Some("q\"\\\u{1}"), None, Some((2026, 1, 2))),
            row("c2", None, Some("b@x.com"), None),
        ];
        let out = String::from_utf8(encode(ExportFormat::Json, false, &rows)).unwrap();
        assert_eq!(
            out,
            "[\n{\"id\":\"c1\",\"order_number\":\"q\\\"\\\\\\u0001\",\"email\":null,\"signup_date\":\"2026-01-02\"},\n\
             {\"id\":\"c2\",\"order_number\":null,\"email\":\"b@x.com\",\"signup_date\":null}\n]\n"
        );
        assert_eq!(
            String::from_utf8(encode(ExportFormat::Json, false, &[])).unwrap(),
            "[]\n"
        );
        let lines = String::from_utf8(encode(ExportFormat::Jsonl, true, &rows)).unwrap();
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.starts_with("{\"id\":\"c1\""), "no BOM outside CSV");
    }

    #[test]
    fn dates_outside_four_digit_years_use_the_expanded_form() {
        let mut out = Vec::new();
        write_iso_date(NaiveDate::from_ymd_opt(12345, 6, 7).unwrap(), &mut out);
        write_iso_date(NaiveDate::from_ymd_opt(7, 8, 9).unwrap(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "+12345-06-070007-08-09");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq)]
    struct OwnedRow {
        id: String,
        order_number: Option<String>,
        email: Option<String>,
        signup_date: Option<NaiveDate>,
    }

    impl OwnedRow {
        fn borrow(&self) -> ExportRow<'_> {
            ExportRow {
                id: &self.id,
                order_number: self.order_number.as_deref(),
                email: self.email.as_deref(),
                signup_date: self.signup_date,
            }
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct JsonRow {
        id: String,
        order_number: Option<String>,
        email: Option<String>,
        signup_date: Option<NaiveDate>,
    }

    /// Text biased towards the characters that matter: separators, quotes, line breaks, formula triggers.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[=+@'\t\r\n,\"a -]{0,8}", any::<String>(), "[a-z0-9.@-]{1,20}",]
    }

    fn rows() -> impl Strategy<Value = Vec<OwnedRow>> {
        let row = (
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of((-5000i32..15000, 1u32..=12, 1u32..=28)),
        )
            .prop_map(|(id, order_number, email, day)| OwnedRow {
                id,
                order_number,
                email,
                signup_date: day.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            });
        proptest::collection::vec(row, 0..30)
    }

    fn encode(format: ExportFormat, bom: bool, rows: &[OwnedRow]) -> Vec<u8> {
        let mut enc = Encoder::new(format, bom);
        let mut out = Vec::new();
        enc.header(&mut out);
        for r in rows {
            enc.row(&r.borrow(), &mut out);
        }
        enc.footer(&mut out);
        out
    }

    fn date_text(d: Option<NaiveDate>) -> String {
        d.map(|d| {
            let mut v = Vec::new();
            write_iso_date(d, &mut v);
            String::from_utf8(v).unwrap()
        })
        .unwrap_or_default()
    }

    proptest! {
        /// Every row read back by the `csv` crate (after undoing neutralisation) is the row written, and
        /// no cell a spreadsheet sees starts a formula.
        #[test]
        fn csv_round_trips_through_the_csv_crate(rows in rows(), bom in any::<bool>()) {
            let out = encode(ExportFormat::Csv, bom, &rows);
            prop_assert_eq!(out.starts_with(UTF8_BOM), bom);
            let body = if bom { &out[3..] } else { &out[..] };
            let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
            prop_assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), vec!["Order Number", "Email", "Signup Date"]);
            let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(records.len(), rows.len());
            for (rec, row) in records.iter().zip(&rows) {
                prop_assert_eq!(rec.len(), 3);
                for cell in rec.iter() {
                    prop_assert!(!cell.as_bytes().first().copied().is_some_and(is_formula_trigger), "{:?}", cell);
                }
                prop_assert_eq!(unneutralise(&rec[0]), row.order_number.as_deref().unwrap_or(""));
                prop_assert_eq!(unneutralise(&rec[1]), row.email.as_deref().unwrap_or(""));
                let date = date_text(row.signup_date);
                prop_assert_eq!(unneutralise(&rec[2]), date.as_str());
            }
        }

        /// The JSON array and every JSON Lines line parse with serde_json into exactly the rows written.
        #[test]
        fn json_and_jsonl_round_trip_through_serde_json(rows in rows()) {
            let expected: Vec<JsonRow> = rows.iter().map(|r| JsonRow {
                id: r.id.clone(), order_number: r.order_number.clone(), email: r.email.clone(), signup_date: r.signup_date,
            }).collect();
            let array: Vec<JsonRow> = serde_json::from_slice(&encode(ExportFormat::Json, false, &rows)).unwrap();
            prop_assert_eq!(&array, &expected);
            let lines = encode(ExportFormat::Jsonl, false, &rows);
            let parsed: Vec<JsonRow> = lines.split(|b| *b == b'\n').filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap()).collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}
