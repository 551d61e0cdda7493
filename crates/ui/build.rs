//! Compiles `locales/es.json` and `locales/en.json` into typed text keys with `leptos_i18n`'s own parser
//! and code generator (the same code `leptos_i18n_build` runs, without its ICU4X data generator, which
//! Candado does not need: no plurals, no number or date formatting).
//!
//! The build fails on any problem the parser reports, warnings included: a key missing from one language,
//! an extra key, a placeholder one language has and the other lacks. The generated module is
//! `$OUT_DIR/i18n/mod.rs`, included by `src/texts.rs` on wasm32 (the only target with a user interface).

use std::path::PathBuf;

use leptos_i18n_parser::parse_locales::options::{Config, ParseOptions};
use leptos_i18n_parser::parse_locales::parse_locales;

fn main() {
    if let Err(problem) = generate() {
        // A build script reports failure through its exit status; the message says what to fix.
        eprintln!("candado-ui: the interface texts do not compile: {problem}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), String> {
    println!("cargo::rerun-if-changed=locales/es.json");
    println!("cargo::rerun-if-changed=locales/en.json");
    println!("cargo::rerun-if-changed=build.rs");

    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?).join("i18n");

    let options = ParseOptions::default().interpolate_display(true);
    let config = Config::new("es")
        .and_then(|config| config.add_locale("en"))
        .map_err(|e| e.to_string())?
        .parse_options(options);
    let parsed = parse_locales(Some(manifest_dir), config).map_err(|e| e.to_string())?;

    let (errors, warnings) = parsed.diag.borrow();
    let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    problems.extend(warnings.iter().map(ToString::to_string));
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    drop((errors, warnings));

    let code = leptos_i18n_codegen::gen_code(&parsed, None, false, None, false)
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let file = out_dir.join("mod.rs");
    std::fs::write(&file, code.to_string()).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run through cargo)"))
}
