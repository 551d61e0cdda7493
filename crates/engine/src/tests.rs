//! Engines in memory: a tiny fake XMPP server (PLAIN login, bind, roster, presence, message
//! routing) relays frames between engines, so accounts, subscriptions, messages, OTR, SMP and the
//! outgoing queue are tested natively and fast. The same journey against a real Prosody is in
//! `tests/prosody_journey.rs`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use candado_api::*;
use candado_vault::{RecordId, RecordKind};

use super::*;

/// The seeded SHA-256 counter generator of `candado_otr::fuzzing`: reproducible, tests only.
pub(crate) use candado_otr::fuzzing::TestRng;

const URL: &str = "ws://127.0.0.1:5280/xmpp-websocket";

/// Three OTR keys, generated once per test run (key generation is the slow part).
fn key_record(n: usize) -> Vec<u8> {
    static KEYS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..3)
            .map(|i| {
                let key = DsaPrivateKey::generate(&mut TestRng::new(0x9e37_79b9_7f4a_7c15 + i));
                records::encode_key(&key).0.to_vec()
            })
            .collect()
    })[n]
        .clone()
}

fn attr(frame: &str, name: &str) -> Option<String> {
    for q in ['\'', '"'] {
        let pat = format!(" {name}={q}");
        if let Some(start) = frame.find(&pat) {
            let rest = &frame[start + pat.len()..];
            return rest.find(q).map(|end| rest[..end].to_string());
        }
    }
    None
}

/// One client of the fake server.
struct Client {
    engine: Engine<TestRng>,
    bare: String,
    full: String,
    socket: Option<SocketId>,
    authed: bool,
    online: bool,
    events: Vec<Event>,
    records: BTreeMap<(String, String), Vec<u8>>,
    /// Every record write ever asked for, in order (kind, id, payload).
    written: Vec<(String, String, Vec<u8>)>,
}

/// The fake server and its clients.
struct World {
    clients: Vec<Client>,
    /// Every stanza the server relayed, to check what it could read.
    relayed: Vec<String>,
    /// Every frame the clients sent (iqs and presences included).
    frames: Vec<String>,
    /// Roster per bare address: contact → (subscription, ask).
    rosters: BTreeMap<String, BTreeMap<String, (String, bool)>>,
    now: u64,
    /// A client whose socket the server stopped serving (half-open: nothing is answered,
    /// nothing is closed). Its frames are recorded in `frames` and go no further.
    silent: Option<usize>,
}

