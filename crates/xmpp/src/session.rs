//! The client session state machine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use jid::{BareJid, FullJid, Jid};
use minidom::Element;
use xmpp_parsers::bind::{BindQuery, BindResponse};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::presence;
use xmpp_parsers::roster::Roster;

use crate::credentials::{self, CredentialError, Password, Seed};
use crate::disco::{self, OurInfo};
use crate::ext;
use crate::framing::{self, Framing, NS_CLIENT, NS_FRAMING, NS_STREAMS};
use crate::muc::{self, Room};
use crate::register::{self, FieldValue, RegistrationForm, NS_REGISTER};
use crate::scram::{self, AwaitingServerFinal, AwaitingServerFirst, ScramClient, ScramHash};
use crate::sm::{self, Counters, UnackedStanza, NS_SM};
use crate::stanza::{self, NS_PING, NS_ROSTER};
use crate::types::{
    CloseReason, Command, CommandError, Config, Event, ProtocolError, Timestamp, Transport,
};

const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const NS_XMPP_STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const NS_ROSTERVER: &str = "urn:xmpp:features:rosterver";
const NS_PREAPPROVAL: &str = "urn:xmpp:features:pre-approval";

/// A sans-IO XMPP client session over one WebSocket (RFC 7395, RFC 6120, RFC 6121).
///
/// The session reads no clock, opens no socket and draws no randomness: the caller owns the
/// WebSocket and a timer, and passes bytes, time and a [`Seed`] in.
///
/// # API taxonomy
///
/// * **Construction** (once the WebSocket, subprotocol `xmpp`, is open; each queues the
///   `<open/>` frame):
///   * [`Session::new`]: log in with a [`Config`], a fresh [`Seed`] and `now`;
///   * [`Session::register`]: create the account first (XEP-0077), then log in;
///   * [`Session::resume`]: resume a stream-management session on a new socket (XEP-0198).
/// * **Getters:** [`Session::jid`] (bound full JID while online), [`Session::is_online`],
///   [`Session::is_closed`], [`Session::supports_preapproval`].
/// * **Inputs (`handle_*`):**
///   * [`Session::handle_frame`]: one received WebSocket text frame
///     ([`Session::handle_frame_at`] also passes the time it arrived);
///   * [`Session::handle_command`]: something the owner wants done ([`Command`]); returns
///     the id of the stanza sent where there is one, or a [`CommandError`];
///   * [`Session::handle_timeout`]: the timer from `poll_timeout` fired; `now` is passed in;
///   * [`Session::handle_socket_closed`]: the WebSocket closed under us.
/// * **Outputs (`poll_*`):**
///   * [`Session::poll_transmit`]: the next text frame to send, in order;
///   * [`Session::poll_event`]: the next [`Event`];
///   * [`Session::poll_timeout`]: when to call `handle_timeout` next (`None`: no timer).
/// * **After [`Event::Closed`]:**
///   * [`Session::take_resumption`]: the state to resume with, when the socket was lost
///     and stream management allows resumption;
///   * [`Session::take_unacked`]: otherwise, the stanzas the server never acknowledged.
///
/// # Drain order
///
/// After every `handle_*` call (and after construction):
/// 1. send every frame from `poll_transmit` until it returns `None` (order matters);
/// 2. handle every event from `poll_event` until `None`;
/// 3. re-arm the timer from `poll_timeout`.
///
/// Once [`Event::Closed`] has been polled, send the remaining frames (usually a `<close/>`)
/// and close the socket; the session accepts no further input. Then call
/// `take_resumption` (and [`Session::resume`] on a new socket), or `take_unacked`, so that no
/// message is silently lost.
///
/// # Negotiation
///
/// `<open/>` → features → (XEP-0077 form and submission) → SASL (SCRAM-SHA-256, else
/// SCRAM-SHA-1; PLAIN only over [`Transport::Secure`] or with
/// [`Config::allow_plain_on_insecure`]) → `<open/>` again → features → resource binding (and
/// the legacy session request if the server requires it) → [`Event::Online`] → `<enable/>`
/// when the server offers stream management. A resumption sends `<resume/>` instead of
/// binding.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    /// Kept while the session may need to authenticate again to resume (XEP-0198);
    /// dropped when the session ends for good.
    password: Option<Password>,
    /// Whether SASL was started on this socket (one attempt per socket).
    sasl_started: bool,
    seed: Seed,
    state: State,
    transmit: VecDeque<String>,
    events: VecDeque<Event>,
    now: Timestamp,
    next_id: u64,
    id_prefix: String,
    pending: BTreeMap<String, Pending>,
    negotiation_deadline: Option<Timestamp>,
    close_deadline: Option<Timestamp>,
    next_keepalive: Option<Timestamp>,
    keepalive_deadline: Option<(String, Timestamp)>,
    roster_versioning: bool,
    /// XEP-0198 state, once `<enable/>` was sent (or carried over for a resumption).
    sm: Option<StreamMgmt>,
    /// Set by [`Session::register`]: create the account before logging in.
    registering: bool,
    /// Set by [`Session::resume`]: resume this stream instead of binding.
    resume_from: Option<ResumeFrom>,
    /// The JID bound on this stream or the one being resumed.
    bound_jid: Option<FullJid>,
    /// Whether the last close leaves the stream resumable (socket loss, dead socket).
    resumable_close: bool,
    /// Set by `finish`, so a state handler that fails mid-way cannot resurrect its state.
    ended: bool,
    /// What we answer disco#info with, and our caps hash (XEP-0030, XEP-0115).
    info: OurInfo,
    /// Rooms we are in or entering (XEP-0045).
    rooms: BTreeMap<BareJid, Room>,
    /// Where requests to other entities went (disco, upload, ping), to check who answers.
    sent_to: BTreeMap<String, Jid>,
    /// When each request sent by a command stops waiting for its answer.
    request_deadlines: BTreeMap<String, Timestamp>,
    /// The server advertised subscription pre-approval (RFC 6121 §3.4) after authentication.
    preapproval: bool,
    /// Contacts whose `subscribe` we received and have not answered (RFC 6121 §3.1.3).
    pending_in: BTreeSet<BareJid>,
    /// Contacts subscribed to our presence (`from`/`both`) per the roster results and pushes
    /// seen.
    subscribed_from: BTreeSet<BareJid>,
}

/// XEP-0198 state of one stream-management session.
#[derive(Debug, Default)]
struct StreamMgmt {
    counters: Counters,
    /// `<enabled/>` or `<resumed/>` arrived: we count inbound stanzas.
    enabled: bool,
    /// Resumption id, when the server allows resumption.
    id: Option<String>,
    /// The server's maximum resumption time in seconds, if it said.
    max: Option<u32>,
}

#[derive(Debug)]
struct ResumeFrom {
    previd: String,
}

/// Everything needed to resume a stream-management session on a new socket
/// ([`Session::resume`]), including the stanzas not yet acknowledged.
///
/// Obtained from [`Session::take_resumption`] after the socket was lost. Holds the password
/// (to authenticate again), so its `Debug` prints only the JID and counts.
pub struct Resumption {
    config: SessionConfig,
    password: Password,
    jid: FullJid,
    previd: String,
    max: Option<u32>,
    counters: Counters,
    roster_versioning: bool,
    /// Requests sent on the old socket whose answers may still come after resumption.
    pending: BTreeMap<String, Pending>,
    /// Rooms we are in: a resumed stream keeps them.
    rooms: BTreeMap<BareJid, Room>,
    /// Destinations and deadlines of those requests.
    sent_to: BTreeMap<String, Jid>,
    request_deadlines: BTreeMap<String, Timestamp>,
    /// Subscription state the resumed stream keeps.
    pending_in: BTreeSet<BareJid>,
    subscribed_from: BTreeSet<BareJid>,
}

impl core::fmt::Debug for Resumption {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Resumption")
            .field("jid", &self.jid)
            .field("max", &self.max)
            .field("unacked", &self.counters.queue.len())
            .finish_non_exhaustive()
    }
}

impl Resumption {
    /// The full JID of the stream to resume.
    pub fn jid(&self) -> &FullJid {
        &self.jid
    }

    /// How long the server keeps the stream for resumption, in seconds, if it said.
    pub fn max_seconds(&self) -> Option<u32> {
        self.max
    }

    /// How many stanzas the server has not acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.counters.queue.len()
    }

    /// Gives up on resuming: the stanzas the server never acknowledged.
    pub fn into_unacked(mut self) -> Vec<UnackedStanza> {
        self.counters.take_unacked()
    }
}

/// The configuration minus the password.
#[derive(Debug)]
struct SessionConfig {
    jid: BareJid,
    resource: Option<String>,
    transport: Transport,
    allow_plain_on_insecure: bool,
    limits: framing::Limits,
    negotiation_timeout: core::time::Duration,
    keepalive_interval: Option<core::time::Duration>,
    keepalive_timeout: core::time::Duration,
    close_timeout: core::time::Duration,
    request_timeout: core::time::Duration,
    client_name: String,
    caps_node: String,
}

/// What an outstanding iq we sent was for.
#[derive(Debug)]
enum Pending {
    RosterGet,
    /// A password change; the new password replaces ours once the server agrees.
    PasswordChange(Password),
    /// A request whose outcome is reported as `RequestSucceeded`/`RequestFailed`.
    Generic,
    Keepalive,
    DiscoInfo,
    DiscoItems,
    Blocklist,
    UploadSlot,
    /// An XEP-0199 ping sent at this time.
    Ping(Timestamp),
    /// The default configuration of a room we created (XEP-0045 §10.1.2): the room is
    /// locked until the server accepts it, so `RoomJoined` waits for the answer.
    InstantRoom {
        room: BareJid,
        nick: String,
        /// The form was filled in with settings (a refusal then falls back to an instant room).
        configured: bool,
    },
    /// The configuration form of a room we created, to fill in with these settings.
    RoomForm {
        room: BareJid,
        nick: String,
        config: crate::types::RoomConfig,
    },
}

