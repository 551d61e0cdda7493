//! Entry points for fuzz targets and their corpus replay: arbitrary bytes become WebSocket
//! frames fed to [`Session::handle_frame`]. None of them may panic, whatever the input; that
//! is the property the fuzz targets check, together with the invariants listed at
//! [`frames`].
//!
//! | entry point | drives |
//! |---|---|
//! | [`frames`] | a fresh [`Session`] at the negotiation [`Stage`] the first byte picks, fed the rest as frames |
//!
//! [`run`] dispatches by target name ([`TARGETS`]), so one test can replay every corpus
//! directory (`fuzz/corpus/<target>/*`).
//!
//! # Input format
//!
//! The first byte picks the stage: `STAGES[byte % STAGES.len()]`. The rest is split into
//! frames at every `0xFF` byte. `0xFF` never occurs in UTF-8, so no frame text is lost to
//! the separator; each piece is then read as UTF-8 with invalid sequences replaced by
//! U+FFFD (the WebSocket layer only ever hands over text). An empty rest is no frame at
//! all; an empty piece is an empty frame.
//!
//! One stage per input rather than every stage per input: building a session at a stage
//! costs more than most inputs do (the SCRAM stage alone runs PBKDF2 with 4096
//! iterations), so this runs each stage about as often per second while letting libFuzzer
//! shape inputs per stage.
//!
//! # Determinism
//!
//! Every session is built with the same [`Seed`] and clock, so the ids of the requests a
//! stage has outstanding (bind, roster, ping, registration) are the same on every run and
//! a corpus can answer them. [`session_at`] shows them to seed generators.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::framing::{parse_frame, Limits};
use crate::{Command, Config, Event, MessageKind, Password, Seed, Session, Timestamp, Transport};

/// The fuzz targets by name, as `fuzz/` and its corpus replay test use them.
pub const TARGETS: &[&str] = &["frames"];

/// Run the target called `name` on `data` (for replaying a corpus directory per target).
/// Returns `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "frames" => {
            frames(data);
            true
        }
        _ => false,
    }
}

/// The account every fuzzed session logs in as.
pub const JID: &str = "juliet@example.com";
/// Its password.
pub const PASSWORD: &str = "r0m30myr0m30";
/// The resource it asks for.
pub const RESOURCE: &str = "balcony";
/// The stream-management id the [`Stage::OnlineSm`] server handed out (for `<resume/>`).
pub const SM_ID: &str = "fuzz-sm-1";

/// The server's `<open/>`.
pub const OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' \
                        id='fuzz-stream' from='example.com'/>";
const FEATURES_SCRAM: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><mechanisms \
    xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
    <mechanism>SCRAM-SHA-256</mechanism></mechanisms></stream:features>";
const FEATURES_PLAIN: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><mechanisms \
    xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
    </stream:features>";
const FEATURES_REGISTER: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><register \
    xmlns='http://jabber.org/features/iq-register'/><mechanisms \
    xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>\
    </stream:features>";
const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
const FEATURES_BIND: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><ver \
    xmlns='urn:xmpp:features:rosterver'/></stream:features>";
const FEATURES_BIND_SESSION: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session \
    xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>";
const FEATURES_BIND_SM: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><sm \
    xmlns='urn:xmpp:sm:3'><optional/></sm></stream:features>";
const REGISTER_FORM: &str = "<query xmlns='jabber:iq:register'><username/><password/>\
    <x xmlns='jabber:x:data' type='form'>\
    <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
    <field var='username' type='text-single'><required/></field>\
    <field var='password' type='text-private'><required/></field></x></query>";

