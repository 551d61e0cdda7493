//! The UI's single store: signals fed by the worker's events ([`Store::apply`]), read by the screens.
//! Commands leave through [`Store::send`], which the app wires to the worker (tests wire it to a list).

use std::collections::BTreeMap;
use std::sync::Arc;

use candado_api::{
    AccountFailure, AccountId, AccountState, ChatMessage, Command, CommandFailure, ConnectionState,
    Contact, Delivery, Direction, Event, Form, Invitation, NewRoom, Notice, OtrPolicy, PadlockView,
    RoomMessage, SavedAccount, ServerConfig, VaultFailure, VaultState,
};
use leptos::prelude::*;

use crate::lang::Lang;
use crate::logic::{self, Route, Screen};
use crate::texts::{self, td_string, Locale};

/// What the connection status area shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Nothing known yet.
    Starting,
    /// The probe connection's state.
    Connection(ConnectionState),
    /// `config.json` could not be used.
    ConfigError(String),
    /// The worker could not start.
    WorkerError,
    /// The service worker could not check the worker's files against their hashes (one did not
    /// match, or its download was cut), so the worker was not started.
    Unverified,
}

pub use crate::logic::Item;

/// A conversation as shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conversation {
    /// Messages and status lines, oldest first.
    pub items: Vec<Item>,
    /// The padlock, once the worker reported one.
    pub padlock: Option<PadlockView>,
}

/// A chat's opt-in history as the worker reported it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatHistory {
    /// The chat's messages are being kept in the vault.
    pub keep: bool,
    /// The kept messages loaded after unlocking, oldest first (shown above the new ones).
    pub messages: Vec<ChatMessage>,
}

/// A group chat as shown. Group chats are never end-to-end encrypted (the screen says so).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Room {
    /// Our nickname, once joined.
    pub nick: String,
    /// The room accepted us.
    pub joined: bool,
    /// The subject, if any.
    pub subject: Option<String>,
    /// Who is in the room, sorted.
    pub occupants: Vec<String>,
    /// The messages, oldest first.
    pub messages: Vec<RoomMessage>,
    /// What went wrong in the room, shown on its screen until the next action there.
    pub problem: Option<RoomProblem>,
}

/// A room-specific problem shown on the group screen.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomProblem {
    /// The room refused our subject (XMPP condition).
    SubjectRefused(String),
    /// We created the room but it could not take the settings asked for.
    NotConfigured,
}

/// Entering a room failed.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomError {
    /// The room.
    pub room: String,
    /// The XMPP condition (`conflict`: the nickname is taken).
    pub condition: String,
    /// The server's text.
    pub text: Option<String>,
    /// We gave a password (so `not-authorized` means a wrong one, not a missing one).
    pub with_password: bool,
}

/// An error shown on the add-account screen.
#[derive(Clone, Debug, PartialEq)]
pub enum AccountError {
    /// The server refused the registration.
    Registration {
        /// XMPP condition.
        condition: String,
        /// Server text.
        text: Option<String>,
    },
    /// The account failed.
    Account(AccountFailure),
    /// A command failed.
    Command(CommandFailure),
}

/// The contact's SMP question waiting for our answer.
#[derive(Clone, Debug, PartialEq)]
pub struct SmpPrompt {
    /// Our account.
    pub account: AccountId,
    /// The contact.
    pub peer: String,
    /// The question, or `None` for a shared secret.
    pub question: Option<String>,
}

type Sender = Arc<dyn Fn(Command) + Send + Sync>;

