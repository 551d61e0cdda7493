//! The values that cross the session boundary: configuration, time, commands, events and
//! errors. Everything here is plain data with named fields.

use core::fmt;
use core::time::Duration;

use jid::{BareJid, FullJid, Jid};

use crate::credentials::Password;
use crate::framing::{FrameError, Limits};
use crate::register::{FieldValue, RegistrationForm, SubmitError};
use crate::scram::ScramError;
use crate::sm::UnackedStanza;

/// A point on the caller's monotonic clock, in milliseconds. The session never reads a clock
/// (wasm has no `std::time::Instant`); the caller passes `now` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// `ms` milliseconds after the caller's epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the caller's epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating.
    pub fn after(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }
}

/// How the WebSocket reaches the server. Decides whether PLAIN may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `wss://`: TLS protects the stream.
    Secure,
    /// `ws://`: cleartext. PLAIN is refused unless [`Config::allow_plain_on_insecure`] is set.
    Insecure,
}

/// Everything a session needs to log in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The account, `user@domain`.
    pub jid: BareJid,
    /// The account password.
    pub password: Password,
    /// The resource to ask for; `None` lets the server choose.
    pub resource: Option<String>,
    /// How the socket reaches the server.
    pub transport: Transport,
    /// Allow PLAIN over [`Transport::Insecure`]. Only for a server on loopback.
    pub allow_plain_on_insecure: bool,
    /// Limits on incoming frames.
    pub limits: Limits,
    /// Time allowed from the first `<open/>` to `Event::Online`.
    pub negotiation_timeout: Duration,
    /// Send an XEP-0199 ping to the server this often once online; `None` disables.
    pub keepalive_interval: Option<Duration>,
    /// Time allowed for the server to answer a keepalive ping.
    pub keepalive_timeout: Duration,
    /// Time to wait for the server's `<close/>` after ours.
    pub close_timeout: Duration,
}

impl Config {
    /// A configuration with the defaults: server-chosen resource, no PLAIN over `ws://`,
    /// default [`Limits`], 30 s to get online, a ping every 60 s answered within 30 s.
    pub fn new(jid: BareJid, password: Password, transport: Transport) -> Self {
        Self {
            jid,
            password,
            resource: None,
            transport,
            allow_plain_on_insecure: false,
            limits: Limits::default(),
            negotiation_timeout: Duration::from_secs(30),
            keepalive_interval: Some(Duration::from_secs(60)),
            keepalive_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Presence `<show/>` values (RFC 6121 §4.7.2.1). Absent means plainly available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Temporarily away.
    Away,
    /// Free for chat.
    Chat,
    /// Do not disturb.
    Dnd,
    /// Away for an extended period.
    Xa,
}

/// The kind of a chat message we send or receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// One-to-one chat (`type='chat'`).
    Chat,
    /// Standalone message (`type='normal'` or no type).
    Normal,
    /// Group chat (`type='groupchat'`).
    Groupchat,
    /// Alert or notification (`type='headline'`).
    Headline,
}

/// Subscription state of a roster item (RFC 6121 §2.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// Neither side sees the other's presence.
    None,
    /// We see the contact's presence.
    To,
    /// The contact sees ours.
    From,
    /// Both directions.
    Both,
    /// The item was removed (only in roster pushes).
    Remove,
}

/// One contact in the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterItem {
    /// The contact.
    pub jid: BareJid,
    /// Our name for the contact.
    pub name: Option<String>,
    /// Subscription state.
    pub subscription: Subscription,
    /// We asked to subscribe and the contact has not answered (`ask='subscribe'`).
    pub pending_out: bool,
    /// We pre-approved the contact's subscription (`approved='true'`).
    pub approved: bool,
    /// Groups the contact is in.
    pub groups: Vec<String>,
}

/// A stanza error (RFC 6120 §8.3) received for something we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaErrorInfo {
    /// `cancel`, `continue`, `modify`, `auth` or `wait`.
    pub kind: String,
    /// The defined condition, e.g. `item-not-found`.
    pub condition: String,
    /// Human-readable text, when the server sent one.
    pub text: Option<String>,
}

