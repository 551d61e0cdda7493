//! Long tasks while people chat, in the real app (issue #8, point 1), run by `cargo xtask bench chat`.
//!
//! alice uses the built app in headless Chromium under the slow-phone emulation of issue #8 (360×740
//! at 2×, CPU 4× slower, 150 ms round trips, 1.6 Mbit/s down); bob uses it in a second Chromium at
//! full speed, and also has a plain native XMPP connection (raw stanzas over Prosody's c2s port)
//! that sends many messages quickly. Against a real Prosody, in order:
//! 1. alice creates her vault and registers her account (her worker generates her OTR key);
//! 2. she keeps the history of her chat with bob, and bob's native connection sends her
//!    `KEPT` messages while her contact list is shown;
//! 3. she reloads and unlocks (the vault opens and the kept history loads);
//! 4. she opens the chat with bob: `KEPT` kept messages;
//! 5. bob's native connection sends a burst of 200 messages while the chat is open;
//! 6. she starts a private conversation (the OTR AKE with bob's app);
//! 7. she asks bob a question only he can answer (SMP), and he answers.
//!
//! For each phase it counts alice's main-thread tasks over 50 ms (a `PerformanceObserver` for
//! `longtask`) and notes how long the phase took. Prints one `BENCH chat …` line per phase. Figures,
//! not a test: a phase that does not finish prints `timeout`.
//!
//! `CANDADO_CHAT_PROFILE=open_kept_chat` (or `burst_200`, `ake`, `smp`) prints a CPU profile of
//! alice's page during that phase.

use std::io::{Read, Write};

use base64::Engine as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use candado_e2e::bench::{
    between, long_tasks, mark, number, start_profile, stop_profile, wait_for, INSTRUMENT,
};
use candado_e2e::steps::{answer, ask, befriend, first_run_and_register, open_chat, padlock};
use candado_e2e::{serve_app, Person};
use candado_harness::{fresh_dir, Prosody};
use serde_json::json;

const ALICE: &str = "alice@localhost";
const BOB: &str = "bob@localhost";

/// Marks `window.__bench[key]` on the first frame where a message of the chat's list holds the text
/// `arguments[0]`: the last line when `arguments[2]`, else the first message. It looks at one
/// element a frame, so the watching costs the measured page next to nothing.
const WATCH_MESSAGE: &str = r#"
const [text, key, last] = arguments;
const b = window.__bench;
const look = () => {
  const line = last
    ? document.querySelector('#messages > li:last-child')
    : document.querySelector('#messages li.message');
  if (line && line.textContent.includes(text)) { b[key] = performance.now(); return; }
  requestAnimationFrame(look);
};
requestAnimationFrame(look);
"#;

