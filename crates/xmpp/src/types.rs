//! The values that cross the session boundary: configuration, time, commands, events and
//! errors. Everything here is plain data with named fields.

use core::fmt;
use core::time::Duration;

use jid::{BareJid, FullJid, Jid};

use crate::credentials::{CredentialError, Password};
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
    /// Once online, after this long without any frame from the server, check that the
    /// connection is alive: an XEP-0198 ack request (`<r/>`) when stream management is on,
    /// else an XEP-0199 ping. Every frame received restarts the count. `None` disables.
    pub keepalive_interval: Option<Duration>,
    /// Time allowed for the server to answer that check; after it the connection counts as
    /// dead ([`CloseReason::Timeout`]), resumable when stream management allows.
    pub keepalive_timeout: Duration,
    /// Time to wait for the server's `<close/>` after ours.
    pub close_timeout: Duration,
    /// Time allowed for the answer to a request sent by a command (roster, ping, disco,
    /// upload slot, blocking, carbons, password change...). An unanswered request ends in
    /// [`Event::RequestFailed`] with the condition `timeout`; an answer arriving later is
    /// ignored.
    pub request_timeout: Duration,
    /// Our name in service discovery (XEP-0030 identity `client/web`).
    pub client_name: String,
    /// Our XEP-0115 caps node (a URI for the software).
    pub caps_node: String,
}

