//! Verifying a contact: question and answer, shared secret, fingerprint comparison with a QR code of
//! one's own fingerprint; and the prompt for a question the contact asks us.

use candado_api::{Command, PadlockView};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

use crate::logic;
use crate::store::Store;
use crate::texts::{td_string, Locale};
use crate::tr;
use crate::web;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tab {
    Question,
    Secret,
    Fingerprint,
}

/// The QR code of `text` as inline SVG squares (no image, no HTML string).
#[component]
pub fn QrCode(text: String, label: Signal<String>) -> impl IntoView {
    let Some((width, modules)) = logic::qr_matrix(&text) else {
        return ().into_any();
    };
    // A quiet zone of 4 modules around the code.
    let size = width + 8;
    let rects = modules
        .into_iter()
        .enumerate()
        .filter(|(_, dark)| *dark)
        .map(|(i, _)| {
            let (x, y) = (i % width + 4, i / width + 4);
            view! { <rect x=x.to_string() y=y.to_string() width="1" height="1" /> }
        })
        .collect_view();
    view! {
        <svg
            id="own-fingerprint-qr"
            class="qr"
            viewBox=format!("0 0 {size} {size}")
            data-modules=width.to_string()
            role="img"
            aria-label=move || label.get()
            shape-rendering="crispEdges"
        >
            <rect class="qr-bg" x="0" y="0" width=size.to_string() height=size.to_string() />
            <g class="qr-fg">{rects}</g>
        </svg>
    }
    .into_any()
}

