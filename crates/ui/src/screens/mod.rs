//! The screens, one module each, and the shell that picks one from the store.
//!
//! Every element a test or a person relies on has a stable id (listed in the crate's brief); the
//! current screen is named by `<main id="screen" data-screen="…">`.

use candado_api::{ConnectionState, FailureReason};
use leptos::prelude::*;

use crate::logic::Screen;
use crate::store::{Status, Store};
use crate::texts::{td_string, Locale};

/// A composer (chat or group): `text` is sent by `send` when it is not blank (then cleared), from
/// the send button or from Enter (Shift+Enter and IME composition insert a newline instead).
/// Returns the submit and keydown handlers.
fn composer(
    text: RwSignal<String>,
    send: impl Fn(String) + Copy + 'static,
) -> (
    impl Fn() + Copy + 'static,
    impl Fn(leptos::ev::KeyboardEvent) + Copy + 'static,
) {
    let submit = move || {
        let body = text.get_untracked();
        if !body.trim().is_empty() {
            send(body);
            text.set(String::new());
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };
    (submit, on_key)
}

mod add_account;
mod chat;
mod contacts;
mod group;
mod invitations;
mod settings;
mod vault;
mod verify;

pub use chat::HISTORY_PAGE;

/// A reactive text of the current language: `tr!(store, field)`.
#[macro_export]
macro_rules! tr {
    ($store:expr, $field:ident) => {{
        let store = $store;
        move || $crate::texts::td_string!(store.locale(), $field)
    }};
}

/// The whole app below `<body>`: brand, the current screen, the connection status area, the live
/// regions and the incoming-verification prompt.
#[component]
pub fn Shell(store: Store) -> impl IntoView {
    let screen = Memo::new(move |_| store.screen());
    let peer = move || store.chat_peer().unwrap_or_default();
    let body = move || match screen.get() {
        Screen::Starting => view! { <p class="muted">{tr!(store, loading)}</p> }.into_any(),
        Screen::FirstRun => view! { <vault::FirstRun store=store /> }.into_any(),
        Screen::Unlock => view! { <vault::Unlock store=store /> }.into_any(),
        Screen::Working => view! { <vault::Working store=store /> }.into_any(),
        Screen::AddAccount => view! { <add_account::AddAccount store=store /> }.into_any(),
        Screen::Contacts => view! { <contacts::Contacts store=store /> }.into_any(),
        Screen::Chat => view! { <chat::Chat store=store /> }.into_any(),
        Screen::Group => view! { <group::Group store=store /> }.into_any(),
        Screen::Settings => view! { <settings::Settings store=store /> }.into_any(),
    };
    view! {
        <UpdateBanner store=store />
        <div class="shell">
            <header class="brand">
                <h1>"Candado"</h1>
                <p class="tagline">{tr!(store, tagline)}</p>
            </header>
            <main
                id="screen"
                data-screen=move || screen.get().id()
                data-peer=move || (screen.get() == Screen::Chat).then(peer)
                data-room=move || (screen.get() == Screen::Group).then(|| store.group_room().unwrap_or_default())
            >
                {body}
            </main>
            <StatusArea
                store=store
                compact=Signal::derive(move || matches!(screen.get(), Screen::Chat | Screen::Group))
                starting=Signal::derive(move || screen.get() == Screen::Starting)
            />
            <div id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true">
                {move || store.announce.get()}
            </div>
            <div id="alert-announcer" class="visually-hidden" aria-live="assertive" aria-atomic="true">
                {move || store.alert.get()}
            </div>
            <verify::SmpIncoming store=store />
        </div>
    }
}

/// "A new version is ready — Reload": shown when the boot script reports a waiting service worker
/// (`candado:update-waiting`, or `data-update="waiting"` on `<html>` if that came before the app). Only the
/// person's click takes the new version (`candado:update-accept`; the boot script then activates it and
/// reloads), so nothing is swapped under an open conversation.
#[component]
fn UpdateBanner(store: Store) -> impl IntoView {
    use wasm_bindgen::JsCast;
    let waiting = RwSignal::new(
        crate::web::document()
            .and_then(|d| d.document_element())
            .and_then(|root| root.get_attribute("data-update"))
            .as_deref()
            == Some("waiting"),
    );
    if let Some(window) = web_sys::window() {
        let on_waiting =
            wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || waiting.set(true));
        let _ = window.add_event_listener_with_callback(
            "candado:update-waiting",
            on_waiting.as_ref().unchecked_ref(),
        );
        on_waiting.forget();
    }
    let reload = move |_| {
        if let (Some(window), Ok(event)) = (
            web_sys::window(),
            web_sys::Event::new("candado:update-accept"),
        ) {
            let _ = window.dispatch_event(&event);
        }
    };
    view! {
        <Show when=move || waiting.get()>
            <div id="update-banner" class="update-banner" role="status">
                <p>{tr!(store, update_available)}</p>
                <button id="update-reload" type="button" on:click=reload>
                    {tr!(store, update_reload)}
                </button>
            </div>
        </Show>
    }
}