impl Config {
    /// A configuration with the defaults: server-chosen resource, no PLAIN over `ws://`,
    /// default [`Limits`], 30 s to get online, a keepalive after 15 s without inbound traffic
    /// answered within 8 s (a silent, half-open connection is declared dead at most 23 s after
    /// its last frame), 60 s for the answer to a request.
    pub fn new(jid: BareJid, password: Password, transport: Transport) -> Self {
        Self {
            jid,
            password,
            resource: None,
            transport,
            allow_plain_on_insecure: false,
            limits: Limits::default(),
            negotiation_timeout: Duration::from_secs(30),
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_timeout: Duration::from_secs(8),
            close_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            client_name: "Candado".to_owned(),
            caps_node: "https://candado.invalid/caps".to_owned(),
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
///
/// New protocol support adds variants, so match with a `_` arm for the ones you ignore.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
        /// Its XEP-0115 capabilities, if announced.
        caps: Option<Caps>,
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
        /// The addressee (our JID, or for a group chat the room's view of us), if given.
        to: Option<Jid>,
        /// The sender asks for a delivery receipt (XEP-0184); answer with
        /// `Command::SendReceipt` if you are willing to reveal it.
        receipt_requested: bool,
        /// The sender's chat state that came with the message (XEP-0085).
        chat_state: Option<ChatState>,
    },
    /// A copy of a one-to-one message sent or received by another of our resources
    /// (XEP-0280 carbons). Only ever accepted from our own bare JID.
    Carbon {
        /// `Sent`: we wrote it from another device; `Received`: it reached another device.
        direction: CarbonDirection,
        /// The forwarded message, as an [`Event::Message`] (its `to` says whom we wrote to).
        message: Box<Event>,
    },
    /// The recipient's client confirmed it received our message (XEP-0184).
    Receipt {
        /// Who confirmed.
        from: Jid,
        /// The id of our message (as returned by `handle_command`).
        id: String,
    },
    /// A chat state notification without a body (XEP-0085): composing, paused, …
    ChatState {
        /// The contact.
        from: Jid,
        /// Their state.
        state: ChatState,
    },
    /// The answer to `Command::QueryDiscoInfo` (XEP-0030).
    DiscoInfo {
        /// The id `handle_command` returned.
        id: String,
        /// The entity queried.
        from: Jid,
        /// Its identities.
        identities: Vec<DiscoIdentity>,
        /// Its features (namespaces), sorted.
        features: Vec<String>,
    },
    /// The answer to `Command::QueryDiscoItems` (XEP-0030).
    DiscoItems {
        /// The id `handle_command` returned.
        id: String,
        /// The entity queried.
        from: Jid,
        /// Its items.
        items: Vec<DiscoItem>,
    },
    /// Our block list (answer to `Command::RequestBlocklist`, XEP-0191).
    Blocklist {
        /// The blocked JIDs.
        jids: Vec<Jid>,
    },
    /// Our server changed the block list (from this or another resource).
    BlocklistPush {
        /// `true`: these were blocked; `false`: unblocked.
        blocked: bool,
        /// The JIDs; empty with `blocked == false` means everything was unblocked.
        jids: Vec<Jid>,
    },
    /// An HTTP upload slot (XEP-0363), answer to `Command::RequestUploadSlot`.
    UploadSlot {
        /// The id `handle_command` returned.
        id: String,
        /// Where to `PUT` the file.
        put_url: String,
        /// Headers to send with the `PUT` (only `Authorization`, `Cookie`, `Expires`).
        put_headers: Vec<(String, String)>,
        /// Where the file can be downloaded afterwards.
        get_url: String,
    },
    /// We are in a room (XEP-0045): our own presence came back (status 110).
    RoomJoined {
        /// The room.
        room: BareJid,
        /// Our nickname as the room assigned it.
        nick: String,
        /// We created the room (status 201); the session configured it first: with the
        /// settings of `Command::JoinRoom`'s `config`, or as an "instant room".
        created: bool,
    },
    /// Joining failed, e.g. `conflict` (the nickname is taken: join again with another),
    /// `not-authorized` (password), `forbidden` (banned), `registration-required`.
    RoomJoinFailed {
        /// The room.
        room: BareJid,
        /// The error.
        error: StanzaErrorInfo,
    },
    /// We left a room, or were removed from it.
    RoomLeft {
        /// The room.
        room: BareJid,
        /// Why, when it was not our choice: `kicked` (307), `banned` (301),
        /// `affiliation` (321), `members-only` (322), `shutdown` (332), or
        /// `connection-lost` when a stream could not be resumed (join again).
        removed: Option<String>,
    },
    /// Someone is in a room, or their role, affiliation or status changed.
    Occupant {
        /// The room.
        room: BareJid,
        /// The occupant.
        occupant: Occupant,
    },
    /// Someone left a room (or changed nickname: `new_nick`).
    OccupantLeft {
        /// The room.
        room: BareJid,
        /// Their nickname.
        nick: String,
        /// Their new nickname, for a nickname change (status 303).
        new_nick: Option<String>,
    },
    /// The room's subject (sent on join and when it changes).
    RoomSubject {
        /// The room.
        room: BareJid,
        /// Who set it, if known.
        nick: Option<String>,
        /// The subject; empty means none.
        subject: String,
    },
    /// Someone invites us into a room: mediated through the room (XEP-0045 §7.8.2) or
    /// directly (XEP-0249). Never acted upon by the session: join with
    /// `Command::JoinRoom` (with the password) or decline with `Command::DeclineInvitation`.
    /// Anyone can send one: the inviter is what the stanza claims (for a mediated
    /// invitation, what the room claims).
    RoomInvitation {
        /// The room.
        room: BareJid,
        /// Who invites, if the invitation says.
        from: Option<Jid>,
        /// Their note, at most [`MAX_INVITATION_TEXT`] characters.
        reason: Option<String>,
        /// The room password carried by the invitation.
        password: Option<Password>,
        /// Mediated through the room (it can be declined); `false` for a direct invitation.
        mediated: bool,
    },
    /// Someone declined our invitation into a room (XEP-0045 §7.8.2).
    RoomInvitationDeclined {
        /// The room.
        room: BareJid,
        /// Who declined, if the room says.
        from: Option<Jid>,
        /// Their note, at most [`MAX_INVITATION_TEXT`] characters.
        reason: Option<String>,
    },
    /// A room we created could not take the settings asked for in `Command::JoinRoom`
    /// (`config`): it was opened with its default configuration instead (an instant room).
    RoomNotConfigured {
        /// The room.
        room: BareJid,
        /// Why, in English.
        reason: String,
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
    /// The answer to `Command::Ping` (XEP-0199): the entity is reachable.
    Pong {
        /// The id `handle_command` returned.
        id: String,
        /// The entity pinged (our server when the command named none).
        from: Jid,
        /// Time from `handle_command` to the answer, by the clock passed in
        /// (`handle_timeout`, `Session::new`): the session's `now` when the answer arrived.
        round_trip: Duration,
    },
    /// A request sent by a command succeeded (roster set/remove, blocking, carbons...).
    RequestSucceeded {
        /// The id `handle_command` returned.
        id: String,
    },
    /// A request sent by a command failed: the error the server or the entity returned
    /// (for a ping e.g. `service-unavailable`, `feature-not-implemented`,
    /// `item-not-found`, `remote-server-not-found`), or the condition `timeout` (type
    /// `wait`) when no answer came within [`Config::request_timeout`].
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

/// XEP-0085 chat states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    /// Paying attention to the conversation.
    Active,
    /// Typing.
    Composing,
    /// Stopped typing.
    Paused,
    /// Not paying attention.
    Inactive,
    /// Left the conversation.
    Gone,
}

/// Which way a carbon copy went (XEP-0280).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarbonDirection {
    /// A message another of our resources received.
    Received,
    /// A message another of our resources sent.
    Sent,
}

/// An XEP-0115 capabilities announcement in a presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// The software's URI.
    pub node: String,
    /// Hash algorithm, e.g. `sha-1`.
    pub hash: String,
    /// The verification string (base64 of the hash).
    pub ver: String,
}

