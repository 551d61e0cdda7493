//! `data-screen="chat"`: the padlock with the guide's three states (icon + text, never colour alone)
//! and its menu, the opt-in history switch, the messages (always text; kept ones first, with their
//! date) and status lines, and the composer.

use candado_api::{ChatMessage, Command, Delivery, Direction, Padlock, PadlockView};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::lang::Lang;
use crate::logic::{self, Route};
use crate::store::{Item, Store};
use crate::texts::{self, td_string, Locale};
use crate::tr;
use crate::web;

use super::contacts::command_error_text;
use super::verify::VerifyDialog;

/// The padlock's icon: open; closed with "?"; closed with a tick. Shapes differ, not only colours.
#[component]
pub fn PadlockIcon(state: Signal<Padlock>) -> impl IntoView {
    view! {
        <svg class="padlock-icon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">
            {move || match state.get() {
                Padlock::NotEncrypted => view! {
                    <path class="shackle" d="M7 11V7a5 5 0 0 1 9.6-2" fill="none" stroke-width="2" />
                    <rect class="body" x="4" y="11" width="16" height="11" rx="2" />
                }
                .into_any(),
                Padlock::EncryptedUnverified => view! {
                    <path class="shackle" d="M7 11V7a5 5 0 0 1 10 0v4" fill="none" stroke-width="2" />
                    <rect class="body" x="4" y="11" width="16" height="11" rx="2" />
                    <path class="mark" d="M10 14.5a2 2 0 1 1 2.8 1.8c-.5.3-.8.7-.8 1.2v.5M12 20v.01" fill="none" stroke-width="1.8" />
                }
                .into_any(),
                Padlock::Verified => view! {
                    <path class="shackle" d="M7 11V7a5 5 0 0 1 10 0v4" fill="none" stroke-width="2" />
                    <rect class="body" x="4" y="11" width="16" height="11" rx="2" />
                    <path class="mark" d="M8.5 16.5l2.5 2.5 4.5-5" fill="none" stroke-width="2" />
                }
                .into_any(),
            }}
        </svg>
    }
}

/// The `data-delivery` of a message (chat or group).
pub(super) fn delivery_key(d: Delivery) -> &'static str {
    match d {
        Delivery::Received => "received",
        Delivery::Queued => "queued",
        Delivery::Sent => "sent",
        Delivery::Failed => "failed",
    }
}

/// How many kept messages are shown at first; "show earlier messages" adds as many again, so a
/// long history never renders thousands of lines at once. A phone's screen shows about ten; building
/// 200 lines on opening the chat was one task of 600 ms on the slow phone of issue #8.
pub const HISTORY_PAGE: usize = 50;

/// A message's date and time in the interface's language (see [`logic::message_date`]), and as ISO
/// 8601 for `<time datetime>`.
fn date_of(at: u64, lang: Lang) -> (String, String) {
    let date = js_sys::Date::new(&JsValue::from_f64(at as f64));
    let iso: String = date.to_iso_string().into();
    let shown = logic::message_date(
        lang,
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
    );
    (shown, iso)
}

/// One message line; kept messages (`date` given) show when they were written.
fn message_view(m: ChatMessage, t: Locale, date: Option<(String, String)>) -> AnyView {
    let outgoing = m.direction == Direction::Outgoing;
    let kept = date.is_some();
    let status = match m.delivery {
        Delivery::Queued => Some(td_string!(t, delivery_queued)),
        Delivery::Sent if !kept => Some(td_string!(t, delivery_sent)),
        Delivery::Failed => Some(td_string!(t, room_message_failed)),
        Delivery::Sent | Delivery::Received => None,
    };
    view! {
        <li
            class=if kept { "message kept" } else { "message" }
            data-id=m.id.clone()
            data-direction=if outgoing { "outgoing" } else { "incoming" }
            data-encrypted=if m.encrypted { "true" } else { "false" }
            data-delivery=delivery_key(m.delivery)
            data-history=if kept { "true" } else { "false" }
        >
            <span class="message-text" dir="auto">{m.text.into_string()}</span>
            <span class="message-meta">
                {date.map(|(shown, iso)| view! { <time class="message-date" datetime=iso>{shown}</time> })}
                {(!m.encrypted).then(|| view! { <span class="unencrypted">{td_string!(t, message_unencrypted)}</span> })}
                {status.map(|s| view! { <span class="delivery">{s}</span> })}
            </span>
        </li>
    }
    .into_any()
}

/// One line of this session's conversation.
fn item_view(item: Item, t: Locale) -> AnyView {
    match item {
        Item::Message(m) => message_view(m, t, None),
        Item::Notice(n) => view! {
            <li class="notice" data-notice=logic::notice_key(&n)>{texts::notice_text(&n, t)}</li>
        }
        .into_any(),
        Item::Failed { id, condition } => view! {
            <li class="notice failed" data-notice="message_failed" data-id=id>
                {format!("{} ({condition})", td_string!(t, message_failed))}
            </li>
        }
        .into_any(),
    }
}