/// A point in the negotiation at which a fresh session is fed the fuzz input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Sent `<open/>`, nothing received.
    AwaitingOpen,
    /// Got the server's `<open/>`; waiting for the pre-authentication features.
    AwaitingFeatures,
    /// Sent a SCRAM-SHA-256 `<auth/>`; waiting for the server-first challenge.
    ScramServerFirst,
    /// Sent the SCRAM client-final response; waiting for the server's signature.
    ScramServerFinal,
    /// Sent a PLAIN `<auth/>`; waiting for `<success/>`.
    PlainAuth,
    /// Asked for the XEP-0077 registration form.
    RegistrationForm,
    /// Submitted the registration form.
    RegistrationSubmitted,
    /// Authenticated and restarted the stream; waiting for the server's `<open/>`.
    AuthenticatedOpen,
    /// Waiting for the post-authentication features.
    AuthenticatedFeatures,
    /// Sent the bind request.
    Binding,
    /// Sent the legacy `<session/>` request.
    EstablishingSession,
    /// Online, with a roster request, a ping and a message outstanding.
    Online,
    /// Online with XEP-0198 stream management enabled and a message not yet acknowledged.
    OnlineSm,
    /// On a new socket, sent `<resume/>` for the [`Stage::OnlineSm`] stream.
    Resuming,
    /// Sent `<close/>`; waiting for the server's.
    Closing,
}

/// Every stage, in negotiation order.
pub const STAGES: &[Stage] = &[
    Stage::AwaitingOpen,
    Stage::AwaitingFeatures,
    Stage::ScramServerFirst,
    Stage::ScramServerFinal,
    Stage::PlainAuth,
    Stage::RegistrationForm,
    Stage::RegistrationSubmitted,
    Stage::AuthenticatedOpen,
    Stage::AuthenticatedFeatures,
    Stage::Binding,
    Stage::EstablishingSession,
    Stage::Online,
    Stage::OnlineSm,
    Stage::Resuming,
    Stage::Closing,
];

/// A session brought to a [`Stage`], with every frame it sent on the way (the last ones
/// carry the ids of its outstanding requests).
#[derive(Debug)]
pub struct Staged {
    /// The session.
    pub session: Session,
    /// Frames it sent, oldest first.
    pub sent: Vec<String>,
    /// Events it reported, oldest first.
    pub events: Vec<Event>,
}

impl Staged {
    fn new(session: Session) -> Self {
        let mut s = Self {
            session,
            sent: Vec::new(),
            events: Vec::new(),
        };
        s.drain();
        s
    }

    fn drain(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.sent.push(frame);
        }
        while let Some(event) = self.session.poll_event() {
            self.events.push(event);
        }
    }

    fn feed(&mut self, frame: &str) -> Option<()> {
        self.session.handle_frame(frame);
        self.drain();
        (!self.session.is_closed()).then_some(())
    }

    fn command(&mut self, command: Command) -> Option<()> {
        self.session.handle_command(command).ok()?;
        self.drain();
        Some(())
    }

    /// The `id` of the last frame sent.
    fn last_id(&self) -> Option<String> {
        let last = self.sent.last()?;
        let element = parse_frame(last, &Limits::default()).ok()?;
        element.attr("id").map(str::to_owned)
    }

    /// The SCRAM client nonce in the last frame sent (an `<auth/>`).
    fn client_nonce(&self) -> Option<String> {
        let last = self.sent.last()?;
        let element = parse_frame(last, &Limits::default()).ok()?;
        let message = BASE64.decode(element.text().trim()).ok()?;
        let message = String::from_utf8(message).ok()?;
        message
            .split(',')
            .find_map(|part| part.strip_prefix("r="))
            .map(str::to_owned)
    }
}

fn config() -> Option<Config> {
    let mut config = Config::new(
        JID.parse().ok()?,
        Password::new(PASSWORD),
        Transport::Secure,
    );
    config.resource = Some(RESOURCE.to_owned());
    Some(config)
}

fn seed() -> Seed {
    Seed::new([0x5e; 32])
}

fn bind_result(id: &str) -> String {
    format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>{JID}/{RESOURCE}</jid></bind></iq>"
    )
}

