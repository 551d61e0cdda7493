//! `data-screen="contacts"`: the current account (state, log in when its password is not remembered),
//! the contacts with their presence, incoming requests, and adding a contact.

use candado_api::{AccountId, AccountSetup, AccountState, Command, Contact, Presence};
use leptos::ev::Event as DomEvent;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::lang::Lang;
use crate::logic::{self, Route};
use crate::store::Store;
use crate::texts::{self, td_string, Locale};
use crate::tr;

fn presence_key(p: Presence) -> &'static str {
    match p {
        Presence::Offline => "offline",
        Presence::Available => "available",
        Presence::Away => "away",
        Presence::Busy => "busy",
    }
}

fn presence_text(p: Presence, t: Locale) -> &'static str {
    match p {
        Presence::Offline => td_string!(t, presence_offline),
        Presence::Available => td_string!(t, presence_available),
        Presence::Away => td_string!(t, presence_away),
        Presence::Busy => td_string!(t, presence_busy),
    }
}

/// The command error shown on screens other than add-account (tracked).
pub fn command_error_text(store: Store) -> Option<&'static str> {
    let t = store.locale();
    store
        .command_error
        .get()
        .map(|kind| texts::command_failure_text(kind, t))
}

/// The account switcher (`#account-switch`), shown with two accounts or more.
#[component]
fn AccountSwitch(store: Store) -> impl IntoView {
    let all = move || {
        let mut ids: Vec<AccountId> = store
            .saved
            .with(|s| s.iter().map(|a| a.account.clone()).collect());
        store.accounts.with(|a| {
            for id in a.keys() {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        });
        ids.sort();
        ids
    };
    view! {
        <Show when=move || { all().len() > 1 }>
            <label for="account-switch">{tr!(store, account_switch_label)}</label>
            <select
                id="account-switch"
                on:change=move |ev| {
                    store.command_error.set(None);
                    store.current.set(Some(AccountId(event_target_value(&ev))));
                }
            >
                {move || {
                    let current = store.current.get();
                    all()
                        .into_iter()
                        .map(|id| {
                            let selected = Some(&id) == current.as_ref();
                            view! { <option value=id.0.clone() selected=selected>{id.0.clone()}</option> }
                        })
                        .collect_view()
                }}
            </select>
        </Show>
    }
}

/// The height of a row of the contact list in rem: `.contact-list .contact` in `candado.css`.
const CONTACT_ROW_REM: f64 = 4.0;
/// Rows rendered above and below the ones in view.
const OVERSCAN: usize = 8;
/// From this many contacts on, the list offers a search.
const SEARCH_FROM: usize = 12;

/// The root font size in pixels (rows are sized in rem, so they follow the person's text size).
fn root_font_px() -> f64 {
    web_sys::window()
        .and_then(|w| {
            let root = w.document()?.document_element()?;
            w.get_computed_style(&root).ok().flatten()
        })
        .and_then(|style| style.get_property_value("font-size").ok())
        .and_then(|size| size.trim_end_matches("px").parse().ok())
        .unwrap_or(16.0)
}

/// The window's height in pixels: the most of the list that can ever be in view.
fn window_height() -> f64 {
    web_sys::window()
        .and_then(|w| w.inner_height().ok())
        .and_then(|h| h.as_f64())
        .unwrap_or(800.0)
}

/// The rows of the contact list that are in the page, and where they sit.
#[derive(Clone, Debug, PartialEq)]
struct ContactWindow {
    /// Contacts shown (all, or those matching the search).
    total: usize,
    /// Rows above the first one rendered, and below the last.
    before: usize,
    after: usize,
    /// The rendered rows: position among those shown (from 1) and the contact.
    rows: Vec<(usize, Contact)>,
}

/// `#contacts`: the current account's contacts, sorted by address, with their presence. Only the
/// rows in view (and a margin) are in the page, so a roster of thousands renders and scrolls as
/// fast as one of ten; each row keeps its place in the list for assistive technology
/// (`aria-posinset`, `aria-setsize`). Long rosters get a search by name or address.
#[component]
fn ContactList(store: Store) -> impl IntoView {
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(window_height());
    // Until the first scroll, rows are taken to be 4 rem of 16 px: reading the real font size
    // forces a style computation of the whole page, which the first rendering need not wait for.
    let row_px = RwSignal::new(CONTACT_ROW_REM * 16.0);
    let measured = StoredValue::new(false);
    let search = RwSignal::new(String::new());
    let size = move || {
        let Some(id) = store.current.get() else {
            return 0;
        };
        store.rosters.with(|r| r.get(&id).map_or(0, Vec::len))
    };
    // Positions (in the sorted roster) of the contacts matching the search; `None` without one.
    let matching = Memo::new(move |_| -> Option<Vec<usize>> {
        let needle = search.get().trim().to_lowercase();
        if needle.is_empty() {
            return None;
        }
        let id = store.current.get()?;
        store.rosters.with(|r| {
            let list = r.get(&id).map(Vec::as_slice).unwrap_or_default();
            Some(
                list.iter()
                    .enumerate()
                    .filter(|(_, c)| logic::contact_matches(c, &needle))
                    .map(|(at, _)| at)
                    .collect(),
            )
        })
    });
    let window = Memo::new(move |_| {
        let id = store.current.get();
        store.rosters.with(|r| {
            let list = id
                .and_then(|id| r.get(&id))
                .map(Vec::as_slice)
                .unwrap_or_default();
            matching.with(|m| {
                let total = m.as_ref().map_or(list.len(), Vec::len);
                let range = logic::visible_rows(
                    scroll_top.get(),
                    viewport.get(),
                    row_px.get(),
                    total,
                    OVERSCAN,
                );
                let rows = range
                    .clone()
                    .filter_map(|k| {
                        let at = m.as_ref().map_or(Some(k), |m| m.get(k).copied())?;
                        Some((k + 1, list.get(at)?.clone()))
                    })
                    .collect();
                ContactWindow {
                    total,
                    before: range.start,
                    after: total - range.end,
                    rows,
                }
            })
        })
    });
    let on_scroll = move |ev: DomEvent| {
        use wasm_bindgen::JsCast;
        if let Some(list) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            scroll_top.set(f64::from(list.scroll_top()));
        }
        // The font size is read again only when the window changes size (rotation, zoom).
        let height = window_height();
        if height != viewport.get_untracked() || !measured.get_value() {
            measured.set_value(true);
            viewport.set(height);
            let row = CONTACT_ROW_REM * root_font_px();
            if row != row_px.get_untracked() {
                row_px.set(row);
            }
        }
    };
    // A new search starts at the top of its results.
    let list_ref = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |first: Option<()>| {
        search.track();
        // Not on the first run: the list starts at the top, and setting `scrollTop` forces a
        // layout of the whole page just as the screen appears.
        if first.is_some() {
            scroll_top.set(0.0);
            if let Some(list) = list_ref.get_untracked() {
                list.set_scroll_top(0);
            }
        }
    });
    let pad = move |rows: usize| format!("{}px", rows as f64 * row_px.get());
    view! {
        <Show when=move || { size() >= SEARCH_FROM }>
            <label for="contact-search">{tr!(store, contacts_search_label)}</label>
            <input
                id="contact-search"
                type="search"
                autocapitalize="none"
                spellcheck="false"
                aria-controls="contacts"
                bind:value=search
            />
            // Announced while a search narrows the list, not while a big roster arrives in parts.
            <p
                id="contacts-count"
                class="hint"
                aria-live=move || if search.with(|s| s.trim().is_empty()) { "off" } else { "polite" }
            >
                {move || {
                    let n = window.with(|w| w.total).to_string();
                    td_string!(store.locale(), contacts_count, n = n).to_string()
                }}
            </p>
        </Show>
        // The scroll area; the list inside it is as tall as all its rows, most of them padding.
        <div id="contacts-scroll" class="contact-scroll" node_ref=list_ref on:scroll=on_scroll>
            <ul
                id="contacts"
                class="plain contact-list"
                data-total=move || window.with(|w| w.total)
                style:padding-top=move || pad(window.with(|w| w.before))
                style:padding-bottom=move || pad(window.with(|w| w.after))
            >
                <Show when=move || window.with(|w| w.total == 0)>
                    <li class="empty">
                        {move || {
                            if size() == 0 {
                                tr!(store, contacts_empty).into_any()
                            } else {
                                tr!(store, contacts_search_none).into_any()
                            }
                        }}
                    </li>
                </Show>
                <For
                    each=move || {
                        let (lang, total) = (store.lang.get(), window.with(|w| w.total));
                        window.get().rows.into_iter().map(move |(at, c)| (lang, total, at, c))
                    }
                    key=|row| row.clone()
                    children=move |(lang, total, at, c)| contact_row(store, lang, c, at, total)
                />
            </ul>
        </div>
    }
}