impl World {
    fn new(names: &[&str]) -> Self {
        let clients = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut engine = Engine::new(TestRng::new(1000 + i as u64));
                let bare = format!("{name}@localhost");
                engine.load_record(
                    &RecordKind::DSA_KEY,
                    &RecordId::new(bare.clone()).unwrap(),
                    &key_record(i),
                );
                Client {
                    engine,
                    full: format!("{bare}/web{i}"),
                    bare,
                    socket: None,
                    authed: false,
                    online: false,
                    events: Vec::new(),
                    records: BTreeMap::new(),
                    written: Vec::new(),
                }
            })
            .collect();
        World {
            clients,
            relayed: Vec::new(),
            frames: Vec::new(),
            rosters: BTreeMap::new(),
            now: 1_000,
            silent: None,
        }
    }

    fn id(&self, c: usize) -> AccountId {
        AccountId(self.clients[c].bare.clone())
    }

    fn peer(&self, c: usize) -> String {
        self.clients[c].bare.clone()
    }

    /// Client `c`'s OTR policy, for one peer or (with `None`) as its default.
    fn set_policy(&mut self, c: usize, peer: Option<String>, policy: OtrPolicy) {
        let account = self.id(c);
        self.command(
            c,
            Command::SetPolicy {
                account,
                peer,
                policy: Some(policy),
            },
        );
    }

    fn command(&mut self, c: usize, command: Command) {
        let now = self.now;
        self.clients[c].engine.handle_command(command, now);
        self.run();
    }

    fn login(&mut self, c: usize) {
        let jid = self.clients[c].bare.clone();
        self.command(
            c,
            Command::Login {
                account: AccountSetup {
                    jid,
                    password: Secret::new("pw"),
                    websocket_url: URL.into(),
                    remember_password: false,
                },
            },
        );
        assert!(self.clients[c].online, "client {c} did not get online");
    }

    /// Takes the events a client emitted so far.
    fn events(&mut self, c: usize) -> Vec<Event> {
        std::mem::take(&mut self.clients[c].events)
    }

    /// Runs every engine and the server until nothing moves.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for c in 0..self.clients.len() {
                while let Some(effect) = self.clients[c].engine.poll_effect() {
                    moved = true;
                    self.perform(c, effect);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the engines never went quiet");
    }

    fn deliver(&mut self, c: usize, frame: &str) {
        let now = self.now;
        let client = &mut self.clients[c];
        if let Some(socket) = client.socket {
            client.engine.handle_frame(socket, frame, now);
        }
    }

    fn perform(&mut self, c: usize, effect: Effect) {
        let now = self.now;
        match effect {
            Effect::Emit(ev) => {
                if let Event::Account {
                    state: AccountState::Online { .. },
                    ..
                } = &ev
                {
                    self.clients[c].online = true;
                }
                self.clients[c].events.push(ev);
            }
            Effect::OpenSocket { socket, url } => {
                assert_eq!(url, URL);
                self.clients[c].socket = Some(socket);
                self.clients[c].authed = false;
                self.clients[c].engine.handle_socket_open(socket, now);
            }
            Effect::CloseSocket { socket } => {
                if self.clients[c].socket == Some(socket) {
                    self.clients[c].socket = None;
                    self.clients[c].online = false;
                }
            }
            Effect::PutRecord { kind, id, value } => {
                self.clients[c].written.push((
                    kind.as_str().into(),
                    id.as_str().into(),
                    value.0.to_vec(),
                ));
                self.clients[c]
                    .records
                    .insert((kind.as_str().into(), id.as_str().into()), value.0.to_vec());
            }
            Effect::DeleteRecord { kind, id } => {
                self.clients[c]
                    .records
                    .remove(&(kind.as_str().into(), id.as_str().into()));
            }
            Effect::SendFrame { socket, text } => {
                assert_eq!(Some(socket), self.clients[c].socket);
                self.server(c, &text);
            }
        }
    }

    fn roster_push(&mut self, owner: usize, contact: &str) {
        let bare = self.clients[owner].bare.clone();
        let (sub, ask) = self.rosters[&bare][contact].clone();
        let ask = if ask { " ask='subscribe'" } else { "" };
        let frame = format!(
            "<iq xmlns='jabber:client' type='set' id='push{}'><query xmlns='jabber:iq:roster'>\
             <item jid='{contact}' subscription='{sub}'{ask}/></query></iq>",
            self.relayed.len()
        );
        self.deliver(owner, &frame);
    }

    fn client_of(&self, jid: &str) -> Option<usize> {
        let bare = jid.split('/').next().unwrap_or(jid);
        self.clients.iter().position(|c| c.bare == bare)
    }

    /// The fake server: answers login steps and routes stanzas.
    fn server(&mut self, c: usize, frame: &str) {
        let me_bare = self.clients[c].bare.clone();
        let me_full = self.clients[c].full.clone();
        self.frames.push(frame.to_string());
        if self.silent == Some(c) {
            return;
        }
        if frame.starts_with("<open") {
            self.deliver(
                c,
                "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='localhost' id='s'/>",
            );
            let features = if self.clients[c].authed {
                "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
            } else {
                "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
            };
            self.deliver(
                c,
                &format!("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>{features}</stream:features>"),
            );
        } else if frame.starts_with("<auth") {
            use base64::Engine as _;
            let payload = frame
                .split_once('>')
                .and_then(|(_, rest)| rest.split_once('<'))
                .and_then(|(b64, _)| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .unwrap_or_default();
            if payload.ends_with(b"\0wrong") {
                self.deliver(
                    c,
                    "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
                );
                return;
            }
            self.clients[c].authed = true;
            self.deliver(c, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        } else if frame.starts_with("<close") {
            self.deliver(c, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
        } else if frame.starts_with("<iq") {
            let id = attr(frame, "id").unwrap_or_default();
            if frame.contains("urn:ietf:params:xml:ns:xmpp-bind") {
                self.deliver(
                    c,
                    &format!(
                        "<iq xmlns='jabber:client' type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>{me_full}</jid></bind></iq>"
                    ),
                );
            } else if frame.contains("jabber:iq:roster")
                && attr(frame, "type").as_deref() == Some("get")
            {
                let items: String = self
                    .rosters
                    .get(&me_bare)
                    .map(|r| {
                        r.iter()
                            .map(|(j, (s, _))| format!("<item jid='{j}' subscription='{s}'/>"))
                            .collect()
                    })
                    .unwrap_or_default();
                self.deliver(
                    c,
                    &format!("<iq xmlns='jabber:client' type='result' id='{id}'><query xmlns='jabber:iq:roster'>{items}</query></iq>"),
                );
            } else if frame.contains("jabber:iq:roster") {
                let jid = frame
                    .split("<item")
                    .nth(1)
                    .and_then(|item| attr(item, "jid"))
                    .unwrap_or_default();
                let remove = frame.contains("subscription='remove'")
                    || frame.contains("subscription=\"remove\"");
                self.deliver(
                    c,
                    &format!("<iq xmlns='jabber:client' type='result' id='{id}'/>"),
                );
                if remove {
                    self.rosters
                        .entry(me_bare.clone())
                        .or_default()
                        .remove(&jid);
                    self.deliver(
                        c,
                        &format!("<iq xmlns='jabber:client' type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='{jid}' subscription='remove'/></query></iq>"),
                    );
                } else {
                    self.rosters
                        .entry(me_bare.clone())
                        .or_default()
                        .entry(jid.clone())
                        .or_insert(("none".into(), false));
                    self.roster_push(c, &jid);
                }
            } else {
                self.deliver(
                    c,
                    &format!("<iq xmlns='jabber:client' type='result' id='{id}'/>"),
                );
            }
        } else if frame.starts_with("<presence") {
            self.presence(c, frame);
        } else if frame.starts_with("<message") {
            self.relayed.push(frame.to_string());
            let to = attr(frame, "to").unwrap_or_default();
            if let Some(target) = self.client_of(&to) {
                let rest = frame.strip_prefix("<message").unwrap_or(frame);
                let routed = format!("<message from='{me_full}'{rest}");
                self.deliver(target, &routed);
            }
        }
    }

    fn set_sub(&mut self, owner: &str, contact: &str, f: impl FnOnce(&mut (String, bool))) {
        let entry = self
            .rosters
            .entry(owner.to_string())
            .or_default()
            .entry(contact.to_string())
            .or_insert(("none".into(), false));
        f(entry);
    }

    fn presence(&mut self, c: usize, frame: &str) {
        let me_bare = self.clients[c].bare.clone();
        let me_full = self.clients[c].full.clone();
        let kind = attr(frame, "type");
        let to = attr(frame, "to");
        match (kind.as_deref(), to) {
            (Some("subscribe"), Some(to)) => {
                self.set_sub(&me_bare, &to, |e| e.1 = true);
                self.roster_push(c, &to);
                if let Some(t) = self.client_of(&to) {
                    self.deliver(
                        t,
                        &format!("<presence xmlns='jabber:client' from='{me_bare}' to='{to}' type='subscribe'/>"),
                    );
                }
            }
            (Some("subscribed"), Some(to)) => {
                // `to` may now see `me`.
                self.set_sub(&me_bare, &to, |e| {
                    e.0 = match e.0.as_str() {
                        "to" | "both" => "both".into(),
                        _ => "from".into(),
                    }
                });
                self.set_sub(&to, &me_bare, |e| {
                    e.1 = false;
                    e.0 = match e.0.as_str() {
                        "from" | "both" => "both".into(),
                        _ => "to".into(),
                    }
                });
                if let Some(t) = self.client_of(&to) {
                    self.roster_push(c, &to);
                    self.roster_push(t, &me_bare);
                    self.deliver(
                        t,
                        &format!("<presence xmlns='jabber:client' from='{me_bare}' to='{to}' type='subscribed'/>"),
                    );
                    self.deliver(
                        t,
                        &format!("<presence xmlns='jabber:client' from='{me_full}'/>"),
                    );
                }
            }
            (Some("unsubscribed"), Some(to)) => {
                if let Some(t) = self.client_of(&to) {
                    self.deliver(
                        t,
                        &format!("<presence xmlns='jabber:client' from='{me_bare}' type='unsubscribed'/>"),
                    );
                }
            }
            (None, None) => {
                for t in 0..self.clients.len() {
                    if t != c && self.clients[t].online {
                        self.deliver(
                            t,
                            &format!("<presence xmlns='jabber:client' from='{me_full}'/>"),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Alice (0) and Bob (1) online and subscribed to each other.
    fn friends() -> Self {
        let mut w = World::new(&["alice", "bob"]);
        w.login(0);
        w.login(1);
        let (a, b) = (w.id(0), w.id(1));
        w.command(
            0,
            Command::AddContact {
                account: a,
                jid: w.peer(1),
                name: Some("Bob".into()),
            },
        );
        w.command(
            1,
            Command::AnswerSubscription {
                account: b,
                jid: w.peer(0),
                accept: true,
            },
        );
        w.events(0);
        w.events(1);
        w
    }

    fn send(&mut self, c: usize, to: usize, text: &str) {
        let (account, peer) = (self.id(c), self.peer(to));
        self.command(
            c,
            Command::SendMessage {
                account,
                peer,
                text: text.into(),
            },
        );
    }

    fn start_private(&mut self, c: usize, to: usize) {
        let (account, peer) = (self.id(c), self.peer(to));
        self.command(c, Command::StartPrivate { account, peer });
    }

    fn padlock(&self, c: usize, to: usize) -> Padlock {
        self.clients[c]
            .engine
            .padlock(&self.id(c), &self.peer(to))
            .map(|p| p.state)
            .unwrap_or(Padlock::NotEncrypted)
    }

    /// The fingerprint client `c` sees for client `to` in their conversation, if any.
    fn fingerprint(&self, c: usize, to: usize) -> Option<String> {
        self.clients[c]
            .engine
            .padlock(&self.id(c), &self.peer(to))
            .and_then(|p| p.fingerprint)
    }
}

fn received(events: &[Event]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } if message.direction == Direction::Incoming => {
                Some((message.text.to_string(), message.encrypted))
            }
            _ => None,
        })
        .collect()
}

fn notices(events: &[Event]) -> Vec<Notice> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notice { notice, .. } => Some(notice.clone()),
            _ => None,
        })
        .collect()
}

fn failures(events: &[Event]) -> Vec<CommandFailure> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CommandFailed { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect()
}

/// Hostile servers and peers (issue #9).
mod hostile;

// ---- the connection probe of the app shell ----

mod probe_tests {
    use super::*;

    fn server() -> ServerConfig {
        ServerConfig {
            domain: "localhost".into(),
            websocket_url: URL.into(),
        }
    }

    fn drain(engine: &mut Engine<TestRng>) -> Vec<Effect> {
        std::iter::from_fn(|| engine.poll_effect()).collect()
    }

    fn connecting() -> (Engine<TestRng>, SocketId) {
        let mut e = Engine::new(TestRng::new(5));
        e.handle_command(Command::Connect { server: server() }, 0);
        let socket = match drain(&mut e).as_slice() {
            [_, Effect::OpenSocket { socket, .. }] => *socket,
            other => panic!("{other:?}"),
        };
        e.handle_socket_open(socket, 0);
        drain(&mut e);
        (e, socket)
    }

    fn failed(reason: FailureReason) -> Effect {
        Effect::Emit(Event::Connection {
            state: ConnectionState::Failed {
                reason,
                websocket_url: URL.into(),
            },
        })
    }

    #[test]
    fn ping_is_answered() {
        let mut e = Engine::new(TestRng::new(1));
        e.handle_command(Command::Ping { nonce: 42 }, 0);
        assert_eq!(drain(&mut e), vec![Effect::Emit(Event::Pong { nonce: 42 })]);
    }

    #[test]
    fn connect_opens_the_socket_then_the_stream() {
        let mut e = Engine::new(TestRng::new(1));
        e.handle_command(Command::Connect { server: server() }, 0);
        let effects = drain(&mut e);
        assert_eq!(
            effects[0],
            Effect::Emit(Event::Connection {
                state: ConnectionState::Connecting {
                    websocket_url: URL.into()
                }
            })
        );
        let Effect::OpenSocket { socket, url } = &effects[1] else {
            panic!("{effects:?}")
        };
        assert_eq!(url, URL);
        e.handle_socket_open(*socket, 0);
        assert_eq!(
            drain(&mut e),
            vec![Effect::SendFrame {
                socket: *socket,
                text: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
                    .into()
            }]
        );
    }

    #[test]
    fn features_after_open_mean_connected() {
        let (mut e, s) = connecting();
        e.handle_frame(s, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='localhost' id='x'/>", 0);
        assert!(drain(&mut e).is_empty());
        e.handle_frame(s, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms/></stream:features>", 0);
        assert_eq!(
            drain(&mut e),
            vec![Effect::Emit(Event::Connection {
                state: ConnectionState::Connected {
                    domain: "localhost".into()
                }
            })]
        );
        assert_eq!(
            e.connection_state(),
            ConnectionState::Connected {
                domain: "localhost".into()
            }
        );
    }

    #[test]
    fn garbage_is_not_xmpp() {
        for frame in [
            "HTTP/1.1 404",
            "",
            "<",
            "<>",
            "<a:>",
            "{\"json\":1}",
            "<features/>",
        ] {
            let (mut e, s) = connecting();
            e.handle_frame(s, frame, 0);
            assert_eq!(
                drain(&mut e),
                vec![
                    Effect::CloseSocket { socket: s },
                    failed(FailureReason::NotXmpp)
                ],
                "{frame:?}"
            );
        }
    }

    #[test]
    fn stream_error_is_reported() {
        let (mut e, s) = connecting();
        e.handle_frame(s, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", 0);
        e.handle_frame(s, "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", 0);
        assert_eq!(
            drain(&mut e),
            vec![
                Effect::CloseSocket { socket: s },
                failed(FailureReason::StreamError)
            ]
        );
    }

    #[test]
    fn socket_failure_before_features_is_unreachable() {
        let mut e = Engine::new(TestRng::new(1));
        e.handle_command(Command::Connect { server: server() }, 0);
        let s = match drain(&mut e).as_slice() {
            [_, Effect::OpenSocket { socket, .. }] => *socket,
            other => panic!("{other:?}"),
        };
        e.handle_socket_closed(s, 0);
        assert_eq!(
            drain(&mut e),
            vec![
                Effect::CloseSocket { socket: s },
                failed(FailureReason::Unreachable)
            ]
        );
        assert_eq!(e.connection_state(), ConnectionState::Disconnected);
        // Input from the forgotten socket is ignored.
        e.handle_frame(s, "<open/>", 0);
        assert!(drain(&mut e).is_empty());
    }

    #[test]
    fn invalid_url_fails_without_opening_anything() {
        let mut e = Engine::new(TestRng::new(1));
        e.handle_command(
            Command::Connect {
                server: ServerConfig {
                    domain: "x".into(),
                    websocket_url: "https://x/".into(),
                },
            },
            0,
        );
        let effects = drain(&mut e);
        assert_eq!(effects.len(), 1);
        assert!(matches!(
            &effects[0],
            Effect::Emit(Event::Connection {
                state: ConnectionState::Failed {
                    reason: FailureReason::InvalidUrl,
                    ..
                }
            })
        ));
    }

    #[test]
    fn disconnect_closes_and_reports() {
        let (mut e, s) = connecting();
        e.handle_command(Command::Disconnect, 0);
        assert_eq!(
            drain(&mut e),
            vec![
                Effect::CloseSocket { socket: s },
                Effect::Emit(Event::Connection {
                    state: ConnectionState::Disconnected
                })
            ]
        );
        e.handle_command(Command::Disconnect, 0);
        assert!(drain(&mut e).is_empty());
    }
}

// ---- accounts, roster, messages ----

#[test]
fn login_goes_online_with_roster_and_own_fingerprint() {
    let mut w = World::new(&["alice"]);
    w.login(0);
    let ev = w.events(0);
    let states: Vec<&AccountState> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Account { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            &AccountState::Connecting,
            &AccountState::Online {
                jid: "alice@localhost/web0".into()
            }
        ]
    );
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Roster { contacts, .. } if contacts.is_empty())));
    let fp = ev.iter().find_map(|e| match e {
        Event::OwnFingerprint { fingerprint, .. } => Some(fingerprint.clone()),
        _ => None,
    });
    let loaded = records::decode_key(&key_record(0)).unwrap();
    assert_eq!(fp, Some(loaded.public_key().fingerprint().to_string()));
    // The key came from the vault: only the account itself is saved, without its password.
    let saved: Vec<&(String, String)> = w.clients[0].records.keys().collect();
    assert_eq!(
        saved,
        [&("credentials".to_string(), "alice@localhost".to_string())]
    );
    let credentials =
        records::Credentials::decode(&w.clients[0].records[saved[0]]).expect("decodes");
    assert_eq!(credentials.websocket_url, URL);
    assert!(credentials.password.is_none(), "not asked to remember");
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::SavedAccounts { accounts }
        if accounts.len() == 1 && !accounts[0].password_saved)));
}