/// The store. Every field is a signal (the store is `Copy`).
#[derive(Clone, Copy)]
pub struct Store {
    /// Interface language.
    pub lang: RwSignal<Lang>,
    /// Connection probe status.
    pub status: RwSignal<Status>,
    /// The configured server.
    pub server: RwSignal<Option<ServerConfig>>,
    /// The worker said `Ready`.
    pub worker_ready: RwSignal<bool>,
    /// The vault's state, once known.
    pub vault: RwSignal<Option<VaultState>>,
    /// The last vault failure.
    pub vault_error: RwSignal<Option<VaultFailure>>,
    /// An unlock was sent and the saved accounts have not arrived yet.
    pub waiting_for_accounts: RwSignal<bool>,
    /// Accounts saved in the vault.
    pub saved: RwSignal<Vec<SavedAccount>>,
    /// Connection state of each account the worker told us about.
    pub accounts: RwSignal<BTreeMap<AccountId, AccountState>>,
    /// The account on show.
    pub current: RwSignal<Option<AccountId>>,
    /// Where the person is.
    pub route: RwSignal<Route>,
    /// Contacts per account, sorted by address (see [`logic::roster_sorted`]).
    pub rosters: RwSignal<BTreeMap<AccountId, Vec<Contact>>>,
    /// Incoming subscription requests per account.
    pub requests: RwSignal<BTreeMap<AccountId, Vec<String>>>,
    /// Conversations per (account, contact).
    pub conversations: RwSignal<BTreeMap<(AccountId, String), Conversation>>,
    /// The opt-in history per (account, contact), for the chats the worker reported.
    pub histories: RwSignal<BTreeMap<(AccountId, String), ChatHistory>>,
    /// Group chats per (account, room), joined or being joined.
    pub rooms: RwSignal<BTreeMap<(AccountId, String), Room>>,
    /// Why the last attempt to enter a room failed.
    pub room_error: RwSignal<Option<RoomError>>,
    /// The room the person just asked to enter: it opens once the room accepts.
    pub room_to_open: RwSignal<Option<(AccountId, String)>>,
    /// Whether the last attempt to enter a room gave a password.
    pub room_join_with_password: RwSignal<bool>,
    /// Room invitations waiting for an answer, per account (newest last).
    pub invitations: RwSignal<BTreeMap<AccountId, Vec<Invitation>>>,
    /// Own fingerprints per account.
    pub own_fingerprints: RwSignal<BTreeMap<AccountId, String>>,
    /// The default OTR policy of each logged-in account, as the worker reports it.
    pub policies: RwSignal<BTreeMap<AccountId, OtrPolicy>>,
    /// An incoming SMP question.
    pub smp_incoming: RwSignal<Option<SmpPrompt>>,
    /// Discovered endpoints per domain (`None`: the server publishes none).
    pub discovered: RwSignal<BTreeMap<String, Option<String>>>,
    /// The account being added (registration or first login).
    pub setup: RwSignal<Option<AccountId>>,
    /// A registration form from the server.
    pub reg_form: RwSignal<Option<(AccountId, Form)>>,
    /// An error on the add-account screen.
    pub account_error: RwSignal<Option<AccountError>>,
    /// A failed command elsewhere (contacts, chat, settings).
    pub command_error: RwSignal<Option<CommandFailure>>,
    /// The verify dialog is open.
    pub verify_open: RwSignal<bool>,
    /// A passphrase change is under way (shows "Done." on success).
    pub changing_passphrase: RwSignal<Option<bool>>,
    /// Polite announcements (new messages, security changes).
    pub announce: RwSignal<String>,
    /// Assertive announcements (fingerprint changed).
    pub alert: RwSignal<String>,
    sender: StoredValue<Sender>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A fresh store whose commands go to `send`.
    pub fn new(lang: Lang, send: impl Fn(Command) + Send + Sync + 'static) -> Store {
        let sender: Sender = Arc::new(send);
        Store {
            lang: RwSignal::new(lang),
            status: RwSignal::new(Status::Starting),
            server: RwSignal::new(None),
            worker_ready: RwSignal::new(false),
            vault: RwSignal::new(None),
            vault_error: RwSignal::new(None),
            waiting_for_accounts: RwSignal::new(false),
            saved: RwSignal::new(Vec::new()),
            accounts: RwSignal::new(BTreeMap::new()),
            current: RwSignal::new(None),
            route: RwSignal::new(Route::Home),
            rosters: RwSignal::new(BTreeMap::new()),
            requests: RwSignal::new(BTreeMap::new()),
            conversations: RwSignal::new(BTreeMap::new()),
            histories: RwSignal::new(BTreeMap::new()),
            rooms: RwSignal::new(BTreeMap::new()),
            room_error: RwSignal::new(None),
            room_to_open: RwSignal::new(None),
            room_join_with_password: RwSignal::new(false),
            invitations: RwSignal::new(BTreeMap::new()),
            own_fingerprints: RwSignal::new(BTreeMap::new()),
            policies: RwSignal::new(BTreeMap::new()),
            smp_incoming: RwSignal::new(None),
            discovered: RwSignal::new(BTreeMap::new()),
            setup: RwSignal::new(None),
            reg_form: RwSignal::new(None),
            account_error: RwSignal::new(None),
            command_error: RwSignal::new(None),
            verify_open: RwSignal::new(false),
            changing_passphrase: RwSignal::new(None),
            announce: RwSignal::new(String::new()),
            alert: RwSignal::new(String::new()),
            sender: StoredValue::new(sender),
        }
    }

