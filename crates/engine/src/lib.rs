//! Candado's application logic, written sans-IO.
//!
//! The engine never touches a socket, a clock or storage. The runtime (a Web Worker in the browser, or a
//! test harness natively) feeds it inputs and performs the [`Effect`]s it asks for:
//!
//! | input                         | meaning                                   |
//! |-------------------------------|-------------------------------------------|
//! | [`Engine::handle_command`]    | a [`Command`] from the UI                 |
//! | [`Engine::handle_socket_open`]| the WebSocket the engine asked for opened |
//! | [`Engine::handle_frame`]      | one WebSocket text frame arrived          |
//! | [`Engine::handle_socket_closed`] | the WebSocket closed or failed         |
//!
//! After each input, drain [`Engine::poll_effect`] until it returns `None` and perform the effects in
//! order.
//!
//! This first slice only proves that the configured server is reachable and speaks XMPP over WebSocket
//! (RFC 7395): it opens the stream and reports [`ConnectionState::Connected`] when the server's stream
//! features arrive. Authentication, contacts, OTR and the vault build on it.
//!
//! ```
//! use candado_api::{Command, ConnectionState, Event, ServerConfig};
//! use candado_engine::{Effect, Engine};
//!
//! let mut engine = Engine::new();
//! engine.handle_command(Command::Connect {
//!     server: ServerConfig { domain: "localhost".into(), websocket_url: "ws://127.0.0.1:5280/xmpp-websocket".into() },
//! });
//! assert!(matches!(engine.poll_effect(), Some(Effect::Emit(Event::Connection { .. }))));
//! assert!(matches!(engine.poll_effect(), Some(Effect::OpenSocket { .. })));
//! engine.handle_socket_open();
//! assert!(matches!(engine.poll_effect(), Some(Effect::SendFrame { .. })));
//! engine.handle_frame("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='1' version='1.0'/>");
//! engine.handle_frame("<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>");
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

use std::collections::VecDeque;

pub use candado_api::{Command, ConnectionState, Event, FailureReason, ServerConfig};

/// The RFC 7395 framing namespace.
pub const FRAMING_NS: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// The WebSocket subprotocol XMPP uses (RFC 7395 §3.1).
pub const WEBSOCKET_PROTOCOL: &str = "xmpp";

/// Something the runtime must do for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send this event to the UI.
    Emit(Event),
    /// Open a WebSocket to `url` with the `xmpp` subprotocol, replacing any open one.
    OpenSocket {
        /// The endpoint.
        url: String,
    },
    /// Send one text frame on the open WebSocket.
    SendFrame {
        /// The frame.
        text: String,
    },
    /// Close the WebSocket.
    CloseSocket,
}

#[derive(Debug)]
enum Link {
    Idle,
    /// The socket was requested and has not opened yet.
    Opening {
        server: ServerConfig,
    },
    /// Our `<open/>` went out; waiting for the server's `<open/>` and features.
    AwaitingFeatures {
        server: ServerConfig,
        opened: bool,
    },
    Connected {
        server: ServerConfig,
    },
}

/// The application state machine. See the crate docs for the order of calls.
#[derive(Debug)]
pub struct Engine {
    link: Link,
    effects: VecDeque<Effect>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// A fresh engine, not connected.
    pub fn new() -> Self {
        Self {
            link: Link::Idle,
            effects: VecDeque::new(),
        }
    }

    /// The current connection state, as last reported to the UI.
    pub fn connection_state(&self) -> ConnectionState {
        match &self.link {
            Link::Idle => ConnectionState::Disconnected,
            Link::Opening { server } | Link::AwaitingFeatures { server, .. } => {
                ConnectionState::Connecting {
                    websocket_url: server.websocket_url.clone(),
                }
            }
            Link::Connected { server } => ConnectionState::Connected {
                domain: server.domain.clone(),
            },
        }
    }

    /// The next effect to perform, in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// A command from the UI.
    pub fn handle_command(&mut self, command: Command) {
        match command {
            Command::Ping { nonce } => self.emit(Event::Pong { nonce }),
            Command::Connect { server } => self.connect(server),
            Command::Disconnect => {
                if !matches!(self.link, Link::Idle) {
                    self.effects.push_back(Effect::CloseSocket);
                    self.link = Link::Idle;
                    self.emit_state();
                }
            }
        }
    }

