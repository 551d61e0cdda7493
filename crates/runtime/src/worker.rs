//! The worker's event loop: JS callbacks feed the engine, the engine's effects are performed here.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use candado_api::{Command, Event, VaultState};
use candado_engine::{Effect, Engine, SocketId, WEBSOCKET_PROTOCOL};
use getrandom::SysRng;
use rand_core::UnwrapErr;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, WebSocket};

use crate::store::{passphrase_of, Op, Outcome, Store};

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
    if crate::kdf::is_kdf_worker(&scope) {
        crate::kdf::serve(&scope);
        return;
    }
    let driver = Rc::new(RefCell::new(Driver {
        // The platform CSPRNG (`crypto.getRandomValues`); the engine draws OTR keys and nonces from it.
        engine: Engine::new(UnwrapErr(SysRng)),
        scope: scope.clone(),
        sockets: BTreeMap::new(),
        timer: None,
        store: Rc::new(RefCell::new(Store::default())),
        deliver: Rc::new(|_| {}),
        lock_after_pump: false,
    }));
    let weak = Rc::downgrade(&driver);
    driver.borrow_mut().deliver = Rc::new({
        let weak = weak.clone();
        move |outcome| deliver(&weak, outcome)
    });
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        let Some(driver) = weak.upgrade() else { return };
        let mut d = driver.borrow_mut();
        match msg.data().as_string().map(|s| Command::from_wire(&s)) {
            Some(Ok(command)) => d.command(command),
            Some(Err(err)) => d.engine.handle_malformed_command(err.to_string()),
            None => d
                .engine
                .handle_malformed_command("message is not a string".into()),
        }
        Driver::pump(&mut d, &driver);
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The network came back: lost connections try again now.
    let weak = Rc::downgrade(&driver);
    let ononline = Closure::<dyn FnMut()>::new(move || {
        let Some(driver) = weak.upgrade() else { return };
        let Ok(mut d) = driver.try_borrow_mut() else {
            return;
        };
        d.engine.handle_command(Command::Wake, now());
        Driver::pump(&mut d, &driver);
    });
    scope.set_ononline(Some(ononline.as_ref().unchecked_ref()));
    // The handlers live as long as the worker: the driver they point to is kept alive here.
    let keep = driver.clone();
    std::mem::forget(onmessage);
    std::mem::forget(ononline);
    std::mem::forget(keep);
    driver.borrow().post(Event::Ready);
    driver.borrow().vault(Op::Open);
}

/// Hands a vault outcome to the driver (never while it is busy: then a moment later).
fn deliver(weak: &Weak<RefCell<Driver>>, outcome: Outcome) {
    let Some(driver) = weak.upgrade() else { return };
    let Ok(mut d) = driver.try_borrow_mut() else {
        let weak = weak.clone();
        wasm_bindgen_futures::spawn_local(async move { deliver(&weak, outcome) });
        return;
    };
    match outcome {
        Outcome::State(state) => d.post(Event::Vault { state }),
        Outcome::Failed(reason, detail, state) => {
            d.post(Event::VaultFailed { reason, detail });
            if let Some(state) = state {
                d.post(Event::Vault { state });
            }
        }
        Outcome::WriteFailed(detail) => d.post(Event::VaultFailed {
            reason: candado_api::VaultFailure::Storage,
            detail,
        }),
        Outcome::Unlocked(records) => {
            for (kind, id, value) in records {
                d.engine.load_record(&kind, &id, &value);
            }
            d.post(Event::Vault {
                state: VaultState::Unlocked,
            });
            d.engine.handle_unlocked(now());
        }
    }
    Driver::pump(&mut d, &driver);
}

/// Milliseconds on the worker's clock.
fn now() -> u64 {
    js_sys::Date::now() as u64
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
    engine: Engine<UnwrapErr<SysRng>>,
    scope: DedicatedWorkerGlobalScope,
    /// The open sockets by the engine's name for them; events from a closed one are ignored.
    sockets: BTreeMap<SocketId, Socket>,
    /// The armed `setTimeout` for the engine's next deadline, and its callback.
    timer: Option<(i32, Closure<dyn FnMut()>)>,
    /// The vault's queue of operations.
    store: Rc<RefCell<Store>>,
    /// Where the vault's outcomes go (back into this driver).
    deliver: Rc<dyn Fn(Outcome)>,
    /// Lock the vault once the engine's last effects (after logging out) are performed.
    lock_after_pump: bool,
}

impl Driver {
    fn vault(&self, op: Op) {
        Store::push(&self.store, op, self.deliver.clone());
    }

