//! The OTR session: message states, policies, query messages and whitespace tags, error
//! messages, Data messages with their TLVs, SMP and the extra symmetric key, for one peer
//! instance; and a [`Router`] that directs incoming text to the right instance.
//!
//! # Message states (spec "Protocol state machine")
//!
//! | state | entered by | user text sent as |
//! |---|---|---|
//! | [`MessageState::Plaintext`] | start; [`Session::end`] | plaintext (maybe tagged), or **queued** under [`Policy::REQUIRE_ENCRYPTION`] |
//! | [`MessageState::Encrypted`] | a completed AKE, only | Data messages |
//! | [`MessageState::Finished`] | the peer's disconnect TLV (authenticated) | **refused** ([`UsageError::WrongState`]) |
//!
//! Under REQUIRE_ENCRYPTION every queued message is sent, in order, as soon as the session
//! is ENCRYPTED. (libotr stores only the last one and resends it only if the AKE finishes
//! within 60 s; dropping typed messages silently seemed worse. [`Session::queued`] shows
//! the backlog.)
//!
//! Nothing unauthenticated changes the message state: plaintext, `?OTR Error:` messages,
//! queries and tampered messages only produce events (and maybe an AKE, which must
//! itself complete before anything changes).
//!
//! # The sans-IO API of [`Session`]
//!
//! - **Getters:** [`Session::state`], [`Session::our_instance`],
//!   [`Session::their_instance`], [`Session::version`], [`Session::ssid`],
//!   [`Session::their_fingerprint`], [`Session::smp_state`], [`Session::queued`].
//! - **Inputs:** [`Session::handle_incoming`]`(text, now, rng)` for every received message
//!   body from this peer; [`Session::handle_timeout`]`(now)` when the deadline from
//!   [`Session::poll_timeout`] has passed.
//! - **Commands:** [`Session::send`] (user text), [`Session::start`] (send a query),
//!   [`Session::end`] (disconnect), [`Session::smp_start`], [`Session::smp_respond`],
//!   [`Session::smp_abort`], [`Session::use_extra_key`].
//! - **Outputs:** [`Session::poll_transmit`] (message bodies to send to the peer, in order),
//!   [`Session::poll_event`] (what to tell the user, in order) and
//!   [`Session::poll_timeout`] (when to call `handle_timeout`).
//!
//! After **every** input or command, drain `poll_transmit` until `None` and send each
//! string in order, then drain `poll_event` until `None`, then re-arm the timer from
//! `poll_timeout`. Transmits come first because an
//! event may prompt the user to do something that sends more (answering an SMP question).
//!
//! Time is passed in as `now`, milliseconds on any clock (only differences are used: the
//! 60 s heartbeat). Randomness is an argument. Nothing here reads a clock or does IO.
//!
//! # Instance tags
//!
//! A `Session` talks to one peer instance. A v3 peer's tag is learned from the first AKE
//! message it accepts; from then on messages from other sender tags, and v3 messages whose
//! receiver tag is neither ours nor 0 (0 only for a DH-Commit), are ignored. A [`Router`]
//! keeps one `Session` per peer instance plus a "master" session (v2 traffic, queries, tags,
//! errors and plaintext, which carry no instance tag), as libotr does.

use std::collections::VecDeque;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::ake::{Ake, AkeStep, AuthStateName, SessionId};
use crate::crypto::dsa::{DsaPrivateKey, Fingerprint};
use crate::crypto::CryptoRng;
use crate::data::DataChannel;
use crate::error::{DecodeError, Error, PeerError, UsageError};
use crate::fragment::{fragment, Reassembler, Reassembly};
use crate::smp::{is_smp_tlv, Smp, SmpCheat, SmpEvent, SmpStateName};
use crate::tlv::{Plaintext, Tlv, TLV_DISCONNECTED, TLV_EXTRA_SYMMETRIC_KEY};
use crate::wire::message::{
    EncodedMessage, Header, InstanceTag, MessageBody, Version, FLAG_IGNORE_UNREADABLE,
    TYPE_DH_COMMIT, TYPE_DH_KEY,
};
use crate::wire::text::{encode_message, TextMessage, VersionSet, ERROR_PREFIX};

/// libotr's heartbeat interval: after receiving a message, send an empty one if we sent
/// nothing for this long (`HEARTBEAT_INTERVAL`, 60 s).
pub const HEARTBEAT_INTERVAL_MS: u64 = 60_000;

/// An AKE silent for this long is abandoned by [`Session::handle_timeout`] (libotr
/// `MAX_AKE_WAIT_TIME`, 60 s).
pub const AKE_TIMEOUT_MS: u64 = 60_000;

/// Under REQUIRE_ENCRYPTION, a queued message re-sends the query only if the last one is
/// at least this old.
pub const QUERY_RETRY_MS: u64 = 5_000;

/// The error text we send for a Data message we cannot read.
pub const UNREADABLE_ERROR: &str = "Unreadable encrypted message was received.";
/// The error text we send for an encrypted message that does not parse.
pub const MALFORMED_ERROR: &str = "Malformed encrypted message was received.";

/// OTR policy flags (libotr `OTRL_POLICY_*`, same bit values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy(u8);

