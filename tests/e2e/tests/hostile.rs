//! Hostile networks (issue #9): two people in two headless Chromium profiles in a private
//! conversation through a real Prosody, where alice's app reaches the server through a
//! fault-injecting WebSocket proxy (`candado_harness::WsProxy`) that cuts, stalls or refuses her
//! connection, and where her browser goes offline under DevTools emulation. alice is under
//! "always encrypt"; bob's app talks to Prosody directly.
//!
//! Run with `cargo xtask test hostile`. Figures (cuts, reconnections, resumptions, times) are
//! printed; a failing run prints its seed, and `CANDADO_HOSTILE_SEED=<seed>` replays the same cut
//! points and kinds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candado_e2e::steps::{
    befriend, choose_policy, first_run_and_register, open_chat, padlock, send, wait_incoming,
};
use candado_e2e::{serve_app, Person};
use candado_harness::{fresh_dir, Cut, Prosody, StaticServer, Way, WsProxy};

/// xorshift64*: a small seeded generator, so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn new(test: &str) -> Rng {
        let seed = std::env::var("CANDADO_HOSTILE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x9e37_79b9_7f4a_7c15)
            })
            | 1;
        println!("{test}: seed {seed} (CANDADO_HOSTILE_SEED={seed} replays it)");
        Rng(seed)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// alice (through the proxy, under "always encrypt") and bob (straight to Prosody), contacts of
/// each other, each in the chat with the other, with a private conversation up.
struct Pair {
    relay: Arc<WsProxy>,
    alice: Person,
    bob: Person,
    _servers: (StaticServer, StaticServer),
    _frames: FrameLog,
    prosody: Prosody,
}

/// Prosody's debug log, kept with the test's other files (`target/e2e/<label>-…/`).
const DEBUG_LOG: &str =
    "log = { debug = \"@DIR@/prosody.debug.log\"; error = \"@DIR@/prosody.err\"; }";

async fn pair(label: &str, prosody_global: &str) -> Pair {
    let dir = fresh_dir("e2e", label).unwrap();
    let global = format!("{DEBUG_LOG}\n{prosody_global}");
    let prosody = Prosody::start_with(&dir, "localhost", &global).unwrap();
    let relay = Arc::new(WsProxy::start(&prosody.websocket_url()).unwrap());
    let frames = FrameLog(relay.clone(), dir.join("frames.txt"));
    let (alice_app, bob_app) = (serve_app(&relay.url()), serve_app(&prosody.websocket_url()));
    let alice = Person::start(
        &format!("{label}-alice"),
        "es-AR",
        "alicia en la red rota 1",
    )
    .await;
    let bob = Person::start(&format!("{label}-bob"), "en-US", "bob on a good network 2").await;
    alice.open(&alice_app.url()).await;
    bob.open(&bob_app.url()).await;
    first_run_and_register(&alice, "alice", false, &relay.url()).await;
    first_run_and_register(&bob, "bob", false, &prosody.websocket_url()).await;
    befriend(&alice, "alice@localhost", &bob, "bob@localhost").await;

    choose_policy(&alice, "always").await;

    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    padlock(&alice, "encrypted_unverified").await;
    padlock(&bob, "encrypted_unverified").await;
    send(&alice, "hola antes de los cortes").await;
    assert_eq!(
        wait_incoming(&bob, "hola antes de los cortes").await,
        "true"
    );
    Pair {
        relay,
        alice,
        bob,
        _servers: (alice_app, bob_app),
        _frames: frames,
        prosody,
    }
}

/// Writes the proxy's journal (connections, frames, faults) to a file when the test ends (passed
/// or failed), for whoever reads a failure.
struct FrameLog(Arc<WsProxy>, std::path::PathBuf);

impl Drop for FrameLog {
    fn drop(&mut self) {
        let text: String = self.0.journal().iter().map(|l| format!("{l}\n")).collect();
        let _ = std::fs::write(&self.1, text);
    }
}

impl Pair {
    async fn close(self) {
        self.alice.close().await;
        self.bob.close().await;
    }

    /// alice's `text` reaches bob once, encrypted, and never crossed the proxy in the clear;
    /// bob's `answer` reaches her.
    async fn arrives_once_and_bob_answers(&self, text: &str, answer: &str) {
        assert_eq!(wait_incoming(&self.bob, text).await, "true");
        send(&self.bob, answer).await;
        assert_eq!(wait_incoming(&self.alice, answer).await, "true");
        // A second copy would have come by now.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let copies = lines(&self.bob, "incoming")
            .await
            .iter()
            .filter(|l| l.text == text)
            .count();
        assert_eq!(copies, 1, "bob got {text:?} {copies} times");
        assert!(self.plaintext_frames(text).is_empty());
    }