/// How many `message` events alice's page has received from its worker.
const MESSAGES_RECEIVED: &str =
    "return window.__bench.handlers.filter(h => h[2] === 'message').length;";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let kept: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let dir = fresh_dir("bench", "chat").unwrap();
    // Without message archiving: with 50 000 messages Prosody's file-backed archive kept rewriting
    // a 3.9 MB file (it stopped growing at about 10 000 messages each for alice and bob) and made
    // the server, sharing this machine's two cores with the measured browser, the bottleneck.
    // Candado does not use the archive here.
    let prosody = Prosody::start_with(
        &dir,
        "localhost",
        "modules_enabled = {\n    \"roster\"; \"saslauth\"; \"disco\"; \"ping\"; \"carbons\"; \"register\"; \"websocket\";\n    \"smacks\"; \"blocklist\"; \"pep\"; \"private\"; \"vcard_legacy\"; \"time\"; \"version\";\n}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = serve_app(&prosody.websocket_url());
    let endpoint = prosody.websocket_url();

    let alice = Person::start("chat-alice", "es-AR", "una frase larga de prueba 1").await;
    let bob = Person::start("chat-bob", "es-AR", "otra frase larga de prueba 2").await;
    alice.emulate_slow_phone(INSTRUMENT).await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;

    alice.stop_screenshots();

    // 1. Vault, registration and key generation.
    alice.wait_screen("first-run").await;
    mark(&alice, "p1").await;
    first_run_and_register(&alice, "alice", true, &endpoint).await;
    mark(&alice, "p1_end").await;
    let (from, to) = (number(&alice, "p1").await, number(&alice, "p1_end").await);
    report(
        &alice,
        "first_run",
        Some(to - from),
        from,
        to,
        String::new(),
    )
    .await;
    first_run_and_register(&bob, "bob", true, &endpoint).await;
    befriend(&alice, ALICE, &bob, BOB).await;

    // 2. Kept history: `kept` messages arrive while the contact list is shown.
    open_chat(&alice, BOB).await;
    alice.click("#history-toggle").await;
    alice
        .wait_attr("#history-toggle", "aria-checked", "true")
        .await;
    alice.click("#back").await;
    alice.wait_screen("contacts").await;
    let bob_native = RawClient::login(prosody.c2s_port, "bob", "bob-Contraseña-1", "native");
    let before = alice
        .script(MESSAGES_RECEIVED, vec![])
        .await
        .as_u64()
        .unwrap_or(0) as usize;
    mark(&alice, "p2").await;
    let sent = Instant::now();
    let mut bob_native = bob_native;
    bob_native.send_messages(ALICE, "guardado", kept);
    let sent_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let deadline = Instant::now() + Duration::from_secs(1200);
    let mut received = before;
    while received < before + kept && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        received = alice
            .script(MESSAGES_RECEIVED, vec![])
            .await
            .as_u64()
            .unwrap_or(0) as usize;
    }
    mark(&alice, "p2_end").await;
    let (from, to) = (number(&alice, "p2").await, number(&alice, "p2_end").await);
    report(
        &alice,
        "receive_kept",
        (received >= before + kept).then_some(to - from),
        from,
        to,
        format!(
            "messages={kept} received={} native_send_ms={sent_ms:.0}",
            received - before
        ),
    )
    .await;
    // The worker writes each message to the vault as it arrives; give the last writes time.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // 3. Reload and unlock: the long tasks from the click on "unlock" until the account is online.
    reload_and_unlock_marked(&alice).await;
    let (from, to) = (number(&alice, "p3").await, number(&alice, "p3_end").await);
    report(&alice, "unlock", Some(to - from), from, to, String::new()).await;

    // 4. Open the chat with its kept history.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let profile = std::env::var("CANDADO_CHAT_PROFILE").unwrap_or_default();
    if profile == "open_kept_chat" {
        start_profile(&alice).await;
    }
    mark(&alice, "p4").await;
    alice
        .script(
            WATCH_MESSAGE,
            vec![json!("guardado"), json!("p4_end"), json!(false)],
        )
        .await;
    // Clicked from the page itself: WebDriver's own element checks run in the measured page and
    // would count as its work.
    alice
        .script(
            "document.querySelector(arguments[0]).click();",
            vec![json!(format!("li.contact[data-jid='{BOB}'] .contact-open"))],
        )
        .await;
    let shown = wait_for(&alice, "p4_end", Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    if profile == "open_kept_chat" {
        stop_profile(&alice).await;
    }
    let from = number(&alice, "p4").await;
    let rows = alice.count("#messages li").await;
    // "Mostrar mensajes anteriores (N)": the kept messages not on show.
    let more = alice.text("#history-more").await;
    let hidden: String = more.chars().filter(char::is_ascii_digit).collect();
    report(
        &alice,
        "open_kept_chat",
        shown.map(|t| t - from),
        from,
        from + shown.map_or(0.0, |t| t - from) + 2000.0,
        format!("rows_in_page={rows} kept_hidden={hidden}"),
    )
    .await;

    // 5. A burst of 200 messages while the chat is open.
    let burst = 200;
    if profile == "burst_200" {
        start_profile(&alice).await;
    }
    mark(&alice, "p5").await;
    alice
        .script(
            WATCH_MESSAGE,
            vec![
                json!(format!("ráfaga {}", burst - 1)),
                json!("p5_end"),
                json!(true),
            ],
        )
        .await;
    bob_native.send_messages(ALICE, "ráfaga", burst);
    let done = wait_for(&alice, "p5_end", Duration::from_secs(300)).await;
    if profile == "burst_200" {
        stop_profile(&alice).await;
    }
    let from = number(&alice, "p5").await;
    report(
        &alice,
        "burst_200",
        done.map(|t| t - from),
        from,
        done.unwrap_or(f64::INFINITY),
        format!("messages={burst}"),
    )
    .await;
    drop(bob_native);

    // 6. The AKE with bob's app.
    open_chat(&bob, ALICE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    if profile == "ake" {
        start_profile(&alice).await;
    }
    mark(&alice, "p6").await;
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    padlock(&alice, "encrypted_unverified").await;
    mark(&alice, "p6_end").await;
    if profile == "ake" {
        stop_profile(&alice).await;
    }
    padlock(&bob, "encrypted_unverified").await;
    let (from, to) = (number(&alice, "p6").await, number(&alice, "p6_end").await);
    report(&alice, "ake", Some(to - from), from, to, String::new()).await;

    // 7. SMP: alice asks, bob answers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if profile == "smp" {
        start_profile(&alice).await;
    }
    mark(&alice, "p7").await;
    ask(&alice, "¿Dónde nos conocimos?", "en la plaza").await;
    answer(&bob, "¿Dónde nos conocimos?", "en la plaza").await;
    padlock(&alice, "verified").await;
    mark(&alice, "p7_end").await;
    if profile == "smp" {
        stop_profile(&alice).await;
    }
    let (from, to) = (number(&alice, "p7").await, number(&alice, "p7_end").await);
    report(&alice, "smp", Some(to - from), from, to, String::new()).await;
    alice.shot("chat-bench-end").await;

    alice.close().await;
    bob.close().await;
}

