//! `cargo xtask dist`: the release `dist/` exactly as it ships.
//!
//! 1. `trunk build --release` (the app and the runtime worker, wasm-opt'ed).
//! 2. Trunk's inline boot `<script type="module">` is replaced by `web/boot.js`, written under a hashed
//!    name: the Content-Security-Policy allows no inline script.
//! 3. Every stylesheet, module preload, wasm preload and script in `index.html` gets `integrity`
//!    (SHA-384) and `crossorigin`; the boot script fetches the app's wasm with the same `integrity`, and
//!    the worker's loader fetches the worker's wasm with its own.
//! 4. The web manifest and its icons (a padlock, drawn here, so no binary file is committed) are written.
//! 5. `sw.js` (from `web/sw.js`) gets the list of every file of the app shell with its SHA-384, and a
//!    version that changes whenever any of them does.
//! 6. `SHA256SUMS` lists every other file of `dist/` (`sha256sum -c SHA256SUMS` checks a copy).
//!
//! Every step is deterministic: the same sources give byte-identical files (see [`check_reproducible`]).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use candado_harness::workspace_root;
use sha2::{Digest, Sha256, Sha384};

use crate::tools::{self, cargo, run_cmd};

/// The app's name in the manifest and on the home screen.
pub const APP_NAME: &str = "Candado";
/// The colour of the installed app's title bar: the accent colour of `web/candado.css`.
pub const THEME_COLOR: &str = "#1f5f4a";
/// The splash screen's background: the page background of `web/candado.css`.
pub const BACKGROUND_COLOR: &str = "#f6f5f2";

/// Crates whose code ends up in `dist/`: what a reproducibility check rebuilds.
const OUR_WASM_CRATES: &[&str] = &[
    "candado-ui",
    "candado-runtime",
    "candado-engine",
    "candado-api",
    "candado-otr",
    "candado-xmpp",
    "candado-vault",
];

/// `cargo xtask dist [--out DIR] [--check-reproducible]`.
pub fn command(args: &[String]) -> Result<(), String> {
    let mut out = workspace_root().join("dist");
    let mut check = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a folder")?),
            "--check-reproducible" => check = true,
            other => return Err(format!("unknown option {other:?} for `dist`")),
        }
    }
    let path = tools::ensure_build_tools()?;
    let dist = build(&path, &out)?;
    if check {
        let files = check_reproducible(&path, &dist)?;
        println!("reproducible: a second build from source gave the same {files} files");
    }
    println!(
        "dist: {} (check a copy with `sha256sum -c SHA256SUMS` inside it)",
        dist.display()
    );
    Ok(())
}

/// Builds the release app into `out` and finishes it (see the module docs). Returns `out`.
pub fn build(path: &OsString, out: &Path) -> Result<PathBuf, String> {
    let root = workspace_root();
    let mut cmd = Command::new("trunk");
    cmd.args(["build", "--release", "--dist"])
        .arg(out)
        .current_dir(&root)
        .env("PATH", path)
        .env("TRUNK_OFFLINE", "true");
    run_cmd(&mut cmd)?;
    finish(out)?;
    Ok(out.to_path_buf())
}

