//! A WebSocket relay on loopback between the app and a real XMPP server.
//!
//! It keeps every text frame it relays, so a test can prove what the server could read (for example,
//! that no plaintext body left the browser under "always encrypt"), and it injects the faults of a
//! flaky or hostile network on command:
//!
//! - [`WsProxy::cut`]: end every live connection, between frames, in the middle of one (a prefix
//!   of the next frame's bytes is written), or losing the next frame whole; then both TCP
//!   connections are shut down, with no WebSocket close frame, as when a phone drops off the
//!   network;
//! - [`WsProxy::stall`]: freeze every live connection (half-open: no bytes either way, no close),
//!   while new connections are relayed normally;
//! - [`WsProxy::block`]: refuse new connections (as when the network is down);
//! - [`WsProxy::set_delay`]: hold each frame back before relaying it.
//!
//! Connections are counted ([`WsProxy::opened`], [`WsProxy::live`]) so a test can see when and how
//! often the app reconnected.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// Which way a frame went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// From the app to the server.
    Up,
    /// From the server to the app.
    Down,
}

/// Where a [`WsProxy::cut`] falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// At once, between frames.
    Now,
    /// In the middle of the next frame going `Way`: the first half of its bytes reach the other
    /// side, then the connection ends. If no frame goes that way within a second, the cut falls
    /// between frames.
    MidFrame(Way),
    /// The next frame going `Way` is lost with the connection: none of it reaches the other
    /// side (its sender believes it sent it). Within a second, as for [`Cut::MidFrame`].
    Swallow(Way),
}

/// How long a [`Cut::MidFrame`] waits for a frame before cutting between frames.
const MID_FRAME_WAIT: Duration = Duration::from_secs(1);

/// What a test asked of one live connection.
#[derive(Debug, Default)]
struct Control {
    cut: Option<(Cut, Instant)>,
    stalled: bool,
}

#[derive(Debug, Default)]
struct State {
    frames: Vec<(Way, String)>,
    /// What happened, in order: frames (by connection) and the faults injected.
    journal: Vec<String>,
    /// Live connections by number, with what was asked of each.
    live: BTreeMap<u64, Control>,
    /// When each relayed connection was opened (its WebSocket handshake with both sides done).
    opened: Vec<Instant>,
    next_id: u64,
    blocked: bool,
    refused: usize,
    delay: Duration,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A relay thread that panicked while holding the lock leaves consistent data behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running relay. Dropping it stops accepting and ends every relayed connection.
#[derive(Debug)]
pub struct WsProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl WsProxy {
    /// Listens on a free loopback port and relays every WebSocket connection to `upstream`
    /// (a `ws://` URL), passing the `xmpp` subprotocol through.
    pub fn start(upstream: &str) -> std::io::Result<WsProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let upstream = upstream.to_string();
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let blocked = {
                                let mut state = shared.state();
                                state.refused += usize::from(state.blocked);
                                state.blocked
                            };
                            if blocked {
                                let _ = stream.shutdown(Shutdown::Both);
                                continue;
                            }
                            let (shared, upstream) = (shared.clone(), upstream.clone());
                            std::thread::spawn(move || relay(stream, &upstream, &shared));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => return,
                    }
                }
            })
        };
        Ok(WsProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The relay's endpoint, `ws://127.0.0.1:<port>/xmpp-websocket`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/xmpp-websocket", self.port)
    }

    /// Every text frame relayed so far, in order.
    pub fn frames(&self) -> Vec<(Way, String)> {
        self.shared.state().frames.clone()
    }

    /// What happened so far, a line each: connections opened and ended, frames relayed (by
    /// connection), and the faults injected. For reading a failed test.
    pub fn journal(&self) -> Vec<String> {
        self.shared.state().journal.clone()
    }

    /// Ends every live connection as `how` says; returns how many were live.
    pub fn cut(&self, how: Cut) -> usize {
        let now = Instant::now();
        let mut state = self.shared.state();
        for control in state.live.values_mut() {
            control.cut = Some((how, now));
        }
        state.live.len()
    }

    /// Freezes every live connection: from now on no byte goes either way on it and it is not
    /// closed (the app must find out by itself). New connections are relayed normally. Returns how
    /// many were live.
    pub fn stall(&self) -> usize {
        let mut state = self.shared.state();
        for control in state.live.values_mut() {
            control.stalled = true;
        }
        state.live.len()
    }

    /// While `on`, new connections are accepted and closed at once, before any WebSocket handshake.
    pub fn block(&self, on: bool) {
        self.shared.state().blocked = on;
    }

    /// Holds every frame back for `delay` before relaying it (zero: relay at once).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state().delay = delay;
    }

    /// When each relayed connection was opened, oldest first.
    pub fn opened(&self) -> Vec<Instant> {
        self.shared.state().opened.clone()
    }

    /// How many connections are being relayed now (stalled ones included).
    pub fn live(&self) -> usize {
        self.shared.state().live.len()
    }

    /// How many connections were refused by [`WsProxy::block`].
    pub fn refused(&self) -> usize {
        self.shared.state().refused
    }
}

