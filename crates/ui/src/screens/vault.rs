//! First run (choose the app passphrase, or skip it after a warning), unlock, and "opening the vault".

use std::sync::atomic::{AtomicBool, Ordering};

use candado_api::Command;
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

use crate::logic;
use crate::store::Store;
use crate::texts::{self, td_string};
use crate::tr;
use crate::web::{self, keys};

/// The vault error as text, if any (tracked).
fn vault_error_text(store: Store) -> Option<&'static str> {
    let t = store.locale();
    store
        .vault_error
        .get()
        .map(|reason| texts::vault_failure_text(reason, t))
}

/// `data-screen="first-run"`.
#[component]
pub fn FirstRun(store: Store) -> impl IntoView {
    let pass = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let skip_open = RwSignal::new(false);
    let level = Memo::new(move |_| pass.with(|p| logic::passphrase_strength(p)));
    let matches = move || pass.with(|p| !p.is_empty()) && pass.get() == confirm.get();
    let mismatch = move || confirm.with(|c| !c.is_empty()) && pass.get() != confirm.get();

    let create = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !matches() {
            return;
        }
        web::remove(keys::PASSPHRASE_SKIPPED);
        store.vault_error.set(None);
        store.send(Command::CreateVault {
            passphrase: pass.get_untracked().as_str().into(),
        });
        pass.set(String::new());
        confirm.set(String::new());
    };
    let open_skip = move |_| {
        skip_open.set(true);
        request_animation_frame(|| web::focus("skip-cancel"));
    };
    let cancel_skip = move || {
        skip_open.set(false);
        request_animation_frame(|| web::focus("skip-passphrase"));
    };
    let confirm_skip = move |_| {
        skip_open.set(false);
        web::save(keys::PASSPHRASE_SKIPPED, "1");
        store.vault_error.set(None);
        store.send(Command::CreateVault {
            passphrase: "".into(),
        });
    };
    let on_key = move |ev: KeyboardEvent| {
        web::trap_tab(&ev);
        if ev.key() == "Escape" {
            cancel_skip();
        }
    };

    view! {
        <section class="card" aria-labelledby="first-run-title">
            <h2 id="first-run-title">{tr!(store, first_run_title)}</h2>
            <p>{tr!(store, first_run_intro)}</p>
            <p class="advice" id="passphrase-advice">{tr!(store, passphrase_advice)}</p>
            <form class="stack" on:submit=create>
                <label for="passphrase">{tr!(store, passphrase_label)}</label>
                <input
                    id="passphrase"
                    type="password"
                    autocomplete="new-password"
                    aria-describedby="passphrase-advice passphrase-strength-text"
                    bind:value=pass
                />
                <div class="strength">
                    <label for="passphrase-strength">{tr!(store, strength_label)}</label>
                    <meter
                        id="passphrase-strength"
                        min="0"
                        max="4"
                        low="2"
                        high="3"
                        optimum="4"
                        value=move || level.get().to_string()
                        data-level=move || level.get().to_string()
                    ></meter>
                    <span id="passphrase-strength-text" data-level=move || level.get().to_string()>
                        {move || texts::strength_label(level.get(), store.locale())}
                    </span>
                </div>
                <label for="passphrase-confirm">{tr!(store, passphrase_confirm_label)}</label>
                <input
                    id="passphrase-confirm"
                    type="password"
                    autocomplete="new-password"
                    bind:value=confirm
                />
                <p class="error" role="alert" id="passphrase-mismatch">
                    {move || mismatch().then(|| td_string!(store.locale(), passphrase_mismatch))}
                </p>
                <p class="error" role="alert" id="vault-error">{move || vault_error_text(store)}</p>
                <div class="actions">
                    <button type="submit" id="create-vault" disabled=move || !matches()>
                        {tr!(store, create_vault)}
                    </button>
                    <button type="button" class="secondary" id="skip-passphrase" on:click=open_skip>
                        {tr!(store, skip_passphrase)}
                    </button>
                </div>
            </form>
            <Show when=move || skip_open.get()>
                <div class="backdrop">
                    <div
                        id="skip-warning"
                        class="dialog card"
                        role="alertdialog"
                        aria-modal="true"
                        aria-labelledby="skip-warning-title"
                        aria-describedby="skip-warning-text"
                        on:keydown=on_key
                    >
                        <h2 id="skip-warning-title">{tr!(store, skip_warning_title)}</h2>
                        <p id="skip-warning-text">{tr!(store, skip_warning_text)}</p>
                        <div class="actions">
                            <button type="button" class="danger" id="skip-confirm" on:click=confirm_skip>
                                {tr!(store, skip_confirm)}
                            </button>
                            <button type="button" id="skip-cancel" on:click=move |_| cancel_skip()>
                                {tr!(store, skip_cancel)}
                            </button>
                        </div>
                    </div>
                </div>
            </Show>
        </section>
    }
}

/// Whether this page already tried the empty passphrase of a skipped vault.
static AUTO_UNLOCK_TRIED: AtomicBool = AtomicBool::new(false);

/// `data-screen="unlock"`.
#[component]
pub fn Unlock(store: Store) -> impl IntoView {
    let pass = RwSignal::new(String::new());
    // The person chose no passphrase: open by ourselves, once per page load.
    if web::load(keys::PASSPHRASE_SKIPPED).as_deref() == Some("1")
        && !AUTO_UNLOCK_TRIED.swap(true, Ordering::Relaxed)
    {
        store.unlock("");
    } else {
        request_animation_frame(|| web::focus("unlock-passphrase"));
    }
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        store.unlock(&pass.get_untracked());
        pass.set(String::new());
    };
    view! {
        <section class="card" aria-labelledby="unlock-title">
            <h2 id="unlock-title">{tr!(store, unlock_title)}</h2>
            <form class="stack" on:submit=submit>
                <label for="unlock-passphrase">{tr!(store, unlock_label)}</label>
                <input
                    id="unlock-passphrase"
                    type="password"
                    autocomplete="current-password"
                    aria-describedby="unlock-error"
                    bind:value=pass
                />
                <p class="error" id="unlock-error" role="alert">{move || vault_error_text(store)}</p>
                <div class="actions">
                    <button type="submit" id="unlock">{tr!(store, unlock)}</button>
                </div>
            </form>
        </section>
    }
}

/// `data-screen="working"`.
#[component]
pub fn Working(store: Store) -> impl IntoView {
    view! {
        <section class="card">
            <p id="working" class="status" role="status">{tr!(store, opening_vault)}</p>
        </section>
    }
}
