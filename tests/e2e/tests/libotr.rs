//! alice in the browser against carol, whose client speaks OTR through a real libotr 4.1.1,
//! over the same Prosody: the AKE in v3 (alice starts) and in v2 (carol's query starts it),
//! messages both ways, verification with a question in both directions.
//!
//! carol is a native XMPP client (the sans-IO `candado-xmpp` session over a tungstenite
//! WebSocket) running on its own thread. Every chat body from alice goes into the libotr peer of
//! `candado-interop` (`otrl_message_receiving`); every message libotr injects goes out as a chat
//! message to alice's full JID; what libotr reports (shown text, `secure`, SMP events) is kept in
//! a log the test waits on.
//!
//! Every step saves a screenshot under `target/e2e/libotr-*.png`.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candado_e2e::steps::{
    answer, ask, first_run_and_register, open_chat, padlock, send, wait_incoming,
};
use candado_e2e::{serve_app, Person, STEP};
use candado_harness::{fresh_dir, Prosody, StaticServer};
use candado_interop::{hex, libotr_policy, unhex, LibOtr};
use candado_otr::wire::message::Version;
use candado_xmpp::{
    Command, Config, Event, MessageKind, Password, Seed, Session, Timestamp, Transport,
};
use jid::{BareJid, Jid};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

const CAROL: &str = "carol@localhost";
const CAROL_PASSWORD: &str = "carol libotr 4.1.1";
const ALICE: &str = "alice@localhost";

use candado_interop::LIBOTR_BAD_REPORTS as LIBOTR_BAD;

