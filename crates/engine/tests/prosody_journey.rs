//! The guide's journey with two engines talking through a real Prosody on loopback.
//!
//! Each engine is driven by a small pump: native WebSockets (`tungstenite`, subprotocol `xmpp`) for
//! its sockets, and a real [`candado_vault::Vault`] over [`candado_vault::MemoryStorage`] for its
//! records. Both register in-band, alice adds bob, bob accepts, alice starts OTR, both padlocks go
//! to "encrypted, not verified", messages flow both ways (the server never sees the text), SMP with
//! a wrong then a right answer, bob ends the private conversation and alice sees it. Then alice's
//! engine is rebuilt from her vault alone: the trust in bob's key is still there.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use candado_api::{
    AccountId, AccountSetup, AccountState, Command, Direction, Event, NewRoom, Notice, Padlock,
    Secret, Subscription,
};
use candado_engine::{records, Effect, Engine, SocketId};
use candado_harness::{fresh_dir, Prosody};
use candado_vault::{
    KdfParams, MemoryStorage, Passphrase, StoreName, SystemRandom, Vault, VaultConfig,
};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// The seeded SHA-256 counter generator of `candado_otr::fuzzing`: reproducible, tests only.
use candado_otr::fuzzing::TestRng;

fn block_on<F: core::future::Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

type TestVault = Vault<MemoryStorage, SystemRandom>;

fn new_vault() -> TestVault {
    let config = VaultConfig {
        store: StoreName::new("candado").unwrap(),
        schema_version: 1,
    };
    let mut vault = Vault::new(MemoryStorage::new(), SystemRandom, config);
    block_on(vault.create(&Passphrase::from("test passphrase"), KdfParams::MINIMUM)).unwrap();
    vault
}

fn connect(url: &str) -> Option<WebSocket<TcpStream>> {
    let mut request = url.into_client_request().ok()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let host = url.strip_prefix("ws://")?.split('/').next()?;
    let stream = TcpStream::connect(host).ok()?;
    let (ws, _) = tungstenite::client(request, stream).ok()?;
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(5)))
        .ok()?;
    Some(ws)
}

/// One person's app: an engine, its sockets and its vault.
struct App {
    name: &'static str,
    engine: Engine<TestRng>,
    sockets: BTreeMap<SocketId, WebSocket<TcpStream>>,
    vault: TestVault,
    events: Vec<Event>,
    /// Every frame sent, to check what the server could read.
    sent: Vec<String>,
}

impl App {
    fn new(name: &'static str, seed: u64, vault: TestVault) -> Self {
        let mut engine = Engine::new(TestRng::new(seed));
        for kind in records::kinds() {
            let listing = block_on(vault.list(&kind)).unwrap();
            for id in listing.ids {
                if let Some(value) = block_on(vault.get(&kind, &id)).unwrap() {
                    engine.load_record(&kind, &id, &value);
                }
            }
        }
        Self {
            name,
            engine,
            sockets: BTreeMap::new(),
            vault,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn id(&self) -> AccountId {
        AccountId(format!("{}@localhost", self.name))
    }

    fn now(start: Instant) -> u64 {
        start.elapsed().as_millis() as u64
    }

    /// Performs effects and reads sockets once; returns whether anything happened.
    fn step(&mut self, start: Instant) -> bool {
        let mut moved = false;
        while let Some(effect) = self.engine.poll_effect() {
            moved = true;
            let now = Self::now(start);
            match effect {
                Effect::Emit(ev) => self.events.push(ev),
                Effect::OpenSocket { socket, url } => match connect(&url) {
                    Some(ws) => {
                        self.sockets.insert(socket, ws);
                        self.engine.handle_socket_open(socket, now);
                    }
                    None => self.engine.handle_socket_closed(socket, now),
                },
                Effect::SendFrame { socket, text } => {
                    self.sent.push(text.clone());
                    let ok = self
                        .sockets
                        .get_mut(&socket)
                        .is_some_and(|ws| ws.send(Message::text(text)).is_ok());
                    if !ok {
                        self.sockets.remove(&socket);
                        self.engine.handle_socket_closed(socket, now);
                    }
                }
                Effect::CloseSocket { socket } => {
                    if let Some(mut ws) = self.sockets.remove(&socket) {
                        let _ = ws.close(None);
                        let _ = ws.flush();
                    }
                }
                Effect::PutRecord { kind, id, value } => {
                    block_on(self.vault.put(&kind, &id, &value.0)).unwrap();
                }
                Effect::DeleteRecord { kind, id } => {
                    block_on(self.vault.delete(&kind, &id)).unwrap();
                }
            }
        }
        let ids: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in ids {
            let Some(ws) = self.sockets.get_mut(&socket) else {
                continue;
            };
            match ws.read() {
                Ok(Message::Text(text)) => {
                    moved = true;
                    self.engine
                        .handle_frame(socket, text.as_str(), Self::now(start));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    moved = true;
                    self.sockets.remove(&socket);
                    self.engine.handle_socket_closed(socket, Self::now(start));
                }
            }
        }
        let now = Self::now(start);
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
        }
        moved
    }

    fn command(&mut self, command: Command, start: Instant) {
        self.engine.handle_command(command, Self::now(start));
    }
}

struct Journey {
    alice: App,
    bob: App,
    start: Instant,
    _prosody: Prosody,
    url: String,
}

impl Journey {
    /// Pumps both apps until `done` holds for the events gathered since the last call.
    fn until(&mut self, what: &str, mut done: impl FnMut(&[Event], &[Event]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.alice.step(self.start);
            self.bob.step(self.start);
            if done(&self.alice.events, &self.bob.events) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\nalice: {:#?}\nbob: {:#?}",
                self.alice.events,
                self.bob.events
            );
        }
    }

