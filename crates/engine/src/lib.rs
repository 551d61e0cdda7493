//! Candado's application logic, written sans-IO: accounts, contacts, conversations, OTR policy,
//! trust and the outgoing queue, on top of [`candado_xmpp`] and [`candado_otr`].
//!
//! The engine never touches a socket, a clock, storage or the system's randomness. The runtime (a
//! Web Worker in the browser, or a test natively) feeds it inputs and performs the [`Effect`]s it
//! asks for; randomness comes from the `R: CryptoRng` it was built with, time is the `now`
//! (milliseconds on any monotonic clock) passed to every input.
//!
//! # API taxonomy
//!
//! * **Construction:** [`Engine::new`]`(rng)`; then [`Engine::load_record`] for every stored record
//!   of the kinds in [`records::kinds`] (after the vault is unlocked).
//! * **Getters:** [`Engine::connection_state`] (the probe), [`Engine::account_state`],
//!   [`Engine::padlock`].
//! * **Inputs (`handle_*`), each with `now`:**
//!
//!   | input | meaning |
//!   |---|---|
//!   | [`Engine::handle_command`] | a [`Command`] from the UI |
//!   | [`Engine::handle_malformed_command`] | a message from the UI that did not decode |
//!   | [`Engine::handle_socket_open`] | the socket of an [`Effect::OpenSocket`] opened |
//!   | [`Engine::handle_frame`] | one WebSocket text frame arrived on a socket |
//!   | [`Engine::handle_socket_closed`] | a socket closed, or could not be opened |
//!   | [`Engine::handle_timeout`] | the deadline from [`Engine::poll_timeout`] passed |
//! * **Outputs:** [`Engine::poll_effect`] (perform in order), [`Engine::poll_timeout`] (when to call
//!   `handle_timeout`).
//!
//! After each input, drain [`Engine::poll_effect`] until it returns `None` and perform the effects in
//! order, then re-arm the timer from [`Engine::poll_timeout`].
//!
//! # What happens where
//!
//! ```text
//!  Command ──▶ Engine ─┬─ probe (Connect/Disconnect: is the server there and speaking XMPP?)
//!                      └─ Account (per AccountId, one socket each)
//!                            ├─ candado_xmpp::Session: login / XEP-0077 registration, roster,
//!                            │     presence, subscriptions, messages
//!                            └─ Conversation (per contact): candado_otr::Router (one OTR session
//!                                  per peer instance), outgoing queue, resource lock, padlock
//!  Effects ◀── Emit(Event) · OpenSocket/SendFrame/CloseSocket{socket} · PutRecord{kind,id,value}
//! ```
//!
//! Sockets are identified by [`SocketId`]: every [`Effect::OpenSocket`] names a fresh one, so input
//! from a socket the engine has given up on is ignored.
//!
//! Own OTR keys, fingerprints (seen and trusted) and OTR policies are written with
//! [`Effect::PutRecord`] for the runtime to store in the vault ([`records`] documents the
//! payloads); the key of an account is generated at its first login when none was loaded.
//!
//! # Privacy rules kept here
//!
//! * Under the "always" policy, or once the person asked for a private conversation, typed text
//!   waits in the conversation's queue until the OTR session is encrypted; it is never sent in
//!   plaintext ([`conversation`] has the details, including held messages after a key change).
//! * `?OTR` messages that arrive delayed (offline storage, archives) are never fed into an OTR
//!   session, and neither are carbons (copies of other clients' messages are ignored).
//! * Every OTR stanza we send carries the XEP-0334 `no-store`/`no-permanent-store` hints and the
//!   XEP-0280 `private`/`no-copy` marks.
//! * A fingerprint is trusted only after SMP succeeded for us, or the person trusted it by hand.
//!
//! # Example: the connection probe of the app shell
//!
//! ```
//! use candado_api::{Command, ConnectionState, Event, ServerConfig};
//! use candado_engine::{Effect, Engine};
//! # use rand_core::{TryCryptoRng, TryRng};
//! # struct Rng(u64);
//! # impl TryRng for Rng {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
//! #         self.0 ^= self.0 << 13; self.0 ^= self.0 >> 7; self.0 ^= self.0 << 17; Ok(self.0)
//! #     }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//! #         for b in dst { *b = self.try_next_u64()? as u8; } Ok(())
//! #     }
//! # }
//! # impl TryCryptoRng for Rng {}
//!
//! // In the app the RNG is the platform's CSPRNG (getrandom).
//! let mut engine = Engine::new(Rng(7));
//! let now = 0;
//! engine.handle_command(Command::Connect {
//!     server: ServerConfig { domain: "localhost".into(), websocket_url: "ws://127.0.0.1:5280/xmpp-websocket".into() },
//! }, now);
//! assert!(matches!(engine.poll_effect(), Some(Effect::Emit(Event::Connection { .. }))));
//! let Some(Effect::OpenSocket { socket, .. }) = engine.poll_effect() else { panic!() };
//! engine.handle_socket_open(socket, now);
//! assert!(matches!(engine.poll_effect(), Some(Effect::SendFrame { .. })));
//! engine.handle_frame(socket, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='1' version='1.0'/>", now);
//! engine.handle_frame(socket, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>", now);
//! assert_eq!(
//!     engine.poll_effect(),
//!     Some(Effect::Emit(Event::Connection { state: ConnectionState::Connected { domain: "localhost".into() } }))
//! );
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