/// Logged in with PLAIN, at the post-authentication `<open/>`.
fn authenticated(staged: &mut Staged) -> Option<()> {
    staged.feed(OPEN)?;
    staged.feed(FEATURES_PLAIN)?;
    staged.feed(SUCCESS)
}

/// Online with stream management enabled and one message unacknowledged.
fn online_sm() -> Option<Staged> {
    let mut s = Staged::new(Session::new(config()?, seed(), Timestamp::from_millis(0)));
    authenticated(&mut s)?;
    s.feed(OPEN)?;
    s.feed(FEATURES_BIND_SM)?;
    let id = s.last_id()?;
    s.feed(&bind_result(&id))?;
    s.feed(&format!(
        "<enabled xmlns='urn:xmpp:sm:3' id='{SM_ID}' resume='true' max='600'/>"
    ))?;
    s.command(Command::SendMessage {
        to: "romeo@example.net".parse().ok()?,
        body: "unacknowledged".to_owned(),
        kind: MessageKind::Chat,
        thread: None,
    })?;
    s.session.is_online().then_some(s)
}

/// Brings a fresh session to `stage` with hand-written server frames. `None` if the
/// session did not get there (which would be a bug in this module or in the session).
pub fn session_at(stage: Stage) -> Option<Staged> {
    let fresh = || -> Option<Staged> {
        Some(Staged::new(Session::new(
            config()?,
            seed(),
            Timestamp::from_millis(0),
        )))
    };
    let mut s = match stage {
        Stage::AwaitingOpen => fresh()?,
        Stage::AwaitingFeatures => {
            let mut s = fresh()?;
            s.feed(OPEN)?;
            s
        }
        Stage::ScramServerFirst | Stage::ScramServerFinal => {
            let mut s = fresh()?;
            s.feed(OPEN)?;
            s.feed(FEATURES_SCRAM)?;
            if stage == Stage::ScramServerFinal {
                let nonce = s.client_nonce()?;
                let server_first = format!(
                    "r={nonce}fuzzserver,s={},i=4096",
                    BASE64.encode(b"fuzz-salt-16byte")
                );
                s.feed(&format!(
                    "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
                    BASE64.encode(server_first)
                ))?;
            }
            s
        }
        Stage::PlainAuth => {
            let mut s = fresh()?;
            s.feed(OPEN)?;
            s.feed(FEATURES_PLAIN)?;
            s
        }
        Stage::RegistrationForm | Stage::RegistrationSubmitted => {
            let mut s = Staged::new(Session::register(
                config()?,
                seed(),
                Timestamp::from_millis(0),
            ));
            s.feed(OPEN)?;
            s.feed(FEATURES_REGISTER)?;
            if stage == Stage::RegistrationSubmitted {
                let id = s.last_id()?;
                s.feed(&format!(
                    "<iq xmlns='jabber:client' type='result' id='{id}' \
                     from='example.com'>{REGISTER_FORM}</iq>"
                ))?;
                s.command(Command::SubmitRegistration { values: Vec::new() })?;
            }
            s
        }
        Stage::AuthenticatedOpen => {
            let mut s = fresh()?;
            authenticated(&mut s)?;
            s
        }
        Stage::AuthenticatedFeatures => {
            let mut s = fresh()?;
            authenticated(&mut s)?;
            s.feed(OPEN)?;
            s
        }
        Stage::Binding => {
            let mut s = fresh()?;
            authenticated(&mut s)?;
            s.feed(OPEN)?;
            s.feed(FEATURES_BIND)?;
            s
        }
        Stage::EstablishingSession => {
            let mut s = fresh()?;
            authenticated(&mut s)?;
            s.feed(OPEN)?;
            s.feed(FEATURES_BIND_SESSION)?;
            let id = s.last_id()?;
            s.feed(&bind_result(&id))?;
            s
        }
        Stage::Online | Stage::Closing => {
            let mut s = fresh()?;
            authenticated(&mut s)?;
            s.feed(OPEN)?;
            s.feed(FEATURES_BIND)?;
            let id = s.last_id()?;
            s.feed(&bind_result(&id))?;
            if stage == Stage::Closing {
                s.command(Command::Close)?;
            } else {
                s.command(Command::RequestRoster { ver: None })?;
                s.command(Command::Ping { to: None })?;
                s.command(Command::SendMessage {
                    to: "romeo@example.net".parse().ok()?,
                    body: "hello".to_owned(),
                    kind: MessageKind::Chat,
                    thread: None,
                })?;
            }
            s
        }
        Stage::OnlineSm => online_sm()?,
        Stage::Resuming => {
            let mut old = online_sm()?;
            old.session.handle_socket_closed();
            old.drain();
            let resumption = old.session.take_resumption()?;
            let mut s = Staged::new(Session::resume(
                resumption,
                Seed::new([0x6f; 32]),
                Timestamp::from_millis(1_000),
            ));
            authenticated(&mut s)?;
            s.feed(OPEN)?;
            s.feed(FEATURES_BIND_SM)?;
            s
        }
    };
    // Only what happens from here on belongs to the fuzz input.
    s.events.clear();
    (!s.session.is_closed()).then_some(s)
}

