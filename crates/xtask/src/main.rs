//! `cargo xtask`: the project's commands (see README.md).
//!
//! - `cargo xtask run [--release] [--port N]`: install what is missing, start a private Prosody, build the
//!   app with Trunk and serve it on http://127.0.0.1:8080 until Ctrl-C.
//! - `cargo xtask test [PART…]`: install test prerequisites, run every check (or only the named parts), end
//!   with one line `N passed, N failed`.
//! - `cargo xtask dist [--out DIR] [--check-reproducible]`: the release `dist/` as it ships (hashed boot script, integrity on every
//!   reference, manifest, icons, service worker, `SHA256SUMS`).
//! - `cargo xtask bench [size] [load] [otr] [vault] [scale] [chat]`: print figures (never pass/fail).
//! - `cargo xtask fuzz [--minutes N] [TARGET…]`: run the libFuzzer targets (10 minutes each by default),
//!   growing the committed corpus; not part of `test`.

mod bench;
mod dist;
mod fuzz;
mod run;
mod steps;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

  run [--release] [--port N]   build the app and serve it with a private Prosody (Ctrl-C stops)
  test [PART...]               run the checks; PART is one of: lint native otr xmpp vault web interop e2e
  dist [--out DIR] [--check-reproducible]
                               the release dist/ with manifest, service worker and SHA256SUMS;
                               with the flag, build again from source and compare
  bench [size] [load] [otr] [vault] [scale] [chat]
                               print figures: first-load size and time, OTR and Argon2id native vs
                               browser, big rosters, long tasks while chatting
  fuzz [--minutes N] [TARGET...]
                               run the fuzz targets N minutes each (default 10), growing fuzz/corpus
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("", &[][..]),
    };
    let result = match command {
        "run" => run::run(rest),
        "test" => return test::test(rest),
        "bench" => bench::bench(rest),
        "dist" => dist::command(rest),
        "fuzz" => fuzz::fuzz(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command {command:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
