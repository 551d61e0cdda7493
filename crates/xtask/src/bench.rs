//! `cargo xtask bench`: figures, never pass/fail.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::tools;

pub fn bench(args: &[String]) -> Result<(), String> {
    let which: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(other) = which.iter().find(|w| **w != "size") {
        return Err(format!("unknown benchmark {other:?} (known: size)"));
    }
    size()
}

/// One file of the first load.
#[derive(Debug)]
struct FileSize {
    name: String,
    raw: usize,
    gzip: usize,
    brotli: usize,
}

/// Builds the release app and prints the raw, gzip (level 9) and brotli (quality 11) size of every file
/// the browser loads on first visit.
fn size() -> Result<(), String> {
    let path = tools::ensure_build_tools()?;
    let dist = tools::trunk_build(&path, true)?;
    let files = first_load_files(&dist)?;
    let mut rows = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
        rows.push(FileSize {
            name: file
                .strip_prefix(&dist)
                .unwrap_or(file)
                .display()
                .to_string(),
            raw: bytes.len(),
            gzip: gzip_len(&bytes)?,
            brotli: brotli_len(&bytes)?,
        });
    }
    println!("\nFirst load of the release build (dist/):");
    println!(
        "{:<48} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli"
    );
    for r in &rows {
        println!(
            "{:<48} {:>10} {:>10} {:>10}",
            r.name, r.raw, r.gzip, r.brotli
        );
    }
    let total = |f: fn(&FileSize) -> usize| rows.iter().map(f).sum::<usize>();
    println!(
        "{:<48} {:>10} {:>10} {:>10}",
        "total",
        total(|r| r.raw),
        total(|r| r.gzip),
        total(|r| r.brotli)
    );
    Ok(())
}

/// Every file in `dist/` (all of them load on first visit: the page, its CSS, the app and the worker).
fn first_load_files(dist: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dist.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn gzip_len(bytes: &[u8]) -> Result<usize, String> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).map_err(|e| e.to_string())?;
    Ok(enc.finish().map_err(|e| e.to_string())?.len())
}

fn brotli_len(bytes: &[u8]) -> Result<usize, String> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(out.len())
}