/// carol: an XMPP account whose messages to and from alice go through libotr.
///
/// Her log holds, in order: `online`, `subscribed`, `presence FULLJID`, `wire-in BODY` (what
/// arrived from alice), `wire-out BODY` (what libotr sent), every event line of the libotr
/// peer (`secure v3 …`, `smp success`, `trust smp`, `msgevent …`, `error …`), and decoded
/// `shown-text TEXT` / `smpq-text QUESTION` lines.
struct Carol {
    commands: mpsc::Sender<String>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Carol {
    /// Logs `carol@localhost` in on `url` with a fresh libotr key limited to `version`.
    fn start(url: &str, version: Version) -> Carol {
        let (commands, inbox) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (url, log, stop) = (url.to_owned(), log.clone(), stop.clone());
            std::thread::spawn(move || carol_thread(&url, version, &inbox, &log, &stop))
        };
        Carol {
            commands,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// Runs a command of the libotr peer (`query`, `send HEX`, `smpq HEXQ HEXSECRET`, `respond
    /// HEX`...); what libotr injects is sent to alice.
    fn lib(&self, command: &str) {
        self.commands
            .send(command.to_owned())
            .expect("carol's thread is gone");
    }

    /// libotr sends `text` to alice.
    fn say(&self, text: &str) {
        self.lib(&format!("send {}", hex(text.as_bytes())));
    }

    /// How many lines the log has: a mark for [`Carol::wait`].
    fn mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a line after `mark` satisfies `pred`; returns it. On timeout, saves alice's
    /// screen and panics with carol's whole log.
    async fn wait(
        &self,
        alice: &Person,
        mark: usize,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(line) = self.log().iter().skip(mark).find(|l| pred(l)) {
                return line.clone();
            }
            let gone = self.thread.as_ref().is_none_or(|t| t.is_finished());
            if gone || Instant::now() > deadline {
                alice
                    .fail(format!(
                        "carol: no {what} (her client stopped: {gone}); carol's log: {:#?}",
                        self.log()
                    ))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for exactly `line` after `mark`.
    async fn wait_line(&self, alice: &Person, mark: usize, line: &str) {
        self.wait(alice, mark, line, |l| l == line).await;
    }

    /// Panics if libotr reported an error or a problem at any point.
    fn assert_no_errors(&self) {
        let log = self.log();
        for line in &log {
            assert!(
                !LIBOTR_BAD.contains(&line.as_str()) && !line.starts_with("error "),
                "carol's side reported `{line}`; log: {log:#?}"
            );
        }
    }
}

impl Drop for Carol {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn seed() -> Seed {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("urandom");
    Seed::new(bytes)
}

/// A WebSocket with the `xmpp` subprotocol whose reads time out quickly.
fn connect(url: &str) -> WebSocket<std::net::TcpStream> {
    let mut request = url.into_client_request().expect("websocket url");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let host = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .expect("ws:// url");
    let stream = std::net::TcpStream::connect(host).expect("connect to Prosody");
    stream.set_nodelay(true).expect("nodelay");
    let (ws, _) = tungstenite::client(request, stream).expect("websocket handshake");
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(10)))
        .expect("read timeout");
    ws
}

/// carol's client: the XMPP session, the libotr peer, and the wiring between them.
struct CarolClient {
    session: Session,
    ws: WebSocket<std::net::TcpStream>,
    lib: LibOtr,
    alice: BareJid,
    /// Where libotr's messages go: alice's full JID once known.
    alice_at: Jid,
    log: Arc<Mutex<Vec<String>>>,
    epoch: Instant,
}

impl CarolClient {
    fn note(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    fn xmpp(&mut self, command: Command) {
        if let Err(e) = self.session.handle_command(command) {
            self.note(format!("error xmpp command refused: {e}"));
        }
    }

    /// Runs a libotr command and sends what it injects to alice.
    fn lib(&mut self, command: &str) {
        for line in self.lib.cmd(command) {
            if let Some(h) = line.strip_prefix("out ") {
                let body = String::from_utf8(unhex(h)).expect("libotr sends UTF-8");
                self.note(format!("wire-out {body}"));
                self.xmpp(Command::SendMessage {
                    to: self.alice_at.clone(),
                    body,
                    kind: MessageKind::Chat,
                    thread: None,
                });
                continue;
            }
            let decoded = [("shown ", "shown-text"), ("smpq ", "smpq-text")]
                .iter()
                .find_map(|(prefix, name)| {
                    let h = line.strip_prefix(prefix)?;
                    Some(format!("{name} {}", String::from_utf8_lossy(&unhex(h))))
                });
            self.note(line);
            if let Some(decoded) = decoded {
                self.note(decoded);
            }
        }
    }

    fn flush(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            if self.ws.send(Message::text(frame)).is_err() {
                self.note("error websocket send".into());
                return;
            }
        }
    }

    /// Sends what is queued, reads at most one frame, fires due timers, handles the events.
    /// Returns false once the session is over.
    fn step(&mut self) -> bool {
        self.flush();
        match self.ws.read() {
            Ok(Message::Text(text)) => {
                let now = self.now();
                self.session.handle_timeout(now);
                self.session.handle_frame(text.as_str());
            }
            Ok(Message::Close(_)) => {
                self.note("error websocket closed".into());
                return false;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                self.note(format!("error websocket: {e}"));
                return false;
            }
        }
        let now = self.now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        while let Some(event) = self.session.poll_event() {
            if !self.handle(event) {
                return false;
            }
        }
        self.flush();
        true
    }

    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Online { .. } => {
                self.xmpp(Command::RequestRoster { ver: None });
                self.xmpp(Command::SendPresence {
                    show: None,
                    status: None,
                    priority: 0,
                });
                self.note("online".into());
            }
            Event::SubscriptionRequest { from, .. } if from == self.alice => {
                // carol accepts alice and asks to see her presence in turn.
                self.xmpp(Command::ApproveSubscription { to: from.clone() });
                self.xmpp(Command::Subscribe { to: from });
                self.note("subscribed".into());
            }
            Event::Presence { from, .. } if from.to_bare() == self.alice => {
                self.note(format!("presence {from}"));
                self.alice_at = from;
            }
            Event::Message {
                from,
                kind: MessageKind::Chat | MessageKind::Normal,
                body: Some(body),
                ..
            } if from.to_bare() == self.alice => {
                self.note(format!("wire-in {body}"));
                self.alice_at = from;
                self.lib(&format!("recv {}", hex(body.as_bytes())));
            }
            Event::Closed { reason } => {
                self.note(format!("error xmpp closed: {reason:?}"));
                return false;
            }
            _ => {}
        }
        true
    }
}

fn carol_thread(
    url: &str,
    version: Version,
    inbox: &mpsc::Receiver<String>,
    log: &Arc<Mutex<Vec<String>>>,
    stop: &AtomicBool,
) {
    let mut lib = LibOtr::spawn();
    let keygen = lib.genkey();
    lib.cmd(&format!("policy {:#x}", libotr_policy(version)));
    let jid: BareJid = CAROL.parse().expect("carol's JID");
    let alice: BareJid = ALICE.parse().expect("alice's JID");
    let mut config = Config::new(jid, Password::new(CAROL_PASSWORD), Transport::Insecure);
    config.resource = Some("libotr".into());
    config.allow_plain_on_insecure = true;
    let mut client = CarolClient {
        session: Session::new(config, seed(), Timestamp::from_millis(0)),
        ws: connect(url),
        lib,
        alice: alice.clone(),
        alice_at: Jid::from(alice),
        log: log.clone(),
        epoch: Instant::now(),
    };
    client.note(format!("ourfp {}", hex(&keygen)));
    while !stop.load(Ordering::Relaxed) {
        while let Ok(command) = inbox.try_recv() {
            client.lib(&command);
        }
        if !client.step() {
            break;
        }
    }
    client.xmpp(Command::Close);
    client.flush();
    let _ = client.ws.close(None);
    let _ = client.ws.flush();
}

/// A fresh Prosody with `carol` registered, the app served, alice registered in her browser
/// and carol logged in with libotr limited to `version`; alice adds carol, carol accepts,
/// alice opens the chat.
async fn setup(
    label: &str,
    lang: &str,
    version: Version,
) -> (Prosody, StaticServer, Person, Carol) {
    let prosody = Prosody::start(&fresh_dir("e2e", label).unwrap(), "localhost").unwrap();
    prosody.register("carol", CAROL_PASSWORD).unwrap();
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    let alice = Person::start(
        &format!("libotr-{label}-alice"),
        lang,
        "alce azul 7 montañas",
    )
    .await;
    let carol = Carol::start(&endpoint, version);
    alice.open(&server.url()).await;
    first_run_and_register(&alice, "alice", false, &endpoint).await;
    carol.wait_line(&alice, 0, "online").await;

    alice.fill("#add-contact-jid", CAROL).await;
    alice.click("#add-contact").await;
    carol.wait_line(&alice, 0, "subscribed").await;
    alice
        .wait_attr(
            &format!("li.contact[data-jid='{CAROL}']"),
            "data-presence",
            "available",
        )
        .await;
    // carol sees alice online too (alice approved carol's request by herself).
    carol
        .wait(&alice, 0, "alice's presence", |l| {
            l.starts_with("presence alice@localhost/")
        })
        .await;
    alice.shot("contacts").await;
    open_chat(&alice, CAROL).await;
    padlock(&alice, "not_encrypted").await;
    (prosody, server, alice, carol)
}

/// A fingerprint as shown (grouped, any case) as plain lower-case hex.
fn plain_hex(shown: &str) -> String {
    shown
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether `line` is a body alice sent that carol received as OTR data (not plaintext).
fn is_otr_data(line: &str) -> bool {
    line.starts_with("wire-in ?OTR:AA")
}

/// Both sides are private: alice's padlock reads "encrypted, not verified" (`label` in her
/// language) and libotr reports a secure session of `version` since `mark`.
async fn private_started(alice: &Person, carol: &Carol, mark: usize, version: &str, label: &str) {
    padlock(alice, "encrypted_unverified").await;
    let secure = carol
        .wait(alice, mark, "secure", |l| l.starts_with("secure "))
        .await;
    assert!(
        secure.starts_with(&format!("secure {version} ")),
        "{secure}"
    );
    let shown = alice.text("#padlock-label").await;
    assert!(shown.contains(label), "{shown:?}");
    alice.shot("private-started").await;
}

/// alice → carol: only OTR data on the wire, libotr shows the text; carol → alice: shown as an
/// incoming encrypted message, as text.
async fn messages_both_ways(alice: &Person, carol: &Carol, to_carol: &str, to_alice: &str) {
    let mark = carol.mark();
    send(alice, to_carol).await;
    carol
        .wait_line(alice, mark, &format!("shown-text {to_carol}"))
        .await;
    let wire: Vec<String> = carol
        .log()
        .into_iter()
        .skip(mark)
        .filter(|l| l.starts_with("wire-in "))
        .collect();
    assert!(
        !wire.is_empty() && wire.iter().all(|l| is_otr_data(l)),
        "alice's message did not travel as OTR data: {wire:?}"
    );
    assert!(
        wire.iter().all(|l| !l.contains(to_carol)),
        "alice's text on the wire: {wire:?}"
    );
    carol.say(to_alice);
    assert_eq!(wait_incoming(alice, to_alice).await, "true");
    alice.shot("messages").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libotr_v3_ake_messages_and_smp_both_ways() {
    let started = Instant::now();
    let (_prosody, _server, alice, carol) = setup("v3", "en-US", Version::V3).await;

    // alice starts the private conversation; libotr answers the query with an AKE in v3.
    let mark = carol.mark();
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    private_started(&alice, &carol, mark, "v3", "not verified").await;

    messages_both_ways(
        &alice,
        &carol,
        "Hello Carol, libotr here?",
        "Yes, <i>libotr</i> & v3",
    )
    .await;

    // The fingerprints alice's app shows are those libotr has: its own, and the one it saw.
    let log = carol.log();
    let fp_of = |prefix: &str| {
        log.iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in carol's log: {log:#?}"))
            .to_owned()
    };
    let (carol_fp, alice_fp) = (fp_of("ourfp "), fp_of("theirfp "));
    alice.click("#padlock").await;
    alice.click("#verify").await;
    alice.click("#verify-fingerprint-tab").await;
    assert_eq!(plain_hex(&alice.text("#peer-fingerprint").await), carol_fp);
    assert_eq!(plain_hex(&alice.text("#own-fingerprint").await), alice_fp);
    alice.shot("fingerprints").await;
    alice.click("#verify-close").await;

    // alice asks; libotr gets the question and answers right: verified for alice.
    let question = "Where did we meet?";
    let mark = carol.mark();
    ask(&alice, question, "Rosario").await;
    carol.wait_line(&alice, mark, "smp ask_for_answer").await;
    carol
        .wait_line(&alice, mark, &format!("smpq-text {question}"))
        .await;
    carol.lib(&format!("respond {}", hex(b"Rosario")));
    padlock(&alice, "verified").await;
    carol.wait_line(&alice, mark, "smp success").await;
    let label = alice.text("#padlock-label").await;
    assert!(!label.contains("not verified"), "{label:?}");
    alice.shot("verified").await;

    // carol asks alice through libotr's SMP with a question; alice answers right: libotr
    // trusts alice's key.
    let question = "What did we eat?";
    let mark = carol.mark();
    carol.lib(&format!(
        "smpq {} {}",
        hex(question.as_bytes()),
        hex(b"Empanadas")
    ));
    answer(&alice, question, "Empanadas").await;
    carol.wait_line(&alice, mark, "smp success").await;
    carol.wait_line(&alice, mark, "trust smp").await;
    alice
        .wait_css("li.notice[data-notice='answered_correctly']")
        .await;
    padlock(&alice, "verified").await;
    alice.shot("carol-verified-alice").await;

    // Still talking after both verifications.
    let mark = carol.mark();
    send(&alice, "Both verified").await;
    carol
        .wait_line(&alice, mark, "shown-text Both verified")
        .await;
    carol.assert_no_errors();
    alice.close().await;
    drop(carol);
    eprintln!("libotr v3: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libotr_v2_ake_from_its_query_messages_and_smp_both_ways() {
    let started = Instant::now();
    let (_prosody, _server, alice, carol) = setup("v2", "es-AR", Version::V2).await;

    // carol's libotr (v2 only) asks for OTR; alice's app answers and the AKE runs in v2.
    let mark = carol.mark();
    carol.lib("query");
    carol
        .wait(&alice, mark, "query sent", |l| {
            l.starts_with("wire-out ?OTRv2?")
        })
        .await;
    private_started(&alice, &carol, mark, "v2", "sin verificar").await;

    messages_both_ways(
        &alice,
        &carol,
        "Hola Carol, ¿me leés en v2?",
        "Sí, te leo: v2 & <b>libotr</b>",
    )
    .await;

    // Verification with a question over v2: alice asks, libotr answers wrong (the answer is
    // case-sensitive): failure on both sides; then right: verified for alice.
    let question = "¿Dónde nos conocimos?";
    let mark = carol.mark();
    ask(&alice, question, "Rosario").await;
    carol
        .wait_line(&alice, mark, &format!("smpq-text {question}"))
        .await;
    carol.lib(&format!("respond {}", hex(b"rosario")));
    alice
        .wait_css("li.notice[data-notice='verification_failed']")
        .await;
    carol.wait_line(&alice, mark, "smp failure").await;
    padlock(&alice, "encrypted_unverified").await;
    alice.shot("verification-failed").await;

    let mark = carol.mark();
    ask(&alice, question, "Rosario").await;
    carol
        .wait_line(&alice, mark, &format!("smpq-text {question}"))
        .await;
    carol.lib(&format!("respond {}", hex(b"Rosario")));
    padlock(&alice, "verified").await;
    carol.wait_line(&alice, mark, "smp success").await;
    alice.shot("verified").await;

    // carol asks alice over v2; alice answers right: libotr trusts alice's key.
    let question = "¿Qué comimos?";
    let mark = carol.mark();
    carol.lib(&format!(
        "smpq {} {}",
        hex(question.as_bytes()),
        hex("Empanadas de carne".as_bytes())
    ));
    answer(&alice, question, "Empanadas de carne").await;
    carol.wait_line(&alice, mark, "smp success").await;
    carol.wait_line(&alice, mark, "trust smp").await;
    alice
        .wait_css("li.notice[data-notice='answered_correctly']")
        .await;
    alice.shot("carol-verified-alice").await;

    carol.assert_no_errors();
    alice.close().await;
    drop(carol);
    eprintln!("libotr v2: {:?}", started.elapsed());
}
