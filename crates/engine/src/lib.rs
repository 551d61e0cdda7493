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
//! * **Construction:** [`Engine::new`]`(rng)`; then, after the vault is unlocked,
//!   [`Engine::load_record`] for every stored record of the kinds in [`records::kinds`] and
//!   [`Engine::handle_unlocked`] (reports the saved accounts, logs in those with a remembered
//!   password). [`Engine::lock`] before locking the vault: accounts log out, keys leave memory.
//! * **Getters:** [`Engine::connection_state`] (the probe), [`Engine::account_state`],
//!   [`Engine::padlock`], [`Engine::saved_accounts`].
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
//! # Connections that come and go
//!
//! The first login of an account on a device generates its OTR key from the next
//! `handle_timeout` (due at once), after [`candado_api::AccountState::GeneratingKey`] was reported.
//! A connection lost after the account was online (or one opened by the app itself after
//! unlocking) is not a failure: the account reports
//! [`candado_api::AccountState::Reconnecting`] and tries again after 1 s, doubling up to 60 s with
//! ±20 % jitter; [`Command::Wake`] tries at once, and checks a connection that looks up with a
//! keepalive at once (unanswered within 8 s, it counts as lost). A connection that goes silent
//! without closing (half-open) counts as lost once the XMPP keepalive goes unanswered: 15 s after
//! the last frame received plus 8 s, so its first new attempt comes about 24 s after the silence
//! began. A frame that is too big or too deep, a protocol violation, or a stream error that comes
//! from the way rather than the account (`not-well-formed`, `undefined-condition`, a server
//! restart or limit) ends the stream and counts as lost too. The new socket resumes the XEP-0198
//! stream when
//! the server kept it; otherwise a fresh session logs in and the stanzas the server never
//! acknowledged are sent again. OTR sessions live in the engine, not in the socket, so a private
//! conversation goes on across reconnections; what the person writes meanwhile waits in the
//! account's outbox (up to 1000 messages) and goes out once the account is back online. Wrong passwords and refused registrations are never
//! retried.
//!
//! # What happens where
//!
//! ```text
//!  Command ──▶ Engine ─┬─ probe (Connect/Disconnect: is the server there and speaking XMPP?)
//!                      └─ Account (per AccountId, one socket each)
//!                            ├─ candado_xmpp::Session: login / XEP-0077 registration, roster,
//!                            │     presence, subscriptions, messages
//!                            ├─ rooms (XEP-0045 group chats: plaintext, never OTR)
//!                            └─ Conversation (per contact): candado_otr::Router (one OTR session
//!                                  per peer instance), outgoing queue, resource lock, padlock
//!  Effects ◀── Emit(Event) · OpenSocket/SendFrame/CloseSocket{socket} · PutRecord{kind,id,value}
//!              · DeleteRecord{kind,id}
//! ```
//!
//! Sockets are identified by [`SocketId`]: every [`Effect::OpenSocket`] names a fresh one, so input
//! from a socket the engine has given up on is ignored.
//!
//! Own OTR keys, fingerprints (seen and trusted) and OTR policies are written with
//! [`Effect::PutRecord`] for the runtime to store in the vault ([`records`] documents the
//! payloads); the key of an account is generated at its first login when none was loaded.
//!
//! # Opt-in history
//!
//! Chats are off the record: no message text is ever written to the vault unless the person
//! turned history on for that chat with [`Command::SetHistory`]. While it is on, every message
//! shown in the chat (received, and sent once it leaves; for OTR the decrypted text) is appended
//! to the chat's history records ([`history`] has the format), and after unlocking the kept
//! messages are reported in one [`Event::History`] per chat. Turning it off deletes the chat's
//! records; [`Engine::lock`] drops them from memory; forgetting the account deletes them all.
//! Group chats keep no history.
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
//! * Group chats (XEP-0045) never touch OTR: a `groupchat` body, `?OTR` or not, is reported as
//!   text in an [`Event::RoomMessage`], and only from rooms we joined.
//! * Room invitations are reported ([`Event::RoomInvitation`]), never acted upon: a room is only
//!   entered by [`Command::JoinRoom`]. Room passwords (typed or from an invitation) stay in the
//!   worker's memory, in types whose `Debug` hides them, and never appear in an event.
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
pub mod history;
pub mod html;
mod probe;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use candado_api::{
    AccountId, AccountSetup, AccountState, CommandFailure, PadlockView, SavedAccount,
};
pub use candado_api::{Command, ConnectionState, Event, FailureReason, ServerConfig};
use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::crypto::CryptoRng;
use candado_otr::wire::message::InstanceTag;
use candado_vault::{RecordId, RecordKind};
use jid::BareJid;

