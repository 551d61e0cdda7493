//! The connection probe behind the app shell's status line: is the configured server reachable, and
//! does it speak XMPP over WebSocket (RFC 7395)? It opens a socket, sends `<open/>`, and reports
//! [`ConnectionState::Connected`] when the server's stream features arrive. No login happens here.

use std::collections::VecDeque;

use candado_api::{ConnectionState, Event, FailureReason, ServerConfig};

use crate::{Effect, SocketId, FRAMING_NS};

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

/// The probe's state and its socket.
#[derive(Debug)]
pub(crate) struct Probe {
    link: Link,
    socket: Option<SocketId>,
}

impl Probe {
    pub(crate) fn new() -> Self {
        Self {
            link: Link::Idle,
            socket: None,
        }
    }

    pub(crate) fn owns(&self, socket: SocketId) -> bool {
        self.socket == Some(socket)
    }

    pub(crate) fn state(&self) -> ConnectionState {
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

    pub(crate) fn connect(
        &mut self,
        server: ServerConfig,
        socket: SocketId,
        out: &mut VecDeque<Effect>,
    ) {
        self.close_socket(out);
        let url = server.websocket_url.clone();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            self.link = Link::Idle;
            out.push_back(Effect::Emit(Event::Connection {
                state: ConnectionState::Failed {
                    reason: FailureReason::InvalidUrl,
                    websocket_url: url,
                },
            }));
            return;
        }
        self.link = Link::Opening { server };
        self.socket = Some(socket);
        self.emit_state(out);
        out.push_back(Effect::OpenSocket { socket, url });
    }

    pub(crate) fn disconnect(&mut self, out: &mut VecDeque<Effect>) {
        if !matches!(self.link, Link::Idle) {
            self.close_socket(out);
            self.link = Link::Idle;
            self.emit_state(out);
        }
    }

    pub(crate) fn socket_open(&mut self, out: &mut VecDeque<Effect>) {
        let Some(socket) = self.socket else { return };
        if let Link::Opening { server } = std::mem::replace(&mut self.link, Link::Idle) {
            out.push_back(Effect::SendFrame {
                socket,
                text: open_frame(&server.domain),
            });
            self.link = Link::AwaitingFeatures {
                server,
                opened: false,
            };
        }
    }

    pub(crate) fn frame(&mut self, text: &str, out: &mut VecDeque<Effect>) {
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
                    self.emit_state(out);
                }
                Some("error") | Some("close") => self.fail(server, FailureReason::StreamError, out),
                _ => self.fail(server, FailureReason::NotXmpp, out),
            },
            Link::Connected { server } => {
                if matches!(name, Some("error") | Some("close")) {
                    self.fail(server, FailureReason::StreamError, out);
                } else {
                    self.link = Link::Connected { server };
                }
            }
            other => self.link = other,
        }
    }

    pub(crate) fn socket_closed(&mut self, out: &mut VecDeque<Effect>) {
        match std::mem::replace(&mut self.link, Link::Idle) {
            Link::Idle => {}
            Link::Opening { server } | Link::AwaitingFeatures { server, .. } => {
                self.fail(server, FailureReason::Unreachable, out)
            }
            Link::Connected { .. } => {
                self.socket = None;
                self.emit_state(out)
            }
        }
    }

    fn close_socket(&mut self, out: &mut VecDeque<Effect>) {
        if let Some(socket) = self.socket.take() {
            out.push_back(Effect::CloseSocket { socket });
        }
    }

    fn fail(&mut self, server: ServerConfig, reason: FailureReason, out: &mut VecDeque<Effect>) {
        self.link = Link::Idle;
        self.close_socket(out);
        out.push_back(Effect::Emit(Event::Connection {
            state: ConnectionState::Failed {
                reason,
                websocket_url: server.websocket_url,
            },
        }));
    }

    fn emit_state(&self, out: &mut VecDeque<Effect>) {
        out.push_back(Effect::Emit(Event::Connection {
            state: self.state(),
        }));
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
