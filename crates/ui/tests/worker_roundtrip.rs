//! The UI ↔ worker channel, for real: a dedicated module Worker runs the runtime's entry point from this
//! same test bundle, and the UI-side `WorkerLink` exchanges commands and events with it through
//! `postMessage`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use candado_api::{Command, Event, VaultFailure, VaultState};
use candado_ui::worker_link::{ScriptKind, WorkerLink};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A module worker that loads the test bundle wasm-bindgen-test-runner serves and starts the runtime in it.
fn spawn_runtime(events: Rc<RefCell<Vec<Event>>>) -> WorkerLink {
    // Keep the runtime linked into this bundle so the worker can call it.
    let _ = candado_runtime::candado_worker_start as fn();
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    let source = format!(
        "import init, {{ candado_worker_start }} from '{origin}/wasm-bindgen-test.js';\n\
         await init({{ module_or_path: '{origin}/wasm-bindgen-test_bg.wasm' }});\n\
         candado_worker_start();\n"
    );
    let parts = js_sys::Array::of1(&JsValue::from_str(&source));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).unwrap();
    let url = web_sys::Url::create_object_url_with_blob(&blob).unwrap();
    WorkerLink::spawn(&url, ScriptKind::Module, move |event| {
        events.borrow_mut().push(event)
    })
    .unwrap()
}

/// The answers to pings, in order (the worker also announces its vault's state).
fn pongs(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| matches!(e, Event::Pong { .. }))
        .cloned()
        .collect()
}

/// The vault states the worker announced, in order.
fn vault_states(events: &[Event]) -> Vec<VaultState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Vault { state } => Some(*state),
            _ => None,
        })
        .collect()
}

/// Waits (yielding to the event loop) until `done` holds for the events received, up to 30 s.
async fn wait_until(events: &Rc<RefCell<Vec<Event>>>, done: impl Fn(&[Event]) -> bool) {
    for _ in 0..600 {
        if done(&events.borrow()) {
            return;
        }
        sleep_ms(50).await;
    }
    panic!("timed out; events so far: {:?}", events.borrow());
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn commands_reach_the_worker_and_events_come_back() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let link = spawn_runtime(events.clone());
    wait_until(&events, |ev| ev.contains(&Event::Ready)).await;

    for nonce in [1, 2, u64::MAX] {
        link.send(&Command::Ping { nonce }).unwrap();
    }
    wait_until(&events, |ev| pongs(ev).len() >= 3).await;
    assert_eq!(events.borrow().first(), Some(&Event::Ready));
    assert_eq!(
        pongs(&events.borrow()),
        [
            Event::Pong { nonce: 1 },
            Event::Pong { nonce: 2 },
            Event::Pong { nonce: u64::MAX },
        ]
    );
}

#[wasm_bindgen_test]
async fn the_worker_reports_malformed_commands_and_keeps_working() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let link = spawn_runtime(events.clone());
    wait_until(&events, |ev| ev.contains(&Event::Ready)).await;

    link.send_raw("{\"type\":\"launch_missiles\"}").unwrap();
    link.send(&Command::Ping { nonce: 9 }).unwrap();
    wait_until(&events, |ev| ev.contains(&Event::Pong { nonce: 9 })).await;
    let events = events.borrow();
    let errors: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::ProtocolError { .. }))
        .collect();
    assert!(
        matches!(errors.as_slice(), [Event::ProtocolError { detail }] if detail.contains("malformed")),
        "{events:?}"
    );
}

#[wasm_bindgen_test]
async fn the_worker_reports_an_unreachable_server() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let link = spawn_runtime(events.clone());
    wait_until(&events, |ev| ev.contains(&Event::Ready)).await;

    // Port 9 on loopback (discard) is closed on the test machine: the WebSocket fails to open.
    link.send(&Command::Connect {
        server: candado_api::ServerConfig {
            domain: "localhost".into(),
            websocket_url: "ws://127.0.0.1:9/xmpp-websocket".into(),
        },
    })
    .unwrap();
    wait_until(&events, |ev| {
        ev.iter().any(|e| {
            matches!(
                e,
                Event::Connection {
                    state: candado_api::ConnectionState::Failed { .. }
                }
            )
        })
    })
    .await;
    let events = events.borrow();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Connection {
            state: candado_api::ConnectionState::Failed {
                reason: candado_api::FailureReason::Unreachable,
                ..
            }
        }
    )));
}

/// The vault in a real worker on real IndexedDB: first run, lock, a wrong passphrase (reported, the
/// vault stays locked), the right one.
#[wasm_bindgen_test]
async fn the_worker_creates_locks_and_unlocks_the_vault() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let link = spawn_runtime(events.clone());
    wait_until(&events, |ev| !vault_states(ev).is_empty()).await;
    assert_eq!(
        vault_states(&events.borrow()),
        [VaultState::Absent],
        "a fresh browser profile has no vault"
    );

    link.send(&Command::CreateVault {
        passphrase: "una frase larga de prueba".into(),
    })
    .unwrap();
    // The saved accounts (none) are a message of their own, after the vault's state: wait for
    // both (a timeout fails the test).
    wait_until(&events, |ev| {
        vault_states(ev).contains(&VaultState::Unlocked)
            && ev
                .iter()
                .any(|e| matches!(e, Event::SavedAccounts { accounts } if accounts.is_empty()))
    })
    .await;

    link.send(&Command::Lock).unwrap();
    wait_until(&events, |ev| {
        vault_states(ev).last() == Some(&VaultState::Locked)
    })
    .await;

    events.borrow_mut().clear();
    link.send(&Command::Unlock {
        passphrase: "otra frase".into(),
    })
    .unwrap();
    wait_until(&events, |ev| {
        vault_states(ev).last() == Some(&VaultState::Locked)
    })
    .await;
    assert!(events.borrow().iter().any(|e| matches!(
        e,
        Event::VaultFailed {
            reason: VaultFailure::WrongPassphrase,
            ..
        }
    )));
    assert_eq!(
        vault_states(&events.borrow()),
        [VaultState::Working, VaultState::Locked]
    );

    link.send(&Command::Unlock {
        passphrase: "una frase larga de prueba".into(),
    })
    .unwrap();
    wait_until(&events, |ev| {
        vault_states(ev).last() == Some(&VaultState::Unlocked)
    })
    .await;
}