    fn clear(&mut self) {
        self.alice.events.clear();
        self.bob.events.clear();
    }

    fn padlock(app: &App, peer: &str) -> Padlock {
        app.engine
            .padlock(&app.id(), peer)
            .map(|p| p.state)
            .unwrap_or(Padlock::NotEncrypted)
    }
}

fn online(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::Account {
                state: AccountState::Online { .. },
                ..
            }
        )
    })
}

fn has_notice(events: &[Event], wanted: &Notice) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Notice { notice, .. } if notice == wanted))
}

fn got_text(events: &[Event], text: &str) -> bool {
    events.iter().any(|e| {
        matches!(e, Event::Message { message, .. }
            if message.direction == Direction::Incoming && message.text == text && message.encrypted)
    })
}

fn setup(name: &str, url: &str) -> AccountSetup {
    AccountSetup {
        jid: format!("{name}@localhost"),
        password: Secret::new(format!("{name}-password-1")),
        websocket_url: url.to_string(),
        remember_password: false,
    }
}

#[test]
fn two_engines_walk_the_guide_through_prosody() {
    let dir = fresh_dir("engine", "journey").unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let url = prosody.websocket_url();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut j = Journey {
        alice: App::new("alice", seed, new_vault()),
        bob: App::new("bob", seed.rotate_left(17) | 1, new_vault()),
        start: Instant::now(),
        _prosody: prosody,
        url,
    };
    let (alice_id, bob_id) = (j.alice.id(), j.bob.id());
    let (alice, bob) = ("alice@localhost", "bob@localhost");

    // Both register in-band (and are then logged in).
    let start = j.start;
    j.alice.command(
        Command::Register {
            account: setup("alice", &j.url),
        },
        start,
    );
    j.bob.command(
        Command::Register {
            account: setup("bob", &j.url),
        },
        start,
    );
    j.until("both registered and online", |a, b| online(a) && online(b));
    for app in [&j.alice, &j.bob] {
        assert!(app.events.contains(&Event::Account {
            account: app.id(),
            state: AccountState::Registered
        }));
    }
    j.clear();

    // Alice adds Bob; Bob is asked and accepts; both end up subscribed both ways.
    j.alice.command(
        Command::AddContact {
            account: alice_id.clone(),
            jid: bob.into(),
            name: Some("Bob".into()),
        },
        start,
    );
    j.until("bob's invitation", |_, b| {
        b.iter()
            .any(|e| matches!(e, Event::SubscriptionRequest { jid, .. } if jid == alice))
    });
    j.bob.command(
        Command::AnswerSubscription {
            account: bob_id.clone(),
            jid: alice.into(),
            accept: true,
        },
        start,
    );
    let both = |events: &[Event], who: &str| {
        events.iter().any(|e| {
            matches!(e, Event::Contact { contact, .. }
                if contact.jid == who && contact.subscription == Subscription::Both)
        })
    };
    j.until("mutual subscription", |a, b| both(a, bob) && both(b, alice));
    j.clear();

    // Alice starts encryption: both padlocks "encrypted, not verified".
    j.alice.command(
        Command::StartPrivate {
            account: alice_id.clone(),
            peer: bob.into(),
        },
        start,
    );
    let started = Notice::PrivateStarted { verified: false };
    j.until("the private conversation", |a, b| {
        has_notice(a, &started) && has_notice(b, &started)
    });
    assert_eq!(
        Journey::padlock(&j.alice, bob),
        Padlock::EncryptedUnverified
    );
    assert_eq!(
        Journey::padlock(&j.bob, alice),
        Padlock::EncryptedUnverified
    );

    // Messages both ways, encrypted; the server never sees the text.
    j.alice.command(
        Command::SendMessage {
            account: alice_id.clone(),
            peer: bob.into(),
            text: "Hola Bob, ¿me lees?".into(),
        },
        start,
    );
    j.bob.command(
        Command::SendMessage {
            account: bob_id.clone(),
            peer: alice.into(),
            text: "Alto y claro".into(),
        },
        start,
    );
    j.until("messages both ways", |a, b| {
        got_text(b, "Hola Bob, ¿me lees?") && got_text(a, "Alto y claro")
    });
    for app in [&j.alice, &j.bob] {
        assert!(
            !app.sent
                .iter()
                .any(|f| f.contains("me lees") || f.contains("Alto y claro")),
            "{} sent plaintext",
            app.name
        );
    }
    j.clear();

    // SMP: a wrong answer fails on both sides...
    let ask = |answer: &str| Command::SmpAsk {
        account: alice_id.clone(),
        peer: bob.into(),
        question: Some("¿Dónde nos conocimos?".into()),
        answer: Secret::new(answer),
    };
    j.alice.command(ask("Lisboa"), start);
    j.until("bob's question", |_, b| {
        b.iter().any(|e| matches!(e, Event::SmpQuestion { question: Some(q), .. } if q == "¿Dónde nos conocimos?"))
    });
    j.bob.command(
        Command::SmpAnswer {
            account: bob_id.clone(),
            peer: alice.into(),
            answer: Secret::new("lisboa"),
        },
        start,
    );
    j.until("the failure on both sides", |a, b| {
        has_notice(a, &Notice::VerificationFailed) && has_notice(b, &Notice::VerificationFailed)
    });
    assert_eq!(
        Journey::padlock(&j.alice, bob),
        Padlock::EncryptedUnverified
    );
    j.clear();

    // ... the right one verifies Bob for Alice.
    j.alice.command(ask("Lisboa"), start);
    j.until("bob's question again", |_, b| {
        b.iter().any(|e| matches!(e, Event::SmpQuestion { .. }))
    });
    j.bob.command(
        Command::SmpAnswer {
            account: bob_id.clone(),
            peer: alice.into(),
            answer: Secret::new("Lisboa"),
        },
        start,
    );
    j.until("verified", |a, b| {
        has_notice(a, &Notice::Verified) && has_notice(b, &Notice::AnsweredCorrectly)
    });
    assert_eq!(Journey::padlock(&j.alice, bob), Padlock::Verified);
    assert_eq!(
        Journey::padlock(&j.bob, alice),
        Padlock::EncryptedUnverified
    );
    j.clear();

    // Bob ends the private conversation: Alice sees it and her padlock opens.
    j.bob.command(
        Command::EndPrivate {
            account: bob_id.clone(),
            peer: alice.into(),
        },
        start,
    );
    j.until("alice sees the end", |a, _| {
        has_notice(a, &Notice::PeerEndedPrivate)
    });
    assert_eq!(Journey::padlock(&j.alice, bob), Padlock::NotEncrypted);
    assert_eq!(Journey::padlock(&j.bob, alice), Padlock::NotEncrypted);

    // Alice's app restarts from her vault alone: at the next private conversation Bob is still
    // verified.
    j.alice.command(
        Command::Logout {
            account: alice_id.clone(),
        },
        start,
    );
    j.alice.step(start);
    let vault = std::mem::replace(&mut j.alice.vault, new_vault());
    j.alice = App::new("alice", seed ^ 0x5555, vault);
    j.clear();
    j.alice.command(
        Command::Login {
            account: setup("alice", &j.url),
        },
        start,
    );
    j.until("alice back online", |a, _| online(a));
    j.alice.command(
        Command::StartPrivate {
            account: alice_id.clone(),
            peer: bob.into(),
        },
        start,
    );
    j.until("a verified private conversation", |a, _| {
        has_notice(a, &Notice::PrivateStarted { verified: true })
    });
    assert_eq!(Journey::padlock(&j.alice, bob), Padlock::Verified);
    eprintln!("journey took {:?}", j.start.elapsed());
}

