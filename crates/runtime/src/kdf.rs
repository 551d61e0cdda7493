//! Argon2id in a worker of its own, so that its memory is given back.
//!
//! The vault's Argon2id blocks take up to 64 MiB, and a WebAssembly memory grows but never
//! shrinks: run in the runtime worker, those 64 MiB would stay with the app until the tab closes
//! (measured: 68.7 MB of worker memory, on a phone where every megabyte counts). So the runtime
//! starts a second worker from its own script, named [`KDF_WORKER_NAME`], for each derivation
//! and each calibration, and terminates it once it has answered: the browser frees its memory
//! with it.
//!
//! - The KDF worker is the same loader, glue and wasm as the runtime worker (already checked by
//!   the service worker); [`crate::candado_worker_start`] sees the name and calls [`serve`]
//!   instead of starting the runtime. It says `ready`, answers one request, and is terminated.
//! - The passphrase crosses to it in a `Uint8Array` that both sides overwrite with zeros once
//!   copied; the key comes back the same way.
//! - If the worker cannot be started (no nested workers, a script that does not load, no `ready`
//!   within [`START_TIMEOUT_MS`]), Argon2id runs in place, as before: slower to give memory
//!   back, never a failed unlock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use candado_vault::{argon2id, calibrate, InPlace, KdfError, KdfFuture, KdfParams, KdfRunner};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, ErrorEvent, MessageEvent, Worker, WorkerOptions};
use zeroize::Zeroizing;

/// The name the runtime gives its KDF worker (`DedicatedWorkerGlobalScope.name`).
pub const KDF_WORKER_NAME: &str = "candado-kdf";
/// What the KDF worker posts once it listens.
const READY: &str = "ready";
/// How long the KDF worker may take to load and say `ready` before Argon2id runs in place.
pub const START_TIMEOUT_MS: i32 = 20_000;

/// Whether this worker is a KDF worker.
pub(crate) fn is_kdf_worker(scope: &DedicatedWorkerGlobalScope) -> bool {
    scope.name() == KDF_WORKER_NAME
}

fn now() -> Duration {
    Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a property on a plain object does not fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// The bytes of the `Uint8Array` at `key` (empty if there is none), which is then overwritten
/// with zeros.
fn take_bytes(object: &JsValue, key: &str) -> Zeroizing<Vec<u8>> {
    match get(object, key).dyn_into::<Uint8Array>() {
        Ok(array) => {
            let bytes = Zeroizing::new(array.to_vec());
            array.fill(0, 0, array.length());
            bytes
        }
        Err(_) => Zeroizing::new(Vec::new()),
    }
}

fn params_of(object: &JsValue) -> Option<KdfParams> {
    let number = |key| {
        get(object, key)
            .as_f64()
            .filter(|v| v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(v))
            .map(|v| v as u32)
    };
    KdfParams::new(number("m")?, number("t")?, number("p")?).ok()
}

fn put_params(object: &Object, params: KdfParams) {
    set(object, "m", &JsValue::from(params.m_kib()));
    set(object, "t", &JsValue::from(params.t()));
    set(object, "p", &JsValue::from(params.p()));
}

/// In the KDF worker: answers requests until it is terminated.
pub(crate) fn serve(scope: &DedicatedWorkerGlobalScope) {
    let reply_to = scope.clone();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        let reply = answer(&msg.data());
        if reply_to.post_message(&reply).is_err() {
            reply_to.close();
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as this worker.
    onmessage.forget();
    let _ = scope.post_message(&JsValue::from_str(READY));
}

/// One request: `{op: "argon2id", passphrase, salt, m, t, p}` → `{key}`, or
/// `{op: "calibrate", targetMs}` → `{m, t, p}`; a failure → `{error, outOfMemory}`.
fn answer(request: &JsValue) -> JsValue {
    let out = Object::new();
    let failed = |out: &Object, why: &str, out_of_memory: bool| {
        set(out, "error", &JsValue::from_str(why));
        set(out, "outOfMemory", &JsValue::from_bool(out_of_memory));
    };
    match get(request, "op").as_string().as_deref() {
        Some("argon2id") => {
            let passphrase = take_bytes(request, "passphrase");
            let salt = take_bytes(request, "salt");
            match params_of(request) {
                None => failed(&out, "Argon2id parameters out of range", false),
                Some(params) => match argon2id(&passphrase, &salt, params) {
                    Ok(key) => set(&out, "key", &Uint8Array::from(&key[..])),
                    Err(e) => failed(&out, &e.to_string(), e == KdfError::OutOfMemory),
                },
            }
        }
        Some("calibrate") => {
            let target = get(request, "targetMs").as_f64().unwrap_or(1000.0);
            let target = Duration::from_millis(target.clamp(1.0, 60_000.0) as u64);
            match calibrate(target, now) {
                Ok(c) => put_params(&out, c.params),
                Err(e) => failed(&out, &e.to_string(), e == KdfError::OutOfMemory),
            }
        }
        _ => failed(&out, "unknown request", false),
    }
    out.into()
}

/// Starts a KDF worker, sends it `request` once it is ready, and returns its answer; the worker
/// is terminated in every case. `Err` if it could not be started or failed.
async fn in_worker(request: &Object) -> Result<JsValue, String> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| "not in a dedicated worker".to_string())?;
    let url = scope.location().href();
    let options = WorkerOptions::new();
    options.set_name(KDF_WORKER_NAME);
    let worker = Worker::new_with_options(&url, &options)
        .map_err(|e| format!("cannot start a worker: {e:?}"))?;
    type Settle = Rc<RefCell<Option<(Function, Function)>>>;
    let settle: Settle = Rc::default();
    let promise = Promise::new(&mut |resolve, reject| {
        *settle.borrow_mut() = Some((resolve, reject));
    });
    let fail = |settle: &Settle, why: &str| {
        if let Some((_, reject)) = settle.borrow_mut().take() {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(why));
        }
    };
    let ready = Rc::new(Cell::new(false));
    let onmessage = {
        let (settle, ready, worker, request) = (
            settle.clone(),
            ready.clone(),
            worker.clone(),
            request.clone(),
        );
        Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let data = msg.data();
            if !ready.get() && data.as_string().as_deref() == Some(READY) {
                ready.set(true);
                if worker.post_message(&request).is_err() {
                    fail(&settle, "cannot send the request");
                }
                return;
            }
            if let Some((resolve, _)) = settle.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &data);
            }
        })
    };
    let onerror = {
        let settle = settle.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let why = event
                .dyn_ref::<ErrorEvent>()
                .map(|e| e.message())
                .unwrap_or_else(|| "the worker failed".to_string());
            fail(&settle, &why);
        })
    };
    let ontimeout = {
        let (settle, ready) = (settle.clone(), ready.clone());
        Closure::<dyn FnMut()>::new(move || {
            if !ready.get() {
                fail(&settle, "the worker did not start in time");
            }
        })
    };
    worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    let timer = scope
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            ontimeout.as_ref().unchecked_ref(),
            START_TIMEOUT_MS,
        )
        .ok();
    let result = JsFuture::from(promise).await;
    if let Some(timer) = timer {
        scope.clear_timeout_with_handle(timer);
    }
    worker.set_onmessage(None);
    worker.set_onerror(None);
    worker.terminate();
    drop((onmessage, onerror, ontimeout));
    result.map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

