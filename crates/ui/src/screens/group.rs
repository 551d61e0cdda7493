//! `data-screen="group"`: one group chat (XEP-0045). A permanent banner says it is not end-to-end
//! encrypted; then the subject, who is in the room, the messages (always text) and the composer.

use candado_api::Command;
use leptos::prelude::*;

use crate::logic::Route;
use crate::store::{Room, Store};
use crate::tr;

use super::contacts::command_error_text;

/// `data-screen="group"`.
#[component]
pub fn Group(store: Store) -> impl IntoView {
    let room_jid = move || store.group_room().unwrap_or_default();
    let room = move || -> Room {
        let (Some(account), Some(room)) = (store.current.get(), store.group_room()) else {
            return Room::default();
        };
        store
            .rooms
            .with(|r| r.get(&(account, room)).cloned().unwrap_or_default())
    };
    let subject = Memo::new(move |_| room().subject);
    let occupants = Memo::new(move |_| room().occupants);
    let text = RwSignal::new(String::new());
    let with_room = move |make: &dyn Fn(candado_api::AccountId, String) -> Command| {
        if let (Some(account), Some(room)) = (
            store.current.get_untracked(),
            untrack(|| store.group_room()),
        ) {
            store.command_error.set(None);
            store.send(make(account, room));
        }
    };
    let (send_text, on_key) = super::composer(text, move |body| {
        with_room(&|account, room| Command::SendRoomMessage {
            account,
            room,
            text: body.clone(),
        })
    });
    let leave = move |_| {
        with_room(&|account, room| Command::LeaveRoom { account, room });
        store.route.set(Route::Home);
    };

    view! {
        <p id="group-banner" class="group-banner" role="note">{tr!(store, group_banner)}</p>
        <header class="chat-header card">
            <button type="button" class="secondary" id="back" on:click=move |_| {
                store.command_error.set(None);
                store.route.set(Route::Home);
            }>
                {tr!(store, back)}
            </button>
            <h2 id="group-room">{room_jid}</h2>
            <button type="button" class="secondary" id="room-leave" on:click=leave>
                {tr!(store, room_leave)}
            </button>
        </header>
        <p class="room-subject">
            <span class="label">{tr!(store, room_subject_label)} ": "</span>
            <span id="room-subject" data-empty=move || subject.get().is_none().then_some("true")>
                {move || subject.get().unwrap_or_else(|| store.t().room_no_subject.clone())}
            </span>
        </p>
        <details class="card occupants" open>
            <summary>
                {tr!(store, occupants_title)} " (" {move || occupants.get().len()} ")"
            </summary>
            <ul id="occupants" class="plain">
                {move || {
                    let own = room().nick;
                    occupants
                        .get()
                        .into_iter()
                        .map(|nick| {
                            let is_own = nick == own;
                            view! {
                                <li class="occupant" data-nick=nick.clone() data-own=if is_own { "true" } else { "false" }>
                                    {nick.clone()}
                                    {is_own.then(|| view! { <span class="own-mark">" (" {tr!(store, room_own)} ")"</span> })}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </details>
        <ul id="room-messages" class="messages plain" role="log" aria-label=tr!(store, room_messages_label)>
            {move || {
                room()
                    .messages
                    .into_iter()
                    .map(|m| {
                        let nick = m.nick.clone();
                        view! {
                            <li
                                class="room-message"
                                data-id=m.id.clone()
                                data-nick=nick
                                data-own=if m.own { "true" } else { "false" }
                            >
                                <span class="message-nick">{m.nick}</span>
                                <span class="message-text">{m.text}</span>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
        <p class="error" id="room-error" role="alert">{move || command_error_text(store)}</p>
        <form class="composer" on:submit=move |ev| {
            ev.prevent_default();
            send_text();
        }>
            <label for="room-input" class="visually-hidden">{tr!(store, room_input_label)}</label>
            <textarea id="room-input" rows="2" bind:value=text on:keydown=on_key></textarea>
            <button type="submit" id="room-send">{tr!(store, room_send)}</button>
        </form>
    }
}
