//! `cargo xtask run`: the app and a private Prosody on loopback, until Ctrl-C.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use candado_harness::{workspace_root, Prosody, StaticServer};

use crate::tools;

/// The XMPP domain of the local Prosody (accounts are `name@localhost`).
pub const LOCAL_DOMAIN: &str = "localhost";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut release = false;
    let mut port: u16 = 8080;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--port" => {
                port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?
            }
            other => return Err(format!("unknown option {other:?} for `run`")),
        }
    }

    tools::ensure_packages(tools::RUN_PACKAGES)?;
    let path = tools::ensure_build_tools()?;
    // `--release` serves exactly what `cargo xtask dist` ships (service worker included).
    let dist = if release {
        crate::dist::build(&path, &workspace_root().join("dist"))?
    } else {
        tools::trunk_build(&path, false)?
    };

    let data = workspace_root().join(".candado").join("prosody");
    let prosody = Prosody::start(&data, LOCAL_DOMAIN)?;
    let server = StaticServer::start(&dist, port).map_err(|e| {
        format!("cannot serve on 127.0.0.1:{port} ({e}); choose another with `cargo xtask run --port N`")
    })?;
    let config = serde_json::json!({
        "domain": prosody.domain,
        "websocket_url": prosody.websocket_url(),
    });
    server.set_file(
        "/config.json",
        "application/json",
        config.to_string().into_bytes(),
    );

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }

    println!();
    println!("Candado is running: open {}", server.url());
    println!(
        "Sign up on the server \"{}\" (Prosody pid {}, WebSocket {}; data in {}).",
        prosody.domain,
        prosody.pid(),
        prosody.websocket_url(),
        data.display()
    );
    println!("Press Ctrl-C to stop.");

    let mut prosody = prosody;
    while !stop.load(Ordering::SeqCst) {
        if !prosody.is_running() && !stop.load(Ordering::SeqCst) {
            drop(server);
            return Err(format!(
                "Prosody stopped unexpectedly; its log:\n{}",
                prosody.log()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "\nStopping Prosody (pid {}) and the web server.",
        prosody.pid()
    );
    drop(server);
    prosody.stop();
    Ok(())
}
