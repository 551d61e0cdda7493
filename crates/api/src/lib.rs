//! The messages exchanged between Candado's UI (main thread) and its engine (a dedicated Web Worker).
//!
//! The UI knows only these types: it sends [`Command`]s and renders what the [`Event`]s tell it. Both
//! cross the worker boundary as JSON text (`postMessage` of a string), so every type here is plain data:
//! no channels, handles or closures, and every enum variant has named fields.
//!
//! ```
//! use candado_api::{Command, Event, ServerConfig};
//!
//! let cmd = Command::Connect {
//!     server: ServerConfig {
//!         domain: "localhost".into(),
//!         websocket_url: "ws://127.0.0.1:5280/xmpp-websocket".into(),
//!     },
//! };
//! let wire = cmd.to_wire();
//! assert_eq!(Command::from_wire(&wire).unwrap(), cmd);
//!
//! // Garbage is an error, never a panic.
//! assert!(Event::from_wire("{\"type\":\"nonsense\"}").is_err());
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use serde::{Deserialize, Serialize};

mod chat;

pub use chat::*;

/// Where the app connects: the XMPP domain and its RFC 7395 WebSocket endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// The XMPP domain (the part after `@` in an address), e.g. `example.org`.
    pub domain: String,
    /// The WebSocket endpoint, e.g. `wss://example.org/xmpp-websocket`.
    pub websocket_url: String,
}

