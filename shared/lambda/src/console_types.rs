// The console's served file kinds and their content types; `include!`d by build.rs (which embeds only
// these) and by console.rs (which serves them), so the two cannot disagree.
/// Extension to content type of every file kind the console serves.
pub const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
    ("json", "application/json"),
];