impl Policy {
    /// Speak OTR v2.
    pub const ALLOW_V2: Policy = Policy(0x02);
    /// Speak OTR v3.
    pub const ALLOW_V3: Policy = Policy(0x04);
    /// Never send user text unencrypted: queue it and ask for OTR instead.
    pub const REQUIRE_ENCRYPTION: Policy = Policy(0x08);
    /// Append a whitespace tag to plaintext to advertise OTR.
    pub const SEND_WHITESPACE_TAG: Policy = Policy(0x10);
    /// Start the AKE when a whitespace tag is received.
    pub const WHITESPACE_START_AKE: Policy = Policy(0x20);
    /// Send a query when an OTR error message is received.
    pub const ERROR_START_AKE: Policy = Policy(0x40);
    /// No OTR at all.
    pub const NEVER: Policy = Policy(0);
    /// OTR only when the user asks (libotr `OTRL_POLICY_MANUAL`).
    pub const MANUAL: Policy = Policy(0x06);
    /// libotr's default (`OTRL_POLICY_OPPORTUNISTIC`).
    pub const OPPORTUNISTIC: Policy = Policy(0x76);
    /// Always encrypt (`OTRL_POLICY_ALWAYS`).
    pub const ALWAYS: Policy = Policy(0x6e);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Policy) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The versions this policy allows.
    pub fn versions(self) -> VersionSet {
        VersionSet {
            v1: false,
            v2: self.contains(Policy::ALLOW_V2),
            v3: self.contains(Policy::ALLOW_V3),
        }
    }

    fn allows(self, version: Version) -> bool {
        self.versions().contains(version)
    }
}

impl core::ops::BitOr for Policy {
    type Output = Policy;
    fn bitor(self, rhs: Policy) -> Policy {
        Policy(self.0 | rhs.0)
    }
}

/// Per-session settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The policy.
    pub policy: Policy,
    /// Largest message body the transport carries; longer OTR messages are sent as
    /// fragments. 0 means no limit (libotr's `max_message_size` callback returning 0).
    pub max_message_size: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            policy: Policy::OPPORTUNISTIC,
            max_message_size: 0,
        }
    }
}

/// The message state names of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// MSGSTATE_PLAINTEXT.
    Plaintext,
    /// MSGSTATE_ENCRYPTED.
    Encrypted,
    /// MSGSTATE_FINISHED: the peer ended the private conversation.
    Finished,
}

/// The extra symmetric key (v3 TLV 8). Zeroized on drop; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SymmetricKey(pub Zeroizing<[u8; 32]>);

impl core::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SymmetricKey(..)")
    }
}

/// What happened, for the user interface. Drain with [`Session::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The AKE completed: the session is ENCRYPTED (again, if `refreshed`).
    Encrypted {
        /// The protocol version.
        version: Version,
        /// The secure session id to compare out of band.
        ssid: SessionId,
        /// The peer's long-term key fingerprint.
        their_fingerprint: Fingerprint,
        /// The session was already encrypted with the same peer key.
        refreshed: bool,
    },
    /// The peer ended the private conversation (FINISHED): sending is refused until
    /// [`Session::end`] or a new AKE.
    Finished,
    /// A message for the user to read.
    Received {
        /// The text (whitespace tag removed; invalid UTF-8 replaced).
        text: String,
        /// Whether it arrived encrypted. Unencrypted text while ENCRYPTED deserves a
        /// warning.
        encrypted: bool,
    },
    /// The peer sent an OTR error message (`?OTR Error:`). Nothing changed.
    PeerError {
        /// The error text.
        text: String,
    },
    /// A received message was rejected; nothing changed.
    Error {
        /// Why.
        error: Error,
    },
    /// The peer started SMP; answer with [`Session::smp_respond`] or abort.
    SmpAsked {
        /// The question, if any.
        question: Option<String>,
    },
    /// SMP succeeded.
    SmpSucceeded {
        /// Whether this proves the peer's identity to us (libotr trust rule: not for
        /// the side that answered a question).
        authenticates_peer: bool,
    },
    /// SMP finished: the secrets differ.
    SmpFailed,
    /// The peer aborted SMP.
    SmpAborted,
    /// The peer's SMP values or proofs are invalid; we aborted.
    SmpCheated {
        /// What failed.
        reason: SmpCheat,
    },
    /// An SMP message arrived out of order; we aborted.
    SmpOutOfOrder {
        /// The TLV type.
        tlv_type: u16,
        /// Our SMP state.
        state: SmpStateName,
    },
    /// The peer wants to use the extra symmetric key (TLV 8).
    ExtraSymmetricKey {
        /// The 4-byte use code.
        use_value: u32,
        /// The use-specific data after it.
        use_data: Vec<u8>,
        /// The key (both sides derive the same).
        key: SymmetricKey,
    },
}

/// How [`Session::send`] handled the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Sent in a Data message.
    Encrypted,
    /// Sent as plaintext (the policy does not require encryption).
    Plaintext,
    /// Held until the session is ENCRYPTED (REQUIRE_ENCRYPTION); a query was sent.
    Queued,
}

/// Whitespace-tag offer state (libotr `otr_offer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offer {
    NotSent,
    Sent,
    Rejected,
}

/// State valid only while ENCRYPTED.
struct Encrypted {
    channel: DataChannel,
    smp: Smp,
    ssid: SessionId,
    their_fingerprint: Fingerprint,
}

enum MsgState {
    Plaintext,
    Encrypted(Box<Encrypted>),
    Finished,
}

