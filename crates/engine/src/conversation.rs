//! One conversation: an account and a contact (bare address), with its OTR [`Router`] (one
//! [`candado_otr::Session`] per peer instance), the outgoing queue, the resource lock and the padlock.
//!
//! # The outgoing queue
//!
//! A typed message **waits** instead of being sent when the conversation must be private and is not
//! encrypted yet: under the "always" policy, or after `Conversation::start_private` until the
//! private conversation is up. Waiting messages are sent (encrypted) as soon as the AKE completes —
//! unless the contact's key changed from one we had verified: then they stay queued until the new
//! fingerprint is trusted, and a [`Notice::FingerprintChanged`] warns the person. A key that
//! differs from the one of the last private conversation in this chat (never verified) brings the
//! same warning; trust is never carried over to the new key. The engine checks
//! this itself before every send, so no policy change or router state can make typed text leave in
//! plaintext while the conversation must be private.
//!
//! # Resource locking
//!
//! Messages go to the bare address until the contact writes from a full address; from then on they
//! go to that resource (OTR sessions live between two clients, not two accounts), until that
//! resource goes offline.

use std::collections::VecDeque;
use std::sync::Arc;

use candado_api::{
    AccountId, ChatMessage, Delivery, Direction, Event, Notice, OtrPolicy, Padlock, PadlockView,
};
use candado_otr::crypto::dsa::{DsaPrivateKey, Fingerprint};
use candado_otr::crypto::CryptoRng;
use candado_otr::wire::message::InstanceTag;
use candado_otr::{Event as OtrEvent, MessageState, Policy, Router, Sent, SessionConfig};
use jid::{BareJid, Jid};
use zeroize::Zeroizing;

use crate::records::{Trust, TrustStore};
use crate::Out;

/// Under a policy that requires encryption, a new query is sent for queued messages at most this
/// often (the first may have been lost).
const QUERY_RETRY_MS: u64 = 5_000;

fn otr_policy(p: OtrPolicy) -> Policy {
    match p {
        OtrPolicy::Manual => Policy::MANUAL,
        OtrPolicy::Opportunistic => Policy::OPPORTUNISTIC,
        OtrPolicy::Always => Policy::ALWAYS,
    }
}

/// A message waiting for the private conversation.
struct Queued {
    id: String,
    text: Zeroizing<String>,
    at: u64,
}

impl core::fmt::Debug for Queued {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Queued")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What [`Conversation::process`] produced for the account to do.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Message bodies to send to [`Conversation::destination`].
    pub transmit: Vec<String>,
    /// The trust store changed and must be saved.
    pub trust_changed: bool,
    /// The user message these bodies carry, if any (for bounce reports).
    pub message_id: Option<String>,
}

/// One conversation. See the module docs.
#[derive(Debug)]
pub(crate) struct Conversation {
    account: AccountId,
    peer: BareJid,
    peer_str: String,
    key: Arc<DsaPrivateKey>,
    instance: InstanceTag,
    router: Router,
    policy: OtrPolicy,
    /// The person asked for a private conversation (until they end it).
    want_private: bool,
    queue: VecDeque<Queued>,
    /// The key changed from a verified one: the queue waits for a trust decision.
    held: bool,
    /// The input being processed came late (`<delay/>`): see [`Conversation::incoming_delayed`].
    delayed_input: bool,
    locked: Option<Jid>,
    /// The instance whose SMP question we are answering.
    smp_instance: Option<InstanceTag>,
    last_query: Option<u64>,
    /// The padlock last shown.
    shown: Option<PadlockView>,
    /// The last user message handed to the router, until its bodies are sent.
    last_sent: Option<String>,
    /// The contact's fingerprint in the last private conversation started here.
    last_fingerprint: Option<Fingerprint>,
}

