//! `data-screen="group"`: one group chat (XEP-0045). A permanent banner says it is not end-to-end
//! encrypted; then the subject (and changing it), who is in the room, inviting a contact, the
//! messages (always text; ours refused by the room are marked) and the composer.

use candado_api::{Command, Delivery};
use leptos::prelude::*;

use crate::logic::Route;
use crate::store::{Room, RoomProblem, Store};
use crate::texts::td_string;
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
            text: body.clone().into(),
        })
    });
    let new_subject = RwSignal::new(String::new());
    let set_subject = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let (Some(account), Some(room)) = (
            store.current.get_untracked(),
            untrack(|| store.group_room()),
        ) {
            store.set_room_subject(account, room, new_subject.get_untracked());
            new_subject.set(String::new());
        }
    };
    let invitee = RwSignal::new(String::new());
    let invited = RwSignal::new(None::<String>);
    let invite = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let jid = invitee.get_untracked().trim().to_owned();
        if jid.is_empty() {
            return;
        }
        with_room(&|account, room| Command::InviteToRoom {
            account,
            room,
            jid: jid.clone(),
        });
        invited.set(Some(jid));
        invitee.set(String::new());
    };
    let contacts = move || -> Vec<String> {
        let Some(id) = store.current.get() else {
            return Vec::new();
        };
        store.rosters.with(|r| {
            r.get(&id)
                .map(|l| l.iter().map(|c| c.jid.clone()).collect())
                .unwrap_or_default()
        })
    };
    let problem = move || {
        let t = store.locale();
        match room().problem {
            Some(RoomProblem::SubjectRefused(condition)) => Some(format!(
                "{} ({condition})",
                td_string!(t, room_subject_failed)
            )),
            Some(RoomProblem::NotConfigured) => Some(td_string!(t, room_not_configured).to_owned()),
            None => command_error_text(store).map(str::to_owned),
        }
    };
    let leave = move |_| {
        with_room(&|account, room| Command::LeaveRoom { account, room });
        store.route.set(Route::Home);
    };

    view! {
        // The banner and the header stay on screen together while a long room scrolls, so the way
        // back is never hidden under the banner.
        <div class="group-top">
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
        </div>
        <p class="room-subject" dir="auto">
            <span class="label">{tr!(store, room_subject_label)} ": "</span>
            <span id="room-subject" data-empty=move || subject.get().is_none().then_some("true")>
                {move || subject.get().unwrap_or_else(|| td_string!(store.locale(), room_no_subject).to_owned())}
            </span>
        </p>
        <form class="inline-form room-subject-form" on:submit=set_subject>
            <label for="room-subject-input">{tr!(store, room_subject_input_label)}</label>
            <input id="room-subject-input" type="text" bind:value=new_subject />
            <button type="submit" class="secondary" id="room-subject-set">{tr!(store, room_subject_set)}</button>
        </form>
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
                                <li class="occupant" dir="auto" data-nick=nick.clone() data-own=if is_own { "true" } else { "false" }>
                                    {nick.clone()}
                                    {is_own.then(|| view! { <span class="own-mark">" (" {tr!(store, room_own)} ")"</span> })}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <form class="inline-form room-invite-form" on:submit=invite>
                <label for="room-invite-jid">{tr!(store, room_invite_label)}</label>
                <input
                    id="room-invite-jid"
                    type="text"
                    inputmode="email"
                    autocapitalize="none"
                    spellcheck="false"
                    list="room-invite-contacts"
                    bind:value=invitee
                />
                <datalist id="room-invite-contacts">
                    {move || contacts().into_iter().map(|j| view! { <option value=j></option> }).collect_view()}
                </datalist>
                <button type="submit" class="secondary" id="room-invite">{tr!(store, room_invite)}</button>
            </form>
            <p id="room-invite-status" class="hint" role="status">
                {move || invited.get().map(|jid| td_string!(store.locale(), room_invite_sent, jid = &jid))}
            </p>
        </details>
        <div class="message-log" role="log" aria-label=tr!(store, room_messages_label)>
            <ul id="room-messages" class="messages plain">
                {move || {
                    room()
                        .messages
                        .into_iter()
                        .map(|m| {
                            let nick = m.nick.clone();
                            let failed = m.delivery == Delivery::Failed;
                            view! {
                                <li
                                    class="room-message"
                                    data-id=m.id.clone()
                                    data-nick=nick
                                    data-own=if m.own { "true" } else { "false" }
                                    data-delivery=super::chat::delivery_key(m.delivery)
                                >
                                    <span class="message-nick" dir="auto">{m.nick}</span>
                                    <span class="message-text" dir="auto">{m.text.into_string()}</span>
                                    {failed.then(|| view! {
                                        <span class="message-meta"><span class="delivery failed">{tr!(store, room_message_failed)}</span></span>
                                    })}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
        <p class="error" id="room-error" role="alert">{problem}</p>
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