/// One variant per protocol state (RFC 6120 §4-§7); each carries only what is valid there.
#[derive(Debug)]
enum State {
    /// Sent `<open/>`, waiting for the server's.
    AwaitingOpen(AwaitingOpen),
    /// Got `<open/>`, waiting for `<stream:features/>`.
    AwaitingFeatures(AwaitingFeatures),
    /// In-band registration (XEP-0077) before authentication.
    Registration(Registration),
    /// SASL exchange in progress.
    Sasl(Sasl),
    /// Sent the bind request.
    Binding(Binding),
    /// Sent the legacy `<session/>` request (RFC 3921 §3), which some servers still require.
    EstablishingSession(EstablishingSession),
    /// Sent `<resume/>` (XEP-0198 §5) instead of binding.
    Resuming(Resuming),
    /// Resource bound; stanzas flow.
    Online(Online),
    /// We sent `<close/>`, waiting for the server's.
    Closing,
    /// Over.
    Closed,
}

#[derive(Debug)]
struct AwaitingOpen {
    authenticated: bool,
}

#[derive(Debug)]
struct AwaitingFeatures {
    authenticated: bool,
}

/// XEP-0077 steps; each keeps the mechanisms offered, to log in once registered.
#[derive(Debug)]
enum Registration {
    /// Sent the form request.
    AwaitingForm {
        iq_id: String,
        mechanisms: Vec<String>,
    },
    /// Gave the owner the form; waiting for `Command::SubmitRegistration`.
    AwaitingSubmission {
        form: RegistrationForm,
        mechanisms: Vec<String>,
    },
    /// Sent the filled-in form.
    Submitted {
        iq_id: String,
        form: RegistrationForm,
        mechanisms: Vec<String>,
    },
}

#[derive(Debug)]
enum Sasl {
    ScramServerFirst(AwaitingServerFirst, ScramHash),
    ScramServerFinal(AwaitingServerFinal, ScramHash),
    /// The server-final message came in a challenge and verified; waiting for `<success/>`.
    ScramVerified(ScramHash),
    Plain,
}

#[derive(Debug)]
struct Binding {
    iq_id: String,
    session_required: bool,
    sm_offered: bool,
}

#[derive(Debug)]
struct Resuming {
    jid: FullJid,
    /// What the features offered, for a fresh bind if resumption fails.
    session_required: bool,
}

#[derive(Debug)]
struct EstablishingSession {
    iq_id: String,
    jid: FullJid,
    sm_offered: bool,
}

#[derive(Debug)]
struct Online {
    jid: FullJid,
}

/// Stream features we act on (RFC 6120 §4.3.2).
#[derive(Debug, Default)]
struct Features {
    mechanisms: Vec<String>,
    bind: bool,
    session_required: bool,
    roster_versioning: bool,
    sm: bool,
    preapproval: bool,
}

impl Features {
    fn parse(element: &Element) -> Self {
        let mut f = Self::default();
        for child in element.children() {
            if child.is("mechanisms", NS_SASL) {
                f.mechanisms = child
                    .children()
                    .filter(|m| m.is("mechanism", NS_SASL))
                    .map(|m| m.text().trim().to_owned())
                    .collect();
            } else if child.is("bind", NS_BIND) {
                f.bind = true;
            } else if child.is("session", NS_SESSION) {
                f.session_required = !child.has_child("optional", NS_SESSION);
            } else if child.is("ver", NS_ROSTERVER) {
                f.roster_versioning = true;
            } else if child.is("sm", NS_SM) {
                f.sm = true;
            } else if child.is("sub", NS_PREAPPROVAL) {
                f.preapproval = true;
            }
        }
        f
    }
}

impl Session {
    /// Starts a session on a freshly opened WebSocket and queues the `<open/>` frame.
    pub fn new(config: Config, seed: Seed, now: Timestamp) -> Self {
        let Config {
            jid,
            password,
            resource,
            transport,
            allow_plain_on_insecure,
            limits,
            negotiation_timeout,
            keepalive_interval,
            keepalive_timeout,
            close_timeout,
            request_timeout,
            client_name,
            caps_node,
        } = config;
        // SASLprep (RFC 4013) before anything is sent: a password it refuses could never
        // authenticate, and registering it would create an account nobody can log in to.
        let refused = password
            .prepared()
            .err()
            .or_else(|| username_of(&jid).err());
        let id_prefix = seed.id_prefix();
        let info = OurInfo::new(&client_name, &caps_node);
        let mut session = Self {
            config: SessionConfig {
                jid,
                resource,
                transport,
                allow_plain_on_insecure,
                limits,
                negotiation_timeout,
                keepalive_interval,
                keepalive_timeout,
                close_timeout,
                request_timeout,
                client_name,
                caps_node,
            },
            password: Some(password),
            sasl_started: false,
            seed,
            state: State::AwaitingOpen(AwaitingOpen {
                authenticated: false,
            }),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            now,
            next_id: 0,
            id_prefix,
            pending: BTreeMap::new(),
            negotiation_deadline: Some(now.after(negotiation_timeout)),
            close_deadline: None,
            next_keepalive: None,
            keepalive_deadline: None,
            roster_versioning: false,
            sm: None,
            resume_from: None,
            registering: false,
            bound_jid: None,
            resumable_close: false,
            ended: false,
            info,
            rooms: BTreeMap::new(),
            sent_to: BTreeMap::new(),
            request_deadlines: BTreeMap::new(),
            preapproval: false,
            pending_in: BTreeSet::new(),
            subscribed_from: BTreeSet::new(),
        };
        match refused {
            Some(e) => session.finish(CloseReason::InvalidCredentials(e)),
            None => session.send_open(),
        }
        session
    }

    /// Creates the account `config.jid` with `config.password` by in-band registration
    /// (XEP-0077), then logs in with it like [`Session::new`].
    ///
    /// The server's form arrives as [`Event::RegistrationForm`]; answer with
    /// [`Command::SubmitRegistration`] (the session fills in username and password itself).
    /// [`Event::Registered`] follows on success, [`Event::RegistrationFailed`] on refusal
    /// (e.g. `conflict`: the name is taken; `not-acceptable`: a field is missing or wrong),
    /// after which the form can be submitted again or the session closed.
    pub fn register(config: Config, seed: Seed, now: Timestamp) -> Self {
        let mut session = Self::new(config, seed, now);
        session.registering = true;
        session
    }

    /// Resumes a stream-management session on a freshly opened WebSocket (XEP-0198 §5):
    /// authenticates again with the same configuration, then sends `<resume/>` instead of
    /// binding. Ends in [`Event::Resumed`] (unacknowledged stanzas are sent again), or in
    /// [`Event::ResumeFailed`] handing them back followed by a fresh [`Event::Online`].
    ///
    /// `seed` must be fresh: it provides the new SCRAM nonce.
    pub fn resume(resumption: Resumption, seed: Seed, now: Timestamp) -> Self {
        let Resumption {
            config,
            password,
            jid,
            previd,
            max,
            counters,
            roster_versioning,
            pending,
            rooms,
            sent_to,
            request_deadlines,
            pending_in,
            subscribed_from,
        } = resumption;
        let id_prefix = seed.id_prefix();
        let info = OurInfo::new(&config.client_name, &config.caps_node);
        let negotiation_deadline = Some(now.after(config.negotiation_timeout));
        let mut session = Self {
            config,
            password: Some(password),
            sasl_started: false,
            seed,
            state: State::AwaitingOpen(AwaitingOpen {
                authenticated: false,
            }),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            now,
            next_id: 0,
            id_prefix,
            pending,
            negotiation_deadline,
            close_deadline: None,
            next_keepalive: None,
            keepalive_deadline: None,
            roster_versioning,
            sm: Some(StreamMgmt {
                counters,
                enabled: false,
                id: Some(previd.clone()),
                max,
            }),
            resume_from: Some(ResumeFrom { previd }),
            registering: false,
            bound_jid: Some(jid),
            resumable_close: false,
            ended: false,
            info,
            rooms,
            sent_to,
            request_deadlines,
            preapproval: false,
            pending_in,
            subscribed_from,
        };
        session.send_open();
        session
    }

    /// After the socket was lost ([`CloseReason::SocketClosed`] or a keepalive
    /// [`CloseReason::Timeout`]) with resumable stream management enabled: what
    /// [`Session::resume`] needs. `None` otherwise, or if already taken.
    pub fn take_resumption(&mut self) -> Option<Resumption> {
        if !self.is_closed() || !self.resumable_close {
            return None;
        }
        let sm = self.sm.as_ref()?;
        let previd = sm.id.clone()?;
        let jid = self.bound_jid.clone()?;
        let password = self.password.take()?;
        let sm = self.sm.take()?;
        Some(Resumption {
            config: self.config_copy(),
            password,
            jid,
            previd,
            max: sm.max,
            counters: sm.counters,
            roster_versioning: self.roster_versioning,
            pending: core::mem::take(&mut self.pending),
            rooms: core::mem::take(&mut self.rooms),
            sent_to: core::mem::take(&mut self.sent_to),
            request_deadlines: core::mem::take(&mut self.request_deadlines),
            pending_in: core::mem::take(&mut self.pending_in),
            subscribed_from: core::mem::take(&mut self.subscribed_from),
        })
    }

    /// After [`Event::Closed`]: the stanzas the server never acknowledged (XEP-0198), for the
    /// owner to send again on a new session. Empty when stream management was not in use
    /// (then delivery of the last stanzas is unknown) or the resumption was taken.
    pub fn take_unacked(&mut self) -> Vec<UnackedStanza> {
        if !self.is_closed() {
            return Vec::new();
        }
        self.password = None;
        self.sm
            .take()
            .map(|mut sm| sm.counters.take_unacked())
            .unwrap_or_default()
    }

    fn config_copy(&self) -> SessionConfig {
        SessionConfig {
            jid: self.config.jid.clone(),
            resource: self.config.resource.clone(),
            transport: self.config.transport,
            allow_plain_on_insecure: self.config.allow_plain_on_insecure,
            limits: self.config.limits,
            negotiation_timeout: self.config.negotiation_timeout,
            keepalive_interval: self.config.keepalive_interval,
            keepalive_timeout: self.config.keepalive_timeout,
            close_timeout: self.config.close_timeout,
            request_timeout: self.config.request_timeout,
            client_name: self.config.client_name.clone(),
            caps_node: self.config.caps_node.clone(),
        }
    }

