//! The app: starts the worker, feeds its events into the store, loads `config.json`, keeps the
//! connection probe, and watches inactivity (auto-lock), visibility and the network (wake).

use std::cell::{Cell, RefCell};

use candado_api::{Command, Direction, Event, VaultState};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::lang::Lang;
use crate::logic;
use crate::screens::{probe, Shell};
use crate::store::{Status, Store};
use crate::texts::td_string;
use crate::web::{self, keys};
use crate::worker_link::{ScriptKind, WorkerLink, WORKER_SCRIPT};

thread_local! {
    static LINK: RefCell<Option<WorkerLink>> = const { RefCell::new(None) };
    static LAST_ACTIVITY: Cell<f64> = const { Cell::new(0.0) };
}

fn send(command: Command) {
    LINK.with(|link| {
        if let Some(link) = link.borrow().as_ref() {
            let _ = link.send(&command);
        }
    });
}

/// Mounts the app on `<body>`. Called once by the page's `main`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The interface language: the one chosen in the settings, else the browser's.
fn initial_lang() -> Lang {
    web::load(keys::LANGUAGE)
        .and_then(|tag| Lang::from_tag(&tag))
        .unwrap_or_else(|| {
            let languages = web::browser_languages();
            Lang::from_preferences(languages.iter().map(String::as_str))
        })
}

/// Calls `f` on every `event` of `target` for the life of the page.
fn listen(target: &web_sys::EventTarget, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

#[component]
fn App() -> impl IntoView {
    let lang = initial_lang();
    web::set_document_lang(lang.tag());
    let store = Store::new(lang, send);

    // The runtime worker starts once the boot script says its files are checked (web::worker_gate).
    leptos::task::spawn_local(async move {
        if !web::worker_gate().await {
            store.status.set(Status::Unverified);
            return;
        }
        match WorkerLink::spawn(WORKER_SCRIPT, ScriptKind::Classic, move |event| {
            let notify = match &event {
                Event::Message { message, .. } => message.direction == Direction::Incoming,
                Event::RoomMessage { message, .. } => !message.own,
                _ => false,
            };
            store.apply(event);
            if notify
                && web::page_hidden()
                && web::load(keys::NOTIFICATIONS).as_deref() == Some("1")
            {
                web::notify(td_string!(store.locale_untracked(), new_message));
            }
        }) {
            Ok(link) => LINK.with(|l| *l.borrow_mut() = Some(link)),
            Err(_) => store.status.set(Status::WorkerError),
        }
    });

    leptos::task::spawn_local(async move {
        match crate::config::load().await {
            Ok(config) => store.server.set(Some(config)),
            Err(err) => store.status.set(Status::ConfigError(err.0)),
        }
    });

    // The connection probe: once both the worker and the configuration are ready.
    Effect::new(move |_| {
        if store.worker_ready.get() && store.server.with(Option::is_some) {
            probe(store);
        }
    });

    watch_activity(store);
    view! { <Shell store=store /> }
}

/// Auto-lock after inactivity; `Wake` when the page becomes visible or the network comes back.
fn watch_activity(store: Store) {
    let (Some(window), Some(document)) = (web_sys::window(), web::document()) else {
        return;
    };
    LAST_ACTIVITY.with(|c| c.set(web::now_ms()));
    for event in ["pointerdown", "keydown", "touchstart", "wheel"] {
        listen(&document, event, |_| {
            LAST_ACTIVITY.with(|c| c.set(web::now_ms()));
        });
    }
    listen(&document, "visibilitychange", move |_| {
        if !web::page_hidden() && store.worker_ready.get_untracked() {
            send(Command::Wake);
        }
    });
    listen(&window, "online", move |_| {
        if store.worker_ready.get_untracked() {
            send(Command::Wake);
        }
    });
    let tick = Closure::<dyn FnMut()>::new(move || {
        if store.vault.get_untracked() != Some(VaultState::Unlocked) {
            LAST_ACTIVITY.with(|c| c.set(web::now_ms()));
            return;
        }
        let Some(limit) = logic::auto_lock_ms(web::load(keys::AUTO_LOCK).as_deref()) else {
            return;
        };
        let idle = web::now_ms() - LAST_ACTIVITY.with(Cell::get);
        if idle >= limit {
            LAST_ACTIVITY.with(|c| c.set(web::now_ms()));
            send(Command::Lock);
        }
    });
    let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        10_000,
    );
    tick.forget();
}