/// One OTR conversation with one peer instance. See the [module docs](self) for the
/// API taxonomy and drain order.
pub struct Session {
    our_key: Arc<DsaPrivateKey>,
    our_instance: InstanceTag,
    their_instance: InstanceTag,
    config: SessionConfig,
    ake: Ake,
    state: MsgState,
    offer: Offer,
    pending: VecDeque<Zeroizing<String>>,
    transmit: VecDeque<String>,
    events: VecDeque<Event>,
    last_sent: Option<u64>,
    last_query: Option<u64>,
    /// When the AKE last sent something (for the 60 s expiry).
    ake_activity: Option<u64>,
    reassembly: Reassembler,
    #[cfg(test)]
    recorded: Vec<String>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("our_instance", &self.our_instance)
            .field("their_instance", &self.their_instance)
            .field("state", &self.state())
            .field("ake", &self.ake)
            .field("queued", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session in PLAINTEXT. `our_instance` is our v3 instance tag.
    pub fn new(
        our_key: Arc<DsaPrivateKey>,
        our_instance: InstanceTag,
        config: SessionConfig,
    ) -> Self {
        Self::with_peer(our_key, our_instance, InstanceTag::UNKNOWN, config)
    }

    /// A new session bound to a known peer instance (used by the [`Router`]).
    pub fn with_peer(
        our_key: Arc<DsaPrivateKey>,
        our_instance: InstanceTag,
        their_instance: InstanceTag,
        config: SessionConfig,
    ) -> Self {
        Self {
            ake: Ake::new(our_key.clone(), our_instance, their_instance),
            our_key,
            our_instance,
            their_instance,
            config,
            state: MsgState::Plaintext,
            offer: Offer::NotSent,
            pending: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_sent: None,
            last_query: None,
            ake_activity: None,
            reassembly: Reassembler::default(),
            #[cfg(test)]
            recorded: Vec::new(),
        }
    }

    // ---- getters ----

    /// The message state.
    pub fn state(&self) -> MessageState {
        match self.state {
            MsgState::Plaintext => MessageState::Plaintext,
            MsgState::Encrypted(_) => MessageState::Encrypted,
            MsgState::Finished => MessageState::Finished,
        }
    }

    /// Our instance tag.
    pub fn our_instance(&self) -> InstanceTag {
        self.our_instance
    }

    /// The peer instance (UNKNOWN until a v3 AKE message from it was accepted).
    pub fn their_instance(&self) -> InstanceTag {
        self.their_instance
    }

    /// The settings.
    pub fn config(&self) -> SessionConfig {
        self.config
    }

    /// The protocol version while ENCRYPTED.
    pub fn version(&self) -> Option<Version> {
        self.encrypted().map(|e| e.channel.version())
    }

    /// The secure session id while ENCRYPTED.
    pub fn ssid(&self) -> Option<SessionId> {
        self.encrypted().map(|e| e.ssid)
    }

    /// The peer's fingerprint while ENCRYPTED.
    pub fn their_fingerprint(&self) -> Option<Fingerprint> {
        self.encrypted().map(|e| e.their_fingerprint)
    }

    /// The SMP state while ENCRYPTED.
    pub fn smp_state(&self) -> Option<SmpStateName> {
        self.encrypted().map(|e| e.smp.state())
    }

    /// How many user messages wait for ENCRYPTED.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// The AKE state machine (read-only).
    pub fn ake(&self) -> &Ake {
        &self.ake
    }

    fn encrypted(&self) -> Option<&Encrypted> {
        match &self.state {
            MsgState::Encrypted(e) => Some(e),
            _ => None,
        }
    }

    // ---- outputs ----

    /// The next message body to send to the peer. Drain after every input.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front()
    }