    /// A command from the UI: the vault's and discovery are handled here, the rest by the engine.
    fn command(&mut self, command: Command) {
        match command {
            Command::CreateVault { passphrase } => {
                self.post(Event::Vault {
                    state: VaultState::Working,
                });
                self.vault(Op::Create(passphrase_of(passphrase.expose())));
            }
            Command::Unlock { passphrase } => {
                self.post(Event::Vault {
                    state: VaultState::Working,
                });
                self.vault(Op::Unlock(passphrase_of(passphrase.expose())));
            }
            Command::ChangePassphrase { current, new } => self.vault(Op::Change(
                passphrase_of(current.expose()),
                passphrase_of(new.expose()),
            )),
            Command::Lock => {
                // Logging out writes nothing new, but records still queued are written before the
                // keys go: the queue runs in order.
                self.engine.lock(now());
                self.lock_after_pump = true;
            }
            Command::Discover { domain } => {
                let scope = self.scope.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let websocket_url = crate::discover::websocket_of(&domain).await;
                    let event = Event::Discovered {
                        domain,
                        websocket_url,
                    };
                    let _ = scope.post_message(&JsValue::from_str(&event.to_wire()));
                });
            }
            other => self.engine.handle_command(other, now()),
        }
    }

    fn post(&self, event: Event) {
        for message in event.into_messages() {
            let _ = self
                .scope
                .post_message(&JsValue::from_str(&message.to_wire()));
        }
    }

    /// Performs every pending effect of the engine, then arms the timer.
    fn pump(d: &mut Driver, me: &Rc<RefCell<Driver>>) {
        while let Some(effect) = d.engine.poll_effect() {
            match effect {
                Effect::Emit(event) => d.post(event),
                Effect::OpenSocket { socket, url } => match open_socket(&url, socket, me) {
                    Ok(ws) => {
                        d.sockets.insert(socket, ws);
                    }
                    Err(_) => d.engine.handle_socket_closed(socket, now()),
                },
                Effect::SendFrame { socket, text } => {
                    let sent = d.sockets.get(&socket).map(|s| s.ws.send_with_str(&text));
                    if !matches!(sent, Some(Ok(()))) {
                        d.sockets.remove(&socket);
                        d.engine.handle_socket_closed(socket, now());
                    }
                }
                Effect::CloseSocket { socket } => {
                    d.sockets.remove(&socket);
                }
                Effect::PutRecord { kind, id, value } => d.vault(Op::Put(kind, id, value.0)),
                Effect::DeleteRecord { kind, id } => d.vault(Op::Delete(kind, id)),
            }
        }
        if std::mem::take(&mut d.lock_after_pump) {
            d.vault(Op::Lock);
        }
        Driver::arm_timer(d, me);
    }

    fn arm_timer(d: &mut Driver, me: &Rc<RefCell<Driver>>) {
        if let Some((handle, _)) = d.timer.take() {
            d.scope.clear_timeout_with_handle(handle);
        }
        let Some(deadline) = d.engine.poll_timeout() else {
            return;
        };
        let delay = deadline.saturating_sub(now()).min(i32::MAX as u64) as i32;
        let weak = Rc::downgrade(me);
        let callback = Closure::<dyn FnMut()>::new(move || {
            let Some(driver) = weak.upgrade() else { return };
            let Ok(mut d) = driver.try_borrow_mut() else {
                return;
            };
            d.timer = None;
            d.engine.handle_timeout(now());
            Driver::pump(&mut d, &driver);
        });
        if let Ok(handle) = d
            .scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                delay,
            )
        {
            d.timer = Some((handle, callback));
        }
    }
}

enum SocketInput {
    Open,
    Frame(String),
    Closed,
}

fn open_socket(url: &str, socket: SocketId, me: &Rc<RefCell<Driver>>) -> Result<Socket, JsValue> {
    let ws = WebSocket::new_with_str(url, WEBSOCKET_PROTOCOL)?;
    let make = |kind: fn(&web_sys::Event) -> SocketInput| {
        let weak = Rc::downgrade(me);
        Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Some(driver) = weak.upgrade() else { return };
            let Ok(mut d) = driver.try_borrow_mut() else {
                return;
            };
            if !d.sockets.contains_key(&socket) {
                return;
            }
            match kind(&ev) {
                SocketInput::Open => d.engine.handle_socket_open(socket, now()),
                SocketInput::Frame(text) => d.engine.handle_frame(socket, &text, now()),
                SocketInput::Closed => {
                    d.sockets.remove(&socket);
                    d.engine.handle_socket_closed(socket, now());
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