    /// Sends a command to the worker.
    pub fn send(&self, command: Command) {
        let sender = self.sender.get_value();
        sender(command);
    }

    /// The interface language's texts, for `td_string!` (tracked: a view that reads it follows a change
    /// of language).
    pub fn locale(&self) -> Locale {
        self.lang.get().locale()
    }

    /// [`Store::locale`] without tracking, for texts read once (announcements, notifications, dialogs).
    pub fn locale_untracked(&self) -> Locale {
        self.lang.get_untracked().locale()
    }

    /// The screen on show (tracked).
    pub fn screen(&self) -> Screen {
        let has_account = self.saved.with(|s| !s.is_empty())
            || self.accounts.with(|a| !a.is_empty())
            || self.current.with(Option::is_some);
        self.route.with(|route| {
            logic::screen(
                self.vault.get(),
                route,
                self.waiting_for_accounts.get(),
                has_account,
            )
        })
    }

    /// The contact of the open chat, if any (tracked).
    pub fn chat_peer(&self) -> Option<String> {
        self.route.with(|r| match r {
            Route::Chat(peer) => Some(peer.clone()),
            _ => None,
        })
    }

    /// The room of the open group chat, if any (tracked).
    pub fn group_room(&self) -> Option<String> {
        self.route.with(|r| match r {
            Route::Group(room) => Some(room.clone()),
            _ => None,
        })
    }

    /// Asks to enter `room` as `nick` (with `password`, or the one of an invitation into it; a room
    /// this creates gets `new_room`'s settings); the room shows as "joining" until the worker
    /// answers. An invitation into the room is answered by this.
    pub fn join_room(
        &self,
        account: AccountId,
        room: String,
        nick: String,
        password: Option<String>,
        new_room: NewRoom,
    ) {
        self.room_error.set(None);
        self.command_error.set(None);
        let password = password.filter(|p| !p.is_empty());
        self.room_join_with_password.set(
            password.is_some()
                || self.invitations.with_untracked(|all| {
                    all.get(&account)
                        .is_some_and(|l| l.iter().any(|i| i.room == room && i.has_password))
                }),
        );
        self.drop_invitation(&account, &room);
        self.rooms.update(|all| {
            all.entry((account.clone(), room.clone())).or_default();
        });
        self.room_to_open.set(Some((account.clone(), room.clone())));
        self.send(Command::JoinRoom {
            account,
            room,
            nick,
            password: password.map(|p| p.as_str().into()),
            new_room,
        });
    }

    /// Declines the invitation into `room`.
    pub fn decline_invitation(&self, account: AccountId, room: String) {
        self.drop_invitation(&account, &room);
        self.send(Command::DeclineInvitation { account, room });
    }

    fn drop_invitation(&self, account: &AccountId, room: &str) {
        if self.invitations.with_untracked(|all| {
            all.get(account)
                .is_some_and(|l| l.iter().any(|i| i.room == room))
        }) {
            self.invitations.update(|all| {
                if let Some(list) = all.get_mut(account) {
                    list.retain(|i| i.room != room);
                }
            });
        }
    }

    /// Sets the subject of the room on show, clearing the room's last problem.
    pub fn set_room_subject(&self, account: AccountId, room: String, subject: String) {
        self.command_error.set(None);
        self.room(account.clone(), room.clone(), |r| r.problem = None);
        self.send(Command::SetRoomSubject {
            account,
            room,
            subject: subject.into(),
        });
    }

    fn room(&self, account: AccountId, room: String, f: impl FnOnce(&mut Room)) {
        self.rooms.update(|all| {
            if let Some(r) = all.get_mut(&(account, room)) {
                f(r);
            }
        });
    }

    /// Sends `Unlock` and waits for the saved accounts.
    pub fn unlock(&self, passphrase: &str) {
        self.vault_error.set(None);
        self.waiting_for_accounts.set(true);
        self.send(Command::Unlock {
            passphrase: passphrase.into(),
        });
        // Should the saved accounts never come, do not stay on "opening" for ever.
        let waiting = self.waiting_for_accounts;
        set_timeout(
            move || waiting.set(false),
            std::time::Duration::from_secs(5),
        );
    }

