//! One logged-in account: its XMPP session over one socket, its roster and presence, and its
//! conversations (see [`crate::conversation`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use candado_api::{
    AccountFailure, AccountId, AccountState, CommandFailure, Contact, Delivery, Event, Form,
    FormField, FormValue, Invitation, NewRoom, Presence, RoomMessage, Secret, Subscription,
};
use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::wire::message::InstanceTag;
use candado_xmpp as xmpp;
use jid::{BareJid, Jid};

use crate::conversation::Conversation;
use crate::records::{Credentials, Settings, TrustStore};
use crate::{Effect, Out, SocketId};

/// A roster entry with the presence of each online resource.
#[derive(Debug, Clone)]
struct Entry {
    name: Option<String>,
    subscription: Subscription,
    pending_out: bool,
    in_roster: bool,
    /// resource → presence.
    resources: BTreeMap<String, Presence>,
}

impl Entry {
    fn new() -> Self {
        Self {
            name: None,
            subscription: Subscription::None,
            pending_out: false,
            in_roster: false,
            resources: BTreeMap::new(),
        }
    }

    fn view(&self, jid: &str) -> Contact {
        let presence = [Presence::Available, Presence::Busy, Presence::Away]
            .into_iter()
            .find(|p| self.resources.values().any(|r| r == p))
            .unwrap_or(Presence::Offline);
        Contact {
            jid: jid.to_owned(),
            name: self.name.clone(),
            subscription: self.subscription,
            pending_out: self.pending_out,
            presence,
        }
    }
}

/// A group chat we are in or entering. Kept across lost connections: the room is joined again
/// once the account is back online.
#[derive(Debug, Clone)]
struct Room {
    /// Our nickname (as asked, then as the room assigned it).
    nick: String,
    /// The room accepted us (and [`Event::RoomJoined`] was reported).
    joined: bool,
    occupants: BTreeSet<String>,
    subject: Option<String>,
    /// Stanza ids of the messages we sent (already reported) whose reflection has not come back.
    unreflected: BTreeSet<String>,
    /// The password we entered with, to enter again after a lost connection (`Debug` hides it).
    password: Option<xmpp::Password>,
}

/// At most this many of our room messages await their reflection, per room.
const MAX_UNREFLECTED: usize = 256;

/// An invitation into a room, waiting for the person to join or decline.
#[derive(Debug, Clone)]
struct PendingInvitation {
    /// The inviter, as the invitation names them.
    from: Option<Jid>,
    /// The room password it carried (`Debug` hides it).
    password: Option<xmpp::Password>,
    /// Through the room: declining tells the inviter.
    mediated: bool,
}

/// At most this many invitations wait (one per room); more are dropped until some are answered.
const MAX_INVITATIONS: usize = 64;

/// What a stanza we sent to a room was, to report the room's refusal on the right thing.
#[derive(Debug, Clone)]
enum RoomSent {
    /// A message: its [`RoomMessage::id`].
    Message(String),
    /// A subject change.
    Subject,
}

/// How the account was set up, kept to open the session once the socket is open.
#[derive(Debug)]
pub(crate) struct Setup {
    pub jid: BareJid,
    pub password: xmpp::Password,
    pub url: String,
    pub register: bool,
    /// The password to keep in the vault, when the person ticked "remember".
    pub remembered: Option<zeroize::Zeroizing<String>>,
    /// Logged in by the app (a remembered password after unlocking), not typed now: a lost or
    /// unreachable server is retried rather than reported as a failure.
    pub automatic: bool,
}

/// The first retry waits this long; each failure doubles it, up to [`RETRY_MAX_MS`].
pub(crate) const RETRY_FIRST_MS: u64 = 1_000;
/// The longest wait between two attempts.
pub(crate) const RETRY_MAX_MS: u64 = 60_000;

/// The wait before attempt `failures` (1 = the first retry), with ±20 % jitter from `jitter`
/// (any `u32`) so that many clients cut at once do not come back at once.
pub(crate) fn retry_delay(failures: u32, jitter: u32) -> u64 {
    let exp = failures.saturating_sub(1).min(16);
    let base = RETRY_FIRST_MS.saturating_mul(1u64 << exp).min(RETRY_MAX_MS);
    let spread = base / 5;
    let offset = u64::from(jitter) % (2 * spread + 1);
    base - spread + offset
}

/// Everything the engine knows about one logged-in account.
#[derive(Debug)]
pub(crate) struct Account {
    pub id: AccountId,
    pub setup: Setup,
    pub socket: Option<SocketId>,
    pub session: Option<xmpp::Session>,
    pub key: Arc<DsaPrivateKey>,
    pub instance: InstanceTag,
    pub trust: TrustStore,
    pub settings: Settings,
    roster: BTreeMap<String, Entry>,
    pub conversations: BTreeMap<String, Conversation>,
    /// Group chats, by bare room address.
    rooms: BTreeMap<String, Room>,
    /// Invitations not answered yet, by bare room address.
    invitations: BTreeMap<String, PendingInvitation>,
    /// Stanza id → (room, what it was), to report what a room refuses.
    room_sent: BTreeMap<String, (String, RoomSent)>,
    /// Stanza id → (peer, message id), to report bounced messages.
    sent: BTreeMap<String, (String, String)>,
    /// The last state reported to the UI.
    state: AccountState,
    /// The account has been online in this login: a lost connection is retried.
    ever_online: bool,
    /// Consecutive failed attempts to get (back) online; 0 when online.
    pub failures: u32,
    /// When to try again after a lost connection (same clock as `now`).
    pub retry_at: Option<u64>,
    /// What the lost stream needs to resume (XEP-0198) on the next socket.
    resumption: Option<xmpp::Resumption>,
    /// Stanzas the server never acknowledged, to send again once online.
    resend: Vec<xmpp::UnackedStanza>,
    /// Credentials to save in the vault (set on getting online).
    pub save: Option<Credentials>,
    /// Messages written while the connection was being re-established: sent once back online.
    outbox: Vec<(xmpp::OutgoingMessage, String, String)>,
}

