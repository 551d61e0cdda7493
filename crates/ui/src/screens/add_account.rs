//! `data-screen="add-account"`: register a new account (with the server's form and CAPTCHA when it
//! sends one) or log in to an existing one; confirm the server and its endpoint first, as the guide's
//! "Do you really want to connect to this server? — Always".

use candado_api::{AccountId, AccountSetup, Command, Form};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::logic::{self, FieldInput, Route};
use crate::store::{AccountError, Store};
use crate::texts::{self, td_string};
use crate::tr;
use crate::web;

/// The error shown in `#account-error` (tracked).
fn error_text(store: Store) -> Option<String> {
    let t = store.locale();
    store.account_error.get().map(|e| match e {
        AccountError::Registration { condition, text } => {
            texts::registration_failure_text(&condition, text.as_deref(), t)
        }
        AccountError::Account(reason) => texts::account_failure_text(reason, t).to_string(),
        AccountError::Command(kind) => texts::command_failure_text(kind, t).to_string(),
    })
}

/// `data-screen="add-account"`.
#[component]
pub fn AddAccount(store: Store) -> impl IntoView {
    let register = RwSignal::new(true);
    let user = RwSignal::new(String::new());
    let domain = RwSignal::new(
        store
            .server
            .get_untracked()
            .map(|s| s.domain)
            .unwrap_or_default(),
    );
    // config.json may arrive after this screen: prefill then, unless the person typed already.
    Effect::new(move |_| {
        if let Some(server) = store.server.get() {
            if domain.with_untracked(String::is_empty) {
                domain.set(server.domain);
            }
        }
    });
    let password = RwSignal::new(String::new());
    let password_confirm = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let typed_endpoint = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<&'static str>);
    // The confirmation step: the domain being confirmed.
    let confirming = RwSignal::new(None::<String>);

    // The endpoint of the domain being confirmed: `Ok(Some(url))` known, `Ok(None)` being looked
    // up, `Err(())` the server publishes none (the person types it).
    let endpoint = move || -> Result<Option<String>, ()> {
        let Some(d) = confirming.get() else {
            return Ok(None);
        };
        if let Some(server) = store.server.get() {
            if server.domain.eq_ignore_ascii_case(&d) {
                return Ok(Some(server.websocket_url));
            }
        }
        match store.discovered.with(|m| m.get(&d.to_lowercase()).cloned()) {
            None => Ok(None),
            Some(Some(url)) => Ok(Some(url)),
            Some(None) => Err(()),
        }
    };
    let chosen_endpoint = move || match endpoint() {
        Ok(Some(url)) => Some(url),
        Ok(None) => None,
        Err(()) => {
            let typed = typed_endpoint.get().trim().to_string();
            (!typed.is_empty()).then_some(typed)
        }
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let t = store.locale_untracked();
        local_error.set(None);
        store.account_error.set(None);
        let (u, d, p) = (
            user.get_untracked(),
            domain.get_untracked(),
            password.get_untracked(),
        );
        if u.trim().is_empty() || d.trim().is_empty() || p.is_empty() {
            local_error.set(Some(td_string!(t, fill_all_fields)));
            return;
        }
        if register.get_untracked() && p != password_confirm.get_untracked() {
            local_error.set(Some(td_string!(t, passwords_differ)));
            return;
        }
        let d = d.trim().to_lowercase();
        let is_config = store
            .server
            .get_untracked()
            .is_some_and(|s| s.domain.eq_ignore_ascii_case(&d));
        if !is_config && store.discovered.with_untracked(|m| !m.contains_key(&d)) {
            store.send(Command::Discover { domain: d.clone() });
        }
        confirming.set(Some(d));
        request_animation_frame(|| web::focus("server-confirm-yes"));
    };

    let confirm_yes = move |_| {
        let (Some(d), Some(url)) = (confirming.get_untracked(), untrack(chosen_endpoint)) else {
            return;
        };
        let jid = logic::account_jid(&user.get_untracked(), &d);
        let account = AccountSetup {
            jid: jid.clone(),
            password: password.get_untracked().as_str().into(),
            websocket_url: url,
            remember_password: remember.get_untracked(),
        };
        confirming.set(None);
        store.account_error.set(None);
        store.reg_form.set(None);
        store.setup.set(Some(AccountId(jid)));
        store.route.set(Route::AddAccount);
        store.send(if register.get_untracked() {
            Command::Register { account }
        } else {
            Command::Login { account }
        });
    };
    let confirm_no = move || {
        confirming.set(None);
        request_animation_frame(|| web::focus("account-submit"));
    };
    let on_key = move |ev: KeyboardEvent| {
        web::trap_tab(&ev);
        if ev.key() == "Escape" {
            confirm_no();
        }
    };

    let progress = move || {
        let account = store.setup.get()?;
        if store.account_error.with(Option::is_some) {
            return None;
        }
        let t = store.locale();
        let state = store.accounts.with(|a| a.get(&account).cloned());
        Some(match state {
            Some(state) => texts::account_state_text(&state, t),
            None => td_string!(t, state_connecting).to_owned(),
        })
    };
    let has_other_accounts = move || {
        store.saved.with(|s| !s.is_empty())
            || store
                .accounts
                .with(|a| a.keys().any(|k| Some(k) != store.setup.get().as_ref()))
    };
    let show_form = move || {
        let setup = store.setup.get();
        store
            .reg_form
            .get()
            .filter(|(account, _)| Some(account) == setup.as_ref())
    };

    view! {
        <section class="card" aria-labelledby="add-account-title">
            <h2 id="add-account-title">{tr!(store, add_account_title)}</h2>
            <div class="toggle" role="group">
                <button
                    type="button"
                    id="mode-register"
                    class="toggle-button"
                    aria-pressed=move || if register.get() { "true" } else { "false" }
                    on:click=move |_| register.set(true)
                >
                    {tr!(store, mode_register)}
                </button>
                <button
                    type="button"
                    id="mode-login"
                    class="toggle-button"
                    aria-pressed=move || if register.get() { "false" } else { "true" }
                    on:click=move |_| register.set(false)
                >
                    {tr!(store, mode_login)}
                </button>
            </div>
            <form class="stack" on:submit=submit>
                <label for="account-user">{tr!(store, account_user_label)}</label>
                <input
                    id="account-user"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    bind:value=user
                />
                <label for="account-server">{tr!(store, account_server_label)}</label>
                <input
                    id="account-server"
                    type="text"
                    autocapitalize="none"
                    spellcheck="false"
                    inputmode="url"
                    bind:value=domain
                />
                <label for="account-password">{tr!(store, account_password_label)}</label>
                <input
                    id="account-password"
                    type="password"
                    autocomplete=move || if register.get() { "new-password" } else { "current-password" }
                    aria-describedby="account-password-advice"
                    bind:value=password
                />
                <p class="hint" id="account-password-advice">{tr!(store, account_password_advice)}</p>
                <Show when=move || register.get()>
                    <label for="account-password-confirm">
                        {tr!(store, account_password_confirm_label)}
                    </label>
                    <input
                        id="account-password-confirm"
                        type="password"
                        autocomplete="new-password"
                        bind:value=password_confirm
                    />
                </Show>
                <div class="check">
                    <input
                        id="remember-password"
                        type="checkbox"
                        aria-describedby="remember-password-help"
                        bind:checked=remember
                    />
                    <label for="remember-password">{tr!(store, remember_password_label)}</label>
                </div>
                <p class="hint" id="remember-password-help">{tr!(store, remember_password_help)}</p>
                <p class="error" id="account-error" role="alert">
                    {move || local_error.get().map(str::to_string).or_else(|| error_text(store))}
                </p>
                <p class="progress" id="account-progress" role="status">{progress}</p>
                <div class="actions">
                    <button type="submit" id="account-submit">
                        {move || {
                            let t = store.locale();
                            if register.get() { td_string!(t, account_submit_register) } else { td_string!(t, account_submit_login) }
                        }}
                    </button>
                    <Show when=has_other_accounts>
                        <button
                            type="button"
                            class="secondary"
                            id="add-account-cancel"
                            on:click=move |_| {
                                store.setup.set(None);
                                store.account_error.set(None);
                                store.route.set(Route::Home);
                            }
                        >
                            {tr!(store, cancel)}
                        </button>
                    </Show>
                </div>
            </form>
            {move || show_form().map(|(account, form)| view! { <RegForm store=store account=account form=form /> })}
            <Show when=move || confirming.with(Option::is_some)>
                <div class="backdrop">
                    <div
                        id="server-confirm"
                        class="dialog card"
                        role="dialog"
                        aria-modal="true"
                        aria-labelledby="server-confirm-title"
                        on:keydown=on_key
                    >
                        <h2 id="server-confirm-title">{tr!(store, server_confirm_title)}</h2>
                        <p>{tr!(store, server_confirm_text)}</p>
                        <dl>
                            <dt>{tr!(store, confirm_domain_label)}</dt>
                            <dd id="confirm-domain">{move || confirming.get().unwrap_or_default()}</dd>
                            <dt>{tr!(store, confirm_endpoint_label)}</dt>
                            <dd id="confirm-endpoint">
                                {move || match endpoint() {
                                    Ok(Some(url)) => url,
                                    Ok(None) => td_string!(store.locale(), discovering).to_owned(),
                                    Err(()) => typed_endpoint.get(),
                                }}
                            </dd>
                        </dl>
                        <Show when=move || endpoint().is_err()>
                            <label for="account-endpoint">{tr!(store, account_endpoint_label)}</label>
                            <input
                                id="account-endpoint"
                                type="url"
                                placeholder="wss://"
                                aria-describedby="account-endpoint-help"
                                bind:value=typed_endpoint
                            />
                            <p class="hint" id="account-endpoint-help">{tr!(store, account_endpoint_help)}</p>
                        </Show>
                        <div class="actions">
                            <button
                                type="button"
                                id="server-confirm-yes"
                                disabled=move || chosen_endpoint().is_none()
                                on:click=confirm_yes
                            >
                                {tr!(store, server_confirm_yes)}
                            </button>
                            <button type="button" class="secondary" id="server-confirm-no" on:click=move |_| confirm_no()>
                                {tr!(store, server_confirm_no)}
                            </button>
                        </div>
                    </div>
                </div>
            </Show>
        </section>
    }
}