mod account;
pub mod conversation;
mod probe;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use candado_api::{AccountId, AccountSetup, AccountState, CommandFailure, PadlockView};
pub use candado_api::{Command, ConnectionState, Event, FailureReason, ServerConfig};
use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::crypto::CryptoRng;
use candado_otr::wire::message::InstanceTag;
use candado_vault::{RecordId, RecordKind};
use jid::BareJid;

use account::{Account, Setup};
pub use probe::open_frame;
use probe::Probe;
use records::{RecordValue, Settings, Trust, TrustStore};

/// The RFC 7395 framing namespace.
pub const FRAMING_NS: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// The WebSocket subprotocol XMPP uses (RFC 7395 §3.1).
pub const WEBSOCKET_PROTOCOL: &str = "xmpp";

/// Names one WebSocket the engine asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// Something the runtime must do for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send this event to the UI.
    Emit(Event),
    /// Open a WebSocket to `url` with the `xmpp` subprotocol; report it as `socket`.
    OpenSocket {
        /// The name of the new socket.
        socket: SocketId,
        /// The endpoint.
        url: String,
    },
    /// Send one text frame on an open socket.
    SendFrame {
        /// The socket.
        socket: SocketId,
        /// The frame.
        text: String,
    },
    /// Close a socket (and forget it: no input is expected from it any more).
    CloseSocket {
        /// The socket.
        socket: SocketId,
    },
    /// Store this record in the vault, replacing any with the same kind and id.
    PutRecord {
        /// The record kind.
        kind: RecordKind,
        /// The record id (an account's bare address).
        id: RecordId,
        /// The payload ([`records`]).
        value: RecordValue,
    },
}

/// What the engine keeps for an account across logins.
#[derive(Debug, Default)]
struct Stored {
    key: Option<Arc<DsaPrivateKey>>,
    trust: TrustStore,
    settings: Settings,
}

/// The application state machine. See the crate docs for the order of calls.
pub struct Engine<R> {
    rng: R,
    effects: VecDeque<Effect>,
    probe: Probe,
    accounts: BTreeMap<AccountId, Account>,
    stored: BTreeMap<AccountId, Stored>,
    next_socket: u64,
    next_id: u64,
}

impl<R> core::fmt::Debug for Engine<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("probe", &self.probe)
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("pending_effects", &self.effects.len())
            .finish_non_exhaustive()
    }
}

/// The engine's outputs and randomness, lent to accounts and conversations while they work.
pub(crate) struct Out<'a, R> {
    pub rng: &'a mut R,
    pub effects: &'a mut VecDeque<Effect>,
    pub now: u64,
    next_id: &'a mut u64,
}