#[test]
fn a_first_login_generates_and_stores_a_key() {
    let mut e = Engine::new(TestRng::new(77));
    e.handle_command(
        Command::Login {
            account: AccountSetup {
                jid: "carol@localhost".into(),
                password: Secret::new("pw"),
                websocket_url: URL.into(),
                remember_password: false,
            },
        },
        0,
    );
    // First the UI hears why the account is busy; the key is generated from the next timeout.
    let first: Vec<Effect> = std::iter::from_fn(|| e.poll_effect()).collect();
    assert_eq!(
        first,
        [Effect::Emit(Event::Account {
            account: AccountId("carol@localhost".into()),
            state: AccountState::GeneratingKey,
        })]
    );
    assert_eq!(e.poll_timeout(), Some(0));
    e.handle_timeout(5);
    let effects: Vec<Effect> = std::iter::from_fn(|| e.poll_effect()).collect();
    let stored = effects.iter().find_map(|e| match e {
        Effect::PutRecord { kind, id, value } if *kind == RecordKind::DSA_KEY => {
            Some((id.as_str().to_string(), value.0.to_vec()))
        }
        _ => None,
    });
    let (id, bytes) = stored.expect("the new key is stored");
    assert_eq!(id, "carol@localhost");
    assert!(records::decode_key(&bytes).is_some());
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::OpenSocket { .. })));
}

#[test]
fn bad_commands_are_reported_not_panicked() {
    let mut w = World::new(&["alice"]);
    let bad_setup = |jid: &str, url: &str| Command::Login {
        account: AccountSetup {
            jid: jid.into(),
            password: Secret::new("x"),
            websocket_url: url.into(),
            remember_password: false,
        },
    };
    w.command(0, bad_setup("no-at-sign", URL));
    w.command(0, bad_setup("a@b", "https://example.org/"));
    w.command(
        0,
        Command::SendMessage {
            account: AccountId("nobody@x".into()),
            peer: "bob@x".into(),
            text: "hi".into(),
        },
    );
    assert_eq!(
        failures(&w.events(0)),
        [
            CommandFailure::InvalidInput,
            CommandFailure::InvalidInput,
            CommandFailure::UnknownAccount,
        ]
    );
    w.login(0);
    w.events(0);
    let id = w.id(0);
    w.command(
        0,
        Command::SendMessage {
            account: id.clone(),
            peer: "@@".into(),
            text: "hi".into(),
        },
    );
    w.command(
        0,
        Command::SmpAsk {
            account: id.clone(),
            peer: "bob@localhost".into(),
            question: None,
            answer: "x".into(),
        },
    );
    w.command(0, bad_setup("alice@localhost", URL));
    w.command(
        0,
        Command::SetTrust {
            account: id,
            peer: "bob@localhost".into(),
            fingerprint: "nope".into(),
            trusted: true,
        },
    );
    assert_eq!(
        failures(&w.events(0)),
        [
            CommandFailure::InvalidInput,
            CommandFailure::WrongState,
            CommandFailure::AccountExists,
            CommandFailure::InvalidInput,
        ]
    );
}

#[test]
fn adding_a_contact_asks_and_the_answer_makes_friends() {
    let mut w = World::new(&["alice", "bob"]);
    w.login(0);
    w.login(1);
    w.events(0);
    w.events(1);
    let (a, b) = (w.id(0), w.id(1));
    w.command(
        0,
        Command::AddContact {
            account: a,
            jid: "Bob@localhost".into(),
            name: Some("Bob".into()),
        },
    );
    let ev = w.events(0);
    assert!(ev.iter().any(|e| matches!(e, Event::Contact { contact, .. }
        if contact.jid == "bob@localhost" && contact.pending_out)));
    let ev = w.events(1);
    assert!(
        ev.contains(&Event::SubscriptionRequest {
            account: b.clone(),
            jid: "alice@localhost".into(),
            status: None
        }),
        "{ev:?}"
    );
    w.command(
        1,
        Command::AnswerSubscription {
            account: b,
            jid: "alice@localhost".into(),
            accept: true,
        },
    );
    // Bob's request back was approved by Alice's engine without asking her (she added him).
    assert!(!w
        .events(0)
        .iter()
        .any(|e| matches!(e, Event::SubscriptionRequest { .. })));
    assert_eq!(w.rosters["alice@localhost"]["bob@localhost"].0, "both");
    assert_eq!(w.rosters["bob@localhost"]["alice@localhost"].0, "both");
    let bob_sees = w.clients[1]
        .engine
        .accounts
        .get(&w.id(1))
        .and_then(|a| a.contact("alice@localhost"))
        .unwrap();
    assert_eq!(bob_sees.subscription, Subscription::Both);
    assert_eq!(bob_sees.presence, Presence::Available);
}

#[test]
fn presence_that_changes_nothing_shown_sends_no_event() {
    let mut w = World::friends();
    w.events(0);
    // Alice's engine reads `frame`; the presences of the Contact events it then sent.
    let mut hear = |frame: &str| -> Vec<Presence> {
        w.deliver(0, frame);
        w.run();
        w.events(0)
            .into_iter()
            .filter_map(|e| match e {
                Event::Contact { contact, .. } => Some(contact.presence),
                _ => None,
            })
            .collect()
    };
    // Bob is online with one resource; a second one, also available, changes nothing shown.
    assert_eq!(
        hear("<presence xmlns='jabber:client' from='bob@localhost/phone'/>"),
        []
    );
    // The phone goes away: Bob is still online.
    assert_eq!(
        hear("<presence xmlns='jabber:client' from='bob@localhost/phone' type='unavailable'/>"),
        []
    );
    // His last resource goes: one event, offline.
    assert_eq!(
        hear("<presence xmlns='jabber:client' from='bob@localhost/web1' type='unavailable'/>"),
        [Presence::Offline]
    );
    // What a server answers its login probes with for an offline contact: nothing new.
    assert_eq!(
        hear("<presence xmlns='jabber:client' from='bob@localhost' type='unavailable'/>"),
        []
    );
    // Away is a change.
    assert_eq!(
        hear("<presence xmlns='jabber:client' from='bob@localhost/phone'><show>away</show></presence>"),
        [Presence::Away]
    );
}

#[test]
fn refusing_a_request_sends_unsubscribed() {
    let mut w = World::new(&["alice", "bob"]);
    w.login(0);
    w.login(1);
    let (a, b) = (w.id(0), w.id(1));
    w.command(
        0,
        Command::AddContact {
            account: a,
            jid: w.peer(1),
            name: None,
        },
    );
    w.command(
        1,
        Command::AnswerSubscription {
            account: b,
            jid: w.peer(0),
            accept: false,
        },
    );
    assert_ne!(w.rosters["alice@localhost"]["bob@localhost"].0, "both");
    assert!(!w.rosters.contains_key("bob@localhost"));
}