/// What one stage did with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRun {
    /// The stage.
    pub stage: Stage,
    /// Whether the session could be brought to the stage at all.
    pub reached: bool,
    /// Events reported while the input was fed (not counting the final socket loss).
    pub events: usize,
    /// Frames sent while the input was fed.
    pub sent: usize,
    /// Whether the input ended the session.
    pub closed: bool,
}

/// Splits `data` into frames (see the [module docs](self)).
pub fn split_frames(data: &[u8]) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|b| *b == 0xFF)
        .map(|piece| String::from_utf8_lossy(piece).into_owned())
        .collect()
}

/// The stage `data`'s first byte picks and the frames in the rest (see the
/// [module docs](self)); `None` for an empty input.
pub fn parse_input(data: &[u8]) -> Option<(Stage, Vec<String>)> {
    let (&first, rest) = data.split_first()?;
    let stage = *STAGES.get(usize::from(first) % STAGES.len())?;
    Some((stage, split_frames(rest)))
}

/// An input for [`frames`]: `frames` at `stage`.
pub fn input(stage: Stage, frames: &[&str]) -> Vec<u8> {
    let index = STAGES.iter().position(|s| *s == stage).unwrap_or(0);
    let mut out = vec![u8::try_from(index).unwrap_or(0)];
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(0xFF);
        }
        out.extend_from_slice(frame.as_bytes());
    }
    out
}

/// Feeds the frames in `data` to a fresh session at the stage it picks, then fires the
/// session's timer and drops its socket. `None` for an empty input. Checked on the way
/// (debug assertions, on in fuzz builds and tests):
///
/// * every frame the session sends is one well-formed element (so nothing a peer sent can
///   make us emit broken XML);
/// * a session reports [`Event::Closed`] at most once, and nothing after it;
/// * once closed, a session accepts no frame (no event, nothing sent).
pub fn frames(data: &[u8]) -> Option<StageRun> {
    let (stage, frames) = parse_input(data)?;
    let Some(mut s) = session_at(stage) else {
        return Some(StageRun {
            stage,
            reached: false,
            events: 0,
            sent: 0,
            closed: false,
        });
    };
    let sent_before = s.sent.len();
    for frame in &frames {
        let was_closed = s.session.is_closed();
        let (events, sent) = (s.events.len(), s.sent.len());
        s.session.handle_frame(frame);
        s.drain();
        if was_closed {
            debug_assert_eq!(s.events.len(), events, "{stage:?}: event after close");
            debug_assert_eq!(s.sent.len(), sent, "{stage:?}: frame sent after close");
        }
    }
    let run = StageRun {
        stage,
        reached: true,
        events: s.events.len(),
        sent: s.sent.len().saturating_sub(sent_before),
        closed: s.session.is_closed(),
    };
    if let Some(deadline) = s.session.poll_timeout() {
        s.session.handle_timeout(deadline);
        s.drain();
    }
    s.session.handle_socket_closed();
    s.drain();
    let _ = s.session.take_resumption();
    let _ = s.session.take_unacked();
    check_invariants(
        stage,
        s.sent.get(sent_before..).unwrap_or_default(),
        &s.events,
    );
    Some(run)
}