    /// A message from the UI that could not be decoded.
    pub fn handle_malformed_command(&mut self, detail: String) {
        self.emit(Event::ProtocolError { detail });
    }

    /// The WebSocket requested by [`Effect::OpenSocket`] is open.
    pub fn handle_socket_open(&mut self) {
        if let Link::Opening { server } = std::mem::replace(&mut self.link, Link::Idle) {
            self.effects.push_back(Effect::SendFrame {
                text: open_frame(&server.domain),
            });
            self.link = Link::AwaitingFeatures {
                server,
                opened: false,
            };
        }
    }

    /// One text frame arrived on the WebSocket.
    pub fn handle_frame(&mut self, text: &str) {
        let name = element_name(text);
        match std::mem::replace(&mut self.link, Link::Idle) {
            Link::AwaitingFeatures { server, opened } => match name {
                Some("open") if !opened => {
                    self.link = Link::AwaitingFeatures {
                        server,
                        opened: true,
                    }
                }
                Some("features") if opened => {
                    self.link = Link::Connected { server };
                    self.emit_state();
                }
                Some("error") | Some("close") => self.fail(server, FailureReason::StreamError),
                _ => self.fail(server, FailureReason::NotXmpp),
            },
            Link::Connected { server } => {
                if matches!(name, Some("error") | Some("close")) {
                    self.fail(server, FailureReason::StreamError);
                } else {
                    self.link = Link::Connected { server };
                }
            }
            other => self.link = other,
        }
    }

    /// The WebSocket closed, or could not be opened.
    pub fn handle_socket_closed(&mut self) {
        match std::mem::replace(&mut self.link, Link::Idle) {
            Link::Idle => {}
            Link::Opening { server } | Link::AwaitingFeatures { server, .. } => {
                self.fail(server, FailureReason::Unreachable)
            }
            Link::Connected { .. } => self.emit_state(),
        }
    }

    fn connect(&mut self, server: ServerConfig) {
        if !matches!(self.link, Link::Idle) {
            self.effects.push_back(Effect::CloseSocket);
        }
        let url = server.websocket_url.clone();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            self.link = Link::Idle;
            self.emit(Event::Connection {
                state: ConnectionState::Failed {
                    reason: FailureReason::InvalidUrl,
                    websocket_url: url,
                },
            });
            return;
        }
        self.link = Link::Opening { server };
        self.emit_state();
        self.effects.push_back(Effect::OpenSocket { url });
    }

    fn fail(&mut self, server: ServerConfig, reason: FailureReason) {
        self.link = Link::Idle;
        self.effects.push_back(Effect::CloseSocket);
        self.emit(Event::Connection {
            state: ConnectionState::Failed {
                reason,
                websocket_url: server.websocket_url,
            },
        });
    }

    fn emit_state(&mut self) {
        let state = self.connection_state();
        self.emit(Event::Connection { state });
    }

    fn emit(&mut self, event: Event) {
        self.effects.push_back(Effect::Emit(event));
    }
}

/// The RFC 7395 `<open/>` element that starts a stream to `domain`.
pub fn open_frame(domain: &str) -> String {
    format!(
        "<open xmlns='{FRAMING_NS}' to='{}' version='1.0'/>",
        escape_attr(domain)
    )
}