/// What the status area shows for a status.
#[derive(Debug)]
struct StatusView {
    /// Stable machine-readable state, for tests and styling.
    key: &'static str,
    text: &'static str,
    help: Option<&'static str>,
    can_retry: bool,
}

fn describe(status: &Status, t: Locale) -> StatusView {
    let view = |key, text: &'static str, help: Option<&'static str>, can_retry| StatusView {
        key,
        text,
        help,
        can_retry,
    };
    match status {
        Status::Starting => view("starting", td_string!(t, starting), None, false),
        Status::WorkerError => view(
            "failed",
            td_string!(t, failed),
            Some(td_string!(t, worker_error)),
            false,
        ),
        Status::Unverified => view(
            "failed",
            td_string!(t, failed),
            Some(td_string!(t, unverified_error)),
            false,
        ),
        Status::ConfigError(_) => view(
            "failed",
            td_string!(t, failed),
            Some(td_string!(t, config_error)),
            false,
        ),
        Status::Connection(state) => match state {
            ConnectionState::Disconnected => {
                view("disconnected", td_string!(t, disconnected), None, true)
            }
            ConnectionState::Connecting { .. } => {
                view("connecting", td_string!(t, connecting), None, false)
            }
            ConnectionState::Connected { .. } => {
                view("connected", td_string!(t, connected), None, false)
            }
            ConnectionState::Failed { reason, .. } => {
                let help = match reason {
                    FailureReason::Unreachable => td_string!(t, unreachable_help),
                    FailureReason::NotXmpp => td_string!(t, not_xmpp_help),
                    FailureReason::InvalidUrl => td_string!(t, invalid_url_help),
                    FailureReason::StreamError => td_string!(t, stream_error_help),
                };
                view("failed", td_string!(t, failed), Some(help), true)
            }
        },
    }
}

/// Sends the connection probe to the configured server.
pub fn probe(store: Store) {
    if let Some(server) = store.server.get_untracked() {
        store.send(candado_api::Command::Connect { server });
    }
}

/// The connection probe's status: `#server-domain`, `#connection-status`, `#connection-help`, `#retry`.
///
/// While the first screen is not known yet (`starting`), the area waits hidden unless something
/// failed: shown under "Loading…", it would be pushed down as the screen arrives above it (a layout
/// shift on every start), and until then it would only repeat that the app is starting.
#[component]
fn StatusArea(store: Store, compact: Signal<bool>, starting: Signal<bool>) -> impl IntoView {
    let view_of = move || describe(&store.status.get(), store.locale());
    let waiting =
        move || starting.get() && matches!(view_of().key, "starting" | "connecting" | "connected");
    view! {
        <section
            class="card status-area"
            class:compact=move || compact.get()
            hidden=waiting
            aria-labelledby="connection-status"
        >
            <p class="server">
                {tr!(store, server_label)} ": "
                <span id="server-domain">
                    {move || store.server.get().map(|s| s.domain).unwrap_or_default()}
                </span>
            </p>
            <p
                id="connection-status"
                class="status"
                role="status"
                aria-live="polite"
                data-state=move || view_of().key
            >
                {move || view_of().text}
            </p>
            <p class="help" id="connection-help">
                {move || view_of().help.unwrap_or_default()}
            </p>
            <button
                type="button"
                id="retry"
                hidden=move || !view_of().can_retry
                on:click=move |_| probe(store)
            >
                {tr!(store, retry)}
            </button>
        </section>
    }
}