/// What the UI asks the worker to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Liveness check: the worker answers with [`Event::Pong`] carrying the same `nonce`.
    Ping {
        /// Echoed back unchanged.
        nonce: u64,
    },
    /// Open a connection to `server` and report its [`ConnectionState`].
    Connect {
        /// The server to reach.
        server: ServerConfig,
    },
    /// Close the connection, if any.
    Disconnect,
    /// First run: create the vault, sealed with `passphrase`. An empty passphrase means the person
    /// chose to skip it (after a warning): the vault is then readable by anyone holding the device.
    /// Answered by [`Event::Vault`] (`unlocked`) or [`Event::VaultFailed`].
    CreateVault {
        /// The app passphrase.
        passphrase: Secret,
    },
    /// Unlock the vault: loads the saved accounts, keys and trust, and logs in the accounts whose
    /// password is remembered. Answered by [`Event::Vault`] and [`Event::SavedAccounts`], or
    /// [`Event::VaultFailed`].
    Unlock {
        /// The app passphrase (empty if it was skipped).
        passphrase: Secret,
    },
    /// Lock the vault: every account logs out (private conversations end properly) and every key,
    /// and the kept history, is wiped from the worker's memory.
    Lock,
    /// Change the app passphrase (the vault key is re-wrapped; records are untouched).
    ChangePassphrase {
        /// The passphrase in use.
        current: Secret,
        /// The new one (empty: none).
        new: Secret,
    },
    /// Forget a saved account on this device: its remembered password, OTR key, trusted
    /// fingerprints, settings and kept history are deleted from the vault. Logs it out first.
    ForgetAccount {
        /// The account.
        account: AccountId,
    },
    /// The page became visible again or the network came back: accounts whose connection was lost
    /// try again now instead of waiting for their next attempt, and a connection that looks up is
    /// checked at once (a keepalive with 8 s to answer), since the network under it may have changed.
    Wake,
    /// Look up the WebSocket endpoint of an XMPP domain (XEP-0156 host-meta). Answered by
    /// [`Event::Discovered`].
    Discover {
        /// The domain, e.g. `example.org`.
        domain: String,
    },
    /// Create an account on its server by in-band registration (XEP-0077), then log in.
    /// Progress arrives as [`Event::Account`]; a server form that needs more than a username and a
    /// password (e.g. a CAPTCHA) arrives as [`Event::RegistrationForm`].
    Register {
        /// The account to create.
        account: AccountSetup,
    },
    /// Answer the server's registration form ([`Event::RegistrationForm`]).
    SubmitRegistration {
        /// The account being created.
        account: AccountId,
        /// Values for the fields other than username and password.
        values: Vec<FormValue>,
    },
    /// Log in to an existing account. Several accounts may be logged in at once.
    Login {
        /// The account.
        account: AccountSetup,
    },
    /// Log out and forget the account's connection (its conversations end).
    Logout {
        /// The account.
        account: AccountId,
    },
    /// Add `jid` to the roster and ask to see its presence (the contact gets an invitation).
    AddContact {
        /// Our account.
        account: AccountId,
        /// The contact, `user@server`.
        jid: String,
        /// Our name for the contact.
        name: Option<String>,
    },
    /// Remove a contact (cancels the subscriptions both ways).
    RemoveContact {
        /// Our account.
        account: AccountId,
        /// The contact.
        jid: String,
    },
    /// Accept or refuse a [`Event::SubscriptionRequest`]. Accepting also asks for the contact's
    /// presence in return and adds the contact to the roster.
    AnswerSubscription {
        /// Our account.
        account: AccountId,
        /// Who asked.
        jid: String,
        /// `true` to accept.
        accept: bool,
    },
    /// Send a chat message in the conversation with `peer`. It goes out encrypted when the private
    /// conversation is on; under the "always" policy it waits for one and never leaves in plaintext.
    SendMessage {
        /// Our account.
        account: AccountId,
        /// The contact's bare address.
        peer: String,
        /// The text.
        text: Text,
    },
    /// Start (or refresh) the private (OTR) conversation with `peer`.
    StartPrivate {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
    },
    /// End the private conversation with `peer`: the session keys are forgotten.
    EndPrivate {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
    },
    /// Set the OTR policy of an account (`peer: None`) or of one contact.
    SetPolicy {
        /// Our account.
        account: AccountId,
        /// The contact, or `None` for the account's default.
        peer: Option<String>,
        /// The policy; `None` for a contact means "use the account's".
        policy: Option<OtrPolicy>,
    },
    /// Verify the contact with the Socialist Millionaires' Protocol: ask `question` (optional; without
    /// one it is a shared secret), whose answer we know is `answer`. Answers are case-sensitive.
    SmpAsk {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// The question shown to the contact.
        question: Option<Text>,
        /// The expected answer (or the shared secret).
        answer: Secret,
    },
    /// Answer the contact's SMP question ([`Event::SmpQuestion`]).
    SmpAnswer {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// Our answer.
        answer: Secret,
    },
    /// Abort a running SMP exchange.
    SmpAbort {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
    },
    /// Enter a group chat (XEP-0045). Group chats are never end-to-end encrypted: the room's
    /// server reads every message. Answered by [`Event::RoomJoined`] or [`Event::RoomJoinFailed`].
    JoinRoom {
        /// Our account.
        account: AccountId,
        /// The room's bare address, `room@conference.example.org`.
        room: String,
        /// Our nickname in the room.
        nick: String,
        /// The room's password. Without one, the password of a pending invitation into this room
        /// is used, if it carried one. A wrong or missing password is answered by
        /// [`Event::RoomJoinFailed`] with `not-authorized`.
        #[serde(default)]
        password: Option<Secret>,
        /// Settings for the room should it not exist yet and be created by this join: the password
        /// above protects it, and these choose the rest. A room that cannot take them is still
        /// created, with its default configuration ([`Event::RoomNotConfigured`]).
        #[serde(default)]
        new_room: NewRoom,
    },
    /// Set the subject of a room we are in. The room answers with [`Event::RoomSubject`], or
    /// [`Event::RoomSubjectFailed`] when it refuses (e.g. `forbidden`: only moderators may).
    SetRoomSubject {
        /// Our account.
        account: AccountId,
        /// The room.
        room: String,
        /// The new subject (empty clears it).
        subject: Text,
    },
    /// Invite a contact into a room we are in, through the room (XEP-0045 mediated invitation;
    /// the room adds its password, if it has one).
    InviteToRoom {
        /// Our account.
        account: AccountId,
        /// The room.
        room: String,
        /// Whom to invite, `user@server`.
        jid: String,
    },
    /// Decline an invitation ([`Event::RoomInvitation`]): it is forgotten, and for a mediated one
    /// the room tells the inviter. Accepting is [`Command::JoinRoom`] with the room.
    DeclineInvitation {
        /// Our account.
        account: AccountId,
        /// The room of the invitation.
        room: String,
    },
    /// Leave a group chat. Answered by [`Event::RoomLeft`].
    LeaveRoom {
        /// Our account.
        account: AccountId,
        /// The room.
        room: String,
    },
    /// Send a message to everyone in a room we are in. It travels in plaintext (never OTR); it is
    /// reported once, as a [`Event::RoomMessage`] with `own: true`.
    SendRoomMessage {
        /// Our account.
        account: AccountId,
        /// The room.
        room: String,
        /// The text.
        text: Text,
    },
    /// Keep this chat's history on this device (inside the vault), or stop keeping it. Chats are off
    /// the record by default. Turning it off deletes what was stored for the chat. Answered by
    /// [`Event::History`] and a [`Notice::HistoryOn`] or [`Notice::HistoryOff`] status line.
    /// Works whether or not the account is logged in.
    SetHistory {
        /// Our account.
        account: AccountId,
        /// The contact's bare address.
        peer: String,
        /// `true` to keep the history from now on; `false` to stop and delete it.
        keep: bool,
    },
    /// Trust (or stop trusting) a contact's fingerprint after comparing it out of band.
    SetTrust {
        /// Our account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// The fingerprint, as shown (`XXXXXXXX XXXXXXXX ...`) or as 40 hex digits.
        fingerprint: String,
        /// `true` to trust.
        trusted: bool,
    },
}