fn check_invariants(stage: Stage, sent: &[String], events: &[Event]) {
    let generous = Limits {
        max_frame_bytes: usize::MAX,
        max_depth: 1024,
        max_elements: usize::MAX,
    };
    for frame in sent {
        let parsed = parse_frame(frame, &generous);
        debug_assert!(parsed.is_ok(), "{stage:?} sent {frame:?}: {parsed:?}");
    }
    let closed: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Closed { .. }))
        .map(|(i, _)| i)
        .collect();
    debug_assert!(closed.len() <= 1, "{stage:?}: closed twice: {events:?}");
    if let Some(&at) = closed.first() {
        debug_assert_eq!(
            at + 1,
            events.len(),
            "{stage:?}: events after Closed: {events:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_is_reached_and_survives_no_input() {
        assert_eq!(frames(b""), None);
        for &stage in STAGES {
            let run = frames(&input(stage, &[])).unwrap();
            assert_eq!(run.stage, stage);
            assert!(run.reached, "{run:?}");
            assert!(!run.closed, "{run:?}");
            assert_eq!(run.events, 0, "{run:?}");
        }
        // The first byte wraps around.
        let run = frames(&[u8::try_from(STAGES.len()).unwrap()]).unwrap();
        assert_eq!(run.stage, STAGES[0]);
    }

    #[test]
    fn garbage_closes_every_stage() {
        for &stage in STAGES {
            let run = frames(&input(stage, &["<not xml"])).unwrap();
            assert!(run.closed, "{run:?}");
            assert!(run.events >= 1, "{run:?}");
        }
    }

    #[test]
    fn frames_split_at_ff_and_keep_invalid_utf8_as_replacement() {
        assert_eq!(split_frames(b""), Vec::<String>::new());
        assert_eq!(split_frames(b"a\xffb\xff"), vec!["a", "b", ""]);
        assert_eq!(split_frames(b"\xfe"), vec!["\u{FFFD}"]);
    }

    #[test]
    fn stages_answer_their_outstanding_requests() {
        // The roster request is the first iq sent once online; its answer is an event.
        let online = session_at(Stage::Online).unwrap();
        let roster = online
            .sent
            .iter()
            .find(|f| f.contains("jabber:iq:roster"))
            .unwrap();
        let el = parse_frame(roster, &Limits::default()).unwrap();
        let id = el.attr("id").unwrap();
        let answer = format!(
            "<iq xmlns='jabber:client' type='result' id='{id}'><query \
             xmlns='jabber:iq:roster'><item jid='romeo@example.net'/></query></iq>"
        );
        let online = frames(&input(Stage::Online, &[&answer])).unwrap();
        assert!(!online.closed && online.events >= 1, "{online:?}");
        // The same id is issued on every run: the corpus can rely on it.
        let again = session_at(Stage::Online).unwrap();
        assert_eq!(again.sent, session_at(Stage::Online).unwrap().sent);
        let resuming = session_at(Stage::Resuming).unwrap();
        assert!(resuming.sent.last().unwrap().contains(SM_ID));
    }

    #[test]
    fn run_dispatches_by_name() {
        assert!(run("frames", b"<a/>"));
        assert!(!run("nope", b""));
        assert_eq!(TARGETS, &["frames"]);
    }
}
