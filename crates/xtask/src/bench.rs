//! `cargo xtask bench [size] [load] [otr] [vault] [scale] [chat] [lighthouse]`: figures, never pass/fail. Prints one table (figure, Candado, anchor,
//! ratio) and writes the same rows to `target/bench/latest.json` so figures can be compared across commits.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use candado_harness::workspace_root;

use crate::tools::{self, cargo};

/// The benchmarks, in the order a full run takes them.
const BENCHES: &[&str] = &[
    "size",
    "load",
    "otr",
    "vault",
    "scale",
    "chat",
    "lighthouse",
];

/// One figure.
#[derive(Debug)]
struct Row {
    figure: String,
    candado: String,
    anchor: String,
    ratio: String,
}

impl Row {
    fn new(figure: impl Into<String>, candado: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            candado: candado.into(),
            anchor: String::new(),
            ratio: String::new(),
        }
    }

    fn against(mut self, anchor: impl Into<String>, ratio: f64) -> Row {
        self.anchor = anchor.into();
        self.ratio = format!("{ratio:.2}");
        self
    }
}

pub fn bench(args: &[String]) -> Result<(), String> {
    let mut which: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(other) = which.iter().find(|w| !BENCHES.contains(w)) {
        return Err(format!(
            "unknown benchmark {other:?} (known: {})",
            BENCHES.join(", ")
        ));
    }
    if which.is_empty() {
        which = BENCHES.to_vec();
    }
    let path = tools::ensure_build_tools()?;
    let mut rows = Vec::new();
    for bench in which {
        match bench {
            "size" => rows.extend(size(&path)?),
            "otr" => rows.extend(otr(&path)?),
            "vault" => rows.extend(vault(&path)?),
            "scale" => rows.extend(scale(&path)?),
            "load" => rows.extend(load(&path)?),
            "chat" => rows.extend(chat(&path)?),
            "lighthouse" => rows.extend(lighthouse(&path)?),
            _ => {}
        }
    }
    print_table(&rows);
    write_json(&rows)
}

fn print_table(rows: &[Row]) {
    let w = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!();
    println!(
        "{:<w$}  {:>14}  {:>14}  {:>7}",
        "figure", "Candado", "anchor", "ratio"
    );
    for r in rows {
        println!(
            "{:<w$}  {:>14}  {:>14}  {:>7}",
            r.figure, r.candado, r.anchor, r.ratio
        );
    }
}

fn write_json(rows: &[Row]) -> Result<(), String> {
    let dir = candado_harness::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let json: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "figure": r.figure, "candado": r.candado, "anchor": r.anchor, "ratio": r.ratio,
            })
        })
        .collect();
    let file = dir.join("latest.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    println!("\n(written to {})", file.display());
    Ok(())
}

/// Builds the release app and measures the raw, gzip (level 9) and brotli (quality 11) size of every file
/// the browser loads on first visit.
fn size(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let dist = crate::dist::build(path, &workspace_root().join("dist"))?;
    let mut rows = Vec::new();
    let (mut raw, mut gz, mut br) = (0, 0, 0);
    for file in first_load_files(&dist)? {
        let bytes = std::fs::read(&file).map_err(|e| e.to_string())?;
        let name = file
            .strip_prefix(&dist)
            .unwrap_or(&file)
            .display()
            .to_string();
        let (g, b) = (gzip_len(&bytes)?, brotli_len(&bytes)?);
        raw += bytes.len();
        gz += g;
        br += b;
        rows.push(Row::new(
            format!("first load: {name} (raw / gzip / brotli bytes)"),
            format!("{} / {g} / {b}", bytes.len()),
        ));
    }
    rows.push(Row::new(
        "first load: total (raw / gzip / brotli bytes)",
        format!("{raw} / {gz} / {br}"),
    ));
    rows.push(
        Row::new(
            "first load: total brotli (KB)",
            format!("{:.1}", br as f64 / 1000.0),
        )
        .against("318.0 (Converse.js)", br as f64 / 318_000.0),
    );
    Ok(rows)
}