impl Drop for WsProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Accepts the `xmpp` subprotocol when the app asks for it (RFC 7395 §3.1). The signature is
/// tungstenite's handshake callback.
#[allow(clippy::result_large_err)]
fn pass_subprotocol(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let wants_xmpp = req
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == "xmpp"));
    if wants_xmpp {
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    }
    Ok(resp)
}

/// Opens both sides of one relayed connection, relays until either side ends it (or a test cuts
/// it), then forgets it.
fn relay(client: TcpStream, upstream: &str, shared: &Shared) {
    let Ok((mut down, mut up)) = connect(client, upstream) else {
        return;
    };
    let id = {
        let mut state = shared.state();
        let id = state.next_id;
        state.next_id += 1;
        state.live.insert(id, Control::default());
        state.opened.push(Instant::now());
        state.journal.push(format!("#{id} opened"));
        id
    };
    let mut conn = Conn {
        id,
        shared,
        down: &mut down,
        up: &mut up,
    };
    let clean = conn.run();
    {
        let mut state = shared.state();
        state.live.remove(&id);
        let how = if clean { "closed" } else { "cut" };
        state.journal.push(format!("#{id} {how}"));
    }
    if clean {
        let _ = down.close(None);
        let _ = down.flush();
        let _ = up.close(None);
        let _ = up.flush();
    }
    for ws in [&down, &up] {
        let _ = ws.get_ref().shutdown(Shutdown::Both);
    }
}

type Ws = WebSocket<TcpStream>;

/// The WebSocket handshake with the app, then with the server; both sockets poll every 5 ms.
fn connect(client: TcpStream, upstream: &str) -> Result<(Ws, Ws), String> {
    client.set_nonblocking(false).map_err(|e| e.to_string())?;
    let down = tungstenite::accept_hdr(client, pass_subprotocol).map_err(|e| e.to_string())?;
    let mut request = upstream.into_client_request().map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let host = upstream
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .ok_or("the upstream must be a ws:// URL")?;
    let stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    let (up, _) = tungstenite::client(request, stream).map_err(|e| e.to_string())?;
    for ws in [down.get_ref(), up.get_ref()] {
        ws.set_read_timeout(Some(Duration::from_millis(5)))
            .map_err(|e| e.to_string())?;
    }
    Ok((down, up))
}

/// One relayed connection.
struct Conn<'a> {
    id: u64,
    shared: &'a Shared,
    down: &'a mut Ws,
    up: &'a mut Ws,
}

/// What to do with the next frame, as the test last asked.
enum Next {
    Relay(Duration),
    Stall,
    CutNow,
    /// Cut with the next frame going that way, after half of it (true) or before any of it.
    CutInside(Way, bool),
}