    /// Our full JID, once bound.
    pub fn jid(&self) -> Option<&FullJid> {
        match &self.state {
            State::Online(o) => Some(&o.jid),
            _ => None,
        }
    }

    /// Whether the server advertised subscription pre-approval (RFC 6121 §3.4, stream
    /// feature `<sub xmlns='urn:xmpp:features:pre-approval'/>`) after authentication on
    /// this stream. Without it, [`Command::ApproveSubscription`] only answers requests.
    pub fn supports_preapproval(&self) -> bool {
        self.preapproval
    }

    /// Whether stanza commands are accepted.
    pub fn is_online(&self) -> bool {
        matches!(self.state, State::Online(_))
    }

    /// Whether the session has ended ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The next frame to send on the WebSocket, as a text frame.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the session next needs [`Session::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.is_closed() {
            return None;
        }
        [
            self.negotiation_deadline,
            self.close_deadline,
            self.next_keepalive,
            self.keepalive_deadline.as_ref().map(|(_, t)| *t),
            self.request_deadlines
                .iter()
                .filter(|(id, _)| self.pending.contains_key(*id))
                .map(|(_, t)| *t)
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The timer fired. Safe to call early or repeatedly.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        if self.is_closed() {
            return;
        }
        let now = self.now;
        if self.close_deadline.is_some_and(|t| t <= now) {
            self.finish(CloseReason::ClosedByUs);
            return;
        }
        if self.negotiation_deadline.is_some_and(|t| t <= now) {
            self.fail(CloseReason::Timeout, Some("connection-timeout"));
            return;
        }
        if self
            .keepalive_deadline
            .as_ref()
            .is_some_and(|(_, t)| *t <= now)
        {
            if self.sm_resumable() {
                // The socket is dead. Closing the stream cleanly would end the server's
                // stream-management session; leave it hibernating for `resume`.
                self.resumable_close = true;
                self.finish(CloseReason::Timeout);
                self.transmit.clear();
            } else {
                self.fail(CloseReason::Timeout, Some("connection-timeout"));
            }
            return;
        }
        self.expire_requests(now);
        if self.next_keepalive.is_some_and(|t| t <= now) {
            self.next_keepalive = self.config.keepalive_interval.map(|i| now.after(i));
            if self.keepalive_deadline.is_none() {
                let deadline = now.after(self.config.keepalive_timeout);
                if self.sm.as_ref().is_some_and(|sm| sm.enabled) {
                    // With stream management an ack request is the keepalive: any `<a/>`
                    // proves the stream alive, and no ping stanza lands in the queue.
                    self.send(&sm::request());
                    self.keepalive_deadline = Some((String::new(), deadline));
                } else {
                    let id = self.new_id();
                    let to = self.server_jid();
                    self.send(&stanza::ping(id.clone(), to));
                    self.pending.insert(id.clone(), Pending::Keepalive);
                    self.keepalive_deadline = Some((id, deadline));
                }
            }
        }
    }

    /// The network may have changed under the socket (the device went offline and online again,
    /// or the page was asleep): check the connection now instead of after
    /// [`Config::keepalive_interval`] of silence. The keepalive goes out at once, unless one is
    /// already waiting for its answer; unanswered within [`Config::keepalive_timeout`], the
    /// connection counts as lost, as for any keepalive. Does nothing before the session is online
    /// or without keepalives.
    pub fn check_alive(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        if self.is_closed() || self.next_keepalive.is_none() {
            return;
        }
        self.next_keepalive = Some(self.now);
        self.handle_timeout(self.now);
    }

    /// The WebSocket closed (by the peer, the network or the browser).
    pub fn handle_socket_closed(&mut self) {
        match self.state {
            State::Closed => {}
            State::Closing => self.finish(CloseReason::ClosedByUs),
            _ => {
                self.resumable_close = true;
                self.finish(CloseReason::SocketClosed);
            }
        }
        // Nothing can be sent any more.
        self.transmit.clear();
    }

    /// One WebSocket text frame from the server, received at `now`: the same as
    /// [`Session::handle_frame`], with the idle time for the keepalive counted from `now`.
    pub fn handle_frame_at(&mut self, frame: &str, now: Timestamp) {
        self.now = self.now.max(now);
        self.handle_frame(frame);
    }

    /// One WebSocket text frame from the server.
    ///
    /// Any frame proves the connection alive: the next keepalive check is due
    /// [`Config::keepalive_interval`] after it (counted from the last time the session was
    /// given, see [`Session::handle_frame_at`]).
    pub fn handle_frame(&mut self, frame: &str) {
        if self.is_closed() {
            return;
        }
        if self.next_keepalive.is_some() && self.keepalive_deadline.is_none() {
            self.next_keepalive = self.config.keepalive_interval.map(|i| self.now.after(i));
        }
        let element = match framing::parse_frame(frame, &self.config.limits) {
            Ok(e) => e,
            Err(e) => {
                let condition = match e {
                    framing::FrameError::NotWellFormed { .. } | framing::FrameError::Empty => {
                        "not-well-formed"
                    }
                    _ => "policy-violation",
                };
                if matches!(self.state, State::Closing) {
                    self.finish(CloseReason::BadFrame(e));
                } else {
                    self.fail(CloseReason::BadFrame(e), Some(condition));
                }
                return;
            }
        };
        if let Some(f) = framing::framing(&element) {
            self.handle_framing(f);
            return;
        }
        if element.is("error", NS_STREAMS) {
            let (condition, text) = defined_condition(&element, NS_XMPP_STREAMS);
            let reason = match element.get_child("see-other-host", NS_XMPP_STREAMS) {
                // RFC 6120 §4.9.3.19; over WebSocket servers should use see-other-uri.
                Some(host) => CloseReason::SeeOtherHost {
                    host: host.text().trim().to_owned(),
                },
                None => CloseReason::StreamError { condition, text },
            };
            if matches!(self.state, State::Closing) {
                self.finish(reason);
            } else {
                self.fail(reason, None);
            }
            return;
        }
        let state = core::mem::replace(&mut self.state, State::Closed);
        self.state = match state {
            State::AwaitingOpen(_) => {
                self.unexpected(&element);
                State::Closed
            }
            State::AwaitingFeatures(s) => self.on_features(s, &element),
            State::Registration(s) => self.on_registration(s, element),
            State::Sasl(s) => self.on_sasl(s, &element),
            State::Binding(s) => self.on_bind_result(s, element),
            State::Resuming(s) => self.on_resume_result(s, &element),
            State::EstablishingSession(s) => self.on_session_result(s, element),
            State::Online(s) => {
                self.on_stanza(element);
                if self.ended {
                    State::Closed
                } else {
                    State::Online(s)
                }
            }
            State::Closing => {
                self.while_closing(element);
                State::Closing
            }
            State::Closed => State::Closed,
        };
    }

    /// Carries out a command. Returns the id of the stanza sent, for commands that send one
    /// the server answers or bounces (messages, roster changes, pings).
    pub fn handle_command(&mut self, command: Command) -> Result<Option<String>, CommandError> {
        match self.state {
            State::Closed => return Err(CommandError::Closed),
            State::Closing => return Err(CommandError::Closed),
            _ => {}
        }
        if matches!(command, Command::Close) {
            if self
                .sm
                .as_ref()
                .is_some_and(|sm| sm.enabled && !sm.counters.queue.is_empty())
            {
                // Learn what arrived before closing; the rest is in `take_unacked`.
                self.send(&sm::request());
            }
            self.send(&framing::close());
            self.state = State::Closing;
            self.close_deadline = Some(self.now.after(self.config.close_timeout));
            self.negotiation_deadline = None;
            self.next_keepalive = None;
            self.keepalive_deadline = None;
            return Ok(None);
        }
        if let Command::SubmitRegistration { values } = &command {
            return self.submit_registration(values);
        }
        if !self.is_online() {
            return Err(CommandError::NotOnline);
        }
        let id = match command {
            Command::RequestRoster { ver } => {
                let id = self.new_id();
                let ver = if self.roster_versioning { ver } else { None };
                self.send(&stanza::roster_get(id.clone(), ver));
                self.await_answer(&id, Pending::RosterGet);
                Some(id)
            }
            Command::SetRosterItem { jid, name, groups } => {
                let id = self.new_id();
                self.send(&stanza::roster_set(id.clone(), jid, name, groups, false));
                self.await_answer(&id, Pending::Generic);
                Some(id)
            }
            Command::RemoveRosterItem { jid } => {
                let id = self.new_id();
                self.send(&stanza::roster_set(id.clone(), jid, None, Vec::new(), true));
                self.await_answer(&id, Pending::Generic);
                Some(id)
            }
            Command::SendPresence {
                show,
                status,
                priority,
            } => {
                let mut p = stanza::presence(show, status, priority);
                p.append_child(self.info.caps_element());
                self.send(&p);
                None
            }
            Command::SendUnavailable { status } => {
                self.send(&stanza::unavailable(status));
                None
            }
            Command::Subscribe { to } => {
                self.send(&stanza::subscription(presence::Type::Subscribe, to));
                None
            }
            Command::ApproveSubscription { to } => {
                let answers_request =
                    self.pending_in.contains(&to) || self.subscribed_from.contains(&to);
                if !answers_request && !self.preapproval {
                    return Err(CommandError::PreApprovalUnsupported);
                }
                self.pending_in.remove(&to);
                self.send(&stanza::subscription(presence::Type::Subscribed, to));
                None
            }
            Command::DenySubscription { to } => {
                self.pending_in.remove(&to);
                self.send(&stanza::subscription(presence::Type::Unsubscribed, to));
                None
            }
            Command::Unsubscribe { to } => {
                self.send(&stanza::subscription(presence::Type::Unsubscribe, to));
                None
            }
            Command::SendMessage {
                to,
                body,
                kind,
                thread,
            } => {
                let id = self.new_id();
                let element =
                    stanza::message(to.clone(), id.clone(), kind, body.clone(), thread.clone());
                let unacked = UnackedStanza::Message {
                    id: id.clone(),
                    to,
                    body,
                    kind,
                    thread,
                };
                self.send_tracked(&element, Some(unacked));
                if self.sm.is_some() {
                    // Ask for an ack right away: the owner learns of delivery to the server
                    // from `Event::Acked`.
                    self.send(&sm::request());
                }
                Some(id)
            }
            Command::Ping { to } => {
                let id = self.new_id();
                let to = to.unwrap_or_else(|| self.server_jid());
                self.send(&stanza::ping(id.clone(), to.clone()));
                self.sent_to.insert(id.clone(), to);
                self.await_answer(&id, Pending::Ping(self.now));
                Some(id)
            }
            Command::ChangePassword { new } => {
                if !self.cleartext_password_allowed() {
                    return Err(CommandError::InsecureTransport);
                }
                if !new.expose().chars().all(framing::is_xml_char) {
                    return Err(CommandError::UnencodablePassword);
                }
                // The server gets the prepared form, as SCRAM will prove it later.
                let prepared = new.prepared().map_err(CommandError::Credentials)?;
                let id = self.new_id();
                let username = self
                    .config
                    .jid
                    .node()
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default();
                let iq: Element = Iq::Set {
                    from: None,
                    to: Some(self.server_jid()),
                    id: id.clone(),
                    payload: register::change_password(&username, &prepared),
                }
                .into();
                self.send(&iq);
                self.await_answer(&id, Pending::PasswordChange(new));
                Some(id)
            }
            Command::RemoveAccount => {
                let id = self.new_id();
                let iq: Element = Iq::Set {
                    from: None,
                    to: Some(self.server_jid()),
                    id: id.clone(),
                    payload: register::remove(),
                }
                .into();
                self.send(&iq);
                self.await_answer(&id, Pending::Generic);
                Some(id)
            }
            Command::Send { message } => {
                if message.body.is_none() && message.chat_state.is_none() {
                    return Err(CommandError::Invalid(
                        "a message needs a body or a chat state",
                    ));
                }
                let id = self.new_id();
                let element = ext::outgoing(id.clone(), &message);
                let unacked = UnackedStanza::Outgoing {
                    id: id.clone(),
                    message,
                };
                self.send_tracked(&element, Some(unacked));
                if self.sm.is_some() {
                    self.send(&sm::request());
                }
                Some(id)
            }
            Command::SendReceipt { to, id: theirs } => {
                let id = self.new_id();
                self.send(&ext::receipt(id, to, theirs));
                None
            }
            Command::EnableCarbons => Some(self.carbons(true)),
            Command::DisableCarbons => Some(self.carbons(false)),
            Command::QueryDiscoInfo { to, node } => {
                let id = self.new_id();
                self.send(&ext::iq(
                    "get",
                    id.clone(),
                    Some(to.clone()),
                    disco::query(true, node),
                ));
                self.await_answer(&id, Pending::DiscoInfo);
                self.sent_to.insert(id.clone(), to);
                Some(id)
            }
            Command::QueryDiscoItems { to, node } => {
                let id = self.new_id();
                self.send(&ext::iq(
                    "get",
                    id.clone(),
                    Some(to.clone()),
                    disco::query(false, node),
                ));
                self.await_answer(&id, Pending::DiscoItems);
                self.sent_to.insert(id.clone(), to);
                Some(id)
            }
            Command::RequestBlocklist => {
                let id = self.new_id();
                self.send(&ext::blocklist_get(id.clone()));
                self.await_answer(&id, Pending::Blocklist);
                Some(id)
            }
            Command::Block { jids } => {
                if jids.is_empty() {
                    return Err(CommandError::Invalid("nothing to block"));
                }
                let id = self.new_id();
                self.send(&ext::block(id.clone(), &jids, true));
                self.await_answer(&id, Pending::Generic);
                Some(id)
            }
            Command::Unblock { jids } => {
                let id = self.new_id();
                self.send(&ext::block(id.clone(), &jids, false));
                self.await_answer(&id, Pending::Generic);
                Some(id)
            }
            Command::RequestUploadSlot {
                service,
                filename,
                size,
                content_type,
            } => {
                let id = self.new_id();
                self.sent_to.insert(id.clone(), service.clone());
                self.send(&ext::upload_request(
                    id.clone(),
                    service,
                    &filename,
                    size,
                    content_type.as_deref(),
                ));
                self.await_answer(&id, Pending::UploadSlot);
                Some(id)
            }
            Command::JoinRoom {
                room,
                nick,
                password,
                history,
                config,
            } => {
                let presence = muc::join(&room, &nick, password.as_ref(), history)
                    .ok_or(CommandError::Invalid("not a valid nickname"))?;
                let mut presence = presence;
                presence.append_child(self.info.caps_element());
                self.send(&presence);
                self.rooms.insert(
                    room,
                    Room {
                        nick,
                        joined: false,
                        config: config.filter(|c| !c.is_default()),
                    },
                );
                None
            }
            Command::InviteToRoom { room, to, reason } => {
                if !self.rooms.get(&room).is_some_and(|r| r.joined) {
                    return Err(CommandError::Invalid("not in that room"));
                }
                let id = self.new_id();
                self.send(&muc::invite(&room, id.clone(), &to, reason));
                Some(id)
            }
            Command::DeclineInvitation { room, to, reason } => {
                let id = self.new_id();
                self.send(&muc::decline(&room, id.clone(), &to, reason));
                Some(id)
            }
            Command::LeaveRoom { room, status } => {
                let nick = self
                    .rooms
                    .get(&room)
                    .map(|r| r.nick.clone())
                    .ok_or(CommandError::Invalid("not in that room"))?;
                let presence = muc::leave(&room, &nick, status)
                    .ok_or(CommandError::Invalid("not a valid nickname"))?;
                self.send(&presence);
                None
            }
            Command::SetRoomSubject { room, subject } => {
                if !self.rooms.get(&room).is_some_and(|r| r.joined) {
                    return Err(CommandError::Invalid("not in that room"));
                }
                let id = self.new_id();
                self.send(&muc::subject(&room, id.clone(), subject));
                Some(id)
            }
            Command::Close | Command::SubmitRegistration { .. } => None,
        };
        Ok(id)
    }

    /// XEP-0280 `<enable/>`/`<disable/>`; answered by `RequestSucceeded`/`RequestFailed`.
    fn carbons(&mut self, enable: bool) -> String {
        let id = self.new_id();
        self.send(&ext::carbons(id.clone(), enable));
        self.await_answer(&id, Pending::Generic);
        id
    }

    /// Records a request sent by a command, answered within `request_timeout` or failed.
    fn await_answer(&mut self, id: &str, pending: Pending) {
        self.pending.insert(id.to_owned(), pending);
        self.request_deadlines
            .insert(id.to_owned(), self.now.after(self.config.request_timeout));
    }

    /// Fails the requests whose answer is overdue (`RequestFailed`, condition `timeout`).
    fn expire_requests(&mut self, now: Timestamp) {
        let overdue: Vec<String> = self
            .request_deadlines
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in overdue {
            self.request_deadlines.remove(&id);
            self.sent_to.remove(&id);
            match self.pending.remove(&id) {
                // Answered already, or not waited for this way.
                None => {}
                Some(
                    p @ (Pending::Keepalive
                    | Pending::InstantRoom { .. }
                    | Pending::RoomForm { .. }),
                ) => {
                    self.pending.insert(id, p);
                }
                Some(_) => self.events.push_back(Event::RequestFailed {
                    id,
                    error: crate::types::StanzaErrorInfo {
                        kind: "wait".into(),
                        condition: "timeout".into(),
                        text: None,
                    },
                }),
            }
        }
    }

    // ---- framing -------------------------------------------------------------------------

    fn send_open(&mut self) {
        let open = framing::open(self.config.jid.domain().as_str());
        self.send(&open);
    }

    fn handle_framing(&mut self, f: Framing) {
        match f {
            Framing::Close { see_other_uri } => {
                if matches!(self.state, State::Closing) {
                    self.finish(CloseReason::ClosedByUs);
                    return;
                }
                // RFC 7395 §3.6: answer a close with a close.
                self.send(&framing::close());
                let reason = match see_other_uri {
                    None => CloseReason::ClosedByServer,
                    Some(uri) => {
                        let secure_ok = uri.starts_with("wss://");
                        let insecure_ok = self.config.transport == Transport::Insecure
                            && uri.starts_with("ws://");
                        if secure_ok || insecure_ok {
                            CloseReason::Redirect { uri }
                        } else {
                            CloseReason::Protocol(ProtocolError::BadRedirect(uri))
                        }
                    }
                };
                self.finish(reason);
            }
            Framing::Open { from, version, .. } => {
                let state = core::mem::replace(&mut self.state, State::Closed);
                self.state = match state {
                    State::AwaitingOpen(AwaitingOpen { authenticated }) => {
                        if version.as_deref() != Some("1.0") {
                            self.fail(
                                CloseReason::Protocol(ProtocolError::UnsupportedVersion(version)),
                                Some("unsupported-version"),
                            );
                            return;
                        }
                        let ours = self.config.jid.domain().as_str();
                        if let Some(from) = from.filter(|f| !f.eq_ignore_ascii_case(ours)) {
                            self.fail(
                                CloseReason::Protocol(ProtocolError::WrongDomain(from)),
                                Some("host-unknown"),
                            );
                            return;
                        }
                        State::AwaitingFeatures(AwaitingFeatures { authenticated })
                    }
                    State::Closing => State::Closing,
                    other => {
                        self.state = other;
                        self.fail(
                            CloseReason::Protocol(ProtocolError::Unexpected {
                                name: "open".into(),
                                namespace: NS_FRAMING.into(),
                            }),
                            None,
                        );
                        return;
                    }
                };
            }
        }
    }

    // ---- negotiation ---------------------------------------------------------------------

    fn on_features(&mut self, s: AwaitingFeatures, element: &Element) -> State {
        if !element.is("features", NS_STREAMS) {
            self.unexpected(element);
            return State::Closed;
        }
        let features = Features::parse(element);
        if s.authenticated {
            if !features.bind {
                self.fail(CloseReason::Protocol(ProtocolError::NoBind), None);
                return State::Closed;
            }
            self.roster_versioning = features.roster_versioning;
            self.preapproval = features.preapproval;
            if let Some(from) = self.resume_from.take() {
                if features.sm {
                    let h = self.sm.as_ref().map_or(0, |sm| sm.counters.inbound);
                    self.send(&sm::resume(h, &from.previd));
                    let Some(jid) = self.bound_jid.clone() else {
                        self.fail(CloseReason::Protocol(ProtocolError::BadBind), None);
                        return State::Closed;
                    };
                    return State::Resuming(Resuming {
                        jid,
                        session_required: features.session_required,
                    });
                }
                self.resume_failed(None);
            }
            self.bind(features.session_required, features.sm)
        } else if self.registering {
            self.registering = false;
            let iq_id = self.new_id();
            let iq: Element = Iq::Get {
                from: None,
                to: Some(self.server_jid()),
                id: iq_id.clone(),
                payload: Element::builder("query", NS_REGISTER).build(),
            }
            .into();
            self.send(&iq);
            State::Registration(Registration::AwaitingForm {
                iq_id,
                mechanisms: features.mechanisms,
            })
        } else {
            self.start_sasl(&features.mechanisms)
        }
    }

    fn bind(&mut self, session_required: bool, sm_offered: bool) -> State {
        let iq_id = self.new_id();
        let bind: Element =
            Iq::from_set(iq_id.clone(), BindQuery::new(self.config.resource.clone())).into();
        self.send(&bind);
        State::Binding(Binding {
            iq_id,
            session_required,
            sm_offered,
        })
    }

    /// Resumption refused or impossible: hand the unacknowledged stanzas back and start a
    /// fresh stream-management session later.
    fn resume_failed(&mut self, h: Option<u32>) {
        let mut sm = self.sm.take().unwrap_or_default();
        if let Some(h) = h {
            // The server may say how much it got before the old stream died (XEP-0198 §5).
            if let Ok(ids) = sm.counters.on_ack(h) {
                if !ids.is_empty() {
                    self.events.push_back(Event::Acked { message_ids: ids });
                }
            }
        }
        self.events.push_back(Event::ResumeFailed {
            unacked: sm.counters.take_unacked(),
        });
        // Requests of the old stream will never be answered.
        self.pending.clear();
        self.sent_to.clear();
        self.request_deadlines.clear();
        self.bound_jid = None;
        // The server took us out of every room with the old stream: say so, so the owner
        // can join again once online.
        for room in core::mem::take(&mut self.rooms).into_keys() {
            self.events.push_back(Event::RoomLeft {
                room,
                removed: Some("connection-lost".into()),
            });
        }
    }

    fn on_resume_result(&mut self, s: Resuming, element: &Element) -> State {
        if element.is("resumed", NS_SM) {
            let Some(h) = sm::h(element) else {
                self.fail(CloseReason::Protocol(ProtocolError::BadAck), None);
                return State::Closed;
            };
            let Some(mut sm) = self.sm.take() else {
                self.unexpected(element);
                return State::Closed;
            };
            match sm.counters.on_ack(h) {
                Ok(ids) if !ids.is_empty() => {
                    self.events.push_back(Event::Acked { message_ids: ids })
                }
                Ok(_) => {}
                Err(_) => {
                    // Keep the queue for `take_unacked`.
                    self.sm = Some(sm);
                    self.fail(CloseReason::Protocol(ProtocolError::BadAck), None);
                    return State::Closed;
                }
            }
            // Send again, in order, everything the server did not get; it is counted anew.
            let resend: Vec<_> = sm.counters.queue.drain(..).collect();
            sm.counters.sent = sm.counters.acked;
            sm.enabled = true;
            let resent = resend.len();
            for q in resend {
                self.transmit.push_back(q.frame.clone());
                sm.counters.on_sent(q.frame, q.message);
            }
            if resent > 0 {
                self.transmit.push_back(framing::serialise(&sm::request()));
            }
            self.sm = Some(sm);
            self.negotiation_deadline = None;
            self.next_keepalive = self.config.keepalive_interval.map(|i| self.now.after(i));
            self.bound_jid = Some(s.jid.clone());
            self.events.push_back(Event::Resumed {
                jid: s.jid.clone(),
                resent,
            });
            State::Online(Online { jid: s.jid })
        } else if element.is("failed", NS_SM) {
            self.resume_failed(sm::h(element));
            self.bind(s.session_required, true)
        } else {
            self.unexpected(element);
            State::Closed
        }
    }

    fn on_registration(&mut self, s: Registration, element: Element) -> State {
        let (iq_id, form, mechanisms) = match s {
            Registration::AwaitingForm { iq_id, mechanisms } => (iq_id, None, mechanisms),
            Registration::Submitted {
                iq_id,
                form,
                mechanisms,
            } => (iq_id, Some(form), mechanisms),
            Registration::AwaitingSubmission { .. } => {
                self.unexpected(&element);
                return State::Closed;
            }
        };
        let Some(iq) = self.our_iq_answer(&element, &iq_id) else {
            self.unexpected(&element);
            return State::Closed;
        };
        match (iq, form) {
            (Iq::Result { payload, .. }, None) => {
                let Some(form) = payload.as_ref().and_then(register::parse_form) else {
                    self.fail(CloseReason::Protocol(ProtocolError::BadForm), None);
                    return State::Closed;
                };
                // The owner (a person solving a CAPTCHA) may take a while.
                self.negotiation_deadline = None;
                self.events
                    .push_back(Event::RegistrationForm { form: form.clone() });
                State::Registration(Registration::AwaitingSubmission { form, mechanisms })
            }
            (Iq::Error { .. }, None) => {
                let error = stanza::stanza_error(&element);
                self.fail(CloseReason::RegistrationUnavailable { error }, None);
                State::Closed
            }
            (Iq::Result { .. }, Some(_)) => {
                self.events.push_back(Event::Registered);
                self.start_sasl(&mechanisms)
            }
            (_, Some(form)) => {
                let error = stanza::stanza_error(&element);
                self.negotiation_deadline = None;
                self.events.push_back(Event::RegistrationFailed { error });
                State::Registration(Registration::AwaitingSubmission { form, mechanisms })
            }
            (_, None) => {
                self.unexpected(&element);
                State::Closed
            }
        }
    }

    /// XEP-0077 forms carry the password as it is, like PLAIN: same rule.
    fn cleartext_password_allowed(&self) -> bool {
        self.config.transport == Transport::Secure || self.config.allow_plain_on_insecure
    }

    fn submit_registration(
        &mut self,
        values: &[FieldValue],
    ) -> Result<Option<String>, CommandError> {
        let state = core::mem::replace(&mut self.state, State::Closed);
        let State::Registration(Registration::AwaitingSubmission { form, mechanisms }) = state
        else {
            self.state = state;
            return Err(CommandError::NoRegistrationForm);
        };
        if !self.cleartext_password_allowed() {
            self.state = State::Registration(Registration::AwaitingSubmission { form, mechanisms });
            return Err(CommandError::InsecureTransport);
        }
        let username = self
            .config
            .jid
            .node()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        let Some(password) = self.password.as_ref() else {
            self.state = State::Registration(Registration::AwaitingSubmission { form, mechanisms });
            return Err(CommandError::NoRegistrationForm);
        };
        // XEP-0077 carries the password as typed; send the SASLprep form SCRAM will prove,
        // so that servers which do not prepare it themselves store the same password.
        let password = match password.prepared() {
            Ok(p) => p,
            Err(e) => {
                self.state =
                    State::Registration(Registration::AwaitingSubmission { form, mechanisms });
                return Err(CommandError::Credentials(e));
            }
        };
        let query = match register::submission(&form, values, &username, &password) {
            Ok(q) => q,
            Err(e) => {
                self.state =
                    State::Registration(Registration::AwaitingSubmission { form, mechanisms });
                return Err(CommandError::InvalidSubmission(e));
            }
        };
        let iq_id = self.new_id();
        let iq: Element = Iq::Set {
            from: None,
            to: Some(self.server_jid()),
            id: iq_id.clone(),
            payload: query,
        }
        .into();
        self.send(&iq);
        self.negotiation_deadline = Some(self.now.after(self.config.negotiation_timeout));
        self.state = State::Registration(Registration::Submitted {
            iq_id: iq_id.clone(),
            form,
            mechanisms,
        });
        Ok(Some(iq_id))
    }

    fn start_sasl(&mut self, offered: &[String]) -> State {
        let has = |m: &str| offered.iter().any(|o| o == m);
        let plain_allowed = self.cleartext_password_allowed();
        let password = self.password.clone().filter(|_| !self.sasl_started);
        self.sasl_started = true;
        let Some(password) = password else {
            // Only one SASL attempt per session.
            self.fail(
                CloseReason::Protocol(ProtocolError::Unexpected {
                    name: "features".into(),
                    namespace: NS_STREAMS.into(),
                }),
                None,
            );
            return State::Closed;
        };
        // RFC 5802 §5.1 and RFC 4616 §2: both username and password are SASLprep'ed;
        // SCRAM escapes ',' and '=' in the username afterwards.
        let prepared =
            username_of(&self.config.jid).and_then(|u| password.prepared().map(|p| (u, p)));
        let (username, password) = match prepared {
            Ok(up) => up,
            Err(e) => {
                self.fail(CloseReason::InvalidCredentials(e), None);
                return State::Closed;
            }
        };
        let hash = if has("SCRAM-SHA-256") {
            Some(ScramHash::Sha256)
        } else if has("SCRAM-SHA-1") {
            Some(ScramHash::Sha1)
        } else {
            None
        };
        if let Some(hash) = hash {
            let nonce = self.seed.scram_nonce();
            let client = match ScramClient::new(hash, &username, password, &nonce) {
                Ok(c) => c,
                Err(e) => {
                    self.fail(CloseReason::Protocol(ProtocolError::Scram(e)), None);
                    return State::Closed;
                }
            };
            let (next, first) = client.client_first();
            self.send(&sasl_element("auth", Some(hash.mechanism()), &first));
            return State::Sasl(Sasl::ScramServerFirst(next, hash));
        }
        if has("PLAIN") && plain_allowed {
            let msg = scram::plain(&username, &password);
            self.send(&sasl_element("auth", Some("PLAIN"), &msg));
            return State::Sasl(Sasl::Plain);
        }
        self.fail(
            CloseReason::NoUsableMechanism {
                offered: offered.to_vec(),
            },
            None,
        );
        State::Closed
    }

    fn on_sasl(&mut self, s: Sasl, element: &Element) -> State {
        if element.ns() != NS_SASL {
            self.unexpected(element);
            return State::Closed;
        }
        if element.name() == "failure" {
            let (condition, text) = defined_condition(element, NS_SASL);
            self.fail(CloseReason::AuthFailed { condition, text }, None);
            return State::Closed;
        }
        let data = match sasl_data(element) {
            Ok(d) => d,
            Err(()) => {
                self.fail(
                    CloseReason::Protocol(ProtocolError::Scram(scram::ScramError::Malformed(
                        "SASL payload is not base64",
                    ))),
                    None,
                );
                return State::Closed;
            }
        };
        let scram_fail = |session: &mut Self, e: scram::ScramError| {
            session.send(&Element::builder("abort", NS_SASL).build());
            session.fail(CloseReason::Protocol(ProtocolError::Scram(e)), None);
            State::Closed
        };
        match (element.name(), s) {
            ("challenge", Sasl::ScramServerFirst(st, hash)) => match st.server_first(&data) {
                Ok((next, fin)) => {
                    self.send(&sasl_element("response", None, &fin));
                    State::Sasl(Sasl::ScramServerFinal(next, hash))
                }
                Err(e) => scram_fail(self, e),
            },
            // Some servers send server-final-message as a challenge (RFC 6120 §6.3.10 allows
            // it either way); answer with an empty response.
            ("challenge", Sasl::ScramServerFinal(st, hash)) => match st.server_final(&data) {
                Ok(()) => {
                    self.send(&sasl_element("response", None, &[]));
                    State::Sasl(Sasl::ScramVerified(hash))
                }
                Err(e) => scram_fail(self, e),
            },
            ("success", Sasl::ScramServerFinal(st, hash)) => {
                if data.is_empty() {
                    self.fail(
                        CloseReason::Protocol(ProtocolError::MissingServerSignature),
                        None,
                    );
                    return State::Closed;
                }
                match st.server_final(&data) {
                    Ok(()) => self.authenticated(hash.mechanism()),
                    Err(e) => {
                        self.fail(CloseReason::Protocol(ProtocolError::Scram(e)), None);
                        State::Closed
                    }
                }
            }
            ("success", Sasl::ScramVerified(hash)) => self.authenticated(hash.mechanism()),
            ("success", Sasl::ScramServerFirst(..)) => {
                self.fail(
                    CloseReason::Protocol(ProtocolError::MissingServerSignature),
                    None,
                );
                State::Closed
            }
            ("success", Sasl::Plain) => self.authenticated("PLAIN"),
            _ => {
                self.unexpected(element);
                State::Closed
            }
        }
    }

    fn authenticated(&mut self, mechanism: &str) -> State {
        self.events.push_back(Event::Authenticated {
            mechanism: mechanism.to_owned(),
        });
        // RFC 7395 §3.5: after SASL the client opens a new stream on the same socket.
        self.send_open();
        State::AwaitingOpen(AwaitingOpen {
            authenticated: true,
        })
    }

    fn on_bind_result(&mut self, s: Binding, element: Element) -> State {
        let Some(iq) = self.our_iq_answer(&element, &s.iq_id) else {
            // Other stanzas before the bind answer are not allowed (RFC 6120 §7.1).
            self.unexpected(&element);
            return State::Closed;
        };
        match iq {
            Iq::Result {
                payload: Some(payload),
                ..
            } => {
                let jid = match BindResponse::try_from(payload) {
                    Ok(r) => FullJid::from(r),
                    Err(_) => {
                        self.fail(CloseReason::Protocol(ProtocolError::BadBind), None);
                        return State::Closed;
                    }
                };
                if jid.domain() != self.config.jid.domain() {
                    self.fail(CloseReason::Protocol(ProtocolError::BadBind), None);
                    return State::Closed;
                }
                if s.session_required {
                    let iq_id = self.new_id();
                    let iq: Element = Iq::Set {
                        from: None,
                        to: None,
                        id: iq_id.clone(),
                        payload: Element::builder("session", NS_SESSION).build(),
                    }
                    .into();
                    self.send(&iq);
                    State::EstablishingSession(EstablishingSession {
                        iq_id,
                        jid,
                        sm_offered: s.sm_offered,
                    })
                } else {
                    self.go_online(jid, s.sm_offered)
                }
            }
            Iq::Error { .. } => {
                let error = stanza::stanza_error(&element);
                self.fail(CloseReason::BindFailed { error }, None);
                State::Closed
            }
            _ => {
                self.fail(CloseReason::Protocol(ProtocolError::BadBind), None);
                State::Closed
            }
        }
    }

    fn on_session_result(&mut self, s: EstablishingSession, element: Element) -> State {
        let Some(iq) = self.our_iq_answer(&element, &s.iq_id) else {
            self.unexpected(&element);
            return State::Closed;
        };
        match iq {
            Iq::Result { .. } => self.go_online(s.jid, s.sm_offered),
            _ => {
                let error = stanza::stanza_error(&element);
                self.fail(CloseReason::BindFailed { error }, None);
                State::Closed
            }
        }
    }

    /// Parses `element` as the result/error for our request `id` from our server.
    fn our_iq_answer(&self, element: &Element, id: &str) -> Option<Iq> {
        if !element.is("iq", NS_CLIENT) || element.attr("id") != Some(id) {
            return None;
        }
        let iq = Iq::try_from(element.clone()).ok()?;
        if !self.is_our_server(iq.from()) {
            return None;
        }
        matches!(iq, Iq::Result { .. } | Iq::Error { .. }).then_some(iq)
    }

    fn go_online(&mut self, jid: FullJid, sm_offered: bool) -> State {
        self.negotiation_deadline = None;
        self.next_keepalive = self.config.keepalive_interval.map(|i| self.now.after(i));
        self.bound_jid = Some(jid.clone());
        self.events.push_back(Event::Online { jid: jid.clone() });
        if !sm_offered {
            // No resumption possible: the password is no longer needed.
            self.password = None;
        }
        if sm_offered {
            // XEP-0198 §3: enable after binding; our outbound count starts now.
            self.send(&sm::enable());
            self.sm = Some(StreamMgmt::default());
        }
        State::Online(Online { jid })
    }

    fn sm_resumable(&self) -> bool {
        self.sm.as_ref().is_some_and(|sm| sm.id.is_some())
    }

    fn on_sm_nonza(&mut self, element: &Element) {
        let Some(sm) = self.sm.as_mut() else {
            self.unexpected(element);
            return;
        };
        match element.name() {
            "enabled" if !sm.enabled => {
                sm.enabled = true;
                let resumable = matches!(element.attr("resume"), Some("true" | "1"));
                sm.id = element.attr("id").filter(|_| resumable).map(str::to_owned);
                sm.max = element.attr("max").and_then(|m| m.parse().ok());
                let resumable = sm.id.is_some();
                if !resumable {
                    self.password = None;
                }
                self.events.push_back(Event::StreamManagement {
                    enabled: true,
                    resumable,
                });
            }
            "failed" if !sm.enabled => {
                // Enabling failed: these stanzas went out on a live stream without SM.
                self.sm = None;
                self.password = None;
                self.events.push_back(Event::StreamManagement {
                    enabled: false,
                    resumable: false,
                });
            }
            "r" if sm.enabled => {
                let h = sm.counters.inbound;
                self.send(&sm::answer(h));
            }
            "a" => {
                let result = sm::h(element).map(|h| sm.counters.on_ack(h));
                match result {
                    Some(Ok(ids)) => {
                        self.keepalive_answered("");
                        if !ids.is_empty() {
                            self.events.push_back(Event::Acked { message_ids: ids });
                        }
                    }
                    _ => self.fail(CloseReason::Protocol(ProtocolError::BadAck), None),
                }
            }
            _ => self.unexpected(element),
        }
    }

    // ---- stanzas -------------------------------------------------------------------------

    fn on_stanza(&mut self, element: Element) {
        if element.ns() == NS_SM {
            self.on_sm_nonza(&element);
            return;
        }
        if element.ns() == NS_CLIENT {
            if let Some(sm) = self.sm.as_mut().filter(|sm| sm.enabled) {
                sm.counters.on_received();
            }
        }
        if element.ns() != NS_CLIENT {
            self.unexpected(&element);
            return;
        }
        match element.name() {
            "message" => self.on_message(element),
            "presence" => self.on_presence(element),
            "iq" => self.on_iq(element),
            _ => {
                self.fail(
                    CloseReason::Protocol(ProtocolError::Unexpected {
                        name: element.name().to_owned(),
                        namespace: element.ns(),
                    }),
                    Some("unsupported-stanza-type"),
                );
            }
        }
    }

    fn room_of(&self, element: &Element) -> Option<BareJid> {
        let from = element.attr("from")?.parse::<Jid>().ok()?.to_bare();
        self.rooms.contains_key(&from).then_some(from)
    }

    fn on_message(&mut self, element: Element) {
        if let Some(ev) = ext::carbon(&element, &self.config.jid) {
            self.events.push_back(ev);
            return;
        }
        if let Some(ev) = muc::invitation(&element) {
            self.events.push_back(ev);
            return;
        }
        if let Some(room) = self.room_of(&element) {
            if let Some(ev) = muc::subject_event(&room, &element) {
                self.events.push_back(ev);
                return;
            }
        }
        let ev = ext::message_event(element, &self.config.jid);
        self.events.push_back(ev);
    }

    fn on_presence(&mut self, element: Element) {
        let Some(room_jid) = self.room_of(&element) else {
            let ev = stanza::presence_event(element, &self.config.jid);
            match &ev {
                Event::SubscriptionRequest { from, .. } => {
                    self.pending_in.insert(from.clone());
                }
                // The contact withdrew its request (RFC 6121 §3.3.2 for a pending one).
                Event::ContactUnsubscribed { from } => {
                    self.pending_in.remove(from);
                    self.subscribed_from.remove(from);
                }
                _ => {}
            }
            self.events.push_back(ev);
            return;
        };
        let Some(room) = self.rooms.get_mut(&room_jid) else {
            return;
        };
        match muc::presence(&room_jid, room, element) {
            muc::Outcome::Events(evs) => self.events.extend(evs),
            muc::Outcome::JoinedNew(mut evs) => {
                // Hold `RoomJoined` back until the room is unlocked.
                let nick = match evs.pop() {
                    Some(Event::RoomJoined { nick, .. }) => nick,
                    Some(other) => {
                        evs.push(other);
                        room.nick.clone()
                    }
                    None => room.nick.clone(),
                };
                let config = room.config.take();
                self.events.extend(evs);
                let id = self.new_id();
                match config {
                    Some(config) => {
                        self.send(&muc::config_request(&room_jid, id.clone()));
                        self.pending.insert(
                            id,
                            Pending::RoomForm {
                                room: room_jid,
                                nick,
                                config,
                            },
                        );
                    }
                    None => self.instant_room(id, room_jid, nick),
                }
            }
            muc::Outcome::Gone(evs) => {
                self.rooms.remove(&room_jid);
                self.events.extend(evs);
            }
        }
    }

    fn on_iq(&mut self, element: Element) {
        let error = stanza::stanza_error(&element);
        // Kept to answer a malformed request (RFC 6120 §8.2.3: every get/set is answered).
        let request = matches!(element.attr("type"), Some("get" | "set"))
            .then(|| element.attr("id").map(str::to_owned))
            .flatten()
            .map(|id| (id, element.attr("from").and_then(|f| f.parse::<Jid>().ok())));
        let iq = match Iq::try_from(element) {
            Ok(iq) => iq,
            Err(e) => {
                self.events.push_back(Event::StanzaDropped {
                    reason: format!("invalid iq: {e}"),
                });
                if let Some((id, from)) = request {
                    self.send(&stanza::iq_error(id, from, "bad-request"));
                }
                return;
            }
        };
        match iq {
            Iq::Get {
                from, id, payload, ..
            } => {
                if payload.is("ping", NS_PING) {
                    self.send(&stanza::iq_result(id, from));
                } else if payload.is("query", xmpp_parsers::ns::DISCO_INFO) {
                    match self.info.answer(payload.attr("node")) {
                        Some(answer) => self.send(&ext::iq_result(id, from, answer)),
                        None => self.send(&stanza::iq_error(id, from, "item-not-found")),
                    }
                } else if payload.is("query", xmpp_parsers::ns::DISCO_ITEMS) {
                    let empty = disco::query(false, payload.attr("node").map(str::to_owned));
                    self.send(&ext::iq_result(id, from, empty));
                } else {
                    // RFC 6120 §8.4: never leave a get/set unanswered.
                    self.send(&stanza::iq_error(id, from, "service-unavailable"));
                }
            }
            Iq::Set {
                from, id, payload, ..
            } => {
                if payload.is("query", NS_ROSTER) {
                    self.on_roster_push(from, id, payload);
                } else if payload.ns() == xmpp_parsers::ns::BLOCKING
                    && matches!(payload.name(), "block" | "unblock")
                {
                    self.on_blocking_push(from, id, &payload);
                } else {
                    self.send(&stanza::iq_error(id, from, "service-unavailable"));
                }
            }
            Iq::Result {
                from, id, payload, ..
            } => {
                if self.is_extension_request(&id) {
                    self.on_extension_result(from, &id, payload);
                    return;
                }
                if self.on_instant_room_answer(&id, from.as_ref(), None)
                    || self.on_room_form(&id, from.as_ref(), Ok(payload.as_ref()))
                {
                    return;
                }
                if !self.is_our_server(from.as_ref()) {
                    return;
                }
                match self.pending.remove(&id) {
                    Some(Pending::RosterGet) => match payload.map(Roster::try_from) {
                        None => self.events.push_back(Event::RosterUpToDate),
                        Some(Ok(roster)) => {
                            let items: Vec<_> =
                                roster.items.into_iter().map(stanza::roster_item).collect();
                            for item in &items {
                                self.note_roster_item(item);
                            }
                            self.events.push_back(Event::Roster {
                                ver: roster.ver,
                                items,
                            });
                        }
                        Some(Err(e)) => self.events.push_back(Event::StanzaDropped {
                            reason: format!("invalid roster: {e}"),
                        }),
                    },
                    Some(Pending::Generic) => {
                        self.events.push_back(Event::RequestSucceeded { id });
                    }
                    Some(Pending::PasswordChange(new)) => {
                        // Needed to authenticate again when resuming.
                        if self.sm_resumable() {
                            self.password = Some(new);
                        }
                        self.events.push_back(Event::RequestSucceeded { id });
                    }
                    Some(Pending::Keepalive) => self.keepalive_answered(&id),
                    Some(Pending::InstantRoom { .. } | Pending::RoomForm { .. }) | None => {}
                    Some(
                        Pending::DiscoInfo
                        | Pending::DiscoItems
                        | Pending::Blocklist
                        | Pending::UploadSlot
                        | Pending::Ping(_),
                    ) => {}
                }
            }
            Iq::Error { from, id, .. } => {
                if self.on_instant_room_answer(&id, from.as_ref(), Some(&error))
                    || self.on_room_form(&id, from.as_ref(), Err(&error))
                {
                    return;
                }
                if self.is_extension_request(&id) {
                    if self.answer_from_expected(&id, from.as_ref()) {
                        self.sent_to.remove(&id);
                        self.pending.remove(&id);
                        self.events.push_back(Event::RequestFailed { id, error });
                    }
                    return;
                }
                if !self.is_our_server(from.as_ref()) {
                    return;
                }
                match self.pending.remove(&id) {
                    Some(
                        Pending::RosterGet
                        | Pending::Generic
                        | Pending::PasswordChange(_)
                        | Pending::DiscoInfo
                        | Pending::DiscoItems
                        | Pending::Blocklist
                        | Pending::UploadSlot
                        | Pending::Ping(_),
                    ) => {
                        self.events.push_back(Event::RequestFailed { id, error });
                    }
                    Some(Pending::InstantRoom { .. } | Pending::RoomForm { .. }) => {}
                    // Any answer proves the stream is alive.
                    Some(Pending::Keepalive) => self.keepalive_answered(&id),
                    None => {}
                }
            }
        }
    }

    /// Whether an answer to request `id` comes from the entity we sent it to (our server
    /// may answer for itself or our account without a `from`).
    fn answer_from_expected(&self, id: &str, from: Option<&Jid>) -> bool {
        match self.sent_to.get(id) {
            Some(to) => {
                from == Some(to) || (self.is_our_server(Some(to)) && self.is_our_server(from))
            }
            None => self.is_our_server(from),
        }
    }

    /// The room's answer to the instant-room configuration; it must come from the room.
    /// Returns whether `id` was such a request.
    fn on_instant_room_answer(
        &mut self,
        id: &str,
        from: Option<&Jid>,
        error: Option<&crate::types::StanzaErrorInfo>,
    ) -> bool {
        let Some(Pending::InstantRoom { room, .. }) = self.pending.get(id) else {
            return false;
        };
        if !from.is_some_and(|f| f.resource().is_none() && f.to_bare() == *room) {
            return true;
        }
        let Some(Pending::InstantRoom {
            room,
            nick,
            configured,
        }) = self.pending.remove(id)
        else {
            return true;
        };
        if let Some(error) = error {
            if configured {
                // The settings were refused: open the room as it is rather than leave it locked.
                self.events.push_back(Event::RoomNotConfigured {
                    room: room.clone(),
                    reason: format!("the room refused the settings: {}", error.condition),
                });
                let id = self.new_id();
                self.instant_room(id, room, nick);
                return true;
            }
            // We are in the room, but it stays locked for others.
            self.events.push_back(Event::StanzaDropped {
                reason: format!(
                    "the new room refused its default configuration: {}",
                    error.condition
                ),
            });
        }
        self.events.push_back(Event::RoomJoined {
            room,
            nick,
            created: true,
        });
        true
    }

    /// Accepts the default configuration of the room we created (XEP-0045 §10.1.2).
    fn instant_room(&mut self, id: String, room: BareJid, nick: String) {
        self.send(&muc::instant_room(&room, id.clone()));
        self.pending.insert(
            id,
            Pending::InstantRoom {
                room,
                nick,
                configured: false,
            },
        );
    }

    /// The room's configuration form (or its refusal to send one): filled in with the
    /// settings asked for, or, when it cannot take them, the instant room instead. Returns
    /// whether `id` was such a request. The answer must come from the room.
    fn on_room_form(
        &mut self,
        id: &str,
        from: Option<&Jid>,
        answer: Result<Option<&Element>, &crate::types::StanzaErrorInfo>,
    ) -> bool {
        let Some(Pending::RoomForm { room, .. }) = self.pending.get(id) else {
            return false;
        };
        if !from.is_some_and(|f| f.resource().is_none() && f.to_bare() == *room) {
            return true;
        }
        let Some(Pending::RoomForm { room, nick, config }) = self.pending.remove(id) else {
            return true;
        };
        let next = self.new_id();
        let submit = match answer {
            Ok(query) => {
                muc::config_submit(&room, next.clone(), query, &config).map_err(str::to_owned)
            }
            Err(error) => Err(format!("no configuration form: {}", error.condition)),
        };
        match submit {
            Ok(iq) => {
                self.send(&iq);
                self.pending.insert(
                    next,
                    Pending::InstantRoom {
                        room,
                        nick,
                        configured: true,
                    },
                );
            }
            Err(reason) => {
                self.events.push_back(Event::RoomNotConfigured {
                    room: room.clone(),
                    reason,
                });
                self.instant_room(next, room, nick);
            }
        }
        true
    }

    fn is_extension_request(&self, id: &str) -> bool {
        matches!(
            self.pending.get(id),
            Some(
                Pending::DiscoInfo
                    | Pending::DiscoItems
                    | Pending::Blocklist
                    | Pending::UploadSlot
                    | Pending::Ping(_)
            )
        )
    }

    /// Results of disco, blocklist and upload requests. Returns whether `id` was one of
    /// them (answers from anyone but the entity asked are ignored).
    fn on_extension_result(
        &mut self,
        from: Option<Jid>,
        id: &str,
        payload: Option<Element>,
    ) -> bool {
        if !self.is_extension_request(id) {
            return false;
        }
        if !self.answer_from_expected(id, from.as_ref()) {
            return true;
        }
        let asked = self
            .sent_to
            .remove(id)
            .or(from)
            .unwrap_or_else(|| self.server_jid());
        let Some(kind) = self.pending.remove(id) else {
            return true;
        };
        let id = id.to_owned();
        let bad = |what: &str| Event::StanzaDropped {
            reason: format!("invalid {what} result"),
        };
        let ev = match kind {
            Pending::DiscoInfo => match payload.and_then(disco::parse_info) {
                Some((identities, features)) => Event::DiscoInfo {
                    id,
                    from: asked,
                    identities,
                    features,
                },
                None => bad("disco#info"),
            },
            Pending::DiscoItems => match payload.and_then(disco::parse_items) {
                Some(items) => Event::DiscoItems {
                    id,
                    from: asked,
                    items,
                },
                None => bad("disco#items"),
            },
            Pending::Ping(sent) => Event::Pong {
                id,
                from: asked,
                round_trip: core::time::Duration::from_millis(
                    self.now.as_millis().saturating_sub(sent.as_millis()),
                ),
            },
            Pending::Blocklist => match payload
                .filter(|p| p.is("blocklist", xmpp_parsers::ns::BLOCKING))
                .as_ref()
                .and_then(ext::blocked_jids)
            {
                Some(jids) => Event::Blocklist { jids },
                None => bad("blocklist"),
            },
            _ => {
                let allow_http = self.config.transport == Transport::Insecure;
                match payload
                    .as_ref()
                    .and_then(|p| ext::upload_slot(p, allow_http))
                {
                    Some(ext::Slot {
                        put_url,
                        put_headers,
                        get_url,
                    }) => Event::UploadSlot {
                        id,
                        put_url,
                        put_headers,
                        get_url,
                    },
                    None => bad("upload slot"),
                }
            }
        };
        self.events.push_back(ev);
        true
    }

    /// Who is subscribed to our presence, so that approving them again is not taken for a
    /// pre-approval.
    fn note_roster_item(&mut self, item: &crate::types::RosterItem) {
        use crate::types::Subscription;
        if matches!(item.subscription, Subscription::From | Subscription::Both) {
            self.subscribed_from.insert(item.jid.clone());
            // RFC 6121 §3.1.6: the request is answered.
            self.pending_in.remove(&item.jid);
        } else {
            self.subscribed_from.remove(&item.jid);
        }
        if item.subscription == Subscription::Remove {
            self.pending_in.remove(&item.jid);
        }
    }

    fn on_blocking_push(&mut self, from: Option<Jid>, id: String, payload: &Element) {
        let legit = match &from {
            None => true,
            Some(f) => f.resource().is_none() && f.to_bare() == self.config.jid,
        };
        if !legit {
            self.send(&stanza::iq_error(id, from, "service-unavailable"));
            return;
        }
        match ext::blocked_jids(payload) {
            Some(jids) => {
                self.events.push_back(Event::BlocklistPush {
                    blocked: payload.name() == "block",
                    jids,
                });
                self.send(&stanza::iq_result(id, from));
            }
            None => {
                self.events.push_back(Event::StanzaDropped {
                    reason: "blocking push with an invalid JID".into(),
                });
                self.send(&stanza::iq_error(id, from, "bad-request"));
            }
        }
    }

    fn on_roster_push(&mut self, from: Option<Jid>, id: String, payload: Element) {
        // RFC 6121 §2.1.6: only our own account (no `from`, or our bare JID) may push.
        let legit = match &from {
            None => true,
            Some(f) => f.resource().is_none() && f.to_bare() == self.config.jid,
        };
        if !legit {
            if let Some(f) = from.clone() {
                self.events.push_back(Event::SpoofedRosterPush { from: f });
            }
            self.send(&stanza::iq_error(id, from, "service-unavailable"));
            return;
        }
        match Roster::try_from(payload) {
            Ok(roster) if roster.items.len() == 1 => {
                let ver = roster.ver;
                for item in roster.items {
                    let item = stanza::roster_item(item);
                    self.note_roster_item(&item);
                    self.events.push_back(Event::RosterPush {
                        ver: ver.clone(),
                        item,
                    });
                }
                self.send(&stanza::iq_result(id, from));
            }
            _ => {
                self.events.push_back(Event::StanzaDropped {
                    reason: "roster push without exactly one valid item".into(),
                });
                self.send(&stanza::iq_error(id, from, "bad-request"));
            }
        }
    }

    /// RFC 6120 §4.4: after our `<close/>` we send nothing more but still process what the
    /// server sends until its `<close/>`: messages and presence are reported, acks applied,
    /// requests left unanswered.
    fn while_closing(&mut self, element: Element) {
        if element.is("a", NS_SM) {
            if let Some(ids) = sm::h(&element)
                .and_then(|h| self.sm.as_mut().map(|sm| sm.counters.on_ack(h)))
                .and_then(Result::ok)
                .filter(|ids| !ids.is_empty())
            {
                self.events.push_back(Event::Acked { message_ids: ids });
            }
            return;
        }
        if element.ns() != NS_CLIENT {
            return;
        }
        match element.name() {
            "message" => {
                let ev = ext::carbon(&element, &self.config.jid)
                    .unwrap_or_else(|| ext::message_event(element, &self.config.jid));
                self.events.push_back(ev);
            }
            "presence" => {
                let ev = stanza::presence_event(element, &self.config.jid);
                self.events.push_back(ev);
            }
            _ => {}
        }
    }

    fn keepalive_answered(&mut self, id: &str) {
        if self
            .keepalive_deadline
            .as_ref()
            .is_some_and(|(k, _)| k == id)
        {
            self.keepalive_deadline = None;
        }
    }

    /// Answers for requests we sent to our server must come from it (no `from`, our domain,
    /// or our bare JID); anything else is someone else's forgery.
    fn is_our_server(&self, from: Option<&Jid>) -> bool {
        match from {
            None => true,
            Some(f) => {
                f.resource().is_none()
                    && (f.to_bare() == self.config.jid
                        || (f.node().is_none() && f.domain() == self.config.jid.domain()))
            }
        }
    }

    // ---- plumbing ------------------------------------------------------------------------

    fn server_jid(&self) -> Jid {
        Jid::from(BareJid::from_parts(None, self.config.jid.domain()))
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.id_prefix, self.next_id)
    }

    fn send(&mut self, element: &Element) {
        self.send_tracked(element, None);
    }

    /// Queues a frame; stanzas are counted and kept until acknowledged when stream
    /// management is on.
    fn send_tracked(&mut self, element: &Element, unacked: Option<UnackedStanza>) {
        let frame = framing::serialise(element);
        let is_stanza =
            element.ns() == NS_CLIENT && matches!(element.name(), "message" | "presence" | "iq");
        if let Some(sm) = self.sm.as_mut().filter(|_| is_stanza) {
            sm.counters.on_sent(frame.clone(), unacked);
        }
        self.transmit.push_back(frame);
    }

    fn unexpected(&mut self, element: &Element) {
        let namespace = element.ns();
        let condition =
            if [NS_CLIENT, NS_STREAMS, NS_SASL, NS_FRAMING].contains(&namespace.as_str()) {
                "unsupported-stanza-type"
            } else {
                "invalid-namespace"
            };
        self.fail(
            CloseReason::Protocol(ProtocolError::Unexpected {
                name: element.name().to_owned(),
                namespace,
            }),
            Some(condition),
        );
    }

    /// Ends the session because of a failure: optionally tells the server why with a stream
    /// error, sends `<close/>`, and reports `reason`.
    fn fail(&mut self, reason: CloseReason, stream_error: Option<&'static str>) {
        if let Some(condition) = stream_error {
            self.transmit.push_back(format!(
                "<stream:error xmlns:stream='{NS_STREAMS}'><{condition} \
                 xmlns='{NS_XMPP_STREAMS}'/></stream:error>"
            ));
        }
        self.send(&framing::close());
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.ended = true;
        self.negotiation_deadline = None;
        self.close_deadline = None;
        self.next_keepalive = None;
        self.keepalive_deadline = None;
        // The keepalive belongs to this socket only.
        self.pending.retain(|_, p| !matches!(p, Pending::Keepalive));
        if !(self.resumable_close && self.sm_resumable()) {
            self.resumable_close = false;
            self.password = None;
            self.pending.clear();
            self.rooms.clear();
            self.sent_to.clear();
            self.request_deadlines.clear();
        }
        self.events.push_back(Event::Closed { reason });
    }
}

