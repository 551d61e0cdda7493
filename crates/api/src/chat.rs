//! Accounts, contacts, conversations and privacy: the plain-data views the UI renders.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// Identifies one account of the app: its bare address, lower-cased (`alice@example.org`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl AccountId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What people wrote: a message, an SMP question, a room subject, an invitation's note. It is
/// shown to the person and travels to the UI, but `Debug` prints only its length, so that a
/// logged command, event or message never carries it. On the wire it is a plain JSON string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl core::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Text {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Text {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl From<Text> for String {
    fn from(value: Text) -> Self {
        value.0
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text(<{} bytes>)", self.0.len())
    }
}

/// A secret typed by the person (a password, an SMP answer). Wiped from memory when dropped;
/// `Debug` never shows it. On the wire it is a plain JSON string (it has to cross `postMessage`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret text. Use it once, where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

/// What is needed to log in to (or create) an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSetup {
    /// The address, `user@server`.
    pub jid: String,
    /// The password.
    pub password: Secret,
    /// The server's WebSocket endpoint (`wss://…`; `ws://` only for a server on loopback).
    pub websocket_url: String,
    /// Keep the password (inside the vault only) so the account logs in by itself after unlocking.
    /// Off unless the person turns it on.
    #[serde(default)]
    pub remember_password: bool,
}

/// An account kept in the vault: the app offers it after unlocking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAccount {
    /// The account.
    pub account: AccountId,
    /// The WebSocket endpoint the person confirmed for it.
    pub websocket_url: String,
    /// The password is remembered: the account logs in by itself after unlocking.
    pub password_saved: bool,
}

/// The state of the app's vault (the passphrase-protected store on this device).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultState {
    /// First run: no vault on this device yet. Create one with [`crate::Command::CreateVault`].
    Absent,
    /// A vault exists and is locked: [`crate::Command::Unlock`].
    Locked,
    /// Deriving the key from the passphrase (about a second) or opening the store.
    Working,
    /// Unlocked: accounts, keys and trust are loaded.
    Unlocked,
}

/// Why a vault operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultFailure {
    /// The passphrase is wrong. Nothing changed.
    WrongPassphrase,
    /// This browser cannot keep a vault (no IndexedDB, e.g. a private window, or a failed self-test).
    Unavailable,
    /// Reading or writing the store failed (disk full, blocked by the browser).
    Storage,
    /// The vault exists already (create), or does not exist (unlock).
    WrongState,
}

/// The connection state of one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountState {
    /// Creating the account's OTR key (first login on this device only; a few seconds on a slow phone).
    GeneratingKey,
    /// Opening the WebSocket, negotiating, authenticating.
    Connecting,
    /// The connection was lost; trying again by itself.
    Reconnecting {
        /// How many attempts failed so far.
        attempt: u32,
        /// Milliseconds until the next attempt.
        retry_in_ms: u64,
    },
    /// Creating the account on the server.
    Registering,
    /// The account was created; logging in follows.
    Registered,
    /// Logged in.
    Online {
        /// Our full address as the server bound it.
        jid: String,
    },
    /// Logged out (by us).
    Offline,
    /// The connection failed or was lost.
    Failed {
        /// Why, for the UI to explain.
        reason: AccountFailure,
        /// Details in English, for logs.
        detail: String,
    },
}

/// Why an account's connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountFailure {
    /// The server could not be reached, or the connection was lost.
    Unreachable,
    /// Wrong address or password.
    AuthFailed,
    /// The server refused to create the account, or offers no registration.
    RegistrationRefused,
    /// The endpoint URL is not a `ws://`/`wss://` URL, or the address is invalid.
    InvalidSetup,
    /// The server closed the stream with an error or broke the protocol.
    ServerError,
}

/// A registration form from the server (XEP-0077 with XEP-0004 fields, maybe an XEP-0158 CAPTCHA).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    /// Title, if any.
    pub title: Option<String>,
    /// Instructions for the person.
    pub instructions: Option<String>,
    /// The fields other than username and password, in the server's order.
    pub fields: Vec<FormField>,
}

/// One field of a [`Form`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// The field's name.
    pub var: String,
    /// XEP-0004 type (`text-single`, `hidden`, `list-single`, …).
    pub kind: String,
    /// Label.
    pub label: Option<String>,
    /// Must be filled in.
    pub required: bool,
    /// Current or default values.
    pub values: Vec<String>,
    /// Media to show (a CAPTCHA image) as `data:` URLs.
    pub media: Vec<String>,
}

/// A value for one form field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormValue {
    /// The field's name.
    pub var: String,
    /// Its values.
    pub values: Vec<String>,
}

/// One contact of the roster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contact {
    /// The contact's bare address.
    pub jid: String,
    /// Our name for the contact.
    pub name: Option<String>,
    /// Who sees whose presence.
    pub subscription: Subscription,
    /// We asked to see the contact's presence and they have not answered.
    pub pending_out: bool,
    /// Whether the contact is online (and how).
    pub presence: Presence,
}

/// Subscription state (RFC 6121).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subscription {
    /// Neither sees the other.
    None,
    /// We see the contact.
    To,
    /// The contact sees us.
    From,
    /// Both.
    Both,
}