/// What the worker tells the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The worker has started and is ready for commands.
    Ready,
    /// Answer to [`Command::Ping`].
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
    /// The connection to the server changed state.
    Connection {
        /// The new state.
        state: ConnectionState,
    },
    /// A command could not be understood (for instance a UI and a worker from different versions).
    ProtocolError {
        /// What was wrong, in English, for logs and bug reports.
        detail: String,
    },
    /// The vault changed state (sent once after [`Event::Ready`], then on every change).
    Vault {
        /// The new state.
        state: VaultState,
    },
    /// A vault command failed; the vault is as it was before.
    VaultFailed {
        /// Why.
        reason: VaultFailure,
        /// Details in English, for logs (never a secret).
        detail: String,
    },
    /// The accounts saved in the vault (after unlocking, and whenever the list changes).
    SavedAccounts {
        /// Every saved account, sorted by address.
        accounts: Vec<SavedAccount>,
    },
    /// Answer to [`Command::Discover`].
    Discovered {
        /// The domain asked about.
        domain: String,
        /// Its WebSocket endpoint, if the server publishes one.
        websocket_url: Option<String>,
    },
    /// An account's connection changed state.
    Account {
        /// The account.
        account: AccountId,
        /// Its new state.
        state: AccountState,
    },
    /// The server wants more than a username and a password to create the account. Answer with
    /// [`Command::SubmitRegistration`].
    RegistrationForm {
        /// The account being created.
        account: AccountId,
        /// The form.
        form: Form,
    },
    /// The server refused the registration; the form may be submitted again.
    RegistrationFailed {
        /// The account.
        account: AccountId,
        /// The XMPP condition, e.g. `conflict` (the name is taken).
        condition: String,
        /// The server's text, if any.
        text: Option<String>,
    },
    /// The whole roster of an account (after login), replacing what was known. A big roster
    /// comes as its first [`ROSTER_PART`] contacts, then [`Event::RosterMore`] with the rest (see
    /// [`Event::into_messages`]).
    Roster {
        /// The account.
        account: AccountId,
        /// Every contact (or the first part).
        contacts: Vec<Contact>,
    },
    /// More contacts of the roster in the [`Event::Roster`] just before.
    RosterMore {
        /// The account.
        account: AccountId,
        /// The next part of the roster.
        contacts: Vec<Contact>,
    },
    /// One contact was added or changed (subscription or presence).
    Contact {
        /// The account.
        account: AccountId,
        /// The contact as it is now.
        contact: Contact,
    },
    /// A contact was removed from the roster.
    ContactRemoved {
        /// The account.
        account: AccountId,
        /// The contact.
        jid: String,
    },
    /// Someone asks to see our presence: accept or refuse with [`Command::AnswerSubscription`].
    SubscriptionRequest {
        /// The account.
        account: AccountId,
        /// Who asks.
        jid: String,
        /// Their message, if any.
        status: Option<String>,
    },
    /// A message in a conversation, received or sent.
    Message {
        /// The account.
        account: AccountId,
        /// The contact's bare address.
        peer: String,
        /// The message.
        message: ChatMessage,
    },
    /// Whether a chat's history is kept, with the messages stored for it. Sent after unlocking for
    /// every chat whose history is kept (`messages`: what the vault holds, oldest first, to show
    /// above new ones), and after every [`Command::SetHistory`] (`messages` empty). Chats never
    /// reported keep no history. A long history comes as its first [`HISTORY_PART`] messages, then
    /// [`Event::HistoryMore`] with the rest (see [`Event::into_messages`]).
    History {
        /// The account.
        account: AccountId,
        /// The contact's bare address.
        peer: String,
        /// Messages of this chat are being kept.
        keep: bool,
        /// The stored messages, oldest first. Their ids start with `h` and never collide with
        /// the ids of new messages.
        messages: Vec<ChatMessage>,
    },
    /// More stored messages of the chat in the [`Event::History`] just before, oldest first.
    HistoryMore {
        /// The account.
        account: AccountId,
        /// The contact's bare address.
        peer: String,
        /// The next part of the stored messages.
        messages: Vec<ChatMessage>,
    },
    /// A message we sent could not be delivered.
    MessageFailed {
        /// The account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// The [`ChatMessage::id`] of the message.
        id: String,
        /// The XMPP condition, e.g. `service-unavailable`.
        condition: String,
    },
    /// The padlock of a conversation changed.
    Padlock {
        /// The account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// The state and fingerprint.
        padlock: PadlockView,
    },
    /// A status line for the conversation ("Private conversation started", …).
    Notice {
        /// The account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// What happened.
        notice: Notice,
    },
    /// The contact asks us to verify with SMP: answer with [`Command::SmpAnswer`].
    SmpQuestion {
        /// The account.
        account: AccountId,
        /// The contact.
        peer: String,
        /// The question, or `None` for a shared secret.
        question: Option<Text>,
    },
    /// The default OTR policy of an account (after it logs in, and after every change).
    Policy {
        /// The account.
        account: AccountId,
        /// Its policy.
        policy: OtrPolicy,
    },
    /// Our own OTR fingerprint for an account (for comparison and the QR code).
    OwnFingerprint {
        /// The account.
        account: AccountId,
        /// The fingerprint, `XXXXXXXX XXXXXXXX XXXXXXXX XXXXXXXX XXXXXXXX`.
        fingerprint: String,
    },
    /// We are in a room. Its occupants and subject follow as [`Event::RoomOccupants`] and
    /// [`Event::RoomSubject`] when they change.
    RoomJoined {
        /// The account.
        account: AccountId,
        /// The room's bare address.
        room: String,
        /// Our nickname, as the room assigned it.
        nick: String,
        /// The subject, if already known.
        subject: Option<Text>,
    },
    /// Entering a room failed; the person may try again (e.g. with another nickname).
    RoomJoinFailed {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The XMPP condition: `conflict` (the nickname is taken), `not-authorized` (a password
        /// is needed), `forbidden` (banned), `registration-required`, `item-not-found`, …
        condition: String,
        /// The server's text, if any.
        text: Option<String>,
    },
    /// We are no longer in a room: we left, or the room removed us.
    RoomLeft {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// Why, when it was not our choice: `kicked`, `banned`, `affiliation`, `members-only`,
        /// `shutdown`.
        removed: Option<String>,
    },
    /// Who is in a room now (sent whenever someone comes or goes).
    RoomOccupants {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The nicknames, sorted, ours included.
        nicks: Vec<String>,
    },
    /// The room's subject (on joining and whenever it changes); empty means none.
    RoomSubject {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The subject.
        subject: Text,
    },
    /// A message in a room, received or sent by us. Never encrypted.
    RoomMessage {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The message.
        message: RoomMessage,
    },
    /// The room refused a message we sent (e.g. `forbidden`, `not-acceptable` when we are not in
    /// it): the message with this id is now [`Delivery::Failed`].
    RoomMessageFailed {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The [`RoomMessage::id`].
        id: String,
        /// The XMPP condition.
        condition: String,
    },
    /// The room refused our new subject (`forbidden`: only moderators may change it there).
    RoomSubjectFailed {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
        /// The XMPP condition.
        condition: String,
    },
    /// We created a room, but it could not take the settings asked for ([`NewRoom`], password): it
    /// was opened with its default configuration, so it has no password.
    RoomNotConfigured {
        /// The account.
        account: AccountId,
        /// The room.
        room: String,
    },
    /// Someone invites us into a room. Never joined by itself: join with [`Command::JoinRoom`] or
    /// decline with [`Command::DeclineInvitation`]. A newer invitation into the same room replaces
    /// this one.
    RoomInvitation {
        /// The account.
        account: AccountId,
        /// The invitation.
        invitation: Invitation,
    },
    /// A command could not be carried out.
    CommandFailed {
        /// The account concerned, if any.
        account: Option<AccountId>,
        /// Why, in English, for logs; the UI shows its own text for `kind`.
        detail: String,
        /// What kind of failure.
        kind: CommandFailure,
    },
}