/// At most this many messages wait for a lost connection to come back.
const MAX_OUTBOX: usize = 1000;

/// At most this many stanza ids are remembered for bounce reports.
const MAX_SENT_IDS: usize = 512;

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .unwrap_or("");
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|h| {
        rest.strip_prefix(h)
            .is_some_and(|t| t.is_empty() || t.starts_with(':') || t.starts_with('/'))
    })
}

impl Account {
    pub(crate) fn new(
        id: AccountId,
        setup: Setup,
        key: Arc<DsaPrivateKey>,
        instance: InstanceTag,
        trust: TrustStore,
        settings: Settings,
    ) -> Self {
        Self {
            id,
            setup,
            socket: None,
            session: None,
            key,
            instance,
            trust,
            settings,
            roster: BTreeMap::new(),
            conversations: BTreeMap::new(),
            rooms: BTreeMap::new(),
            invitations: BTreeMap::new(),
            room_sent: BTreeMap::new(),
            sent: BTreeMap::new(),
            state: AccountState::Offline,
            ever_online: false,
            failures: 0,
            retry_at: None,
            resumption: None,
            resend: Vec::new(),
            save: None,
            outbox: Vec::new(),
        }
    }

    pub(crate) fn state(&self) -> &AccountState {
        &self.state
    }

    pub(crate) fn is_online(&self) -> bool {
        self.session.as_ref().is_some_and(xmpp::Session::is_online)
    }

    pub(crate) fn set_state<R>(&mut self, state: AccountState, out: &mut Out<'_, R>) {
        if self.state != state {
            self.state = state.clone();
            out.emit(Event::Account {
                account: self.id.clone(),
                state,
            });
        }
    }

    /// The socket for this account opened: start the XMPP session.
    pub(crate) fn socket_open<R: candado_otr::crypto::CryptoRng>(&mut self, out: &mut Out<'_, R>) {
        let transport = if self.setup.url.starts_with("wss://") {
            xmpp::Transport::Secure
        } else {
            xmpp::Transport::Insecure
        };
        let mut config = xmpp::Config::new(
            self.setup.jid.clone(),
            self.setup.password.clone(),
            transport,
        );
        // PLAIN over ws:// only to a server on this machine (development and tests).
        config.allow_plain_on_insecure = is_loopback(&self.setup.url);
        let mut seed = [0u8; 32];
        out.rng.fill_bytes(&mut seed);
        let now = xmpp::Timestamp::from_millis(out.now);
        let session = if let Some(resumption) = self.resumption.take() {
            xmpp::Session::resume(resumption, xmpp::Seed::new(seed), now)
        } else if self.setup.register && !self.ever_online {
            xmpp::Session::register(config, xmpp::Seed::new(seed), now)
        } else {
            xmpp::Session::new(config, xmpp::Seed::new(seed), now)
        };
        self.session = Some(session);
        self.drain(out);
    }