/// What the session tells its owner. Drained with [`crate::Session::poll_event`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The server's registration form ([`crate::Session::register`]). Show it (with any
    /// CAPTCHA media) and answer with `Command::SubmitRegistration`.
    RegistrationForm {
        /// The form.
        form: RegistrationForm,
    },
    /// The account was created; logging in follows.
    Registered,
    /// The server refused the submission (`conflict`: name taken; `not-acceptable`: missing
    /// or bad field; `not-allowed`: wrong CAPTCHA). The form may be submitted again.
    RegistrationFailed {
        /// The error.
        error: StanzaErrorInfo,
    },
    /// SASL succeeded with `mechanism` and the server proved it knows the password (SCRAM).
    Authenticated {
        /// The mechanism used, e.g. `SCRAM-SHA-1`.
        mechanism: String,
    },
    /// A resource is bound: stanzas may now be sent.
    Online {
        /// Our full JID as the server bound it.
        jid: FullJid,
    },
    /// XEP-0198 stream management was enabled (or the server refused to enable it).
    StreamManagement {
        /// Stanzas are now counted and acknowledged.
        enabled: bool,
        /// The stream can be resumed after a lost socket ([`crate::Session::take_resumption`]).
        resumable: bool,
    },
    /// The server acknowledged receipt of these messages (XEP-0198).
    Acked {
        /// Ids returned by `handle_command(Command::SendMessage { .. })`.
        message_ids: Vec<String>,
    },
    /// The stream was resumed on a new socket (XEP-0198 §5); `resent` unacknowledged stanzas
    /// were sent again. Roster and presence state carry over.
    Resumed {
        /// Our full JID, unchanged.
        jid: FullJid,
        /// How many stanzas were sent again.
        resent: usize,
    },
    /// The server refused to resume. These stanzas were never acknowledged: send again what
    /// still matters. A fresh session follows (`Event::Online`), so fetch the roster and send
    /// presence again.
    ResumeFailed {
        /// The unacknowledged stanzas, oldest first.
        unacked: Vec<UnackedStanza>,
    },
    /// The session is over; no more events follow. The caller closes the socket.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// The full roster (answer to `Command::RequestRoster`).
    Roster {
        /// Roster version to store for the next request (RFC 6121 §2.6).
        ver: Option<String>,
        /// All items.
        items: Vec<RosterItem>,
    },
    /// The roster has not changed since the version we sent.
    RosterUpToDate,
    /// A roster push from our server: one item added, changed or removed.
    RosterPush {
        /// New roster version.
        ver: Option<String>,
        /// The item; `subscription == Remove` means it is gone.
        item: RosterItem,
    },
    /// A roster push that did not come from our account was refused (RFC 6121 §2.1.6).
    SpoofedRosterPush {
        /// Who sent it.
        from: Jid,
    },
    /// A contact's resource is available, or changed its show/status.
    Presence {
        /// The sender (normally a full JID).
        from: Jid,
        /// `<show/>`, absent for plain availability.
        show: Option<Show>,
        /// Status text.
        status: Option<String>,
        /// Priority (-128..=127).
        priority: i8,
    },
    /// A contact's resource went offline.
    Unavailable {
        /// The sender.
        from: Jid,
        /// Status text.
        status: Option<String>,
    },
    /// Someone asks to see our presence. Answer with `ApproveSubscription` or
    /// `DenySubscription`.
    SubscriptionRequest {
        /// Who asks.
        from: BareJid,
        /// Their message, if any.
        status: Option<String>,
    },
    /// The contact approved our subscription request.
    SubscriptionApproved {
        /// The contact.
        from: BareJid,
    },
    /// The contact denied our request or cancelled our subscription (`unsubscribed`).
    SubscriptionRevoked {
        /// The contact.
        from: BareJid,
    },
    /// The contact no longer wants to see our presence (`unsubscribe`).
    ContactUnsubscribed {
        /// The contact.
        from: BareJid,
    },
    /// A presence we sent bounced.
    PresenceError {
        /// Who returned the error.
        from: Jid,
        /// The error.
        error: StanzaErrorInfo,
    },
    /// A message arrived.
    Message {
        /// The sender.
        from: Jid,
        /// The id the sender gave it.
        id: Option<String>,
        /// Chat, normal, groupchat or headline.
        kind: MessageKind,
        /// The body (the one without a language tag, or the first), if any.
        body: Option<String>,
        /// The subject, if any.
        subject: Option<String>,
        /// The thread id, if any.
        thread: Option<String>,
        /// When it was originally sent, for a delayed (e.g. offline-stored) message
        /// (XEP-0203), as RFC 3339.
        delayed: Option<String>,
    },
    /// A message we sent bounced.
    MessageError {
        /// Who returned it.
        from: Jid,
        /// The id we gave the message (as returned by `handle_command`).
        id: Option<String>,
        /// The error.
        error: StanzaErrorInfo,
    },
    /// A request sent by a command succeeded (roster set/remove, ping).
    RequestSucceeded {
        /// The id `handle_command` returned.
        id: String,
    },
    /// A request sent by a command failed.
    RequestFailed {
        /// The id `handle_command` returned.
        id: String,
        /// The error.
        error: StanzaErrorInfo,
    },
    /// An incoming stanza could not be understood and was dropped; the stream goes on.
    StanzaDropped {
        /// Why, without quoting the stanza.
        reason: String,
    },
}