impl Conn<'_> {
    /// Relays until a side closes (true: close the other side properly) or the test cuts the
    /// connection or the proxy stops (false: just drop the TCP connections).
    fn run(&mut self) -> bool {
        while !self.shared.stop.load(Ordering::Relaxed) {
            let (inside, delay) = match self.next() {
                Next::Stall => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Next::CutNow => return false,
                Next::CutInside(way, half) => (Some((way, half)), Duration::ZERO),
                Next::Relay(delay) => (None, delay),
            };
            let a = match self.pass(Way::Up, inside, delay) {
                Ok(moved) => moved,
                Err(clean) => return clean,
            };
            let b = match self.pass(Way::Down, inside, delay) {
                Ok(moved) => moved,
                Err(clean) => return clean,
            };
            if !(a || b) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        false
    }

    fn next(&self) -> Next {
        let state = self.shared.state();
        let Some(control) = state.live.get(&self.id) else {
            return Next::CutNow;
        };
        match control.cut {
            Some((Cut::Now, _)) => Next::CutNow,
            Some((Cut::MidFrame(_) | Cut::Swallow(_), asked))
                if asked.elapsed() > MID_FRAME_WAIT =>
            {
                Next::CutNow
            }
            Some((Cut::MidFrame(way), _)) => Next::CutInside(way, true),
            Some((Cut::Swallow(way), _)) => Next::CutInside(way, false),
            None if control.stalled => Next::Stall,
            None => Next::Relay(state.delay),
        }
    }

    /// Moves one message the way `way` says if one is waiting, `delay` after reading it (or, when
    /// `cut_inside` is that way, half of it or none before ending the connection): `Ok(moved)`, or
    /// `Err(clean)` when the connection is over (`clean`: a side's socket failed, so the other is
    /// to be closed properly; otherwise a close was passed on or the connection was cut here).
    fn pass(
        &mut self,
        way: Way,
        cut_inside: Option<(Way, bool)>,
        delay: Duration,
    ) -> Result<bool, bool> {
        let (from, to) = match way {
            Way::Up => (&mut *self.down, &mut *self.up),
            Way::Down => (&mut *self.up, &mut *self.down),
        };
        match from.read() {
            Ok(Message::Text(text)) => {
                {
                    let mut state = self.shared.state();
                    state.frames.push((way, text.to_string()));
                    let inside = match cut_inside {
                        Some((w, true)) if w == way => " (cut inside)",
                        Some((w, false)) if w == way => " (swallowed)",
                        _ => "",
                    };
                    state
                        .journal
                        .push(format!("#{} {way:?}{inside} {text}", self.id));
                }
                match cut_inside {
                    Some((w, true)) if w == way => {
                        let frame = encode_text_frame(text.as_bytes(), way == Way::Up);
                        let half = (frame.len() / 2).max(1);
                        let _ = to.get_mut().write_all(&frame[..half]);
                        let _ = to.get_mut().flush();
                        return Err(false);
                    }
                    Some((w, false)) if w == way => return Err(false),
                    _ => {}
                }
                // Held back here, it also holds back what follows, as a slow link would.
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                to.send(Message::Text(text)).map_err(|_| false)?;
                Ok(true)
            }
            Ok(Message::Close(frame)) => {
                let _ = to.close(frame);
                let _ = to.flush();
                Err(false)
            }
            Ok(other) => {
                if other.is_binary() {
                    to.send(other).map_err(|_| false)?;
                }
                Ok(true)
            }
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                Ok(false)
            }
            Err(_) => Err(true),
        }
    }
}

