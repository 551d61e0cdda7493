//! The worker's event loop: JS callbacks feed the engine, the engine's effects are performed here.

use std::cell::RefCell;
use std::rc::Rc;

use candado_api::{Command, Event};
use candado_engine::{Effect, Engine, WEBSOCKET_PROTOCOL};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, WebSocket};

/// Starts the runtime in the current dedicated worker: installs the message handler and tells the UI it
/// is ready. Called by the worker binary's `main`, and exported so a test page can start the same code in a
/// module worker.
#[wasm_bindgen]
pub fn candado_worker_start() {
    console_error_panic_hook::set_once();
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        web_sys_log("candado: candado_worker_start must run inside a dedicated worker");
        return;
    };
    let driver = Rc::new(RefCell::new(Driver {
        engine: Engine::new(),
        scope: scope.clone(),
        socket: None,
        generation: 0,
    }));
    let weak = Rc::downgrade(&driver);
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        let Some(driver) = weak.upgrade() else { return };
        let mut d = driver.borrow_mut();
        match msg.data().as_string().map(|s| Command::from_wire(&s)) {
            Some(Ok(command)) => d.engine.handle_command(command),
            Some(Err(err)) => d.engine.handle_malformed_command(err.to_string()),
            None => d
                .engine
                .handle_malformed_command("message is not a string".into()),
        }
        Driver::pump(&mut d, &driver);
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker: the driver it points to is kept alive by this closure.
    let keep = driver.clone();
    std::mem::forget(onmessage);
    std::mem::forget(keep);
    driver.borrow().post(&Event::Ready);
}

fn web_sys_log(text: &str) {
    web_sys::console::error_1(&JsValue::from_str(text));
}

/// An open WebSocket and the callbacks attached to it; dropping it detaches them.
struct Socket {
    ws: WebSocket,
    _callbacks: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

struct Driver {
    engine: Engine,
    scope: DedicatedWorkerGlobalScope,
    socket: Option<Socket>,
    /// Incremented for every socket, so events from a replaced socket are ignored.
    generation: u64,
}

impl Driver {
    fn post(&self, event: &Event) {
        let _ = self
            .scope
            .post_message(&JsValue::from_str(&event.to_wire()));
    }

    /// Performs every pending effect of the engine.
    fn pump(d: &mut Driver, me: &Rc<RefCell<Driver>>) {
        while let Some(effect) = d.engine.poll_effect() {
            match effect {
                Effect::Emit(event) => d.post(&event),
                Effect::OpenSocket { url } => {
                    d.socket = None;
                    d.generation += 1;
                    match open_socket(&url, d.generation, me) {
                        Ok(socket) => d.socket = Some(socket),
                        Err(_) => d.engine.handle_socket_closed(),
                    }
                }
                Effect::SendFrame { text } => {
                    let sent = d.socket.as_ref().map(|s| s.ws.send_with_str(&text));
                    if !matches!(sent, Some(Ok(()))) {
                        d.socket = None;
                        d.engine.handle_socket_closed();
                    }
                }
                Effect::CloseSocket => d.socket = None,
            }
        }
    }
}

enum SocketInput {
    Open,
    Frame(String),
    Closed,
}

fn open_socket(url: &str, generation: u64, me: &Rc<RefCell<Driver>>) -> Result<Socket, JsValue> {
    let ws = WebSocket::new_with_str(url, WEBSOCKET_PROTOCOL)?;
    let make = |kind: fn(&web_sys::Event) -> SocketInput| {
        let weak = Rc::downgrade(me);
        Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Some(driver) = weak.upgrade() else { return };
            let Ok(mut d) = driver.try_borrow_mut() else {
                return;
            };
            if d.generation != generation {
                return;
            }
            match kind(&ev) {
                SocketInput::Open => d.engine.handle_socket_open(),
                SocketInput::Frame(text) => d.engine.handle_frame(&text),
                SocketInput::Closed => {
                    d.socket = None;
                    d.engine.handle_socket_closed();
                }
            }
            Driver::pump(&mut d, &driver);
        })
    };
    let onopen = make(|_| SocketInput::Open);
    let onmessage = make(|ev| {
        let text = ev
            .dyn_ref::<MessageEvent>()
            .and_then(|m| m.data().as_string());
        // RFC 7395 frames are text; a binary frame is not XMPP, so pass on something that is not a frame.
        SocketInput::Frame(text.unwrap_or_default())
    });
    let onclose = make(|_| SocketInput::Closed);
    ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    // `error` is always followed by `close`; the close handler does the work.
    Ok(Socket {
        ws,
        _callbacks: vec![onopen, onmessage, onclose],
    })
}