/// One row of the contact list, `at` (from 1) of `total`, in language `lang`. Its texts are
/// fixed: a change of language, of the list's length or of the contact makes a new row (they are
/// all in its key), so a row costs no reactive effects while the list scrolls.
fn contact_row(store: Store, lang: Lang, c: Contact, at: usize, total: usize) -> impl IntoView {
    let t = lang.locale();
    let jid = c.jid.clone();
    let name = c.name.clone().filter(|n| !n.trim().is_empty());
    let open_label = format!("{}: {jid}", td_string!(t, open_chat));
    let open = jid.clone();
    view! {
        <li
            class="contact"
            data-jid=jid.clone()
            data-presence=presence_key(c.presence)
            aria-posinset=at
            aria-setsize=total
        >
            <span class="presence-dot" aria-hidden="true"></span>
            <span class="who">
                <span class="name" dir="auto">{name.clone().unwrap_or_else(|| jid.clone())}</span>
                <span class="detail">
                    <span class="presence">{presence_text(c.presence, t)}</span>
                    {c.pending_out.then(|| view! { <span class="pending">{td_string!(t, pending_out)}</span> })}
                    {name.is_some().then(|| view! { <span class="jid" dir="auto">{jid.clone()}</span> })}
                </span>
            </span>
            <button
                type="button"
                class="contact-open"
                aria-label=open_label
                on:click=move |_| {
                    store.command_error.set(None);
                    store.route.set(Route::Chat(open.clone()));
                }
            >
                {td_string!(t, open_chat)}
            </button>
        </li>
    }
}

