//! Tests of the export encoder: RFC 4180, formula neutralisation, JSON rows.

mod unit {
    use super::super::*;

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

mod properties {
    use super::super::*;
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
