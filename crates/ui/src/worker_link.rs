//! The UI's end of the UI ↔ worker channel: spawns the runtime worker, sends it commands, and hands each
//! event it posts back to a callback. Messages travel as JSON strings (see [`candado_api`]).

use candado_api::{Command, Event};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// The script Trunk emits for the runtime worker (workers keep unhashed names).
pub const WORKER_SCRIPT: &str = "./candado-worker_loader.js";

/// How the worker script is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptKind {
    /// A classic script (Trunk's loader shim uses `importScripts`).
    Classic,
    /// An ES module.
    Module,
}

/// A running runtime worker. Dropping it terminates the worker.
pub struct WorkerLink {
    worker: Worker,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onerror: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl std::fmt::Debug for WorkerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerLink").finish_non_exhaustive()
    }
}

impl WorkerLink {
    /// Starts the worker at `script_url`; `on_event` receives every event it posts, in order. A message
    /// that is not a valid event, and an error in the worker (for instance its script failing to load),
    /// become [`Event::ProtocolError`].
    pub fn spawn(
        script_url: &str,
        kind: ScriptKind,
        on_event: impl FnMut(Event) + 'static,
    ) -> Result<WorkerLink, JsValue> {
        let options = WorkerOptions::new();
        options.set_type(match kind {
            ScriptKind::Classic => WorkerType::Classic,
            ScriptKind::Module => WorkerType::Module,
        });
        options.set_name("candado-runtime");
        let worker = Worker::new_with_options(script_url, &options)?;
        let on_event = std::rc::Rc::new(std::cell::RefCell::new(on_event));
        let on_error = on_event.clone();
        let onerror =
            Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |err: web_sys::ErrorEvent| {
                let detail = format!(
                    "worker error: {} ({}:{})",
                    err.message(),
                    err.filename(),
                    err.lineno()
                );
                if let Ok(mut f) = on_error.try_borrow_mut() {
                    f(Event::ProtocolError { detail });
                }
            });
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let event = match msg.data().as_string() {
                Some(text) => Event::from_wire(&text).unwrap_or_else(|err| Event::ProtocolError {
                    detail: err.to_string(),
                }),
                None => Event::ProtocolError {
                    detail: "worker message is not a string".into(),
                },
            };
            if let Ok(mut f) = on_event.try_borrow_mut() {
                f(event);
            }
        });
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        Ok(WorkerLink {
            worker,
            _onmessage: onmessage,
            _onerror: onerror,
        })
    }

    /// Sends a command to the worker.
    pub fn send(&self, command: &Command) -> Result<(), JsValue> {
        self.worker
            .post_message(&JsValue::from_str(&command.to_wire()))
    }

    /// Sends raw text, for tests of the worker's handling of malformed messages.
    pub fn send_raw(&self, text: &str) -> Result<(), JsValue> {
        self.worker.post_message(&JsValue::from_str(text))
    }
}

impl Drop for WorkerLink {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}