#[test]
fn plaintext_messages_both_ways_under_manual_policy() {
    let mut w = World::friends();
    for c in [0, 1] {
        w.set_policy(c, None, OtrPolicy::Manual);
    }
    w.send(0, 1, "hola <b>Bob</b>");
    w.send(1, 0, "hi Alice");
    assert_eq!(
        received(&w.events(1)),
        [("hola <b>Bob</b>".to_string(), false)]
    );
    assert_eq!(received(&w.events(0)), [("hi Alice".to_string(), false)]);
    assert!(w.relayed.iter().any(|f| f.contains("hi Alice")));
    // Policies were stored.
    assert!(w.clients[0]
        .records
        .contains_key(&("settings".into(), "alice@localhost".into())));
    assert_eq!(w.padlock(0, 1), Padlock::NotEncrypted);
}

#[test]
fn private_conversation_messages_smp_and_end() {
    let mut w = World::friends();
    w.start_private(0, 1);
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    assert_eq!(w.padlock(1, 0), Padlock::EncryptedUnverified);
    let ev = w.events(0);
    assert!(notices(&ev).contains(&Notice::PrivateStarted { verified: false }));
    let bob_fp = ev.iter().rev().find_map(|e| match e {
        Event::Padlock { padlock, .. } => padlock.fingerprint.clone(),
        _ => None,
    });
    let bob_key = records::decode_key(&key_record(1)).unwrap();
    assert_eq!(bob_fp, Some(bob_key.public_key().fingerprint().to_string()));
    w.events(1);

    w.send(0, 1, "secret plan");
    w.send(1, 0, "secret reply");
    assert_eq!(received(&w.events(1)), [("secret plan".to_string(), true)]);
    assert_eq!(received(&w.events(0)), [("secret reply".to_string(), true)]);
    assert!(
        !w.relayed.iter().any(|f| f.contains("secret")),
        "the server saw plaintext"
    );
    // OTR stanzas ask not to be stored nor copied to other clients; plaintext ones do not.
    for frame in &w.relayed {
        let otr = frame.contains("?OTR");
        assert_eq!(frame.contains("no-store"), otr, "{frame}");
        assert_eq!(frame.contains("no-copy"), otr, "{frame}");
    }

    // SMP: a wrong answer fails on both sides.
    let (a, b) = (w.id(0), w.id(1));
    w.command(
        0,
        Command::SmpAsk {
            account: a.clone(),
            peer: w.peer(1),
            question: Some("Where did we meet?".into()),
            answer: "Madrid".into(),
        },
    );
    assert!(w.events(1).contains(&Event::SmpQuestion {
        account: b.clone(),
        peer: w.peer(0),
        question: Some("Where did we meet?".into())
    }));
    w.command(
        1,
        Command::SmpAnswer {
            account: b.clone(),
            peer: w.peer(0),
            answer: "madrid".into(),
        },
    );
    assert!(notices(&w.events(0)).contains(&Notice::VerificationFailed));
    assert!(notices(&w.events(1)).contains(&Notice::VerificationFailed));
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);

    // The right answer verifies Bob for Alice (not Alice for Bob: he answered).
    w.command(
        0,
        Command::SmpAsk {
            account: a.clone(),
            peer: w.peer(1),
            question: Some("Where did we meet?".into()),
            answer: "Madrid".into(),
        },
    );
    w.command(
        1,
        Command::SmpAnswer {
            account: b.clone(),
            peer: w.peer(0),
            answer: "Madrid".into(),
        },
    );
    assert!(notices(&w.events(0)).contains(&Notice::Verified));
    assert!(notices(&w.events(1)).contains(&Notice::AnsweredCorrectly));
    assert_eq!(w.padlock(0, 1), Padlock::Verified);
    assert_eq!(w.padlock(1, 0), Padlock::EncryptedUnverified);
    // The trust went to the vault.
    let stored = &w.clients[0].records[&("fingerprints".into(), "alice@localhost".into())];
    let trust = records::TrustStore::decode(stored);
    assert_eq!(
        trust.trust("bob@localhost", &bob_key.public_key().fingerprint()),
        Some(Trust::Trusted)
    );

    // Bob ends the private conversation: Alice is told and her padlock opens.
    w.command(
        1,
        Command::EndPrivate {
            account: b,
            peer: w.peer(0),
        },
    );
    assert_eq!(w.padlock(1, 0), Padlock::NotEncrypted);
    let ev = w.events(0);
    assert!(notices(&ev).contains(&Notice::PeerEndedPrivate));
    assert_eq!(w.padlock(0, 1), Padlock::NotEncrypted);
    let view = w.clients[0].engine.padlock(&a, &w.peer(1)).unwrap();
    assert!(view.finished);
    // Nothing typed goes out in plaintext while the contact has ended it.
    let before = w.relayed.len();
    w.send(0, 1, "are you there");
    assert_eq!(failures(&w.events(0)), [CommandFailure::WrongState]);
    assert_eq!(w.relayed.len(), before);
}

#[test]
fn under_always_typed_messages_wait_and_leave_only_encrypted() {
    let mut w = World::friends();
    w.set_policy(0, Some(w.peer(1)), OtrPolicy::Always);
    w.send(0, 1, "first words");
    let ev = w.events(0);
    let outgoing: Vec<Delivery> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } if message.direction == Direction::Outgoing => {
                Some(message.delivery)
            }
            _ => None,
        })
        .collect();
    // Queued first, then sent once the AKE (started by the query) finished.
    assert_eq!(outgoing, [Delivery::Queued, Delivery::Sent]);
    assert_eq!(received(&w.events(1)), [("first words".to_string(), true)]);
    assert!(!w.relayed.iter().any(|f| f.contains("first words")));
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
}

/// Replaces Bob's client by one with another long-term key (the third test key), online.
fn bob_with_another_key(w: &mut World) -> String {
    w.clients[1].engine = Engine::new(TestRng::new(4242));
    w.clients[1].engine.load_record(
        &RecordKind::DSA_KEY,
        &RecordId::new("bob@localhost").unwrap(),
        &key_record(2),
    );
    w.clients[1].online = false;
    w.login(1);
    w.events(1);
    records::decode_key(&key_record(2))
        .unwrap()
        .public_key()
        .fingerprint()
        .to_string()
}

#[test]
fn queued_messages_are_held_when_a_verified_key_changed() {
    let mut w = World::new(&["alice", "bob", "mallory"]);
    // Mallory's engine logs in as bob with another key.
    w.login(0);
    w.login(1);
    let a = w.id(0);
    let bob = w.peer(1);
    // Alice trusted Bob's real key earlier.
    let real = records::decode_key(&key_record(1)).unwrap();
    w.command(
        0,
        Command::SetTrust {
            account: a.clone(),
            peer: bob.clone(),
            fingerprint: real.public_key().fingerprint().to_hex(),
            trusted: true,
        },
    );
    // Now "bob" answers with a different key (the third one).
    let fake = bob_with_another_key(&mut w);
    w.events(0);
    w.set_policy(0, None, OtrPolicy::Always);
    w.send(0, 1, "for bob only");
    let ev = w.events(0);
    assert!(notices(&ev).contains(&Notice::FingerprintChanged {
        fingerprint: fake.clone()
    }));
    assert!(received(&w.events(1)).is_empty());
    assert!(!w.relayed.iter().any(|f| f.contains("for bob only")));
    let view = w.clients[0].engine.padlock(&a, &bob).unwrap();
    assert_eq!(view.state, Padlock::EncryptedUnverified);
    assert_eq!(view.queued, 1);
    // Once Alice trusts the new key (after checking it), the message goes, encrypted.
    w.command(
        0,
        Command::SetTrust {
            account: a,
            peer: bob,
            fingerprint: fake.clone(),
            trusted: true,
        },
    );
    assert_eq!(received(&w.events(1)), [("for bob only".to_string(), true)]);
    assert_eq!(w.padlock(0, 1), Padlock::Verified);
}

#[test]
fn late_otr_messages_that_do_not_decrypt_are_noticed_and_never_answered() {
    let mut w = World::friends();
    w.events(0);
    let frame = "<message xmlns='jabber:client' from='bob@localhost/web1' to='alice@localhost' type='chat'>\
        <body>?OTR:AAMDbogus.</body><delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/></message>";
    w.deliver(0, frame);
    w.run();
    let ev = w.events(0);
    assert_eq!(notices(&ev), [Notice::StoredEncryptedMessage]);
    assert!(received(&ev).is_empty());
    // Had it been fed to OTR, an error message would have gone back to Bob.
    assert!(!w.relayed.iter().any(|f| f.contains("?OTR Error")));
}

#[test]
fn a_late_data_message_that_still_decrypts_is_shown_once() {
    let mut w = World::friends();
    w.start_private(0, 1);
    w.send(1, 0, "hola");
    w.events(0);
    // Bob writes while Alice's stream is away; the server keeps the message and, once she
    // resumes the stream, sends it again with a <delay/> (as Prosody's mod_smacks does).
    let socket = w.clients[0].socket.take();
    w.send(1, 0, "written while you were away");
    w.clients[0].socket = socket;
    let kept = w.relayed.last().cloned().unwrap_or_default();
    let rest = kept.strip_prefix("<message").unwrap_or(&kept);
    let late = format!("<message from='{}'{rest}", w.clients[1].full).replace(
        "</message>",
        "<delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-12-07T16:00:00Z'/></message>",
    );
    let before = w.relayed.len();
    w.deliver(0, &late);
    w.run();
    let ev = w.events(0);
    assert_eq!(
        received(&ev),
        [("written while you were away".to_string(), true)]
    );
    assert!(notices(&ev).is_empty(), "{ev:?}");
    // The same copy again is a duplicate: dropped without a word.
    w.deliver(0, &late);
    w.run();
    let ev = w.events(0);
    assert!(
        received(&ev).is_empty() && notices(&ev).is_empty(),
        "{ev:?}"
    );
    assert_eq!(w.relayed.len(), before, "nothing was sent back");
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
}