/// Why a session ended, split by who is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// We asked to close (`Command::Close`) and the server agreed or timed out.
    ClosedByUs,
    /// The server closed the stream without giving an error.
    ClosedByServer,
    /// The server sent `<close see-other-uri=…/>`: reconnect to `uri` (RFC 7395 §3.6.1).
    Redirect {
        /// The WebSocket URI to use instead.
        uri: String,
    },
    /// The server sent the `see-other-host` stream error: connect to `host` instead. The
    /// WebSocket URL for it must be found by the owner (XEP-0156).
    SeeOtherHost {
        /// `host` or `host:port`, as sent.
        host: String,
    },
    /// The server sent a stream error (RFC 6120 §4.9).
    StreamError {
        /// The defined condition, e.g. `conflict`, `system-shutdown`.
        condition: String,
        /// Human-readable text, if any.
        text: Option<String>,
    },
    /// The server refused our credentials (RFC 6120 §6.5).
    AuthFailed {
        /// The SASL condition, e.g. `not-authorized`.
        condition: String,
        /// Human-readable text, if any.
        text: Option<String>,
    },
    /// The server does not offer registration, or refused to send the form.
    RegistrationUnavailable {
        /// The error it gave (e.g. `service-unavailable`, `not-allowed`).
        error: StanzaErrorInfo,
    },
    /// The server refused to bind a resource (RFC 6120 §7.6.2).
    BindFailed {
        /// The error it gave.
        error: StanzaErrorInfo,
    },
    /// The server offers no mechanism we are willing to use (e.g. only PLAIN over `ws://`).
    NoUsableMechanism {
        /// What the server offered.
        offered: Vec<String>,
    },
    /// The server broke the protocol.
    Protocol(ProtocolError),
    /// The server sent a frame we refuse to parse (size, depth, malformed XML).
    BadFrame(FrameError),
    /// Negotiation did not finish in time, or a keepalive ping went unanswered.
    Timeout,
    /// The socket went away (`Session::handle_socket_closed`).
    SocketClosed,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClosedByUs => f.write_str("closed"),
            Self::ClosedByServer => f.write_str("the server closed the stream"),
            Self::Redirect { uri } => write!(f, "the server redirects to {uri}"),
            Self::SeeOtherHost { host } => write!(f, "the server redirects to host {host}"),
            Self::StreamError { condition, .. } => write!(f, "stream error: {condition}"),
            Self::AuthFailed { condition, .. } => write!(f, "authentication failed: {condition}"),
            Self::NoUsableMechanism { offered } => {
                write!(f, "no acceptable SASL mechanism among {offered:?}")
            }
            Self::RegistrationUnavailable { error } => {
                write!(f, "registration unavailable: {}", error.condition)
            }
            Self::BindFailed { error } => write!(f, "resource binding failed: {}", error.condition),
            Self::Protocol(e) => write!(f, "protocol violation by the server: {e}"),
            Self::BadFrame(e) => write!(f, "bad frame from the server: {e}"),
            Self::Timeout => f.write_str("timed out"),
            Self::SocketClosed => f.write_str("connection lost"),
        }
    }
}

/// Ways the server broke the protocol. The session ends on each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// SCRAM failed on the server's side of the exchange (includes a bad server signature).
    Scram(ScramError),
    /// SASL `<success/>` came before the server proved it knows the password.
    MissingServerSignature,
    /// An element that makes no sense in the current state.
    Unexpected {
        /// Local name of the element.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// The server's `<open/>` has a version other than 1.0.
    UnsupportedVersion(Option<String>),
    /// The server's `<open/>` names a different domain.
    WrongDomain(String),
    /// Stream features after authentication offer no resource binding.
    NoBind,
    /// The bind result is malformed or binds a JID on another domain.
    BadBind,
    /// The registration form is not a valid XEP-0077/XEP-0004 form.
    BadForm,
    /// A stream-management `h` is missing, malformed, or acknowledges more than we sent.
    BadAck,
    /// `see-other-uri` is not a WebSocket URI, or downgrades `wss://` to `ws://`.
    BadRedirect(String),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scram(e) => write!(f, "{e}"),
            Self::MissingServerSignature => f.write_str("SASL success without server signature"),
            Self::Unexpected { name, namespace } => {
                write!(f, "unexpected element {{{namespace}}}{name}")
            }
            Self::UnsupportedVersion(v) => write!(f, "unsupported stream version {v:?}"),
            Self::WrongDomain(d) => write!(f, "stream opened by unexpected domain {d}"),
            Self::NoBind => f.write_str("no resource binding offered"),
            Self::BadBind => f.write_str("invalid resource binding result"),
            Self::BadForm => f.write_str("invalid registration form"),
            Self::BadAck => f.write_str("invalid stream management acknowledgement"),
            Self::BadRedirect(uri) => write!(f, "refused redirect to {uri}"),
        }
    }
}