/// The state of the connection to the XMPP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not connected, and not trying.
    Disconnected,
    /// The WebSocket is being opened or the XMPP stream negotiated.
    Connecting {
        /// The endpoint being reached.
        websocket_url: String,
    },
    /// The server answered with its stream features: it is reachable and speaks XMPP.
    Connected {
        /// The domain the server serves.
        domain: String,
    },
    /// The server could not be reached or did not speak XMPP over WebSocket.
    Failed {
        /// Why it failed.
        reason: FailureReason,
        /// The endpoint that failed.
        websocket_url: String,
    },
}

/// Why a connection failed, as the UI explains it to the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The WebSocket could not be opened or closed before the server answered.
    Unreachable,
    /// The endpoint answered, but not with an XMPP stream (wrong URL, or not an XMPP server).
    NotXmpp,
    /// The endpoint URL itself is not a valid `ws://` or `wss://` URL.
    InvalidUrl,
    /// The server closed the stream with an error.
    StreamError,
}

/// A message could not be decoded from its wire form.
#[derive(Debug)]
pub struct WireError(serde_json::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed message between UI and worker: {}", self.0)
    }
}

impl std::error::Error for WireError {}

macro_rules! wire_codec {
    ($ty:ty) => {
        impl $ty {
            /// Encodes this message for `postMessage`.
            pub fn to_wire(&self) -> String {
                // Serialising these plain enums cannot fail: they hold only strings, numbers and enums.
                serde_json::to_string(self).unwrap_or_default()
            }

            /// Decodes a message received through `postMessage`.
            pub fn from_wire(text: &str) -> Result<Self, WireError> {
                serde_json::from_str(text).map_err(WireError)
            }
        }
    };
}