#[test]
fn logout_ends_private_conversations_and_goes_offline() {
    let mut w = World::friends();
    w.start_private(0, 1);
    let a = w.id(0);
    w.command(0, Command::Logout { account: a.clone() });
    assert!(w.events(0).contains(&Event::Account {
        account: a.clone(),
        state: AccountState::Offline
    }));
    assert!(notices(&w.events(1)).contains(&Notice::PeerEndedPrivate));
    assert_eq!(w.clients[0].socket, None);
    // The account can log in again, with the same key.
    w.login(0);
    let fp = w.events(0).into_iter().find_map(|e| match e {
        Event::OwnFingerprint { fingerprint, .. } => Some(fingerprint),
        _ => None,
    });
    let key = records::decode_key(&key_record(0)).unwrap();
    assert_eq!(fp, Some(key.public_key().fingerprint().to_string()));
}

#[test]
fn debug_never_shows_secrets() {
    let mut w = World::friends();
    w.start_private(0, 1);
    w.set_policy(0, None, OtrPolicy::Always);
    w.send(1, 0, "x");
    let shown = format!("{:?}", w.clients[0].engine);
    assert!(!shown.contains("pw"), "{shown}");
    let record = Effect::PutRecord {
        kind: RecordKind::DSA_KEY,
        id: RecordId::new("a@b").unwrap(),
        value: records::RecordValue(zeroize::Zeroizing::new(key_record(0))),
    };
    let shown = format!("{record:?}");
    assert!(shown.contains("bytes"), "{shown}");
    assert!(shown.len() < 200, "{shown}");
}

// ---- saved accounts, unlocking, reconnection ----

/// Logs `c` in asking to remember the password.
fn login_remembering(w: &mut World, c: usize) {
    let jid = w.clients[c].bare.clone();
    w.command(
        c,
        Command::Login {
            account: AccountSetup {
                jid,
                password: Secret::new("pw"),
                websocket_url: URL.into(),
                remember_password: true,
            },
        },
    );
    assert!(w.clients[c].online);
}

/// A new engine for client `c` loaded with what the old one stored, as after a reload.
fn reload(w: &mut World, c: usize) {
    let mut engine = Engine::new(TestRng::new(5000 + c as u64));
    for ((kind, id), value) in &w.clients[c].records {
        engine.load_record(
            &RecordKind::new(kind.clone()).unwrap(),
            &RecordId::new(id.clone()).unwrap(),
            value,
        );
    }
    engine.load_record(
        &RecordKind::DSA_KEY,
        &RecordId::new(w.clients[c].bare.clone()).unwrap(),
        &key_record(c),
    );
    w.clients[c].engine = engine;
    w.clients[c].socket = None;
    w.clients[c].online = false;
    w.clients[c].events.clear();
}

#[test]
fn a_remembered_password_logs_in_by_itself_after_unlocking() {
    let mut w = World::new(&["alice"]);
    login_remembering(&mut w, 0);
    let stored = &w.clients[0].records[&("credentials".to_string(), "alice@localhost".to_string())];
    let credentials = records::Credentials::decode(stored).unwrap();
    assert_eq!(
        credentials.password.as_deref().map(String::as_str),
        Some("pw")
    );

    reload(&mut w, 0);
    let now = w.now;
    w.clients[0].engine.handle_unlocked(now);
    w.run();
    assert!(w.clients[0].online, "logged in without being asked");
    let ev = w.events(0);
    assert_eq!(
        ev.first(),
        Some(&Event::SavedAccounts {
            accounts: vec![SavedAccount {
                account: w.id(0),
                websocket_url: URL.into(),
                password_saved: true,
            }],
        })
    );
}

#[test]
fn without_a_remembered_password_unlocking_only_lists_the_account() {
    let mut w = World::new(&["alice"]);
    w.login(0);
    reload(&mut w, 0);
    let now = w.now;
    w.clients[0].engine.handle_unlocked(now);
    w.run();
    assert!(!w.clients[0].online);
    let ev = w.events(0);
    assert!(
        matches!(&ev[..], [Event::SavedAccounts { accounts }] if accounts.len() == 1 && !accounts[0].password_saved),
        "{ev:?}"
    );
}

#[test]
fn forgetting_an_account_deletes_everything_it_stored() {
    let mut w = World::friends();
    w.start_private(0, 1);
    assert!(w.clients[0]
        .records
        .keys()
        .any(|(kind, _)| kind == "fingerprints"));
    let id = w.id(0);
    w.command(0, Command::ForgetAccount { account: id });
    assert!(
        w.clients[0].records.is_empty(),
        "{:?}",
        w.clients[0].records.keys()
    );
    let ev = w.events(0);
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Account {
            state: AccountState::Offline,
            ..
        }
    )));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::SavedAccounts { accounts } if accounts.is_empty())));
}

#[test]
fn retry_delays_grow_to_a_minute_with_jitter() {
    use crate::account::retry_delay;
    for jitter in [0, 1, 12345, u32::MAX] {
        let first = retry_delay(1, jitter);
        assert!((800..=1200).contains(&first), "{first}");
        let tenth = retry_delay(10, jitter);
        assert!((48_000..=72_000).contains(&tenth), "{tenth}");
        assert!(retry_delay(u32::MAX, jitter) <= 72_000);
    }
    assert!(retry_delay(3, 0) > retry_delay(2, u32::MAX) / 2);
}

/// Drops client `c`'s socket as a network failure would.
fn cut(w: &mut World, c: usize) {
    let socket = w.clients[c].socket.take().expect("connected");
    w.clients[c].online = false;
    let now = w.now;
    w.clients[c].engine.handle_socket_closed(socket, now);
    w.run();
}

fn reconnecting(events: &[Event]) -> Vec<(u32, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Account {
                state:
                    AccountState::Reconnecting {
                        attempt,
                        retry_in_ms,
                    },
                ..
            } => Some((*attempt, *retry_in_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lost_connection_comes_back_by_itself_and_the_private_conversation_goes_on() {
    let mut w = World::friends();
    w.start_private(0, 1);
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    w.events(0);
    cut(&mut w, 0);
    let waits = reconnecting(&w.events(0));
    assert_eq!(waits.len(), 1, "{waits:?}");
    let (attempt, wait) = waits[0];
    assert_eq!(attempt, 1);
    // Nothing happens before the retry is due.
    let due = w.clients[0].engine.poll_timeout().unwrap();
    assert_eq!(due, w.now + wait);
    w.now = due;
    let now = w.now;
    w.clients[0].engine.handle_timeout(now);
    w.run();
    assert!(w.clients[0].online, "back online");
    // The OTR session lives in the engine, not in the socket: still private, both ways.
    assert_eq!(w.padlock(0, 1), Padlock::EncryptedUnverified);
    w.send(0, 1, "¿seguís ahí?");
    w.send(1, 0, "sí");
    assert!(received(&w.events(1)).contains(&("¿seguís ahí?".to_string(), true)));
    assert!(received(&w.events(0)).contains(&("sí".to_string(), true)));
}

#[test]
fn an_unreachable_server_is_retried_with_growing_waits_and_wake_retries_at_once() {
    let mut w = World::friends();
    w.events(0);
    cut(&mut w, 0);
    let mut waits = reconnecting(&w.events(0));
    for _ in 0..3 {
        // Each attempt fails to open its socket.
        let due = w.clients[0].engine.poll_timeout().unwrap();
        w.now = due;
        let now = w.now;
        w.clients[0].engine.handle_timeout(now);
        let effects: Vec<Effect> =
            std::iter::from_fn(|| w.clients[0].engine.poll_effect()).collect();
        let socket = effects
            .iter()
            .find_map(|e| match e {
                Effect::OpenSocket { socket, .. } => Some(*socket),
                _ => None,
            })
            .expect("a new attempt");
        w.clients[0].engine.handle_socket_closed(socket, now);
        let more: Vec<Event> = std::iter::from_fn(|| w.clients[0].engine.poll_effect())
            .filter_map(|e| match e {
                Effect::Emit(ev) => Some(ev),
                _ => None,
            })
            .collect();
        waits.extend(reconnecting(&more));
    }
    let attempts: Vec<u32> = waits.iter().map(|w| w.0).collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    assert!(waits[3].1 > waits[0].1 * 4, "{waits:?}");
    // The network is back: no need to wait out the last delay.
    let due = w.clients[0].engine.poll_timeout().unwrap();
    assert!(due > w.now + 1000);
    w.command(0, Command::Wake);
    assert!(w.clients[0].online, "Wake reconnected at once");
}

#[test]
fn a_wrong_password_is_not_retried() {
    let mut w = World::new(&["alice"]);
    // The fake server refuses PLAIN for this password.
    let jid = w.clients[0].bare.clone();
    w.command(
        0,
        Command::Login {
            account: AccountSetup {
                jid,
                password: Secret::new("wrong"),
                websocket_url: URL.into(),
                remember_password: false,
            },
        },
    );
    let ev = w.events(0);
    assert!(reconnecting(&ev).is_empty());
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Account {
                state: AccountState::Failed {
                    reason: AccountFailure::AuthFailed,
                    ..
                },
                ..
            }
        )),
        "{ev:?}"
    );
    assert_eq!(w.clients[0].engine.poll_timeout(), None);
}