/// Builds the app a second time after deleting the compiled artifacts of our own crates (so they are
/// compiled again from source; the dependencies are reused) and compares its `SHA256SUMS` with the one of
/// `first`, a finished build of the same sources. Returns the file count on success; the error lists
/// the files that differ.
///
/// What it proves: nothing in our build depends on when or in which order it ran (timestamps, random
/// seeds, hash-map order, the output folder) from `rustc` through wasm-bindgen, wasm-opt and the steps of
/// [`finish`]. What it does not: that another machine or checkout path gives the same bytes (the
/// dependencies are not rebuilt; paths are the same), which a rebuild elsewhere compared with the
/// published `SHA256SUMS` shows.
pub fn check_reproducible(path: &OsString, first: &Path) -> Result<usize, String> {
    let target = candado_harness::target_dir();
    let mut clean = Command::new(cargo());
    clean
        .args(["clean", "--release", "--target", "wasm32-unknown-unknown"])
        .current_dir(workspace_root());
    for krate in OUR_WASM_CRATES {
        clean.args(["-p", krate]);
    }
    run_cmd(&mut clean)?;
    let second = build(path, &target.join("dist-rebuilt"))?;
    let a = std::fs::read_to_string(first.join("SHA256SUMS")).map_err(|e| e.to_string())?;
    let b = std::fs::read_to_string(second.join("SHA256SUMS")).map_err(|e| e.to_string())?;
    if a == b {
        return Ok(a.lines().count());
    }
    let differ: Vec<String> = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("  {x}\n  {y}"))
        .collect();
    Err(format!(
        "two builds differ ({} vs {} files):\n{}",
        a.lines().count(),
        b.lines().count(),
        differ.join("\n")
    ))
}