/// Every file in `dist/` but `SHA256SUMS`: all of them load on first visit (the page, its CSS, the boot
/// script, the app and the worker, the manifest and `sw.js`, and the icons the service worker precaches).
fn first_load_files(dist: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dist.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "SHA256SUMS") {
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

/// Runs `cmd` (inheriting stderr) and returns the `BENCH key=value…` lines of its stdout as maps.
fn bench_lines(cmd: &mut Command) -> Result<Vec<BTreeMap<String, String>>, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}\n{stdout}", out.status));
    }
    Ok(stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("BENCH "))
        .map(|l| {
            let mut fields = l.split_whitespace();
            let mut map = BTreeMap::new();
            map.insert("name".into(), fields.next().unwrap_or_default().to_string());
            for kv in fields {
                if let Some((k, v)) = kv.split_once('=') {
                    map.insert(k.to_string(), v.to_string());
                }
            }
            map
        })
        .collect())
}

fn field<'a>(map: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    map.get(key).map(String::as_str).unwrap_or("?")
}

/// Argon2id natively (opt-level 3) and in a dedicated worker of headless Chromium (the shipped release
/// profile), at the same parameters, plus what calibration picks in each.
fn vault(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let native = bench_lines(
        Command::new(cargo())
            .args([
                "run",
                "--quiet",
                "--profile",
                "bench-native",
                "-p",
                "candado-vault",
                "--example",
                "argon2_bench",
            ])
            .current_dir(workspace_root()),
    )?;
    let mut wasm_cmd = crate::test::browser_test_cmd(Some(path));
    wasm_cmd.args([
        "-p",
        "candado-vault",
        "--release",
        "--features",
        "browser-bench",
        "--test",
        "bench_worker",
        "--",
        "--nocapture",
    ]);
    let wasm = bench_lines(&mut wasm_cmd)?;

    let mut rows = Vec::new();
    for n in native.iter().filter(|m| field(m, "name") == "argon2id") {
        let (m, t) = (field(n, "m_kib"), field(n, "t"));
        let native_ms: f64 = field(n, "median_ms").parse().unwrap_or(f64::NAN);
        let w = wasm.iter().find(|w| {
            field(w, "name") == "argon2id" && field(w, "m_kib") == m && field(w, "t") == t
        });
        let wasm_ms: f64 = w
            .map(|w| field(w, "median_ms").parse().unwrap_or(f64::NAN))
            .unwrap_or(f64::NAN);
        rows.push(Row::new(
            format!("vault: Argon2id m={m} KiB t={t}, native (ms)"),
            format!("{native_ms:.1}"),
        ));
        rows.push(
            Row::new(
                format!("vault: Argon2id m={m} KiB t={t}, wasm worker (ms)"),
                format!("{wasm_ms:.1}"),
            )
            .against(format!("{native_ms:.1} native"), wasm_ms / native_ms),
        );
    }
    for (label, lines) in [("native", &native), ("wasm worker", &wasm)] {
        if let Some(c) = lines.iter().find(|l| field(l, "name") == "calibration") {
            rows.push(Row::new(
                format!("vault: calibration pick for 1 s, {label}"),
                format!(
                    "m={} KiB t={} (~{} ms)",
                    field(c, "m_kib"),
                    field(c, "t"),
                    field(c, "estimated_ms")
                ),
            ));
        }
    }
    Ok(rows)
}

/// The OTR figures, with a label each (names printed by the three benchmark programs).
const OTR_FIGURES: &[(&str, &str)] = &[
    ("otr_keygen", "DSA keygen"),
    ("otr_ake", "AKE, both sides"),
    ("otr_pingpong", "ping-pong message (DH rotation every turn)"),
    ("otr_burst", "burst message"),
    ("otr_smp", "SMP with a question, both sides"),
    ("otr_modexp320", "1536-bit modexp, 320-bit exponent"),
    ("otr_modexp1536", "1536-bit modexp, full exponent"),
];