/// A service discovery identity (XEP-0030).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoIdentity {
    /// e.g. `client`, `server`, `conference`, `store`.
    pub category: String,
    /// e.g. `web`, `im`, `text`, `file`.
    pub kind: String,
    /// Human-readable name.
    pub name: Option<String>,
}

/// A service discovery item (XEP-0030).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoItem {
    /// The item's JID.
    pub jid: Jid,
    /// Its node, if any.
    pub node: Option<String>,
    /// Human-readable name.
    pub name: Option<String>,
}

/// A room occupant (XEP-0045).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupant {
    /// Nickname in the room.
    pub nick: String,
    /// The real JID, when the room reveals it to us.
    pub jid: Option<Jid>,
    /// `owner`, `admin`, `member`, `outcast` or `none`.
    pub affiliation: String,
    /// `moderator`, `participant`, `visitor` or `none`.
    pub role: String,
    /// `<show/>`.
    pub show: Option<Show>,
    /// Status text.
    pub status: Option<String>,
    /// This is us.
    pub is_self: bool,
}

/// A message with the extensions the other commands do not offer: delivery receipt request
/// (XEP-0184), chat state (XEP-0085), carbons `private` (XEP-0280) and storage hints
/// (XEP-0334). Sent with `Command::Send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The recipient.
    pub to: Jid,
    /// The text; `None` for a bare chat-state notification.
    pub body: Option<String>,
    /// Chat, normal or groupchat.
    pub kind: MessageKind,
    /// Thread id, if continuing one.
    pub thread: Option<String>,
    /// Ask the recipient's client to confirm receipt (XEP-0184; needs a body).
    pub request_receipt: bool,
    /// Our chat state to send along (XEP-0085).
    pub chat_state: Option<ChatState>,
    /// Do not copy to our other resources (XEP-0280 `<private/>` with the `no-copy` hint).
    pub private: bool,
    /// Hint: do not store it at all, e.g. offline or in archives (XEP-0334 `no-store`).
    pub no_store: bool,
    /// Hint: do not keep it in permanent archives (XEP-0334 `no-permanent-store`).
    pub no_permanent_store: bool,
}