    pub(crate) fn frame<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        text: &str,
        out: &mut Out<'_, R>,
    ) {
        if let Some(s) = self.session.as_mut() {
            s.handle_frame_at(text, xmpp::Timestamp::from_millis(out.now));
        }
        self.drain(out);
    }

    pub(crate) fn socket_closed<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        out: &mut Out<'_, R>,
    ) {
        match self.session.as_mut() {
            Some(s) => {
                s.handle_socket_closed();
                self.drain(out);
            }
            None => {
                self.socket = None;
                if self.retries() {
                    self.schedule_retry(out);
                } else {
                    self.set_state(
                        AccountState::Failed {
                            reason: AccountFailure::Unreachable,
                            detail: "the WebSocket could not be opened".into(),
                        },
                        out,
                    );
                }
            }
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        let xmpp = self
            .session
            .as_ref()
            .and_then(xmpp::Session::poll_timeout)
            .map(xmpp::Timestamp::as_millis);
        self.conversations
            .values()
            .filter_map(Conversation::poll_timeout)
            .chain(xmpp)
            .chain(self.retry_at)
            .min()
    }

    /// The connection was lost and is being re-established: what is written now waits for it.
    pub(crate) fn reconnecting(&self) -> bool {
        self.ever_online && self.failures > 0 && !self.is_online()
    }

    /// Sends what was written while the connection was down.
    fn flush_outbox<R>(&mut self, out: &mut Out<'_, R>) {
        for (message, peer, message_id) in core::mem::take(&mut self.outbox) {
            self.send_message(message, &peer, &message_id, out);
        }
    }

    /// Whether a lost or unreachable connection is tried again rather than reported as failed.
    fn retries(&self) -> bool {
        self.ever_online || self.setup.automatic
    }

    /// Schedules the next attempt with exponential backoff and tells the UI.
    fn schedule_retry<R: candado_otr::crypto::CryptoRng>(&mut self, out: &mut Out<'_, R>) {
        self.failures = self.failures.saturating_add(1);
        let delay = retry_delay(self.failures, out.rng.next_u32());
        self.retry_at = Some(out.now.saturating_add(delay));
        self.set_state(
            AccountState::Reconnecting {
                attempt: self.failures,
                retry_in_ms: delay,
            },
            out,
        );
    }

    /// The page is visible again or the network is back: a scheduled retry happens now, and a
    /// connection that looks up is checked at once (a keepalive that must be answered within
    /// 8 s), since the network under it may have changed.
    pub(crate) fn wake(&mut self, now: u64) {
        if let Some(at) = self.retry_at.as_mut() {
            *at = (*at).min(now);
        }
        if let Some(session) = self.session.as_mut() {
            session.check_alive(xmpp::Timestamp::from_millis(now));
        }
    }

    /// Sends again what the server never acknowledged before the connection was lost.
    fn resend_unacked<R>(&mut self, out: &mut Out<'_, R>) {
        for stanza in core::mem::take(&mut self.resend) {
            match stanza {
                xmpp::UnackedStanza::Message {
                    to,
                    body,
                    kind,
                    thread,
                    ..
                } => {
                    self.xmpp(
                        xmpp::Command::SendMessage {
                            to,
                            body,
                            kind,
                            thread,
                        },
                        out,
                    );
                }
                xmpp::UnackedStanza::Outgoing { message, .. } => {
                    self.xmpp(xmpp::Command::Send { message }, out);
                }
                // Presence and roster changes are redone by the fresh session itself.
                xmpp::UnackedStanza::Other { .. } => {}
            }
        }
    }

    pub(crate) fn handle_timeout<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        out: &mut Out<'_, R>,
    ) {
        if let Some(s) = self.session.as_mut() {
            if s.poll_timeout().is_some_and(|t| t.as_millis() <= out.now) {
                s.handle_timeout(xmpp::Timestamp::from_millis(out.now));
            }
        }
        let peers: Vec<String> = self.conversations.keys().cloned().collect();
        for peer in peers {
            if let Some(c) = self.conversations.get_mut(&peer) {
                c.handle_timeout(out.now);
            }
            self.flush_conversation(&peer, out);
        }
        self.drain(out);
    }

    /// Runs an XMPP command; failures become [`Event::CommandFailed`]. Returns the stanza id.
    pub(crate) fn xmpp<R>(
        &mut self,
        command: xmpp::Command,
        out: &mut Out<'_, R>,
    ) -> Option<String> {
        let Some(session) = self.session.as_mut() else {
            out.fail(
                Some(&self.id),
                CommandFailure::NotOnline,
                "the account is not connected".into(),
            );
            return None;
        };
        match session.handle_command(command) {
            Ok(id) => id,
            Err(e) => {
                let kind = match e {
                    xmpp::CommandError::NotOnline | xmpp::CommandError::Closed => {
                        CommandFailure::NotOnline
                    }
                    _ => CommandFailure::InvalidInput,
                };
                out.fail(Some(&self.id), kind, e.to_string());
                None
            }
        }
    }

    /// Sends one chat message body to `to` and remembers its id for bounce reports.
    pub(crate) fn send_body<R>(
        &mut self,
        to: Jid,
        body: String,
        peer: &str,
        message_id: &str,
        out: &mut Out<'_, R>,
    ) {
        // OTR traffic must not be copied to our other clients (they cannot read it) nor stored
        // by the server (an archived AKE or Data message only produces errors later).
        let otr = body.starts_with("?OTR");
        let mut message = xmpp::OutgoingMessage::chat(to, body);
        message.private = otr;
        message.no_store = otr;
        message.no_permanent_store = otr;
        if self.reconnecting() {
            if self.outbox.len() < MAX_OUTBOX {
                self.outbox
                    .push((message, peer.to_owned(), message_id.to_owned()));
            } else {
                out.fail(
                    Some(&self.id),
                    CommandFailure::NotOnline,
                    "too many messages wait for the connection".into(),
                );
            }
            return;
        }
        self.send_message(message, peer, message_id, out);
    }

    fn send_message<R>(
        &mut self,
        message: xmpp::OutgoingMessage,
        peer: &str,
        message_id: &str,
        out: &mut Out<'_, R>,
    ) {
        let id = self.xmpp(xmpp::Command::Send { message }, out);
        if let Some(id) = id.filter(|_| !message_id.is_empty()) {
            if self.sent.len() >= MAX_SENT_IDS {
                self.sent.pop_first();
            }
            self.sent
                .insert(id, (peer.to_owned(), message_id.to_owned()));
        }
    }

    /// Sends what the conversation with `peer` has to send, and tells the UI what changed.
    pub(crate) fn flush_conversation<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        peer: &str,
        out: &mut Out<'_, R>,
    ) {
        let Some(conv) = self.conversations.get_mut(peer) else {
            return;
        };
        let outcome = conv.process(&self.id, &mut self.trust, out);
        let to = conv.destination();
        let message_id = outcome.message_id.unwrap_or_default();
        for body in outcome.transmit {
            self.send_body(to.clone(), body, peer, &message_id, out);
        }
        if outcome.trust_changed {
            out.put_trust(&self.id, &self.trust);
        }
    }

    /// Performs what the XMPP session asks: frames to send, events to handle, closing.
    pub(crate) fn drain<R: candado_otr::crypto::CryptoRng>(&mut self, out: &mut Out<'_, R>) {
        loop {
            let Some(session) = self.session.as_mut() else {
                return;
            };
            let mut moved = false;
            while let Some(text) = session.poll_transmit() {
                moved = true;
                if let Some(socket) = self.socket {
                    out.effects.push_back(Effect::SendFrame { socket, text });
                }
            }
            if let Some(event) = session.poll_event() {
                moved = true;
                self.xmpp_event(event, out);
            }
            if !moved {
                return;
            }
        }
    }

    /// What the UI shows of the roster entry `jid`, if it is in the roster.
    fn contact_view(&self, jid: &str) -> Option<Contact> {
        self.roster
            .get(jid)
            .filter(|e| e.in_roster)
            .map(|e| e.view(jid))
    }

    /// [`Self::contact_changed`], only if what the UI shows of `jid` differs from `before`.
    fn contact_changed_from<R>(
        &mut self,
        jid: &str,
        before: Option<Contact>,
        out: &mut Out<'_, R>,
    ) {
        if self.contact_view(jid) != before {
            self.contact_changed(jid, out);
        }
    }

    fn contact_changed<R>(&mut self, jid: &str, out: &mut Out<'_, R>) {
        if let Some(entry) = self.roster.get(jid) {
            if entry.in_roster {
                out.emit(Event::Contact {
                    account: self.id.clone(),
                    contact: entry.view(jid),
                });
            }
        }
    }

    fn xmpp_event<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        event: xmpp::Event,
        out: &mut Out<'_, R>,
    ) {
        use xmpp::Event as X;
        match event {
            X::RegistrationForm { form } => self.registration_form(form, out),
            X::Registered => self.set_state(AccountState::Registered, out),
            X::RegistrationFailed { error } => out.emit(Event::RegistrationFailed {
                account: self.id.clone(),
                condition: error.condition,
                text: error.text,
            }),
            X::Online { jid } => {
                self.ever_online = true;
                self.failures = 0;
                self.save = Some(Credentials {
                    websocket_url: self.setup.url.clone(),
                    password: self.setup.remembered.clone(),
                });
                self.set_state(
                    AccountState::Online {
                        jid: jid.to_string(),
                    },
                    out,
                );
                out.emit(Event::OwnFingerprint {
                    account: self.id.clone(),
                    fingerprint: self.key.public_key().fingerprint().to_string(),
                });
                out.emit(Event::Policy {
                    account: self.id.clone(),
                    policy: self.settings.policy,
                });
                self.xmpp(xmpp::Command::RequestRoster { ver: None }, out);
                self.xmpp(
                    xmpp::Command::SendPresence {
                        show: None,
                        status: None,
                        priority: 0,
                    },
                    out,
                );
                self.resend_unacked(out);
                self.rejoin_rooms(out);
                self.flush_outbox(out);
            }
            X::Roster { items, .. } => {
                for item in items {
                    self.roster_item(item);
                }
                let contacts = self
                    .roster
                    .iter()
                    .filter(|(_, e)| e.in_roster)
                    .map(|(j, e)| e.view(j))
                    .collect();
                out.emit(Event::Roster {
                    account: self.id.clone(),
                    contacts,
                });
            }
            X::RosterPush { item, .. } => {
                let jid = item.jid.to_string();
                if item.subscription == xmpp::Subscription::Remove {
                    if let Some(e) = self.roster.get_mut(&jid) {
                        e.in_roster = false;
                    }
                    out.emit(Event::ContactRemoved {
                        account: self.id.clone(),
                        jid,
                    });
                } else {
                    self.roster_item(item);
                    self.contact_changed(&jid, out);
                }
            }
            X::Presence { from, show, .. } => {
                let presence = match show {
                    None | Some(xmpp::Show::Chat) => Presence::Available,
                    Some(xmpp::Show::Away) | Some(xmpp::Show::Xa) => Presence::Away,
                    Some(xmpp::Show::Dnd) => Presence::Busy,
                };
                let bare = from.to_bare().to_string();
                let resource = from.resource().map(|r| r.to_string()).unwrap_or_default();
                let before = self.contact_view(&bare);
                self.roster
                    .entry(bare.clone())
                    .or_insert_with(Entry::new)
                    .resources
                    .insert(resource, presence);
                self.contact_changed_from(&bare, before, out);
            }
            X::Unavailable { from, .. } => {
                let bare = from.to_bare().to_string();
                let before = self.contact_view(&bare);
                if let Some(e) = self.roster.get_mut(&bare) {
                    match from.resource() {
                        Some(r) => {
                            e.resources.remove(r.as_str());
                        }
                        None => e.resources.clear(),
                    }
                }
                if let Some(c) = self.conversations.get_mut(&bare) {
                    c.resource_gone(&from);
                }
                // The server answers its presence probes at login with one "unavailable" per
                // offline contact: for a big roster, thousands of events that change nothing.
                self.contact_changed_from(&bare, before, out);
            }
            X::SubscriptionRequest { from, status } => {
                let jid = from.to_string();
                let we_asked = self.roster.get(&jid).is_some_and(|e| {
                    e.pending_out || matches!(e.subscription, Subscription::To | Subscription::Both)
                });
                if we_asked {
                    // We added this contact ourselves: a request back is expected, approve it.
                    self.xmpp(xmpp::Command::ApproveSubscription { to: from }, out);
                } else {
                    out.emit(Event::SubscriptionRequest {
                        account: self.id.clone(),
                        jid,
                        status,
                    });
                }
            }
            X::Message {
                from,
                id,
                kind: xmpp::MessageKind::Groupchat,
                body: Some(body),
                ..
            } => self.room_message(&from, id, body, out),
            X::Message {
                from,
                id,
                kind,
                body,
                delayed,
                ..
            } => {
                if matches!(kind, xmpp::MessageKind::Chat | xmpp::MessageKind::Normal) {
                    if let Some(body) = body {
                        self.incoming_message(from, id, body, delayed.is_some(), out);
                    }
                }
            }
            X::MessageError { id, error, .. } => {
                if let Some((room, what)) = id.as_ref().and_then(|id| self.room_sent.remove(id)) {
                    self.room_refused(room, what, error.condition, out);
                } else if let Some((peer, message)) = id.and_then(|id| self.sent.remove(&id)) {
                    out.emit(Event::MessageFailed {
                        account: self.id.clone(),
                        peer,
                        id: message,
                        condition: error.condition,
                    });
                }
            }
            X::Resumed { jid, .. } => {
                self.failures = 0;
                self.set_state(
                    AccountState::Online {
                        jid: jid.to_string(),
                    },
                    out,
                );
                self.flush_outbox(out);
            }
            X::ResumeFailed { unacked } => self.resend.extend(unacked),
            X::Closed { reason } => self.closed(reason, out),
            X::RoomJoined { room, nick, .. } => {
                let name = room.to_string();
                if let Some(r) = self.rooms.get_mut(&name) {
                    r.nick = nick.clone();
                    r.joined = true;
                    let subject = r.subject.clone();
                    out.emit(Event::RoomJoined {
                        account: self.id.clone(),
                        room: name.clone(),
                        nick,
                        subject: subject.map(Into::into),
                    });
                    self.report_occupants(&name, out);
                }
            }
            X::RoomJoinFailed { room, error } => {
                let name = room.to_string();
                if self.rooms.remove(&name).is_some() {
                    out.emit(Event::RoomJoinFailed {
                        account: self.id.clone(),
                        room: name,
                        condition: error.condition,
                        text: error.text,
                    });
                }
            }
            X::RoomLeft { room, removed } => {
                let name = room.to_string();
                if removed.as_deref() == Some("connection-lost") {
                    // Joined again once the new stream is online.
                    if let Some(r) = self.rooms.get_mut(&name) {
                        r.joined = false;
                        r.occupants.clear();
                        r.unreflected.clear();
                    }
                } else if self.rooms.remove(&name).is_some() {
                    out.emit(Event::RoomLeft {
                        account: self.id.clone(),
                        room: name,
                        removed,
                    });
                }
            }
            X::Occupant { room, occupant } => {
                let name = room.to_string();
                if let Some(r) = self.rooms.get_mut(&name) {
                    if r.occupants.insert(occupant.nick) && r.joined {
                        self.report_occupants(&name, out);
                    }
                }
            }
            X::OccupantLeft {
                room,
                nick,
                new_nick,
            } => {
                let name = room.to_string();
                if let Some(r) = self.rooms.get_mut(&name) {
                    r.occupants.remove(&nick);
                    if let Some(new) = new_nick {
                        if r.nick == nick {
                            r.nick = new.clone();
                        }
                        r.occupants.insert(new);
                    }
                    if r.joined {
                        self.report_occupants(&name, out);
                    }
                }
            }
            X::RoomInvitation {
                room,
                from,
                reason,
                password,
                mediated,
            } => self.invited(room, from, reason, password, mediated, out),
            X::RoomNotConfigured { room, .. } => {
                let name = room.to_string();
                if self.rooms.contains_key(&name) {
                    out.emit(Event::RoomNotConfigured {
                        account: self.id.clone(),
                        room: name,
                    });
                }
            }
            X::RoomSubject { room, subject, .. } => {
                let name = room.to_string();
                if let Some(r) = self.rooms.get_mut(&name) {
                    r.subject = Some(subject.clone()).filter(|s| !s.is_empty());
                    out.emit(Event::RoomSubject {
                        account: self.id.clone(),
                        room: name,
                        subject: subject.into(),
                    });
                }
            }
            // Carbons (copies of messages exchanged by our other clients) are ignored: an OTR
            // message is only ever fed into the session of the client it was meant for.
            // Acks, resumption, disco and the rest need no action here yet.
            _ => {}
        }
    }

    fn roster_item(&mut self, item: xmpp::RosterItem) {
        let e = self
            .roster
            .entry(item.jid.to_string())
            .or_insert_with(Entry::new);
        e.in_roster = true;
        e.name = item.name;
        e.pending_out = item.pending_out;
        e.subscription = match item.subscription {
            xmpp::Subscription::None | xmpp::Subscription::Remove => Subscription::None,
            xmpp::Subscription::To => Subscription::To,
            xmpp::Subscription::From => Subscription::From,
            xmpp::Subscription::Both => Subscription::Both,
        };
    }

    fn registration_form<R>(&mut self, form: xmpp::RegistrationForm, out: &mut Out<'_, R>) {
        let own = |var: &str| var == "username" || var == "password";
        let needs_person = form.fields.iter().any(|f| {
            !own(&f.var)
                && f.kind != "hidden"
                && f.kind != "fixed"
                && f.required
                && f.values.is_empty()
        });
        if !needs_person {
            // Only username and password (which the session fills in): submit at once.
            if self
                .session
                .as_mut()
                .map(|s| s.handle_command(xmpp::Command::SubmitRegistration { values: Vec::new() }))
                .is_some_and(|r| r.is_ok())
            {
                return;
            }
        }
        let media: BTreeMap<&str, String> = form
            .media
            .iter()
            .map(|m| {
                let mime = m.mime.as_deref().unwrap_or("application/octet-stream");
                let data = base64::engine::general_purpose::STANDARD.encode(&m.data);
                (m.cid.as_str(), format!("data:{mime};base64,{data}"))
            })
            .collect();
        let fields = form
            .fields
            .iter()
            .filter(|f| !own(&f.var))
            .map(|f| FormField {
                var: f.var.clone(),
                kind: f.kind.clone(),
                label: f.label.clone(),
                required: f.required,
                values: f.values.clone(),
                media: f
                    .media
                    .iter()
                    .filter_map(|(_, uri)| match uri.strip_prefix("cid:") {
                        Some(cid) => media.get(cid).cloned(),
                        None => uri.starts_with("data:").then(|| uri.clone()),
                    })
                    .collect(),
            })
            .collect();
        out.emit(Event::RegistrationForm {
            account: self.id.clone(),
            form: Form {
                title: form.title.clone(),
                instructions: form.instructions.clone(),
                fields,
            },
        });
    }

    pub(crate) fn submit_registration<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        values: Vec<FormValue>,
        out: &mut Out<'_, R>,
    ) {
        let values = values
            .into_iter()
            .map(|v| xmpp::FieldValue {
                var: v.var,
                values: v.values,
            })
            .collect();
        self.xmpp(xmpp::Command::SubmitRegistration { values }, out);
        self.drain(out);
    }

    fn closed<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        reason: xmpp::CloseReason,
        out: &mut Out<'_, R>,
    ) {
        use xmpp::CloseReason as C;
        let lost = match &reason {
            C::SocketClosed | C::Timeout | C::ClosedByServer => true,
            // A frame too big, too deep or malformed, or a protocol violation, ended this
            // stream (with a stream error); the account itself is fine: connect again.
            C::BadFrame(_) | C::Protocol(_) => true,
            // What the server or the way to it went through, not what the account is: a
            // restart, a timeout, a limit, or a frame corrupted in transit (Prosody answers one
            // with `not-well-formed`, and a stream-management count it cannot match with
            // `undefined-condition`). `conflict` (another login took over), `not-authorized`,
            // `host-unknown` and the like stay final: trying again would not help, or would fight.
            C::StreamError { condition, .. } => matches!(
                condition.as_str(),
                "system-shutdown"
                    | "connection-timeout"
                    | "reset"
                    | "internal-server-error"
                    | "resource-constraint"
                    | "remote-connection-failed"
                    | "policy-violation"
                    | "not-well-formed"
                    | "invalid-xml"
                    | "undefined-condition"
            ),
            _ => false,
        };
        if lost && self.retries() {
            if let Some(session) = self.session.as_mut() {
                match session.take_resumption() {
                    Some(r) => self.resumption = Some(r),
                    None => {
                        let unacked = session.take_unacked();
                        self.resend.extend(unacked);
                    }
                }
            }
        }
        // Frames still queued (the `<close/>`) go out before the socket closes.
        if let (Some(session), Some(socket)) = (self.session.as_mut(), self.socket) {
            while let Some(text) = session.poll_transmit() {
                out.effects.push_back(Effect::SendFrame { socket, text });
            }
        }
        if let Some(socket) = self.socket.take() {
            out.effects.push_back(Effect::CloseSocket { socket });
        }
        self.session = None;
        for e in self.roster.values_mut() {
            e.resources.clear();
        }
        let detail = reason.to_string();
        let failure = match reason {
            C::ClosedByUs => None,
            C::AuthFailed { .. } | C::NoUsableMechanism { .. } => Some(AccountFailure::AuthFailed),
            C::RegistrationUnavailable { .. } => Some(AccountFailure::RegistrationRefused),
            C::SocketClosed | C::Timeout => Some(AccountFailure::Unreachable),
            _ => Some(AccountFailure::ServerError),
        };
        if lost && self.retries() {
            self.schedule_retry(out);
            return;
        }
        let state = match failure {
            None => AccountState::Offline,
            Some(reason) => AccountState::Failed { reason, detail },
        };
        self.set_state(state, out);
    }

    fn incoming_message<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        from: Jid,
        id: Option<String>,
        body: String,
        delayed: bool,
        out: &mut Out<'_, R>,
    ) {
        let bare = from.to_bare();
        let peer = bare.to_string();
        let is_otr = body.contains("?OTR");
        let conv = self.conversation(&bare);
        if delayed && is_otr {
            conv.incoming_delayed(&body, out);
        } else {
            conv.incoming(from, id, &body, out);
        }
        self.flush_conversation(&peer, out);
    }

    /// The conversation with `peer`, created on first use.
    pub(crate) fn conversation(&mut self, peer: &BareJid) -> &mut Conversation {
        let name = peer.to_string();
        let policy = self.settings.policy_for(&name);
        let key = self.key.clone();
        let instance = self.instance;
        let account = self.id.clone();
        self.conversations
            .entry(name)
            .or_insert_with(|| Conversation::new(account, peer.clone(), key, instance, policy))
    }

    /// Adds a contact: a roster item, and a presence subscription request.
    pub(crate) fn add_contact<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        jid: BareJid,
        name: Option<String>,
        out: &mut Out<'_, R>,
    ) {
        self.xmpp(
            xmpp::Command::SetRosterItem {
                jid: jid.clone(),
                name,
                groups: Vec::new(),
            },
            out,
        );
        self.xmpp(xmpp::Command::Subscribe { to: jid }, out);
        self.drain(out);
    }

    pub(crate) fn answer_subscription<R: candado_otr::crypto::CryptoRng>(
        &mut self,
        jid: BareJid,
        accept: bool,
        out: &mut Out<'_, R>,
    ) {
        if !accept {
            self.xmpp(xmpp::Command::DenySubscription { to: jid }, out);
            self.drain(out);
            return;
        }
        self.xmpp(xmpp::Command::ApproveSubscription { to: jid.clone() }, out);
        let entry = self.roster.get(&jid.to_string());
        let in_roster = entry.is_some_and(|e| e.in_roster);
        let sees_them = entry.is_some_and(|e| {
            e.pending_out || matches!(e.subscription, Subscription::To | Subscription::Both)
        });
        if !in_roster {
            self.xmpp(
                xmpp::Command::SetRosterItem {
                    jid: jid.clone(),
                    name: None,
                    groups: Vec::new(),
                },
                out,
            );
        }
        if !sees_them {
            self.xmpp(xmpp::Command::Subscribe { to: jid }, out);
        }
        self.drain(out);
    }
}