/// Prints the `BENCH chat` line of a phase of alice's that ran from `from` to `to` (her page's
/// clock), with the long tasks in it, and its long animation frames to stderr. Called as each phase
/// ends: a reload starts the page's clock and lists again.
async fn report(alice: &Person, name: &str, ms: Option<f64>, from: f64, to: f64, extra: String) {
    // The observers report a task once it has ended.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to = if to.is_finite() { to } else { f64::MAX };
    let tasks = between(&long_tasks(alice).await, from, to);
    let loafs = alice
        .script(
            "return window.__bench.loafs.filter(l => l[0] >= arguments[0] && l[0] < arguments[1] && l[1] > 50).map(l => [Math.round(l[0] - arguments[0]), Math.round(l[1]), Math.round(l[2]), Math.round(l[3]), l[4]]);",
            vec![json!(from), json!(to)],
        )
        .await;
    let handlers = alice
        .script(
            "return window.__bench.handlers.filter(h => h[0] >= arguments[0] && h[0] < arguments[1] && h[1] > 30).map(h => [Math.round(h[0] - arguments[0]), Math.round(h[1]), h[2], h[3]]);",
            vec![json!(from), json!(to)],
        )
        .await;
    eprintln!("{name}: worker messages handled in over 30 ms (ms after the start, ms, kind, length): {handlers}");
    eprintln!("{name}: long animation frames (ms after the start, duration, render, style+layout, scripts [invoker, ms, forced layout ms]): {loafs}");
    println!(
        "BENCH chat phase={name} ms={} longtasks={} longest_task_ms={:.0} {extra}",
        ms.map_or("timeout".to_string(), |ms| format!("{ms:.0}")),
        tasks.len(),
        tasks.iter().copied().fold(0.0, f64::max),
    );
}

/// `steps::reload_and_unlock`, with marks around the click that unlocks.
async fn reload_and_unlock_marked(p: &Person) {
    p.reload().await;
    p.wait_screen("unlock").await;
    p.fill("#unlock-passphrase", p.passphrase()).await;
    mark(p, "p3").await;
    p.click("#unlock").await;
    p.wait_screen("contacts").await;
    p.wait_attr("#account-state", "data-state", "online").await;
    mark(p, "p3_end").await;
}

/// A minimal XMPP client over Prosody's plain c2s port (the test config allows PLAIN without TLS):
/// enough to log in and send chat messages as fast as the server takes them.
struct RawClient {
    socket: TcpStream,
}

impl RawClient {
    fn login(port: u16, user: &str, password: &str, resource: &str) -> RawClient {
        let socket =
            TcpStream::connect(("127.0.0.1", port)).expect("connect to Prosody's c2s port");
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut c = RawClient { socket };
        c.open_stream();
        c.read_until("</stream:features>");
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        c.write(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>"
        ));
        c.read_until("<success");
        c.open_stream();
        c.read_until("</stream:features>");
        c.write(&format!(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>{resource}</resource></bind></iq>"
        ));
        c.read_until("</iq>");
        c
    }

    fn open_stream(&mut self) {
        self.write(
            "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' \
             xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
        );
    }

    fn write(&mut self, text: &str) {
        self.socket
            .write_all(text.as_bytes())
            .expect("write to Prosody");
    }

    /// Reads until `marker` has arrived (the stanzas before it are not needed); Prosody quotes
    /// attributes with `'`, another server might use `"`.
    fn read_until(&mut self, marker: &str) {
        let other = marker.replace('\'', "\"");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(marker)
            && !String::from_utf8_lossy(&seen).contains(&other)
        {
            let n = self.socket.read(&mut buf).expect("read from Prosody");
            assert!(n > 0, "Prosody closed the stream before {marker}");
            seen.extend_from_slice(&buf[..n]);
        }
    }

    /// Sends `n` chat messages `"{prefix} {i}"` to `to`, then waits for the server's answer to a
    /// ping sent after them (so all of them have been routed).
    fn send_messages(&mut self, to: &str, prefix: &str, n: usize) {
        let mut batch = String::new();
        for i in 0..n {
            batch.push_str(&format!(
                "<message to='{to}' type='chat' id='{prefix}-{i}'><body>{prefix} {i}</body></message>"
            ));
            if batch.len() > 60_000 {
                self.write(&batch);
                batch.clear();
            }
        }
        batch.push_str("<iq type='get' id='done'><ping xmlns='urn:xmpp:ping'/></iq>");
        self.write(&batch);
        // Prosody answers once it has routed them all, at the pace the receiving app reads them.
        self.socket
            .set_read_timeout(Some(Duration::from_secs(1200)))
            .unwrap();
        self.read_until("id='done'");
        self.socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
    }
}
