//! Interoperability harness: candado-otr against real libotr 4.1.1.
//!
//! `build.rs` compiles `peer/otrpeer.c` (linked with `-lotr`) into a small executable.
//! [`LibOtr`] runs it as a child process and drives it with a line protocol on
//! stdin/stdout (documented at the top of the C file): one command per line, hex
//! arguments, event lines back, then `done`. [`Pair`] connects one [`Session`] of ours
//! ("alice") with one libotr peer ("bob") and moves every message between them.
//!
//! If libotr is not installed the peer cannot be built and every test fails with a
//! message saying to install `libotr5-dev`; nothing is skipped.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, OnceLock};

use candado_otr::crypto::dsa::DsaPrivateKey;
use candado_otr::wire::message::{InstanceTag, MessageBody, Version};
use candado_otr::wire::text::TextMessage;
use candado_otr::{Event, MessageState, Policy, Session, SessionConfig};

/// The peer's reports that mean something went wrong on libotr's side: errors, unreadable or
/// malformed messages, SMP cheating.
pub const LIBOTR_BAD_REPORTS: [&str; 9] = [
    "msgevent encryption_error",
    "msgevent setup_error",
    "msgevent rcvdmsg_not_in_private",
    "msgevent rcvdmsg_unreadable",
    "msgevent rcvdmsg_malformed",
    "msgevent rcvdmsg_general_err",
    "msgevent rcvdmsg_unrecognized",
    "smp error",
    "smp cheated",
];

/// Path of the compiled libotr peer, or why it is missing.
pub fn peer_path() -> &'static str {
    let path = env!("CANDADO_OTRPEER");
    let error = env!("CANDADO_OTRPEER_ERROR");
    assert!(
        !path.is_empty() && error.is_empty(),
        "libotr interop peer unavailable: {error} \
         (the interop tests need libotr 4.1.1: `apt-get install libotr5-dev`)"
    );
    path
}

/// libotr's policy bits (`OTRL_POLICY_*`): same values as [`Policy`].
pub fn libotr_policy(version: Version) -> u32 {
    match version {
        Version::V2 => 0x02,
        Version::V3 => 0x06,
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode lower- or upper-case hex; panics on bad input (test harness).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

pub use candado_otr::fuzzing::TestRng;

/// Our long-term key ("alice"), generated once per test binary.
pub fn our_key() -> Arc<DsaPrivateKey> {
    static KEY: OnceLock<Arc<DsaPrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(DsaPrivateKey::generate(&mut TestRng::new(0xa11ce))))
        .clone()
}

/// A fresh path in the system temporary directory (not created), unique per call.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("candado-interop-{}-{n}-{name}", std::process::id()))
}

/// Our instance tag.
pub const OUR_TAG: u32 = 0x0000_a11c;

/// A running libotr peer process.
#[derive(Debug)]
pub struct LibOtr {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// libotr's instance tag.
    pub instag: u32,
    /// Every event line received so far, for failure messages.
    pub log: Vec<String>,
}

impl LibOtr {
    /// Start a peer with a fresh instance tag and no key.
    pub fn spawn() -> Self {
        let mut child = Command::new(peer_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the libotr peer {}: {e} (is libotr5-dev installed?)",
                    peer_path()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut lib = Self {
            child,
            stdin,
            stdout,
            instag: 0,
            log: Vec::new(),
        };
        let first = lib.read_reply();
        let tag = first
            .iter()
            .find_map(|l| l.strip_prefix("instag "))
            .unwrap_or_else(|| panic!("no instance tag from libotr: {first:?}"));
        lib.instag = u32::from_str_radix(tag, 16).expect("hex instance tag");
        lib
    }

    /// Start a peer with a freshly generated key, the policy for `version` and a maximum
    /// message size. Returns the peer and its key's fingerprint.
    pub fn with_key(version: Version, mms: usize) -> (Self, [u8; 20]) {
        let mut lib = Self::spawn();
        let fp = lib.genkey();
        lib.cmd(&format!("policy {:#x}", libotr_policy(version)));
        lib.cmd(&format!("mms {mms}"));
        (lib, fp)
    }

    /// Generate a key (in a temporary file) and load it; returns its fingerprint.
    pub fn genkey(&mut self) -> [u8; 20] {
        let reply = self.cmd("genkey");
        Self::fingerprint_of(&reply)
    }

    /// The fingerprint in an `ourfp` line.
    pub fn fingerprint_of(reply: &[String]) -> [u8; 20] {
        let fp = reply
            .iter()
            .find_map(|l| l.strip_prefix("ourfp "))
            .unwrap_or_else(|| panic!("no fingerprint from libotr: {reply:?}"));
        unhex(fp).try_into().expect("20-byte fingerprint")
    }

    fn read_reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .stdout
                .read_line(&mut line)
                .expect("read from libotr peer");
            assert!(
                n > 0,
                "the libotr peer exited (is libotr5-dev installed?); log so far: {:?}",
                self.log
            );
            let line = line.trim_end().to_owned();
            if line == "done" {
                break;
            }
            lines.push(line);
        }
        self.log.extend(lines.iter().cloned());
        lines
    }

    /// Run one command; returns the event lines.
    pub fn cmd(&mut self, command: &str) -> Vec<String> {
        writeln!(self.stdin, "{command}").expect("write to libotr peer");
        self.stdin.flush().expect("flush to libotr peer");
        self.read_reply()
    }
}