/// Group chats (XEP-0045). They are never end-to-end encrypted: nothing here touches OTR.
impl Account {
    /// Enters `room` as `nick` (with `password`, or the one of a pending invitation into it), or
    /// reports the room again if we are already in it. Should the join create the room, it gets
    /// the password and `new_room`'s settings.
    pub(crate) fn join_room<R>(
        &mut self,
        room: BareJid,
        nick: String,
        password: Option<Secret>,
        new_room: NewRoom,
        out: &mut Out<'_, R>,
    ) {
        let name = room.to_string();
        let nick = nick.trim().to_owned();
        if nick.is_empty() {
            out.fail(
                Some(&self.id),
                CommandFailure::InvalidInput,
                "an empty nickname".into(),
            );
            return;
        }
        if let Some(r) = self.rooms.get(&name).filter(|r| r.joined) {
            let (nick, subject, nicks) = (
                r.nick.clone(),
                r.subject.clone(),
                r.occupants.iter().cloned().collect(),
            );
            out.emit(Event::RoomJoined {
                account: self.id.clone(),
                room: name.clone(),
                nick,
                subject: subject.map(Into::into),
            });
            out.emit(Event::RoomOccupants {
                account: self.id.clone(),
                room: name,
                nicks,
            });
            return;
        }
        if room.with_resource_str(&nick).is_err() {
            out.fail(
                Some(&self.id),
                CommandFailure::InvalidInput,
                "not a valid nickname".into(),
            );
            return;
        }
        if !self.is_online() {
            out.fail(
                Some(&self.id),
                CommandFailure::NotOnline,
                "the account is not online".into(),
            );
            return;
        }
        let invitation = self.invitations.remove(&name);
        let password = password
            .filter(|p| !p.expose().is_empty())
            .map(|p| xmpp::Password::new(p.expose()))
            .or_else(|| invitation.and_then(|i| i.password));
        let config = xmpp::RoomConfig {
            password: password.clone(),
            members_only: new_room.members_only,
            persistent: new_room.persistent,
        };
        self.rooms.insert(
            name,
            Room {
                nick: nick.clone(),
                joined: false,
                occupants: BTreeSet::new(),
                subject: None,
                unreflected: BTreeSet::new(),
                password: password.clone(),
            },
        );
        self.xmpp(
            xmpp::Command::JoinRoom {
                room: room.clone(),
                nick,
                password,
                history: None,
                config: Some(config),
            },
            out,
        );
    }

