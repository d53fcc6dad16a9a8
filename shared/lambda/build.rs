//! Embeds the admin console (`console/` at the repository root) into the library: writes
//! `$OUT_DIR/console_assets.rs`, a table of (path, content type, ETag, bytes) with one
//! `include_bytes!` per file, so a new screen module is served without touching Rust.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

include!("src/console_types.rs");

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a 64: a stable content hash for the ETag (not a security boundary).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for file in files {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let Some((_, content_type)) = TYPES.iter().find(|(e, _)| *e == ext) else {
            continue;
        };
        let rel = file
            .strip_prefix(&root)
            .expect("under console/")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&file).expect("read a console asset");
        let abs = file.canonicalize().expect("canonical path");
        writeln!(
            table,
            "    ({rel:?}, {content_type:?}, \"\\\"{:016x}\\\"\", include_bytes!({:?})),",
            fnv(&bytes),
            abs.display().to_string()
        )
        .expect("write to a String");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    std::fs::write(out, table).expect("write console_assets.rs");
}