use account::{Account, Setup};
pub use probe::open_frame;
use probe::Probe;
use records::{Credentials, RecordValue, Settings, Trust, TrustStore};

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
    /// Delete this record from the vault, if it exists.
    DeleteRecord {
        /// The record kind.
        kind: RecordKind,
        /// The record id.
        id: RecordId,
    },
}

/// What the engine keeps for an account across logins.
#[derive(Debug, Default)]
struct Stored {
    key: Option<Arc<DsaPrivateKey>>,
    trust: TrustStore,
    settings: Settings,
    /// Present when the account is saved on this device.
    credentials: Option<Credentials>,
}

/// A login waiting for its OTR key to be generated (done from `handle_timeout`, so the UI hears
/// "generating the key" before the work starts).
#[derive(Debug)]
struct PendingLogin {
    setup: AccountSetup,
    register: bool,
    automatic: bool,
}

/// The application state machine. See the crate docs for the order of calls.
pub struct Engine<R> {
    rng: R,
    effects: VecDeque<Effect>,
    probe: Probe,
    accounts: BTreeMap<AccountId, Account>,
    stored: BTreeMap<AccountId, Stored>,
    pending_keys: BTreeMap<AccountId, PendingLogin>,
    /// The opt-in history of every chat.
    history: history::History,
    /// The saved accounts as last reported to the UI.
    saved_reported: Option<Vec<SavedAccount>>,
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
    history: &'a mut history::History,
}