impl OutgoingMessage {
    /// A chat message with a body and no extensions.
    pub fn chat(to: Jid, body: impl Into<String>) -> Self {
        Self {
            to,
            body: Some(body.into()),
            kind: MessageKind::Chat,
            thread: None,
            request_receipt: false,
            chat_state: None,
            private: false,
            no_store: false,
            no_permanent_store: false,
        }
    }
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
    /// The password or username is refused by SASLprep (RFC 4013). Reported by
    /// [`crate::Session::new`] before anything is sent.
    InvalidCredentials(CredentialError),
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
            Self::InvalidCredentials(e) => write!(f, "{e}"),
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
    /// Let `to` see our presence: approves a pending request from `to`, or pre-approves a
    /// future one (RFC 6121 §3.4). A pre-approval needs a server that advertises it
    /// ([`crate::Session::supports_preapproval`]); otherwise the command fails with
    /// [`CommandError::PreApprovalUnsupported`] and nothing is sent.
    ///
    /// "Pending" means a `subscribe` from `to` arrived on this stream (or the stream it
    /// resumed) and was not answered or withdrawn since; a contact already subscribed to
    /// us (`from` or `both` in a roster result or push seen by this session) is not a
    /// pre-approval either.
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
    /// Ping an entity (XEP-0199): `None` is our server, as the keepalive does; or any JID,
    /// e.g. a contact's full JID, a bare JID (answered by its server for the account), a
    /// domain. Answered by `Event::Pong` with the round trip, or `RequestFailed` with the
    /// error (an answer from anyone but the entity pinged is ignored).
    Ping {
        /// The entity; `None` for our own server.
        to: Option<Jid>,
    },
    /// Send a message with extensions ([`OutgoingMessage`]). `handle_command` returns its
    /// id; it is tracked like `SendMessage` (acks, hand-back as [`crate::UnackedStanza`]).
    Send {
        /// The message.
        message: OutgoingMessage,
    },
    /// Confirm receipt of a message that asked for it (XEP-0184).
    SendReceipt {
        /// The sender of the message.
        to: Jid,
        /// The id of their message.
        id: String,
    },
    /// Ask the server to copy our one-to-one messages to this resource (XEP-0280).
    /// Answered by `RequestSucceeded`/`RequestFailed`.
    EnableCarbons,
    /// Stop carbons for this resource.
    DisableCarbons,
    /// Ask an entity what it is and supports (XEP-0030). Answered by `Event::DiscoInfo`.
    QueryDiscoInfo {
        /// The entity (our server, a contact's full JID, a room, an upload service).
        to: Jid,
        /// A node, e.g. from XEP-0115 caps as `node#ver`.
        node: Option<String>,
    },
    /// Ask an entity for its items (XEP-0030). Answered by `Event::DiscoItems`.
    QueryDiscoItems {
        /// The entity (usually our server's domain).
        to: Jid,
        /// A node, if any.
        node: Option<String>,
    },
    /// Fetch our block list (XEP-0191). Answered by `Event::Blocklist`.
    RequestBlocklist,
    /// Block JIDs (XEP-0191). Answered by `RequestSucceeded`/`RequestFailed`.
    Block {
        /// The JIDs; at least one.
        jids: Vec<Jid>,
    },
    /// Unblock JIDs; an empty list unblocks everyone.
    Unblock {
        /// The JIDs.
        jids: Vec<Jid>,
    },
    /// Ask an upload service for a slot (XEP-0363). Answered by `Event::UploadSlot`.
    RequestUploadSlot {
        /// The upload service (found with disco: identity `store/file`).
        service: Jid,
        /// The file's name.
        filename: String,
        /// Its size in bytes.
        size: u64,
        /// Its MIME type.
        content_type: Option<String>,
    },
    /// Enter a room (XEP-0045). Answered by `Event::RoomJoined` (after the occupants and
    /// the subject) or `Event::RoomJoinFailed`.
    JoinRoom {
        /// The room, `room@conference.example.org`.
        room: BareJid,
        /// Our nickname in it.
        nick: String,
        /// The room password, if it has one.
        password: Option<Password>,
        /// How many old messages to receive; `None` lets the room decide.
        history: Option<u32>,
        /// Settings for the room should joining create it (status 201): the session fills
        /// in the room's configuration form (XEP-0045 §10.1.3) instead of accepting the
        /// default "instant room". Settings the form cannot take leave the room with its
        /// default configuration, reported as [`Event::RoomNotConfigured`].
        config: Option<RoomConfig>,
    },
    /// Invite `to` into `room` through the room (a mediated invitation, XEP-0045 §7.8.2);
    /// the room adds its password, if it has one. Returns the message id: a refusal comes
    /// back as [`Event::MessageError`] with it.
    InviteToRoom {
        /// A room we are in.
        room: BareJid,
        /// Whom to invite.
        to: BareJid,
        /// A short note for the invitee.
        reason: Option<String>,
    },
    /// Decline a mediated invitation ([`Event::RoomInvitation`] with `mediated`): the room
    /// tells the inviter (XEP-0045 §7.8.2).
    DeclineInvitation {
        /// The room that sent the invitation.
        room: BareJid,
        /// The inviter, as the invitation named them.
        to: Jid,
        /// A short note for the inviter.
        reason: Option<String>,
    },
    /// Leave a room.
    LeaveRoom {
        /// The room.
        room: BareJid,
        /// Status text.
        status: Option<String>,
    },
    /// Change a room's subject.
    SetRoomSubject {
        /// The room.
        room: BareJid,
        /// The new subject.
        subject: String,
    },
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

/// Invitation reasons longer than this (in characters) are cut.
pub const MAX_INVITATION_TEXT: usize = 500;

/// Settings for a room we create (XEP-0045 §10.1.3, the standard `muc#roomconfig` fields).
/// `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RoomConfig {
    /// Protect the room with this password (`muc#roomconfig_roomsecret`, and
    /// `muc#roomconfig_passwordprotectedroom` when the form has it).
    pub password: Option<Password>,
    /// Only members may enter (`muc#roomconfig_membersonly`).
    pub members_only: bool,
    /// The room outlives its last occupant (`muc#roomconfig_persistentroom`).
    pub persistent: bool,
}

