//! A sans-IO XMPP client session for XMPP over WebSocket.
//!
//! `candado-xmpp` speaks the client side of
//! [RFC 7395](https://www.rfc-editor.org/rfc/rfc7395) (XMPP over WebSocket),
//! [RFC 6120](https://www.rfc-editor.org/rfc/rfc6120) (streams, SASL, binding) and
//! [RFC 6121](https://www.rfc-editor.org/rfc/rfc6121) (roster, presence, messages). It never
//! touches a socket, a clock or a random number generator: the owner feeds it WebSocket text
//! frames, commands, the time and 32 random bytes, and drains frames to send, events and the
//! next timer deadline. The same code runs natively (tests, a native WebSocket client) and in
//! a browser worker.
//!
//! # Data flow
//!
//! ```text
//!            handle_frame(&str)     ┌───────────┐  poll_transmit() -> String
//!  WebSocket ─────────────────────▶ │           │ ─────────────────────────▶ WebSocket
//!            handle_socket_closed() │  Session  │
//!  owner     ─────────────────────▶ │           │  poll_event() -> Event
//!            handle_command(Command)│           │ ─────────────────────────▶ owner
//!  timer     ─────────────────────▶ │           │  poll_timeout() -> Timestamp
//!            handle_timeout(now)    └───────────┘ ─────────────────────────▶ timer
//! ```
//!
//! See [`Session`] for the full API taxonomy and the drain order.
//!
//! # Tested against real servers
//!
//! `tests/servers.rs` drives this session through a native WebSocket against a private
//! Prosody 0.12 (SCRAM-SHA-1) and a private ejabberd 23.01 (SCRAM-SHA-256), each started from
//! the config kept in the repository: in-band registration, login, roster and subscriptions,
//! presence, messages both ways, blocking, pings to clients, the server and a missing
//! account, carbons, stream management across lost sockets (every message exactly once),
//! group chat, subscription pre-approval, a SASLprep'ed non-ASCII password, an upload slot
//! and its `PUT` (Prosody), a wrong password, an unreachable server.
//!
//! # Supported
//!
//! * RFC 7395 framing: `<open/>`/`<close/>`, one element per frame, `xmlns='jabber:client'`
//!   on every stanza sent, `see-other-uri` redirects (never from `wss://` to `ws://`).
//! * Limits checked while parsing, before a tree is built: frame size, nesting depth, element
//!   count ([`Limits`]). Hostile input ends the session with [`CloseReason::BadFrame`] or
//!   [`CloseReason::Protocol`], never a panic.
//! * SASL SCRAM-SHA-256 and SCRAM-SHA-1 with the server signature verified; PLAIN only over
//!   [`Transport::Secure`] or with [`Config::allow_plain_on_insecure`] (loopback tests).
//!   SASLprep (RFC 4013) of the password and username first (also for in-band registration
//!   and password changes); a password it refuses ends the session before anything is sent
//!   ([`CloseReason::InvalidCredentials`]).
//! * Resource binding, the legacy session request where a server still requires it.
//! * Stream errors, SASL failures, bind failures, timeouts as [`Event::Closed`] reasons.
//! * Roster get (with versioning), set, remove, pushes (only from our own account).
//! * Presence (show, status, priority), the subscription handshake (subscribe, subscribed,
//!   unsubscribe, unsubscribed). `subscribed` before a request is a pre-approval (RFC 6121
//!   §3.4): sent only when the server advertises `urn:xmpp:features:pre-approval`
//!   ([`Session::supports_preapproval`]), refused with
//!   [`CommandError::PreApprovalUnsupported`] otherwise.
//! * Messages (chat, normal, groupchat, headline; thread) with ids, and message errors;
//!   XEP-0203 delay stamps on stored messages.
//! * XEP-0199 ping: answered, sent as a keepalive, and on request to our server or any
//!   entity ([`Command::Ping`], answered by [`Event::Pong`] with the round trip or
//!   [`Event::RequestFailed`]).
//! * Stall detection: after [`Config::keepalive_interval`] (15 s) without any frame from the
//!   server, a keepalive goes out (an XEP-0198 `<r/>` when stream management is on, else a
//!   ping); unanswered within [`Config::keepalive_timeout`] (8 s), the connection is dead
//!   ([`CloseReason::Timeout`], resumable with stream management). A half-open socket (no
//!   bytes, no close) is thus given up at most 23 s after its last frame.
//! * Requests sent by commands that get no answer within [`Config::request_timeout`] fail
//!   with the condition `timeout`.
//! * XEP-0198 stream management: enable with resumption, acks both ways ([`Event::Acked`]
//!   per message), resumption on a new socket with unacknowledged stanzas sent again, and
//!   when resumption is refused the unacknowledged stanzas handed back
//!   ([`Event::ResumeFailed`], [`Session::take_unacked`]) before a fresh session.
//! * XEP-0077 in-band registration with XEP-0004 data forms or legacy fields, XEP-0158
//!   CAPTCHA forms with their XEP-0231 media handed to the owner, password change, account
//!   removal.
//! * XEP-0280 carbons: [`Command::EnableCarbons`]; `<private/>` per message
//!   ([`OutgoingMessage::private`]); received and sent copies surfaced as [`Event::Carbon`],
//!   accepted only from our own bare JID (anything else is dropped as a forgery).
//! * XEP-0334 hints `no-copy`, `no-store`, `no-permanent-store` ([`OutgoingMessage`]).
//! * XEP-0184 receipts: requested per message, reported as [`Event::Receipt`]; answered
//!   only when the owner says so ([`Command::SendReceipt`]).
//! * XEP-0085 chat states, sent with a message or alone, received in [`Event::Message`] or
//!   as [`Event::ChatState`].
//! * XEP-0203 delay stamps on stored and forwarded messages (`delayed`).
//! * XEP-0030 disco: our identity and features answered; [`Command::QueryDiscoInfo`] and
//!   [`Command::QueryDiscoItems`], with answers accepted only from the entity asked.
//! * XEP-0115 caps: our hash in every presence we send; others' in [`Event::Presence`].
//! * XEP-0191 blocking: list, block, unblock, pushes from our account.
//! * XEP-0045 group chat: join, with a password (nickname conflicts and wrong passwords as
//!   [`Event::RoomJoinFailed`]; a room we create is configured before [`Event::RoomJoined`]:
//!   password, members-only and persistence through its `muc#roomconfig` form when asked
//!   ([`RoomConfig`]), else as an instant room), leave and removal, occupants, subject, group
//!   messages (kind [`MessageKind::Groupchat`]), mediated invitations sent, received and
//!   declined, and XEP-0249 direct invitations received ([`Event::RoomInvitation`]).
//! * XEP-0363 upload slot requests ([`Event::UploadSlot`]; only the allowed headers).
//! * XEP-0156 host-meta parsing, XML and JSON ([`host_meta`]); fetching is the runtime's job.
//!
//! # Not supported (yet)
//!
//! SCRAM `-PLUS` channel binding (browsers expose no TLS channel binding); STARTTLS (not
//! used over WebSocket). Whether an `ApproveSubscription` answers a request is judged from
//! what this session saw (requests received, `from`/`both` in roster results and pushes),
//! not from server state it was not told about. MUC: no room
//! configuration beyond password, members-only and persistence, no moderation commands, no
//! direct invitations sent, no nickname change command; rooms are not rejoined after a fresh (non-resumed) session. Caps of
//! others are reported, not cached or verified against their disco answer.