/// One unfragmented text frame as it travels on the wire (RFC 6455 §5.2): masked (with a zero
/// key, which leaves the payload as it is) when it goes from client to server.
fn encode_text_frame(payload: &[u8], masked: bool) -> Vec<u8> {
    let mut frame = vec![0x81];
    let mask_bit = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        frame.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        frame.push(mask_bit | 126);
        frame.extend_from_slice(&len.to_be_bytes());
    } else {
        frame.push(mask_bit | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        frame.extend_from_slice(&[0; 4]);
    }
    frame.extend_from_slice(payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_encoded_as_rfc_6455_says() {
        assert_eq!(encode_text_frame(b"hi", false), [0x81, 2, b'h', b'i']);
        assert_eq!(
            encode_text_frame(b"hi", true),
            [0x81, 0x82, 0, 0, 0, 0, b'h', b'i']
        );
        let long = encode_text_frame(&[b'x'; 300], false);
        assert_eq!(&long[..4], &[0x81, 126, 1, 44]);
        assert_eq!(long.len(), 4 + 300);
        let huge = encode_text_frame(&vec![b'x'; 70_000], true);
        assert_eq!(&huge[..2], &[0x81, 0x80 | 127]);
        assert_eq!(&huge[2..10], &70_000u64.to_be_bytes());
        assert_eq!(huge.len(), 2 + 8 + 4 + 70_000);
    }
}

#[cfg(test)]
mod relay_tests {
    use super::*;

    /// A WebSocket server on loopback that keeps every text it reads, and how the connection
    /// ended, for each connection.
    fn upstream() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let url = format!(
            "ws://127.0.0.1:{}/xmpp-websocket",
            listener.local_addr().unwrap().port()
        );
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let Ok(mut ws) = tungstenite::accept_hdr(stream, pass_subprotocol) else {
                        return;
                    };
                    loop {
                        match ws.read() {
                            Ok(Message::Text(t)) => seen.lock().unwrap().push(t.to_string()),
                            Ok(_) => {}
                            Err(e) => {
                                seen.lock().unwrap().push(format!("ended: {e}"));
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, got)
    }

    fn wait_for(got: &Mutex<Vec<String>>, n: usize) -> Vec<String> {
        for _ in 0..300 {
            let seen = got.lock().unwrap().clone();
            if seen.len() >= n {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        got.lock().unwrap().clone()
    }

    #[test]
    fn a_cut_inside_an_upward_frame_ends_the_connection_there() {
        let (url, got) = upstream();
        let proxy = WsProxy::start(&url).unwrap();
        let mut request = proxy.url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let (mut client, _) = tungstenite::connect(request).unwrap();
        client.send(Message::text("one")).unwrap();
        assert_eq!(wait_for(&got, 1), ["one"]);
        assert_eq!(proxy.cut(Cut::MidFrame(Way::Up)), 1);
        // (A frame read before the relay saw the request goes whole; let it see it.)
        std::thread::sleep(Duration::from_millis(50));
        client.send(Message::text("two, cut in half")).unwrap();
        let _ = client.send(Message::text("three"));
        std::thread::sleep(Duration::from_millis(300));
        let seen = wait_for(&got, 2);
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[1].starts_with("ended"), "{seen:?}");
        assert_eq!(proxy.live(), 0);
    }

    #[test]
    fn nothing_follows_a_frame_cut_in_half() {
        let (url, got) = upstream();
        let proxy = WsProxy::start(&url).unwrap();
        let ack = "<a xmlns='urn:xmpp:sm:3' h='40'/>";
        let big = "x".repeat(652);
        for round in 0..20 {
            let mut request = proxy.url().into_client_request().unwrap();
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
            let start = got.lock().unwrap().len();
            let (mut client, _) = tungstenite::connect(request).unwrap();
            client.send(Message::text("hello")).unwrap();
            let before = wait_for(&got, start + 1).len();
            assert_eq!(proxy.cut(Cut::MidFrame(Way::Up)), 1, "round {round}");
            let _ = client.send(Message::text(ack));
            let _ = client.send(Message::text(big.clone()));
            std::thread::sleep(Duration::from_millis(100));
            let seen = got.lock().unwrap().clone();
            let after: Vec<&String> = seen[before..].iter().collect();
            // The relay may have read the first frame before it saw the request: that one goes
            // whole. After the half frame, only the end of the connection.
            let ended = after.last().is_some_and(|e| e.contains("Connection reset"));
            let whole = after.len() == 1 || (after.len() == 2 && after[0] == ack);
            assert!(ended && whole, "round {round}: {after:?}");
        }
    }
}
