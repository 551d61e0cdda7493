//! Room invitations on the contacts screen (`#invitations`): who invites (marked when it is not one
//! of our contacts), into which room, their note as text, and join / decline. Nothing is joined
//! until the person chooses to.

use candado_api::Invitation;
use leptos::prelude::*;

use crate::logic;
use crate::store::Store;
use crate::texts::td_string;
use crate::tr;

/// The invitations of the current account, shown when there is at least one.
#[component]
pub fn Invitations(store: Store) -> impl IntoView {
    let list = move || -> Vec<Invitation> {
        let Some(id) = store.current.get() else {
            return Vec::new();
        };
        store
            .invitations
            .with(|all| all.get(&id).cloned().unwrap_or_default())
    };
    let join = move |room: String| {
        if let Some(account) = store.current.get_untracked() {
            let nick = logic::default_nick(account.as_str());
            store.join_room(account, room, nick, None, Default::default());
        }
    };
    let decline = move |room: String| {
        if let Some(account) = store.current.get_untracked() {
            store.decline_invitation(account, room);
        }
    };
    view! {
        <Show when=move || !list().is_empty()>
            <section class="card" aria-labelledby="invitations-title">
                <h2 id="invitations-title">{tr!(store, invitations_title)}</h2>
                <ul id="invitations" class="plain">
                    {move || list()
                        .into_iter()
                        .map(|i| {
                            let t = store.locale();
                            let from = i
                                .from
                                .clone()
                                .or_else(|| i.from_nick.clone())
                                .unwrap_or_else(|| td_string!(t, invitation_someone).to_owned());
                            let text = td_string!(t, invitation_text, from = &from, room = &i.room);
                            let stranger = !i.from_contact;
                            let (j, d) = (i.room.clone(), i.room.clone());
                            view! {
                                <li
                                    class="invitation"
                                    data-room=i.room.clone()
                                    data-from=i.from.clone().unwrap_or_default()
                                    data-stranger=if stranger { "true" } else { "false" }
                                >
                                    <span class="who">
                                        <span class="invitation-text">{text}</span>
                                        {stranger.then(|| view! { <span class="stranger warning">{td_string!(t, invitation_stranger).to_owned()}</span> })}
                                        {i.reason.clone().map(|r| view! { <span class="invitation-reason" dir="auto">{r.into_string()}</span> })}
                                        {i.has_password.then(|| view! { <span class="hint">{td_string!(t, invitation_with_password).to_owned()}</span> })}
                                    </span>
                                    <span class="actions">
                                        <button type="button" class="invitation-join" on:click=move |_| join(j.clone())>
                                            {tr!(store, invitation_join)}
                                        </button>
                                        <button type="button" class="invitation-decline secondary" on:click=move |_| decline(d.clone())>
                                            {tr!(store, invitation_decline)}
                                        </button>
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        </Show>
    }
}