//! # Example: log in and send a message
//!
//! The server's frames are written out by hand here; a real owner passes what the WebSocket
//! receives.
//!
//! ```
//! use candado_xmpp::{Command, Config, Event, MessageKind, Password, Seed, Session, Timestamp, Transport};
//!
//! let config = Config::new(
//!     "juliet@example.com".parse()?,
//!     Password::new("r0m30myr0m30"),
//!     Transport::Secure, // wss://
//! );
//! // Fresh bytes from a CSPRNG in real use.
//! let mut session = Session::new(config, Seed::new([42; 32]), Timestamp::from_millis(0));
//! let mut sent = Vec::new();
//! let mut drain = |s: &mut Session, sent: &mut Vec<String>| {
//!     while let Some(frame) = s.poll_transmit() {
//!         sent.push(frame); // ws.send(frame)
//!     }
//! };
//! drain(&mut session, &mut sent);
//! assert!(sent[0].starts_with("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'"));
//!
//! for frame in [
//!     "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='example.com' id='1'/>",
//!     "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms \
//!      xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
//!      </stream:features>",
//!     "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
//!     "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='example.com' id='2'/>",
//!     "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind \
//!      xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
//! ] {
//!     session.handle_frame(frame);
//!     drain(&mut session, &mut sent);
//! }
//! // The last frame sent is the bind request; answer it.
//! let bind = sent.last().unwrap();
//! let id = bind.split("id='").nth(1).unwrap().split('\'').next().unwrap();
//! session.handle_frame(&format!(
//!     "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
//!      xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/web</jid></bind></iq>"
//! ));
//! while let Some(event) = session.poll_event() {
//!     if let Event::Online { jid } = event {
//!         assert_eq!(jid.to_string(), "juliet@example.com/web");
//!     }
//! }
//!
//! let id = session.handle_command(Command::SendMessage {
//!     to: "romeo@example.net".parse()?,
//!     body: "Wherefore art thou?".into(),
//!     kind: MessageKind::Chat,
//!     thread: None,
//! })?;
//! let frame = session.poll_transmit().unwrap();
//! assert!(frame.starts_with("<message xmlns='jabber:client'"));
//! assert!(frame.contains(&format!("id='{}'", id.unwrap())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
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

pub mod credentials;
mod disco;
mod ext;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod host_meta;
mod muc;
pub mod register;
pub mod scram;
mod session;
mod sm;
pub mod specs;
mod stanza;
mod types;

pub use credentials::{CredentialError, Password, Seed};
pub use framing::{FrameError, Limits};
pub use register::{FieldValue, FormField, MediaData, RegistrationForm, SubmitError};
pub use session::{Resumption, Session};
pub use sm::UnackedStanza;
pub use specs::SUPPORTED;
pub use types::{
    Caps, CarbonDirection, ChatState, CloseReason, Command, CommandError, Config, DiscoIdentity,
    DiscoItem, Event, MessageKind, Occupant, OutgoingMessage, ProtocolError, RoomConfig,
    RosterItem, Show, StanzaErrorInfo, Subscription, Timestamp, Transport, MAX_INVITATION_TEXT,
};