/// Reads what the person entered in a registration field (`"true"`/`"false"` for a checkbox).
fn entered(var: &str) -> Option<String> {
    let el = web::document()?.get_element_by_id(&logic::field_name(var))?;
    if let Some(input) = el.dyn_ref::<web_sys::HtmlInputElement>() {
        if input.type_() == "checkbox" {
            return Some(input.checked().to_string());
        }
        return Some(input.value());
    }
    el.dyn_ref::<web_sys::HtmlTextAreaElement>()
        .map(web_sys::HtmlTextAreaElement::value)
}

/// The server's registration form: `#reg-form`, one input per field named `reg-field-{var}`.
#[component]
fn RegForm(store: Store, account: AccountId, form: Form) -> impl IntoView {
    let fields = form.fields.clone();
    let submit_account = account.clone();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        store.account_error.set(None);
        let values = logic::form_values(&fields, &entered);
        store.send(Command::SubmitRegistration {
            account: submit_account.clone(),
            values,
        });
    };
    let items = form
        .fields
        .into_iter()
        .map(|field| {
            let name = logic::field_name(&field.var);
            let label = field.label.clone().unwrap_or_else(|| field.var.clone());
            let value = field.values.first().cloned().unwrap_or_default();
            let media = field
                .media
                .iter()
                .filter(|m| logic::is_inline_image(m))
                .map(|src| {
                    let alt = label.clone();
                    view! { <img class="captcha" src=src.clone() alt=alt /> }
                })
                .collect_view();
            let input = match logic::field_input(&field.kind) {
                FieldInput::Hidden => {
                    view! { <input type="hidden" id=name.clone() name=name value=value /> }.into_any()
                }
                FieldInput::Fixed => view! { <p class="hint">{field.values.join("\n")}</p> }.into_any(),
                FieldInput::Checkbox => view! {
                    <div class="check">
                        <input type="checkbox" id=name.clone() name=name.clone() checked={value == "1" || value == "true"} />
                        <label for=name>{label.clone()}</label>
                    </div>
                }
                .into_any(),
                FieldInput::Multi => view! {
                    <label for=name.clone()>{label.clone()}</label>
                    <textarea id=name.clone() name=name required=field.required>{field.values.join("\n")}</textarea>
                }
                .into_any(),
                kind @ (FieldInput::Text | FieldInput::Password) => view! {
                    <label for=name.clone()>{label.clone()}</label>
                    <input
                        type={if kind == FieldInput::Password { "password" } else { "text" }}
                        id=name.clone()
                        name=name
                        value=value
                        required=field.required
                        autocomplete="off"
                    />
                }
                .into_any(),
            };
            view! { <div class="field">{media}{input}</div> }
        })
        .collect_view();
    view! {
        <form id="reg-form" class="stack card inner" on:submit=submit aria-labelledby="reg-form-title">
            <h3 id="reg-form-title">
                {move || form.title.clone().unwrap_or_else(|| td_string!(store.locale(), reg_form_title).to_owned())}
            </h3>
            {form.instructions.map(|i| view! { <p>{i}</p> })}
            {items}
            <div class="actions">
                <button type="submit" id="reg-form-submit">{tr!(store, reg_form_submit)}</button>
            </div>
        </form>
    }
}