/// `data-screen="chat"`.
#[component]
pub fn Chat(store: Store) -> impl IntoView {
    let peer = move || store.chat_peer().unwrap_or_default();
    // The open chat's key; the screen reads only its own conversation and history, so a message
    // in another chat changes nothing here.
    let chat_key = move || store.current.get().zip(store.chat_peer());
    let items = Memo::new(move |_| -> Vec<Item> {
        let Some(key) = chat_key() else {
            return Vec::new();
        };
        store
            .conversations
            .with(|c| c.get(&key).map(|c| c.items.clone()).unwrap_or_default())
    });
    let padlock_view = Memo::new(move |_| -> Option<PadlockView> {
        let key = chat_key()?;
        store
            .conversations
            .with(|c| c.get(&key).and_then(|c| c.padlock.clone()))
    });
    let padlock = Memo::new(move |_| {
        padlock_view.get().unwrap_or(PadlockView {
            state: Padlock::NotEncrypted,
            fingerprint: None,
            finished: false,
            queued: 0,
        })
    });
    let state = Signal::derive(move || padlock.get().state);
    let keep = Memo::new(move |_| {
        let Some(key) = chat_key() else {
            return false;
        };
        store
            .histories
            .with(|h| h.get(&key).is_some_and(|h| h.keep))
    });
    let history_shown = RwSignal::new(HISTORY_PAGE);
    // The kept messages on show (the last `history_shown`), and how many are hidden above them.
    let kept = Memo::new(move |_| -> (usize, Vec<ChatMessage>) {
        let Some(key) = chat_key() else {
            return (0, Vec::new());
        };
        let shown = history_shown.get();
        store.histories.with(|h| {
            h.get(&key).map_or((0, Vec::new()), |h| {
                let (hidden, tail) = logic::kept_tail(&h.messages, shown);
                (hidden, tail.to_vec())
            })
        })
    });
    let confirm_off = RwSignal::new(false);
    let skipped = crate::web::load(crate::web::keys::PASSPHRASE_SKIPPED).as_deref() == Some("1");
    let menu_open = RwSignal::new(false);
    let text = RwSignal::new(String::new());

    let with_peer = move |make: &dyn Fn(candado_api::AccountId, String) -> Command| {
        if let (Some(account), Some(peer)) =
            (store.current.get_untracked(), untrack(|| store.chat_peer()))
        {
            store.command_error.set(None);
            store.send(make(account, peer));
        }
    };
    let (send_text, on_key) = super::composer(text, move |body| {
        with_peer(&|account, peer| Command::SendMessage {
            account,
            peer,
            text: body.clone().into(),
        })
    });
    let toggle_history = move |ev: leptos::ev::Event| {
        if keep.get_untracked() {
            // Deleting asks first: the switch stays on until the person confirms.
            if let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                input.set_checked(true);
            }
            confirm_off.set(true);
            request_animation_frame(|| web::focus("history-off-confirm"));
        } else {
            with_peer(&|account, peer| Command::SetHistory {
                account,
                peer,
                keep: true,
            });
        }
    };
    let menu_key = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            menu_open.set(false);
            web::focus("padlock");
        }
    };
    let toggle_menu = move |_| {
        let open = !menu_open.get_untracked();
        menu_open.set(open);
        if open {
            request_animation_frame(|| web::focus("start-private"));
        }
    };

    view! {
        <header class="chat-header card">
            <button type="button" class="secondary" id="back" on:click=move |_| {
                store.verify_open.set(false);
                store.command_error.set(None);
                store.route.set(Route::Home);
            }>
                {tr!(store, back)}
            </button>
            <h2 id="chat-peer" dir="auto">{peer}</h2>
            <div class="padlock-wrap" on:keydown=menu_key>
                <button
                    type="button"
                    id="padlock"
                    class="padlock"
                    data-padlock=move || logic::padlock_key(state.get())
                    aria-haspopup="menu"
                    aria-expanded=move || if menu_open.get() { "true" } else { "false" }
                    aria-controls="padlock-menu"
                    aria-describedby="padlock-label"
                    title=tr!(store, padlock_button)
                    on:click=toggle_menu
                >
                    <PadlockIcon state=state />
                    <span id="padlock-label" class="padlock-label">
                        {move || texts::padlock_label(state.get(), store.locale()).to_string()}
                    </span>
                </button>
                <Show when=move || menu_open.get()>
                    <div id="padlock-menu" class="menu card" role="menu">
                        <button type="button" role="menuitem" id="start-private" on:click=move |_| {
                            menu_open.set(false);
                            with_peer(&|account, peer| Command::StartPrivate { account, peer });
                        }>
                            {tr!(store, start_private)}
                        </button>
                        <button type="button" role="menuitem" id="verify" on:click=move |_| {
                            menu_open.set(false);
                            store.verify_open.set(true);
                        }>
                            {tr!(store, verify)}
                        </button>
                        <button type="button" role="menuitem" id="end-private" on:click=move |_| {
                            menu_open.set(false);
                            with_peer(&|account, peer| Command::EndPrivate { account, peer });
                        }>
                            {tr!(store, end_private)}
                        </button>
                    </div>
                </Show>
            </div>
        </header>
        <p id="padlock-queued" class="hint" role="status">
            {move || {
                let q = padlock.get().queued;
                (q > 0).then(|| td_string!(store.locale(), queued, n = &q.to_string()))
            }}
        </p>
        <p id="padlock-finished" class="warning" role="status">
            {move || padlock.get().finished.then(|| td_string!(store.locale(), finished_text))}
        </p>
        <section class="history-settings card" aria-label=tr!(store, history_label)>
            <div class="switch-row">
                <input
                    type="checkbox"
                    role="switch"
                    id="history-toggle"
                    prop:checked=move || keep.get()
                    aria-checked=move || if keep.get() { "true" } else { "false" }
                    aria-describedby="history-explain"
                    on:change=toggle_history
                />
                <label for="history-toggle">{tr!(store, history_toggle)}</label>
            </div>
            <p id="history-explain" class="hint">{tr!(store, history_explain)}</p>
            {skipped.then(|| view! {
                <p id="history-skipped-warning" class="warning">{tr!(store, history_skipped_warning)}</p>
            })}
            <Show when=move || confirm_off.get()>
                <div id="history-off-dialog" class="confirm warning" role="alertdialog" aria-labelledby="history-off-question">
                    <p id="history-off-question">{tr!(store, history_off_question)}</p>
                    <div class="actions">
                        <button type="button" id="history-off-confirm" class="danger" on:click=move |_| {
                            confirm_off.set(false);
                            with_peer(&|account, peer| Command::SetHistory { account, peer, keep: false });
                            web::focus("history-toggle");
                        }>
                            {tr!(store, history_off_confirm)}
                        </button>
                        <button type="button" id="history-off-cancel" class="secondary" on:click=move |_| {
                            confirm_off.set(false);
                            web::focus("history-toggle");
                        }>
                            {tr!(store, history_off_cancel)}
                        </button>
                    </div>
                </div>
            </Show>
        </section>
        // The live region is a container of the list: a `<ul>` cannot take the `log` role, and its
        // lines must stay items of a list.
        <div class="message-log" role="log" aria-label=tr!(store, messages_label)>
            <ul id="messages" class="messages plain">
                {move || {
                    let (hidden, _) = kept.get();
                    (hidden > 0).then(|| {
                        let t = store.locale();
                        view! {
                            <li class="history-more">
                                <button type="button" id="history-more" class="secondary" on:click=move |_| {
                                    history_shown.update(|n| *n = n.saturating_add(HISTORY_PAGE));
                                }>
                                    {td_string!(t, history_more, n = &hidden.to_string())}
                                </button>
                            </li>
                        }
                    })
                }}
                // Kept messages first (their own block, so new messages do not redraw them). Each line
                // is keyed by its place and id: showing earlier ones adds lines, it rebuilds none.
                <For
                    each=move || {
                        let lang = store.lang.get();
                        let (hidden, messages) = kept.get();
                        messages.into_iter().enumerate().map(move |(i, m)| (lang, hidden + i, m))
                    }
                    key=|(lang, place, m)| (*lang, *place, m.id.clone())
                    children=move |(lang, _, m)| {
                        let date = date_of(m.at, lang);
                        message_view(m, store.locale_untracked(), Some(date))
                    }
                />
                {move || {
                    let any = kept.with(|(hidden, shown)| hidden + shown.len() > 0);
                    any.then(|| {
                        view! {
                            <li class="notice history-divider" id="history-divider">
                                {td_string!(store.locale(), history_saved_until_here)}
                            </li>
                        }
                    })
                }}
                // This session's lines: a new message builds its own line only (see `logic::item_key`).
                <For
                    each=move || {
                        let lang = store.lang.get();
                        items.get().into_iter().enumerate().map(move |(i, item)| (lang, i, item))
                    }
                    key=|(lang, i, item)| logic::item_key(*lang, *i, item)
                    children=move |(_, _, item)| item_view(item, store.locale_untracked())
                />
            </ul>
        </div>
        <p class="error" id="chat-error" role="alert">{move || command_error_text(store)}</p>
        <form class="composer" on:submit=move |ev| {
            ev.prevent_default();
            send_text();
        }>
            <label for="message-input" class="visually-hidden">{tr!(store, message_input_label)}</label>
            <textarea id="message-input" rows="2" bind:value=text on:keydown=on_key></textarea>
            <button type="submit" id="send">{tr!(store, send)}</button>
        </form>
        <Show when=move || store.verify_open.get()>
            <VerifyDialog store=store padlock=padlock />
        </Show>
    }
}