    /// The name of `room` if we are in it; otherwise reports "not in that room" and gives `None`.
    fn joined_room<R>(&self, room: &BareJid, out: &mut Out<'_, R>) -> Option<String> {
        let name = room.to_string();
        if self.rooms.get(&name).is_some_and(|r| r.joined) {
            return Some(name);
        }
        out.fail(
            Some(&self.id),
            CommandFailure::WrongState,
            "not in that room".into(),
        );
        None
    }

    /// Sets the subject of a room we are in; a refusal comes back as [`Event::RoomSubjectFailed`].
    pub(crate) fn set_room_subject<R>(
        &mut self,
        room: BareJid,
        subject: String,
        out: &mut Out<'_, R>,
    ) {
        let Some(name) = self.joined_room(&room, out) else {
            return;
        };
        let subject = subject.trim().to_owned();
        if let Some(id) = self.xmpp(xmpp::Command::SetRoomSubject { room, subject }, out) {
            self.note_room_sent(id, name, RoomSent::Subject);
        }
    }

    /// Invites `jid` into a room we are in, through the room.
    pub(crate) fn invite_to_room<R>(&mut self, room: BareJid, jid: &str, out: &mut Out<'_, R>) {
        if self.joined_room(&room, out).is_none() {
            return;
        }
        let Some(to) = crate::parse_jid(jid) else {
            out.fail(
                Some(&self.id),
                CommandFailure::InvalidInput,
                "not an address".into(),
            );
            return;
        };
        self.xmpp(
            xmpp::Command::InviteToRoom {
                room,
                to,
                reason: None,
            },
            out,
        );
    }