impl Conversation {
    pub(crate) fn new(
        account: AccountId,
        peer: BareJid,
        key: Arc<DsaPrivateKey>,
        instance: InstanceTag,
        policy: OtrPolicy,
    ) -> Self {
        Self {
            account,
            peer_str: peer.to_string(),
            peer,
            router: Router::new(key.clone(), instance, config(policy)),
            key,
            instance,
            policy,
            want_private: false,
            queue: VecDeque::new(),
            held: false,
            delayed_input: false,
            locked: None,
            smp_instance: None,
            last_query: None,
            shown: None,
            last_sent: None,
            last_fingerprint: None,
        }
    }

    /// Where messages go: the locked resource, else the bare address.
    pub(crate) fn destination(&self) -> Jid {
        self.locked
            .clone()
            .unwrap_or_else(|| Jid::from(self.peer.clone()))
    }

    /// A resource of the contact went offline: unlock if it was ours.
    pub(crate) fn resource_gone(&mut self, from: &Jid) {
        if from.is_bare() || self.locked.as_ref() == Some(from) {
            self.locked = None;
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        self.router.poll_timeout()
    }

    pub(crate) fn handle_timeout(&mut self, now: u64) {
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
        }
    }

    fn any_private(&mut self) -> bool {
        let instances = self.router.instances();
        let master = self.router.master_mut().state() != MessageState::Plaintext;
        master
            || instances.into_iter().any(|i| {
                self.router
                    .session_mut(i)
                    .is_some_and(|s| s.state() != MessageState::Plaintext)
            })
    }

    /// Changes the policy. The router is rebuilt at once when no private session exists; otherwise
    /// the engine applies the new policy to its own decisions (queueing) right away and the router
    /// keeps the settings of the running session.
    pub(crate) fn set_policy(&mut self, policy: OtrPolicy) {
        if policy == self.policy {
            return;
        }
        self.policy = policy;
        if !self.any_private() {
            self.router = Router::new(self.key.clone(), self.instance, config(policy));
        }
    }

    fn must_be_private(&self) -> bool {
        self.policy == OtrPolicy::Always || self.want_private
    }

    /// A message body from the contact.
    pub(crate) fn incoming<R: CryptoRng>(
        &mut self,
        from: Jid,
        _id: Option<String>,
        body: &str,
        out: &mut Out<'_, R>,
    ) {
        let now = out.now;
        // Only input the router took moves the lock: an OTR message for another instance of
        // ours (or from an unknown one) is dropped and must not redirect what we send.
        let taken = self.router.handle_incoming(body, now, out.rng).is_some();
        if taken && from.is_full() {
            self.locked = Some(from);
        }
    }

    /// An OTR message that came late (with `<delay/>`): resent by the server after the stream
    /// was resumed (seconds old, its keys still current), or from offline storage or an archive
    /// (its keys probably gone). A Data message (or a fragment) is given to OTR, which shows it
    /// if it still decrypts, and drops it if its counter shows it was seen already; if it does
    /// not decrypt, it becomes the "stored encrypted message" notice, and nothing is sent back
    /// for it (no `?OTR Error:`, no new key exchange). Any other late OTR message (query, key
    /// exchange, error) is only noticed: acting on it now would start exchanges nobody asked for.
    pub(crate) fn incoming_delayed<R: CryptoRng>(&mut self, body: &str, out: &mut Out<'_, R>) {
        let body = body.trim_start();
        let data = ["?OTR:AAMD", "?OTR:AAID", "?OTR|", "?OTR,"]
            .iter()
            .any(|p| body.starts_with(p));
        if !data {
            self.notice(Notice::StoredEncryptedMessage, out);
            return;
        }
        self.delayed_input = true;
        let _ = self.router.handle_incoming(body, out.now, out.rng);
    }