impl<R> Out<'_, R> {
    pub(crate) fn emit(&mut self, event: Event) {
        self.effects.push_back(Effect::Emit(event));
    }

    /// A fresh id for a chat message.
    pub(crate) fn local_id(&mut self) -> String {
        *self.next_id = self.next_id.saturating_add(1);
        format!("m{}", self.next_id)
    }

    pub(crate) fn fail(
        &mut self,
        account: Option<&AccountId>,
        kind: CommandFailure,
        detail: String,
    ) {
        self.emit(Event::CommandFailed {
            account: account.cloned(),
            detail,
            kind,
        });
    }

    fn put(&mut self, kind: RecordKind, account: &AccountId, value: RecordValue) {
        // Account ids are bare JIDs, far below the vault's id limit; a longer one is not stored.
        if let Ok(id) = RecordId::new(account.as_str()) {
            self.effects
                .push_back(Effect::PutRecord { kind, id, value });
        }
    }

    pub(crate) fn put_trust(&mut self, account: &AccountId, trust: &TrustStore) {
        self.put(RecordKind::FINGERPRINTS, account, trust.encode());
    }

    pub(crate) fn put_settings(&mut self, account: &AccountId, settings: &Settings) {
        self.put(RecordKind::SETTINGS, account, settings.encode());
    }
}

fn parse_jid(text: &str) -> Option<BareJid> {
    BareJid::new(text.trim())
        .ok()
        .filter(|j| j.node().is_some())
}