/// `data-screen="contacts"`.
#[component]
pub fn Contacts(store: Store) -> impl IntoView {
    let current = move || store.current.get();
    let state = move || {
        let id = current()?;
        store.accounts.with(|a| a.get(&id).cloned())
    };
    let state_key = move || {
        state()
            .map(|s| logic::account_state_key(&s))
            .unwrap_or("offline")
    };
    let state_text = move || {
        let t = store.locale();
        state()
            .map(|s| texts::account_state_text(&s, t))
            .unwrap_or_else(|| td_string!(t, state_offline).to_owned())
    };
    // A saved account that is not logged in and whose password is not remembered asks for it.
    let needs_login = move || {
        let Some(id) = current() else { return false };
        let offline = matches!(
            state(),
            None | Some(AccountState::Offline) | Some(AccountState::Failed { .. })
        );
        offline
            && store
                .saved
                .with(|s| s.iter().any(|a| a.account == id && !a.password_saved))
    };
    let login_password = RwSignal::new(String::new());
    let login = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(id) = store.current.get_untracked() else {
            return;
        };
        let Some(saved) = store
            .saved
            .with_untracked(|s| s.iter().find(|a| a.account == id).cloned())
        else {
            return;
        };
        store.command_error.set(None);
        store.send(Command::Login {
            account: AccountSetup {
                jid: id.0.clone(),
                password: login_password.get_untracked().as_str().into(),
                websocket_url: saved.websocket_url,
                remember_password: false,
            },
        });
        login_password.set(String::new());
    };

    let requests = move || -> Vec<String> {
        let Some(id) = current() else {
            return Vec::new();
        };
        store
            .requests
            .with(|r| r.get(&id).cloned().unwrap_or_default())
    };
    let answer = move |jid: String, accept: bool| {
        if let Some(account) = store.current.get_untracked() {
            store.send(Command::AnswerSubscription {
                account: account.clone(),
                jid: jid.clone(),
                accept,
            });
            store.requests.update(|r| {
                if let Some(list) = r.get_mut(&account) {
                    list.retain(|j| j != &jid);
                }
            });
        }
    };
    let new_contact = RwSignal::new(String::new());
    let add = move |ev: SubmitEvent| {
        ev.prevent_default();
        let jid = new_contact.get_untracked().trim().to_string();
        let Some(account) = store.current.get_untracked() else {
            return;
        };
        if jid.is_empty() {
            return;
        }
        store.command_error.set(None);
        store.send(Command::AddContact {
            account,
            jid,
            name: None,
        });
        new_contact.set(String::new());
    };

    let rooms = move || -> Vec<(String, bool)> {
        let Some(id) = current() else {
            return Vec::new();
        };
        store.rooms.with(|r| {
            r.iter()
                .filter(|((account, _), _)| *account == id)
                .map(|((_, room), view)| (room.clone(), view.joined))
                .collect()
        })
    };
    let room_jid = RwSignal::new(String::new());
    let room_password = RwSignal::new(String::new());
    let members_only = RwSignal::new(false);
    let persistent = RwSignal::new(false);
    let room_nick = RwSignal::new(
        store
            .current
            .get_untracked()
            .map(|id| logic::default_nick(id.as_str()))
            .unwrap_or_default(),
    );
    let join = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(account) = store.current.get_untracked() else {
            return;
        };
        let room = room_jid.get_untracked().trim().to_lowercase();
        if room.is_empty() {
            return;
        }
        let nick = match room_nick.get_untracked().trim() {
            "" => logic::default_nick(account.as_str()),
            nick => nick.to_owned(),
        };
        let password = Some(room_password.get_untracked()).filter(|p| !p.is_empty());
        let new_room = candado_api::NewRoom {
            members_only: members_only.get_untracked(),
            persistent: persistent.get_untracked(),
        };
        store.join_room(account, room, nick, password, new_room);
        room_password.set(String::new());
    };
    let room_error = move || {
        let t = store.locale();
        store.room_error.get().map(|e| {
            format!(
                "{}: {}",
                e.room,
                texts::room_failure_text(&e.condition, e.text.as_deref(), e.with_password, t)
            )
        })
    };

    view! {
        <section class="card account-header" aria-labelledby="account-jid">
            <AccountSwitch store=store />
            <h2 id="account-jid">{move || current().map(|c| c.0).unwrap_or_default()}</h2>
            <p id="account-state" class="account-state" role="status" data-state=state_key>
                {state_text}
            </p>
            <Show when=needs_login>
                <form class="inline-form" on:submit=login>
                    <label for="login-password">{tr!(store, login_password_label)}</label>
                    <input id="login-password" type="password" autocomplete="current-password" bind:value=login_password />
                    <button type="submit" id="login">{tr!(store, login)}</button>
                </form>
            </Show>
            <div class="actions toolbar">
                <button type="button" class="secondary" id="settings-open" on:click=move |_| store.route.set(Route::Settings)>
                    {tr!(store, settings_open)}
                </button>
                <button type="button" class="secondary" id="add-account-open" on:click=move |_| store.route.set(Route::AddAccount)>
                    {tr!(store, add_account_open)}
                </button>
                <button type="button" class="secondary" id="lock-now" on:click=move |_| store.send(Command::Lock)>
                    {tr!(store, lock_now)}
                </button>
            </div>
        </section>
        <p class="error" id="contacts-error" role="alert">{move || command_error_text(store)}</p>
        <Show when=move || !requests().is_empty()>
            <section class="card" aria-labelledby="requests-title">
                <h2 id="requests-title">{tr!(store, requests_title)}</h2>
                <ul id="requests" class="plain">
                    {move || requests()
                        .into_iter()
                        .map(|jid| {
                            let (a, r) = (jid.clone(), jid.clone());
                            view! {
                                <li class="request" data-jid=jid.clone()>
                                    <span class="jid" dir="auto">{jid.clone()}</span>
                                    " "
                                    <span>{tr!(store, request_text)}</span>
                                    <span class="actions">
                                        <button type="button" class="request-accept" on:click=move |_| answer(a.clone(), true)>
                                            {tr!(store, request_accept)}
                                        </button>
                                        <button type="button" class="request-refuse secondary" on:click=move |_| answer(r.clone(), false)>
                                            {tr!(store, request_refuse)}
                                        </button>
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        </Show>
        <super::invitations::Invitations store=store />
        <section class="card" aria-labelledby="contacts-title">
            <h2 id="contacts-title">{tr!(store, contacts_title)}</h2>
            <ContactList store=store />
            <form class="inline-form" on:submit=add>
                <label for="add-contact-jid">{tr!(store, add_contact_label)}</label>
                <input
                    id="add-contact-jid"
                    type="text"
                    inputmode="email"
                    autocapitalize="none"
                    spellcheck="false"
                    placeholder="alice@example.org"
                    bind:value=new_contact
                />
                <button type="submit" id="add-contact">{tr!(store, add_contact)}</button>
            </form>
        </section>
        <section class="card" aria-labelledby="groups-title">
            <h2 id="groups-title">{tr!(store, groups_title)}</h2>
            <p class="hint group-note">{tr!(store, groups_note)}</p>
            <ul id="rooms" class="plain">
                {move || {
                    let list = rooms();
                    if list.is_empty() {
                        return view! { <li class="empty">{tr!(store, rooms_empty)}</li> }.into_any();
                    }
                    list.into_iter()
                        .map(|(room, joined)| {
                            let open = room.clone();
                            view! {
                                <li class="room" data-jid=room.clone() data-joined=if joined { "true" } else { "false" }>
                                    <span class="who">
                                        <span class="name" dir="auto">{room.clone()}</span>
                                        {(!joined).then(|| view! { <span class="pending">{tr!(store, room_joining)}</span> })}
                                    </span>
                                    <button
                                        type="button"
                                        class="room-open"
                                        disabled=!joined
                                        aria-label=move || format!("{}: {}", td_string!(store.locale(), room_open), open)
                                        on:click={
                                            let room = room.clone();
                                            move |_| {
                                                store.command_error.set(None);
                                                store.route.set(Route::Group(room.clone()));
                                            }
                                        }
                                    >
                                        {tr!(store, room_open)}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
            </ul>
            <p class="error" id="rooms-error" role="alert">{room_error}</p>
            <form class="inline-form room-form" on:submit=join>
                <label for="join-room-jid">{tr!(store, join_room_jid_label)}</label>
                <input
                    id="join-room-jid"
                    type="text"
                    inputmode="email"
                    autocapitalize="none"
                    spellcheck="false"
                    placeholder="sala@conference.example.org"
                    bind:value=room_jid
                />
                <label for="join-room-nick">{tr!(store, join_room_nick_label)}</label>
                <input
                    id="join-room-nick"
                    type="text"
                    autocapitalize="none"
                    spellcheck="false"
                    bind:value=room_nick
                />
                <label for="join-room-password">{tr!(store, join_room_password_label)}</label>
                <input
                    id="join-room-password"
                    type="password"
                    autocomplete="off"
                    bind:value=room_password
                />
                <details class="new-room">
                    <summary>{tr!(store, new_room_settings)}</summary>
                    <p class="hint">{tr!(store, new_room_hint)}</p>
                    <label class="check">
                        <input id="join-room-members-only" type="checkbox" bind:checked=members_only />
                        {tr!(store, new_room_members_only)}
                    </label>
                    <label class="check">
                        <input id="join-room-persistent" type="checkbox" bind:checked=persistent />
                        {tr!(store, new_room_persistent)}
                    </label>
                </details>
                <button type="submit" id="join-room">{tr!(store, join_room)}</button>
            </form>
        </section>
    }
}