wire_codec!(Command);
wire_codec!(Event);

/// The most contacts one message carries from the worker to the UI. The UI reads and applies a
/// message in one task of its main thread; in parts this size a roster of thousands never holds
/// it for long.
pub const ROSTER_PART: usize = 250;

/// The most kept messages one message carries from the worker to the UI, for the same reason: a
/// history of 5 000 messages in one message took a task of 120 ms on a slow phone.
pub const HISTORY_PART: usize = 500;

/// `items` in parts of at most `size`: the first made into an event by `first`, the others by
/// `more`. Empty `items` still make one (empty) first event.
fn in_parts<T>(
    items: Vec<T>,
    size: usize,
    first: impl FnOnce(Vec<T>) -> Event,
    more: impl Fn(Vec<T>) -> Event,
) -> Vec<Event> {
    let mut rest = items.into_iter();
    let mut parts = vec![first(rest.by_ref().take(size).collect())];
    loop {
        let part: Vec<T> = rest.by_ref().take(size).collect();
        if part.is_empty() {
            return parts;
        }
        parts.push(more(part));
    }
}

impl Event {
    /// The messages that carry this event to the UI, in order: a [`Event::Roster`] of more than
    /// [`ROSTER_PART`] contacts becomes a `Roster` with the first part and [`Event::RosterMore`]
    /// with each further one, and an [`Event::History`] of more than [`HISTORY_PART`] messages a
    /// `History` and [`Event::HistoryMore`] parts; any other event is one message, itself.
    pub fn into_messages(self) -> Vec<Event> {
        match self {
            Event::Roster { account, contacts } => {
                let more_account = account.clone();
                in_parts(
                    contacts,
                    ROSTER_PART,
                    |contacts| Event::Roster { account, contacts },
                    |contacts| Event::RosterMore {
                        account: more_account.clone(),
                        contacts,
                    },
                )
            }
            Event::History {
                account,
                peer,
                keep,
                messages,
            } => {
                let (more_account, more_peer) = (account.clone(), peer.clone());
                in_parts(
                    messages,
                    HISTORY_PART,
                    |messages| Event::History {
                        account,
                        peer,
                        keep,
                        messages,
                    },
                    |messages| Event::HistoryMore {
                        account: more_account.clone(),
                        peer: more_peer.clone(),
                        messages,
                    },
                )
            }
            other => vec![other],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerConfig {
        ServerConfig {
            domain: "example.org".into(),
            websocket_url: "wss://example.org/xmpp-websocket".into(),
        }
    }

    #[test]
    fn every_command_round_trips() {
        for cmd in [
            Command::Ping { nonce: u64::MAX },
            Command::Connect { server: server() },
            Command::Disconnect,
        ] {
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
    }

    #[test]
    fn every_event_round_trips() {
        let states = [
            ConnectionState::Disconnected,
            ConnectionState::Connecting {
                websocket_url: "wss://x/y".into(),
            },
            ConnectionState::Connected {
                domain: "example.org".into(),
            },
            ConnectionState::Failed {
                reason: FailureReason::NotXmpp,
                websocket_url: "wss://x/y".into(),
            },
        ];
        let mut events = vec![
            Event::Ready,
            Event::Pong { nonce: 7 },
            Event::ProtocolError { detail: "x".into() },
        ];
        events.extend(states.into_iter().map(|state| Event::Connection { state }));
        for ev in events {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
    }

    fn alice() -> AccountId {
        AccountId("alice@example.org".into())
    }

    #[test]
    fn chat_commands_round_trip() {
        let a = alice;
        let peer = || "bob@example.org".to_string();
        for cmd in [
            Command::Register {
                account: AccountSetup {
                    jid: "alice@example.org".into(),
                    password: Secret::new("pw"),
                    websocket_url: "wss://x/y".into(),
                    remember_password: false,
                },
            },
            Command::SubmitRegistration {
                account: a(),
                values: vec![FormValue {
                    var: "ocr".into(),
                    values: vec!["7".into()],
                }],
            },
            Command::Logout { account: a() },
            Command::AddContact {
                account: a(),
                jid: peer(),
                name: Some("Bob".into()),
            },
            Command::AnswerSubscription {
                account: a(),
                jid: peer(),
                accept: false,
            },
            Command::SendMessage {
                account: a(),
                peer: peer(),
                text: "<b>hi</b>".into(),
            },
            Command::SetPolicy {
                account: a(),
                peer: None,
                policy: Some(OtrPolicy::Always),
            },
            Command::SmpAsk {
                account: a(),
                peer: peer(),
                question: Some("Where?".into()),
                answer: "Café".into(),
            },
        ] {
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
    }

    #[test]
    fn chat_events_round_trip() {
        let a = alice;
        for ev in [
            Event::Account {
                account: a(),
                state: AccountState::Failed {
                    reason: AccountFailure::AuthFailed,
                    detail: "not-authorized".into(),
                },
            },
            Event::Contact {
                account: a(),
                contact: Contact {
                    jid: "bob@example.org".into(),
                    name: None,
                    subscription: Subscription::Both,
                    pending_out: false,
                    presence: Presence::Away,
                },
            },
            Event::Message {
                account: a(),
                peer: "bob@example.org".into(),
                message: ChatMessage {
                    id: "m1".into(),
                    direction: Direction::Incoming,
                    text: "hola".into(),
                    encrypted: true,
                    delivery: Delivery::Received,
                    at: 5,
                },
            },
            Event::Padlock {
                account: a(),
                peer: "bob@example.org".into(),
                padlock: PadlockView {
                    state: Padlock::EncryptedUnverified,
                    fingerprint: Some("AAAA".into()),
                    finished: false,
                    queued: 0,
                },
            },
            Event::Notice {
                account: a(),
                peer: "bob@example.org".into(),
                notice: Notice::PrivateStarted { verified: false },
            },
            Event::CommandFailed {
                account: None,
                detail: "x".into(),
                kind: CommandFailure::UnknownAccount,
            },
        ] {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
    }

    #[test]
    fn a_big_roster_travels_in_parts_in_order_and_a_small_one_whole() {
        let contacts = |range: std::ops::Range<usize>| -> Vec<Contact> {
            range
                .map(|i| Contact {
                    jid: format!("c{i:05}@example.org"),
                    name: None,
                    subscription: Subscription::Both,
                    pending_out: false,
                    presence: Presence::Offline,
                })
                .collect()
        };
        let small = Event::Roster {
            account: alice(),
            contacts: contacts(0..ROSTER_PART),
        };
        assert_eq!(small.clone().into_messages(), [small]);
        let empty = Event::Roster {
            account: alice(),
            contacts: Vec::new(),
        };
        assert_eq!(empty.clone().into_messages(), [empty]);

        let n = 2 * ROSTER_PART + 1;
        let parts = Event::Roster {
            account: alice(),
            contacts: contacts(0..n),
        }
        .into_messages();
        assert_eq!(
            parts,
            [
                Event::Roster {
                    account: alice(),
                    contacts: contacts(0..ROSTER_PART)
                },
                Event::RosterMore {
                    account: alice(),
                    contacts: contacts(ROSTER_PART..2 * ROSTER_PART)
                },
                Event::RosterMore {
                    account: alice(),
                    contacts: contacts(2 * ROSTER_PART..n)
                },
            ]
        );
        for part in parts {
            assert_eq!(Event::from_wire(&part.to_wire()).unwrap(), part);
        }
        let other = Event::Pong { nonce: 3 };
        assert_eq!(other.clone().into_messages(), [other]);
    }

    #[test]
    fn a_long_history_travels_in_parts_in_order_and_a_short_one_whole() {
        let messages = |range: std::ops::Range<usize>| -> Vec<ChatMessage> {
            range
                .map(|i| ChatMessage {
                    id: format!("h0.{i}"),
                    direction: Direction::Incoming,
                    text: format!("mensaje {i}").into(),
                    encrypted: true,
                    delivery: Delivery::Received,
                    at: i as u64,
                })
                .collect()
        };
        let history = |keep, range| Event::History {
            account: alice(),
            peer: "bob@example.org".into(),
            keep,
            messages: messages(range),
        };
        let short = history(true, 0..HISTORY_PART);
        assert_eq!(short.clone().into_messages(), [short]);
        // Switched off: one message with no messages, `keep` kept.
        let off = history(false, 0..0);
        assert_eq!(off.clone().into_messages(), [off]);

        let n = 2 * HISTORY_PART + 7;
        let parts = history(true, 0..n).into_messages();
        let more = |range| Event::HistoryMore {
            account: alice(),
            peer: "bob@example.org".into(),
            messages: messages(range),
        };
        assert_eq!(
            parts,
            [
                history(true, 0..HISTORY_PART),
                more(HISTORY_PART..2 * HISTORY_PART),
                more(2 * HISTORY_PART..n),
            ]
        );
        for part in parts {
            assert_eq!(Event::from_wire(&part.to_wire()).unwrap(), part);
        }
    }

    #[test]
    fn vault_and_account_messages_round_trip() {
        for cmd in [
            Command::CreateVault {
                passphrase: "".into(),
            },
            Command::Unlock {
                passphrase: "p".into(),
            },
            Command::Lock,
            Command::Wake,
            Command::ChangePassphrase {
                current: "a".into(),
                new: "b".into(),
            },
            Command::ForgetAccount { account: alice() },
            Command::Discover {
                domain: "example.org".into(),
            },
        ] {
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
        for ev in [
            Event::Vault {
                state: VaultState::Absent,
            },
            Event::VaultFailed {
                reason: VaultFailure::WrongPassphrase,
                detail: "x".into(),
            },
            Event::SavedAccounts {
                accounts: vec![SavedAccount {
                    account: alice(),
                    websocket_url: "wss://x/y".into(),
                    password_saved: true,
                }],
            },
            Event::Discovered {
                domain: "example.org".into(),
                websocket_url: None,
            },
            Event::Policy {
                account: alice(),
                policy: OtrPolicy::Always,
            },
            Event::Account {
                account: alice(),
                state: AccountState::Reconnecting {
                    attempt: 2,
                    retry_in_ms: 4000,
                },
            },
        ] {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
        // Older UIs omit `remember_password`: it defaults to off.
        let cmd = Command::from_wire(
            r#"{"type":"login","account":{"jid":"a@b","password":"p","websocket_url":"wss://b/x"}}"#,
        )
        .unwrap();
        assert!(matches!(cmd, Command::Login { account } if !account.remember_password));
    }

    #[test]
    fn room_messages_round_trip() {
        let room = || "sala@conference.example.org".to_string();
        for cmd in [
            Command::JoinRoom {
                account: alice(),
                room: room(),
                nick: "alice".into(),
                password: Some(Secret::new("clave")),
                new_room: NewRoom {
                    members_only: true,
                    persistent: false,
                },
            },
            Command::SetRoomSubject {
                account: alice(),
                room: room(),
                subject: "Reunión".into(),
            },
            Command::InviteToRoom {
                account: alice(),
                room: room(),
                jid: "bob@example.org".into(),
            },
            Command::DeclineInvitation {
                account: alice(),
                room: room(),
            },
            Command::LeaveRoom {
                account: alice(),
                room: room(),
            },
            Command::SendRoomMessage {
                account: alice(),
                room: room(),
                text: "<i>hola</i>".into(),
            },
        ] {
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
        for ev in [
            Event::RoomJoined {
                account: alice(),
                room: room(),
                nick: "alice".into(),
                subject: Some("Charla".into()),
            },
            Event::RoomJoinFailed {
                account: alice(),
                room: room(),
                condition: "conflict".into(),
                text: None,
            },
            Event::RoomLeft {
                account: alice(),
                room: room(),
                removed: Some("kicked".into()),
            },
            Event::RoomOccupants {
                account: alice(),
                room: room(),
                nicks: vec!["alice".into(), "bob".into()],
            },
            Event::RoomSubject {
                account: alice(),
                room: room(),
                subject: Text::default(),
            },
            Event::RoomMessage {
                account: alice(),
                room: room(),
                message: RoomMessage {
                    id: "m3".into(),
                    nick: "bob".into(),
                    text: "?OTR:AAMD".into(),
                    own: false,
                    delivery: Delivery::Received,
                    at: 9,
                },
            },
            Event::RoomMessageFailed {
                account: alice(),
                room: room(),
                id: "m4".into(),
                condition: "forbidden".into(),
            },
            Event::RoomSubjectFailed {
                account: alice(),
                room: room(),
                condition: "forbidden".into(),
            },
            Event::RoomNotConfigured {
                account: alice(),
                room: room(),
            },
            Event::RoomInvitation {
                account: alice(),
                invitation: Invitation {
                    room: room(),
                    from: None,
                    from_nick: Some("alice".into()),
                    from_contact: false,
                    reason: Some("<b>ven</b>".into()),
                    has_password: true,
                    mediated: true,
                },
            },
        ] {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
        assert_eq!(
            Command::LeaveRoom {
                account: alice(),
                room: room()
            }
            .to_wire(),
            r#"{"type":"leave_room","account":"alice@example.org","room":"sala@conference.example.org"}"#
        );
        // An older UI's join (no password, no settings) still reads; the password never shows in
        // `Debug`.
        let join =
            Command::from_wire(r#"{"type":"join_room","account":"a@b","room":"r@c","nick":"n"}"#)
                .unwrap();
        assert!(
            matches!(join, Command::JoinRoom { password: None, new_room, .. } if new_room == NewRoom::default())
        );
        let join = Command::JoinRoom {
            account: alice(),
            room: room(),
            nick: "alice".into(),
            password: Some(Secret::new("clave-secreta")),
            new_room: NewRoom::default(),
        };
        assert!(!format!("{join:?}").contains("clave-secreta"));
    }

    #[test]
    fn history_messages_round_trip() {
        let peer = || "bob@example.org".to_string();
        for keep in [true, false] {
            let cmd = Command::SetHistory {
                account: alice(),
                peer: peer(),
                keep,
            };
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
        assert_eq!(
            Command::SetHistory {
                account: alice(),
                peer: peer(),
                keep: true
            }
            .to_wire(),
            r#"{"type":"set_history","account":"alice@example.org","peer":"bob@example.org","keep":true}"#
        );
        let message = |id: &str, direction, delivery| ChatMessage {
            id: id.into(),
            direction,
            text: "hola ñ <b>".into(),
            encrypted: true,
            delivery,
            at: 1_764_000_000_000,
        };
        for ev in [
            Event::History {
                account: alice(),
                peer: peer(),
                keep: true,
                messages: vec![
                    message("h0.0", Direction::Outgoing, Delivery::Sent),
                    message("h0.1", Direction::Incoming, Delivery::Received),
                ],
            },
            Event::History {
                account: alice(),
                peer: peer(),
                keep: false,
                messages: Vec::new(),
            },
            Event::Notice {
                account: alice(),
                peer: peer(),
                notice: Notice::HistoryOn,
            },
            Event::Notice {
                account: alice(),
                peer: peer(),
                notice: Notice::HistoryOff,
            },
        ] {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
        assert!(Event::Notice {
            account: alice(),
            peer: peer(),
            notice: Notice::HistoryOff,
        }
        .to_wire()
        .contains(r#""notice":"history_off""#));
    }

    #[test]
    fn secrets_cross_the_wire_but_never_show_in_debug() {
        let cmd = Command::SmpAnswer {
            account: alice(),
            peer: "bob@example.org".into(),
            answer: Secret::new("hunter2"),
        };
        assert!(cmd.to_wire().contains("\"answer\":\"hunter2\""));
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn what_people_write_crosses_the_wire_but_never_shows_in_debug() {
        let said = "nos vemos en la plaza a las 8";
        let message = ChatMessage {
            id: "m1".into(),
            direction: Direction::Incoming,
            text: said.into(),
            encrypted: true,
            delivery: Delivery::Received,
            at: 1,
        };
        let room_message = RoomMessage {
            id: "r1".into(),
            nick: "ana".into(),
            text: said.into(),
            own: false,
            delivery: Delivery::Received,
            at: 1,
        };
        let wired: Vec<(String, String)> = vec![
            (
                Command::SendMessage {
                    account: alice(),
                    peer: "bob@example.org".into(),
                    text: said.into(),
                }
                .to_wire(),
                format!(
                    "{:?}",
                    Command::SendMessage {
                        account: alice(),
                        peer: "bob@example.org".into(),
                        text: said.into(),
                    }
                ),
            ),
            {
                let e = Event::Message {
                    account: alice(),
                    peer: "bob@example.org".into(),
                    message: message.clone(),
                };
                (e.to_wire(), format!("{e:?}"))
            },
            {
                let e = Event::RoomMessage {
                    account: alice(),
                    room: "sala@muc.example.org".into(),
                    message: room_message,
                };
                (e.to_wire(), format!("{e:?}"))
            },
            {
                let e = Event::SmpQuestion {
                    account: alice(),
                    peer: "bob@example.org".into(),
                    question: Some(said.into()),
                };
                (e.to_wire(), format!("{e:?}"))
            },
            {
                let c = Command::SetRoomSubject {
                    account: alice(),
                    room: "sala@muc.example.org".into(),
                    subject: said.into(),
                };
                (c.to_wire(), format!("{c:?}"))
            },
        ];
        for (wire, shown) in wired {
            assert!(wire.contains(said), "{wire}");
            assert!(!shown.contains("plaza"), "{shown}");
            assert!(
                shown.contains(&format!("<{} bytes>", said.len())),
                "{shown}"
            );
        }
        assert_eq!(message.text, said);
        assert_eq!(message.text.as_str(), said);
    }

    #[test]
    fn wire_format_is_tagged_json() {
        assert_eq!(
            Command::Ping { nonce: 3 }.to_wire(),
            r#"{"type":"ping","nonce":3}"#
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "{",
            "null",
            r#"{"type":"ping"}"#,
            r#"{"type":"ping","nonce":-1}"#,
        ] {
            let err = Command::from_wire(bad).unwrap_err();
            assert!(err.to_string().starts_with("malformed message"), "{err}");
        }
    }
}