    /// Frames that carried `text` in the clear through alice's connection.
    fn plaintext_frames(&self, text: &str) -> Vec<(Way, String)> {
        self.relay
            .frames()
            .into_iter()
            .filter(|(_, f)| f.contains(text))
            .collect()
    }
}

/// One message line as the chat shows it.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    text: String,
    encrypted: bool,
    delivery: String,
}

/// The messages of the open chat that went `direction` (`incoming` or `outgoing`), in order.
async fn lines(p: &Person, direction: &str) -> Vec<Line> {
    let value = p
        .script(
            "return Array.from(document.querySelectorAll(\
               `li.message[data-direction='${arguments[0]}']`)).map(li => [\
               li.querySelector('.message-text').textContent, li.dataset.encrypted, li.dataset.delivery]);",
            vec![direction.into()],
        )
        .await;
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| Line {
            text: line[0].as_str().unwrap_or_default().to_string(),
            encrypted: line[1] == "true",
            delivery: line[2].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Waits until `p` shows at least `n` incoming messages (or `timeout` passes); returns them.
async fn wait_incoming_count(p: &Person, n: usize, timeout: Duration) -> Vec<Line> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = lines(p, "incoming").await;
        if seen.len() >= n || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until `relay` has opened more than `before` connections; returns when the last opened.
async fn wait_reconnected(relay: &WsProxy, before: usize, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let opened = relay.opened();
        if opened.len() > before {
            return opened.last().copied();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// How many times a Down frame holds `needle`.
fn count_down(relay: &WsProxy, needle: &str) -> usize {
    relay
        .frames()
        .iter()
        .filter(|(way, f)| *way == Way::Down && f.contains(needle))
        .count()
}

/// Types `<who> 000` to `<who> 199`, message i once the proxy has made i/2 cuts.
async fn type_during_cuts(p: &Person, who: &str, cuts: &AtomicUsize) {
    for i in 0..EACH {
        while cuts.load(Ordering::Relaxed) < i * CUTS / EACH {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        send(p, &format!("{who} {i:03}")).await;
    }
}

const EACH: usize = 200;
const CUTS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_messages_survive_a_hundred_cuts_exactly_once_and_in_order() {
    let pair = pair("cuts", "").await;
    let mut rng = Rng::new("cuts");
    let start = Instant::now();
    let cuts = Arc::new(AtomicUsize::new(0));

    // The cutter: lets alice's connection live 0.1 to 1.5 s, then cuts it between frames, in the
    // middle of the next frame to alice, or losing the next frame either way whole, and waits for
    // the next connection, which holds every frame back by a delay of its own. (A frame to the
    // server cut in half is the next test's: Prosody 0.12 cannot resume after it.)
    let cutter = {
        let (relay, cuts) = (pair.relay.clone(), cuts.clone());
        tokio::spawn(async move {
            let mut kinds = [0usize; 4];
            let gave_up = |e: String| {
                // Let the typing stop waiting for cuts that will not come.
                cuts.store(usize::MAX / 2, Ordering::Relaxed);
                Err(e)
            };
            while cuts.load(Ordering::Relaxed) < CUTS {
                let opened = relay.opened().len();
                tokio::time::sleep(Duration::from_millis(100 + rng.below(1400))).await;
                let kind = rng.below(4) as usize;
                let how = [
                    Cut::Now,
                    Cut::MidFrame(Way::Down),
                    Cut::Swallow(Way::Up),
                    Cut::Swallow(Way::Down),
                ][kind];
                if relay.cut(how) == 0 {
                    continue;
                }
                kinds[kind] += 1;
                cuts.fetch_add(1, Ordering::Relaxed);
                // The next connection is slow or not: each frame held back 0, 20, 40 or 60 ms.
                relay.set_delay(Duration::from_millis(20 * rng.below(4)));
                if wait_reconnected(&relay, opened, Duration::from_secs(90))
                    .await
                    .is_none()
                {
                    let done = cuts.load(Ordering::Relaxed);
                    return gave_up(format!(
                        "alice's app did not reconnect within 90 s after cut {done}"
                    ));
                }
            }
            Ok(kinds)
        })
    };

    // Both type their messages while the cuts go on: message i waits for cut i/2.
    tokio::join!(
        type_during_cuts(&pair.alice, "alice", &cuts),
        type_during_cuts(&pair.bob, "bob", &cuts)
    );
    let kinds = match cutter.await.unwrap() {
        Ok(kinds) => kinds,
        Err(e) => pair.alice.fail(e).await,
    };
    let typed = start.elapsed();

    // Every message arrives once, in order, decrypted.
    let expected = |who: &str| -> Vec<String> {
        let mut texts = vec![];
        if who == "alice" {
            texts.push("hola antes de los cortes".to_string());
        }
        texts.extend((0..EACH).map(|i| format!("{who} {i:03}")));
        texts
    };
    let at_bob = wait_incoming_count(&pair.bob, EACH + 1, Duration::from_secs(180)).await;
    let at_alice = wait_incoming_count(&pair.alice, EACH, Duration::from_secs(180)).await;
    let delivered = start.elapsed();
    // Anything still to come would be a duplicate.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at_bob_after = lines(&pair.bob, "incoming").await;
    let at_alice_after = lines(&pair.alice, "incoming").await;
    pair.alice.shot("after-cuts").await;
    pair.bob.shot("after-cuts").await;
    for (who, seen, again, from) in [
        ("bob", &at_bob, &at_bob_after, "alice"),
        ("alice", &at_alice, &at_alice_after, "bob"),
    ] {
        let texts: Vec<&str> = again.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            expected(from),
            "{who} did not get {from}'s messages exactly once and in order (had {} before waiting)",
            seen.len()
        );
        let clear: Vec<&Line> = again.iter().filter(|l| !l.encrypted).collect();
        assert!(
            clear.is_empty(),
            "{who} got messages in the clear: {clear:?}"
        );
    }
    // Nothing alice typed is marked failed or left waiting.
    let mine = lines(&pair.alice, "outgoing").await;
    let stuck: Vec<&Line> = mine.iter().filter(|l| l.delivery != "sent").collect();
    assert!(stuck.is_empty(), "alice's messages not sent: {stuck:?}");
    // The private conversation survived (or came back by itself) on both sides.
    padlock(&pair.alice, "encrypted_unverified").await;
    padlock(&pair.bob, "encrypted_unverified").await;
    // And no message crossed alice's connection in the clear, either way.
    for i in 0..EACH {
        for who in ["alice", "bob"] {
            let leaked = pair.plaintext_frames(&format!("{who} {i:03}"));
            assert!(leaked.is_empty(), "plaintext through the proxy: {leaked:?}");
        }
    }

    let opened = pair.relay.opened().len();
    println!(
        "cuts: {CUTS} ({} between frames, {} inside a frame down, {} losing a frame up, {} losing \
         a frame down); connections opened: {opened}; streams resumed: {}; resumptions refused: \
         {}; {} messages typed in {:.1} s, all delivered after {:.1} s",
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        count_down(&pair.relay, "<resumed"),
        count_down(&pair.relay, "<failed"),
        2 * EACH,
        typed.as_secs_f64(),
        delivered.as_secs_f64(),
    );
    assert!(opened > CUTS, "only {opened} connections for {CUTS} cuts");
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_to_the_server_cut_in_half_ends_in_a_fresh_session_and_nothing_typed_is_lost() {
    let pair = pair("half-up", "").await;
    // The next frame alice's app sends is cut after half of its bytes reached Prosody.
    assert!(pair.relay.cut(Cut::MidFrame(Way::Up)) >= 1);
    let text = "cortado a la mitad";
    send(&pair.alice, text).await;
    pair.arrives_once_and_bob_answers(text, "llegó entero")
        .await;
    // Prosody 0.12 keeps the half frame in the stream's buffer and puts what comes on the resumed
    // stream after it, so the resumed stream ends with `not-well-formed`; the app then starts a
    // fresh session and sends again what was never acknowledged.
    let corrupted = count_down(&pair.relay, "not-well-formed");
    println!(
        "half a frame up: {} connections; the resumed stream {} by the server",
        pair.relay.opened().len(),
        if corrupted > 0 {
            "was ended as not-well-formed"
        } else {
            "survived"
        }
    );
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_connection_is_replaced_within_30_s_and_nothing_typed_is_lost() {
    let pair = pair("stall", "").await;
    let before = pair.relay.opened().len();
    let stalled_at = Instant::now();
    // (The app's connection probe keeps a second, idle connection: it freezes too.)
    assert!(pair.relay.stall() >= 1, "alice has a live connection");
    // Typed into the frozen connection: the server never gets it there.
    let text = "escrito con la conexión congelada";
    send(&pair.alice, text).await;
    let Some(reopened) = wait_reconnected(&pair.relay, before, Duration::from_secs(45)).await
    else {
        pair.alice
            .fail("no new connection 45 s after the stall".into())
            .await
    };
    let replaced = reopened - stalled_at;
    assert_eq!(wait_incoming(&pair.bob, text).await, "true");
    let delivered = stalled_at.elapsed();
    send(&pair.bob, "recibido").await;
    assert_eq!(wait_incoming(&pair.alice, "recibido").await, "true");
    println!(
        "stall: new connection after {:.1} s, the message typed during the stall delivered after {:.1} s",
        replaced.as_secs_f64(),
        delivered.as_secs_f64()
    );
    assert!(
        replaced < Duration::from_secs(30),
        "the stalled connection was replaced only after {replaced:?}"
    );
    assert!(pair.plaintext_frames(text).is_empty());
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_server_refuses_to_resume_unacknowledged_messages_are_sent_again() {
    // Prosody forgets a lost stream after 2 s; the proxy keeps alice away for 6.
    let pair = pair("no-resume", "smacks_hibernation_time = 2").await;
    let before = pair.relay.opened().len();
    assert!(pair.relay.stall() >= 1);
    let text = "nunca confirmado por el servidor";
    send(&pair.alice, text).await;
    // The message is sent into the frozen connection, and is not acknowledged; then it drops.
    tokio::time::sleep(Duration::from_secs(1)).await;
    pair.relay.block(true);
    assert!(pair.relay.cut(Cut::Now) >= 1);
    tokio::time::sleep(Duration::from_secs(6)).await;
    pair.relay.block(false);
    let refused_while_blocked = pair.relay.refused();
    if wait_reconnected(&pair.relay, before, Duration::from_secs(60))
        .await
        .is_none()
    {
        pair.alice
            .fail("no new connection after the block".into())
            .await;
    }
    pair.arrives_once_and_bob_answers(text, "llegó una vez")
        .await;
    // The server did refuse: the app asked to resume and was told the stream is gone.
    let refusals: Vec<String> = pair
        .relay
        .frames()
        .into_iter()
        .filter(|(way, f)| {
            *way == Way::Down && f.contains("<failed") && f.contains("item-not-found")
        })
        .map(|(_, f)| f)
        .collect();
    assert!(
        !refusals.is_empty(),
        "Prosody never refused a resumption; its log:\n{}",
        pair.prosody.log()
    );
    println!(
        "refused resumption: {refused_while_blocked} connection attempts refused while blocked, \
         {} refusal(s) from Prosody; the unacknowledged message delivered once",
        refusals.len()
    );
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_browser_goes_offline_and_online_the_app_reconnects_by_itself() {
    let pair = pair("offline", "").await;
    let before = pair.relay.opened().len();
    let conditions = |offline: bool| {
        serde_json::json!({
            "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
        })
    };
    // The network goes away. DevTools takes the browser offline (`navigator.onLine`, the
    // `offline` and `online` events, new requests of the page); its emulation does not reach a
    // WebSocket already open in a worker, so the proxy plays the network's part: alice's
    // connection freezes and new ones are refused.
    pair.alice
        .cdp("Network.enable", serde_json::json!({}))
        .await;
    pair.alice
        .cdp("Network.emulateNetworkConditions", conditions(true))
        .await;
    assert!(pair.relay.stall() >= 1);
    pair.relay.block(true);
    let on_line = "return navigator.onLine;";
    assert_eq!(pair.alice.script(on_line, vec![]).await, false);
    let text = "escrito sin red";
    send(&pair.alice, text).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let early = lines(&pair.bob, "incoming")
        .await
        .iter()
        .any(|l| l.text == text);
    assert!(!early, "the message went out while the browser was offline");
    pair.alice.shot("offline").await;

    // The network is back (the old connection stays dead, as after a change of network).
    pair.relay.block(false);
    let online_at = Instant::now();
    pair.alice
        .cdp("Network.emulateNetworkConditions", conditions(false))
        .await;
    assert_eq!(pair.alice.script(on_line, vec![]).await, true);
    assert_eq!(wait_incoming(&pair.bob, text).await, "true");
    let delivered = online_at.elapsed();
    assert!(
        pair.relay.opened().len() > before,
        "the app never opened a new connection"
    );
    println!(
        "offline 5 s: the message typed meanwhile delivered {:.1} s after the network came back",
        delivered.as_secs_f64()
    );
    // The `online` event makes the app check its connection at once (answer within 8 s) instead
    // of waiting for 15 s of silence: without that it would take about 18 s here.
    assert!(
        delivered < Duration::from_secs(14),
        "the dead connection was noticed only {delivered:?} after the network came back"
    );
    send(&pair.bob, "de vuelta").await;
    assert_eq!(wait_incoming(&pair.alice, "de vuelta").await, "true");
    pair.close().await;
}