/// A contact's availability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// No resource online (or we cannot see).
    Offline,
    /// Online.
    Available,
    /// Away (or extended away).
    Away,
    /// Do not disturb.
    Busy,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Unique within the conversation (our stanza id for outgoing, the sender's or a local one for
    /// incoming).
    pub id: String,
    /// Received or sent.
    pub direction: Direction,
    /// The text, always shown as text (never as HTML).
    pub text: Text,
    /// Whether it travelled encrypted (for outgoing: it will, or did).
    pub encrypted: bool,
    /// The state of an outgoing message.
    pub delivery: Delivery,
    /// When, in milliseconds on the worker's clock.
    pub at: u64,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The contact.
    Incoming,
    /// Us.
    Outgoing,
}

/// What happened to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Incoming: nothing to track.
    Received,
    /// Waiting for the private conversation to start; not sent yet.
    Queued,
    /// Handed to the server.
    Sent,
    /// The server or the room refused it.
    Failed,
}

/// The three states of the padlock (the guide's): open, closed with "?", closed with a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padlock {
    /// Open: messages are not encrypted.
    NotEncrypted,
    /// Closed with a yellow "?": encrypted, but the contact is not verified.
    EncryptedUnverified,
    /// Closed with a green tick: encrypted and verified.
    Verified,
}

/// The padlock of a conversation with what it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PadlockView {
    /// The state.
    pub state: Padlock,
    /// The contact's fingerprint while encrypted (`XXXXXXXX …`, five groups).
    pub fingerprint: Option<String>,
    /// The contact ended the private conversation: sending is refused until we end or restart it.
    pub finished: bool,
    /// Messages waiting for the private conversation.
    pub queued: usize,
}

/// The OTR policy of an account or a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtrPolicy {
    /// Private conversations only when started by hand.
    Manual,
    /// Advertise OTR and start it when the contact supports it.
    Opportunistic,
    /// Never send plaintext: messages wait for the private conversation.
    Always,
}

/// A status line in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// "Private conversation started" (or refreshed).
    PrivateStarted {
        /// Whether the contact's key was verified before (`false`: "Not verified").
        verified: bool,
    },
    /// "Your contact ended the private conversation".
    PeerEndedPrivate,
    /// We ended the private conversation.
    PrivateEnded,
    /// The contact's fingerprint differs from the one we trusted before, or from the one of the
    /// last private conversation in this chat (a key swapped mid-conversation). Never trusted
    /// silently.
    FingerprintChanged {
        /// The new fingerprint.
        fingerprint: String,
    },
    /// Verification succeeded: the contact is verified.
    Verified,
    /// We answered the contact's question correctly (they verified us; not the other way round).
    AnsweredCorrectly,
    /// Verification failed: the answers differ.
    VerificationFailed,
    /// Verification was aborted (by either side, or because of an invalid message).
    VerificationAborted,
    /// An unencrypted message arrived while the conversation is private.
    UnencryptedWhilePrivate,
    /// An encrypted message could not be read.
    Unreadable,
    /// The contact's software reported an OTR error.
    PeerError {
        /// Its text.
        text: Text,
    },
    /// An encrypted message arrived from the archive or offline storage, where it cannot be read.
    StoredEncryptedMessage,
    /// The person turned this chat's history on: from now on its messages are kept in the vault.
    HistoryOn,
    /// The person turned this chat's history off: what was kept for it is deleted.
    HistoryOff,
}

/// Why a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandFailure {
    /// No such account is logged in.
    UnknownAccount,
    /// The account exists already.
    AccountExists,
    /// An address or URL is not valid.
    InvalidInput,
    /// The account is not online.
    NotOnline,
    /// Not possible in the conversation's state (e.g. verification without a private conversation).
    WrongState,
}

/// A message in a group chat (XEP-0045). Group chats are never end-to-end encrypted: there is no
/// `encrypted` flag because it would always be false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMessage {
    /// Unique within the room for this session of the app.
    pub id: String,
    /// The author's nickname in the room.
    pub nick: String,
    /// The text, always shown as text (never as HTML). A `?OTR` body is shown as it came: it is
    /// never fed into an OTR session.
    pub text: Text,
    /// We wrote it (from this app, or from another client under our nickname).
    pub own: bool,
    /// `Sent` for ours (until the room refuses it: `Failed`), `Received` for the others'.
    pub delivery: Delivery,
    /// When, in milliseconds on the worker's clock (when it arrived, or when we sent it).
    pub at: u64,
}

/// Settings for a room that joining creates (XEP-0045 room configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRoom {
    /// Only members may enter; whoever we invite becomes one.
    pub members_only: bool,
    /// The room stays when everyone has left.
    pub persistent: bool,
}

/// An invitation into a room (XEP-0045 mediated, or XEP-0249 direct). Its password, if any, stays
/// in the worker and is used when the person joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The room's bare address.
    pub room: String,
    /// Who invites (bare address), as the invitation claims; `None` if it does not say.
    pub from: Option<String>,
    /// The inviter's nickname in the room, when the room hides their address (`from` is then
    /// `None`).
    pub from_nick: Option<String>,
    /// The inviter is one of our contacts. `false`: a stranger (shown as such).
    pub from_contact: bool,
    /// Their note, if any (at most 500 characters), always shown as text.
    pub reason: Option<Text>,
    /// It carries the room's password.
    pub has_password: bool,
    /// Sent through the room (declining tells the inviter); `false` for a direct invitation.
    pub mediated: bool,
}
