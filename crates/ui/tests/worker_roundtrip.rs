//! The UI ↔ worker channel, for real: a dedicated module Worker runs the runtime's entry point from this
//! same test bundle, and the UI-side `WorkerLink` exchanges commands and events with it through
//! `postMessage`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use candado_api::{Command, Event};
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
    wait_until(&events, |ev| ev.len() >= 4).await;
    assert_eq!(
        events.borrow().as_slice(),
        &[
            Event::Ready,
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
    assert!(
        matches!(&events[1], Event::ProtocolError { detail } if detail.contains("malformed")),
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