fn room_text(events: &[Event], nick: &str, text: &str, own: bool) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(e, Event::RoomMessage { message, .. }
                if message.nick == nick && message.text == text && message.own == own)
        })
        .count()
}

#[test]
fn two_engines_meet_in_a_room_in_plaintext() {
    let dir = fresh_dir("engine", "room").unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let url = prosody.websocket_url();
    let mut j = Journey {
        alice: App::new("alice", 11, new_vault()),
        bob: App::new("bob", 23, new_vault()),
        start: Instant::now(),
        _prosody: prosody,
        url,
    };
    let (alice_id, bob_id) = (j.alice.id(), j.bob.id());
    let start = j.start;
    let room = "sala@conference.localhost".to_string();
    j.alice.command(
        Command::Register {
            account: setup("alice", &j.url),
        },
        start,
    );
    j.bob.command(
        Command::Register {
            account: setup("bob", &j.url),
        },
        start,
    );
    j.until("both registered and online", |a, b| online(a) && online(b));
    j.clear();

    let joined = |events: &[Event], nick: &str| {
        events
            .iter()
            .any(|e| matches!(e, Event::RoomJoined { nick: n, .. } if n == nick))
    };
    j.alice.command(
        Command::JoinRoom {
            account: alice_id.clone(),
            room: room.clone(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
        start,
    );
    j.until("alice in the room", |a, _| joined(a, "alice"));
    j.bob.command(
        Command::JoinRoom {
            account: bob_id.clone(),
            room: room.clone(),
            nick: "bob".into(),
            password: None,
            new_room: NewRoom::default(),
        },
        start,
    );
    let both_in = |events: &[Event]| {
        events
            .iter()
            .any(|e| matches!(e, Event::RoomOccupants { nicks, .. } if nicks == &["alice", "bob"]))
    };
    j.until("both in the room", |a, b| {
        joined(b, "bob") && both_in(a) && both_in(b)
    });
    j.clear();

    // Alice writes; bob sees it from "alice"; alice sees it once, as her own.
    j.alice.command(
        Command::SendRoomMessage {
            account: alice_id.clone(),
            room: room.clone(),
            text: "Hola a todos".into(),
        },
        start,
    );
    j.until("bob reads alice", |_, b| {
        room_text(b, "alice", "Hola a todos", false) == 1
    });
    // A `?OTR` body in a room is text: shown, never fed into OTR.
    j.bob.command(
        Command::SendRoomMessage {
            account: bob_id.clone(),
            room: room.clone(),
            text: "?OTRv23? hi all".into(),
        },
        start,
    );
    j.until("alice reads bob", |a, _| {
        room_text(a, "bob", "?OTRv23? hi all", false) == 1
    });
    // Let the reflections come back; each of our messages is still reported exactly once.
    let settled = Instant::now() + Duration::from_millis(1500);
    j.until("the reflections", |_, _| Instant::now() > settled);
    assert_eq!(room_text(&j.alice.events, "alice", "Hola a todos", true), 1);
    assert_eq!(room_text(&j.bob.events, "bob", "?OTRv23? hi all", true), 1);
    // No OTR was started by the query in the room.
    assert!(!j
        .alice
        .events
        .iter()
        .any(|e| matches!(e, Event::Notice { .. } | Event::Padlock { .. })));
    // Group messages travel in plaintext: the server sees them (hence the banner in the UI).
    assert!(j
        .alice
        .sent
        .iter()
        .any(|f| f.contains("Hola a todos") && f.contains("groupchat")));

    // Bob tries a second room where alice already is, with her nickname: conflict.
    j.alice.command(
        Command::JoinRoom {
            account: alice_id.clone(),
            room: "otra@conference.localhost".into(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
        start,
    );
    j.until("alice in the second room", |a, _| {
        a.iter().any(
            |e| matches!(e, Event::RoomJoined { room, .. } if room == "otra@conference.localhost"),
        )
    });
    j.bob.command(
        Command::JoinRoom {
            account: bob_id.clone(),
            room: "otra@conference.localhost".into(),
            nick: "alice".into(),
            password: None,
            new_room: NewRoom::default(),
        },
        start,
    );
    j.until("bob's conflict", |_, b| {
        b.iter().any(|e| {
            matches!(e, Event::RoomJoinFailed { room, condition, .. }
                if room == "otra@conference.localhost" && condition == "conflict")
        })
    });
    j.clear();

    // Bob leaves the first room: alice sees him go.
    j.bob.command(
        Command::LeaveRoom {
            account: bob_id.clone(),
            room: room.clone(),
        },
        start,
    );
    j.until("bob left", |a, b| {
        b.iter()
            .any(|e| matches!(e, Event::RoomLeft { removed: None, .. }))
            && a.iter().any(|e| {
                matches!(e, Event::RoomOccupants { room: r, nicks, .. }
                    if r == "sala@conference.localhost" && nicks == &["alice"])
            })
    });
    // Out of the room, sending is refused.
    j.bob.command(
        Command::SendRoomMessage {
            account: bob_id,
            room,
            text: "still here?".into(),
        },
        start,
    );
    j.until("refused", |_, b| {
        b.iter().any(|e| matches!(e, Event::CommandFailed { .. }))
    });
}

fn join_failed(events: &[Event], room: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::RoomJoinFailed {
            room: r, condition, ..
        } if r == room => Some(condition.clone()),
        _ => None,
    })
}

fn joined_room(events: &[Event], room: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::RoomJoined { room: r, .. } if r == room))
}