/// OTR: Candado natively (opt-level 3), Candado as shipped in a dedicated worker of headless Chromium,
/// and libotr 4.1.1 natively through the interop harness; medians, each Candado figure against libotr.
fn otr(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let run = |args: &[&str]| {
        let mut cmd = Command::new(cargo());
        cmd.args(["run", "--quiet", "--profile", "bench-native"])
            .args(args)
            .current_dir(workspace_root());
        bench_lines(&mut cmd)
    };
    let native = run(&["-p", "candado-otr", "--example", "otr_bench"])?;
    let libotr = run(&["-p", "candado-interop", "--example", "libotr_bench"])?;
    let mut wasm_cmd = crate::test::browser_test_cmd(Some(path));
    wasm_cmd.args([
        "-p",
        "candado-otr",
        "--release",
        "--features",
        "browser-bench",
        "--test",
        "bench_worker",
        "--",
        "--nocapture",
    ]);
    let wasm = bench_lines(&mut wasm_cmd)?;

    let median = |lines: &[BTreeMap<String, String>], name: &str| -> f64 {
        lines
            .iter()
            .find(|l| field(l, "name") == name)
            .and_then(|l| field(l, "median_ms").parse().ok())
            .unwrap_or(f64::NAN)
    };
    let mut rows = Vec::new();
    for (name, label) in OTR_FIGURES {
        let reference = median(&libotr, name);
        let anchor = format!("{} libotr", ms(reference));
        for (side, lines) in [("native", &native), ("wasm worker", &wasm)] {
            let value = median(lines, name);
            rows.push(
                Row::new(format!("otr: {label}, {side} (ms)"), ms(value))
                    .against(anchor.clone(), value / reference),
            );
        }
    }
    // One-time costs, without a libotr counterpart.
    for (name, what) in [
        ("otr_gpow320", "g^x, 320-bit exponent (DH keys)"),
        ("otr_gpow1536", "g^e, 1536-bit exponent (SMP)"),
    ] {
        for (side, lines) in [("native", &native), ("wasm worker", &wasm)] {
            let table = median(lines, &format!("{name}_table"));
            let ladder = median(lines, &format!("{name}_ladder"));
            rows.push(
                Row::new(
                    format!("otr: {what}, table of powers of g, {side} (ms)"),
                    ms(table),
                )
                .against(format!("{} ladder", ms(ladder)), table / ladder),
            );
        }
    }
    for (name, what) in [("otr_dh_table", "DH keys"), ("otr_smp_table", "SMP")] {
        for (side, lines) in [("native", &native), ("wasm worker", &wasm)] {
            rows.push(Row::new(
                format!("otr: table of powers of g for {what}, built once, {side} (ms)"),
                ms(median(lines, name)),
            ));
        }
    }
    // The dudect-style timing test (native): Welch's t, fixed vs random 320-bit exponents.
    for (name, label) in [
        ("otr_ct_t64", "constant-time modexp, radix 2^64 (native)"),
        ("otr_ct_t28", "constant-time modexp, radix 2^28 (wasm's)"),
        (
            "otr_ct_tfixed64",
            "constant-time fixed-base g^x, radix 2^64",
        ),
        (
            "otr_ct_tfixed28",
            "constant-time fixed-base g^x, radix 2^28",
        ),
        (
            "otr_ct_tvartime",
            "variable-time modexp (control, must leak)",
        ),
    ] {
        if let Some(line) = native.iter().find(|l| field(l, "name") == name) {
            rows.push(Row::new(
                format!("otr: dudect |t| (< 4.5: no leak), {label}"),
                field(line, "t").trim_start_matches('-').to_string(),
            ));
        }
    }
    Ok(rows)
}

/// Runs an example of `candado-e2e` against the release `dist/` and returns its `BENCH` lines.
fn e2e_example(
    path: &std::ffi::OsString,
    example: &str,
) -> Result<Vec<BTreeMap<String, String>>, String> {
    e2e_example_with(path, example, &[])
}