impl<R> Out<'_, R> {
    /// Emits an event; a message shown in a chat whose history is on is also kept.
    pub(crate) fn emit(&mut self, event: Event) {
        let keep = match &event {
            Event::Message {
                account,
                peer,
                message,
            } if self.history.keeps(account, peer) => {
                Some((account.clone(), peer.clone(), message.clone()))
            }
            _ => None,
        };
        self.effects.push_back(Effect::Emit(event));
        if let Some((account, peer, message)) = keep {
            self.history.shown(&account, &peer, &message, self.effects);
        }
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
            pending_keys: BTreeMap::new(),
            history: history::History::default(),
            // Nothing to report before the vault is unlocked.
            saved_reported: Some(Vec::new()),
            next_socket: 0,
            next_id: 0,
        }
    }

    /// The accounts saved on this device (a login that succeeded, until forgotten), sorted.
    pub fn saved_accounts(&self) -> Vec<SavedAccount> {
        self.stored
            .iter()
            .filter_map(|(id, s)| {
                s.credentials.as_ref().map(|c| SavedAccount {
                    account: id.clone(),
                    websocket_url: c.websocket_url.clone(),
                    password_saved: c.password.is_some(),
                })
            })
            .collect()
    }

    /// Emits [`Event::SavedAccounts`] if the list changed since it was last reported.
    fn report_saved(&mut self) {
        let now = self.saved_accounts();
        if self.saved_reported.as_ref() != Some(&now) {
            self.saved_reported = Some(now.clone());
            self.effects
                .push_back(Effect::Emit(Event::SavedAccounts { accounts: now }));
        }
    }

    /// Every record of the vault has been loaded ([`Engine::load_record`]): reports the saved
    /// accounts and the kept history ([`Event::History`] per chat), and logs in the accounts whose
    /// password is remembered.
    pub fn handle_unlocked(&mut self, now: u64) {
        self.saved_reported = None;
        self.report_saved();
        self.history.report(&mut self.effects);
        let remembered: Vec<(AccountId, String, zeroize::Zeroizing<String>)> = self
            .stored
            .iter()
            .filter(|(id, _)| !self.accounts.contains_key(*id))
            .filter_map(|(id, s)| {
                let c = s.credentials.as_ref()?;
                Some((id.clone(), c.websocket_url.clone(), c.password.clone()?))
            })
            .collect();
        for (id, url, password) in remembered {
            let setup = AccountSetup {
                jid: id.as_str().to_owned(),
                password: candado_api::Secret::new(password.as_str()),
                websocket_url: url,
                remember_password: true,
            };
            self.start_login(setup, false, true, now);
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
        // A pending key generation is due at once (a zero-delay timer in the runtime).
        let keys = (!self.pending_keys.is_empty()).then_some(0);
        self.accounts
            .values()
            .filter_map(Account::poll_timeout)
            .chain(keys)
            .min()
    }

    /// Lets time pass: keepalives, negotiation timeouts, abandoned OTR key exchanges.
    pub fn handle_timeout(&mut self, now: u64) {
        for (id, pending) in core::mem::take(&mut self.pending_keys) {
            let key = Arc::new(DsaPrivateKey::generate(&mut self.rng));
            if let Ok(record) = RecordId::new(id.as_str()) {
                self.effects.push_back(Effect::PutRecord {
                    kind: RecordKind::DSA_KEY,
                    id: record,
                    value: records::encode_key(&key),
                });
            }
            self.stored.entry(id).or_default().key = Some(key);
            self.start_login(pending.setup, pending.register, pending.automatic, now);
        }
        let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
        for id in ids {
            self.with_account(&id, now, |a, out| a.handle_timeout(out));
            self.retry_if_due(&id, now);
        }
        self.report_saved();
    }

    /// Opens a new socket for an account whose retry is due.
    fn retry_if_due(&mut self, id: &AccountId, now: u64) {
        let due = self
            .accounts
            .get(id)
            .is_some_and(|a| a.socket.is_none() && a.retry_at.is_some_and(|t| t <= now));
        if !due {
            return;
        }
        let socket = self.new_socket();
        let url = self.with_account(id, now, |a, out| {
            a.retry_at = None;
            a.socket = Some(socket);
            a.set_state(AccountState::Connecting, out);
            a.setup.url.clone()
        });
        if let Some(url) = url {
            self.effects.push_back(Effect::OpenSocket { socket, url });
        }
    }

    /// A record loaded from the vault (kinds in [`records::kinds`]; others are ignored). Call before
    /// logging in the account it belongs to; a damaged record is ignored (and rewritten when the
    /// engine next changes it).
    pub fn load_record(&mut self, kind: &RecordKind, id: &RecordId, value: &[u8]) {
        if *kind == RecordKind::HISTORY {
            self.history.load(id, value);
            return;
        }
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
        } else if *kind == RecordKind::CREDENTIALS {
            if let Some(c) = Credentials::decode(value) {
                stored.credentials = Some(c);
            }
        } else if *kind == RecordKind::SETTINGS {
            stored.settings = Settings::decode(value);
            if let Some(a) = live {
                a.settings = stored.settings.clone();
            }
        }
    }

    /// The vault is being locked: every account logs out (private conversations end properly,
    /// so the contacts' padlocks open), then keys, trust, settings and saved accounts are dropped
    /// from memory. Perform the effects, then lock the vault; after the next unlock, load the
    /// records again and call [`Engine::handle_unlocked`].
    pub fn lock(&mut self, now: u64) {
        let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
        for id in ids {
            self.logout(&id, now);
        }
        self.accounts.clear();
        self.stored.clear();
        self.pending_keys.clear();
        // The kept messages leave memory too (their texts are zeroized on drop).
        self.history = history::History::default();
        self.saved_reported = Some(Vec::new());
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
        self.report_saved();
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
            Command::Register { account } => self.start_login(account, true, false, now),
            Command::Login { account } => self.start_login(account, false, false, now),
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
                self.on_conversation(&account, &peer, now, true, |c, out| {
                    c.send_text(text.into_string(), out)
                });
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
            Command::JoinRoom {
                account,
                room,
                nick,
                password,
                new_room,
            } => {
                self.on_peer(&account, &room, now, |a, room, out| {
                    a.join_room(room, nick, password, new_room, out)
                });
            }
            Command::SetRoomSubject {
                account,
                room,
                subject,
            } => {
                self.on_peer(&account, &room, now, |a, room, out| {
                    a.set_room_subject(room, subject.into_string(), out)
                });
            }
            Command::InviteToRoom { account, room, jid } => {
                self.on_peer(&account, &room, now, |a, room, out| {
                    a.invite_to_room(room, &jid, out)
                });
            }
            Command::DeclineInvitation { account, room } => {
                self.on_peer(&account, &room, now, |a, room, out| {
                    a.decline_invitation(room, out)
                });
            }
            Command::LeaveRoom { account, room } => {
                self.on_peer(&account, &room, now, |a, room, out| a.leave_room(room, out));
            }
            Command::SendRoomMessage {
                account,
                room,
                text,
            } => {
                self.on_peer(&account, &room, now, |a, room, out| {
                    a.send_room_message(room, text.into_string(), out)
                });
            }
            Command::ForgetAccount { account } => self.forget(&account, now),
            Command::SetHistory {
                account,
                peer,
                keep,
            } => self.set_history(&account, &peer, keep),
            Command::Wake => {
                let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
                for id in ids {
                    self.with_account(&id, now, |a, _| a.wake(now));
                    self.retry_if_due(&id, now);
                }
            }
            Command::CreateVault { .. }
            | Command::Unlock { .. }
            | Command::Lock
            | Command::ChangePassphrase { .. }
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
            history: &mut self.history,
        };
        let result = f(account, &mut out);
        account.drain(&mut out);
        if let Some(credentials) = account.save.take() {
            if let (Some(value), Ok(record)) = (credentials.encode(), RecordId::new(id.as_str())) {
                self.effects.push_back(Effect::PutRecord {
                    kind: RecordKind::CREDENTIALS,
                    id: record,
                    value,
                });
            }
            self.stored.entry(id.clone()).or_default().credentials = Some(credentials);
        }
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
            // While a lost connection comes back, what is written waits for it (never lost).
            if needs_online && !(a.is_online() || a.reconnecting()) {
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

    /// Logs in (or registers) an account; the first login on this device generates its OTR key
    /// first, from the next `handle_timeout`.
    fn start_login(&mut self, setup: AccountSetup, register: bool, automatic: bool, now: u64) {
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
        if self.pending_keys.contains_key(&id) {
            self.fail(
                Some(&id),
                CommandFailure::AccountExists,
                "already logging in",
            );
            return;
        }
        let stored = self.stored.entry(id.clone()).or_default();
        let Some(key) = stored.key.clone() else {
            // First login on this device: generate the key from the next timeout, after the
            // UI heard why the account is busy.
            self.effects.push_back(Effect::Emit(Event::Account {
                account: id.clone(),
                state: AccountState::GeneratingKey,
            }));
            self.pending_keys.insert(
                id,
                PendingLogin {
                    setup,
                    register,
                    automatic,
                },
            );
            return;
        };
        let (trust, settings) = (stored.trust.clone(), stored.settings.clone());
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
                remembered: setup
                    .remember_password
                    .then(|| zeroize::Zeroizing::new(setup.password.expose().to_owned())),
                automatic,
            },
            key,
            instance,
            trust,
            settings,
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
            let stored = self.stored.entry(id.clone()).or_default();
            stored.key = Some(a.key);
            stored.trust = a.trust;
            stored.settings = a.settings;
        }
    }

    /// Logs the account out if needed and deletes everything the vault holds for it.
    fn forget(&mut self, id: &AccountId, now: u64) {
        if self.accounts.contains_key(id) {
            self.logout(id, now);
        }
        self.pending_keys.remove(id);
        self.stored.remove(id);
        self.history.forget(id, &mut self.effects);
        if let Ok(record) = RecordId::new(id.as_str()) {
            for kind in records::account_kinds() {
                self.effects.push_back(Effect::DeleteRecord {
                    kind,
                    id: record.clone(),
                });
            }
        }
        self.report_saved();
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
            out.emit(Event::Policy {
                account: id.clone(),
                policy: a.settings.policy,
            });
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
                history: &mut self.history,
            };
            out.put_settings(id, &settings);
        }
    }

    /// Turns a chat's history on or off; the account need not be logged in.
    fn set_history(&mut self, id: &AccountId, peer: &str, keep: bool) {
        let Some(peer) = parse_jid(peer) else {
            self.fail(Some(id), CommandFailure::InvalidInput, "not an address");
            return;
        };
        if !self.accounts.contains_key(id) && !self.stored.contains_key(id) {
            self.fail(Some(id), CommandFailure::UnknownAccount, "no such account");
            return;
        }
        self.history
            .set(id, &peer.to_string(), keep, &mut self.effects);
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
