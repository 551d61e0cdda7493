//! The app shell: connection status to the configured server.

use std::cell::RefCell;

use candado_api::{Command, ConnectionState, Event, FailureReason, ServerConfig};
use leptos::prelude::*;

use crate::i18n::{Lang, Texts};
use crate::worker_link::{ScriptKind, WorkerLink, WORKER_SCRIPT};

thread_local! {
    static LINK: RefCell<Option<WorkerLink>> = const { RefCell::new(None) };
}

fn send(command: &Command) {
    LINK.with(|link| {
        if let Some(link) = link.borrow().as_ref() {
            let _ = link.send(command);
        }
    });
}

/// Mounts the app on `<body>`. Called once by the page's `main`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

fn browser_lang() -> Lang {
    let languages: Vec<String> = web_sys::window()
        .map(|w| {
            w.navigator()
                .languages()
                .iter()
                .filter_map(|v| v.as_string())
                .collect()
        })
        .unwrap_or_default();
    Lang::from_preferences(languages.iter().map(String::as_str))
}

/// What the status area shows.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    Starting,
    Connection(ConnectionState),
    ConfigError(String),
    WorkerError,
}

struct StatusView {
    /// Stable machine-readable state, for tests and styling.
    key: &'static str,
    text: String,
    help: Option<&'static str>,
    can_retry: bool,
}

fn describe(status: &Status, t: &Texts) -> StatusView {
    let view = |key, text: &str, help, can_retry| StatusView {
        key,
        text: text.to_owned(),
        help,
        can_retry,
    };
    match status {
        Status::Starting => view("starting", t.starting, None, false),
        Status::WorkerError => view("failed", t.failed, Some(t.worker_error), false),
        Status::ConfigError(_) => view("failed", t.failed, Some(t.config_error), false),
        Status::Connection(state) => match state {
            ConnectionState::Disconnected => view("disconnected", t.disconnected, None, true),
            ConnectionState::Connecting { .. } => view("connecting", t.connecting, None, false),
            ConnectionState::Connected { .. } => view("connected", t.connected, None, false),
            ConnectionState::Failed { reason, .. } => {
                let help = match reason {
                    FailureReason::Unreachable => t.unreachable_help,
                    FailureReason::NotXmpp => t.not_xmpp_help,
                    FailureReason::InvalidUrl => t.invalid_url_help,
                    FailureReason::StreamError => t.stream_error_help,
                };
                view("failed", t.failed, Some(help), true)
            }
        },
    }
}

#[component]
fn App() -> impl IntoView {
    let lang = browser_lang();
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.tag());
    }
    let t = lang.texts();

    let (status, set_status) = signal(Status::Starting);
    let (worker_ready, set_worker_ready) = signal(false);
    let (server, set_server) = signal(None::<ServerConfig>);

    match WorkerLink::spawn(
        WORKER_SCRIPT,
        ScriptKind::Classic,
        move |event| match event {
            Event::Ready => set_worker_ready.set(true),
            Event::Connection { state } => set_status.set(Status::Connection(state)),
            Event::ProtocolError { detail } => {
                web_sys::console::warn_1(&format!("candado: {detail}").into());
                if !worker_ready.get_untracked() {
                    // The worker failed before it could start: nothing will work.
                    set_status.set(Status::WorkerError);
                }
            }
            // Accounts, contacts and conversations get their screens in the next slice.
            _ => {}
        },
    ) {
        Ok(link) => LINK.with(|l| *l.borrow_mut() = Some(link)),
        Err(_) => set_status.set(Status::WorkerError),
    }

    leptos::task::spawn_local(async move {
        match crate::config::load().await {
            Ok(config) => set_server.set(Some(config)),
            Err(err) => set_status.set(Status::ConfigError(err.0)),
        }
    });

    let connect = move || {
        if let Some(server) = server.get_untracked() {
            send(&Command::Connect { server });
        }
    };
    // Connect once both the worker and the configuration are ready.
    Effect::new(move |_| {
        if worker_ready.get() && server.with(Option::is_some) {
            connect();
        }
    });

    let view_of = move || describe(&status.get(), t);

    view! {
        <main class="shell">
            <header class="brand">
                <h1>"Candado"</h1>
                <p class="tagline">{t.tagline}</p>
            </header>
            <section class="card" aria-labelledby="connection-status">
                <p class="server">
                    {t.server_label} ": "
                    <span id="server-domain">
                        {move || server.get().map(|s| s.domain).unwrap_or_default()}
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
                    on:click=move |_| connect()
                >
                    {t.retry}
                </button>
            </section>
        </main>
    }
}