/// `#verify-dialog`.
#[component]
pub fn VerifyDialog(store: Store, padlock: Memo<PadlockView>) -> impl IntoView {
    let tab = RwSignal::new(Tab::Question);
    let question = RwSignal::new(String::new());
    let answer = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let close = move || {
        store.verify_open.set(false);
        request_animation_frame(|| web::focus("padlock"));
    };
    request_animation_frame(|| web::focus("verify-question-tab"));
    let on_key = move |ev: KeyboardEvent| {
        web::trap_tab(&ev);
        if ev.key() == "Escape" {
            close();
        }
    };
    let target = move || {
        Some((
            store.current.get_untracked()?,
            untrack(|| store.chat_peer())?,
        ))
    };
    let ask = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some((account, peer)) = target() else {
            return;
        };
        let a = answer.get_untracked();
        if a.is_empty() {
            return;
        }
        let q = question.get_untracked().trim().to_string();
        store.command_error.set(None);
        store.send(Command::SmpAsk {
            account,
            peer,
            question: (!q.is_empty()).then(|| q.into()),
            answer: a.as_str().into(),
        });
        answer.set(String::new());
        // The outcome arrives as a status line in the conversation (and is announced): the
        // dialog's work is done.
        store.announce_polite(td_string!(store.locale(), smp_sent).to_owned());
        close();
    };
    let ask_secret = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some((account, peer)) = target() else {
            return;
        };
        let s = secret.get_untracked();
        if s.is_empty() {
            return;
        }
        store.command_error.set(None);
        store.send(Command::SmpAsk {
            account,
            peer,
            question: None,
            answer: s.as_str().into(),
        });
        secret.set(String::new());
        // The outcome arrives as a status line in the conversation (and is announced): the
        // dialog's work is done.
        store.announce_polite(td_string!(store.locale(), smp_sent).to_owned());
        close();
    };
    let trust = move |trusted: bool| {
        let Some((account, peer)) = target() else {
            return;
        };
        let Some(fingerprint) = padlock.get_untracked().fingerprint else {
            return;
        };
        store.send(Command::SetTrust {
            account,
            peer,
            fingerprint,
            trusted,
        });
    };
    let own = move || {
        let account = store.current.get()?;
        store.own_fingerprints.with(|f| f.get(&account).cloned())
    };
    let tab_button = move |id: &'static str, which: Tab, label: fn(Locale) -> &'static str| {
        view! {
            <button
                type="button"
                role="tab"
                id=id
                class="tab"
                aria-selected=move || if tab.get() == which { "true" } else { "false" }
                on:click=move |_| tab.set(which)
            >
                {move || label(store.locale())}
            </button>
        }
    };

    view! {
        <div class="backdrop">
            <div
                id="verify-dialog"
                class="dialog card"
                role="dialog"
                aria-modal="true"
                aria-labelledby="verify-title"
                on:keydown=on_key
            >
                <h2 id="verify-title">{tr!(store, verify_title)}</h2>
                <div class="tabs" role="tablist">
                    {tab_button("verify-question-tab", Tab::Question, |t| td_string!(t, verify_question_tab))}
                    {tab_button("verify-secret-tab", Tab::Secret, |t| td_string!(t, verify_secret_tab))}
                    {tab_button("verify-fingerprint-tab", Tab::Fingerprint, |t| td_string!(t, verify_fingerprint_tab))}
                </div>
                <Show when=move || tab.get() == Tab::Question>
                    <div role="tabpanel" aria-labelledby="verify-question-tab">
                        <form class="stack" on:submit=ask>
                            <label for="smp-question">{tr!(store, smp_question_label)}</label>
                            <input id="smp-question" type="text" bind:value=question />
                            <label for="smp-answer">{tr!(store, smp_answer_label)}</label>
                            <input
                                id="smp-answer"
                                type="text"
                                autocomplete="off"
                                autocapitalize="none"
                                spellcheck="false"
                                aria-describedby="smp-hint"
                                bind:value=answer
                            />
                            <p class="hint" id="smp-hint">{tr!(store, smp_hint)}</p>
                            <div class="actions">
                                <button type="submit" id="smp-ask-submit">{tr!(store, smp_ask_submit)}</button>
                            </div>
                        </form>
                    </div>
                </Show>
                <Show when=move || tab.get() == Tab::Secret>
                    <div role="tabpanel" aria-labelledby="verify-secret-tab">
                        <form class="stack" on:submit=ask_secret>
                            <label for="smp-secret">{tr!(store, smp_secret_label)}</label>
                            <input
                                id="smp-secret"
                                type="password"
                                autocomplete="off"
                                aria-describedby="smp-secret-hint"
                                bind:value=secret
                            />
                            <p class="hint" id="smp-secret-hint">{tr!(store, smp_hint)}</p>
                            <div class="actions">
                                <button type="submit" id="smp-secret-submit">{tr!(store, smp_secret_submit)}</button>
                            </div>
                        </form>
                    </div>
                </Show>
                <Show when=move || tab.get() == Tab::Fingerprint>
                    <div class="stack" role="tabpanel" aria-labelledby="verify-fingerprint-tab">
                        <p class="hint">{tr!(store, fingerprint_compare)}</p>
                        <h3>{tr!(store, own_fingerprint_label)}</h3>
                        <p id="own-fingerprint" class="fingerprint">
                            {move || own().unwrap_or_else(|| td_string!(store.locale(), loading).to_owned())}
                        </p>
                        {move || own().map(|fp| view! {
                            <QrCode text=fp label=Signal::derive(move || td_string!(store.locale(), qr_label).to_owned()) />
                        })}
                        <h3>{tr!(store, peer_fingerprint_label)}</h3>
                        <p id="peer-fingerprint" class="fingerprint">
                            {move || padlock.get().fingerprint.unwrap_or_else(|| td_string!(store.locale(), fingerprint_unknown).to_owned())}
                        </p>
                        <div class="actions">
                            <button
                                type="button"
                                id="trust-fingerprint"
                                disabled=move || padlock.get().fingerprint.is_none()
                                on:click=move |_| trust(true)
                            >
                                {tr!(store, trust_fingerprint)}
                            </button>
                            <button
                                type="button"
                                class="secondary"
                                id="untrust-fingerprint"
                                disabled=move || padlock.get().fingerprint.is_none()
                                on:click=move |_| trust(false)
                            >
                                {tr!(store, untrust_fingerprint)}
                            </button>
                        </div>
                    </div>
                </Show>
                <div class="actions">
                    <button type="button" class="secondary" id="verify-close" on:click=move |_| close()>
                        {tr!(store, verify_close)}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// `#smp-incoming`: the contact asks us a question (or for the shared secret).
#[component]
pub fn SmpIncoming(store: Store) -> impl IntoView {
    let answer = RwSignal::new(String::new());
    // Focus the answer field when a question arrives.
    Effect::new(move |_| {
        if store.smp_incoming.with(Option::is_some) {
            request_animation_frame(|| web::focus("smp-incoming-answer"));
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(prompt) = store.smp_incoming.get_untracked() else {
            return;
        };
        store.send(Command::SmpAnswer {
            account: prompt.account,
            peer: prompt.peer,
            answer: answer.get_untracked().as_str().into(),
        });
        answer.set(String::new());
        store.smp_incoming.set(None);
    };
    let cancel = move || {
        if let Some(prompt) = store.smp_incoming.get_untracked() {
            store.send(Command::SmpAbort {
                account: prompt.account,
                peer: prompt.peer,
            });
        }
        answer.set(String::new());
        store.smp_incoming.set(None);
    };
    let on_key = move |ev: KeyboardEvent| {
        web::trap_tab(&ev);
        if ev.key() == "Escape" {
            cancel();
        }
    };
    view! {
        <Show when=move || store.smp_incoming.with(Option::is_some)>
            <div class="backdrop">
                <form
                    id="smp-incoming"
                    class="dialog card stack"
                    role="alertdialog"
                    aria-modal="true"
                    aria-labelledby="smp-incoming-title"
                    aria-describedby="smp-incoming-question"
                    on:submit=submit
                    on:keydown=on_key
                >
                    <h2 id="smp-incoming-title">
                        {tr!(store, smp_incoming_title)}
                        ": "
                        {move || store.smp_incoming.get().map(|p| p.peer).unwrap_or_default()}
                    </h2>
                    <p id="smp-incoming-question" class="question" dir="auto">
                        {move || {
                            store
                                .smp_incoming
                                .get()
                                .and_then(|p| p.question)
                                .unwrap_or_else(|| td_string!(store.locale(), smp_incoming_shared_secret).to_owned())
                        }}
                    </p>
                    <label for="smp-incoming-answer">{tr!(store, smp_incoming_answer_label)}</label>
                    <input
                        id="smp-incoming-answer"
                        type="text"
                        autocomplete="off"
                        autocapitalize="none"
                        spellcheck="false"
                        aria-describedby="smp-incoming-hint"
                        bind:value=answer
                    />
                    <p class="hint" id="smp-incoming-hint">{tr!(store, smp_hint)}</p>
                    <div class="actions">
                        <button type="submit" id="smp-incoming-submit">{tr!(store, smp_incoming_submit)}</button>
                        <button type="button" class="secondary" id="smp-incoming-cancel" on:click=move |_| cancel()>
                            {tr!(store, smp_incoming_cancel)}
                        </button>
                    </div>
                </form>
            </div>
        </Show>
    }
}