impl Drop for LibOtr {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Who put a message on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// candado-otr.
    Us,
    /// libotr.
    Lib,
}

/// Our [`Session`] and a libotr peer, with the transport between them.
#[derive(Debug)]
pub struct Pair {
    /// The libotr side.
    pub lib: LibOtr,
    /// Our side.
    pub me: Session,
    /// Our randomness.
    pub rng: TestRng,
    /// The protocol version both sides are restricted to.
    pub version: Version,
    /// libotr's key fingerprint.
    pub lib_fp: [u8; 20],
    /// Our events since the last [`Pair::clear`].
    pub events: Vec<Event>,
    /// libotr's event lines (all but `out`) since the last [`Pair::clear`].
    pub lib_events: Vec<String>,
    /// Every message that crossed the wire, in order.
    pub wire: Vec<(From, String)>,
}

impl Pair {
    /// Both sides restricted to `version`; both fragment at `mms` (0: never).
    pub fn new(version: Version, mms: usize, seed: u64) -> Self {
        let (lib, lib_fp) = LibOtr::with_key(version, mms);
        Self::from_parts(lib, lib_fp, our_key(), version, mms, seed)
    }

    /// A pair from a prepared libotr peer (key loaded, policy and `mms` set) and our key.
    pub fn from_parts(
        lib: LibOtr,
        lib_fp: [u8; 20],
        key: Arc<DsaPrivateKey>,
        version: Version,
        mms: usize,
        seed: u64,
    ) -> Self {
        let policy = match version {
            Version::V2 => Policy::ALLOW_V2,
            Version::V3 => Policy::MANUAL,
        };
        let tag = InstanceTag::new(OUR_TAG).expect("valid tag");
        let me = Session::new(
            key,
            tag,
            SessionConfig {
                policy,
                max_message_size: mms,
            },
        );
        Self {
            lib,
            me,
            rng: TestRng::new(seed),
            version,
            lib_fp,
            events: Vec::new(),
            lib_events: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// A pair that has completed the AKE, started by us or by libotr's query.
    pub fn established(version: Version, mms: usize, we_start: bool, seed: u64) -> Self {
        let mut pair = Self::new(version, mms, seed);
        pair.establish(we_start);
        pair
    }

    /// Run the AKE: we send a query (`we_start`) or libotr does; panics unless we end
    /// up ENCRYPTED.
    pub fn establish(&mut self, we_start: bool) {
        if we_start {
            self.me.start().expect("start");
            self.pump();
        } else {
            self.lib("query");
        }
        assert_eq!(
            self.me.state(),
            MessageState::Encrypted,
            "AKE failed: ours {:?}, libotr {:?}",
            self.events,
            self.lib.log
        );
    }

    /// Forget the events seen so far.
    pub fn clear(&mut self) {
        self.events.clear();
        self.lib_events.clear();
    }

    fn absorb_lib(&mut self, lines: Vec<String>) -> Vec<String> {
        let mut outs = Vec::new();
        for line in lines {
            if let Some(h) = line.strip_prefix("out ") {
                let text = String::from_utf8(unhex(h)).expect("libotr sent UTF-8");
                self.wire.push((From::Lib, text.clone()));
                outs.push(text);
            } else {
                self.lib_events.push(line);
            }
        }
        outs
    }

    fn deliver_to_us(&mut self, texts: Vec<String>) {
        for text in texts {
            self.me.handle_incoming(&text, 0, &mut self.rng);
        }
        while let Some(e) = self.me.poll_event() {
            self.events.push(e);
        }
    }

    /// Deliver everything both sides have to send until both are quiet.
    pub fn pump(&mut self) {
        loop {
            while let Some(e) = self.me.poll_event() {
                self.events.push(e);
            }
            let Some(text) = self.me.poll_transmit() else {
                break;
            };
            self.wire.push((From::Us, text.clone()));
            let lines = self.lib.cmd(&format!("recv {}", hex(text.as_bytes())));
            let outs = self.absorb_lib(lines);
            self.deliver_to_us(outs);
        }
    }

    /// Run a libotr command, deliver what it sends, and pump.
    pub fn lib(&mut self, command: &str) -> Vec<String> {
        let lines = self.lib.cmd(command);
        let events: Vec<String> = lines
            .iter()
            .filter(|l| !l.starts_with("out "))
            .cloned()
            .collect();
        let outs = self.absorb_lib(lines);
        self.deliver_to_us(outs);
        self.pump();
        events
    }

    /// libotr sends `text` (hex-encoded for the line protocol).
    pub fn lib_send(&mut self, text: &str) {
        self.lib(&format!("send {}", hex(text.as_bytes())));
    }

    /// We send `text`.
    pub fn our_send(&mut self, text: &str) {
        self.me.send(text, 0).expect("send");
        self.pump();
    }

    /// Whether libotr printed exactly this event line since the last clear.
    pub fn lib_saw(&self, line: &str) -> bool {
        self.lib_events.iter().any(|l| l == line)
    }

    /// The hex payload of libotr's first `prefix` line since the last clear.
    pub fn lib_value(&self, prefix: &str) -> Option<Vec<u8>> {
        let prefix = format!("{prefix} ");
        self.lib_events
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map(unhex)
    }

    /// What libotr showed its user since the last clear.
    pub fn lib_shown(&self) -> Vec<String> {
        self.lib_events
            .iter()
            .filter_map(|l| l.strip_prefix("shown "))
            .map(|h| String::from_utf8(unhex(h)).expect("UTF-8"))
            .collect()
    }

    /// What we received encrypted since the last clear.
    pub fn our_received(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Received {
                    text,
                    encrypted: true,
                } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// libotr's `state` line: (msgstate, next expected SMP message) of its best instance.
    /// msgstate: 0 PLAINTEXT, 1 ENCRYPTED, 2 FINISHED.
    pub fn lib_state(&mut self) -> (i32, i32) {
        let reply = self.lib.cmd("state");
        let line = reply
            .iter()
            .find_map(|l| l.strip_prefix("state "))
            .unwrap_or_else(|| panic!("no state from libotr: {reply:?}"));
        let mut parts = line.split(' ').map(|p| p.parse::<i32>().expect("number"));
        (
            parts.next().expect("msgstate"),
            parts.next().expect("smstate"),
        )
    }

    /// Panics if either side reported a problem at any point: libotr errors, unreadable
    /// or malformed messages, SMP cheating; our [`Event::Error`]s.
    pub fn assert_no_errors(&self) {
        const BAD: [&str; 9] = LIBOTR_BAD_REPORTS;
        for line in &self.lib.log {
            assert!(
                !BAD.contains(&line.as_str()) && !line.starts_with("error "),
                "libotr reported `{line}`; log: {:?}",
                self.lib.log
            );
        }
        let errors: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Error { .. } | Event::PeerError { .. } | Event::SmpCheated { .. }
                )
            })
            .collect();
        assert!(errors.is_empty(), "we reported errors: {errors:?}");
    }

    /// The (sender key id, recipient key id) of every Data message that `from` sent.
    pub fn data_keyids(&self, from: From) -> Vec<(u32, u32)> {
        self.wire
            .iter()
            .filter(|(f, _)| *f == from)
            .filter_map(|(_, t)| match TextMessage::parse(t) {
                Ok(TextMessage::Encoded(m)) => match m.body {
                    MessageBody::Data(d) => Some((d.sender_keyid, d.recipient_keyid)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }
}