    /// Forgets the invitation into `room`; for a mediated one, the room tells the inviter.
    pub(crate) fn decline_invitation<R>(&mut self, room: BareJid, out: &mut Out<'_, R>) {
        let Some(invitation) = self.invitations.remove(&room.to_string()) else {
            out.fail(
                Some(&self.id),
                CommandFailure::WrongState,
                "no invitation into that room".into(),
            );
            return;
        };
        if let (true, Some(to)) = (invitation.mediated, invitation.from) {
            if self.is_online() {
                self.xmpp(
                    xmpp::Command::DeclineInvitation {
                        room,
                        to,
                        reason: None,
                    },
                    out,
                );
            }
        }
    }

    /// An invitation arrived: kept (never acted upon) and shown, marked when the inviter is not
    /// one of our contacts.
    fn invited<R>(
        &mut self,
        room: BareJid,
        from: Option<Jid>,
        reason: Option<String>,
        password: Option<xmpp::Password>,
        mediated: bool,
        out: &mut Out<'_, R>,
    ) {
        let name = room.to_string();
        if self.rooms.contains_key(&name) {
            // Already there (or entering).
            return;
        }
        if !self.invitations.contains_key(&name) && self.invitations.len() >= MAX_INVITATIONS {
            return;
        }
        // A room that hides addresses names the inviter by their occupant JID (room/nick).
        let (inviter, from_nick) = match &from {
            Some(f) if f.to_bare() == room => (None, f.resource().map(|r| r.to_string())),
            Some(f) => (Some(f.to_bare().to_string()), None),
            None => (None, None),
        };
        let from_contact = inviter
            .as_ref()
            .is_some_and(|j| self.roster.get(j).is_some_and(|e| e.in_roster));
        let has_password = password.is_some();
        self.invitations.insert(
            name.clone(),
            PendingInvitation {
                from,
                password,
                mediated,
            },
        );
        out.emit(Event::RoomInvitation {
            account: self.id.clone(),
            invitation: Invitation {
                room: name,
                from: inviter,
                from_nick,
                from_contact,
                reason: reason.map(Into::into),
                has_password,
                mediated,
            },
        });
    }