#[test]
fn html_from_libpurple_peers_is_shown_as_text_and_typed_markup_is_kept() {
    let mut w = World::friends();
    w.start_private(0, 1);
    w.events(1);
    // What Pidgin puts inside OTR for a formatted "hola & chau".
    w.send(0, 1, "<FONT COLOR=\"#0000ff\">hola &amp; chau</FONT><BR>");
    // What a person types in Candado, bare '&' included: kept exactly.
    w.send(0, 1, "<b>Yes</b> & more");
    let got = received(&w.events(1));
    assert!(
        got.contains(&("hola & chau\n".to_string(), true)),
        "{got:?}"
    );
    assert!(
        got.contains(&("<b>Yes</b> & more".to_string(), true)),
        "{got:?}"
    );
}

#[test]
fn rooms_join_report_occupants_and_keep_messages_out_of_otr() {
    let mut w = World::new(&["alice"]);
    w.login(0);
    w.events(0);
    let room = "sala@conference.localhost";
    let a = w.id(0);
    let full = w.clients[0].full.clone();
    // Bad input and sending before joining are refused.
    w.command(
        0,
        Command::JoinRoom {
            account: a.clone(),
            room: "conference.localhost".into(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
    );
    w.command(
        0,
        Command::JoinRoom {
            account: a.clone(),
            room: room.into(),
            nick: "  ".into(),
            password: None,
            new_room: NewRoom::default(),
        },
    );
    w.command(
        0,
        Command::SendRoomMessage {
            account: a.clone(),
            room: room.into(),
            text: "hola".into(),
        },
    );
    assert_eq!(
        failures(&w.events(0)),
        [
            CommandFailure::InvalidInput,
            CommandFailure::InvalidInput,
            CommandFailure::WrongState
        ]
    );

    w.command(
        0,
        Command::JoinRoom {
            account: a.clone(),
            room: room.into(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
    );
    let user = "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/>";
    w.deliver(
        0,
        &format!(
            "<presence xmlns='jabber:client' from='{room}/bob' to='{full}'>{user}</x></presence>"
        ),
    );
    w.deliver(
        0,
        &format!("<presence xmlns='jabber:client' from='{room}/alice' to='{full}'>{user}<status code='110'/></x></presence>"),
    );
    w.run();
    let events = w.events(0);
    assert!(
        events.contains(&Event::RoomJoined {
            account: a.clone(),
            room: room.into(),
            nick: "alice".into(),
            subject: None
        }),
        "{events:?}"
    );
    assert!(events.contains(&Event::RoomOccupants {
        account: a.clone(),
        room: room.into(),
        nicks: vec!["alice".into(), "bob".into()]
    }));

    // A `?OTR` body in a room is text; no OTR session, padlock or notice comes of it.
    let groupchat = |from: &str, id: &str, body: &str| {
        format!("<message xmlns='jabber:client' type='groupchat' from='{from}' to='{full}' id='{id}'><body>{body}</body></message>")
    };
    w.deliver(
        0,
        &groupchat(&format!("{room}/bob"), "b1", "?OTRv23? &lt;b&gt;hi"),
    );
    // Not from a room we are in, or from the room itself: ignored.
    w.deliver(0, &groupchat("otra@conference.localhost/eve", "e1", "spam"));
    w.deliver(0, &groupchat(room, "r1", "This room is not anonymous"));
    w.run();
    let events = w.events(0);
    assert!(
        matches!(events.as_slice(), [Event::RoomMessage { room: r, message, .. }]
            if r == room && message.nick == "bob" && message.text == "?OTRv23? <b>hi" && !message.own),
        "{events:?}"
    );
    assert!(w.clients[0].engine.padlock(&a, room).is_none());
    assert!(
        !w.relayed.iter().any(|f| f.contains("?OTR")),
        "no OTR answer to a room"
    );

    // Our message is reported at once, and not again when the room reflects it.
    w.command(
        0,
        Command::SendRoomMessage {
            account: a.clone(),
            room: room.into(),
            text: "hola".into(),
        },
    );
    let sent = w.relayed.last().cloned().unwrap_or_default();
    assert_eq!(attr(&sent, "type").as_deref(), Some("groupchat"));
    let id = attr(&sent, "id").unwrap();
    w.deliver(0, &groupchat(&format!("{room}/alice"), &id, "hola"));
    // Our nickname from another client of ours: ours, reported.
    w.deliver(
        0,
        &groupchat(&format!("{room}/alice"), "other", "desde el teléfono"),
    );
    w.run();
    let mine: Vec<(String, bool)> = w
        .events(0)
        .into_iter()
        .filter_map(|e| match e {
            Event::RoomMessage { message, .. } => Some((message.text.into_string(), message.own)),
            _ => None,
        })
        .collect();
    assert_eq!(
        mine,
        [("hola".into(), true), ("desde el teléfono".into(), true)]
    );

    // bob leaves; then we do.
    w.deliver(
        0,
        &format!("<presence xmlns='jabber:client' type='unavailable' from='{room}/bob' to='{full}'>{user}</x></presence>"),
    );
    w.command(
        0,
        Command::LeaveRoom {
            account: a.clone(),
            room: room.into(),
        },
    );
    w.deliver(
        0,
        &format!("<presence xmlns='jabber:client' type='unavailable' from='{room}/alice' to='{full}'>{user}<status code='110'/></x></presence>"),
    );
    w.run();
    let events = w.events(0);
    assert!(events.contains(&Event::RoomOccupants {
        account: a.clone(),
        room: room.into(),
        nicks: vec!["alice".into()]
    }));
    assert!(events.contains(&Event::RoomLeft {
        account: a.clone(),
        room: room.into(),
        removed: None
    }));
}

#[test]
fn invitations_passwords_subjects_and_refusals_in_rooms() {
    // alice and bob are contacts; carol is a stranger to alice.
    let mut w = World::friends();
    w.events(0);
    let a = w.id(0);
    let full = w.clients[0].full.clone();
    let room = "secreta@conference.localhost";
    // A mediated invitation from a contact, with the room password; a direct one from a stranger.
    w.deliver(
        0,
        &format!("<message xmlns='jabber:client' from='{room}' to='{full}'><x xmlns='http://jabber.org/protocol/muc#user'>\
            <invite from='bob@localhost/web1'><reason>&lt;b&gt;ven&lt;/b&gt;</reason></invite><password>clave 1</password></x></message>"),
    );
    w.deliver(
        0,
        &format!(
            "<message xmlns='jabber:client' from='carol@elsewhere.example/x' to='{full}'>\
            <x xmlns='jabber:x:conference' jid='otra@conference.localhost'/></message>"
        ),
    );
    w.run();
    let events = w.events(0);
    let invitations: Vec<Invitation> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::RoomInvitation { invitation, .. } => Some(invitation),
            _ => None,
        })
        .collect();
    assert_eq!(
        invitations,
        [
            Invitation {
                room: room.into(),
                from: Some("bob@localhost".into()),
                from_nick: None,
                from_contact: true,
                reason: Some("<b>ven</b>".into()),
                has_password: true,
                mediated: true,
            },
            Invitation {
                room: "otra@conference.localhost".into(),
                from: Some("carol@elsewhere.example".into()),
                from_nick: None,
                from_contact: false,
                reason: None,
                has_password: false,
                mediated: false,
            }
        ]
    );
    // Never joined by themselves: nothing was sent to either room.
    assert!(!w.frames.iter().any(|f| f.contains("conference.localhost")));

    // Declining the direct one sends nothing; declining twice is refused.
    let sent_before = w.relayed.len();
    for _ in 0..2 {
        w.command(
            0,
            Command::DeclineInvitation {
                account: a.clone(),
                room: "otra@conference.localhost".into(),
            },
        );
    }
    assert_eq!(w.relayed.len(), sent_before);
    assert_eq!(failures(&w.events(0)), [CommandFailure::WrongState]);

    // Joining the invited room uses the invitation's password.
    w.command(
        0,
        Command::JoinRoom {
            account: a.clone(),
            room: room.into(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
    );
    let join = w.frames.last().cloned().unwrap_or_default();
    assert!(join.contains("<password>clave 1</password>"), "{join}");
    // The join is not in any event or failure, and the password in no event.
    let events = w.events(0);
    assert!(!format!("{events:?}").contains("clave 1"), "{events:?}");
    // The invitation is used up: declining it now is refused.
    w.command(
        0,
        Command::DeclineInvitation {
            account: a.clone(),
            room: room.into(),
        },
    );
    assert_eq!(failures(&w.events(0)), [CommandFailure::WrongState]);
    let user = "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/>";
    w.deliver(
        0,
        &format!("<presence xmlns='jabber:client' from='{room}/alice' to='{full}'>{user}<status code='110'/></x></presence>"),
    );
    w.run();
    assert!(w
        .events(0)
        .iter()
        .any(|e| matches!(e, Event::RoomJoined { room: r, .. } if r == room)));

    // An invitation into a room we are in is not shown again.
    w.deliver(
        0,
        &format!("<message xmlns='jabber:client' from='{room}' to='{full}'><x xmlns='http://jabber.org/protocol/muc#user'>\
            <invite from='bob@localhost/web1'/></x></message>"),
    );
    w.run();
    assert!(w.events(0).is_empty());

    // Inviting goes through the room.
    w.command(
        0,
        Command::InviteToRoom {
            account: a.clone(),
            room: room.into(),
            jid: "carol@elsewhere.example".into(),
        },
    );
    let invite = w.relayed.last().cloned().unwrap_or_default();
    assert_eq!(attr(&invite, "to").as_deref(), Some(room));
    assert!(
        invite.contains("<invite to='carol@elsewhere.example'"),
        "{invite}"
    );

    // The subject: sent to the room; the room's refusal is reported as such.
    w.command(
        0,
        Command::SetRoomSubject {
            account: a.clone(),
            room: room.into(),
            subject: "Orden del día".into(),
        },
    );
    let subject = w.relayed.last().cloned().unwrap_or_default();
    assert!(
        subject.contains("<subject>Orden del día</subject>"),
        "{subject}"
    );
    let id = attr(&subject, "id").unwrap();
    let forbidden =
        "<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>";
    w.deliver(
        0,
        &format!("<message xmlns='jabber:client' type='error' id='{id}' from='{room}' to='{full}'>{forbidden}</message>"),
    );
    w.run();
    assert_eq!(
        w.events(0),
        [Event::RoomSubjectFailed {
            account: a.clone(),
            room: room.into(),
            condition: "forbidden".into()
        }]
    );

    // A message the room refuses is marked failed (it was shown as sent).
    w.command(
        0,
        Command::SendRoomMessage {
            account: a.clone(),
            room: room.into(),
            text: "¿me leen?".into(),
        },
    );
    let events = w.events(0);
    let Some(Event::RoomMessage { message, .. }) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(message.delivery, Delivery::Sent);
    let local = message.id.clone();
    let sent = w.relayed.last().cloned().unwrap_or_default();
    let id = attr(&sent, "id").unwrap();
    w.deliver(
        0,
        &format!("<message xmlns='jabber:client' type='error' id='{id}' from='{room}' to='{full}'>\
            <error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"),
    );
    w.run();
    assert_eq!(
        w.events(0),
        [Event::RoomMessageFailed {
            account: a.clone(),
            room: room.into(),
            id: local,
            condition: "not-acceptable".into()
        }]
    );

    // After a lost connection, the room is entered again with its password.
    cut(&mut w, 0);
    let due = w.clients[0].engine.poll_timeout().unwrap();
    w.now = due;
    let now = w.now;
    w.clients[0].engine.handle_timeout(now);
    w.run();
    assert!(w.clients[0].online);
    let rejoin = w
        .frames
        .iter()
        .rev()
        .find(|f| {
            f.contains(&format!("to='{room}/alice'")) || f.contains(&format!("to=\"{room}/alice\""))
        })
        .cloned()
        .unwrap_or_default();
    assert!(rejoin.contains("<password>clave 1</password>"), "{rejoin}");
}

#[test]
fn a_room_we_create_gets_its_settings_or_says_it_could_not() {
    let mut w = World::new(&["alice"]);
    w.login(0);
    w.events(0);
    let a = w.id(0);
    let full = w.clients[0].full.clone();
    for (room, form_ok) in [
        ("nueva@conference.localhost", true),
        ("rara@conference.localhost", false),
    ] {
        w.command(
            0,
            Command::JoinRoom {
                account: a.clone(),
                room: room.into(),
                nick: "alice".into(),
                password: Some(Secret::new("abre sésamo")),
                new_room: NewRoom {
                    members_only: true,
                    persistent: false,
                },
            },
        );
        w.deliver(
            0,
            &format!("<presence xmlns='jabber:client' from='{room}/alice' to='{full}'><x xmlns='http://jabber.org/protocol/muc#user'>\
                <item affiliation='owner' role='moderator'/><status code='110'/><status code='201'/></x></presence>"),
        );
        w.run();
        let get = w.frames.last().cloned().unwrap_or_default();
        assert!(
            get.contains("muc#owner") && attr(&get, "type").as_deref() == Some("get"),
            "{get}"
        );
        let form_type = if form_ok {
            "http://jabber.org/protocol/muc#roomconfig"
        } else {
            "urn:example:other"
        };
        w.deliver(
            0,
            &format!("<iq xmlns='jabber:client' type='result' id='{}' from='{room}' to='{full}'>\
                <query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'>\
                <field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>\
                <field var='muc#roomconfig_roomsecret' type='text-private'/>\
                <field var='muc#roomconfig_membersonly' type='boolean'/></x></query></iq>",
                attr(&get, "id").unwrap()),
        );
        w.run();
        let set = w.frames.last().cloned().unwrap_or_default();
        assert_eq!(set.contains("abre sésamo"), form_ok, "{set}");
        assert_eq!(set.contains("muc#roomconfig_membersonly"), form_ok, "{set}");
        w.deliver(
            0,
            &format!(
                "<iq xmlns='jabber:client' type='result' id='{}' from='{room}' to='{full}'/>",
                attr(&set, "id").unwrap()
            ),
        );
        w.run();
        let events = w.events(0);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::RoomJoined { room: r, .. } if r == room)),
            "{events:?}"
        );
        assert_eq!(
            events
                .iter()
                .any(|e| matches!(e, Event::RoomNotConfigured { room: r, .. } if r == room)),
            !form_ok,
            "{events:?}"
        );
    }
}

#[test]
fn what_is_written_while_the_connection_is_down_goes_out_once_it_is_back() {
    let mut w = World::friends();
    w.start_private(0, 1);
    cut(&mut w, 0);
    w.events(0);
    w.events(1);
    // Typed during the outage: accepted, not refused.
    w.send(0, 1, "escrito sin conexión");
    let ev = w.events(0);
    assert!(failures(&ev).is_empty(), "{ev:?}");
    assert!(received(&w.events(1)).is_empty(), "nothing can arrive yet");
    // Back online: it arrives, encrypted, exactly once.
    let due = w.clients[0].engine.poll_timeout().unwrap();
    w.now = due;
    let now = w.now;
    w.clients[0].engine.handle_timeout(now);
    w.run();
    assert!(w.clients[0].online);
    let got: Vec<(String, bool)> = received(&w.events(1))
        .into_iter()
        .filter(|(t, _)| t == "escrito sin conexión")
        .collect();
    assert_eq!(got, [("escrito sin conexión".to_string(), true)]);
}

#[test]
fn an_account_that_never_got_online_still_refuses_to_send() {
    let mut w = World::new(&["alice"]);
    let a = w.id(0);
    w.command(
        0,
        Command::SendMessage {
            account: a,
            peer: "bob@localhost".into(),
            text: "hola".into(),
        },
    );
    assert_eq!(failures(&w.events(0)), [CommandFailure::UnknownAccount]);
}

fn set_history(w: &mut World, c: usize, to: usize, keep: bool) {
    let (account, peer) = (w.id(c), w.peer(to));
    w.command(
        c,
        Command::SetHistory {
            account,
            peer,
            keep,
        },
    );
}

/// A kept message as (text, outgoing, encrypted).
type Kept = (String, bool, bool);

/// The [`Event::History`] events: (peer, keep, messages).
fn histories(events: &[Event]) -> Vec<(String, bool, Vec<Kept>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::History {
                peer,
                keep,
                messages,
                ..
            } => Some((
                peer.clone(),
                *keep,
                messages
                    .iter()
                    .map(|m| {
                        (
                            m.text.to_string(),
                            m.direction == Direction::Outgoing,
                            m.encrypted,
                        )
                    })
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

fn history_records(w: &World, c: usize) -> Vec<String> {
    w.clients[c]
        .records
        .keys()
        .filter(|(kind, _)| kind == "history")
        .map(|(_, id)| id.clone())
        .collect()
}

/// Reloads client `c` as after unlocking, and returns what it reported.
fn unlock_again(w: &mut World, c: usize) -> Vec<Event> {
    reload(w, c);
    let now = w.now;
    w.clients[c].engine.handle_unlocked(now);
    w.run();
    w.events(c)
}

/// Everything a person can say in a chat, under every state of the padlock; returns the texts.
fn whole_chat_journey(w: &mut World) -> Vec<&'static str> {
    let (a, b) = (w.id(0), w.id(1));
    w.send(0, 1, "plain hola uno");
    w.send(1, 0, "plain hola dos");
    w.start_private(0, 1);
    w.send(0, 1, "secreto tres");
    w.send(1, 0, "secreto cuatro <b>html</b>");
    w.command(
        0,
        Command::SmpAsk {
            account: a.clone(),
            peer: w.peer(1),
            question: Some("pregunta cinco".into()),
            answer: "respuesta seis".into(),
        },
    );
    w.command(
        1,
        Command::SmpAnswer {
            account: b.clone(),
            peer: w.peer(0),
            answer: "respuesta seis".into(),
        },
    );
    w.command(
        1,
        Command::EndPrivate {
            account: b,
            peer: w.peer(0),
        },
    );
    w.command(
        0,
        Command::EndPrivate {
            account: a.clone(),
            peer: w.peer(1),
        },
    );
    w.set_policy(0, Some(w.peer(1)), OtrPolicy::Always);
    w.send(0, 1, "en cola siete");
    w.send(1, 0, "respuesta ocho");
    vec![
        "plain hola uno",
        "plain hola dos",
        "secreto tres",
        "secreto cuatro",
        "pregunta cinco",
        "respuesta seis",
        "en cola siete",
        "respuesta ocho",
    ]
}

#[test]
fn while_history_is_off_no_record_ever_holds_message_text() {
    let mut w = World::friends();
    let texts = whole_chat_journey(&mut w);
    // The journey did happen: Bob read Alice's last message, encrypted.
    assert!(received(&w.events(1)).contains(&("en cola siete".to_string(), true)));
    for c in 0..2 {
        let unlocked = unlock_again(&mut w, c);
        assert!(histories(&unlocked).is_empty(), "{unlocked:?}");
        assert!(!w.clients[c].written.is_empty());
        for (kind, id, value) in &w.clients[c].written {
            assert_ne!(kind, "history", "client {c} wrote history {id}");
            for text in &texts {
                assert!(
                    !value.windows(text.len()).any(|win| win == text.as_bytes()),
                    "client {c}: {kind} record {id} holds {text:?}"
                );
            }
        }
    }
}

#[test]
fn history_keeps_a_chat_from_when_it_is_turned_on_and_comes_back_after_unlocking() {
    let mut w = World::friends();
    w.set_policy(0, None, OtrPolicy::Manual);
    w.send(0, 1, "before the switch");
    w.events(0);
    set_history(&mut w, 0, 1, true);
    let ev = w.events(0);
    assert_eq!(histories(&ev), [(w.peer(1), true, vec![])]);
    assert_eq!(notices(&ev), [Notice::HistoryOn]);
    assert_eq!(history_records(&w, 0), ["alice@localhost bob@localhost"]);

    w.send(0, 1, "plain out");
    w.start_private(0, 1);
    w.send(0, 1, "secret out");
    w.send(1, 0, "secret <i>in</i>");
    // Bob keeps nothing; Alice keeps her chat with Bob only.
    assert!(history_records(&w, 1).is_empty());
    assert_eq!(
        history_records(&w, 0),
        [
            "alice@localhost bob@localhost",
            "alice@localhost bob@localhost 0"
        ]
    );
    let kept = vec![
        ("plain out".to_string(), true, false),
        ("secret out".to_string(), true, true),
        ("secret in".to_string(), false, true),
    ];
    let ev = unlock_again(&mut w, 0);
    assert_eq!(histories(&ev), [(w.peer(1), true, kept.clone())]);
    let Some(Event::History { messages, .. }) =
        ev.iter().find(|e| matches!(e, Event::History { .. }))
    else {
        panic!("no history")
    };
    assert_eq!(
        messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["h0.0", "h0.1", "h0.2"]
    );
    assert!(messages.iter().all(|m| m.at == w.now));
    assert_eq!(
        messages.iter().map(|m| m.delivery).collect::<Vec<_>>(),
        [Delivery::Sent, Delivery::Sent, Delivery::Received]
    );
    assert!(histories(&unlock_again(&mut w, 1)).is_empty());

    // After the reload the chat goes on where it stopped.
    w.login(0);
    w.send(0, 1, "after reload");
    let ev = unlock_again(&mut w, 0);
    let mut more = kept;
    more.push(("after reload".to_string(), true, false));
    assert_eq!(histories(&ev), [(w.peer(1), true, more)]);
}

#[test]
fn queued_messages_are_kept_once_when_they_leave() {
    let mut w = World::friends();
    set_history(&mut w, 0, 1, true);
    w.set_policy(0, Some(w.peer(1)), OtrPolicy::Always);
    w.send(0, 1, "waited");
    assert_eq!(
        histories(&unlock_again(&mut w, 0)),
        [(w.peer(1), true, vec![("waited".to_string(), true, true)])]
    );
}

#[test]
fn turning_history_off_deletes_the_chat_and_keeps_nothing_more() {
    let mut w = World::new(&["alice", "bob", "carol"]);
    for c in 0..3 {
        w.login(c);
    }
    set_history(&mut w, 0, 1, true);
    set_history(&mut w, 0, 2, true);
    for i in 0..150 {
        w.send(0, 1, &format!("to bob {i}"));
    }
    w.send(0, 2, "to carol");
    assert_eq!(
        history_records(&w, 0).len(),
        5,
        "{:?}",
        history_records(&w, 0)
    );
    w.events(0);

    set_history(&mut w, 0, 1, false);
    let ev = w.events(0);
    assert_eq!(histories(&ev), [(w.peer(1), false, vec![])]);
    assert_eq!(notices(&ev), [Notice::HistoryOff]);
    assert_eq!(
        history_records(&w, 0),
        [
            "alice@localhost carol@localhost",
            "alice@localhost carol@localhost 0"
        ]
    );
    // Turning it off again changes nothing and says so without a notice.
    set_history(&mut w, 0, 1, false);
    let ev = w.events(0);
    assert_eq!(histories(&ev), [(w.peer(1), false, vec![])]);
    assert!(notices(&ev).is_empty());

    let before = w.clients[0].written.len();
    w.send(0, 1, "not kept");
    assert_eq!(w.clients[0].written.len(), before);
    let ev = unlock_again(&mut w, 0);
    assert_eq!(
        histories(&ev),
        [(w.peer(2), true, vec![("to carol".to_string(), true, false)])]
    );
}

#[test]
fn history_can_be_switched_while_logged_out_but_not_for_unknown_accounts() {
    let mut w = World::friends();
    let a = w.id(0);
    w.command(0, Command::Logout { account: a });
    set_history(&mut w, 0, 1, true);
    assert_eq!(history_records(&w, 0), ["alice@localhost bob@localhost"]);
    w.events(0);
    w.command(
        0,
        Command::SetHistory {
            account: AccountId("nobody@localhost".into()),
            peer: w.peer(1),
            keep: true,
        },
    );
    assert_eq!(failures(&w.events(0)), [CommandFailure::UnknownAccount]);
    let a = w.id(0);
    w.command(
        0,
        Command::SetHistory {
            account: a,
            peer: "not an address".into(),
            keep: true,
        },
    );
    assert_eq!(failures(&w.events(0)), [CommandFailure::InvalidInput]);
}

#[test]
fn chunks_hold_a_hundred_messages_and_five_thousand_load_quickly() {
    let mut w = World::friends();
    set_history(&mut w, 0, 1, true);
    let puts_before = w.clients[0].written.len();
    for i in 0..5_000 {
        w.now += 1;
        w.send(0, 1, &format!("mensaje número {i}"));
    }
    let history_puts: Vec<usize> = w.clients[0].written[puts_before..]
        .iter()
        .filter(|(kind, _, _)| kind == "history")
        .map(|(_, _, v)| v.len())
        .collect();
    // One write per message, each of one chunk only (never the whole history).
    assert_eq!(history_puts.len(), 5_000);
    assert!(
        history_puts.iter().all(|len| *len < 4_000),
        "{:?}",
        history_puts.iter().max()
    );
    let records = history_records(&w, 0);
    assert_eq!(records.len(), 51, "a switch and 50 chunks");

    let started = std::time::Instant::now();
    let ev = unlock_again(&mut w, 0);
    let elapsed = started.elapsed();
    let [(_, true, messages)] = &histories(&ev)[..] else {
        panic!("{:?}", histories(&ev).len())
    };
    assert_eq!(messages.len(), 5_000);
    assert_eq!(messages[0].0, "mensaje número 0");
    assert_eq!(messages[4_999].0, "mensaje número 4999");
    println!("reloading 5000 kept messages took {elapsed:?}");
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    // The next message goes to a new chunk, not to a full one.
    w.login(0);
    w.send(0, 1, "5001");
    assert!(history_records(&w, 0).contains(&"alice@localhost bob@localhost 50".to_string()));
}

#[test]
fn damaged_and_orphaned_history_records_are_handled() {
    let mut w = World::friends();
    set_history(&mut w, 0, 1, true);
    w.send(0, 1, "uno");
    // A chunk whose switch is gone (a deletion cut short) and a damaged chunk of a kept chat.
    w.clients[0].records.insert(
        ("history".into(), "alice@localhost carol@localhost 0".into()),
        history::encode_chunk(&[]).0.to_vec(),
    );
    w.clients[0].records.insert(
        ("history".into(), "alice@localhost bob@localhost 1".into()),
        vec![9, 9, 9],
    );
    let ev = unlock_again(&mut w, 0);
    assert_eq!(
        histories(&ev),
        [(w.peer(1), true, vec![("uno".to_string(), true, false)])]
    );
    assert!(!history_records(&w, 0).contains(&"alice@localhost carol@localhost 0".to_string()));
    // New messages go after the damaged chunk, never over it.
    w.login(0);
    w.send(0, 1, "dos");
    assert!(history_records(&w, 0).contains(&"alice@localhost bob@localhost 2".to_string()));
}

#[test]
fn forgetting_an_account_deletes_its_history_and_locking_drops_it_from_memory() {
    let mut w = World::friends();
    set_history(&mut w, 0, 1, true);
    w.send(0, 1, "uno");
    let now = w.now;
    w.clients[0].engine.lock(now);
    w.run();
    assert!(!w.clients[0].engine.history.keeps(&w.id(0), &w.peer(1)));
    assert!(format!("{:?}", w.clients[0].engine.history).contains("chats: {}"));
    // Still in the vault: it comes back after unlocking, and forgetting deletes it.
    let ev = unlock_again(&mut w, 0);
    assert_eq!(histories(&ev).len(), 1);
    let a = w.id(0);
    w.command(0, Command::ForgetAccount { account: a });
    assert!(
        w.clients[0].records.is_empty(),
        "{:?}",
        w.clients[0].records.keys()
    );
}