    pub fn announce_polite(&self, text: String) {
        self.announce.set(text);
    }

    fn reset_after_lock(&self) {
        self.accounts.set(BTreeMap::new());
        self.policies.set(BTreeMap::new());
        self.rosters.set(BTreeMap::new());
        self.requests.set(BTreeMap::new());
        self.conversations.set(BTreeMap::new());
        self.histories.set(BTreeMap::new());
        self.rooms.set(BTreeMap::new());
        self.room_error.set(None);
        self.room_to_open.set(None);
        self.invitations.set(BTreeMap::new());
        self.own_fingerprints.set(BTreeMap::new());
        self.smp_incoming.set(None);
        self.setup.set(None);
        self.reg_form.set(None);
        self.account_error.set(None);
        self.command_error.set(None);
        self.verify_open.set(false);
        self.saved.set(Vec::new());
        self.current.set(None);
        self.route.set(Route::Home);
        self.waiting_for_accounts.set(false);
    }

    fn conversation(&self, account: AccountId, peer: String, f: impl FnOnce(&mut Conversation)) {
        self.conversations
            .update(|all| f(all.entry((account, peer)).or_default()));
    }

    /// Applies one event from the worker.
    pub fn apply(&self, event: Event) {
        let t = self.locale_untracked();
        match event {
            Event::Ready => self.worker_ready.set(true),
            Event::Pong { .. } => {}
            Event::Connection { state } => self.status.set(Status::Connection(state)),
            Event::ProtocolError { detail } => {
                web_sys::console::warn_1(&format!("candado: {detail}").into());
                if !self.worker_ready.get_untracked() {
                    self.status.set(Status::WorkerError);
                }
            }
            Event::Vault { state } => {
                if matches!(state, VaultState::Locked | VaultState::Absent) {
                    self.reset_after_lock();
                }
                if state == VaultState::Unlocked {
                    self.vault_error.set(None);
                    if self.changing_passphrase.get_untracked() == Some(false) {
                        self.changing_passphrase.set(Some(true));
                    }
                }
                self.vault.set(Some(state));
            }
            Event::VaultFailed { reason, .. } => {
                self.waiting_for_accounts.set(false);
                if self.changing_passphrase.get_untracked().is_some() {
                    self.changing_passphrase.set(None);
                }
                self.vault_error.set(Some(reason));
            }
            Event::SavedAccounts { accounts } => {
                self.waiting_for_accounts.set(false);
                let current = self.current.get_untracked();
                let known = current.as_ref().is_some_and(|c| {
                    accounts.iter().any(|s| &s.account == c)
                        || self.accounts.with_untracked(|a| a.contains_key(c))
                });
                if !known {
                    self.current
                        .set(accounts.first().map(|s| s.account.clone()));
                }
                self.saved.set(accounts);
            }
            Event::Discovered {
                domain,
                websocket_url,
            } => self.discovered.update(|d| {
                d.insert(domain.to_lowercase(), websocket_url);
            }),
            Event::Account { account, state } => self.apply_account(account, state),
            Event::RegistrationForm { account, form } => {
                self.reg_form.set(Some((account, form)));
            }
            Event::RegistrationFailed {
                condition, text, ..
            } => self
                .account_error
                .set(Some(AccountError::Registration { condition, text })),
            Event::Roster { account, contacts } => self.rosters.update(|r| {
                r.insert(account, logic::roster_sorted(contacts));
            }),
            Event::RosterMore { account, contacts } => self.rosters.update(|r| {
                let list = r.entry(account).or_default();
                list.extend(contacts);
                // The parts come in the worker's order: sorting the two runs is a merge.
                *list = logic::roster_sorted(std::mem::take(list));
            }),
            Event::Contact { account, contact } => {
                if matches!(
                    contact.subscription,
                    candado_api::Subscription::From | candado_api::Subscription::Both
                ) {
                    self.requests.update(|r| {
                        if let Some(list) = r.get_mut(&account) {
                            list.retain(|j| j != &contact.jid);
                        }
                    });
                }
                self.rosters
                    .update(|r| logic::roster_upsert(r.entry(account).or_default(), contact));
            }
            Event::ContactRemoved { account, jid } => self.rosters.update(|r| {
                if let Some(list) = r.get_mut(&account) {
                    logic::roster_remove(list, &jid);
                }
            }),
            Event::SubscriptionRequest { account, jid, .. } => {
                self.announce_polite(format!("{}: {jid}", td_string!(t, requests_title)));
                self.requests.update(|r| {
                    let list = r.entry(account).or_default();
                    if !list.contains(&jid) {
                        list.push(jid);
                    }
                });
            }
            Event::Message {
                account,
                peer,
                message,
            } => {
                if message.direction == Direction::Incoming {
                    self.announce_polite(td_string!(t, new_message_from, jid = &peer));
                }
                self.conversation(account, peer, |c| {
                    // An update is for a recent message: look from the end.
                    let same = c.items.iter_mut().rev().find(
                        |i| matches!(i, Item::Message(m) if m.id == message.id && m.direction == message.direction),
                    );
                    match same {
                        Some(existing) => *existing = Item::Message(message),
                        None => c.items.push(Item::Message(message)),
                    }
                });
            }
            Event::History {
                account,
                peer,
                keep,
                messages,
            } => self.histories.update(|all| {
                let h = all.entry((account, peer)).or_default();
                h.keep = keep;
                if keep {
                    let known: std::collections::BTreeSet<String> =
                        h.messages.iter().map(|m| m.id.clone()).collect();
                    h.messages
                        .extend(messages.into_iter().filter(|m| !known.contains(&m.id)));
                } else {
                    // Deleted from the vault: no longer shown either.
                    h.messages.clear();
                }
            }),
            Event::HistoryMore {
                account,
                peer,
                messages,
            } => self.histories.update(|all| {
                // The rest of the `History` just before (the worker sends them in a row).
                if let Some(h) = all.get_mut(&(account, peer)).filter(|h| h.keep) {
                    h.messages.extend(messages);
                }
            }),
            Event::MessageFailed {
                account,
                peer,
                id,
                condition,
            } => self.conversation(account, peer, |c| {
                c.items.push(Item::Failed { id, condition })
            }),
            Event::Padlock {
                account,
                peer,
                padlock,
            } => {
                let label = texts::padlock_label(padlock.state, t);
                let mut changed = false;
                let announcement = td_string!(t, padlock_now, jid = &peer, state = label);
                self.conversation(account, peer, |c| {
                    changed = c.padlock.as_ref().map(|p| p.state) != Some(padlock.state);
                    c.padlock = Some(padlock);
                });
                if changed {
                    self.announce_polite(announcement);
                }
            }
            Event::Notice {
                account,
                peer,
                notice,
            } => {
                let text = format!("{peer}: {}", texts::notice_text(&notice, t));
                if matches!(notice, Notice::FingerprintChanged { .. }) {
                    self.alert.set(text);
                } else if logic::notice_is_security_change(&notice) {
                    self.announce_polite(text);
                }
                self.conversation(account, peer, |c| c.items.push(Item::Notice(notice)));
            }
            Event::SmpQuestion {
                account,
                peer,
                question,
            } => self.smp_incoming.set(Some(SmpPrompt {
                account,
                peer,
                question: question.map(String::from),
            })),
            Event::OwnFingerprint {
                account,
                fingerprint,
            } => self.own_fingerprints.update(|f| {
                f.insert(account, fingerprint);
            }),
            Event::Policy { account, policy } => self.policies.update(|p| {
                p.insert(account, policy);
            }),
            Event::RoomJoined {
                account,
                room,
                nick,
                subject,
            } => {
                if self
                    .room_error
                    .with_untracked(|e| e.as_ref().is_some_and(|e| e.room == room))
                {
                    self.room_error.set(None);
                }
                let key = (account, room);
                if self.room_to_open.get_untracked().as_ref() == Some(&key) {
                    self.room_to_open.set(None);
                    if self.route.with_untracked(|r| *r == Route::Home) {
                        self.route.set(Route::Group(key.1.clone()));
                    }
                }
                self.rooms.update(|all| {
                    let r = all.entry(key).or_default();
                    r.joined = true;
                    r.nick = nick;
                    if subject.is_some() {
                        r.subject = subject.map(String::from);
                    }
                });
            }
            Event::RoomJoinFailed {
                account,
                room,
                condition,
                text,
            } => {
                self.rooms.update(|all| {
                    let key = (account, room.clone());
                    if all.get(&key).is_some_and(|r| !r.joined) {
                        all.remove(&key);
                    }
                });
                if self
                    .room_to_open
                    .with_untracked(|o| o.as_ref().is_some_and(|(_, r)| *r == room))
                {
                    self.room_to_open.set(None);
                }
                self.room_error.set(Some(RoomError {
                    room,
                    condition,
                    text,
                    with_password: self.room_join_with_password.get_untracked(),
                }));
            }
            Event::RoomLeft { account, room, .. } => {
                self.rooms.update(|all| {
                    all.remove(&(account, room.clone()));
                });
                if untrack(|| self.group_room()).as_deref() == Some(room.as_str()) {
                    self.route.set(Route::Home);
                }
                self.announce_polite(td_string!(t, room_left, room = &room));
            }
            Event::RoomOccupants {
                account,
                room,
                nicks,
            } => self.room(account, room, |r| r.occupants = nicks),
            Event::RoomSubject {
                account,
                room,
                subject,
            } => self.room(account, room, |r| {
                r.subject = Some(subject.into_string()).filter(|s| !s.trim().is_empty());
            }),
            Event::RoomMessage {
                account,
                room,
                message,
            } => {
                let on_screen = untrack(|| self.group_room()).as_deref() == Some(room.as_str())
                    && self.current.get_untracked().as_ref() == Some(&account);
                if !message.own && !on_screen {
                    // Never the text nor the author: only where.
                    self.announce_polite(td_string!(t, new_room_message, room = &room));
                }
                self.room(account, room, |r| r.messages.push(message));
            }
            Event::RoomMessageFailed {
                account, room, id, ..
            } => self.room(account, room, |r| {
                if let Some(m) = r.messages.iter_mut().find(|m| m.id == id && m.own) {
                    m.delivery = Delivery::Failed;
                }
            }),
            Event::RoomSubjectFailed {
                account,
                room,
                condition,
            } => self.room(account, room, |r| {
                r.problem = Some(RoomProblem::SubjectRefused(condition));
            }),
            Event::RoomNotConfigured { account, room } => self.room(account, room, |r| {
                r.problem = Some(RoomProblem::NotConfigured);
            }),
            Event::RoomInvitation {
                account,
                invitation,
            } => {
                self.announce_polite(td_string!(t, new_invitation, room = &invitation.room));
                self.invitations.update(|all| {
                    let list = all.entry(account).or_default();
                    list.retain(|i| i.room != invitation.room);
                    list.push(invitation);
                });
            }
            Event::CommandFailed { account, kind, .. } => {
                let adding = self.setup.get_untracked().is_some()
                    && (account.is_none() || account == self.setup.get_untracked());
                if adding || self.screen_untracked() == Screen::AddAccount {
                    self.account_error.set(Some(AccountError::Command(kind)));
                } else {
                    self.command_error.set(Some(kind));
                }
            }
        }
    }