fn escape_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The local name of the top-level element of a frame, without any prefix (`stream:features` →
/// `features`), or `None` if the frame does not start with an element.
fn element_name(frame: &str) -> Option<&str> {
    let rest = frame.trim_start().strip_prefix('<')?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    let qname = rest.get(..end)?;
    let local = qname.rsplit(':').next()?;
    let valid = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "ws://127.0.0.1:5280/xmpp-websocket";

    fn server() -> ServerConfig {
        ServerConfig {
            domain: "localhost".into(),
            websocket_url: URL.into(),
        }
    }

    fn drain(engine: &mut Engine) -> Vec<Effect> {
        std::iter::from_fn(|| engine.poll_effect()).collect()
    }

    fn connecting() -> Engine {
        let mut e = Engine::new();
        e.handle_command(Command::Connect { server: server() });
        e.handle_socket_open();
        drain(&mut e);
        e
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
        let mut e = Engine::new();
        e.handle_command(Command::Ping { nonce: 42 });
        assert_eq!(drain(&mut e), vec![Effect::Emit(Event::Pong { nonce: 42 })]);
    }

    #[test]
    fn connect_opens_the_socket_then_the_stream() {
        let mut e = Engine::new();
        e.handle_command(Command::Connect { server: server() });
        assert_eq!(
            drain(&mut e),
            vec![
                Effect::Emit(Event::Connection {
                    state: ConnectionState::Connecting {
                        websocket_url: URL.into()
                    }
                }),
                Effect::OpenSocket { url: URL.into() },
            ]
        );
        e.handle_socket_open();
        assert_eq!(
            drain(&mut e),
            vec![Effect::SendFrame {
                text: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
                    .into()
            }]
        );
    }

    #[test]
    fn features_after_open_mean_connected() {
        let mut e = connecting();
        e.handle_frame("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='localhost' id='x'/>");
        assert!(drain(&mut e).is_empty());
        e.handle_frame("<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms/></stream:features>");
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
    fn features_without_open_is_not_xmpp() {
        let mut e = connecting();
        e.handle_frame("<features/>");
        assert_eq!(
            drain(&mut e),
            vec![Effect::CloseSocket, failed(FailureReason::NotXmpp)]
        );
    }

    #[test]
    fn garbage_is_not_xmpp() {
        for frame in ["HTTP/1.1 404", "", "<", "<>", "<a:>", "{\"json\":1}"] {
            let mut e = connecting();
            e.handle_frame(frame);
            assert_eq!(
                drain(&mut e),
                vec![Effect::CloseSocket, failed(FailureReason::NotXmpp)],
                "{frame:?}"
            );
        }
    }

    #[test]
    fn stream_error_is_reported() {
        let mut e = connecting();
        e.handle_frame("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
        e.handle_frame("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
        assert_eq!(
            drain(&mut e),
            vec![Effect::CloseSocket, failed(FailureReason::StreamError)]
        );
    }

    #[test]
    fn socket_failure_before_features_is_unreachable() {
        let mut e = Engine::new();
        e.handle_command(Command::Connect { server: server() });
        drain(&mut e);
        e.handle_socket_closed();
        assert_eq!(
            drain(&mut e),
            vec![Effect::CloseSocket, failed(FailureReason::Unreachable)]
        );
        assert_eq!(e.connection_state(), ConnectionState::Disconnected);
    }

    #[test]
    fn losing_an_established_connection_reports_disconnected() {
        let mut e = connecting();
        e.handle_frame("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
        e.handle_frame("<features/>");
        drain(&mut e);
        e.handle_socket_closed();
        assert_eq!(
            drain(&mut e),
            vec![Effect::Emit(Event::Connection {
                state: ConnectionState::Disconnected
            })]
        );
    }

    #[test]
    fn invalid_url_fails_without_opening_anything() {
        let mut e = Engine::new();
        e.handle_command(Command::Connect {
            server: ServerConfig {
                domain: "x".into(),
                websocket_url: "https://x/".into(),
            },
        });
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
        let mut e = connecting();
        e.handle_command(Command::Disconnect);
        assert_eq!(
            drain(&mut e),
            vec![
                Effect::CloseSocket,
                Effect::Emit(Event::Connection {
                    state: ConnectionState::Disconnected
                })
            ]
        );
        e.handle_command(Command::Disconnect);
        assert!(drain(&mut e).is_empty());
    }

    #[test]
    fn domain_is_escaped_in_the_open_frame() {
        assert_eq!(
            open_frame("a'b<c"),
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a&apos;b&lt;c' version='1.0'/>"
        );
    }

    #[test]
    fn element_names() {
        assert_eq!(element_name("  <stream:features>"), Some("features"));
        assert_eq!(element_name("<open/>"), Some("open"));
        assert_eq!(element_name("<close xmlns='x'/>"), Some("close"));
        assert_eq!(element_name("text"), None);
    }
}