/// The post-build steps on a folder Trunk has just written.
pub fn finish(dist: &Path) -> Result<(), String> {
    let index_path = dist.join("index.html");
    let html = read_text(&index_path)?;
    let (html, refs) = strip_trunk_tags(&html)?;
    // The worker loads its own files (see `write_worker_loader`); the page preloads only its own.
    let refs: Vec<String> = refs
        .into_iter()
        .filter(|r| !r.starts_with("/candado-worker"))
        .collect();

    let app_wasm = refs
        .iter()
        .find(|r| r.ends_with("_bg.wasm"))
        .ok_or("Trunk's index.html preloads no wasm")?
        .clone();
    let app_js = format!("{}.js", app_wasm.trim_end_matches("_bg.wasm"));
    let css: Vec<&String> = refs.iter().filter(|r| r.ends_with(".css")).collect();
    let other_modules: Vec<&String> = refs
        .iter()
        .filter(|r| r.ends_with(".js") && **r != app_js)
        .collect();

    write_worker_loader(dist)?;

    let boot_template = read_text(&workspace_root().join("web/boot.js"))?;
    let boot = boot_template
        .replace("__APP_JS__", &app_js)
        .replace("__APP_WASM__", &app_wasm)
        .replace("__APP_WASM_INTEGRITY__", &sri(dist, &app_wasm)?);
    let boot_name = format!("/boot-{}.js", &hex(&Sha256::digest(boot.as_bytes()))[..16]);
    write(dist, &boot_name, boot.as_bytes())?;

    for (name, png) in icons() {
        write(dist, name, &png)?;
    }
    write(dist, "/manifest.webmanifest", manifest().as_bytes())?;

    let mut head = String::new();
    let _ = writeln!(
        head,
        "    <meta name=\"theme-color\" content=\"{THEME_COLOR}\" />"
    );
    head.push_str("    <link rel=\"manifest\" href=\"/manifest.webmanifest\" />\n");
    head.push_str("    <link rel=\"icon\" type=\"image/png\" href=\"/icon-192.png\" />\n");
    head.push_str("    <link rel=\"apple-touch-icon\" href=\"/icon-192.png\" />\n");
    for href in css {
        let _ = writeln!(
            head,
            "    <link rel=\"stylesheet\" href=\"{href}\" integrity=\"{}\" crossorigin=\"anonymous\" />",
            sri(dist, href)?
        );
    }
    for href in other_modules.iter().copied().chain([&app_js]) {
        let _ = writeln!(
            head,
            "    <link rel=\"modulepreload\" href=\"{href}\" integrity=\"{}\" crossorigin=\"anonymous\" />",
            sri(dist, href)?
        );
    }
    let _ = writeln!(
        head,
        "    <link rel=\"preload\" href=\"{app_wasm}\" as=\"fetch\" type=\"application/wasm\" integrity=\"{}\" crossorigin=\"anonymous\" />",
        sri(dist, &app_wasm)?
    );
    let _ = writeln!(
        head,
        "    <script type=\"module\" src=\"{boot_name}\" integrity=\"{}\" crossorigin=\"anonymous\"></script>",
        sri(dist, &boot_name)?
    );
    let html = if html.lines().any(|l| l.trim() == "</head>") {
        html.lines()
            .map(|l| {
                if l.trim() == "</head>" {
                    format!("{head}  </head>\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>()
    } else {
        html.replacen("</head>", &format!("{head}</head>"), 1)
    };
    if !html.contains("rel=\"manifest\"") {
        return Err("index.html has no </head>".into());
    }
    if html.contains("<script>")
        || html.contains("<script type=\"module\">")
        || html.contains(" style=")
    {
        return Err("index.html still has an inline script or style".into());
    }
    std::fs::write(&index_path, html).map_err(|e| e.to_string())?;

    write_service_worker(dist)?;
    write_sums(dist)
}

/// Removes Trunk's inline scripts and its stylesheet/preload links from `html`; returns the page and the
/// local paths those links named (in order).
fn strip_trunk_tags(html: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(html.len());
    let mut refs = Vec::new();
    let mut rest = html;
    loop {
        let next_script = rest.find("<script");
        let next_link = rest.find("<link");
        let (at, is_script) = match (next_script, next_link) {
            (None, None) => break,
            (Some(s), Some(l)) if s < l => (s, true),
            (Some(s), None) => (s, true),
            (_, Some(l)) => (l, false),
        };
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if is_script {
            let end = rest
                .find("</script>")
                .ok_or("a <script> without </script> in Trunk's index.html")?
                + "</script>".len();
            let tag = &rest[..end];
            if attr(tag, "src").is_some() {
                return Err(format!(
                    "unexpected external script in Trunk's output: {tag}"
                ));
            }
            rest = &rest[end..];
        } else {
            let end = rest.find('>').ok_or("an unclosed <link")? + 1;
            let tag = &rest[..end];
            let rel = attr(tag, "rel").unwrap_or_default();
            if matches!(rel.as_str(), "stylesheet" | "modulepreload" | "preload") {
                let href = attr(tag, "href").ok_or_else(|| format!("no href in {tag}"))?;
                if !href.starts_with('/') || href.starts_with("//") {
                    return Err(format!("a reference outside the site: {tag}"));
                }
                refs.push(href);
            } else {
                out.push_str(tag);
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    // Drop the blank lines the removed tags leave.
    let out = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    Ok((out, refs))
}

/// The value of attribute `name` in one HTML start tag (double- or single-quoted).
fn attr(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(pos) = tag.get(from..)?.find(name) {
        let start = from + pos;
        let before = start.checked_sub(1).and_then(|i| bytes.get(i).copied());
        let after = tag.get(start + name.len()..)?;
        if matches!(before, Some(b' ' | b'\n' | b'\t')) {
            if let Some(value) = after.trim_start().strip_prefix('=') {
                let value = value.trim_start();
                let quote = value.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let inner = value.get(1..)?;
                    return inner.find(quote).map(|end| inner[..end].to_string());
                }
            }
        }
        from = start + name.len();
    }
    None
}

/// Rewrites Trunk's worker loader so it fetches the worker's wasm with `integrity`.
fn write_worker_loader(dist: &Path) -> Result<(), String> {
    let loader = dist.join("candado-worker_loader.js");
    let original = read_text(&loader)?;
    for needed in ["candado-worker.js", "candado-worker_bg.wasm"] {
        if !original.contains(needed) {
            return Err(format!(
                "Trunk's worker loader no longer names {needed}: {original}"
            ));
        }
    }
    let text = format!(
        "// Candado's runtime worker: the wasm-bindgen glue, then the wasm, fetched with its SHA-384.\n\
         importScripts(\"./candado-worker.js\");\n\
         wasm_bindgen({{ module_or_path: fetch(\"./candado-worker_bg.wasm\", {{ integrity: \"{}\" }}) }});\n",
        sri(dist, "/candado-worker_bg.wasm")?
    );
    std::fs::write(&loader, text).map_err(|e| e.to_string())
}

/// The web manifest: Spanish first, installable (name, icons 192/512 and maskable, standalone).
pub fn manifest() -> String {
    let manifest = serde_json::json!({
        "id": "./",
        "name": APP_NAME,
        "short_name": APP_NAME,
        "description": "Chat cifrado de punta a punta (XMPP + OTR) para organizaciones.",
        "lang": "es",
        "dir": "ltr",
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "categories": ["social", "security"],
        "icons": [
            { "src": "icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any" },
            { "src": "icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any" },
            { "src": "icon-maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable" },
        ],
    });
    serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n"
}

/// `sw.js` from `web/sw.js`: the precache list (every file but `sw.js` and `SHA256SUMS`, `index.html`
/// included) and a version derived from it.
fn write_service_worker(dist: &Path) -> Result<(), String> {
    let mut entries = Vec::new();
    for file in files(dist)? {
        let rel = relative(dist, &file);
        if rel == "sw.js" || rel == "SHA256SUMS" {
            continue;
        }
        entries.push(serde_json::json!([
            format!("./{rel}"),
            sri(dist, &format!("/{rel}"))?
        ]));
    }
    let list = serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?;
    let version = &hex(&Sha256::digest(list.as_bytes()))[..16];
    let template = read_text(&workspace_root().join("web/sw.js"))?;
    let sw = template
        .replace("__VERSION__", version)
        .replace("__PRECACHE__", &list);
    std::fs::write(dist.join("sw.js"), sw).map_err(|e| e.to_string())
}

/// `SHA256SUMS` in `sha256sum`'s format, sorted by path.
fn write_sums(dist: &Path) -> Result<(), String> {
    let mut sums = String::new();
    for file in files(dist)? {
        let rel = relative(dist, &file);
        if rel == "SHA256SUMS" {
            continue;
        }
        let bytes = std::fs::read(&file).map_err(|e| e.to_string())?;
        let _ = writeln!(sums, "{}  {rel}", hex(&Sha256::digest(&bytes)));
    }
    std::fs::write(dist.join("SHA256SUMS"), sums).map_err(|e| e.to_string())
}

/// Every file under `dir`, sorted.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
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

fn relative(dist: &Path, file: &Path) -> String {
    file.strip_prefix(dist)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `sha384-<base64>` of the file at site path `href` (`/name`).
fn sri(dist: &Path, href: &str) -> Result<String, String> {
    let file = dist.join(href.trim_start_matches('/'));
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes))
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(dist: &Path, href: &str, bytes: &[u8]) -> Result<(), String> {
    let file = dist.join(href.trim_start_matches('/'));
    std::fs::write(&file, bytes).map_err(|e| format!("{}: {e}", file.display()))
}

/// The icons: (site path, PNG).
pub fn icons() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("/icon-192.png", png(192, &padlock(192, 0.62))),
        ("/icon-512.png", png(512, &padlock(512, 0.62))),
        // Maskable: the padlock stays inside the central 80 % circle that every mask keeps.
        ("/icon-maskable-512.png", png(512, &padlock(512, 0.46))),
    ]
}

/// RGBA pixels of a light padlock on the accent colour; `scale` is the padlock's share of the side.
fn padlock(size: u32, scale: f64) -> Vec<u8> {
    const BG: [u8; 3] = [0x1f, 0x5f, 0x4a];
    const FG: [u8; 3] = [0xf6, 0xf5, 0xf2];
    const SS: u32 = 4; // supersampling per axis
    let inside = |x: f64, y: f64| -> bool {
        // Padlock space: the padlock spans [-0.5, 0.5] on both axes.
        let body = {
            let (hx, top, bottom, r) = (0.36, -0.02, 0.46, 0.07);
            let cx = x.abs().min(hx - r);
            let cy = y.clamp(top + r, bottom - r);
            x.abs() <= hx && y >= top && y <= bottom && (x.abs() - cx).hypot(y - cy) <= r
        };
        let shackle = {
            let d = x.hypot(y + 0.02);
            y <= -0.02 && (0.17..=0.27).contains(&d)
        };
        let keyhole =
            x.hypot(y - 0.17) <= 0.065 || (x.abs() <= 0.028 && (0.17..=0.32).contains(&y));
        (body && !keyhole) || shackle
    };
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    for py in 0..size {
        for px in 0..size {
            let mut hits = 0u32;
            for sy in 0..SS {
                for sx in 0..SS {
                    let u =
                        (f64::from(px) + (f64::from(sx) + 0.5) / f64::from(SS)) / f64::from(size);
                    let v =
                        (f64::from(py) + (f64::from(sy) + 0.5) / f64::from(SS)) / f64::from(size);
                    // +0.085: the padlock (shackle top -0.29, body bottom 0.46) centred vertically.
                    if inside((u - 0.5) / scale, (v - 0.5) / scale + 0.085) {
                        hits += 1;
                    }
                }
            }
            let total = SS * SS;
            for c in 0..3 {
                let fg = u32::from(FG[c]) * hits;
                let bg = u32::from(BG[c]) * (total - hits);
                rgba.push(((fg + bg + total / 2) / total) as u8);
            }
            rgba.push(0xff);
        }
    }
    rgba
}

/// A square RGBA PNG (8 bits per channel, no filtering, zlib at the best level).
fn png(size: u32, rgba: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(rgba.len() + size as usize);
    for row in rgba.chunks(size as usize * 4) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

/// CRC-32 (ISO 3309, as PNG uses it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_png_reference_value() {
        // The CRC of "IEND" with no data, present at the end of every PNG.
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn icons_are_deterministic_pngs_of_the_manifest_sizes() {
        let a = icons();
        let b = icons();
        assert_eq!(a, b);
        let manifest: serde_json::Value = serde_json::from_str(&manifest()).unwrap();
        let listed = manifest["icons"].as_array().unwrap();
        assert_eq!(listed.len(), a.len());
        for ((path, bytes), entry) in a.iter().zip(listed) {
            assert_eq!(format!("/{}", entry["src"].as_str().unwrap()), *path);
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
            let side = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            assert_eq!(entry["sizes"], format!("{side}x{side}"));
        }
        // The padlock is there: both colours appear, and the centre of the keyhole is background.
        let pixels = padlock(64, 0.62);
        let at = |x: usize, y: usize| &pixels[(y * 64 + x) * 4..(y * 64 + x) * 4 + 3];
        assert_eq!(at(0, 0), [0x1f, 0x5f, 0x4a]);
        assert_eq!(at(32, 35), [0x1f, 0x5f, 0x4a], "keyhole");
        assert_eq!(at(20, 35), [0xf6, 0xf5, 0xf2], "body");
    }

    #[test]
    fn manifest_is_installable_and_spanish() {
        let m: serde_json::Value = serde_json::from_str(&manifest()).unwrap();
        assert_eq!(m["name"], "Candado");
        assert_eq!(m["lang"], "es");
        assert_eq!(m["display"], "standalone");
        assert_eq!(m["start_url"], "./");
        assert!(m["icons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["purpose"] == "maskable"));
    }

    /// A page shaped like Trunk 0.21's output.
    const TRUNK_PAGE: &str = r#"<!DOCTYPE html><html lang="es"><head>
    <title>Candado</title>
<link rel="stylesheet" href="/candado-1a2b.css" integrity="sha384-x"/>
<link rel="modulepreload" href="/candado-3c4d.js" crossorigin="anonymous" integrity="sha384-y"><link rel="preload" href="/candado-3c4d_bg.wasm" crossorigin="anonymous" integrity="sha384-z" as="fetch" type="application/wasm">
<script type="module">
import init, * as bindings from '/candado-3c4d.js';
const wasm = await init({ module_or_path: '/candado-3c4d_bg.wasm' });
</script>
</head><body><div id="no-wasm" hidden></div></body></html>"#;

    #[test]
    fn trunk_tags_are_stripped_and_collected() {
        let (html, refs) = strip_trunk_tags(TRUNK_PAGE).unwrap();
        assert_eq!(
            refs,
            [
                "/candado-1a2b.css",
                "/candado-3c4d.js",
                "/candado-3c4d_bg.wasm"
            ]
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<link"), "{html}");
        assert!(html.contains("<title>Candado</title>"));
        assert!(html.contains(r#"<div id="no-wasm" hidden>"#));
    }

    #[test]
    fn finish_makes_every_reference_external_and_covered_by_integrity() {
        let dist = candado_harness::fresh_dir("xtask", "dist-finish").unwrap();
        std::fs::write(dist.join("index.html"), TRUNK_PAGE).unwrap();
        for (name, body) in [
            ("candado-1a2b.css", "body{}"),
            ("candado-3c4d.js", "export default async function(){}"),
            ("candado-3c4d_bg.wasm", "\0asm"),
            ("candado-worker.js", "var wasm_bindgen;"),
            ("candado-worker_bg.wasm", "\0asm-worker"),
            (
                "candado-worker_loader.js",
                "importScripts('./candado-worker.js');wasm_bindgen('./candado-worker_bg.wasm');",
            ),
        ] {
            std::fs::write(dist.join(name), body).unwrap();
        }
        finish(&dist).unwrap();
        let html = std::fs::read_to_string(dist.join("index.html")).unwrap();
        let wasm_sri = sri(&dist, "/candado-3c4d_bg.wasm").unwrap();
        // Our hashes, not Trunk's placeholders.
        assert!(!html.contains("sha384-x") && !html.contains("sha384-z"));
        for line in html.lines().filter(|l| {
            l.contains("<script") || l.contains("rel=\"stylesheet\"") || l.contains("preload")
        }) {
            assert!(line.contains("integrity=\"sha384-"), "{line}");
            assert!(line.contains("crossorigin=\"anonymous\""), "{line}");
        }
        assert!(html.contains(&wasm_sri));
        let boot = html
            .split("src=\"/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        assert!(boot.starts_with("boot-"), "{boot}");
        let boot_js = std::fs::read_to_string(dist.join(boot)).unwrap();
        assert!(boot_js.contains(&wasm_sri));
        assert!(boot_js.contains("\"/candado-3c4d.js\""));
        let loader = std::fs::read_to_string(dist.join("candado-worker_loader.js")).unwrap();
        assert!(loader.contains(&sri(&dist, "/candado-worker_bg.wasm").unwrap()));

        // The service worker precaches every file but itself and the sums, each with its hash.
        let sw = std::fs::read_to_string(dist.join("sw.js")).unwrap();
        assert!(!sw.contains("__PRECACHE__") && !sw.contains("__VERSION__"));
        for file in files(&dist).unwrap() {
            let rel = relative(&dist, &file);
            let listed = sw.contains(&format!("\"./{rel}\""));
            assert_eq!(listed, rel != "sw.js" && rel != "SHA256SUMS", "{rel}");
        }
        // SHA256SUMS covers every other file, with the right digest.
        let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
        assert_eq!(sums.lines().count(), files(&dist).unwrap().len() - 1);
        let index_sum = hex(&Sha256::digest(html.as_bytes()));
        assert!(sums.contains(&format!("{index_sum}  index.html")));

        // Finishing the same input again gives the same bytes.
        let first = sums.clone();
        std::fs::write(dist.join("index.html"), TRUNK_PAGE).unwrap();
        std::fs::write(
            dist.join("candado-worker_loader.js"),
            "importScripts('./candado-worker.js');wasm_bindgen('./candado-worker_bg.wasm');",
        )
        .unwrap();
        for f in files(&dist).unwrap() {
            let rel = relative(&dist, &f);
            if rel.starts_with("boot-") || rel == "sw.js" || rel == "SHA256SUMS" {
                std::fs::remove_file(f).unwrap();
            }
        }
        finish(&dist).unwrap();
        assert_eq!(
            std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap(),
            first
        );
    }
}