impl<R: CryptoRng> Engine<R> {
    /// A fresh engine without accounts. `rng` must be a CSPRNG (OTR keys and nonces come from it).
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            effects: VecDeque::new(),
            probe: Probe::new(),
            accounts: BTreeMap::new(),
            stored: BTreeMap::new(),
            next_socket: 0,
            next_id: 0,
        }
    }

    /// The state of the connection probe ([`Command::Connect`]).
    pub fn connection_state(&self) -> ConnectionState {
        self.probe.state()
    }

    /// The state of an account, if it is known.
    pub fn account_state(&self, account: &AccountId) -> Option<AccountState> {
        self.accounts.get(account).map(|a| a.state().clone())
    }

    /// The padlock of a conversation as last reported, if the conversation exists.
    pub fn padlock(&self, account: &AccountId, peer: &str) -> Option<PadlockView> {
        self.accounts
            .get(account)
            .and_then(|a| a.conversations.get(peer))
            .and_then(|c| c.shown().cloned())
    }

    /// The next effect to perform, in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When [`Engine::handle_timeout`] should be called next (same clock as `now`), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.accounts
            .values()
            .filter_map(Account::poll_timeout)
            .min()
    }

    /// Lets time pass: keepalives, negotiation timeouts, abandoned OTR key exchanges.
    pub fn handle_timeout(&mut self, now: u64) {
        let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
        for id in ids {
            self.with_account(&id, now, |a, out| a.handle_timeout(out));
        }
    }

    /// A record loaded from the vault (kinds in [`records::kinds`]; others are ignored). Call before
    /// logging in the account it belongs to; a damaged record is ignored (and rewritten when the
    /// engine next changes it).
    pub fn load_record(&mut self, kind: &RecordKind, id: &RecordId, value: &[u8]) {
        let account = AccountId(id.as_str().to_owned());
        let stored = self.stored.entry(account.clone()).or_default();
        let live = self.accounts.get_mut(&account);
        if *kind == RecordKind::DSA_KEY {
            if let Some(key) = records::decode_key(value) {
                stored.key = Some(key);
            }
        } else if *kind == RecordKind::FINGERPRINTS {
            stored.trust = TrustStore::decode(value);
            if let Some(a) = live {
                a.trust = stored.trust.clone();
            }
        } else if *kind == RecordKind::SETTINGS {
            stored.settings = Settings::decode(value);
            if let Some(a) = live {
                a.settings = stored.settings.clone();
            }
        }
    }

    /// A message from the UI that could not be decoded.
    pub fn handle_malformed_command(&mut self, detail: String) {
        self.effects
            .push_back(Effect::Emit(Event::ProtocolError { detail }));
    }

    /// The socket named `socket` is open.
    pub fn handle_socket_open(&mut self, socket: SocketId, now: u64) {
        if self.probe.owns(socket) {
            self.probe.socket_open(&mut self.effects);
        } else if let Some(id) = self.account_of(socket) {
            self.with_account(&id, now, |a, out| a.socket_open(out));
        }
    }

    /// One text frame arrived on `socket`.
    pub fn handle_frame(&mut self, socket: SocketId, text: &str, now: u64) {
        if self.probe.owns(socket) {
            self.probe.frame(text, &mut self.effects);
        } else if let Some(id) = self.account_of(socket) {
            self.with_account(&id, now, |a, out| a.frame(text, out));
        }
    }

    /// `socket` closed, or could not be opened.
    pub fn handle_socket_closed(&mut self, socket: SocketId, now: u64) {
        if self.probe.owns(socket) {
            self.probe.socket_closed(&mut self.effects);
        } else if let Some(id) = self.account_of(socket) {
            self.with_account(&id, now, |a, out| {
                a.socket_closed(out);
                a.socket = None;
            });
        }
    }

    /// A command from the UI.
    pub fn handle_command(&mut self, command: Command, now: u64) {
        match command {
            Command::Ping { nonce } => self.effects.push_back(Effect::Emit(Event::Pong { nonce })),
            Command::Connect { server } => {
                let socket = self.new_socket();
                self.probe.connect(server, socket, &mut self.effects);
            }
            Command::Disconnect => self.probe.disconnect(&mut self.effects),
            Command::Register { account } => self.login(account, true, now),
            Command::Login { account } => self.login(account, false, now),
            Command::SubmitRegistration { account, values } => {
                self.on_account(&account, now, |a, out| a.submit_registration(values, out));
            }
            Command::Logout { account } => self.logout(&account, now),
            Command::AddContact { account, jid, name } => {
                self.on_peer(&account, &jid, now, |a, peer, out| {
                    a.add_contact(peer, name, out)
                });
            }
            Command::RemoveContact { account, jid } => {
                self.on_peer(&account, &jid, now, |a, peer, out| {
                    a.xmpp(candado_xmpp::Command::RemoveRosterItem { jid: peer }, out);
                });
            }
            Command::AnswerSubscription {
                account,
                jid,
                accept,
            } => {
                self.on_peer(&account, &jid, now, |a, peer, out| {
                    a.answer_subscription(peer, accept, out)
                });
            }
            Command::SendMessage {
                account,
                peer,
                text,
            } => {
                self.on_conversation(&account, &peer, now, true, |c, out| c.send_text(text, out));
            }
            Command::StartPrivate { account, peer } => {
                self.on_conversation(&account, &peer, now, true, |c, out| {
                    c.start_private(out.now);
                    Ok(())
                });
            }
            Command::EndPrivate { account, peer } => {
                self.on_conversation(&account, &peer, now, true, |c, out| {
                    c.end_private(out);
                    Ok(())
                });
            }
            Command::SmpAsk {
                account,
                peer,
                question,
                answer,
            } => {
                self.on_conversation(&account, &peer, now, true, |c, out| {
                    c.smp_ask(question.as_deref(), answer.expose(), out)
                });
            }
            Command::SmpAnswer {
                account,
                peer,
                answer,
            } => {
                self.on_conversation(&account, &peer, now, true, |c, out| {
                    c.smp_answer(answer.expose(), out)
                });
            }
            Command::SmpAbort { account, peer } => {
                self.on_conversation(&account, &peer, now, true, |c, out| c.smp_abort(out.now));
            }
            Command::SetPolicy {
                account,
                peer,
                policy,
            } => self.set_policy(&account, peer.as_deref(), policy, now),
            Command::SetTrust {
                account,
                peer,
                fingerprint,
                trusted,
            } => self.set_trust(&account, &peer, &fingerprint, trusted, now),
            Command::CreateVault { .. }
            | Command::Unlock { .. }
            | Command::Lock
            | Command::ChangePassphrase { .. }
            | Command::ForgetAccount { .. }
            | Command::Wake
            | Command::Discover { .. } => self.fail(
                None,
                CommandFailure::WrongState,
                "the runtime handles this command",
            ),
        }
    }

    fn new_socket(&mut self) -> SocketId {
        self.next_socket = self.next_socket.saturating_add(1);
        SocketId(self.next_socket)
    }

    fn account_of(&self, socket: SocketId) -> Option<AccountId> {
        self.accounts
            .iter()
            .find(|(_, a)| a.socket == Some(socket))
            .map(|(id, _)| id.clone())
    }

    fn fail(&mut self, account: Option<&AccountId>, kind: CommandFailure, detail: &str) {
        self.effects.push_back(Effect::Emit(Event::CommandFailed {
            account: account.cloned(),
            detail: detail.to_owned(),
            kind,
        }));
    }

    /// Runs `f` on a live account with the engine's outputs, then performs what its XMPP session
    /// has to send.
    fn with_account<T>(
        &mut self,
        id: &AccountId,
        now: u64,
        f: impl FnOnce(&mut Account, &mut Out<'_, R>) -> T,
    ) -> Option<T> {
        let account = self.accounts.get_mut(id)?;
        let mut out = Out {
            rng: &mut self.rng,
            effects: &mut self.effects,
            now,
            next_id: &mut self.next_id,
        };
        let result = f(account, &mut out);
        account.drain(&mut out);
        Some(result)
    }

    fn on_account(
        &mut self,
        id: &AccountId,
        now: u64,
        f: impl FnOnce(&mut Account, &mut Out<'_, R>),
    ) {
        if self.with_account(id, now, f).is_none() {
            self.fail(Some(id), CommandFailure::UnknownAccount, "no such account");
        }
    }

    fn on_peer(
        &mut self,
        id: &AccountId,
        peer: &str,
        now: u64,
        f: impl FnOnce(&mut Account, BareJid, &mut Out<'_, R>),
    ) {
        let Some(peer) = parse_jid(peer) else {
            self.fail(Some(id), CommandFailure::InvalidInput, "not an address");
            return;
        };
        self.on_account(id, now, |a, out| f(a, peer, out));
    }

    /// Runs `f` on the conversation with `peer` (created if needed), reports its error, then sends
    /// what the conversation has to send.
    fn on_conversation(
        &mut self,
        id: &AccountId,
        peer: &str,
        now: u64,
        needs_online: bool,
        f: impl FnOnce(&mut conversation::Conversation, &mut Out<'_, R>) -> Result<(), String>,
    ) {
        self.on_peer(id, peer, now, |a, peer, out| {
            if needs_online && !a.is_online() {
                out.fail(
                    Some(&a.id),
                    CommandFailure::NotOnline,
                    "the account is not online".into(),
                );
                return;
            }
            let name = peer.to_string();
            if let Err(detail) = f(a.conversation(&peer), out) {
                let account = a.id.clone();
                out.fail(Some(&account), CommandFailure::WrongState, detail);
            }
            a.flush_conversation(&name, out);
        });
    }

    fn login(&mut self, setup: AccountSetup, register: bool, now: u64) {
        let Some(jid) = parse_jid(&setup.jid) else {
            self.fail(None, CommandFailure::InvalidInput, "not an address");
            return;
        };
        let id = AccountId(jid.to_string());
        let url = setup.websocket_url.trim().to_owned();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            self.fail(
                Some(&id),
                CommandFailure::InvalidInput,
                "not a ws:// or wss:// URL",
            );
            return;
        }
        if let Some(existing) = self.accounts.get(&id) {
            if !matches!(
                existing.state(),
                AccountState::Offline | AccountState::Failed { .. }
            ) {
                self.fail(
                    Some(&id),
                    CommandFailure::AccountExists,
                    "already logged in",
                );
                return;
            }
            self.stash(&id);
        }
        let stored = self.stored.remove(&id).unwrap_or_default();
        let key = match stored.key {
            Some(key) => key,
            None => {
                // At first login: run this in the worker, it takes a moment.
                let key = Arc::new(DsaPrivateKey::generate(&mut self.rng));
                if let Ok(record) = RecordId::new(id.as_str()) {
                    self.effects.push_back(Effect::PutRecord {
                        kind: RecordKind::DSA_KEY,
                        id: record,
                        value: records::encode_key(&key),
                    });
                }
                key
            }
        };
        let instance = loop {
            if let Some(tag) = InstanceTag::new(self.rng.next_u32()) {
                break tag;
            }
        };
        let socket = self.new_socket();
        let mut account = Account::new(
            id.clone(),
            Setup {
                jid,
                password: candado_xmpp::Password::new(setup.password.expose()),
                url: url.clone(),
                register,
            },
            key,
            instance,
            stored.trust,
            stored.settings,
        );
        account.socket = Some(socket);
        self.accounts.insert(id.clone(), account);
        let state = if register {
            AccountState::Registering
        } else {
            AccountState::Connecting
        };
        self.with_account(&id, now, |a, out| a.set_state(state, out));
        self.effects.push_back(Effect::OpenSocket { socket, url });
    }

    /// Moves an account's keys and settings back to the store and forgets the account.
    fn stash(&mut self, id: &AccountId) {
        if let Some(a) = self.accounts.remove(id) {
            self.stored.insert(
                id.clone(),
                Stored {
                    key: Some(a.key),
                    trust: a.trust,
                    settings: a.settings,
                },
            );
        }
    }

    fn logout(&mut self, id: &AccountId, now: u64) {
        let done = self.with_account(id, now, |a, out| {
            // End private conversations properly so the contacts' padlocks open too.
            let peers: Vec<String> = a.conversations.keys().cloned().collect();
            for peer in peers {
                if let Some(c) = a.conversations.get_mut(&peer) {
                    c.end_private(out);
                }
                a.flush_conversation(&peer, out);
            }
            if a.session.is_some() {
                a.xmpp(candado_xmpp::Command::Close, out);
            }
        });
        if done.is_none() {
            self.fail(Some(id), CommandFailure::UnknownAccount, "no such account");
            return;
        }
        if let Some(a) = self.accounts.get_mut(id) {
            if let Some(socket) = a.socket.take() {
                self.effects.push_back(Effect::CloseSocket { socket });
            }
        }
        self.stash(id);
        self.effects.push_back(Effect::Emit(Event::Account {
            account: id.clone(),
            state: AccountState::Offline,
        }));
    }

    fn set_policy(
        &mut self,
        id: &AccountId,
        peer: Option<&str>,
        policy: Option<candado_api::OtrPolicy>,
        now: u64,
    ) {
        let peer = match peer {
            Some(p) => match parse_jid(p) {
                Some(j) => Some(j.to_string()),
                None => {
                    self.fail(Some(id), CommandFailure::InvalidInput, "not an address");
                    return;
                }
            },
            None => None,
        };
        let found = self.with_account(id, now, |a, out| {
            match (&peer, policy) {
                (None, Some(p)) => a.settings.policy = p,
                (Some(peer), Some(p)) => {
                    a.settings.peers.insert(peer.clone(), p);
                }
                (Some(peer), None) => {
                    a.settings.peers.remove(peer);
                }
                (None, None) => {
                    out.fail(
                        Some(id),
                        CommandFailure::InvalidInput,
                        "an account needs a policy".into(),
                    );
                    return;
                }
            }
            out.put_settings(id, &a.settings);
            let names: Vec<String> = a.conversations.keys().cloned().collect();
            for name in names {
                let p = a.settings.policy_for(&name);
                if let Some(c) = a.conversations.get_mut(&name) {
                    c.set_policy(p);
                }
            }
        });
        if found.is_none() {
            // Not logged in: change the stored settings.
            let stored = self.stored.entry(id.clone()).or_default();
            match (&peer, policy) {
                (None, Some(p)) => stored.settings.policy = p,
                (Some(peer), Some(p)) => {
                    stored.settings.peers.insert(peer.clone(), p);
                }
                (Some(peer), None) => {
                    stored.settings.peers.remove(peer);
                }
                (None, None) => return,
            }
            let settings = stored.settings.clone();
            let mut out = Out {
                rng: &mut self.rng,
                effects: &mut self.effects,
                now,
                next_id: &mut self.next_id,
            };
            out.put_settings(id, &settings);
        }
    }

    fn set_trust(
        &mut self,
        id: &AccountId,
        peer: &str,
        fingerprint: &str,
        trusted: bool,
        now: u64,
    ) {
        let Some(fp) = records::parse_fingerprint(fingerprint) else {
            self.fail(Some(id), CommandFailure::InvalidInput, "not a fingerprint");
            return;
        };
        let trust = if trusted { Trust::Trusted } else { Trust::Seen };
        self.on_peer(id, peer, now, |a, peer, out| {
            let name = peer.to_string();
            if a.trust.set(&name, fp, trust) {
                out.put_trust(&a.id, &a.trust);
            }
            if trusted {
                if let Some(c) = a.conversations.get_mut(&name) {
                    c.trust_changed();
                }
            }
            a.flush_conversation(&name, out);
        });
    }
}