impl RoomConfig {
    /// Whether anything differs from the default (instant) configuration.
    pub fn is_default(&self) -> bool {
        self.password.is_none() && !self.members_only && !self.persistent
    }
}

impl fmt::Debug for RoomConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomConfig")
            .field("password", &self.password.is_some())
            .field("members_only", &self.members_only)
            .field("persistent", &self.persistent)
            .finish()
    }
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
    /// The new password is refused by SASLprep (RFC 4013).
    Credentials(CredentialError),
    /// `ApproveSubscription` would be a pre-approval (no request from that contact is
    /// pending) and the server does not advertise `urn:xmpp:features:pre-approval`.
    PreApprovalUnsupported,
    /// The command would send the password in clear text over [`Transport::Insecure`]
    /// without [`Config::allow_plain_on_insecure`].
    InsecureTransport,
    /// The command's arguments make no sense (e.g. an empty message, no JIDs to block,
    /// leaving a room we are not in).
    Invalid(&'static str),
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
            Self::Credentials(e) => write!(f, "{e}"),
            Self::PreApprovalUnsupported => f.write_str(
                "the server does not support subscription pre-approval, and that contact \
                 has not asked to subscribe",
            ),
            Self::InsecureTransport => {
                f.write_str("refusing to send the password in clear text over ws://")
            }
            Self::Invalid(why) => write!(f, "invalid command: {why}"),
        }
    }
}

impl std::error::Error for CommandError {}