    fn note_room_sent(&mut self, id: String, room: String, what: RoomSent) {
        if self.room_sent.len() >= MAX_SENT_IDS {
            self.room_sent.pop_first();
        }
        self.room_sent.insert(id, (room, what));
    }

    /// The room sent back an error for a message or subject change of ours.
    fn room_refused<R>(
        &mut self,
        room: String,
        what: RoomSent,
        condition: String,
        out: &mut Out<'_, R>,
    ) {
        match what {
            RoomSent::Message(id) => out.emit(Event::RoomMessageFailed {
                account: self.id.clone(),
                room,
                id,
                condition,
            }),
            RoomSent::Subject => out.emit(Event::RoomSubjectFailed {
                account: self.id.clone(),
                room,
                condition,
            }),
        }
    }

    /// Leaves `room`; [`Event::RoomLeft`] follows when the room confirms.
    pub(crate) fn leave_room<R>(&mut self, room: BareJid, out: &mut Out<'_, R>) {
        let name = room.to_string();
        if !self.rooms.contains_key(&name) {
            out.fail(
                Some(&self.id),
                CommandFailure::WrongState,
                "not in that room".into(),
            );
            return;
        }
        if !self.is_online() {
            // Nothing to tell the server: we are out already.
            self.rooms.remove(&name);
            out.emit(Event::RoomLeft {
                account: self.id.clone(),
                room: name,
                removed: None,
            });
            return;
        }
        self.xmpp(xmpp::Command::LeaveRoom { room, status: None }, out);
    }