fn log(text: &str) {
    web_sys::console::warn_1(&JsValue::from_str(text));
}

/// Runs Argon2id in a KDF worker, terminated once it answers (see the module docs); in place
/// if that worker cannot be started.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerKdf;

impl KdfRunner for WorkerKdf {
    fn argon2id<'a>(
        &'a self,
        passphrase: &'a [u8],
        salt: &'a [u8],
        params: KdfParams,
    ) -> KdfFuture<'a> {
        Box::pin(async move {
            let request = Object::new();
            let secret = Uint8Array::from(passphrase);
            set(&request, "op", &JsValue::from_str("argon2id"));
            set(&request, "passphrase", &secret);
            set(&request, "salt", &Uint8Array::from(salt));
            put_params(&request, params);
            let answer = in_worker(&request).await;
            // The worker got its own copy when the request was posted.
            secret.fill(0, 0, secret.length());
            match answer {
                Ok(reply) => {
                    let key = take_bytes(&reply, "key");
                    match <[u8; 32]>::try_from(key.as_slice()) {
                        Ok(bytes) => Ok(Zeroizing::new(bytes)),
                        Err(_) if get(&reply, "outOfMemory").as_bool() == Some(true) => {
                            Err(KdfError::OutOfMemory)
                        }
                        Err(_) => Err(KdfError::Failed),
                    }
                }
                Err(why) => {
                    log(&format!(
                        "candado: Argon2id runs in the runtime worker ({why}); its memory stays in use"
                    ));
                    InPlace.argon2id(passphrase, salt, params).await
                }
            }
        })
    }
}

/// The Argon2id parameters that take about `target` on this device, measured in a KDF worker (in
/// place if it cannot be started); the floor if not even that much memory can be had.
pub async fn calibrate_params(target: Duration) -> KdfParams {
    let request = Object::new();
    set(&request, "op", &JsValue::from_str("calibrate"));
    set(
        &request,
        "targetMs",
        &JsValue::from_f64(target.as_millis() as f64),
    );
    match in_worker(&request).await {
        Ok(reply) => params_of(&reply).unwrap_or(KdfParams::MINIMUM),
        Err(why) => {
            log(&format!(
                "candado: calibrating in the runtime worker ({why}); its memory stays in use"
            ));
            calibrate(target, now)
                .map(|c| c.params)
                .unwrap_or(KdfParams::MINIMUM)
        }
    }
}
