//! A WebSocket relay on loopback between the app and a real XMPP server that keeps every text frame
//! it relays, so a test can prove what the server could read (for example, that no plaintext body
//! left the browser under "always encrypt").

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// A running relay. Dropping it stops accepting and ends every relayed connection.
#[derive(Debug)]
pub struct WsProxy {
    port: u16,
    frames: Arc<Mutex<Vec<(Way, String)>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl WsProxy {
    /// Listens on a free loopback port and relays every WebSocket connection to `upstream`
    /// (a `ws://` URL), passing the `xmpp` subprotocol through.
    pub fn start(upstream: &str) -> std::io::Result<WsProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_string();
        let acceptor = {
            let (frames, stop) = (frames.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (frames, stop, upstream) =
                                (frames.clone(), stop.clone(), upstream.clone());
                            std::thread::spawn(move || {
                                let _ = relay(stream, &upstream, &frames, &stop);
                            });
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
            frames,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// The relay's endpoint, `ws://127.0.0.1:<port>/xmpp-websocket`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/xmpp-websocket", self.port)
    }

    /// Every text frame relayed so far, in order.
    pub fn frames(&self) -> Vec<(Way, String)> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

impl Drop for WsProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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

fn relay(
    client: TcpStream,
    upstream: &str,
    frames: &Mutex<Vec<(Way, String)>>,
    stop: &AtomicBool,
) -> Result<(), String> {
    client.set_nonblocking(false).map_err(|e| e.to_string())?;
    let mut down = tungstenite::accept_hdr(client, pass_subprotocol).map_err(|e| e.to_string())?;
    let mut request = upstream.into_client_request().map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let host = upstream
        .strip_prefix("ws://")
        .and_then(|r| r.split('/').next())
        .ok_or("the upstream must be a ws:// URL")?;
    let stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    let (mut up, _) = tungstenite::client(request, stream).map_err(|e| e.to_string())?;
    for ws in [down.get_ref(), up.get_ref()] {
        ws.set_read_timeout(Some(Duration::from_millis(5)))
            .map_err(|e| e.to_string())?;
    }
    while !stop.load(Ordering::Relaxed) {
        let a = pass(&mut down, &mut up, Way::Up, frames)?;
        let b = pass(&mut up, &mut down, Way::Down, frames)?;
        if !(a || b) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = down.close(None);
    let _ = up.close(None);
    Ok(())
}

/// Moves one message from `from` to `to` if one is waiting; `Err` when either side is gone.
fn pass(
    from: &mut WebSocket<TcpStream>,
    to: &mut WebSocket<TcpStream>,
    way: Way,
    frames: &Mutex<Vec<(Way, String)>>,
) -> Result<bool, String> {
    match from.read() {
        Ok(Message::Text(text)) => {
            if let Ok(mut f) = frames.lock() {
                f.push((way, text.to_string()));
            }
            to.send(Message::Text(text)).map_err(|e| e.to_string())?;
            Ok(true)
        }
        Ok(Message::Close(frame)) => {
            let _ = to.close(frame);
            let _ = to.flush();
            Err("closed".into())
        }
        Ok(other) => {
            if other.is_binary() {
                to.send(other).map_err(|e| e.to_string())?;
            }
            Ok(true)
        }
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            Ok(false)
        }
        Err(e) => {
            let _ = to.close(None);
            let _ = to.flush();
            Err(e.to_string())
        }
    }
}