fn invited(events: &[Event], room: &str) -> Option<candado_api::Invitation> {
    events.iter().find_map(|e| match e {
        Event::RoomInvitation { invitation, .. } if invitation.room == room => {
            Some(invitation.clone())
        }
        _ => None,
    })
}

#[test]
fn password_and_members_only_rooms_invitations_and_the_subject_through_prosody() {
    let dir = fresh_dir("engine", "room-settings").unwrap();
    let prosody = Prosody::start(&dir, "localhost").unwrap_or_else(|e| panic!("{e}"));
    let url = prosody.websocket_url();
    let mut j = Journey {
        alice: App::new("alice", 31, new_vault()),
        bob: App::new("bob", 37, new_vault()),
        start: Instant::now(),
        _prosody: prosody,
        url,
    };
    let (alice_id, bob_id) = (j.alice.id(), j.bob.id());
    let start = j.start;
    for app in [&mut j.alice, &mut j.bob] {
        let account = setup(app.name, &j.url);
        app.command(Command::Register { account }, start);
    }
    j.until("both online", |a, b| online(a) && online(b));
    j.clear();
    let join = |room: &str, nick: &str, account: &AccountId, password: Option<&str>, new_room| {
        Command::JoinRoom {
            account: account.clone(),
            room: room.into(),
            nick: nick.into(),
            password: password.map(Secret::new),
            new_room,
        }
    };

    // alice creates a password-protected, persistent room through its configuration form.
    let secret_room = "clave@conference.localhost";
    let keep = NewRoom {
        members_only: false,
        persistent: true,
    };
    j.alice.command(
        join(secret_room, "alice", &alice_id, Some("abre sésamo"), keep),
        start,
    );
    j.until("alice created the room", |a, _| joined_room(a, secret_room));
    assert!(
        !j.alice
            .events
            .iter()
            .any(|e| matches!(e, Event::RoomNotConfigured { .. })),
        "Prosody took the settings: {:#?}",
        j.alice.events
    );
    assert!(j
        .alice
        .sent
        .iter()
        .any(|f| f.contains("muc#roomconfig_roomsecret")
            && f.contains("muc#roomconfig_persistentroom")
            && f.contains("type='submit'")));

    // bob without the password, then with a wrong one: not-authorized both times.
    for password in [None, Some("ábrete")] {
        j.bob.command(
            join(secret_room, "bob", &bob_id, password, NewRoom::default()),
            start,
        );
        j.until("bob refused", |_, b| join_failed(b, secret_room).is_some());
        assert_eq!(
            join_failed(&j.bob.events, secret_room).as_deref(),
            Some("not-authorized")
        );
        j.clear();
    }

    // alice invites bob through the room; Prosody adds the password; bob joins with it.
    j.alice.command(
        Command::InviteToRoom {
            account: alice_id.clone(),
            room: secret_room.into(),
            jid: "bob@localhost".into(),
        },
        start,
    );
    j.until("bob invited", |_, b| invited(b, secret_room).is_some());
    let invitation = invited(&j.bob.events, secret_room).unwrap();
    // The room hides addresses from participants: the inviter is named by nickname.
    assert_eq!(invitation.from, None);
    assert_eq!(invitation.from_nick.as_deref(), Some("alice"));
    assert!(
        invitation.mediated && invitation.has_password,
        "{invitation:?}"
    );
    assert!(!invitation.from_contact, "they are not contacts");
    assert!(
        !joined_room(&j.bob.events, secret_room),
        "never joined by itself"
    );
    j.bob.command(
        join(secret_room, "bob", &bob_id, None, NewRoom::default()),
        start,
    );
    j.until("bob in the secret room", |a, b| {
        joined_room(b, secret_room)
            && a.iter().any(|e| {
                matches!(e, Event::RoomOccupants { room, nicks, .. }
                    if room == secret_room && nicks == &["alice", "bob"])
            })
    });
    j.clear();

    // The owner sets the subject: both see it. bob (a participant) may not.
    j.alice.command(
        Command::SetRoomSubject {
            account: alice_id.clone(),
            room: secret_room.into(),
            subject: "Orden del día".into(),
        },
        start,
    );
    let subject_is = |events: &[Event], text: &str| {
        events
            .iter()
            .any(|e| matches!(e, Event::RoomSubject { subject, .. } if subject == text))
    };
    j.until("the subject", |a, b| {
        subject_is(a, "Orden del día") && subject_is(b, "Orden del día")
    });
    j.bob.command(
        Command::SetRoomSubject {
            account: bob_id.clone(),
            room: secret_room.into(),
            subject: "Otra cosa".into(),
        },
        start,
    );
    j.until("bob's subject refused", |_, b| {
        b.iter().any(|e| {
            matches!(e, Event::RoomSubjectFailed { room, condition, .. }
                if room == secret_room && condition == "forbidden")
        })
    });
    assert!(!subject_is(&j.alice.events, "Otra cosa"));
    j.clear();

    // A members-only room: bob is turned away until alice invites him (which makes him a member).
    let club = "club@conference.localhost";
    let members = NewRoom {
        members_only: true,
        persistent: false,
    };
    j.alice
        .command(join(club, "alice", &alice_id, None, members), start);
    j.until("alice created the club", |a, _| joined_room(a, club));
    assert!(!j
        .alice
        .events
        .iter()
        .any(|e| matches!(e, Event::RoomNotConfigured { .. })));
    j.bob
        .command(join(club, "bob", &bob_id, None, NewRoom::default()), start);
    j.until("bob turned away", |_, b| join_failed(b, club).is_some());
    assert_eq!(
        join_failed(&j.bob.events, club).as_deref(),
        Some("registration-required")
    );
    j.alice.command(
        Command::InviteToRoom {
            account: alice_id.clone(),
            room: club.into(),
            jid: "bob@localhost".into(),
        },
        start,
    );
    j.until("bob invited to the club", |_, b| invited(b, club).is_some());
    assert!(!invited(&j.bob.events, club).unwrap().has_password);
    j.bob
        .command(join(club, "bob", &bob_id, None, NewRoom::default()), start);
    j.until("bob in the club", |_, b| joined_room(b, club));

    // The password never reached an event.
    for app in [&j.alice, &j.bob] {
        assert!(!format!("{:?}", app.events).contains("sésamo"));
    }
}