    /// The next event for the user. Drain after `poll_transmit`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] should next be called (same clock as `now`), if
    /// ever: an AKE that has been silent for [`AKE_TIMEOUT_MS`] is abandoned.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.ake_activity.map(|t| t.saturating_add(AKE_TIMEOUT_MS))
    }

    /// Let time pass: abandon an AKE that has been silent for [`AKE_TIMEOUT_MS`] (libotr
    /// `otrl_message_poll`), so that its state does not linger. The message state is not
    /// touched.
    pub fn handle_timeout(&mut self, now: u64) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        self.ake_activity = None;
        if self.ake.state() != AuthStateName::None {
            self.ake = Ake::new(self.our_key.clone(), self.our_instance, self.their_instance);
        }
    }

    // ---- commands ----

    /// Ask the peer to start OTR: queue a query message for the allowed versions.
    pub fn start(&mut self) -> Result<(), Error> {
        let query = self
            .config
            .policy
            .versions()
            .query_message()
            .ok_or(UsageError::VersionNotAllowed)?;
        self.transmit.push_back(query);
        Ok(())
    }

    /// Send user text. ENCRYPTED: as a Data message. PLAINTEXT: as plaintext (tagged per
    /// policy), or under REQUIRE_ENCRYPTION queued while a query is sent. FINISHED:
    /// refused. Text containing NUL is refused (it would end the message part).
    pub fn send(&mut self, text: &str, now: u64) -> Result<Sent, Error> {
        if text.contains('\0') {
            return Err(UsageError::WrongState("text contains NUL").into());
        }
        match self.state {
            MsgState::Encrypted(_) => {
                let payload = Plaintext {
                    message: text.as_bytes().to_vec(),
                    tlvs: Vec::new(),
                };
                self.send_data(&payload, 0, now, true)?;
                Ok(Sent::Encrypted)
            }
            MsgState::Finished => Err(UsageError::WrongState(
                "the peer ended the private conversation; end or restart it",
            )
            .into()),
            MsgState::Plaintext => {
                let policy = self.config.policy;
                if policy.contains(Policy::REQUIRE_ENCRYPTION) {
                    // One query per burst of queued messages; another only when the
                    // last one is a while ago (it, or the AKE it started, may have been
                    // lost).
                    let idle = self
                        .last_query
                        .is_none_or(|t| now.saturating_sub(t) >= QUERY_RETRY_MS);
                    if self.pending.is_empty() || idle {
                        self.start()?;
                        self.last_query = Some(now);
                    }
                    self.pending.push_back(Zeroizing::new(text.to_owned()));
                    return Ok(Sent::Queued);
                }
                let mut out = text.to_owned();
                if policy.contains(Policy::SEND_WHITESPACE_TAG) && self.offer != Offer::Rejected {
                    if let Some(tag) = policy.versions().whitespace_tag() {
                        out.push_str(&tag);
                        self.offer = Offer::Sent;
                    }
                }
                self.transmit.push_back(out);
                Ok(Sent::Plaintext)
            }
        }
    }

    /// End the private conversation. ENCRYPTED: send the disconnect TLV (unfragmented, as
    /// libotr) and forget the keys. FINISHED: forget. Either way back to PLAINTEXT.
    pub fn end(&mut self, now: u64) -> Result<(), Error> {
        if matches!(self.state, MsgState::Encrypted(_)) {
            let payload = Plaintext {
                message: Vec::new(),
                tlvs: vec![Tlv {
                    tlv_type: TLV_DISCONNECTED,
                    value: Vec::new(),
                }],
            };
            self.send_data(&payload, FLAG_IGNORE_UNREADABLE, now, false)?;
        }
        self.state = MsgState::Plaintext;
        Ok(())
    }

    /// Start SMP with our secret `answer` and an optional question.
    pub fn smp_start<R: CryptoRng + ?Sized>(
        &mut self,
        question: Option<&str>,
        answer: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<(), Error> {
        let enc = self.encrypted_mut()?;
        let tlv = enc.smp.initiate(question, answer, rng)?;
        self.send_tlv(tlv, now)
    }

    /// Answer the peer's SMP request ([`Event::SmpAsked`]) with our secret.
    pub fn smp_respond<R: CryptoRng + ?Sized>(
        &mut self,
        answer: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<(), Error> {
        let enc = self.encrypted_mut()?;
        let tlv = enc.smp.respond(answer, rng)?;
        self.send_tlv(tlv, now)
    }

    /// Abort SMP (send TLV 6).
    pub fn smp_abort(&mut self, now: u64) -> Result<(), Error> {
        let enc = self.encrypted_mut()?;
        let tlv = enc.smp.abort();
        self.send_tlv(tlv, now)
    }

    /// Tell the peer to use the extra symmetric key (TLV 8) with `use_value` and
    /// `use_data`; returns the key, which the peer derives too. The spec defines it for
    /// v3; like libotr we offer it in v2 sessions as well.
    pub fn use_extra_key(
        &mut self,
        use_value: u32,
        use_data: &[u8],
        now: u64,
    ) -> Result<SymmetricKey, Error> {
        // libotr offers the key in v2 sessions too (the spec names it for v3).
        if use_data.len() > usize::from(u16::MAX) - 4 {
            return Err(UsageError::WrongState("extra key use data longer than a TLV").into());
        }
        let mut value = use_value.to_be_bytes().to_vec();
        value.extend_from_slice(use_data);
        let payload = Plaintext {
            message: Vec::new(),
            tlvs: vec![Tlv {
                tlv_type: TLV_EXTRA_SYMMETRIC_KEY,
                value,
            }],
        };
        let key = self.send_data(&payload, FLAG_IGNORE_UNREADABLE, now, true)?;
        Ok(SymmetricKey(key))
    }

    fn encrypted_mut(&mut self) -> Result<&mut Encrypted, Error> {
        match &mut self.state {
            MsgState::Encrypted(e) => Ok(e),
            _ => Err(UsageError::WrongState("not encrypted").into()),
        }
    }

    fn send_tlv(&mut self, tlv: Tlv, now: u64) -> Result<(), Error> {
        let payload = Plaintext {
            message: Vec::new(),
            tlvs: vec![tlv],
        };
        self.send_data(&payload, FLAG_IGNORE_UNREADABLE, now, true)
            .map(|_| ())
    }

    /// Encrypt and queue a Data message; returns the extra key of the pair used.
    fn send_data(
        &mut self,
        payload: &Plaintext,
        flags: u8,
        now: u64,
        fragmentable: bool,
    ) -> Result<Zeroizing<[u8; 32]>, Error> {
        let enc = self.encrypted_mut()?;
        let bytes = Zeroizing::new(payload.encode());
        let (message, extra) = enc.channel.encrypt(&bytes, flags)?;
        self.last_sent = Some(now);
        self.queue_encoded(&message, fragmentable)?;
        Ok(extra)
    }

    fn queue_encoded(&mut self, message: &EncodedMessage, fragmentable: bool) -> Result<(), Error> {
        let text = encode_message(message);
        let mms = self.config.max_message_size;
        if fragmentable && mms > 0 && text.len() > mms {
            let pieces = fragment(&text, &message.header, mms)?;
            self.transmit.extend(pieces);
        } else {
            self.transmit.push_back(text);
        }
        Ok(())
    }

    fn send_error(&mut self, text: &str) {
        self.transmit.push_back(format!("{ERROR_PREFIX}{text}"));
    }

    // ---- input ----

    /// Handle one received message body from this peer. Everything that results is
    /// available from `poll_transmit` and `poll_event`; rejected input becomes
    /// [`Event::Error`] and changes nothing.
    pub fn handle_incoming<R: CryptoRng + ?Sized>(&mut self, text: &str, now: u64, rng: &mut R) {
        #[cfg(test)]
        self.recorded.push(text.to_owned());
        match TextMessage::parse(text) {
            Ok(parsed) => self.handle_parsed(parsed, now, rng),
            Err(DecodeError::Unrecognized) => {
                // libotr ignores OTR messages it does not recognise (e.g. v1).
                self.reassembly.clear();
                self.events.push_back(Event::Error {
                    error: DecodeError::Unrecognized.into(),
                });
            }
            Err(e) => {
                self.reassembly.clear();
                // libotr answers a Data message it cannot parse while ENCRYPTED with a
                // "malformed" error (it recognises Data by its base64 prefix).
                let is_data = text.contains("?OTR:AAMD") || text.contains("?OTR:AAID");
                if is_data && matches!(self.state, MsgState::Encrypted(_)) {
                    self.send_error(MALFORMED_ERROR);
                }
                self.events.push_back(Event::Error { error: e.into() });
            }
        }
    }

    /// Handle an already classified message (the [`Router`] parses once).
    pub(crate) fn handle_parsed<R: CryptoRng + ?Sized>(
        &mut self,
        parsed: TextMessage,
        now: u64,
        rng: &mut R,
    ) {
        if let TextMessage::Fragment(frag) = parsed {
            if !self.config.policy.allows(frag.version()) {
                return;
            }
            match self.reassembly.accumulate(&frag, self.our_instance) {
                Reassembly::Complete(text) => {
                    let version = frag.version();
                    match TextMessage::parse(&text) {
                        Ok(TextMessage::Encoded(m)) if m.header.version() == version => {
                            self.handle_encoded(m, now, rng)
                        }
                        Ok(_) => self.events.push_back(Event::Error {
                            error: DecodeError::MalformedFragment.into(),
                        }),
                        Err(e) => self.events.push_back(Event::Error { error: e.into() }),
                    }
                }
                Reassembly::Incomplete | Reassembly::OtherInstance => {}
                Reassembly::Rejected(e) => self.events.push_back(Event::Error { error: e.into() }),
            }
            return;
        }
        // Any non-fragment message discards a partial reassembly (libotr).
        self.reassembly.clear();
        match parsed {
            TextMessage::Encoded(m) => self.handle_encoded(m, now, rng),
            TextMessage::Query(offered) => self.handle_offer(offered, now, rng),
            TextMessage::Error(text) => {
                self.events.push_back(Event::PeerError { text });
                // libotr answers every error with a query. Errors are unauthenticated: a
                // flood of forged ones would become a flood of queries (and of AKEs on the
                // peer's side), so at most one query per QUERY_RETRY_MS.
                let due = self
                    .last_query
                    .is_none_or(|t| now.saturating_sub(t) >= QUERY_RETRY_MS);
                if self.config.policy.contains(Policy::ERROR_START_AKE)
                    && due
                    && self.start().is_ok()
                {
                    self.last_query = Some(now);
                }
            }
            TextMessage::Plaintext { text, tag } => self.handle_plaintext(text, tag, now, rng),
            TextMessage::Fragment(_) => {}
        }
    }

    fn handle_offer<R: CryptoRng + ?Sized>(&mut self, offered: VersionSet, now: u64, rng: &mut R) {
        if let Some(version) = self.config.policy.versions().best_common(offered) {
            self.ake.initiate(version, rng);
            self.drain_ake(now);
        }
    }

    fn handle_plaintext<R: CryptoRng + ?Sized>(
        &mut self,
        text: String,
        tag: Option<VersionSet>,
        now: u64,
        rng: &mut R,
    ) {
        match tag {
            Some(offered) => {
                // libotr: a tag starts the AKE only outside ENCRYPTED.
                if self.config.policy.contains(Policy::WHITESPACE_START_AKE)
                    && !matches!(self.state, MsgState::Encrypted(_))
                {
                    self.handle_offer(offered, now, rng);
                }
            }
            None => {
                // A plaintext reply without a tag: stop tagging (spec; libotr REJECTED).
                if self.offer == Offer::Sent {
                    self.offer = Offer::Rejected;
                }
            }
        }
        if !text.is_empty() {
            self.events.push_back(Event::Received {
                text,
                encrypted: false,
            });
        }
    }

    fn drain_ake(&mut self, now: u64) {
        while let Some(m) = self.ake.poll_transmit() {
            self.ake_activity = Some(now);
            // libotr counts AKE messages as "sent" for the heartbeat, except a v3
            // DH-Commit (sent from its master context): otherwise the first message
            // received after the AKE would be answered by a heartbeat at once.
            let v3_commit =
                matches!(m.body, MessageBody::DhCommit(_)) && m.header.version() == Version::V3;
            if !v3_commit {
                self.last_sent = Some(now);
            }
            // AKE messages are small enough for every transport but still obey the
            // fragment size, as libotr does.
            if let Err(error) = self.queue_encoded(&m, true) {
                self.events.push_back(Event::Error { error });
            }
        }
    }

    fn handle_encoded<R: CryptoRng + ?Sized>(
        &mut self,
        message: EncodedMessage,
        now: u64,
        rng: &mut R,
    ) {
        if !self.config.policy.allows(message.header.version()) {
            return;
        }
        if let MessageBody::Data(_) = message.body {
            self.handle_data(message, now, rng);
            return;
        }
        match self.ake.handle_message(&message, rng) {
            Ok(step) => {
                self.drain_ake(now);
                if self.ake.their_instance().is_known() {
                    self.their_instance = self.ake.their_instance();
                }
                if step == AkeStep::Established {
                    self.go_encrypted(now, rng);
                }
            }
            Err(error) => self.events.push_back(Event::Error { error }),
        }
    }

    fn go_encrypted<R: CryptoRng + ?Sized>(&mut self, now: u64, rng: &mut R) {
        let Some(success) = self.ake.poll_established() else {
            return;
        };
        let version = success.version;
        let ssid = success.ssid;
        let their_fingerprint = success.their_long_term.fingerprint();
        if success.their_instance.is_known() {
            self.their_instance = success.their_instance;
        }
        let channel = match DataChannel::new(success, self.our_instance, rng) {
            Ok(c) => c,
            Err(error) => {
                self.events.push_back(Event::Error { error });
                return;
            }
        };
        let refreshed = self.their_fingerprint() == Some(their_fingerprint);
        let smp = Smp::new(
            self.our_key.public_key().fingerprint(),
            their_fingerprint,
            ssid.bytes,
        );
        self.state = MsgState::Encrypted(Box::new(Encrypted {
            channel,
            smp,
            ssid,
            their_fingerprint,
        }));
        self.events.push_back(Event::Encrypted {
            version,
            ssid,
            their_fingerprint,
            refreshed,
        });
        // The user's queued messages go out now, in order, encrypted.
        while let Some(text) = self.pending.pop_front() {
            let payload = Plaintext {
                message: text.as_bytes().to_vec(),
                tlvs: Vec::new(),
            };
            if let Err(error) = self.send_data(&payload, 0, now, true) {
                self.events.push_back(Event::Error { error });
            }
        }
    }

    fn handle_data<R: CryptoRng + ?Sized>(
        &mut self,
        message: EncodedMessage,
        now: u64,
        rng: &mut R,
    ) {
        let MessageBody::Data(data) = &message.body else {
            return;
        };
        let ignore_unreadable = data.flags & FLAG_IGNORE_UNREADABLE != 0;
        let MsgState::Encrypted(enc) = &mut self.state else {
            // libotr: no error reply (the message may be for another instance).
            if !ignore_unreadable {
                self.events.push_back(Event::Error {
                    error: PeerError::NotEncrypted.into(),
                });
            }
            return;
        };
        let received = match enc.channel.decrypt(&message.header, data, rng) {
            Ok(r) => r,
            Err(error) => {
                if ignore_unreadable {
                    return;
                }
                let reply = !matches!(
                    error,
                    Error::Peer(PeerError::CounterNotIncreasing | PeerError::WrongVersion)
                );
                self.events.push_back(Event::Error { error });
                if reply {
                    self.send_error(UNREADABLE_ERROR);
                }
                return;
            }
        };
        let plain = Plaintext::parse(&received.payload);
        if !plain.message.is_empty() {
            self.events.push_back(Event::Received {
                text: String::from_utf8_lossy(&plain.message).into_owned(),
                encrypted: true,
            });
        }
        let disconnect = plain.tlvs.iter().any(|t| t.tlv_type == TLV_DISCONNECTED);
        // libotr looks up each TLV type once (the first occurrence).
        if let Some(tlv) = plain
            .tlvs
            .iter()
            .find(|t| t.tlv_type == TLV_EXTRA_SYMMETRIC_KEY)
        {
            // libotr reports TLV 8 (at least 4 bytes) whatever the version.
            if let Some((use_bytes, use_data)) = tlv.value.split_first_chunk::<4>() {
                self.events.push_back(Event::ExtraSymmetricKey {
                    use_value: u32::from_be_bytes(*use_bytes),
                    use_data: use_data.to_vec(),
                    key: SymmetricKey(received.extra_key.clone()),
                });
            }
        }
        if disconnect {
            self.state = MsgState::Finished;
            self.events.push_back(Event::Finished);
            return;
        }
        if let Some(tlv) = plain.tlvs.iter().find(|t| is_smp_tlv(t.tlv_type)) {
            let step = enc.smp.handle_tlv(tlv, rng);
            if let Some(event) = step.event {
                self.events.push_back(smp_event(event));
            }
            if let Some(reply) = step.reply {
                if let Err(error) = self.send_tlv(reply, now) {
                    self.events.push_back(Event::Error { error });
                }
            }
        }
        // Heartbeat: the peer sent something real and we have been quiet.
        let quiet = self
            .last_sent
            .is_none_or(|t| now.saturating_sub(t) >= HEARTBEAT_INTERVAL_MS);
        if !plain.message.is_empty() && quiet {
            if let Err(error) =
                self.send_data(&Plaintext::default(), FLAG_IGNORE_UNREADABLE, now, true)
            {
                self.events.push_back(Event::Error { error });
            }
        }
    }

    /// Messages received by this session so far, for replaying a failing transcript in
    /// tests.
    #[cfg(test)]
    pub(crate) fn recorded(&self) -> &[String] {
        &self.recorded
    }
}

fn smp_event(event: SmpEvent) -> Event {
    let authenticates_peer = event.authenticates_peer();
    match event {
        SmpEvent::Asked { question } => Event::SmpAsked { question },
        SmpEvent::Succeeded { .. } => Event::SmpSucceeded { authenticates_peer },
        SmpEvent::Failed => Event::SmpFailed,
        SmpEvent::Aborted => Event::SmpAborted,
        SmpEvent::Cheated { reason } => Event::SmpCheated { reason },
        SmpEvent::OutOfOrder { tlv_type, state } => Event::SmpOutOfOrder { tlv_type, state },
    }
}

/// Routes incoming text to the [`Session`] of the right peer instance, as libotr's master
/// and child contexts do.
///
/// - v3 messages and fragments go to the session of their sender tag, created on first
///   sight. Those addressed to another instance of ours (receiver tag neither ours nor 0)
///   are dropped. A DH-Key answering the master's DH-Commit (sent with receiver 0 after a
///   query or tag) takes the master's AKE state into that instance's session (libotr
///   `otrl_auth_copy_on_key`; we move it, so only the first instance to answer a
///   broadcast commit gets a session from it). Messages and fragments with a reserved
///   sender tag (below 0x100) or receiver tag (1 to 0xFF) are dropped silently too.
/// - Everything without an instance tag (v2 messages, queries, whitespace tags, errors,
///   plaintext) goes to the master session.
///
/// Sessions are reached with [`Router::session_mut`]; [`Router::best_mut`] picks the one
/// to send to (the most recently encrypted instance, else the master). Drain each session
/// after every input ([`Router::poll_transmit`] and [`Router::poll_event`] drain all of
/// them).
pub struct Router {
    our_key: Arc<DsaPrivateKey>,
    our_instance: InstanceTag,
    config: SessionConfig,
    master: Session,
    /// Per peer instance, with the order in which they became encrypted.
    children: Vec<(Session, u64)>,
    encrypted_counter: u64,
}

impl core::fmt::Debug for Router {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Router")
            .field("our_instance", &self.our_instance)
            .field("master", &self.master)
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

/// At most this many peer instances are tracked, so that a flood of sender tags cannot grow
/// memory without bound. When full, the oldest instance that never became encrypted is
/// forgotten to make room.
pub const MAX_INSTANCES: usize = 32;

impl Router {
    /// A router for our key, instance tag and settings.
    pub fn new(
        our_key: Arc<DsaPrivateKey>,
        our_instance: InstanceTag,
        config: SessionConfig,
    ) -> Self {
        Self {
            master: Session::new(our_key.clone(), our_instance, config),
            our_key,
            our_instance,
            config,
            children: Vec::new(),
            encrypted_counter: 0,
        }
    }

    /// The master session (v2, and the start of every v3 AKE we initiate).
    pub fn master_mut(&mut self) -> &mut Session {
        &mut self.master
    }

    /// The session for a peer instance (`UNKNOWN` = the master).
    pub fn session_mut(&mut self, instance: InstanceTag) -> Option<&mut Session> {
        if !instance.is_known() {
            return Some(&mut self.master);
        }
        self.children
            .iter_mut()
            .find(|(s, _)| s.their_instance() == instance)
            .map(|(s, _)| s)
    }

    /// The peer instances we have sessions with.
    pub fn instances(&self) -> Vec<InstanceTag> {
        self.children
            .iter()
            .map(|(s, _)| s.their_instance())
            .collect()
    }

    /// The session to send to: the instance that most recently became encrypted, if it is
    /// still ENCRYPTED or FINISHED (then sending is refused rather than falling back to
    /// plaintext), else the master.
    pub fn best_mut(&mut self) -> &mut Session {
        let best = self
            .children
            .iter()
            .enumerate()
            .filter(|(_, (s, order))| *order > 0 && s.state() != MessageState::Plaintext)
            .max_by_key(|(_, (_, order))| *order)
            .map(|(i, _)| i);
        match best.and_then(|i| self.children.get_mut(i)) {
            Some((s, _)) => s,
            None => &mut self.master,
        }
    }

    /// Handle one received message body; returns the instance whose session took it
    /// (`UNKNOWN` for the master), or `None` if it was dropped.
    pub fn handle_incoming<R: CryptoRng + ?Sized>(
        &mut self,
        text: &str,
        now: u64,
        rng: &mut R,
    ) -> Option<InstanceTag> {
        let parsed = match TextMessage::parse(text) {
            Ok(p) => p,
            // A v3 message or fragment with a reserved sender tag (below 0x100) or receiver
            // tag (1 to 0xFF): never for us. Discarded silently, as the spec says.
            Err(DecodeError::InvalidInstanceTag(_)) => return None,
            Err(_) => {
                self.master.handle_incoming(text, now, rng);
                return Some(InstanceTag::UNKNOWN);
            }
        };
        let (sender, receiver, kind) = match &parsed {
            TextMessage::Encoded(EncodedMessage {
                header: Header::V3 { sender, receiver },
                body,
            }) => (*sender, *receiver, Some(body.message_type())),
            TextMessage::Fragment(f) => match f.instances {
                Some((s, r)) => (s, r, None),
                None => {
                    self.master.handle_parsed(parsed, now, rng);
                    self.after_input(now);
                    return Some(InstanceTag::UNKNOWN);
                }
            },
            _ => {
                self.master.handle_parsed(parsed, now, rng);
                self.after_input(now);
                return Some(InstanceTag::UNKNOWN);
            }
        };
        if receiver.is_known() && receiver != self.our_instance {
            return None;
        }
        let is_dh_key = kind == Some(TYPE_DH_KEY);
        let index = match self
            .children
            .iter()
            .position(|(s, _)| s.their_instance() == sender)
        {
            Some(i) => i,
            None => {
                // libotr makes a new instance context only for a DH-Commit or a DH-Key
                // (and fragments, whose type is not known yet); anything else from an
                // unknown instance is ignored.
                if !matches!(kind, None | Some(TYPE_DH_COMMIT | TYPE_DH_KEY)) {
                    return None;
                }
                if self.children.len() >= MAX_INSTANCES {
                    // Make room by forgetting the oldest instance that never got
                    // encrypted; if every instance is in use, drop the message.
                    let idle = self.children.iter().position(|(s, order)| {
                        *order == 0 && s.state() == MessageState::Plaintext
                    })?;
                    self.children.remove(idle);
                }
                self.children.push((
                    Session::with_peer(
                        self.our_key.clone(),
                        self.our_instance,
                        sender,
                        self.config,
                    ),
                    0,
                ));
                self.children.len().saturating_sub(1)
            }
        };
        let (child, _) = self.children.get_mut(index)?;
        if is_dh_key
            && self.master.ake.state() == AuthStateName::AwaitingDhKey
            && child.ake.state() != AuthStateName::AwaitingDhKey
        {
            let fresh = Ake::new(
                self.our_key.clone(),
                self.our_instance,
                InstanceTag::UNKNOWN,
            );
            child.ake = core::mem::replace(&mut self.master.ake, fresh);
        }
        child.handle_parsed(parsed, now, rng);
        self.after_input(now);
        Some(sender)
    }

    /// Bookkeeping after an input: note newly encrypted children and hand them the
    /// master's queued user messages.
    fn after_input(&mut self, now: u64) {
        for (child, order) in &mut self.children {
            if child.state() == MessageState::Encrypted {
                if *order == 0
                    || child
                        .events
                        .iter()
                        .any(|e| matches!(e, Event::Encrypted { .. }))
                {
                    self.encrypted_counter = self.encrypted_counter.saturating_add(1);
                    *order = self.encrypted_counter;
                }
                while let Some(text) = self.master.pending.pop_front() {
                    let payload = Plaintext {
                        message: text.as_bytes().to_vec(),
                        tlvs: Vec::new(),
                    };
                    if let Err(error) = child.send_data(&payload, 0, now, true) {
                        child.events.push_back(Event::Error { error });
                    }
                }
            }
        }
    }

    /// Send user text through [`Router::best_mut`].
    pub fn send(&mut self, text: &str, now: u64) -> Result<Sent, Error> {
        self.best_mut().send(text, now)
    }

    /// The earliest deadline of any session ([`Session::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<u64> {
        core::iter::once(&self.master)
            .chain(self.children.iter().map(|(s, _)| s))
            .filter_map(Session::poll_timeout)
            .min()
    }

    /// Pass time to every session ([`Session::handle_timeout`]).
    pub fn handle_timeout(&mut self, now: u64) {
        self.master.handle_timeout(now);
        for (s, _) in &mut self.children {
            s.handle_timeout(now);
        }
    }

    /// The next message body to send, from any session (master first).
    pub fn poll_transmit(&mut self) -> Option<String> {
        if let Some(t) = self.master.poll_transmit() {
            return Some(t);
        }
        self.children
            .iter_mut()
            .find_map(|(s, _)| s.poll_transmit())
    }

    /// The next event from any session, with the instance it concerns (`UNKNOWN` for the
    /// master).
    pub fn poll_event(&mut self) -> Option<(InstanceTag, Event)> {
        if let Some(e) = self.master.poll_event() {
            return Some((InstanceTag::UNKNOWN, e));
        }
        self.children
            .iter_mut()
            .find_map(|(s, _)| s.poll_event().map(|e| (s.their_instance(), e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_rng::TestRng;

    fn key(seed: u64) -> Arc<DsaPrivateKey> {
        Arc::new(DsaPrivateKey::generate(&mut TestRng::new(seed)))
    }

    /// Run two sessions until quiet; returns everything each side transmitted.
    fn drive(a: &mut Session, b: &mut Session, ra: &mut TestRng, rb: &mut TestRng) {
        for _ in 0..20 {
            let mut moved = false;
            while let Some(t) = a.poll_transmit() {
                moved = true;
                b.handle_incoming(&t, 0, rb);
            }
            while let Some(t) = b.poll_transmit() {
                moved = true;
                a.handle_incoming(&t, 0, ra);
            }
            if !moved {
                return;
            }
        }
    }

    /// The replay hook: a session records what it received; feeding the recording to a
    /// fresh session with the same key, tag and RNG seed reproduces its state exactly,
    /// so a failing transcript (from a fuzzer or a bug report) can be replayed.
    #[test]
    fn recorded_transcript_replays_deterministically() {
        let (ka, kb) = (key(1), key(2));
        let cfg = SessionConfig::default();
        let tag_a = InstanceTag::new(0x1000).unwrap();
        let tag_b = InstanceTag::new(0x2000).unwrap();
        let mut a = Session::new(ka.clone(), tag_a, cfg);
        let mut b = Session::new(kb.clone(), tag_b, cfg);
        let (mut ra, mut rb) = (TestRng::new(10), TestRng::new(20));
        a.start().unwrap();
        drive(&mut a, &mut b, &mut ra, &mut rb);
        a.send("one", 0).unwrap();
        drive(&mut a, &mut b, &mut ra, &mut rb);
        assert_eq!(b.state(), MessageState::Encrypted);
        let transcript = b.recorded().to_vec();
        assert!(transcript.len() >= 3);

        let mut replayed = Session::new(kb, tag_b, cfg);
        let mut rr = TestRng::new(20);
        let mut events = Vec::new();
        for text in &transcript {
            replayed.handle_incoming(text, 0, &mut rr);
            while replayed.poll_transmit().is_some() {}
            events.extend(std::iter::from_fn(|| replayed.poll_event()));
        }
        assert_eq!(replayed.state(), MessageState::Encrypted);
        assert_eq!(replayed.ssid(), b.ssid());
        assert!(events.contains(&Event::Received {
            text: "one".into(),
            encrypted: true
        }));
        // The replayed session is a working peer of `a`.
        replayed.send("two", 0).unwrap();
        let t = replayed.poll_transmit().unwrap();
        a.handle_incoming(&t, 0, &mut ra);
        let got: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
        assert!(got.contains(&Event::Received {
            text: "two".into(),
            encrypted: true
        }));
    }

    #[test]
    fn policy_presets_match_libotr_bits() {
        assert_eq!(Policy::MANUAL, Policy::ALLOW_V2 | Policy::ALLOW_V3);
        assert_eq!(
            Policy::OPPORTUNISTIC,
            Policy::MANUAL
                | Policy::SEND_WHITESPACE_TAG
                | Policy::WHITESPACE_START_AKE
                | Policy::ERROR_START_AKE
        );
        assert_eq!(
            Policy::ALWAYS,
            Policy::MANUAL
                | Policy::REQUIRE_ENCRYPTION
                | Policy::WHITESPACE_START_AKE
                | Policy::ERROR_START_AKE
        );
        assert!(Policy::NEVER.versions().query_message().is_none());
        let mut s = Session::new(
            key(1),
            InstanceTag::new(0x100).unwrap(),
            SessionConfig {
                policy: Policy::NEVER,
                max_message_size: 0,
            },
        );
        assert!(s.start().is_err());
        // NEVER: plaintext goes out as is; queries are ignored.
        assert_eq!(s.send("x", 0), Ok(Sent::Plaintext));
        s.handle_incoming("?OTRv23?", 0, &mut TestRng::new(1));
        assert_eq!(s.poll_transmit().as_deref(), Some("x"));
        assert_eq!(s.poll_transmit(), None);
    }

    #[test]
    fn debug_shows_no_text_or_keys() {
        let mut s = Session::new(
            key(1),
            InstanceTag::new(0x100).unwrap(),
            SessionConfig {
                policy: Policy::ALWAYS,
                max_message_size: 0,
            },
        );
        s.send("very secret words", 0).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("queued: 1"), "{shown}");
    }
}