    /// Sends `text` to everyone in `room` (plaintext: group chats cannot be protected) and
    /// reports it once, as our own message.
    pub(crate) fn send_room_message<R>(
        &mut self,
        room: BareJid,
        text: String,
        out: &mut Out<'_, R>,
    ) {
        let name = room.to_string();
        let Some(nick) = self
            .rooms
            .get(&name)
            .filter(|r| r.joined)
            .map(|r| r.nick.clone())
        else {
            out.fail(
                Some(&self.id),
                CommandFailure::WrongState,
                "not in that room".into(),
            );
            return;
        };
        if text.trim().is_empty() {
            out.fail(
                Some(&self.id),
                CommandFailure::InvalidInput,
                "an empty message".into(),
            );
            return;
        }
        let Some(stanza_id) = self.xmpp(
            xmpp::Command::SendMessage {
                to: Jid::from(room),
                body: text.clone(),
                kind: xmpp::MessageKind::Groupchat,
                thread: None,
            },
            out,
        ) else {
            return;
        };
        if let Some(r) = self.rooms.get_mut(&name) {
            if r.unreflected.len() >= MAX_UNREFLECTED {
                r.unreflected.pop_first();
            }
            r.unreflected.insert(stanza_id.clone());
        }
        let id = out.local_id();
        self.note_room_sent(stanza_id, name.clone(), RoomSent::Message(id.clone()));
        let at = out.now;
        out.emit(Event::RoomMessage {
            account: self.id.clone(),
            room: name,
            message: RoomMessage {
                id,
                nick,
                text: text.into(),
                own: true,
                delivery: Delivery::Sent,
                at,
            },
        });
    }

    /// A `groupchat` message with a body. Only rooms we are in are listened to; the body is shown
    /// as text and never reaches OTR (a `?OTR` body in a room is someone's plaintext, or noise:
    /// there is no session to feed it to, and hiding it would hide what everyone else sees).
    fn room_message<R>(
        &mut self,
        from: &Jid,
        id: Option<String>,
        body: String,
        out: &mut Out<'_, R>,
    ) {
        let name = from.to_bare().to_string();
        let Some(r) = self.rooms.get_mut(&name) else {
            return;
        };
        // Messages from the room itself (no nickname) are service notices, not conversation.
        let Some(nick) = from.resource().map(|n| n.as_str().to_owned()) else {
            return;
        };
        let own = nick == r.nick;
        if own && id.as_ref().is_some_and(|id| r.unreflected.remove(id)) {
            // Our own message coming back from the room: reported when we sent it.
            return;
        }
        let id = out.local_id();
        let at = out.now;
        out.emit(Event::RoomMessage {
            account: self.id.clone(),
            room: name,
            message: RoomMessage {
                id,
                nick,
                text: body.into(),
                own,
                delivery: if own {
                    Delivery::Sent
                } else {
                    Delivery::Received
                },
                at,
            },
        });
    }

    fn report_occupants<R>(&self, name: &str, out: &mut Out<'_, R>) {
        if let Some(r) = self.rooms.get(name) {
            out.emit(Event::RoomOccupants {
                account: self.id.clone(),
                room: name.to_owned(),
                nicks: r.occupants.iter().cloned().collect(),
            });
        }
    }

    /// A fresh stream is online: the server took us out of every room with the old one.
    fn rejoin_rooms<R>(&mut self, out: &mut Out<'_, R>) {
        let rooms: Vec<(String, String, Option<xmpp::Password>)> = self
            .rooms
            .iter_mut()
            .map(|(name, r)| {
                r.joined = false;
                r.occupants.clear();
                r.unreflected.clear();
                (name.clone(), r.nick.clone(), r.password.clone())
            })
            .collect();
        for (name, nick, password) in rooms {
            let Ok(room) = name.parse::<BareJid>() else {
                continue;
            };
            // No history: what was said before the connection dropped is already on screen.
            self.xmpp(
                xmpp::Command::JoinRoom {
                    room,
                    nick,
                    password,
                    history: Some(0),
                    config: None,
                },
                out,
            );
        }
    }
}

/// Used by tests: the contacts currently known.
#[cfg(test)]
impl Account {
    pub(crate) fn contact(&self, jid: &str) -> Option<Contact> {
        self.roster.get(jid).map(|e| e.view(jid))
    }
}