    /// The person typed `text`: send it, or queue it while the conversation must become private.
    pub(crate) fn send_text<R: CryptoRng>(
        &mut self,
        text: String,
        out: &mut Out<'_, R>,
    ) -> Result<(), String> {
        let now = out.now;
        let id = out.local_id();
        let state = self.router.best_mut().state();
        if state == MessageState::Finished {
            return Err(
                "the contact ended the private conversation: end it or start a new one".into(),
            );
        }
        // Held: the key changed from a verified one. What is typed waits with the queue for the
        // person's decision instead of going to the new key.
        if (state != MessageState::Encrypted || self.held) && self.must_be_private() {
            if state != MessageState::Encrypted {
                self.ask_for_otr(now, false);
            }
            self.queue.push_back(Queued {
                id: id.clone(),
                text: Zeroizing::new(text.clone()),
                at: now,
            });
            self.emit_message(id, text, true, Delivery::Queued, now, out);
            return Ok(());
        }
        self.last_sent = Some(id.clone());
        match self.router.send(&text, now) {
            Ok(Sent::Encrypted) => {
                self.emit_message(id, text, true, Delivery::Sent, now, out);
                Ok(())
            }
            Ok(Sent::Plaintext) => {
                self.emit_message(id, text, false, Delivery::Sent, now, out);
                Ok(())
            }
            // The router only queues under REQUIRE_ENCRYPTION, which `must_be_private` covers;
            // if it ever does, the text still never leaves in plaintext.
            Ok(Sent::Queued) => {
                self.emit_message(id, text, true, Delivery::Queued, now, out);
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn ask_for_otr(&mut self, now: u64, force: bool) {
        let due = self
            .last_query
            .is_none_or(|t| now.saturating_sub(t) >= QUERY_RETRY_MS);
        if force || due {
            // MANUAL, OPPORTUNISTIC and ALWAYS all allow v2 and v3: a query can always be built.
            let _ = self.router.master_mut().start();
            self.last_query = Some(now);
        }
    }

    fn emit_message<R>(
        &self,
        id: String,
        text: String,
        encrypted: bool,
        delivery: Delivery,
        at: u64,
        out: &mut Out<'_, R>,
    ) {
        out.emit(Event::Message {
            account: self.account.clone(),
            peer: self.peer_str.clone(),
            message: ChatMessage {
                id,
                direction: if delivery == Delivery::Received {
                    Direction::Incoming
                } else {
                    Direction::Outgoing
                },
                text: text.into(),
                encrypted,
                delivery,
                at,
            },
        });
    }

    fn notice<R>(&self, notice: Notice, out: &mut Out<'_, R>) {
        out.emit(Event::Notice {
            account: self.account.clone(),
            peer: self.peer_str.clone(),
            notice,
        });
    }

    /// Start (or refresh) the private conversation.
    pub(crate) fn start_private(&mut self, now: u64) {
        self.want_private = true;
        self.ask_for_otr(now, true);
    }

    /// End the private conversation: the disconnect TLV goes out and every session key is forgotten.
    pub(crate) fn end_private<R>(&mut self, out: &mut Out<'_, R>) {
        let now = out.now;
        self.want_private = false;
        for instance in self.router.instances() {
            if let Some(s) = self.router.session_mut(instance) {
                let was_private = s.state() != MessageState::Plaintext;
                let _ = s.end(now);
                if was_private {
                    self.notice(Notice::PrivateEnded, out);
                }
            }
        }
        let _ = self.router.master_mut().end(now);
        self.smp_instance = None;
    }

    /// Start SMP with the best session.
    pub(crate) fn smp_ask<R: CryptoRng>(
        &mut self,
        question: Option<&str>,
        answer: &str,
        out: &mut Out<'_, R>,
    ) -> Result<(), String> {
        let now = out.now;
        let session = self.router.best_mut();
        if session.state() != MessageState::Encrypted {
            return Err("verification needs a private conversation".into());
        }
        session
            .smp_start(question, answer.as_bytes(), now, out.rng)
            .map_err(|e| e.to_string())
    }

    /// Answer the contact's SMP question.
    pub(crate) fn smp_answer<R: CryptoRng>(
        &mut self,
        answer: &str,
        out: &mut Out<'_, R>,
    ) -> Result<(), String> {
        let now = out.now;
        let instance = self.smp_instance.take().unwrap_or(InstanceTag::UNKNOWN);
        let session = match self.router.session_mut(instance) {
            Some(s) => s,
            None => self.router.best_mut(),
        };
        session
            .smp_respond(answer.as_bytes(), now, out.rng)
            .map_err(|e| e.to_string())
    }

    pub(crate) fn smp_abort(&mut self, now: u64) -> Result<(), String> {
        self.smp_instance = None;
        self.router
            .best_mut()
            .smp_abort(now)
            .map_err(|e| e.to_string())
    }

    /// The person trusted a fingerprint: release messages held for it.
    pub(crate) fn trust_changed(&mut self) {
        self.held = false;
    }

    /// Drains the router: events become UI events, queued messages are released when allowed,
    /// and the padlock is re-evaluated. Returns what to transmit.
    pub(crate) fn process<R: CryptoRng>(
        &mut self,
        _account: &AccountId,
        trust: &mut TrustStore,
        out: &mut Out<'_, R>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        // What OTR answers a late message with (an error, a query) is not sent.
        if self.delayed_input {
            while self.router.poll_transmit().is_some() {}
        }
        // Events can release queued messages, which produce more transmits: loop until quiet.
        for _ in 0..8 {
            let mut moved = false;
            while let Some(body) = self.router.poll_transmit() {
                outcome.transmit.push(body);
                moved = true;
            }
            while let Some((instance, event)) = self.router.poll_event() {
                moved = true;
                self.otr_event(instance, event, trust, &mut outcome, out);
            }
            if self.release_queue(trust, out) {
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.delayed_input = false;
        self.update_padlock(trust, out);
        outcome.message_id = self.last_sent.take();
        outcome
    }

    fn otr_event<R: CryptoRng>(
        &mut self,
        instance: InstanceTag,
        event: OtrEvent,
        trust: &mut TrustStore,
        outcome: &mut Outcome,
        out: &mut Out<'_, R>,
    ) {
        let peer = self.peer_str.clone();
        match event {
            OtrEvent::Encrypted {
                their_fingerprint, ..
            } => {
                let known = trust.trust(&peer, &their_fingerprint);
                // A new AKE in this conversation with another long-term key than the last
                // one: warn, trusted before or not (a key swapped mid-conversation).
                let swapped = self
                    .last_fingerprint
                    .replace(their_fingerprint)
                    .is_some_and(|last| last != their_fingerprint);
                if known.is_none() {
                    let changed_trusted = trust.trusts_another(&peer, &their_fingerprint);
                    if changed_trusted {
                        self.held = true;
                    }
                    if changed_trusted || swapped {
                        self.notice(
                            Notice::FingerprintChanged {
                                fingerprint: their_fingerprint.to_string(),
                            },
                            out,
                        );
                    }
                    outcome.trust_changed |= trust.set(&peer, their_fingerprint, Trust::Seen);
                } else {
                    self.held = false;
                }
                self.want_private = true;
                self.notice(
                    Notice::PrivateStarted {
                        verified: known == Some(Trust::Trusted),
                    },
                    out,
                );
            }
            OtrEvent::Finished => self.notice(Notice::PeerEndedPrivate, out),
            OtrEvent::Received { text, encrypted } => {
                if text.is_empty() {
                    return; // heartbeat or a TLV-only message
                }
                if !encrypted && self.router.best_mut().state() == MessageState::Encrypted {
                    self.notice(Notice::UnencryptedWhilePrivate, out);
                }
                // Pidgin and other libpurple clients put HTML inside OTR: show the text meant.
                let text = if encrypted {
                    crate::html::html_to_text(&text).unwrap_or(text)
                } else {
                    text
                };
                let id = out.local_id();
                let now = out.now;
                self.emit_message(id, text, encrypted, Delivery::Received, now, out);
            }
            OtrEvent::PeerError { text } => {
                self.notice(Notice::PeerError { text: text.into() }, out)
            }
            // A Data message whose counter did not increase is a duplicate (a stream
            // resend) or a replay: already shown once or never valid; dropped silently.
            OtrEvent::Error {
                error: candado_otr::Error::Peer(candado_otr::PeerError::CounterNotIncreasing),
            } => {}
            OtrEvent::Error { .. } if self.delayed_input => {
                self.notice(Notice::StoredEncryptedMessage, out)
            }
            OtrEvent::Error { .. } => self.notice(Notice::Unreadable, out),
            OtrEvent::SmpAsked { question } => {
                self.smp_instance = Some(instance);
                out.emit(Event::SmpQuestion {
                    account: self.account.clone(),
                    peer,
                    question: question.map(Into::into),
                });
            }
            OtrEvent::SmpSucceeded { authenticates_peer } => {
                if authenticates_peer {
                    let fp = self.fingerprint_of(instance);
                    if let Some(fp) = fp {
                        outcome.trust_changed |= trust.set(&peer, fp, Trust::Trusted);
                        self.held = false;
                    }
                    self.notice(Notice::Verified, out);
                } else {
                    self.notice(Notice::AnsweredCorrectly, out);
                }
            }
            OtrEvent::SmpFailed => self.notice(Notice::VerificationFailed, out),
            OtrEvent::SmpAborted | OtrEvent::SmpCheated { .. } | OtrEvent::SmpOutOfOrder { .. } => {
                self.notice(Notice::VerificationAborted, out)
            }
            _ => {}
        }
    }

    fn fingerprint_of(&mut self, instance: InstanceTag) -> Option<Fingerprint> {
        self.router
            .session_mut(instance)
            .and_then(|s| s.their_fingerprint())
    }

    /// Sends queued messages if the best session is encrypted and its key is not a changed one.
    fn release_queue<R>(&mut self, trust: &TrustStore, out: &mut Out<'_, R>) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let now = out.now;
        let session = self.router.best_mut();
        if session.state() != MessageState::Encrypted {
            return false;
        }
        let Some(fp) = session.their_fingerprint() else {
            return false;
        };
        if self.held && trust.trust(&self.peer_str, &fp) != Some(Trust::Trusted) {
            return false;
        }
        let mut released = false;
        while let Some(q) = self.queue.pop_front() {
            match self.router.send(&q.text, now) {
                Ok(Sent::Encrypted) => {
                    released = true;
                    self.last_sent = Some(q.id.clone());
                    let text = q.text.to_string();
                    self.emit_message(q.id, text, true, Delivery::Sent, q.at, out);
                }
                _ => {
                    // Not encrypted after all: keep it (and everything after it) waiting.
                    self.queue.push_front(q);
                    break;
                }
            }
        }
        released
    }

    fn padlock(&mut self, trust: &TrustStore) -> PadlockView {
        let queued = self.queue.len();
        let session = self.router.best_mut();
        let state = session.state();
        let fp = session.their_fingerprint();
        let padlock = match (state, fp) {
            (MessageState::Encrypted, Some(fp)) => {
                if trust.trust(&self.peer_str, &fp) == Some(Trust::Trusted) {
                    Padlock::Verified
                } else {
                    Padlock::EncryptedUnverified
                }
            }
            _ => Padlock::NotEncrypted,
        };
        PadlockView {
            state: padlock,
            fingerprint: fp.map(|f| f.to_string()),
            finished: state == MessageState::Finished,
            queued,
        }
    }

    /// Emits [`Event::Padlock`] if it changed since last shown.
    pub(crate) fn update_padlock<R>(&mut self, trust: &TrustStore, out: &mut Out<'_, R>) {
        let view = self.padlock(trust);
        if self.shown.as_ref() != Some(&view) {
            self.shown = Some(view.clone());
            out.emit(Event::Padlock {
                account: self.account.clone(),
                peer: self.peer_str.clone(),
                padlock: view,
            });
        }
    }

    /// The padlock as last shown.
    pub(crate) fn shown(&self) -> Option<&PadlockView> {
        self.shown.as_ref()
    }
}

fn config(policy: OtrPolicy) -> SessionConfig {
    SessionConfig {
        policy: otr_policy(policy),
        max_message_size: 0,
    }
}