/// The SASL username: the JID localpart after SASLprep (RFC 6120 §6.3.8, RFC 4013).
fn username_of(jid: &BareJid) -> Result<String, CredentialError> {
    credentials::prepare_username(jid.node().map(|n| n.as_str()).unwrap_or_default())
}

/// `<auth/>`/`<response/>` with base64 data; RFC 6120 §6.4.2 writes empty data as `=`.
fn sasl_element(name: &str, mechanism: Option<&str>, data: &[u8]) -> Element {
    let text = if data.is_empty() {
        "=".to_owned()
    } else {
        BASE64.encode(data)
    };
    let mut b = Element::builder(name, NS_SASL);
    if let Some(m) = mechanism {
        b = b.attr(minidom::rxml::xml_ncname!("mechanism").to_owned(), m);
    }
    b.append(text).build()
}

/// Decodes the base64 text of a SASL element; empty or `=` is empty data.
fn sasl_data(element: &Element) -> Result<Vec<u8>, ()> {
    let text: String = element
        .text()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if text.is_empty() || text == "=" {
        return Ok(Vec::new());
    }
    BASE64.decode(text).map_err(|_| ())
}

/// The defined condition (first child in `ns` other than `<text/>`) and text of a stream
/// error or SASL failure.
fn defined_condition(element: &Element, ns: &str) -> (String, Option<String>) {
    let condition = element
        .children()
        .find(|c| c.ns() == ns && c.name() != "text")
        .map_or_else(|| "undefined-condition".to_owned(), |c| c.name().to_owned());
    let text = element.get_child("text", ns).map(Element::text);
    (condition, text)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