    fn screen_untracked(&self) -> Screen {
        leptos::prelude::untrack(|| self.screen())
    }

    fn apply_account(&self, account: AccountId, state: AccountState) {
        let setting_up = self.setup.get_untracked().as_ref() == Some(&account);
        match &state {
            AccountState::Failed { reason, .. } if setting_up => {
                self.account_error.set(Some(AccountError::Account(*reason)));
            }
            AccountState::Online { .. } if setting_up => {
                self.setup.set(None);
                self.reg_form.set(None);
                self.account_error.set(None);
                self.current.set(Some(account.clone()));
                self.route.set(Route::Home);
            }
            _ => {}
        }
        if matches!(state, AccountState::Offline | AccountState::Failed { .. }) {
            // Logged out: the worker forgot the account's rooms (a lost connection is
            // `Reconnecting`, and the worker enters the rooms again by itself).
            self.rooms
                .update(|all| all.retain(|(a, _), _| *a != account));
            self.invitations.update(|all| {
                all.remove(&account);
            });
            if self.route.with_untracked(|r| matches!(r, Route::Group(_)))
                && self.current.get_untracked().as_ref() == Some(&account)
            {
                self.route.set(Route::Home);
            }
        }
        if self.current.get_untracked().is_none() && !setting_up {
            self.current.set(Some(account.clone()));
        }
        self.accounts.update(|a| {
            a.insert(account, state);
        });
    }
}
