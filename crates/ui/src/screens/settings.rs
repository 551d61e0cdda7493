//! `data-screen="settings"`: OTR policy, auto-lock delay, notifications, language, lock, forget the
//! account, change the app passphrase.

use candado_api::{Command, OtrPolicy};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::lang::Lang;
use crate::logic::{self, Route};
use crate::store::Store;
use crate::texts::{self, td_string};
use crate::tr;
use crate::web::{self, keys};

use super::contacts::command_error_text;

/// Sets the interface language and remembers the choice.
pub fn set_language(store: Store, lang: Lang) {
    web::save(keys::LANGUAGE, lang.tag());
    web::set_document_lang(lang.tag());
    store.lang.set(lang);
}

/// `data-screen="settings"`.
#[component]
pub fn Settings(store: Store) -> impl IntoView {
    // The policy as the worker reports it (the engine's default, opportunistic, until then).
    let policy = move || {
        let account = store.current.get();
        let policy = account
            .and_then(|a| store.policies.with(|p| p.get(&a).copied()))
            .unwrap_or(OtrPolicy::Opportunistic);
        logic::policy_key(policy).to_string()
    };
    let on_policy = move |ev: web_sys::Event| {
        let value = event_target_value(&ev);
        let (Some(account), Some(p)) = (
            store.current.get_untracked(),
            logic::policy_from_key(&value),
        ) else {
            return;
        };
        store.command_error.set(None);
        store.send(Command::SetPolicy {
            account,
            peer: None,
            policy: Some(p),
        });
    };
    let auto_lock = RwSignal::new(web::load(keys::AUTO_LOCK).unwrap_or_else(|| "15".into()));
    let notifications = RwSignal::new(
        web::load(keys::NOTIFICATIONS).as_deref() == Some("1") && web::notifications_granted(),
    );
    let notifications_denied = RwSignal::new(false);
    let on_notifications = move |ev: web_sys::Event| {
        let on = event_target_checked(&ev);
        notifications_denied.set(false);
        if !on {
            notifications.set(false);
            web::save(keys::NOTIFICATIONS, "0");
            return;
        }
        leptos::task::spawn_local(async move {
            let granted = web::request_notifications().await;
            notifications.set(granted);
            notifications_denied.set(!granted);
            web::save(keys::NOTIFICATIONS, if granted { "1" } else { "0" });
        });
    };
    let current_pass = RwSignal::new(String::new());
    let new_pass = RwSignal::new(String::new());
    // Whether the new passphrase is empty, applied to the "skipped" flag once the change succeeded.
    let new_is_empty = RwSignal::new(None::<bool>);
    Effect::new(move |_| {
        if store.changing_passphrase.get() == Some(true) {
            match new_is_empty.get_untracked() {
                Some(true) => web::save(keys::PASSPHRASE_SKIPPED, "1"),
                Some(false) => web::remove(keys::PASSPHRASE_SKIPPED),
                None => {}
            }
            new_is_empty.set(None);
        }
    });
    let change = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new = new_pass.get_untracked();
        store.vault_error.set(None);
        store.changing_passphrase.set(Some(false));
        new_is_empty.set(Some(new.is_empty()));
        store.send(Command::ChangePassphrase {
            current: current_pass.get_untracked().as_str().into(),
            new: new.as_str().into(),
        });
        current_pass.set(String::new());
        new_pass.set(String::new());
    };
    let forget = move |_| {
        let Some(account) = store.current.get_untracked() else {
            return;
        };
        if web::confirm(td_string!(store.locale_untracked(), forget_confirm)) {
            store.send(Command::ForgetAccount {
                account: account.clone(),
            });
            store.accounts.update(|a| {
                a.remove(&account);
            });
            store.saved.update(|s| s.retain(|a| a.account != account));
            store.current.set(None);
            store.route.set(Route::Home);
        }
    };

    view! {
        <section class="card stack" aria-labelledby="settings-title">
            <h2 id="settings-title">{tr!(store, settings_title)}</h2>
            <label for="policy">{tr!(store, policy_label)}</label>
            <select id="policy" on:change=on_policy disabled=move || store.current.with(Option::is_none)>
                {move || {
                    let t = store.locale();
                    let chosen = policy();
                    [
                        ("manual", td_string!(t, policy_manual)),
                        ("opportunistic", td_string!(t, policy_opportunistic)),
                        ("always", td_string!(t, policy_always)),
                    ]
                    .into_iter()
                    .map(|(value, text)| view! { <option value=value selected={chosen == value}>{text}</option> })
                    .collect_view()
                }}
            </select>
            <label for="auto-lock">{tr!(store, auto_lock_label)}</label>
            <select
                id="auto-lock"
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    web::save(keys::AUTO_LOCK, &value);
                    auto_lock.set(value);
                }
            >
                {move || {
                    let t = store.locale();
                    let chosen = auto_lock.get();
                    logic::AUTO_LOCK_CHOICES
                        .into_iter()
                        .map(|value| {
                            let text = match value {
                                "never" => td_string!(t, never).to_owned(),
                                "1" => td_string!(t, minute_1).to_owned(),
                                n => td_string!(t, minutes, n = n),
                            };
                            view! { <option value=value selected={chosen == value}>{text}</option> }
                        })
                        .collect_view()
                }}
            </select>
            <div class="check">
                <input
                    id="notifications"
                    type="checkbox"
                    prop:checked=move || notifications.get()
                    aria-describedby="notifications-help"
                    on:change=on_notifications
                />
                <label for="notifications">{tr!(store, notifications_label)}</label>
            </div>
            <p class="hint" id="notifications-help">{tr!(store, notifications_help)}</p>
            <p class="error" role="alert">
                {move || notifications_denied.get().then(|| td_string!(store.locale(), notifications_denied))}
            </p>
            <label for="language">{tr!(store, language_label)}</label>
            <select
                id="language"
                on:change=move |ev| {
                    if let Some(lang) = Lang::from_tag(&event_target_value(&ev)) {
                        set_language(store, lang);
                    }
                }
            >
                <option value="es" selected=move || store.lang.get() == Lang::Es>"Español"</option>
                <option value="en" selected=move || store.lang.get() == Lang::En>"English"</option>
            </select>
            <p class="error" id="settings-error" role="alert">{move || command_error_text(store)}</p>
            <div class="actions">
                <button type="button" class="secondary" id="lock-now" on:click=move |_| store.send(Command::Lock)>
                    {tr!(store, lock_now)}
                </button>
                <button
                    type="button"
                    class="danger"
                    id="forget-account"
                    disabled=move || store.current.with(Option::is_none)
                    on:click=forget
                >
                    {tr!(store, forget_account)}
                </button>
            </div>
        </section>
        <section class="card" aria-labelledby="change-passphrase-title">
            <h2 id="change-passphrase-title">{tr!(store, change_passphrase_title)}</h2>
            <form class="stack" on:submit=change>
                <label for="change-passphrase-current">{tr!(store, change_passphrase_current)}</label>
                <input id="change-passphrase-current" type="password" autocomplete="current-password" bind:value=current_pass />
                <label for="change-passphrase-new">{tr!(store, change_passphrase_new)}</label>
                <input id="change-passphrase-new" type="password" autocomplete="new-password" bind:value=new_pass />
                <p class="error" id="change-passphrase-error" role="alert">
                    {move || store.vault_error.get().map(|r| texts::vault_failure_text(r, store.locale()))}
                </p>
                <p class="hint" id="change-passphrase-done" role="status">
                    {move || (store.changing_passphrase.get() == Some(true)).then(|| td_string!(store.locale(), passphrase_changed))}
                </p>
                <div class="actions">
                    <button type="submit" id="change-passphrase-submit">{tr!(store, change_passphrase_submit)}</button>
                </div>
            </form>
        </section>
        <div class="actions">
            <button type="button" class="secondary" id="settings-close" on:click=move |_| store.route.set(Route::Home)>
                {tr!(store, settings_close)}
            </button>
        </div>
    }
}