/// What the owner can ask the session to do. Stanza commands need [`Event::Online`] first.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Fetch the roster; pass the stored version to get only changes (RFC 6121 §2.6).
    RequestRoster {
        /// Last roster version seen, if any.
        ver: Option<String>,
    },
    /// Add or update a roster item.
    SetRosterItem {
        /// The contact.
        jid: BareJid,
        /// Our name for them.
        name: Option<String>,
        /// Their groups.
        groups: Vec<String>,
    },
    /// Remove a roster item (also cancels subscriptions both ways, RFC 6121 §2.5).
    RemoveRosterItem {
        /// The contact.
        jid: BareJid,
    },
    /// Broadcast our availability.
    SendPresence {
        /// `<show/>`, `None` for plainly available.
        show: Option<Show>,
        /// Status text.
        status: Option<String>,
        /// Priority.
        priority: i8,
    },
    /// Go offline (`type='unavailable'`) while keeping the stream.
    SendUnavailable {
        /// Status text.
        status: Option<String>,
    },
    /// Ask to see `to`'s presence.
    Subscribe {
        /// The contact.
        to: BareJid,
    },
    /// Let `to` see our presence: approves a request, or pre-approves one (RFC 6121 §3.4).
    ApproveSubscription {
        /// The contact.
        to: BareJid,
    },
    /// Refuse a request, or cancel `to`'s existing subscription to us.
    DenySubscription {
        /// The contact.
        to: BareJid,
    },
    /// Stop seeing `to`'s presence.
    Unsubscribe {
        /// The contact.
        to: BareJid,
    },
    /// Send a message. `handle_command` returns its id.
    SendMessage {
        /// The recipient.
        to: Jid,
        /// The text.
        body: String,
        /// Chat or normal (or groupchat).
        kind: MessageKind,
        /// Thread id, if continuing one.
        thread: Option<String>,
    },
    /// Ping the server now (XEP-0199). Answered by `RequestSucceeded`/`RequestFailed`.
    Ping,
    /// Answer the registration form (only after `Event::RegistrationForm`). Username and
    /// password come from the configuration and need not be given.
    SubmitRegistration {
        /// Values for the other fields (e.g. the CAPTCHA answer).
        values: Vec<FieldValue>,
    },
    /// Change the account password (XEP-0077 §3.3). Answered by `RequestSucceeded` (the
    /// session then uses the new password to resume) or `RequestFailed`.
    ChangePassword {
        /// The new password.
        new: Password,
    },
    /// Delete the account from the server (XEP-0077 §3.2). The server closes the stream
    /// after `RequestSucceeded`.
    RemoveAccount,
    /// Close the stream politely.
    Close,
}

/// A command the session could not carry out. Always the caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The session is not online yet.
    NotOnline,
    /// The session has ended.
    Closed,
    /// `SubmitRegistration` without a registration form to answer.
    NoRegistrationForm,
    /// The submission does not fit the form.
    InvalidSubmission(SubmitError),
    /// The password holds characters XML cannot carry (most control characters).
    UnencodablePassword,
    /// The command would send the password in clear text over [`Transport::Insecure`]
    /// without [`Config::allow_plain_on_insecure`].
    InsecureTransport,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOnline => f.write_str("the session is not online yet"),
            Self::Closed => f.write_str("the session has ended"),
            Self::NoRegistrationForm => f.write_str("no registration form to answer"),
            Self::InvalidSubmission(e) => write!(f, "invalid registration: {e}"),
            Self::UnencodablePassword => {
                f.write_str("the password contains characters XML cannot carry")
            }
            Self::InsecureTransport => {
                f.write_str("refusing to send the password in clear text over ws://")
            }
        }
    }
}

impl std::error::Error for CommandError {}
