//! Download names: `<group-name>-<YYYY-MM-DD>.<ext>`. The name keeps the group's Unicode spelling for
//! browsers that read RFC 6266's `filename*`, and has a plain ASCII twin for `filename=` and object keys.

use super::ExportFormat;
use chrono::NaiveDate;

/// Characters of the name part kept at most, so the whole name stays far below file system limits.
const MAX_BASE_CHARS: usize = 100;

/// The download name: the base with path separators, reserved and control characters replaced by `_`.
pub fn file_name(base: &str, day: NaiveDate, format: ExportFormat) -> String {
    let cleaned: String = base
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(MAX_BASE_CHARS)
        .collect();
    // Leading dots would hide the file on Unix; trailing dots and spaces are dropped by Windows.
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let base = if cleaned.is_empty() { "export" } else { cleaned };
    format!("{base}-{}.{}", day.format("%Y-%m-%d"), format.extension())
}

/// The ASCII twin of a download name: letters, digits, `-`, `_` and `.` only; spaces become `-`, any
/// other character `_` (runs collapsed); a name with nothing left becomes `export...`.
pub fn ascii_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let mapped = if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
            c
        } else if c == ' ' {
            '-'
        } else {
            '_'
        };
        if mapped == '_' && out.ends_with('_') {
            continue;
        }
        out.push(mapped);
    }
    let trimmed = out.trim_start_matches(['_', '-', '.']);
    if trimmed.is_empty() || (trimmed.starts_with(|c: char| c.is_ascii_digit()) && !name.is_ascii()) {
        // Only the date and extension survived (a name in another script): give it a readable stem.
        format!("export-{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// The `Content-Disposition` of a download: an attachment with the ASCII name and the UTF-8 name.
pub fn content_disposition(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_file_name(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    #[test]
    fn names_keep_the_group_name_and_replace_path_and_reserved_characters() {
        assert_eq!(file_name("VIP", day(), ExportFormat::Csv), "VIP-2026-03-01.csv");
        assert_eq!(
            file_name("../a/b\\c:d\"e", day(), ExportFormat::Json),
            "_a_b_c_d_e-2026-03-01.json"
        );
        assert_eq!(
            file_name("  ...  ", day(), ExportFormat::Jsonl),
            "export-2026-03-01.jsonl"
        );
        assert_eq!(
            file_name("Клієнти ✓", day(), ExportFormat::Csv),
            "Клієнти ✓-2026-03-01.csv"
        );
        let long = file_name(&"x".repeat(500), day(), ExportFormat::Csv);
        assert_eq!(long.len(), MAX_BASE_CHARS + "-2026-03-01.csv".len());
    }

    #[test]
    fn ascii_names_contain_only_safe_characters() {
        assert_eq!(
            ascii_file_name("Spring promo-2026-03-01.csv"),
            "Spring-promo-2026-03-01.csv"
        );
        assert_eq!(ascii_file_name("Клієнти-2026-03-01.csv"), "export-2026-03-01.csv");
        assert_eq!(ascii_file_name("Café VIP-2026-03-01.csv"), "Caf_-VIP-2026-03-01.csv");
        for name in ["a\"b;c", "x\r\ny", "日本", "%00"] {
            let a = ascii_file_name(name);
            assert!(
                !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{name:?} -> {a:?}"
            );
        }
    }

    #[test]
    fn content_disposition_carries_both_names() {
        assert_eq!(
            content_disposition("Клієнти ✓-2026-03-01.csv"),
            "attachment; filename=\"export-2026-03-01.csv\"; \
             filename*=UTF-8''%D0%9A%D0%BB%D1%96%D1%94%D0%BD%D1%82%D0%B8%20%E2%9C%93-2026-03-01.csv"
        );
        assert_eq!(
            content_disposition("VIP-2026-03-01.csv"),
            "attachment; filename=\"VIP-2026-03-01.csv\"; filename*=UTF-8''VIP-2026-03-01.csv"
        );
    }
}