/// [`e2e_example`] with more environment variables.
fn e2e_example_with(
    path: &std::ffi::OsString,
    example: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<Vec<BTreeMap<String, String>>, String> {
    let dist = crate::dist::build(path, &workspace_root().join("dist"))?;
    let mut cmd = Command::new(cargo());
    cmd.args(["run", "--quiet", "-p", "candado-e2e", "--example", example])
        .env("PATH", path)
        .env("CANDADO_DIST", &dist)
        .current_dir(workspace_root());
    for (key, value) in env {
        cmd.env(key, value);
    }
    bench_lines(&mut cmd)
}

/// The first load under mobile emulation (`tests/e2e/examples/load_bench.rs`): brotli-compressed
/// files, 4× CPU slowdown, 150 ms round trips, 1.6 Mbit/s. Anchors: Converse.js's 3.0 s to its login
/// form under the same emulation (issue #8) and the 1.5 s target.
fn load(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for line in e2e_example(path, "load_bench")? {
        let (visit, screen) = match field(&line, "visit") {
            "first" => ("first visit", "first-run"),
            _ => ("second visit (service worker)", "unlock"),
        };
        let ms: f64 = field(&line, "interactive_ms").parse().unwrap_or(f64::NAN);
        rows.push(
            Row::new(
                format!("load: {visit}, to the {screen} screen's passphrase field (ms)"),
                field(&line, "interactive_ms"),
            )
            .against("3000 (Converse.js); target 1500", ms / 3000.0),
        );
        rows.push(Row::new(
            format!("load: {visit}, sent by the server / in the page's resource timing (KB)"),
            format!(
                "{} / {}",
                field(&line, "sent_kb"),
                field(&line, "page_transferred_kb")
            ),
        ));
        rows.push(Row::new(
            format!("load: {visit}, main-thread tasks over 50 ms / longest (ms)"),
            format!(
                "{} / {}",
                field(&line, "longtasks"),
                field(&line, "longest_task_ms")
            ),
        ));
    }
    Ok(rows)
}

/// Big rosters in the real app (`tests/e2e/examples/scale_bench.rs`): the release `dist/` in headless
/// Chromium under mobile emulation against a real Prosody, with 2 000 and 5 000 contacts. Anchors:
/// Converse.js measured under the same emulation with 2 000 contacts (issue #8), and the targets.
fn scale(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let lines = e2e_example(path, "scale_bench")?;
    let mut rows = Vec::new();
    for line in lines.iter().filter(|l| field(l, "name") == "scale_roster") {
        let n = field(line, "contacts");
        let number = |key: &str| field(line, key).parse::<f64>().unwrap_or(f64::NAN);
        let converse = n == "2000";
        let figure = |what: &str| format!("scale: {n} contacts, {what}");
        let mut login = Row::new(
            figure("login to rendered roster (ms)"),
            field(line, "login_to_roster_ms"),
        );
        if converse {
            login = login.against(
                "37000 (Converse.js)",
                number("login_to_roster_ms") / 37_000.0,
            );
        }
        let mut longest = Row::new(
            figure("longest main-thread task, login to 5 s after the roster (ms)"),
            field(line, "longest_task_ms"),
        );
        if converse {
            longest = longest.against("32000 (Converse.js)", number("longest_task_ms") / 32_000.0);
        }
        let heap = number("js_heap_mb")
            + number("wasm_mb")
            + number("worker_js_heap_mb")
            + number("worker_buffers_mb")
            + number("worker_wasm_mb");
        let mut heap_row = Row::new(
            figure("heap, page JS + page wasm + worker JS + worker buffers + worker wasm (MB)"),
            format!(
                "{heap:.1} ({} + {} + {} + {} + {})",
                field(line, "js_heap_mb"),
                field(line, "wasm_mb"),
                field(line, "worker_js_heap_mb"),
                field(line, "worker_buffers_mb"),
                field(line, "worker_wasm_mb")
            ),
        );
        heap_row = if converse {
            heap_row.against("214.0 (Converse.js); target 60", heap / 214.0)
        } else {
            heap_row.against("target 60", heap / 60.0)
        };
        rows.extend([
            login,
            Row::new(figure("rows in the page"), field(line, "rows_rendered")),
            Row::new(
                figure("main-thread tasks over 50 ms, login to 5 s after the roster (target 0)"),
                field(line, "longtasks"),
            ),
            longest,
            Row::new(
                figure("main-thread tasks over 50 ms while scrolling / longest (ms)"),
                format!(
                    "{} / {}",
                    field(line, "scroll_longtasks"),
                    field(line, "scroll_longest_task_ms")
                ),
            ),
            Row::new(
                figure("frames scrolled top to bottom / over 50 ms (target 0)"),
                format!(
                    "{} / {}",
                    field(line, "frames"),
                    field(line, "frames_over_50ms")
                ),
            ),
            Row::new(
                figure("scroll frame p95 / worst (ms)"),
                format!(
                    "{} / {}",
                    field(line, "p95_frame_ms"),
                    field(line, "worst_frame_ms")
                ),
            ),
            heap_row,
            Row::new(
                figure("vault creation: main-thread tasks over 50 ms / longest (ms)"),
                format!(
                    "{} / {}",
                    field(line, "vault_longtasks"),
                    field(line, "vault_longest_task_ms")
                ),
            ),
        ]);
    }
    Ok(rows)
}

/// Long tasks while people chat (`tests/e2e/examples/chat_bench.rs`): alice's app under mobile
/// emulation through first run, 5 000 kept messages arriving, unlock, opening that chat, a burst of
/// 200 messages, the AKE and SMP with bob's app. Target (issue #8): no task over 50 ms.
fn chat(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let lines = e2e_example(path, "chat_bench")?;
    let mut rows = Vec::new();
    for line in lines.iter().filter(|l| field(l, "name") == "chat") {
        let what = match field(line, "phase") {
            "first_run" => "first run: vault, registration, OTR key".to_string(),
            "receive_kept" => format!(
                "{} messages arriving, chat closed (history kept)",
                field(line, "messages")
            ),
            "unlock" => "unlock, to the account online".to_string(),
            "open_kept_chat" => "opening the chat with its kept history".to_string(),
            "burst_200" => "a burst of 200 messages, chat open".to_string(),
            "ake" => "starting a private conversation (AKE)".to_string(),
            "smp" => "verifying with a question (SMP)".to_string(),
            other => other.to_string(),
        };
        rows.push(Row::new(
            format!("chat: {what}: ms / tasks over 50 ms (target 0) / longest (ms)"),
            format!(
                "{} / {} / {}",
                field(line, "ms"),
                field(line, "longtasks"),
                field(line, "longest_task_ms")
            ),
        ));
    }
    Ok(rows)
}

/// Lighthouse 12 with its default mobile settings (`tests/e2e/examples/lighthouse_bench.rs`): the
/// page loads of the first-run and the unlock screens (performance, accessibility, best practices and
/// the metrics), and snapshots of the screens a page load cannot reach (accessibility, best
/// practices). Anchors: Converse.js's 88 and 92 (issue #8) and the targets, 95 and 100.
fn lighthouse(path: &std::ffi::OsString) -> Result<Vec<Row>, String> {
    let prefix = tools::ensure_lighthouse()?;
    let lines = e2e_example_with(
        path,
        "lighthouse_bench",
        &[("CANDADO_LIGHTHOUSE_DIR", prefix.as_os_str())],
    )?;
    let mut rows = Vec::new();
    let lines: Vec<_> = lines
        .iter()
        .filter(|l| field(l, "name") == "lighthouse")
        .collect();
    for line in lines.iter().filter(|l| field(l, "mode") == "navigation") {
        let page = field(line, "page");
        let first = page == "first-run";
        let figure = |what: &str| format!("lighthouse: {page} screen, page load: {what}");
        let number = |key: &str| field(line, key).parse::<f64>().unwrap_or(f64::NAN);
        let mut performance = Row::new(figure("performance"), field(line, "performance"));
        let mut accessibility = Row::new(figure("accessibility"), field(line, "accessibility"));
        if first {
            performance =
                performance.against("88 (Converse.js); target 95", number("performance") / 88.0);
            accessibility = accessibility.against(
                "92 (Converse.js); target 100",
                number("accessibility") / 92.0,
            );
        }
        rows.extend([
            performance,
            accessibility,
            Row::new(figure("best practices"), field(line, "best_practices")),
            Row::new(
                figure("FCP / LCP (ms)"),
                format!("{} / {}", field(line, "fcp_ms"), field(line, "lcp_ms")),
            ),
            Row::new(
                figure("TBT / Speed Index (ms)"),
                format!("{} / {}", field(line, "tbt_ms"), field(line, "si_ms")),
            ),
            Row::new(figure("CLS"), field(line, "cls")),
        ]);
    }
    for line in lines.iter().filter(|l| field(l, "mode") == "snapshot") {
        rows.push(Row::new(
            format!(
                "lighthouse: {} screen, snapshot: accessibility / best practices",
                field(line, "page")
            ),
            format!(
                "{} / {}",
                field(line, "accessibility"),
                field(line, "best_practices")
            ),
        ));
    }
    Ok(rows)
}

/// Milliseconds with enough digits for sub-millisecond figures.
fn ms(value: f64) -> String {
    if value < 0.1 {
        format!("{value:.4}")
    } else if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}
