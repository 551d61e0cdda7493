//! The messages exchanged between Candado's UI (main thread) and its engine (a dedicated Web Worker).
//!
//! The UI knows only these types: it sends [`Command`]s and renders what the [`Event`]s tell it. Both
//! cross the worker boundary as JSON text (`postMessage` of a string), so every type here is plain data:
//! no channels, handles or closures, and every enum variant has named fields.
//!
//! ```
//! use candado_api::{Command, Event, ServerConfig};
//!
//! let cmd = Command::Connect {
//!     server: ServerConfig {
//!         domain: "localhost".into(),
//!         websocket_url: "ws://127.0.0.1:5280/xmpp-websocket".into(),
//!     },
//! };
//! let wire = cmd.to_wire();
//! assert_eq!(Command::from_wire(&wire).unwrap(), cmd);
//!
//! // Garbage is an error, never a panic.
//! assert!(Event::from_wire("{\"type\":\"nonsense\"}").is_err());
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

use serde::{Deserialize, Serialize};

/// Where the app connects: the XMPP domain and its RFC 7395 WebSocket endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// The XMPP domain (the part after `@` in an address), e.g. `example.org`.
    pub domain: String,
    /// The WebSocket endpoint, e.g. `wss://example.org/xmpp-websocket`.
    pub websocket_url: String,
}

/// What the UI asks the worker to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Liveness check: the worker answers with [`Event::Pong`] carrying the same `nonce`.
    Ping {
        /// Echoed back unchanged.
        nonce: u64,
    },
    /// Open a connection to `server` and report its [`ConnectionState`].
    Connect {
        /// The server to reach.
        server: ServerConfig,
    },
    /// Close the connection, if any.
    Disconnect,
}

/// What the worker tells the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The worker has started and is ready for commands.
    Ready,
    /// Answer to [`Command::Ping`].
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
    /// The connection to the server changed state.
    Connection {
        /// The new state.
        state: ConnectionState,
    },
    /// A command could not be understood (for instance a UI and a worker from different versions).
    ProtocolError {
        /// What was wrong, in English, for logs and bug reports.
        detail: String,
    },
}

/// The state of the connection to the XMPP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not connected, and not trying.
    Disconnected,
    /// The WebSocket is being opened or the XMPP stream negotiated.
    Connecting {
        /// The endpoint being reached.
        websocket_url: String,
    },
    /// The server answered with its stream features: it is reachable and speaks XMPP.
    Connected {
        /// The domain the server serves.
        domain: String,
    },
    /// The server could not be reached or did not speak XMPP over WebSocket.
    Failed {
        /// Why it failed.
        reason: FailureReason,
        /// The endpoint that failed.
        websocket_url: String,
    },
}

/// Why a connection failed, as the UI explains it to the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The WebSocket could not be opened or closed before the server answered.
    Unreachable,
    /// The endpoint answered, but not with an XMPP stream (wrong URL, or not an XMPP server).
    NotXmpp,
    /// The endpoint URL itself is not a valid `ws://` or `wss://` URL.
    InvalidUrl,
    /// The server closed the stream with an error.
    StreamError,
}

/// A message could not be decoded from its wire form.
#[derive(Debug)]
pub struct WireError(serde_json::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed message between UI and worker: {}", self.0)
    }
}

impl std::error::Error for WireError {}

macro_rules! wire_codec {
    ($ty:ty) => {
        impl $ty {
            /// Encodes this message for `postMessage`.
            pub fn to_wire(&self) -> String {
                // Serialising these plain enums cannot fail: they hold only strings, numbers and enums.
                serde_json::to_string(self).unwrap_or_default()
            }

            /// Decodes a message received through `postMessage`.
            pub fn from_wire(text: &str) -> Result<Self, WireError> {
                serde_json::from_str(text).map_err(WireError)
            }
        }
    };
}

wire_codec!(Command);
wire_codec!(Event);

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerConfig {
        ServerConfig {
            domain: "example.org".into(),
            websocket_url: "wss://example.org/xmpp-websocket".into(),
        }
    }

    #[test]
    fn every_command_round_trips() {
        for cmd in [
            Command::Ping { nonce: u64::MAX },
            Command::Connect { server: server() },
            Command::Disconnect,
        ] {
            assert_eq!(Command::from_wire(&cmd.to_wire()).unwrap(), cmd);
        }
    }

    #[test]
    fn every_event_round_trips() {
        let states = [
            ConnectionState::Disconnected,
            ConnectionState::Connecting {
                websocket_url: "wss://x/y".into(),
            },
            ConnectionState::Connected {
                domain: "example.org".into(),
            },
            ConnectionState::Failed {
                reason: FailureReason::NotXmpp,
                websocket_url: "wss://x/y".into(),
            },
        ];
        let mut events = vec![
            Event::Ready,
            Event::Pong { nonce: 7 },
            Event::ProtocolError { detail: "x".into() },
        ];
        events.extend(states.into_iter().map(|state| Event::Connection { state }));
        for ev in events {
            assert_eq!(Event::from_wire(&ev.to_wire()).unwrap(), ev);
        }
    }

    #[test]
    fn wire_format_is_tagged_json() {
        assert_eq!(
            Command::Ping { nonce: 3 }.to_wire(),
            r#"{"type":"ping","nonce":3}"#
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "{",
            "null",
            r#"{"type":"ping"}"#,
            r#"{"type":"ping","nonce":-1}"#,
        ] {
            let err = Command::from_wire(bad).unwrap_err();
            assert!(err.to_string().starts_with("malformed message"), "{err}");
        }
    }
}
