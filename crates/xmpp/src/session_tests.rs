//! Session tests: hand-written server frames in the shape Prosody 0.12 and ejabberd send
//! over RFC 7395, fed through `handle_frame`, checking transmitted frames and events.

use core::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::*;
use crate::credentials::CredentialError;
use crate::framing::{parse_frame, serialise, FrameError, Limits};
use crate::register::FieldValue;
use crate::types::{MessageKind, RoomConfig, RosterItem, Show, StanzaErrorInfo, Subscription};

const PASSWORD: &str = "r0m30myr0m30";
const SALT: &[u8] = b"prosody-salt-123";
const ITERATIONS: u32 = 4096;

const OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' xml:lang='en' \
                    version='1.0' id='b9a4cb3d-5a0a' from='example.com'/>";

/// Prosody 0.12 pre-auth features on a WebSocket it considers secure.
const FEATURES_SHA1_PLAIN: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><register \
    xmlns='http://jabber.org/features/iq-register'/><mechanisms \
    xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
    <mechanism>PLAIN</mechanism></mechanisms></stream:features>";

/// ejabberd-style features offering SHA-256 too.
const FEATURES_ALL: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
    <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
    <mechanism>SCRAM-SHA-1</mechanism><mechanism>SCRAM-SHA-256</mechanism>\
    <mechanism>X-OAUTH2</mechanism></mechanisms></stream:features>";

const FEATURES_PLAIN_ONLY: &str =
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
    <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
    </mechanisms></stream:features>";

/// Prosody 0.12 post-auth features.
const FEATURES_BIND: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session \
    xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver \
    xmlns='urn:xmpp:features:rosterver'/><sm xmlns='urn:xmpp:sm:2'><optional/></sm><sm \
    xmlns='urn:xmpp:sm:3'><optional/></sm><csi xmlns='urn:xmpp:csi:0'/></stream:features>";

/// Post-auth features with subscription pre-approval, as ejabberd puts it.
const FEATURES_BIND_PREAPPROVAL: &str = "<stream:features \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sub xmlns='urn:xmpp:features:pre-approval'/>\
    <ver xmlns='urn:xmpp:features:rosterver'/></stream:features>";

/// Post-auth features of a server without stream management.
const FEATURES_BIND_NO_SM: &str = "<stream:features xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'><bind \
    xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><ver \
    xmlns='urn:xmpp:features:rosterver'/></stream:features>";

fn jid() -> BareJid {
    "juliet@example.com".parse().unwrap()
}

fn config(transport: Transport) -> Config {
    let mut c = Config::new(jid(), Password::new(PASSWORD), transport);
    c.resource = Some("balcony".into());
    c
}

fn seed() -> Seed {
    Seed::new([7u8; 32])
}

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

struct Client {
    s: Session,
}

impl Client {
    fn new(config: Config) -> Self {
        Self {
            s: Session::new(config, seed(), t(0)),
        }
    }
    fn feed(&mut self, frame: &str) {
        self.s.handle_frame(frame);
    }
    fn tx(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.s.poll_transmit()).collect()
    }
    fn one_tx(&mut self) -> Element {
        let tx = self.tx();
        assert_eq!(tx.len(), 1, "{tx:?}");
        parse_frame(&tx[0], &Limits::default()).unwrap()
    }
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }
    fn closed_reason(&mut self) -> CloseReason {
        let evs = self.events();
        match evs.last() {
            Some(Event::Closed { reason }) => reason.clone(),
            other => panic!("expected Closed, got {other:?} in {evs:?}"),
        }
    }
}

fn sasl_text(el: &Element) -> Vec<u8> {
    let text = el.text();
    if text == "=" {
        Vec::new()
    } else {
        B64.decode(text).unwrap()
    }
}

fn sasl_frame(name: &str, data: &[u8]) -> String {
    format!(
        "<{name} xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</{name}>",
        B64.encode(data)
    )
}

/// A test-side SCRAM server, written independently of `crate::scram` (from RFC 5802 §3).
struct ScramServer {
    sha256: bool,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        if self.sha256 {
            let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        } else {
            let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
    fn salted(&self, password: &str) -> Vec<u8> {
        let mut block = SALT.to_vec();
        block.extend_from_slice(&[0, 0, 0, 1]);
        let mut u = self.hmac(password.as_bytes(), &block);
        let mut acc = u.clone();
        for _ in 1..ITERATIONS {
            u = self.hmac(password.as_bytes(), &u);
            acc.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
        }
        acc
    }
    /// Takes the client's `<auth/>`, returns the server-first message.
    fn start(auth: &Element, sha256: bool) -> Self {
        let data = String::from_utf8(sasl_text(auth)).unwrap();
        let bare = data.strip_prefix("n,,").unwrap().to_owned();
        assert!(bare.starts_with("n=juliet,r="), "{bare}");
        let cnonce = bare.split(",r=").nth(1).unwrap();
        let nonce = format!("{cnonce}3rfcNHYJY1ZVvWVs7j");
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", B64.encode(SALT));
        Self {
            sha256,
            client_first_bare: bare,
            server_first,
            nonce,
        }
    }
    /// Checks the client's final message; returns the server-final message if the proof
    /// matches `password`.
    fn finish(&self, response: &Element, password: &str) -> Option<String> {
        let data = String::from_utf8(sasl_text(response)).unwrap();
        let (without_proof, proof) = data.split_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={}", self.nonce));
        let auth = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let salted = self.salted(password);
        let client_key = self.hmac(&salted, b"Client Key");
        let stored: Vec<u8> = if self.sha256 {
            Sha256::digest(&client_key).to_vec()
        } else {
            Sha1::digest(&client_key).to_vec()
        };
        let sig = self.hmac(&stored, auth.as_bytes());
        let expected: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        if B64.decode(proof).unwrap() != expected {
            return None;
        }
        let server_key = self.hmac(&salted, b"Server Key");
        Some(format!(
            "v={}",
            B64.encode(self.hmac(&server_key, auth.as_bytes()))
        ))
    }
}

/// Drives a client through open and features up to the `<auth/>` it sends.
fn to_auth(c: &mut Client, features: &str) -> Element {
    let open = c.one_tx();
    assert!(open.is("open", NS_FRAMING));
    assert_eq!(open.attr("to"), Some("example.com"));
    assert_eq!(open.attr("version"), Some("1.0"));
    c.feed(OPEN);
    assert!(c.tx().is_empty());
    c.feed(features);
    let auth = c.one_tx();
    assert!(auth.is("auth", NS_SASL));
    auth
}

/// SCRAM exchange with the test server, success carrying server-final.
fn authenticate(c: &mut Client, features: &str, sha256: bool) {
    let auth = to_auth(c, features);
    let server = ScramServer::start(&auth, sha256);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let response = c.one_tx();
    assert!(response.is("response", NS_SASL));
    let fin = server.finish(&response, PASSWORD).expect("proof verifies");
    c.feed(&sasl_frame("success", fin.as_bytes()));
}

/// From the post-auth restart to `Event::Online` (no stream management). Returns the events.
fn bind(c: &mut Client) -> Vec<Event> {
    bind_with(c, FEATURES_BIND_NO_SM)
}

fn bind_with(c: &mut Client, features: &str) -> Vec<Event> {
    let open = c.one_tx();
    assert!(open.is("open", NS_FRAMING), "stream restart");
    c.feed(OPEN);
    c.feed(features);
    let tx = c.tx();
    assert_eq!(tx.len(), 1);
    assert!(tx[0].starts_with("<iq xmlns='jabber:client'"), "{}", tx[0]);
    let iq = parse_frame(&tx[0], &Limits::default()).unwrap();
    assert_eq!(iq.attr("type"), Some("set"));
    let b = iq.get_child("bind", NS_BIND).unwrap();
    assert_eq!(
        b.get_child("resource", NS_BIND).map(Element::text),
        Some("balcony".into())
    );
    let id = iq.attr("id").unwrap();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid>\
         </bind></iq>"
    ));
    c.events()
}

fn online() -> Client {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let evs = bind(&mut c);
    assert!(matches!(evs.last(), Some(Event::Online { .. })), "{evs:?}");
    assert!(c.tx().is_empty());
    c
}

// ---- negotiation --------------------------------------------------------------------------

#[test]
fn prosody_login_with_scram_sha1_even_when_plain_is_offered() {
    let mut c = Client::new(config(Transport::Secure));
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    assert_eq!(auth.attr("mechanism"), Some("SCRAM-SHA-1"));
    let server = ScramServer::start(&auth, false);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let response = c.one_tx();
    let fin = server.finish(&response, PASSWORD).unwrap();
    assert!(c.events().is_empty());
    c.feed(&sasl_frame("success", fin.as_bytes()));
    let evs = bind(&mut c);
    assert_eq!(
        evs,
        vec![
            Event::Authenticated {
                mechanism: "SCRAM-SHA-1".into()
            },
            Event::Online {
                jid: "juliet@example.com/balcony".parse().unwrap()
            }
        ]
    );
    assert!(c.s.is_online());
    assert_eq!(c.s.jid().unwrap().to_string(), "juliet@example.com/balcony");
}

#[test]
fn scram_sha256_is_preferred() {
    let mut c = Client::new(config(Transport::Secure));
    let auth = to_auth(&mut c, FEATURES_ALL);
    assert_eq!(auth.attr("mechanism"), Some("SCRAM-SHA-256"));
    let server = ScramServer::start(&auth, true);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let fin = server.finish(&c.one_tx(), PASSWORD).unwrap();
    c.feed(&sasl_frame("success", fin.as_bytes()));
    let evs = bind(&mut c);
    assert_eq!(
        evs.first(),
        Some(&Event::Authenticated {
            mechanism: "SCRAM-SHA-256".into()
        })
    );
}

#[test]
fn server_final_in_a_challenge_then_empty_success() {
    let mut c = Client::new(config(Transport::Secure));
    let auth = to_auth(&mut c, FEATURES_ALL);
    let server = ScramServer::start(&auth, true);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let fin = server.finish(&c.one_tx(), PASSWORD).unwrap();
    c.feed(&sasl_frame("challenge", fin.as_bytes()));
    let empty = c.one_tx();
    assert!(empty.is("response", NS_SASL));
    assert_eq!(empty.text(), "=");
    c.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    let evs = bind(&mut c);
    assert!(matches!(evs.last(), Some(Event::Online { .. })));
}

#[test]
fn forged_server_signature_ends_the_session() {
    let mut c = Client::new(config(Transport::Secure));
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    let server = ScramServer::start(&auth, false);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let _ = c.tx();
    // A server that does not know the password answers with a made-up signature.
    c.feed(&sasl_frame("success", b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Scram(scram::ScramError::BadServerSignature))
    );
    assert!(!c.s.is_online());
    let tx = c.tx();
    assert!(tx.last().unwrap().starts_with("<close "), "{tx:?}");
    // No stream restart, no bind.
    assert!(!tx.iter().any(|f| f.starts_with("<open")));
}

#[test]
fn success_without_server_signature_is_refused() {
    for early in [true, false] {
        let mut c = Client::new(config(Transport::Secure));
        let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
        if !early {
            let server = ScramServer::start(&auth, false);
            c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
            let _ = c.tx();
        }
        c.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        assert_eq!(
            c.closed_reason(),
            CloseReason::Protocol(ProtocolError::MissingServerSignature)
        );
    }
}

#[test]
fn wrong_password_gives_auth_failed() {
    let mut c = Client::new(config(Transport::Secure));
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    let server = ScramServer::start(&auth, false);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    assert!(server.finish(&c.one_tx(), "other password").is_none());
    // What Prosody sends for a bad proof.
    c.feed(
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>\
         <text>Unable to authorize you with the authentication credentials you've sent.</text>\
         </failure>",
    );
    assert_eq!(
        c.closed_reason(),
        CloseReason::AuthFailed {
            condition: "not-authorized".into(),
            text: Some(
                "Unable to authorize you with the authentication credentials you've sent.".into()
            )
        }
    );
    assert!(c.s.is_closed());
    assert_eq!(
        c.s.handle_command(Command::Ping { to: None }),
        Err(CommandError::Closed)
    );
}

/// RFC 4013: the password is prepared before SCRAM (the server proves the prepared form)
/// and PLAIN, and before in-band registration and password changes.
#[test]
fn saslprep_is_applied_to_the_password() {
    // U+00AD SOFT HYPHEN is mapped to nothing, U+2168 ROMAN NUMERAL NINE becomes "IX".
    let typed = "contrase\u{F1}a-\u{2168}\u{AD}";
    let prepared = "contrase\u{F1}a-IX";
    for sha256 in [false, true] {
        let mut cfg = config(Transport::Secure);
        cfg.password = Password::new(typed);
        let mut c = Client::new(cfg);
        let auth = to_auth(
            &mut c,
            if sha256 {
                FEATURES_ALL
            } else {
                FEATURES_SHA1_PLAIN
            },
        );
        let server = ScramServer::start(&auth, sha256);
        c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
        let response = c.one_tx();
        assert!(
            server.finish(&response, typed).is_none(),
            "raw bytes not used"
        );
        let fin = server
            .finish(&response, prepared)
            .expect("prepared form proven");
        c.feed(&sasl_frame("success", fin.as_bytes()));
        let evs = bind(&mut c);
        assert!(matches!(evs.last(), Some(Event::Online { .. })), "{evs:?}");
    }
    let mut cfg = config(Transport::Secure);
    cfg.password = Password::new("I\u{AD}X");
    let mut c = Client::new(cfg);
    let auth = to_auth(&mut c, FEATURES_PLAIN_ONLY);
    assert_eq!(sasl_text(&auth), b"\0juliet\0IX");

    // Registration and password change send the prepared form too.
    let mut cfg = config(Transport::Secure);
    cfg.password = Password::new(typed);
    let mut c = Client {
        s: Session::register(cfg, seed(), t(0)),
    };
    let _open = c.one_tx();
    c.feed(OPEN);
    c.feed(FEATURES_SHA1_PLAIN);
    let get = c.one_tx();
    c.feed(&form_iq(get.attr("id").unwrap(), PROSODY_REGISTER_FORM));
    let _ = c.events();
    let (_, set) = submit(&mut c, vec![]);
    assert!(field_values(&set).contains(&("password".to_owned(), prepared.to_owned())));

    let mut c = online();
    c.s.handle_command(Command::ChangePassword {
        new: Password::new("\u{2168}\u{AD}new"),
    })
    .unwrap();
    let set = c.one_tx();
    let query = set.get_child("query", NS_REGISTER).unwrap();
    assert_eq!(
        query.get_child("password", NS_REGISTER).unwrap().text(),
        "IXnew"
    );
    assert_eq!(
        c.s.handle_command(Command::ChangePassword {
            new: Password::new("\u{627}1")
        }),
        Err(CommandError::Credentials(CredentialError::Password))
    );
    assert!(c.tx().is_empty());
}

/// A password SASLprep refuses ends the session before anything is sent, with a clear
/// reason that does not repeat it.
#[test]
fn saslprep_refusal_is_reported_before_anything_is_sent() {
    for bad in ["\u{7}", "\u{627}1", "pw\u{E000}", "\u{AD}"] {
        for register in [false, true] {
            let mut cfg = config(Transport::Secure);
            cfg.password = Password::new(bad);
            let mut c = Client {
                s: if register {
                    Session::register(cfg, seed(), t(0))
                } else {
                    Session::new(cfg, seed(), t(0))
                },
            };
            assert!(c.tx().is_empty(), "{bad:?}: nothing sent");
            let reason = c.closed_reason();
            assert_eq!(
                reason,
                CloseReason::InvalidCredentials(CredentialError::Password)
            );
            assert!(reason.to_string().contains("SASLprep"));
            assert!(!reason.to_string().contains(bad));
            assert!(c.s.is_closed());
            assert_eq!(c.s.poll_timeout(), None);
            assert_eq!(
                c.s.handle_command(Command::Ping { to: None }),
                Err(CommandError::Closed)
            );
        }
    }
}

/// The SASL username is the prepared localpart, with ',' and '=' escaped for SCRAM.
#[test]
fn scram_username_is_escaped() {
    let mut cfg = config(Transport::Secure);
    cfg.jid = "a=b,c@example.com".parse().unwrap();
    let mut c = Client::new(cfg);
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    let first = String::from_utf8(sasl_text(&auth)).unwrap();
    assert!(first.starts_with("n,,n=a=3Db=2Cc,r="), "{first}");
}

#[test]
fn plain_is_refused_over_insecure_transport() {
    let mut c = Client::new(config(Transport::Insecure));
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_PLAIN_ONLY);
    assert_eq!(
        c.closed_reason(),
        CloseReason::NoUsableMechanism {
            offered: vec!["PLAIN".into()]
        }
    );
    let tx = c.tx();
    assert!(!tx.iter().any(|f| f.contains("auth")), "{tx:?}");
}

#[test]
fn plain_when_secure_or_explicitly_allowed() {
    let mut insecure = config(Transport::Insecure);
    insecure.allow_plain_on_insecure = true;
    for cfg in [config(Transport::Secure), insecure] {
        let mut c = Client::new(cfg);
        let auth = to_auth(&mut c, FEATURES_PLAIN_ONLY);
        assert_eq!(auth.attr("mechanism"), Some("PLAIN"));
        assert_eq!(sasl_text(&auth), format!("\0juliet\0{PASSWORD}").as_bytes());
        c.feed("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        let evs = bind(&mut c);
        assert_eq!(
            evs.first(),
            Some(&Event::Authenticated {
                mechanism: "PLAIN".into()
            })
        );
    }
}

#[test]
fn legacy_session_is_established_when_required() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session \
         xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>",
    );
    let bind = c.one_tx();
    let id = bind.attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/x1</jid></bind></iq>"
    ));
    let session = c.one_tx();
    assert!(session.get_child("session", NS_SESSION).is_some());
    assert!(!c.s.is_online());
    let sid = session.attr("id").unwrap().to_owned();
    assert_ne!(sid, id);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{sid}'/>"
    ));
    assert!(c.s.is_online());
}

#[test]
fn bind_refused_is_reported() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_BIND);
    let id = c.one_tx().attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}'><error type='cancel'><not-allowed \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ));
    let evs = c.events();
    assert_eq!(
        evs.last(),
        Some(&Event::Closed {
            reason: CloseReason::BindFailed {
                error: StanzaErrorInfo {
                    kind: "cancel".into(),
                    condition: "not-allowed".into(),
                    text: None
                }
            }
        })
    );
}

#[test]
fn bind_to_foreign_domain_is_refused() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_BIND);
    let id = c.one_tx().attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@evil.example/x</jid></bind></iq>"
    ));
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::BadBind)
    );
}

#[test]
fn features_without_bind_after_auth() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed("<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>");
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::NoBind)
    );
}

#[test]
fn open_checks_version_and_domain() {
    let mut c = Client::new(config(Transport::Secure));
    c.feed("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.com'/>");
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::UnsupportedVersion(None))
    );
    let mut c = Client::new(config(Transport::Secure));
    c.feed("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='evil.example'/>");
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::WrongDomain("evil.example".into()))
    );
    let tx = c.tx();
    assert!(tx.iter().any(|f| f.contains("<host-unknown")), "{tx:?}");
    // Case differences in the domain are fine.
    let mut c = Client::new(config(Transport::Secure));
    c.feed("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0' from='Example.COM'/>");
    assert!(c.events().is_empty());
}

#[test]
fn stream_error_is_reported_with_text() {
    let mut c = online();
    c.feed(
        "<stream:error xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
         <conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text>\
         </stream:error>",
    );
    assert_eq!(
        c.closed_reason(),
        CloseReason::StreamError {
            condition: "conflict".into(),
            text: Some("Replaced by new connection".into())
        }
    );
    assert_eq!(
        c.tx(),
        vec!["<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()]
    );
    // The server's trailing <close/> is ignored; no second Closed.
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    assert!(c.events().is_empty() && c.tx().is_empty());
    assert_eq!(c.s.poll_timeout(), None);
}

#[test]
fn see_other_uri_redirects() {
    let mut c = Client::new(config(Transport::Secure));
    c.feed(
        "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' \
         see-other-uri='wss://xmpp.example.com:443/websocket'/>",
    );
    assert_eq!(
        c.closed_reason(),
        CloseReason::Redirect {
            uri: "wss://xmpp.example.com:443/websocket".into()
        }
    );
    let tx = c.tx();
    assert!(tx.last().unwrap().starts_with("<close "));
}

#[test]
fn downgrading_or_odd_redirects_are_refused() {
    for uri in [
        "ws://xmpp.example.com/ws",
        "https://x.example/",
        "javascript:alert(1)",
    ] {
        let mut c = Client::new(config(Transport::Secure));
        c.feed(&format!(
            "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='{uri}'/>"
        ));
        assert_eq!(
            c.closed_reason(),
            CloseReason::Protocol(ProtocolError::BadRedirect(uri.into()))
        );
    }
    let mut c = Client::new(config(Transport::Insecure));
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='ws://h/ws'/>");
    assert_eq!(
        c.closed_reason(),
        CloseReason::Redirect {
            uri: "ws://h/ws".into()
        }
    );
}

#[test]
fn server_close_is_answered() {
    let mut c = online();
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    assert_eq!(c.closed_reason(), CloseReason::ClosedByServer);
    assert_eq!(
        c.tx(),
        vec!["<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()]
    );
}

#[test]
fn our_close_waits_for_the_server_or_times_out() {
    let mut c = online();
    assert_eq!(c.s.handle_command(Command::Close), Ok(None));
    assert_eq!(
        c.tx(),
        vec!["<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()]
    );
    assert!(c.events().is_empty());
    assert_eq!(
        c.s.handle_command(Command::Ping { to: None }),
        Err(CommandError::Closed)
    );
    // RFC 6120 §4.4: what the server sends before its own close is still processed, but
    // nothing is answered.
    c.feed("<message xmlns='jabber:client' from='a@b/c'><body>late</body></message>");
    assert!(matches!(
        c.events().as_slice(),
        [Event::Message { body: Some(b), .. }] if b == "late"
    ));
    c.feed("<iq xmlns='jabber:client' type='get' id='q' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(c.tx().is_empty() && c.events().is_empty());
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    assert_eq!(c.closed_reason(), CloseReason::ClosedByUs);
    assert!(c.tx().is_empty(), "no close for the close");

    let mut c = online();
    c.s.handle_command(Command::Close).unwrap();
    let deadline = c.s.poll_timeout().unwrap();
    assert_eq!(deadline, t(5_000));
    c.s.handle_timeout(t(4_999));
    assert!(c.events().is_empty());
    c.s.handle_timeout(deadline);
    assert_eq!(c.closed_reason(), CloseReason::ClosedByUs);
}

#[test]
fn socket_loss_is_reported_once() {
    let mut c = online();
    c.s.handle_socket_closed();
    assert_eq!(c.closed_reason(), CloseReason::SocketClosed);
    c.s.handle_socket_closed();
    c.feed(OPEN);
    assert!(c.events().is_empty() && c.tx().is_empty());
}

#[test]
fn negotiation_timeout() {
    let mut c = Client::new(config(Transport::Secure));
    let _ = c.tx();
    assert_eq!(c.s.poll_timeout(), Some(t(30_000)));
    c.feed(OPEN);
    c.s.handle_timeout(t(29_999));
    assert!(c.events().is_empty());
    c.s.handle_timeout(t(30_000));
    assert_eq!(c.closed_reason(), CloseReason::Timeout);
    assert_eq!(c.s.poll_timeout(), None);
}

#[test]
fn keepalive_ping_and_its_timeout() {
    let mut c = online();
    // Online at t=0: first ping due after 15 s of silence, no negotiation deadline left.
    assert_eq!(c.s.poll_timeout(), Some(t(15_000)));
    c.s.handle_timeout(t(15_000));
    let ping = c.one_tx();
    assert!(ping.get_child("ping", NS_PING).is_some());
    assert_eq!(ping.attr("to"), Some("example.com"));
    assert_eq!(c.s.poll_timeout(), Some(t(23_000)));
    let id = ping.attr("id").unwrap().to_owned();
    c.s.handle_frame_at(
        &format!("<iq xmlns='jabber:client' type='result' from='example.com' id='{id}'/>"),
        t(16_000),
    );
    assert!(c.events().is_empty(), "keepalive answers are silent");
    assert_eq!(c.s.poll_timeout(), Some(t(30_000)));
    c.s.handle_timeout(t(30_000));
    let _unanswered = c.one_tx();
    c.s.handle_timeout(t(37_999));
    assert!(c.events().is_empty());
    c.s.handle_timeout(t(38_000));
    assert_eq!(c.closed_reason(), CloseReason::Timeout);
}

#[test]
fn inbound_traffic_postpones_the_keepalive_and_silence_is_caught_within_23_s() {
    let mut c = online();
    assert_eq!(c.s.poll_timeout(), Some(t(15_000)));
    // A frame at 10 s proves the connection alive: the check moves to 15 s after it.
    c.s.handle_frame_at(
        "<presence xmlns='jabber:client' from='romeo@example.net/orchard'/>",
        t(10_000),
    );
    let _ = c.events();
    assert_eq!(c.s.poll_timeout(), Some(t(25_000)));
    c.s.handle_timeout(t(15_000));
    assert!(c.tx().is_empty(), "no ping while traffic flows");
    // Then the server goes silent (half-open): ping at 25 s, dead at 33 s.
    c.s.handle_timeout(t(25_000));
    let ping = c.one_tx();
    assert!(ping.get_child("ping", NS_PING).is_some());
    // Traffic other than the answer does not cancel the pending deadline.
    c.s.handle_frame_at(
        "<presence xmlns='jabber:client' from='romeo@example.net/orchard' type='unavailable'/>",
        t(30_000),
    );
    let _ = c.events();
    assert_eq!(c.s.poll_timeout(), Some(t(33_000)));
    c.s.handle_timeout(t(33_000));
    // 23 s after the last frame: within the 30 s the product promises.
    assert_eq!(c.closed_reason(), CloseReason::Timeout);
}

#[test]
fn check_alive_sends_the_keepalive_at_once_and_silence_is_caught_8_s_later() {
    let mut c = Client::new(config(Transport::Secure));
    c.s.check_alive(t(1_000));
    assert_eq!(
        c.tx().len(),
        1,
        "before online: only the <open/>, no keepalive"
    );
    let mut c = online();
    assert_eq!(c.s.poll_timeout(), Some(t(15_000)));
    // The network came back at 4 s: the ping goes now, not at 15 s.
    c.s.check_alive(t(4_000));
    let ping = c.one_tx();
    assert!(ping.get_child("ping", NS_PING).is_some());
    assert_eq!(c.s.poll_timeout(), Some(t(12_000)));
    // A second check while the first waits for its answer sends nothing more.
    c.s.check_alive(t(5_000));
    assert!(c.tx().is_empty());
    c.s.handle_timeout(t(12_000));
    assert_eq!(c.closed_reason(), CloseReason::Timeout);
}

#[test]
fn check_alive_answered_keeps_the_session() {
    let mut c = online();
    c.s.check_alive(t(4_000));
    let ping = c.one_tx();
    let (id, server) = (ping.attr("id").unwrap(), ping.attr("to").unwrap());
    c.s.handle_frame_at(
        &format!("<iq xmlns='jabber:client' type='result' id='{id}' from='{server}'/>"),
        t(4_100),
    );
    let _ = c.events();
    c.s.handle_timeout(t(12_000));
    assert!(!c.s.is_closed());
    assert_eq!(c.s.poll_timeout(), Some(t(19_000)));
}

#[test]
fn commands_before_online_are_refused() {
    let mut c = Client::new(config(Transport::Secure));
    assert_eq!(
        c.s.handle_command(Command::RequestRoster { ver: None }),
        Err(CommandError::NotOnline)
    );
    assert_eq!(c.tx().len(), 1, "only the <open/>");
}

#[test]
fn debug_output_never_contains_the_password_or_seed() {
    let c = Client::new(config(Transport::Secure));
    let dbg = format!("{:?}", c.s);
    assert!(!dbg.contains(PASSWORD), "{dbg}");
    assert!(dbg.contains("Password(<redacted>)") || !dbg.contains("password: Some(\""));
    let cfg = format!("{:?}", config(Transport::Secure));
    assert!(!cfg.contains(PASSWORD), "{cfg}");
    // Mid-SASL the secret lives in the SCRAM state; still not printed.
    let mut c = Client::new(config(Transport::Secure));
    let _ = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    assert!(!format!("{:?}", c.s).contains(PASSWORD));
}

// ---- hostile input ------------------------------------------------------------------------

#[test]
fn hostile_frames_close_with_a_clear_reason() {
    let huge = format!(
        "<message xmlns='jabber:client'><body>{}</body></message>",
        "A".repeat(600 * 1024)
    );
    let deep = format!("{}{}", "<a xmlns='x'>".repeat(5000), "</a>".repeat(5000));
    type ReasonCheck = fn(&CloseReason) -> bool;
    let cases: Vec<(String, ReasonCheck, &str)> = vec![
        (
            huge,
            |r| matches!(r, CloseReason::BadFrame(FrameError::TooLarge { .. })),
            "policy-violation",
        ),
        (
            deep,
            |r| matches!(r, CloseReason::BadFrame(FrameError::TooDeep { .. })),
            "policy-violation",
        ),
        (
            "<message xmlns='jabber:client'><body>unclosed".into(),
            |r| matches!(r, CloseReason::BadFrame(FrameError::NotWellFormed { .. })),
            "not-well-formed",
        ),
        (
            "<message xmlns='jabber:client'/><message xmlns='jabber:client'/>".into(),
            |r| matches!(r, CloseReason::BadFrame(FrameError::NotWellFormed { .. })),
            "not-well-formed",
        ),
        (
            "<!DOCTYPE lol [<!ENTITY lol 'lol'>]><message xmlns='jabber:client'>&lol;</message>"
                .into(),
            |r| matches!(r, CloseReason::BadFrame(FrameError::NotWellFormed { .. })),
            "not-well-formed",
        ),
        (
            "".into(),
            |r| matches!(r, CloseReason::BadFrame(FrameError::Empty)),
            "not-well-formed",
        ),
        (
            "<message xmlns='jabber:server' from='a@b/c'><body>x</body></message>".into(),
            |r| matches!(r, CloseReason::Protocol(ProtocolError::Unexpected { namespace, .. }) if namespace == "jabber:server"),
            "invalid-namespace",
        ),
        (
            "<thing xmlns='jabber:client'/>".into(),
            |r| matches!(r, CloseReason::Protocol(ProtocolError::Unexpected { name, .. }) if name == "thing"),
            "unsupported-stanza-type",
        ),
        (
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>".into(),
            |r| matches!(r, CloseReason::Protocol(ProtocolError::Unexpected { name, .. }) if name == "features"),
            "unsupported-stanza-type",
        ),
    ];
    for (frame, check, condition) in cases {
        let mut c = online();
        c.feed(&frame);
        let reason = c.closed_reason();
        assert!(check(&reason), "{reason:?}");
        let tx = c.tx();
        assert_eq!(tx.len(), 2, "{tx:?}");
        assert!(tx[0].starts_with("<stream:error"), "{tx:?}");
        assert!(tx[0].contains(&format!("<{condition} ")), "{tx:?}");
        assert!(tx[1].starts_with("<close "));
        // Nothing further is processed.
        c.feed("<message xmlns='jabber:client' from='a@b/c'><body>x</body></message>");
        assert!(c.events().is_empty());
    }
}

#[test]
fn hostile_frames_before_auth() {
    // Garbage where features are expected, and features in the SASL state.
    let mut c = Client::new(config(Transport::Secure));
    c.feed(OPEN);
    c.feed("<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(matches!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Unexpected { .. })
    ));
    let mut c = Client::new(config(Transport::Secure));
    let _ = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    c.feed(FEATURES_SHA1_PLAIN);
    assert!(matches!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Unexpected { .. })
    ));
    let mut c = Client::new(config(Transport::Secure));
    let _ = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    c.feed("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>!!!notbase64</challenge>");
    assert!(matches!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Scram(_))
    ));
    let mut c = Client::new(config(Transport::Secure));
    let _ = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    c.feed(&sasl_frame(
        "challenge",
        b"r=attacker-nonce,s=QSXCR+Q6sek8bf92,i=4096",
    ));
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Scram(scram::ScramError::NonceMismatch))
    );
    let tx = c.tx();
    assert!(tx.iter().any(|f| f.starts_with("<abort ")), "{tx:?}");
}

#[test]
fn a_stanza_before_the_bind_answer_is_refused() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_BIND);
    let _ = c.tx();
    c.feed("<iq xmlns='jabber:client' type='result' id='wrong'/>");
    assert!(matches!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Unexpected { .. })
    ));
}

// ---- RFC 6121 -----------------------------------------------------------------------------

fn roster_request(c: &mut Client, ver: Option<&str>) -> (String, Element) {
    let id =
        c.s.handle_command(Command::RequestRoster {
            ver: ver.map(str::to_owned),
        })
        .unwrap()
        .unwrap();
    let iq = c.one_tx();
    assert_eq!(iq.attr("id"), Some(id.as_str()));
    (id, iq)
}

#[test]
fn roster_get_with_versioning() {
    let mut c = online();
    let (id, iq) = roster_request(&mut c, Some("ver11"));
    assert_eq!(iq.attr("type"), Some("get"));
    let q = iq.get_child("query", NS_ROSTER).unwrap();
    assert_eq!(q.attr("ver"), Some("ver11"), "server advertised rosterver");
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' to='juliet@example.com/balcony'>\
         <query xmlns='jabber:iq:roster' ver='ver14'>\
         <item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item>\
         <item jid='nurse@example.com' subscription='none' ask='subscribe'/>\
         <item jid='benvolio@example.net' subscription='from' approved='true'/>\
         </query></iq>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Roster {
            ver: Some("ver14".into()),
            items: vec![
                RosterItem {
                    jid: "romeo@example.net".parse().unwrap(),
                    name: Some("Romeo".into()),
                    subscription: Subscription::Both,
                    pending_out: false,
                    approved: false,
                    groups: vec!["Friends".into()],
                },
                RosterItem {
                    jid: "nurse@example.com".parse().unwrap(),
                    name: None,
                    subscription: Subscription::None,
                    pending_out: true,
                    approved: false,
                    groups: vec![],
                },
                RosterItem {
                    jid: "benvolio@example.net".parse().unwrap(),
                    name: None,
                    subscription: Subscription::From,
                    pending_out: false,
                    approved: true,
                    groups: vec![],
                },
            ]
        }]
    );
    // Unchanged roster: empty result.
    let (id, _) = roster_request(&mut c, Some("ver14"));
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::RosterUpToDate]);
    // The same answer again is not a second result.
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert!(c.events().is_empty());
}

#[test]
fn roster_ver_is_not_sent_without_server_support() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    );
    let id = c.one_tx().attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/r</jid></bind></iq>"
    ));
    let (_, iq) = roster_request(&mut c, Some("ver11"));
    assert_eq!(iq.get_child("query", NS_ROSTER).unwrap().attr("ver"), None);
}

#[test]
fn spoofed_roster_result_is_ignored() {
    let mut c = online();
    let (id, _) = roster_request(&mut c, None);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='mallory@evil.example/x'>\
         <query xmlns='jabber:iq:roster'><item jid='mallory@evil.example' subscription='both'/>\
         </query></iq>"
    ));
    assert!(c.events().is_empty());
    // The real answer still counts.
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='juliet@example.com'>\
         <query xmlns='jabber:iq:roster'/></iq>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Roster {
            ver: None,
            items: vec![]
        }]
    );
}

const PUSH: &str = "<query xmlns='jabber:iq:roster' ver='ver15'><item jid='nurse@example.com' \
                    name='Nurse' subscription='none'><group>Servants</group></item></query>";

#[test]
fn roster_push_from_our_account_is_accepted_and_acknowledged() {
    for from in ["", " from='juliet@example.com'"] {
        let mut c = online();
        c.feed(&format!(
            "<iq xmlns='jabber:client' type='set' id='push1'{from}>{PUSH}</iq>"
        ));
        assert_eq!(
            c.events(),
            vec![Event::RosterPush {
                ver: Some("ver15".into()),
                item: RosterItem {
                    jid: "nurse@example.com".parse().unwrap(),
                    name: Some("Nurse".into()),
                    subscription: Subscription::None,
                    pending_out: false,
                    approved: false,
                    groups: vec!["Servants".into()],
                }
            }]
        );
        let ack = c.one_tx();
        assert!(ack.is("iq", NS_CLIENT));
        assert_eq!(ack.attr("type"), Some("result"));
        assert_eq!(ack.attr("id"), Some("push1"));
    }
}

#[test]
fn roster_push_from_anyone_else_is_refused() {
    for from in [
        "mallory@evil.example",
        "juliet@example.com/other",
        "example.com",
        "romeo@example.net",
    ] {
        let mut c = online();
        c.feed(&format!(
            "<iq xmlns='jabber:client' type='set' id='push2' from='{from}'>{PUSH}</iq>"
        ));
        assert_eq!(
            c.events(),
            vec![Event::SpoofedRosterPush {
                from: from.parse().unwrap()
            }]
        );
        let err = c.one_tx();
        assert_eq!(err.attr("type"), Some("error"));
        assert_eq!(err.attr("to"), Some(from));
        assert!(err
            .get_child("error", NS_CLIENT)
            .unwrap()
            .has_child("service-unavailable", stanza::NS_STANZAS));
    }
}

#[test]
fn roster_push_with_two_items_is_bad_request() {
    let mut c = online();
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='p3'><query xmlns='jabber:iq:roster'>\
         <item jid='a@b'/><item jid='c@d'/></query></iq>",
    );
    assert!(matches!(
        c.events().as_slice(),
        [Event::StanzaDropped { .. }]
    ));
    let err = c.one_tx();
    assert!(err
        .get_child("error", NS_CLIENT)
        .unwrap()
        .has_child("bad-request", stanza::NS_STANZAS));
}

#[test]
fn roster_set_and_remove() {
    let mut c = online();
    let id =
        c.s.handle_command(Command::SetRosterItem {
            jid: "romeo@example.net".parse().unwrap(),
            name: Some("Romeo".into()),
            groups: vec!["Friends".into()],
        })
        .unwrap()
        .unwrap();
    let iq = c.one_tx();
    assert_eq!(iq.attr("type"), Some("set"));
    let item = iq
        .get_child("query", NS_ROSTER)
        .unwrap()
        .get_child("item", NS_ROSTER)
        .unwrap();
    assert_eq!(item.attr("jid"), Some("romeo@example.net"));
    assert_eq!(item.attr("name"), Some("Romeo"));
    assert_eq!(
        item.get_child("group", NS_ROSTER).unwrap().text(),
        "Friends"
    );
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::RequestSucceeded { id }]);

    let id =
        c.s.handle_command(Command::RemoveRosterItem {
            jid: "romeo@example.net".parse().unwrap(),
        })
        .unwrap()
        .unwrap();
    let iq = c.one_tx();
    let item = iq
        .get_child("query", NS_ROSTER)
        .unwrap()
        .get_child("item", NS_ROSTER)
        .unwrap();
    assert_eq!(item.attr("subscription"), Some("remove"));
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}'><error type='cancel'><item-not-found \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::RequestFailed {
            id,
            error: StanzaErrorInfo {
                kind: "cancel".into(),
                condition: "item-not-found".into(),
                text: None
            }
        }]
    );
}

#[test]
fn presence_out() {
    let mut c = online();
    assert_eq!(
        c.s.handle_command(Command::SendPresence {
            show: Some(Show::Xa),
            status: Some("sleeping".into()),
            priority: 3,
        }),
        Ok(None)
    );
    let p = c.one_tx();
    assert!(p.is("presence", NS_CLIENT));
    assert_eq!(p.attr("type"), None);
    assert_eq!(p.get_child("show", NS_CLIENT).unwrap().text(), "xa");
    assert_eq!(p.get_child("status", NS_CLIENT).unwrap().text(), "sleeping");
    assert_eq!(p.get_child("priority", NS_CLIENT).unwrap().text(), "3");
    c.s.handle_command(Command::SendUnavailable {
        status: Some("bye".into()),
    })
    .unwrap();
    let p = c.one_tx();
    assert_eq!(p.attr("type"), Some("unavailable"));
    assert_eq!(p.get_child("status", NS_CLIENT).unwrap().text(), "bye");
}

#[test]
fn subscription_handshake_commands() {
    // The server advertises pre-approval (RFC 6121 §3.4).
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    bind_with(&mut c, FEATURES_BIND_PREAPPROVAL);
    assert!(c.s.supports_preapproval());
    let romeo: BareJid = "romeo@example.net".parse().unwrap();
    let cases = [
        (Command::Subscribe { to: romeo.clone() }, "subscribe"),
        (
            Command::ApproveSubscription { to: romeo.clone() },
            "subscribed",
        ),
        (
            Command::DenySubscription { to: romeo.clone() },
            "unsubscribed",
        ),
        (Command::Unsubscribe { to: romeo.clone() }, "unsubscribe"),
    ];
    for (cmd, ty) in cases {
        assert_eq!(c.s.handle_command(cmd), Ok(None));
        let tx = c.tx();
        assert_eq!(
            tx,
            vec![format!(
                "<presence xmlns='jabber:client' to='romeo@example.net' type='{ty}'/>"
            )]
        );
    }
}

/// Without the pre-approval feature, `ApproveSubscription` answers pending requests (and
/// contacts already subscribed) but refuses to pre-approve, sending nothing.
#[test]
fn preapproval_refused_without_the_feature() {
    let mut c = online();
    assert!(!c.s.supports_preapproval());
    let nurse: BareJid = "nurse@example.com".parse().unwrap();
    let romeo: BareJid = "romeo@example.net".parse().unwrap();
    let approve = |c: &mut Client, to: &BareJid| {
        c.s.handle_command(Command::ApproveSubscription { to: to.clone() })
    };
    assert_eq!(
        approve(&mut c, &nurse),
        Err(CommandError::PreApprovalUnsupported)
    );
    assert!(c.tx().is_empty());
    assert!(CommandError::PreApprovalUnsupported
        .to_string()
        .contains("pre-approval"));

    // A request arrives: approving it is an answer, not a pre-approval.
    c.feed("<presence xmlns='jabber:client' from='nurse@example.com/x' type='subscribe'/>");
    let _ = c.events();
    assert_eq!(approve(&mut c, &nurse), Ok(None));
    assert_eq!(
        c.tx(),
        vec!["<presence xmlns='jabber:client' to='nurse@example.com' type='subscribed'/>"]
    );
    // Answered: approving again would be a pre-approval.
    assert_eq!(
        approve(&mut c, &nurse),
        Err(CommandError::PreApprovalUnsupported)
    );
    // A denied request is answered too.
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net' type='subscribe'/>");
    let _ = c.events();
    c.s.handle_command(Command::DenySubscription { to: romeo.clone() })
        .unwrap();
    let _ = c.tx();
    assert_eq!(
        approve(&mut c, &romeo),
        Err(CommandError::PreApprovalUnsupported)
    );
    // A request withdrawn by the contact is no longer pending.
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net' type='subscribe'/>");
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net' type='unsubscribe'/>");
    let _ = c.events();
    assert_eq!(
        approve(&mut c, &romeo),
        Err(CommandError::PreApprovalUnsupported)
    );
    // A contact the roster shows subscribed to us (`from`) may be approved again.
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='push1'><query xmlns='jabber:iq:roster'>\
         <item jid='romeo@example.net' subscription='from'/></query></iq>",
    );
    let _ = c.tx();
    let _ = c.events();
    assert_eq!(approve(&mut c, &romeo), Ok(None));
    assert_eq!(c.tx().len(), 1);
    // Pre-approval of someone else is still refused; other subscription commands are not
    // affected.
    let tybalt: BareJid = "tybalt@example.net".parse().unwrap();
    assert_eq!(
        approve(&mut c, &tybalt),
        Err(CommandError::PreApprovalUnsupported)
    );
    assert_eq!(
        c.s.handle_command(Command::Subscribe { to: tybalt.clone() }),
        Ok(None)
    );
    assert_eq!(
        c.s.handle_command(Command::DenySubscription { to: tybalt }),
        Ok(None)
    );
    assert_eq!(c.tx().len(), 2);
}

/// The feature is read from the post-authentication features of each stream; a request
/// still pending survives a resumption.
#[test]
fn preapproval_feature_and_pending_requests_across_resumption() {
    let mut c = online_sm();
    assert!(!c.s.supports_preapproval());
    c.feed("<presence xmlns='jabber:client' from='nurse@example.com' type='subscribe'/>");
    let _ = c.events();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let features_sm_preapproval = FEATURES_BIND.replace(
        "<csi ",
        "<sub xmlns='urn:xmpp:features:pre-approval'/><csi ",
    );
    let (mut c, _) = reconnect(res, &features_sm_preapproval);
    assert!(c.s.supports_preapproval());
    c.feed("<resumed xmlns='urn:xmpp:sm:3' h='0' previd='c2a9f5c1-sm'/>");
    let _ = c.events();
    let _ = c.tx();
    // Now a pre-approval is allowed...
    let tybalt: BareJid = "tybalt@example.net".parse().unwrap();
    assert_eq!(
        c.s.handle_command(Command::ApproveSubscription { to: tybalt }),
        Ok(None)
    );
    // ...and so is the answer to the request received before the socket was lost.
    assert_eq!(
        c.s.handle_command(Command::ApproveSubscription {
            to: "nurse@example.com".parse().unwrap()
        }),
        Ok(None)
    );
    assert_eq!(c.tx().len(), 2, "two presences");
}

#[test]
fn presence_and_subscriptions_in() {
    let mut c = online();
    c.feed(
        "<presence xmlns='jabber:client' from='romeo@example.net/orchard' \
         to='juliet@example.com/balcony' xml:lang='en'><show>away</show>\
         <status>be right back</status><priority>1</priority>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
    );
    c.feed("<presence xmlns='jabber:client' from='nurse@example.com' type='subscribe'/>");
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net' type='subscribed'/>");
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net/orchard' type='unavailable'/>");
    assert_eq!(
        c.events(),
        vec![
            Event::Presence {
                from: "romeo@example.net/orchard".parse().unwrap(),
                show: Some(Show::Away),
                status: Some("be right back".into()),
                priority: 1,
                caps: None,
            },
            Event::SubscriptionRequest {
                from: "nurse@example.com".parse().unwrap(),
                status: None
            },
            Event::SubscriptionApproved {
                from: "romeo@example.net".parse().unwrap()
            },
            Event::Unavailable {
                from: "romeo@example.net/orchard".parse().unwrap(),
                status: None
            },
        ]
    );
    assert!(c.tx().is_empty(), "subscription requests wait for the user");
}

#[test]
fn chat_messages_both_ways_with_ids() {
    let mut c = online();
    let send = |c: &mut Client, body: &str| {
        c.s.handle_command(Command::SendMessage {
            to: "romeo@example.net".parse().unwrap(),
            body: body.into(),
            kind: MessageKind::Chat,
            thread: Some("t1".into()),
        })
        .unwrap()
        .unwrap()
    };
    let id1 = send(&mut c, "Wherefore art thou <Romeo>?");
    let frame = c.tx().pop().unwrap();
    assert!(
        frame.starts_with("<message xmlns='jabber:client'"),
        "{frame}"
    );
    let m = parse_frame(&frame, &Limits::default()).unwrap();
    assert_eq!(m.attr("id"), Some(id1.as_str()));
    assert_eq!(m.attr("type"), Some("chat"));
    assert_eq!(m.attr("to"), Some("romeo@example.net"));
    assert_eq!(
        m.get_child("body", NS_CLIENT).unwrap().text(),
        "Wherefore art thou <Romeo>?"
    );
    assert_eq!(m.get_child("thread", NS_CLIENT).unwrap().text(), "t1");
    let id2 = send(&mut c, "again");
    assert_ne!(id1, id2, "ids are unique");
    let _ = c.tx();

    c.feed(
        "<message xmlns='jabber:client' from='romeo@example.net/orchard' \
         to='juliet@example.com/balcony' type='chat' id='r1' xml:lang='en'>\
         <body>Neither, fair saint</body><thread>t1</thread>\
         <active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    // A bounce of our second message.
    c.feed(&format!(
        "<message xmlns='jabber:client' from='romeo@example.net' type='error' id='{id2}'>\
         <error type='cancel'><service-unavailable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    ));
    assert_eq!(
        c.events(),
        vec![
            Event::Message {
                from: "romeo@example.net/orchard".parse().unwrap(),
                id: Some("r1".into()),
                kind: MessageKind::Chat,
                body: Some("Neither, fair saint".into()),
                subject: None,
                thread: Some("t1".into()),
                delayed: None,
                to: Some("juliet@example.com/balcony".parse().unwrap()),
                receipt_requested: false,
                chat_state: Some(crate::types::ChatState::Active),
            },
            Event::MessageError {
                from: "romeo@example.net".parse().unwrap(),
                id: Some(id2),
                error: StanzaErrorInfo {
                    kind: "cancel".into(),
                    condition: "service-unavailable".into(),
                    text: None
                }
            }
        ]
    );
}

#[test]
fn ids_differ_between_sessions_with_different_seeds() {
    let mut a = online();
    let ida =
        a.s.handle_command(Command::Ping { to: None })
            .unwrap()
            .unwrap();
    let mut b = Session::new(config(Transport::Secure), Seed::new([9u8; 32]), t(0));
    // Not online, but the id prefix is fixed at construction; compare prefixes.
    let _ = b.poll_transmit();
    assert!(ida.starts_with(&"07".repeat(8)), "{ida}");
    assert!(!format!("{b:?}").contains(&"07".repeat(8)));
}

#[test]
fn ping_and_unknown_iqs_are_answered() {
    let mut c = online();
    c.feed(
        "<iq xmlns='jabber:client' type='get' id='s2c1' from='example.com' \
         to='juliet@example.com/balcony'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    let pong = c.one_tx();
    assert_eq!(pong.attr("type"), Some("result"));
    assert_eq!(pong.attr("id"), Some("s2c1"));
    assert_eq!(pong.attr("to"), Some("example.com"));
    c.feed(
        "<iq xmlns='jabber:client' type='get' id='v1' from='romeo@example.net/orchard'>\
         <query xmlns='jabber:iq:version'/></iq>",
    );
    let err = c.one_tx();
    assert_eq!(err.attr("type"), Some("error"));
    assert_eq!(err.attr("to"), Some("romeo@example.net/orchard"));
    assert!(err
        .get_child("error", NS_CLIENT)
        .unwrap()
        .has_child("service-unavailable", stanza::NS_STANZAS));
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='x1' from='romeo@example.net/orchard'>\
         <foo xmlns='urn:example:foo'/></iq>",
    );
    assert_eq!(c.one_tx().attr("type"), Some("error"));
    assert!(c.events().is_empty());
    // An iq without id cannot be answered: dropped, stream goes on.
    c.feed("<iq xmlns='jabber:client' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(matches!(
        c.events().as_slice(),
        [Event::StanzaDropped { .. }]
    ));
    assert!(c.s.is_online());
}

#[test]
fn client_ping_command() {
    let mut c = online();
    c.s.handle_timeout(t(1_000));
    let id =
        c.s.handle_command(Command::Ping { to: None })
            .unwrap()
            .unwrap();
    let ping = c.one_tx();
    assert!(ping.has_child("ping", NS_PING));
    assert_eq!(ping.attr("to"), Some("example.com"));
    // The owner's clock moves on before the answer arrives.
    c.s.handle_timeout(t(1_250));
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='example.com'/>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Pong {
            id,
            from: "example.com".parse().unwrap(),
            round_trip: Duration::from_millis(250),
        }]
    );
}

/// XEP-0199 to any entity: a contact's full JID answers (pong), a bare JID of an unknown
/// account gets an error from its server; answers from anyone else are ignored.
#[test]
fn ping_any_entity() {
    let mut c = online();
    let romeo: Jid = "romeo@example.net/orchard".parse().unwrap();
    let id =
        c.s.handle_command(Command::Ping {
            to: Some(romeo.clone()),
        })
        .unwrap()
        .unwrap();
    let ping = c.one_tx();
    assert_eq!(ping.attr("to"), Some("romeo@example.net/orchard"));
    assert_eq!(ping.attr("type"), Some("get"));
    assert!(ping.has_child("ping", NS_PING));
    // A forged answer from our server or another resource is not the entity's.
    for from in [
        "example.com",
        "romeo@example.net/other",
        "romeo@example.net",
    ] {
        c.feed(&format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{from}'/>"
        ));
    }
    assert!(c.events().is_empty());
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='romeo@example.net/orchard'/>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Pong {
            id: id.clone(),
            from: romeo,
            round_trip: Duration::ZERO
        }]
    );
    // Answered once only.
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='romeo@example.net/orchard'/>"
    ));
    assert!(c.events().is_empty());

    for (to, condition) in [
        ("nobody@example.com", "service-unavailable"),
        ("example.net", "feature-not-implemented"),
        ("romeo@example.net/gone", "item-not-found"),
        ("juliet@example.org", "remote-server-not-found"),
    ] {
        let id =
            c.s.handle_command(Command::Ping {
                to: Some(to.parse().unwrap()),
            })
            .unwrap()
            .unwrap();
        assert_eq!(c.one_tx().attr("to"), Some(to));
        c.feed(&format!(
            "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}'><error \
             type='cancel'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             </error></iq>"
        ));
        assert_eq!(
            c.events(),
            vec![Event::RequestFailed {
                id,
                error: StanzaErrorInfo {
                    kind: "cancel".into(),
                    condition: condition.into(),
                    text: None
                }
            }],
            "{to}"
        );
    }
    // Our own bare JID is answered by the server on the account's behalf.
    let own = Jid::from(jid());
    let id =
        c.s.handle_command(Command::Ping {
            to: Some(own.clone()),
        })
        .unwrap()
        .unwrap();
    let _ = c.tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='juliet@example.com'/>"
    ));
    assert!(matches!(c.events().as_slice(), [Event::Pong { from, .. }] if *from == own));
}

/// Requests the server never answers fail after `request_timeout`, by the caller's clock.
#[test]
fn unanswered_requests_time_out() {
    let mut cfg = config(Transport::Secure);
    cfg.request_timeout = Duration::from_secs(10);
    cfg.keepalive_interval = None;
    let mut c = Client::new(cfg);
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    bind(&mut c);
    assert_eq!(c.s.poll_timeout(), None, "nothing outstanding");
    c.s.handle_timeout(t(1_000));
    let ping =
        c.s.handle_command(Command::Ping {
            to: Some("romeo@example.net/orchard".parse().unwrap()),
        })
        .unwrap()
        .unwrap();
    c.s.handle_timeout(t(3_000));
    let roster =
        c.s.handle_command(Command::RequestRoster { ver: None })
            .unwrap()
            .unwrap();
    c.s.handle_timeout(t(4_000));
    let disco =
        c.s.handle_command(Command::QueryDiscoInfo {
            to: "example.com".parse().unwrap(),
            node: None,
        })
        .unwrap()
        .unwrap();
    let _ = c.tx();
    assert_eq!(c.s.poll_timeout(), Some(t(11_000)));
    // The roster answer comes in time; the others do not.
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{roster}'><query \
         xmlns='jabber:iq:roster'/></iq>"
    ));
    assert_eq!(c.events().len(), 1);
    c.s.handle_timeout(t(10_999));
    assert!(c.events().is_empty());
    let timeout = |id: &str| Event::RequestFailed {
        id: id.to_owned(),
        error: StanzaErrorInfo {
            kind: "wait".into(),
            condition: "timeout".into(),
            text: None,
        },
    };
    c.s.handle_timeout(t(11_000));
    assert_eq!(c.events(), vec![timeout(&ping)]);
    // The answered roster request no longer sets the timer.
    assert_eq!(c.s.poll_timeout(), Some(t(14_000)));
    c.s.handle_timeout(t(20_000));
    assert_eq!(c.events(), vec![timeout(&disco)]);
    assert_eq!(c.s.poll_timeout(), None);
    // A late answer is ignored.
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{ping}' from='romeo@example.net/orchard'/>"
    ));
    assert!(c.events().is_empty());
    assert!(c.s.is_online());
}

#[test]
fn invalid_stanzas_do_not_end_the_session() {
    let mut c = online();
    c.feed("<message xmlns='jabber:client' type='nonsense'><body>x</body></message>");
    c.feed("<presence xmlns='jabber:client'><priority>9999</priority></presence>");
    let evs = c.events();
    assert_eq!(evs.len(), 2);
    assert!(evs.iter().all(|e| matches!(e, Event::StanzaDropped { .. })));
    assert!(c.s.is_online());
}

#[test]
fn limits_come_from_config() {
    let mut cfg = config(Transport::Secure);
    cfg.limits = Limits {
        max_frame_bytes: 100,
        ..Limits::default()
    };
    let mut c = Client::new(cfg);
    c.feed(OPEN);
    c.feed(FEATURES_SHA1_PLAIN);
    assert!(matches!(
        c.closed_reason(),
        CloseReason::BadFrame(FrameError::TooLarge { limit: 100, .. })
    ));
}

#[test]
fn timestamps() {
    assert_eq!(t(5).after(Duration::from_millis(7)), t(12));
    assert_eq!(t(u64::MAX).after(Duration::from_secs(1)), t(u64::MAX));
    assert_eq!(t(42).as_millis(), 42);
}

// ---- XEP-0198 stream management -------------------------------------------------------------

const ENABLED: &str = "<enabled xmlns='urn:xmpp:sm:3' id='c2a9f5c1-sm' resume='true' max='600'/>";

/// Online with Prosody's features (stream management offered) and SM enabled.
fn online_sm() -> Client {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let evs = bind_with_sm(&mut c);
    assert!(matches!(evs.last(), Some(Event::Online { .. })), "{evs:?}");
    enable(&mut c);
    c
}

/// Like `bind_with`, but the enable request follows the bind answer.
fn bind_with_sm(c: &mut Client) -> Vec<Event> {
    let open = c.one_tx();
    assert!(open.is("open", NS_FRAMING));
    c.feed(OPEN);
    c.feed(FEATURES_BIND);
    let id = c.one_tx().attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid>\
         </bind></iq>"
    ));
    c.events()
}

fn enable(c: &mut Client) {
    assert_eq!(
        c.tx(),
        vec!["<enable xmlns='urn:xmpp:sm:3' resume='true'/>".to_owned()]
    );
    c.feed(ENABLED);
    assert_eq!(
        c.events(),
        vec![Event::StreamManagement {
            enabled: true,
            resumable: true
        }]
    );
}

fn say(c: &mut Client, body: &str) -> String {
    c.s.handle_command(Command::SendMessage {
        to: "romeo@example.net".parse().unwrap(),
        body: body.into(),
        kind: MessageKind::Chat,
        thread: None,
    })
    .unwrap()
    .unwrap()
}

const R: &str = "<r xmlns='urn:xmpp:sm:3'/>";

fn a(h: u32) -> String {
    format!("<a xmlns='urn:xmpp:sm:3' h='{h}'/>")
}

#[test]
fn sm_counts_requests_and_answers_acks() {
    let mut c = online_sm();
    let id = say(&mut c, "one");
    let tx = c.tx();
    assert_eq!(tx.len(), 2);
    assert!(tx[0].starts_with("<message "));
    assert_eq!(tx[1], R, "an ack request follows each message");
    c.feed(&a(1));
    assert_eq!(
        c.events(),
        vec![Event::Acked {
            message_ids: vec![id]
        }]
    );

    // Inbound counting: the server asks, we answer with what we handled since <enabled/>.
    c.feed(R);
    assert_eq!(c.tx(), vec![a(0)]);
    c.feed("<message xmlns='jabber:client' from='romeo@example.net/o' type='chat'><body>hi</body></message>");
    c.feed("<presence xmlns='jabber:client' from='romeo@example.net/o'/>");
    // A ping is counted, and our answer to it is an outbound stanza (h=2 acknowledges it).
    c.feed("<iq xmlns='jabber:client' type='get' id='p' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>");
    let _ = c.events();
    let _pong = c.tx();
    c.feed(R);
    assert_eq!(c.tx(), vec![a(3)]);
    c.feed(&a(2));
    assert!(
        c.events().is_empty(),
        "the pong is not a message: no Acked event"
    );
    // Acking more than was sent is a protocol violation.
    c.feed(&a(3));
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::BadAck)
    );
}

#[test]
fn sm_enable_refused() {
    let mut c = Client::new(config(Transport::Secure));
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = bind_with_sm(&mut c);
    let _enable = c.tx();
    c.feed("<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
    assert_eq!(
        c.events(),
        vec![Event::StreamManagement {
            enabled: false,
            resumable: false
        }]
    );
    say(&mut c, "x");
    assert_eq!(c.tx().len(), 1, "no ack request without SM");
    c.s.handle_socket_closed();
    let _ = c.events();
    assert!(c.s.take_resumption().is_none());
}

#[test]
fn sm_nonza_without_sm_is_a_protocol_error() {
    let mut c = online();
    c.feed(R);
    assert!(matches!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::Unexpected { .. })
    ));
}

/// Runs the post-loss reconnection up to the frame after the second stream's features.
fn reconnect(res: Resumption, features: &str) -> (Client, Element) {
    let mut c = Client {
        s: Session::resume(res, Seed::new([8u8; 32]), t(1_000)),
    };
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    let server = ScramServer::start(&auth, false);
    // A fresh nonce from the fresh seed.
    assert!(!server
        .client_first_bare
        .contains(&*Seed::new([7u8; 32]).scram_nonce()));
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let fin = server.finish(&c.one_tx(), PASSWORD).unwrap();
    c.feed(&sasl_frame("success", fin.as_bytes()));
    assert_eq!(
        c.events(),
        vec![Event::Authenticated {
            mechanism: "SCRAM-SHA-1".into()
        }]
    );
    assert!(c.one_tx().is("open", NS_FRAMING));
    c.feed(OPEN);
    c.feed(features);
    let next = c.one_tx();
    (c, next)
}

#[test]
fn sm_resume_after_socket_loss_delivers_every_message_exactly_once() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let m2 = say(&mut c, "two");
    let m3 = say(&mut c, "three");
    let sent = c.tx();
    let m3_frame = sent[4].clone();
    assert!(m3_frame.contains(&m3));
    c.feed(&a(1));
    assert_eq!(
        c.events(),
        vec![Event::Acked {
            message_ids: vec![m1.clone()]
        }]
    );
    // Two stanzas arrive before the socket dies.
    c.feed("<message xmlns='jabber:client' from='romeo@example.net/o' type='chat'><body>a</body></message>");
    c.feed("<message xmlns='jabber:client' from='romeo@example.net/o' type='chat'><body>b</body></message>");
    let _ = c.events();
    c.s.handle_socket_closed();
    assert_eq!(c.closed_reason(), CloseReason::SocketClosed);
    assert!(c.tx().is_empty());

    let res = c.s.take_resumption().expect("resumable");
    assert!(c.s.take_resumption().is_none(), "taken once");
    assert_eq!(res.unacked_len(), 2);
    assert_eq!(res.max_seconds(), Some(600));
    assert_eq!(res.jid().to_string(), "juliet@example.com/balcony");
    let dbg = format!("{res:?}");
    assert!(!dbg.contains(PASSWORD), "{dbg}");

    let (mut c, resume) = reconnect(res, FEATURES_BIND);
    assert!(resume.is("resume", NS_SM), "resume instead of bind");
    assert_eq!(resume.attr("previd"), Some("c2a9f5c1-sm"));
    assert_eq!(resume.attr("h"), Some("2"), "we handled two stanzas");
    // The server got m2 before the socket died, but not m3.
    c.feed("<resumed xmlns='urn:xmpp:sm:3' h='2' previd='c2a9f5c1-sm'/>");
    assert_eq!(
        c.events(),
        vec![
            Event::Acked {
                message_ids: vec![m2.clone()]
            },
            Event::Resumed {
                jid: "juliet@example.com/balcony".parse().unwrap(),
                resent: 1
            }
        ]
    );
    assert!(c.s.is_online());
    assert_eq!(
        c.tx(),
        vec![m3_frame, R.to_owned()],
        "m3 sent again, same id"
    );
    c.feed(&a(3));
    assert_eq!(
        c.events(),
        vec![Event::Acked {
            message_ids: vec![m3]
        }]
    );
    // Counting goes on from the old values.
    c.feed(R);
    assert_eq!(c.tx(), vec![a(2)]);
    let m4 = say(&mut c, "four");
    let _ = c.tx();
    c.feed(&a(4));
    assert_eq!(
        c.events(),
        vec![Event::Acked {
            message_ids: vec![m4]
        }]
    );
}

#[test]
fn sm_resume_refused_hands_back_unacked_then_fresh_session() {
    let mut c = online_sm();
    let _m1 = say(&mut c, "one");
    let m2 = say(&mut c, "two");
    c.s.handle_command(Command::SendPresence {
        show: None,
        status: None,
        priority: 0,
    })
    .unwrap();
    let sent = c.tx();
    let presence_frame = sent[4].clone();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, resume) = reconnect(res, FEATURES_BIND);
    assert!(resume.is("resume", NS_SM));
    // Session expired; the server says it had received one stanza.
    c.feed(
        "<failed xmlns='urn:xmpp:sm:3' h='1'><item-not-found \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
    );
    let evs = c.events();
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert!(matches!(&evs[0], Event::Acked { message_ids } if message_ids.len() == 1));
    assert_eq!(
        evs[1],
        Event::ResumeFailed {
            unacked: vec![
                UnackedStanza::Message {
                    id: m2,
                    to: "romeo@example.net".parse().unwrap(),
                    body: "two".into(),
                    kind: MessageKind::Chat,
                    thread: None,
                },
                UnackedStanza::Other {
                    frame: presence_frame
                },
            ]
        }
    );
    // A fresh bind follows, then SM is enabled again.
    let bind = c.one_tx();
    assert!(bind.get_child("bind", NS_BIND).is_some());
    let id = bind.attr("id").unwrap().to_owned();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/new</jid></bind></iq>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Online {
            jid: "juliet@example.com/new".parse().unwrap()
        }]
    );
    enable(&mut c);
}

#[test]
fn sm_resume_without_sm_offered_falls_back_to_bind() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let _ = c.tx();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, next) = reconnect(res, FEATURES_BIND_NO_SM);
    assert!(next.get_child("bind", NS_BIND).is_some());
    assert!(matches!(
        c.events().as_slice(),
        [Event::ResumeFailed { unacked }] if matches!(&unacked[..], [UnackedStanza::Message { id, .. }] if *id == m1)
    ));
}

#[test]
fn sm_unacked_are_handed_back_after_a_stream_error() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let _ = c.tx();
    c.feed(
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );
    assert!(matches!(c.closed_reason(), CloseReason::StreamError { .. }));
    assert!(
        c.s.take_resumption().is_none(),
        "a stream error ends the SM session"
    );
    let unacked = c.s.take_unacked();
    assert!(matches!(&unacked[..], [UnackedStanza::Message { id, .. }] if *id == m1));
    assert!(c.s.take_unacked().is_empty());
}

#[test]
fn sm_keepalive_timeout_leaves_the_stream_resumable() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let _ = c.tx();
    c.s.handle_timeout(t(15_000));
    assert_eq!(
        c.tx(),
        vec![R.to_owned()],
        "with SM the keepalive is an ack request"
    );
    c.s.handle_timeout(t(23_000));
    assert_eq!(c.closed_reason(), CloseReason::Timeout);
    assert!(
        c.tx().is_empty(),
        "no <close/>: it would end the server's SM session"
    );
    let res = c.s.take_resumption().unwrap();
    assert!(matches!(&res.into_unacked()[..], [UnackedStanza::Message { id, .. }] if *id == m1));
}

#[test]
fn sm_keepalive_answered_by_any_ack() {
    let mut c = online_sm();
    c.s.handle_timeout(t(15_000));
    assert_eq!(c.tx(), vec![R.to_owned()]);
    assert_eq!(c.s.poll_timeout(), Some(t(23_000)));
    c.feed(&a(0));
    assert!(c.events().is_empty());
    assert_eq!(c.s.poll_timeout(), Some(t(30_000)));
    c.s.handle_timeout(t(23_000));
    assert!(c.s.is_online());
}

#[test]
fn sm_close_asks_for_a_last_ack() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let m2 = say(&mut c, "two");
    let _ = c.tx();
    c.s.handle_command(Command::Close).unwrap();
    assert_eq!(
        c.tx(),
        vec![
            R.to_owned(),
            "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned()
        ]
    );
    c.feed(&a(1));
    assert_eq!(
        c.events(),
        vec![Event::Acked {
            message_ids: vec![m1]
        }]
    );
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    assert_eq!(c.closed_reason(), CloseReason::ClosedByUs);
    assert!(matches!(
        &c.s.take_unacked()[..],
        [UnackedStanza::Message { id, .. }] if *id == m2
    ));
}

#[test]
fn sm_clean_close_is_not_resumable() {
    let mut c = online_sm();
    c.s.handle_command(Command::Close).unwrap();
    c.feed("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    assert_eq!(c.closed_reason(), CloseReason::ClosedByUs);
    assert!(c.s.take_resumption().is_none());
    assert!(c.s.take_unacked().is_empty());
}

// ---- XEP-0077 in-band registration ----------------------------------------------------------

fn form_iq(id: &str, query: &str) -> String {
    format!("<iq xmlns='jabber:client' type='result' id='{id}' from='example.com'>{query}</iq>")
}

const PROSODY_REGISTER_FORM: &str = "<query xmlns='jabber:iq:register'>\
    <instructions>Choose a username and password for use with this service.</instructions>\
    <username/><password/><x xmlns='jabber:x:data' type='form'>\
    <title>Creating a new account</title>\
    <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
    <field var='username' type='text-single' label='Username'><required/></field>\
    <field var='password' type='text-private' label='Password'><required/></field>\
    <field var='email' type='text-single' label='Email'/></x></query>";

/// Registration up to the form; returns the client and the form request's id.
fn to_register_form(form: &str) -> (Client, RegistrationForm) {
    let mut c = Client {
        s: Session::register(config(Transport::Secure), seed(), t(0)),
    };
    let _open = c.one_tx();
    c.feed(OPEN);
    c.feed(FEATURES_SHA1_PLAIN);
    let tx = c.tx();
    assert_eq!(tx.len(), 1, "{tx:?}");
    assert!(tx[0].starts_with("<iq xmlns='jabber:client'"), "{}", tx[0]);
    let get = parse_frame(&tx[0], &Limits::default()).unwrap();
    assert_eq!(get.attr("type"), Some("get"));
    assert_eq!(get.attr("to"), Some("example.com"));
    assert!(get.has_child("query", NS_REGISTER));
    c.feed(&form_iq(get.attr("id").unwrap(), form));
    let evs = c.events();
    let [Event::RegistrationForm { form }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    (c, form.clone())
}

fn submit(c: &mut Client, values: Vec<FieldValue>) -> (String, Element) {
    let id =
        c.s.handle_command(Command::SubmitRegistration { values })
            .unwrap()
            .unwrap();
    let set = c.one_tx();
    assert_eq!(set.attr("id"), Some(id.as_str()));
    assert_eq!(set.attr("type"), Some("set"));
    (id, set)
}

fn field_values(set: &Element) -> Vec<(String, String)> {
    set.get_child("query", NS_REGISTER)
        .unwrap()
        .get_child("x", "jabber:x:data")
        .unwrap()
        .children()
        .map(|f| {
            (
                f.attr("var").unwrap().to_owned(),
                f.children()
                    .map(Element::text)
                    .collect::<Vec<_>>()
                    .join("|"),
            )
        })
        .collect()
}

#[test]
fn register_then_log_in_on_the_same_stream() {
    let (mut c, form) = to_register_form(PROSODY_REGISTER_FORM);
    assert!(form.data_form);
    assert_eq!(form.title.as_deref(), Some("Creating a new account"));
    // The person filling the form is not on the negotiation clock.
    assert_eq!(c.s.poll_timeout(), None);
    let (id, set) = submit(
        &mut c,
        vec![FieldValue {
            var: "email".into(),
            values: vec!["juliet@example.org".into()],
        }],
    );
    assert_eq!(
        field_values(&set),
        vec![
            ("FORM_TYPE".to_owned(), "jabber:iq:register".to_owned()),
            ("username".to_owned(), "juliet".to_owned()),
            ("password".to_owned(), PASSWORD.to_owned()),
            ("email".to_owned(), "juliet@example.org".to_owned()),
        ]
    );
    assert_eq!(c.s.poll_timeout(), Some(t(30_000)));
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::Registered]);
    // Straight on to SASL with the mechanisms offered before.
    let auth = c.one_tx();
    assert_eq!(auth.attr("mechanism"), Some("SCRAM-SHA-1"));
    let server = ScramServer::start(&auth, false);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let fin = server.finish(&c.one_tx(), PASSWORD).unwrap();
    c.feed(&sasl_frame("success", fin.as_bytes()));
    let evs = bind(&mut c);
    assert!(matches!(evs.last(), Some(Event::Online { .. })));
}

#[test]
fn registration_conflict_then_retry() {
    let (mut c, _) = to_register_form(PROSODY_REGISTER_FORM);
    let (id, _) = submit(&mut c, vec![]);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}'><error type='cancel'><conflict \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>The requested username already exists.\
         </text></error></iq>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::RegistrationFailed {
            error: StanzaErrorInfo {
                kind: "cancel".into(),
                condition: "conflict".into(),
                text: Some("The requested username already exists.".into())
            }
        }]
    );
    assert!(!c.s.is_closed());
    // The form can be submitted again (e.g. after the user fixed a field).
    let (id, _) = submit(&mut c, vec![]);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}'><error type='modify'><not-acceptable \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    ));
    assert!(matches!(
        c.events().as_slice(),
        [Event::RegistrationFailed { error }] if error.condition == "not-acceptable"
    ));
    assert_eq!(c.s.handle_command(Command::Close), Ok(None));
}

#[test]
fn registration_with_captcha() {
    let (mut c, form) = to_register_form(
        "<query xmlns='jabber:iq:register'><instructions>Use x:data</instructions>\
         <x xmlns='jabber:x:data' type='form'>\
         <field type='hidden' var='FORM_TYPE'><value>urn:xmpp:captcha</value></field>\
         <field type='hidden' var='challenge'><value>2834871</value></field>\
         <field type='text-single' var='username'><required/></field>\
         <field type='text-private' var='password'><required/></field>\
         <field type='text-single' var='ocr' label='Enter the text you see'><required/>\
         <media xmlns='urn:xmpp:media-element'><uri type='image/png'>cid:sha1+ab@bob.xmpp.org</uri>\
         </media></field></x><data xmlns='urn:xmpp:bob' cid='sha1+ab@bob.xmpp.org' \
         type='image/png'>iVBORw0KGgo=</data></query>",
    );
    assert_eq!(form.form_type(), Some("urn:xmpp:captcha"));
    assert_eq!(form.media[0].data, b"\x89PNG\r\n\x1a\n");
    // Forgetting the answer is caught before anything is sent.
    assert_eq!(
        c.s.handle_command(Command::SubmitRegistration { values: vec![] }),
        Err(CommandError::InvalidSubmission(
            crate::register::SubmitError::MissingField("ocr".into())
        ))
    );
    assert!(c.tx().is_empty());
    let (_, set) = submit(
        &mut c,
        vec![FieldValue {
            var: "ocr".into(),
            values: vec!["7nHL3".into()],
        }],
    );
    let values = field_values(&set);
    assert!(values.contains(&("challenge".into(), "2834871".into())));
    assert!(values.contains(&("ocr".into(), "7nHL3".into())));
}

#[test]
fn registration_unavailable_and_misuse() {
    let mut c = Client {
        s: Session::register(config(Transport::Secure), seed(), t(0)),
    };
    assert_eq!(
        c.s.handle_command(Command::SubmitRegistration { values: vec![] }),
        Err(CommandError::NoRegistrationForm)
    );
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_SHA1_PLAIN);
    let get = c.one_tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{}'><error type='cancel'>\
         <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        get.attr("id").unwrap()
    ));
    assert_eq!(
        c.closed_reason(),
        CloseReason::RegistrationUnavailable {
            error: StanzaErrorInfo {
                kind: "cancel".into(),
                condition: "service-unavailable".into(),
                text: None
            }
        }
    );
    // A malformed form is a protocol error.
    let mut c = Client {
        s: Session::register(config(Transport::Secure), seed(), t(0)),
    };
    let _ = c.tx();
    c.feed(OPEN);
    c.feed(FEATURES_SHA1_PLAIN);
    let get = c.one_tx();
    c.feed(&form_iq(
        get.attr("id").unwrap(),
        "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'>\
         <field type='text-single'/></x></query>",
    ));
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::BadForm)
    );
}

#[test]
fn password_change_is_used_for_resumption() {
    let mut c = online_sm();
    let new = "n3w-pa55";
    let cmd = Command::ChangePassword {
        new: Password::new(new),
    };
    assert!(!format!("{cmd:?}").contains(new));
    let id = c.s.handle_command(cmd).unwrap().unwrap();
    let iq = c.one_tx();
    let q = iq.get_child("query", NS_REGISTER).unwrap();
    assert_eq!(
        q.get_child("username", NS_REGISTER).unwrap().text(),
        "juliet"
    );
    assert_eq!(q.get_child("password", NS_REGISTER).unwrap().text(), new);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::RequestSucceeded { id }]);
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let mut c = Client {
        s: Session::resume(res, Seed::new([8u8; 32]), t(0)),
    };
    let auth = to_auth(&mut c, FEATURES_SHA1_PLAIN);
    let server = ScramServer::start(&auth, false);
    c.feed(&sasl_frame("challenge", server.server_first.as_bytes()));
    let response = c.one_tx();
    assert!(server.finish(&response, PASSWORD).is_none());
    assert!(server.finish(&response, new).is_some());
}

#[test]
fn remove_account() {
    let mut c = online();
    let id = c.s.handle_command(Command::RemoveAccount).unwrap().unwrap();
    let iq = c.one_tx();
    assert_eq!(iq.attr("to"), Some("example.com"));
    assert!(iq
        .get_child("query", NS_REGISTER)
        .unwrap()
        .has_child("remove", NS_REGISTER));
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::RequestSucceeded { id }]);
    c.feed(
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-authorized \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );
    assert!(
        matches!(c.closed_reason(), CloseReason::StreamError { condition, .. } if condition == "not-authorized")
    );
}

// ---- robustness -------------------------------------------------------------------------------

#[test]
fn password_is_dropped_when_no_longer_needed() {
    let c = online();
    assert!(format!("{:?}", c.s).contains("password: None"));
    let c = online_sm();
    assert!(format!("{:?}", c.s).contains("password: Some(Password(<redacted>))"));
}

/// Records the server frames of a full Prosody-like session (login, SM, stanzas) for the
/// mutation test below.
fn transcript() -> Vec<String> {
    let mut frames = Vec::new();
    let mut c = Client::new(config(Transport::Secure));
    let mut feed = |c: &mut Client, f: String| {
        c.feed(&f);
        frames.push(f);
    };
    let _ = c.tx();
    feed(&mut c, OPEN.into());
    feed(&mut c, FEATURES_SHA1_PLAIN.into());
    let auth = c.one_tx();
    let server = ScramServer::start(&auth, false);
    feed(
        &mut c,
        sasl_frame("challenge", server.server_first.as_bytes()),
    );
    let fin = server.finish(&c.one_tx(), PASSWORD).unwrap();
    feed(&mut c, sasl_frame("success", fin.as_bytes()));
    let _ = c.tx();
    feed(&mut c, OPEN.into());
    feed(&mut c, FEATURES_BIND.into());
    let id = c.one_tx().attr("id").unwrap().to_owned();
    feed(
        &mut c,
        format!(
            "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
             xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid>\
             </bind></iq>"
        ),
    );
    feed(&mut c, ENABLED.into());
    for f in [
        "<message xmlns='jabber:client' from='romeo@example.net/o' type='chat' id='x1'>\
         <body>Hi &amp; bye</body><thread>t</thread></message>",
        "<presence xmlns='jabber:client' from='romeo@example.net/o'><show>dnd</show>\
         <priority>2</priority></presence>",
        "<presence xmlns='jabber:client' from='nurse@example.com' type='subscribe'/>",
        "<iq xmlns='jabber:client' type='set' id='push'><query xmlns='jabber:iq:roster' \
         ver='v2'><item jid='nurse@example.com' subscription='from' approved='true'>\
         <group>G</group></item></query></iq>",
        "<iq xmlns='jabber:client' type='get' id='ping' from='example.com'><ping \
         xmlns='urn:xmpp:ping'/></iq>",
        "<message xmlns='jabber:client' from='romeo@example.net' type='error' id='m'>\
         <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         </error></message>",
        "<r xmlns='urn:xmpp:sm:3'/>",
        "<a xmlns='urn:xmpp:sm:3' h='0'/>",
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    ] {
        feed(&mut c, f.into());
    }
    assert!(c.s.is_closed(), "the transcript ends with a stream error");
    frames
}

/// Replays `frames` `runs` times, each time with one frame mutated (deterministically), into
/// sessions from `make`; `react` plays the owner. The session must never panic, must end
/// closed (every transcript ends with a stream error) and stay silent after `Closed`.
/// Returns how many runs closed before the last frame.
fn mutate_and_replay(
    frames: &[String],
    runs: usize,
    make: impl Fn() -> Session,
    react: impl Fn(&mut Session, &Event),
) -> usize {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let alphabet: Vec<char> = "<>/='\"&;: x#\u{0}\u{FFFD}1-a".chars().collect();
    let mut closed_early = 0;
    for _ in 0..runs {
        let target = rand(frames.len());
        let mut chars: Vec<char> = frames[target].chars().collect();
        for _ in 0..=rand(3) {
            let at = rand(chars.len());
            match rand(4) {
                0 => chars[at] = alphabet[rand(alphabet.len())],
                1 => chars.truncate(at),
                2 => chars.insert(at, alphabet[rand(alphabet.len())]),
                _ => {
                    let end = (at + rand(40)).min(chars.len());
                    let copy: Vec<char> = chars[at..end].to_vec();
                    chars.splice(at..at, copy);
                }
            }
        }
        let mutated: String = chars.into_iter().collect();
        let mut s = make();
        let mut closed_at = None;
        for (i, f) in frames.iter().enumerate() {
            s.handle_frame(if i == target { &mutated } else { f });
            while let Some(e) = s.poll_event() {
                assert!(closed_at.is_none(), "event after Closed: {e:?}");
                if matches!(e, Event::Closed { .. }) {
                    closed_at = Some(i);
                }
                react(&mut s, &e);
            }
            while s.poll_transmit().is_some() {}
        }
        let closed_at = closed_at.expect("closed");
        assert!(s.is_closed());
        if closed_at + 1 < frames.len() {
            closed_early += 1;
        }
    }
    closed_early
}

#[test]
fn mutated_transcripts_never_panic() {
    let frames = transcript();
    let closed_early = mutate_and_replay(
        &frames,
        400,
        || Session::new(config(Transport::Secure), seed(), t(0)),
        |_, _| {},
    );
    // Many mutations are fatal, many are survivable (dropped stanzas, changed text).
    assert!(closed_early > 40 && closed_early < 360, "{closed_early}");
}

/// The owner's side of registration in the mutation test: fill what is asked.
fn fill_form(s: &mut Session, e: &Event) {
    if let Event::RegistrationForm { form } = e {
        let values = form
            .fields
            .iter()
            .filter(|f| f.kind != "hidden" && f.var != "username" && f.var != "password")
            .map(|f| FieldValue {
                var: f.var.clone(),
                values: vec!["x".into()],
            })
            .collect();
        let _ = s.handle_command(Command::SubmitRegistration { values });
    }
}

#[test]
fn mutated_registration_transcripts_never_panic() {
    let make = || Session::register(config(Transport::Secure), seed(), t(0));
    let mut frames = Vec::new();
    let mut s = make();
    let mut feed = |s: &mut Session, f: String| -> Vec<String> {
        s.handle_frame(&f);
        frames.push(f);
        while let Some(e) = s.poll_event() {
            fill_form(s, &e);
        }
        std::iter::from_fn(|| s.poll_transmit()).collect()
    };
    let _ = s.poll_transmit();
    feed(&mut s, OPEN.into());
    let get = feed(&mut s, FEATURES_SHA1_PLAIN.into());
    let id = parse_frame(&get[0], &Limits::default())
        .unwrap()
        .attr("id")
        .unwrap()
        .to_owned();
    let set = feed(
        &mut s,
        form_iq(
            &id,
            "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'>\
             <field type='hidden' var='FORM_TYPE'><value>urn:xmpp:captcha</value></field>\
             <field type='hidden' var='challenge'><value>2834871</value></field>\
             <field type='text-single' var='username'><required/></field>\
             <field type='text-private' var='password'><required/></field>\
             <field type='list-single' var='color' label='Colour'><option label='Red'>\
             <value>r</value></option><value>r</value></field>\
             <field type='text-single' var='ocr'><required/><media \
             xmlns='urn:xmpp:media-element'><uri type='image/png'>cid:sha1+ab@bob.xmpp.org</uri>\
             </media></field></x><data xmlns='urn:xmpp:bob' cid='sha1+ab@bob.xmpp.org' \
             type='image/png'>iVBORw0KGgo=</data></query>",
        ),
    );
    let id = parse_frame(&set[0], &Limits::default())
        .unwrap()
        .attr("id")
        .unwrap()
        .to_owned();
    let auth = feed(
        &mut s,
        format!("<iq xmlns='jabber:client' type='result' id='{id}'/>"),
    );
    let auth = parse_frame(&auth[0], &Limits::default()).unwrap();
    let server = ScramServer::start(&auth, false);
    let response = feed(
        &mut s,
        sasl_frame("challenge", server.server_first.as_bytes()),
    );
    let response = parse_frame(&response[0], &Limits::default()).unwrap();
    let fin = server.finish(&response, PASSWORD).unwrap();
    feed(&mut s, sasl_frame("success", fin.as_bytes()));
    feed(&mut s, OPEN.into());
    let bind = feed(&mut s, FEATURES_BIND_NO_SM.into());
    let id = parse_frame(&bind[0], &Limits::default())
        .unwrap()
        .attr("id")
        .unwrap()
        .to_owned();
    feed(
        &mut s,
        format!(
            "<iq xmlns='jabber:client' type='result' id='{id}'><bind \
             xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/r</jid></bind></iq>"
        ),
    );
    assert!(s.is_online());
    feed(
        &mut s,
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><reset \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
            .into(),
    );
    assert!(s.is_closed());
    let closed_early = mutate_and_replay(&frames, 200, make, fill_form);
    assert!(closed_early > 20 && closed_early < 180, "{closed_early}");
}

#[test]
fn control_characters_in_commands_do_not_panic() {
    let mut c = online();
    let id =
        c.s.handle_command(Command::SendMessage {
            to: "romeo@example.net".parse().unwrap(),
            body: "nul \u{0} bell \u{7} \u{FFFE}".into(),
            kind: MessageKind::Chat,
            thread: Some("\u{1}".into()),
        })
        .unwrap()
        .unwrap();
    let m = c.one_tx();
    assert_eq!(m.attr("id"), Some(id.as_str()));
    assert_eq!(
        m.get_child("body", NS_CLIENT).unwrap().text(),
        "nul \u{FFFD} bell \u{FFFD} \u{FFFD}"
    );
    c.s.handle_command(Command::SetRosterItem {
        jid: "romeo@example.net".parse().unwrap(),
        name: Some("Ro\u{8}meo".into()),
        groups: vec!["\u{1F}".into()],
    })
    .unwrap();
    let iq = c.one_tx();
    let item = iq
        .get_child("query", NS_ROSTER)
        .unwrap()
        .get_child("item", NS_ROSTER)
        .unwrap();
    assert_eq!(item.attr("name"), Some("Ro\u{FFFD}meo"));
    // A password XML cannot carry is refused, not mangled.
    assert_eq!(
        c.s.handle_command(Command::ChangePassword {
            new: Password::new("bad\u{0}pw")
        }),
        Err(CommandError::UnencodablePassword)
    );
    assert!(c.tx().is_empty());
}

#[test]
fn sm_answers_to_old_requests_arrive_after_resumption() {
    let mut c = online_sm();
    let ping =
        c.s.handle_command(Command::Ping { to: None })
            .unwrap()
            .unwrap();
    let _ = c.tx();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, resume) = reconnect(res, FEATURES_BIND);
    assert!(resume.is("resume", NS_SM));
    // The server had the ping; its answer comes on the new socket.
    c.feed("<resumed xmlns='urn:xmpp:sm:3' h='1' previd='c2a9f5c1-sm'/>");
    assert!(matches!(
        c.events().as_slice(),
        [Event::Resumed { resent: 0, .. }]
    ));
    assert!(c.tx().is_empty());
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{ping}' from='example.com'/>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Pong {
            id: ping,
            from: "example.com".parse().unwrap(),
            // Sent at 0 on the old socket, answered after the resumption at 1 s.
            round_trip: Duration::from_secs(1),
        }]
    );
}

#[test]
fn sm_bad_ack_on_resume_still_hands_back_the_queue() {
    let mut c = online_sm();
    let m1 = say(&mut c, "one");
    let _ = c.tx();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, _) = reconnect(res, FEATURES_BIND);
    c.feed("<resumed xmlns='urn:xmpp:sm:3' h='7' previd='c2a9f5c1-sm'/>");
    assert_eq!(
        c.closed_reason(),
        CloseReason::Protocol(ProtocolError::BadAck)
    );
    assert!(matches!(
        &c.s.take_unacked()[..],
        [UnackedStanza::Message { id, .. }] if *id == m1
    ));
}

#[test]
fn registration_over_insecure_transport_needs_explicit_permission() {
    for allow in [false, true] {
        let mut cfg = config(Transport::Insecure);
        cfg.allow_plain_on_insecure = allow;
        let mut c = Client {
            s: Session::register(cfg, seed(), t(0)),
        };
        let _ = c.tx();
        c.feed(OPEN);
        c.feed(FEATURES_SHA1_PLAIN);
        let get = c.one_tx();
        c.feed(&form_iq(get.attr("id").unwrap(), PROSODY_REGISTER_FORM));
        let _ = c.events();
        let r =
            c.s.handle_command(Command::SubmitRegistration { values: vec![] });
        if allow {
            assert!(matches!(r, Ok(Some(_))));
            assert!(c.tx()[0].contains(PASSWORD));
        } else {
            assert_eq!(r, Err(CommandError::InsecureTransport));
            assert!(c.tx().is_empty(), "the password never leaves");
        }
    }
}

#[test]
fn see_other_host_stream_error() {
    let mut c = Client::new(config(Transport::Secure));
    c.feed(OPEN);
    c.feed(
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><see-other-host \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::1]:5222</see-other-host>\
         </stream:error>",
    );
    assert_eq!(
        c.closed_reason(),
        CloseReason::SeeOtherHost {
            host: "[2001:db8::1]:5222".into()
        }
    );
}

#[test]
fn malformed_requests_are_answered_with_bad_request() {
    let mut c = online();
    // No payload: not a valid request.
    c.feed("<iq xmlns='jabber:client' type='get' id='two' from='romeo@example.net/o'/>");
    assert!(matches!(
        c.events().as_slice(),
        [Event::StanzaDropped { .. }]
    ));
    let err = c.one_tx();
    assert_eq!(err.attr("id"), Some("two"));
    assert_eq!(err.attr("to"), Some("romeo@example.net/o"));
    assert!(err
        .get_child("error", NS_CLIENT)
        .unwrap()
        .has_child("bad-request", stanza::NS_STANZAS));
    // A malformed result is dropped without an answer (RFC 6120 §8.2.3).
    c.feed("<iq xmlns='jabber:client' type='result'/>");
    assert!(matches!(
        c.events().as_slice(),
        [Event::StanzaDropped { .. }]
    ));
    assert!(c.tx().is_empty());
}

#[test]
fn jids_are_normalised_before_comparison() {
    let mut cfg = config(Transport::Secure);
    cfg.jid = "Juliet@Example.COM".parse().unwrap();
    assert_eq!(cfg.jid.to_string(), "juliet@example.com");
    let mut c = Client::new(cfg);
    authenticate(&mut c, FEATURES_SHA1_PLAIN, false);
    let _ = bind(&mut c);
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='set' id='p' from='JULIET@example.com'>{PUSH}</iq>"
    ));
    assert!(matches!(c.events().as_slice(), [Event::RosterPush { .. }]));
}

// ---- extensions: carbons, receipts, chat states, disco/caps, blocking, upload, MUC ------

fn reply_to(c: &mut Client, request: &Element, from: Option<&str>, payload: &str) {
    let id = request.attr("id").unwrap();
    let from = from.map(|f| format!(" from='{f}'")).unwrap_or_default();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'{from}>{payload}</iq>"
    ));
}

#[test]
fn carbons_through_the_session() {
    let mut c = online();
    let id = c.s.handle_command(Command::EnableCarbons).unwrap().unwrap();
    let iq = c.one_tx();
    assert!(iq.has_child("enable", xmpp_parsers::ns::CARBONS));
    reply_to(&mut c, &iq, None, "");
    assert_eq!(c.events(), vec![Event::RequestSucceeded { id }]);
    let carbon = "<message xmlns='jabber:client' from='juliet@example.com' \
        to='juliet@example.com/balcony' type='chat'><received xmlns='urn:xmpp:carbons:2'>\
        <forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' \
        from='romeo@example.net/o' to='juliet@example.com/phone' type='chat' id='x'>\
        <body>hi phone</body></message></forwarded></received></message>";
    c.feed(carbon);
    assert!(matches!(
        c.events().as_slice(),
        [Event::Carbon {
            direction: crate::types::CarbonDirection::Received,
            ..
        }]
    ));
    // The same wrapper from a contact is a forgery: dropped, and never shown as a message.
    c.feed(&carbon.replace("from='juliet@example.com' ", "from='romeo@example.net/o' "));
    assert!(matches!(
        c.events().as_slice(),
        [Event::StanzaDropped { .. }]
    ));
    assert!(c.s.is_online());
}

#[test]
fn send_with_extensions_is_tracked_and_handed_back() {
    let mut c = online_sm();
    let mut m = crate::types::OutgoingMessage::chat("romeo@example.net".parse().unwrap(), "psst");
    m.private = true;
    m.request_receipt = true;
    let id =
        c.s.handle_command(Command::Send { message: m.clone() })
            .unwrap()
            .unwrap();
    let tx = c.tx();
    assert_eq!(tx.len(), 2, "{tx:?}");
    assert!(
        tx[0].contains("<private xmlns='urn:xmpp:carbons:2'/>"),
        "{}",
        tx[0]
    );
    assert!(
        tx[0].contains("<request xmlns='urn:xmpp:receipts'/>"),
        "{}",
        tx[0]
    );
    assert_eq!(tx[1], R);
    // Nothing to send at all is refused.
    let mut empty = m.clone();
    empty.body = None;
    assert!(matches!(
        c.s.handle_command(Command::Send { message: empty }),
        Err(CommandError::Invalid(_))
    ));
    // The receipt comes back.
    c.feed(&format!(
        "<message xmlns='jabber:client' from='romeo@example.net/o'>\
         <received xmlns='urn:xmpp:receipts' id='{id}'/></message>"
    ));
    assert_eq!(
        c.events(),
        vec![Event::Receipt {
            from: "romeo@example.net/o".parse().unwrap(),
            id: id.clone()
        }]
    );
    // Socket lost before the ack: the message comes back whole.
    c.s.handle_socket_closed();
    let _ = c.events();
    let unacked = c.s.take_unacked();
    assert_eq!(
        unacked,
        vec![crate::sm::UnackedStanza::Outgoing { id, message: m }]
    );
}

#[test]
fn receipts_are_sent_on_request_only() {
    let mut c = online();
    c.feed(
        "<message xmlns='jabber:client' from='romeo@example.net/o' type='chat' id='m7'>\
         <body>ack me</body><request xmlns='urn:xmpp:receipts'/></message>",
    );
    assert!(matches!(
        c.events().as_slice(),
        [Event::Message {
            receipt_requested: true,
            ..
        }]
    ));
    assert!(c.tx().is_empty(), "no automatic receipt");
    c.s.handle_command(Command::SendReceipt {
        to: "romeo@example.net/o".parse().unwrap(),
        id: "m7".into(),
    })
    .unwrap();
    let r = c.one_tx();
    assert_eq!(r.attr("to"), Some("romeo@example.net/o"));
    assert_eq!(
        r.get_child("received", "urn:xmpp:receipts")
            .unwrap()
            .attr("id"),
        Some("m7")
    );
}

#[test]
fn disco_is_answered_and_caps_announced() {
    let mut c = online();
    c.s.handle_command(Command::SendPresence {
        show: None,
        status: None,
        priority: 0,
    })
    .unwrap();
    let p = c.one_tx();
    let caps = p.get_child("c", xmpp_parsers::ns::CAPS).unwrap();
    let node = format!(
        "{}#{}",
        caps.attr("node").unwrap(),
        caps.attr("ver").unwrap()
    );
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='get' id='d1' from='romeo@example.net/o'>\
         <query xmlns='http://jabber.org/protocol/disco#info' node='{node}'/></iq>"
    ));
    let answer = c.one_tx();
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(answer.attr("to"), Some("romeo@example.net/o"));
    let q = answer
        .get_child("query", xmpp_parsers::ns::DISCO_INFO)
        .unwrap();
    assert_eq!(q.attr("node"), Some(node.as_str()));
    // The answer hashes to the ver we announced (XEP-0115 §5.4).
    let info = xmpp_parsers::disco::DiscoInfoResult::try_from(q.clone()).unwrap();
    let hash = xmpp_parsers::caps::hash_caps(
        &xmpp_parsers::caps::compute_disco(&info),
        xmpp_parsers::hashes::Algo::Sha_1,
    )
    .unwrap();
    assert_eq!(B64.encode(hash.hash), caps.attr("ver").unwrap());
    c.feed(
        "<iq xmlns='jabber:client' type='get' id='d2' from='romeo@example.net/o'>\
         <query xmlns='http://jabber.org/protocol/disco#info' node='other#x'/></iq>",
    );
    assert_eq!(c.one_tx().attr("type"), Some("error"));
    c.feed(
        "<iq xmlns='jabber:client' type='get' id='d3' from='romeo@example.net/o'>\
         <query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    );
    assert_eq!(c.one_tx().attr("type"), Some("result"));
}

#[test]
fn disco_queries_accept_answers_only_from_the_entity_asked() {
    let mut c = online();
    let id =
        c.s.handle_command(Command::QueryDiscoInfo {
            to: "upload.example.com".parse().unwrap(),
            node: None,
        })
        .unwrap()
        .unwrap();
    let q = c.one_tx();
    assert_eq!(q.attr("to"), Some("upload.example.com"));
    let payload = "<query xmlns='http://jabber.org/protocol/disco#info'>\
        <identity category='store' type='file'/><feature var='urn:xmpp:http:upload:0'/></query>";
    // A forgery from someone else is ignored.
    reply_to(&mut c, &q, Some("evil.example.net"), payload);
    assert!(c.events().is_empty());
    reply_to(&mut c, &q, Some("upload.example.com"), payload);
    let evs = c.events();
    assert!(
        matches!(&evs[..], [Event::DiscoInfo { id: i, features, identities, .. }]
            if *i == id && features == &["urn:xmpp:http:upload:0"] && identities[0].kind == "file"),
        "{evs:?}"
    );
    // Items of our server: the server may answer without `from`.
    let id =
        c.s.handle_command(Command::QueryDiscoItems {
            to: "example.com".parse().unwrap(),
            node: None,
        })
        .unwrap()
        .unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        None,
        "<query xmlns='http://jabber.org/protocol/disco#items'>\
         <item jid='conference.example.com'/></query>",
    );
    assert!(
        matches!(&c.events()[..], [Event::DiscoItems { id: i, items, .. }]
        if *i == id && items.len() == 1)
    );
    // An error answer from the entity asked.
    let id =
        c.s.handle_command(Command::QueryDiscoInfo {
            to: "romeo@example.net/o".parse().unwrap(),
            node: None,
        })
        .unwrap()
        .unwrap();
    let _ = c.tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{id}' from='romeo@example.net/o'>\
         <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         </error></iq>"
    ));
    assert!(
        matches!(&c.events()[..], [Event::RequestFailed { id: i, error }]
        if *i == id && error.condition == "item-not-found")
    );
}

#[test]
fn blocking_list_commands_and_pushes() {
    let mut c = online();
    assert!(matches!(
        c.s.handle_command(Command::Block { jids: vec![] }),
        Err(CommandError::Invalid(_))
    ));
    c.s.handle_command(Command::RequestBlocklist).unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        None,
        "<blocklist xmlns='urn:xmpp:blocking'><item jid='spam@example.org'/></blocklist>",
    );
    assert_eq!(
        c.events(),
        vec![Event::Blocklist {
            jids: vec!["spam@example.org".parse().unwrap()]
        }]
    );
    let id =
        c.s.handle_command(Command::Block {
            jids: vec!["troll@example.org".parse().unwrap()],
        })
        .unwrap()
        .unwrap();
    let _ = c.tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}'/>"
    ));
    assert_eq!(c.events(), vec![Event::RequestSucceeded { id }]);
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='push1' to='juliet@example.com/balcony'>\
         <block xmlns='urn:xmpp:blocking'><item jid='troll@example.org'/></block></iq>",
    );
    assert_eq!(
        c.events(),
        vec![Event::BlocklistPush {
            blocked: true,
            jids: vec!["troll@example.org".parse().unwrap()]
        }]
    );
    assert_eq!(c.one_tx().attr("type"), Some("result"));
    // A push from anyone else is refused.
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='push2' from='troll@example.org'>\
         <unblock xmlns='urn:xmpp:blocking'/></iq>",
    );
    assert!(c.events().is_empty());
    assert_eq!(c.one_tx().attr("type"), Some("error"));
}

#[test]
fn upload_slot_request() {
    let mut c = online();
    let id =
        c.s.handle_command(Command::RequestUploadSlot {
            service: "upload.example.com".parse().unwrap(),
            filename: "cat.jpg".into(),
            size: 1000,
            content_type: Some("image/jpeg".into()),
        })
        .unwrap()
        .unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        Some("upload.example.com"),
        "<slot xmlns='urn:xmpp:http:upload:0'><put url='https://up.example.com/1/cat.jpg'>\
         <header name='Authorization'>Bearer x</header></put>\
         <get url='https://up.example.com/1/cat.jpg'/></slot>",
    );
    assert_eq!(
        c.events(),
        vec![Event::UploadSlot {
            id,
            put_url: "https://up.example.com/1/cat.jpg".into(),
            put_headers: vec![("Authorization".into(), "Bearer x".into())],
            get_url: "https://up.example.com/1/cat.jpg".into(),
        }]
    );
}

#[test]
fn muc_join_conflict_retry_created_room_and_leave() {
    let mut c = online();
    let room: BareJid = "coven@chat.example.com".parse().unwrap();
    let join = |c: &mut Client, nick: &str| {
        c.s.handle_command(Command::JoinRoom {
            room: room.clone(),
            nick: nick.into(),
            password: None,
            history: Some(0),
            config: None,
        })
        .unwrap();
        c.one_tx()
    };
    let p = join(&mut c, "juliet");
    assert_eq!(p.attr("to"), Some("coven@chat.example.com/juliet"));
    c.feed(
        "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet' type='error'>\
         <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>\
         </presence>",
    );
    assert!(
        matches!(&c.events()[..], [Event::RoomJoinFailed { error, .. }] if error.condition == "conflict")
    );
    // Not in the room any more: leaving is refused; presence from it is ordinary again.
    assert!(matches!(
        c.s.handle_command(Command::LeaveRoom {
            room: room.clone(),
            status: None
        }),
        Err(CommandError::Invalid(_))
    ));
    join(&mut c, "juliet2");
    c.feed(
        "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet2'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/>\
         <status code='110'/><status code='201'/></x></presence>",
    );
    let evs = c.events();
    assert!(
        matches!(&evs[..], [Event::Occupant { occupant, .. }] if occupant.is_self),
        "{evs:?}"
    );
    // The session accepts the default configuration of the new room; the room is locked
    // for others until the room agrees (Prosody), so `RoomJoined` waits for that.
    let config = c.one_tx();
    assert_eq!(config.attr("to"), Some("coven@chat.example.com"));
    assert!(config.has_child("query", "http://jabber.org/protocol/muc#owner"));
    // Not from the room: ignored.
    reply_to(&mut c, &config, Some("example.com"), "");
    assert!(c.events().is_empty());
    reply_to(&mut c, &config, Some("coven@chat.example.com"), "");
    let evs = c.events();
    assert!(
        matches!(&evs[..], [Event::RoomJoined { created: true, nick, .. }] if nick == "juliet2"),
        "{evs:?}"
    );
    c.feed(
        "<message xmlns='jabber:client' from='coven@chat.example.com/juliet2' type='groupchat'>\
         <subject>Balcony</subject></message>",
    );
    assert!(
        matches!(&c.events()[..], [Event::RoomSubject { subject, .. }] if subject == "Balcony")
    );
    c.feed(
        "<message xmlns='jabber:client' from='coven@chat.example.com/romeo' type='groupchat' \
         id='g1'><body>hello all</body></message>",
    );
    assert!(
        matches!(&c.events()[..], [Event::Message { kind: MessageKind::Groupchat, body: Some(b), .. }] if b == "hello all")
    );
    c.s.handle_command(Command::SetRoomSubject {
        room: room.clone(),
        subject: "New".into(),
    })
    .unwrap();
    assert_eq!(c.one_tx().attr("type"), Some("groupchat"));
    c.s.handle_command(Command::LeaveRoom {
        room: room.clone(),
        status: None,
    })
    .unwrap();
    let leave = c.one_tx();
    assert_eq!(leave.attr("to"), Some("coven@chat.example.com/juliet2"));
    c.feed(
        "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet2' type='unavailable'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='none'/>\
         <status code='110'/></x></presence>",
    );
    assert_eq!(
        c.events(),
        vec![Event::RoomLeft {
            room: room.clone(),
            removed: None
        }]
    );
    assert!(matches!(
        c.s.handle_command(Command::SetRoomSubject {
            room,
            subject: "x".into()
        }),
        Err(CommandError::Invalid(_))
    ));
}

#[test]
fn rooms_survive_resumption() {
    let join = |c: &mut Client| {
        c.s.handle_command(Command::JoinRoom {
            room: "coven@chat.example.com".parse().unwrap(),
            nick: "juliet".into(),
            password: None,
            history: None,
            config: None,
        })
        .unwrap();
        let _ = c.tx();
        c.feed(
            "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' \
             role='participant'/><status code='110'/></x></presence>",
        );
        assert!(matches!(c.events().last(), Some(Event::RoomJoined { .. })));
        let _ = c.tx();
    };
    let occupant = "<presence xmlns='jabber:client' from='coven@chat.example.com/romeo'>\
        <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' \
        role='participant'/></x></presence>";

    let mut c = online_sm();
    join(&mut c);
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, resume) = reconnect(res, FEATURES_BIND);
    let h = resume.attr("h").unwrap().to_owned();
    c.feed(&format!(
        "<resumed xmlns='urn:xmpp:sm:3' h='{h}' previd='c2a9f5c1-sm'/>"
    ));
    let _ = c.events();
    let _ = c.tx();
    // Still in the room: its presence is an occupant, not a contact's presence.
    c.feed(occupant);
    assert!(
        matches!(&c.events()[..], [Event::Occupant { room, occupant, .. }]
        if room.to_string() == "coven@chat.example.com" && occupant.nick == "romeo")
    );
}

#[test]
fn invalid_extension_results_are_dropped_not_fatal() {
    let mut c = online();
    // A disco#info answer that is not one.
    c.s.handle_command(Command::QueryDiscoInfo {
        to: "example.com".parse().unwrap(),
        node: None,
    })
    .unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        Some("example.com"),
        "<query xmlns='urn:example:other'/>",
    );
    assert!(matches!(&c.events()[..], [Event::StanzaDropped { .. }]));
    // Over wss://, an upload slot with plain http:// URLs is refused.
    c.s.handle_command(Command::RequestUploadSlot {
        service: "upload.example.com".parse().unwrap(),
        filename: "a".into(),
        size: 1,
        content_type: None,
    })
    .unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        Some("upload.example.com"),
        "<slot xmlns='urn:xmpp:http:upload:0'><put url='http://up.example.com/a'/>\
         <get url='http://up.example.com/a'/></slot>",
    );
    assert!(matches!(&c.events()[..], [Event::StanzaDropped { .. }]));
    // A blocklist with an invalid JID.
    c.s.handle_command(Command::RequestBlocklist).unwrap();
    let q = c.one_tx();
    reply_to(
        &mut c,
        &q,
        None,
        "<blocklist xmlns='urn:xmpp:blocking'><item jid='@@'/></blocklist>",
    );
    assert!(matches!(&c.events()[..], [Event::StanzaDropped { .. }]));
    // A blocking push with an invalid JID is refused with bad-request.
    c.feed(
        "<iq xmlns='jabber:client' type='set' id='p'><block xmlns='urn:xmpp:blocking'>\
         <item jid='@@'/></block></iq>",
    );
    assert!(matches!(&c.events()[..], [Event::StanzaDropped { .. }]));
    let err = c.one_tx();
    assert_eq!(err.attr("type"), Some("error"));
    assert!(err
        .get_child("error", NS_CLIENT)
        .unwrap()
        .has_child("bad-request", stanza::NS_STANZAS));
    // Room presence of a type rooms never send.
    c.s.handle_command(Command::JoinRoom {
        room: "r@chat.example.com".parse().unwrap(),
        nick: "n".into(),
        password: None,
        history: None,
        config: None,
    })
    .unwrap();
    let _ = c.tx();
    c.feed("<presence xmlns='jabber:client' from='r@chat.example.com/x' type='subscribe'/>");
    assert!(matches!(&c.events()[..], [Event::StanzaDropped { .. }]));
    assert!(c.s.is_online());
}

#[test]
fn rooms_are_reported_left_when_resumption_fails() {
    let mut c = online_sm();
    c.s.handle_command(Command::JoinRoom {
        room: "coven@chat.example.com".parse().unwrap(),
        nick: "juliet".into(),
        password: None,
        history: None,
        config: None,
    })
    .unwrap();
    let _ = c.tx();
    c.feed(
        "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' \
         role='participant'/><status code='110'/></x></presence>",
    );
    let _ = c.events();
    c.s.handle_socket_closed();
    let _ = c.events();
    let res = c.s.take_resumption().unwrap();
    let (mut c, _) = reconnect(res, FEATURES_BIND);
    c.feed(
        "<failed xmlns='urn:xmpp:sm:3'><item-not-found \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
    );
    let evs = c.events();
    assert!(
        evs.contains(&Event::RoomLeft {
            room: "coven@chat.example.com".parse().unwrap(),
            removed: Some("connection-lost".into())
        }),
        "{evs:?}"
    );
    // The room is forgotten: leaving it is refused once online again.
    let bind = c.one_tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{}'><bind \
         xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid>\
         </bind></iq>",
        bind.attr("id").unwrap()
    ));
    assert!(c.s.is_online());
    assert!(matches!(
        c.s.handle_command(Command::LeaveRoom {
            room: "coven@chat.example.com".parse().unwrap(),
            status: None
        }),
        Err(CommandError::Invalid(_))
    ));
}

/// The configuration form Prosody 0.12 sends for a new room (shortened).
const PROSODY_ROOM_FORM: &str = "<query xmlns='http://jabber.org/protocol/muc#owner'>\
    <x xmlns='jabber:x:data' type='form'>\
    <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
    <field var='muc#roomconfig_roomname' type='text-single'/>\
    <field var='muc#roomconfig_persistentroom' type='boolean'><value>0</value></field>\
    <field var='muc#roomconfig_membersonly' type='boolean'><value>0</value></field>\
    <field var='muc#roomconfig_roomsecret' type='text-private'/>\
    </x></query>";

#[test]
fn a_created_room_gets_the_settings_asked_for_or_opens_as_an_instant_room() {
    let created = |c: &mut Client, room: &str, config: Option<RoomConfig>| {
        c.s.handle_command(Command::JoinRoom {
            room: room.parse().unwrap(),
            nick: "juliet".into(),
            password: config.as_ref().and_then(|c| c.password.clone()),
            history: None,
            config,
        })
        .unwrap();
        let join = c.one_tx();
        c.feed(&format!(
            "<presence xmlns='jabber:client' from='{room}/juliet'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' \
             role='moderator'/><status code='110'/><status code='201'/></x></presence>"
        ));
        let _ = c.events();
        join
    };
    let settings = RoomConfig {
        password: Some(Password::new("cauldron burn")),
        members_only: true,
        persistent: true,
    };
    assert!(!format!("{settings:?}").contains("cauldron"));
    let mut c = online();
    let join = created(&mut c, "coven@chat.example.com", Some(settings.clone()));
    assert!(serialise(&join).contains("<password>cauldron burn</password>"));
    // The session asks for the form, not the instant room.
    let get = c.one_tx();
    assert_eq!(get.attr("type"), Some("get"));
    // A form from someone else than the room is ignored.
    reply_to(&mut c, &get, Some("example.com"), PROSODY_ROOM_FORM);
    assert!(c.events().is_empty() && c.tx().is_empty());
    reply_to(
        &mut c,
        &get,
        Some("coven@chat.example.com"),
        PROSODY_ROOM_FORM,
    );
    let set = c.one_tx();
    let submitted = serialise(&set);
    assert_eq!(set.attr("type"), Some("set"));
    for wanted in [
        "<value>cauldron burn</value>",
        "var='muc#roomconfig_membersonly'",
        "var='muc#roomconfig_persistentroom'",
        "type='submit'",
    ] {
        assert!(submitted.contains(wanted), "{wanted} in {submitted}");
    }
    // Prosody's form has no `passwordprotectedroom`: none is invented.
    assert!(!submitted.contains("passwordprotectedroom"), "{submitted}");
    assert!(c.events().is_empty(), "RoomJoined waits for the room");
    reply_to(&mut c, &set, Some("coven@chat.example.com"), "");
    assert!(matches!(
        &c.events()[..],
        [Event::RoomJoined { created: true, .. }]
    ));

    // A form that is not a room configuration form: the instant room, and it is said.
    let _ = created(&mut c, "odd@chat.example.com", Some(settings.clone()));
    let get = c.one_tx();
    reply_to(
        &mut c,
        &get,
        Some("odd@chat.example.com"),
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' \
         type='form'><field var='FORM_TYPE' type='hidden'><value>urn:example</value></field>\
         </x></query>",
    );
    assert!(
        matches!(&c.events()[..], [Event::RoomNotConfigured { reason, .. }] if reason.contains("not a room"))
    );
    let instant = c.one_tx();
    assert!(serialise(&instant).contains("type='submit'"));
    assert!(!serialise(&instant).contains("cauldron"));
    reply_to(&mut c, &instant, Some("odd@chat.example.com"), "");
    assert!(matches!(
        &c.events()[..],
        [Event::RoomJoined { created: true, .. }]
    ));

    // The form request refused: the instant room.
    let _ = created(&mut c, "err@chat.example.com", Some(settings.clone()));
    let get = c.one_tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{}' from='err@chat.example.com'>\
         <error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         </error></iq>",
        get.attr("id").unwrap()
    ));
    assert!(matches!(&c.events()[..], [Event::RoomNotConfigured { .. }]));
    let instant = c.one_tx();
    reply_to(&mut c, &instant, Some("err@chat.example.com"), "");
    assert!(matches!(
        &c.events()[..],
        [Event::RoomJoined { created: true, .. }]
    ));

    // The filled-in form refused: the instant room rather than a locked one.
    let _ = created(&mut c, "no@chat.example.com", Some(settings));
    let get = c.one_tx();
    reply_to(&mut c, &get, Some("no@chat.example.com"), PROSODY_ROOM_FORM);
    let set = c.one_tx();
    c.feed(&format!(
        "<iq xmlns='jabber:client' type='error' id='{}' from='no@chat.example.com'>\
         <error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         </error></iq>",
        set.attr("id").unwrap()
    ));
    assert!(
        matches!(&c.events()[..], [Event::RoomNotConfigured { reason, .. }] if reason.contains("not-acceptable"))
    );
    let instant = c.one_tx();
    reply_to(&mut c, &instant, Some("no@chat.example.com"), "");
    assert!(matches!(
        &c.events()[..],
        [Event::RoomJoined { created: true, .. }]
    ));

    // Without settings: the instant room straight away, as before.
    let _ = created(
        &mut c,
        "plain@chat.example.com",
        Some(RoomConfig::default()),
    );
    let instant = c.one_tx();
    assert_eq!(instant.attr("type"), Some("set"));
}

#[test]
fn invitations_are_reported_and_sent_through_the_room() {
    let mut c = online();
    c.feed(
        "<message xmlns='jabber:client' from='coven@chat.example.com' to='juliet@example.com'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><invite from='romeo@example.net/orchard'>\
         <reason>Come</reason></invite><password>cauldronburn</password></x>\
         <body>romeo invites you</body></message>",
    );
    let evs = c.events();
    assert!(
        matches!(&evs[..], [Event::RoomInvitation { room, from: Some(from), reason: Some(r), password: Some(p), mediated: true }]
            if room.to_string() == "coven@chat.example.com" && from.to_string() == "romeo@example.net/orchard"
            && r == "Come" && *p == Password::new("cauldronburn")),
        "{evs:?}"
    );
    assert!(!format!("{evs:?}").contains("cauldronburn"));
    // Declining goes back through the room, to the inviter.
    c.s.handle_command(Command::DeclineInvitation {
        room: "coven@chat.example.com".parse().unwrap(),
        to: "romeo@example.net/orchard".parse().unwrap(),
        reason: None,
    })
    .unwrap();
    let decline = c.one_tx();
    assert_eq!(decline.attr("to"), Some("coven@chat.example.com"));
    assert!(serialise(&decline).contains("<decline to='romeo@example.net/orchard'"));
    // Inviting needs the room.
    let room: BareJid = "coven@chat.example.com".parse().unwrap();
    assert!(matches!(
        c.s.handle_command(Command::InviteToRoom {
            room: room.clone(),
            to: "romeo@example.net".parse().unwrap(),
            reason: None,
        }),
        Err(CommandError::Invalid(_))
    ));
    c.s.handle_command(Command::JoinRoom {
        room: room.clone(),
        nick: "juliet".into(),
        password: None,
        history: None,
        config: None,
    })
    .unwrap();
    let _ = c.tx();
    c.feed(
        "<presence xmlns='jabber:client' from='coven@chat.example.com/juliet'>\
         <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' \
         role='participant'/><status code='110'/></x></presence>",
    );
    let _ = c.events();
    let id =
        c.s.handle_command(Command::InviteToRoom {
            room,
            to: "romeo@example.net".parse().unwrap(),
            reason: Some("Join us".into()),
        })
        .unwrap()
        .unwrap();
    let invite = c.one_tx();
    assert_eq!(invite.attr("id"), Some(id.as_str()));
    let text = serialise(&invite);
    assert!(
        text.contains("<invite to='romeo@example.net'>") && text.contains("Join us"),
        "{text}"
    );
    // A direct invitation (XEP-0249) from anyone.
    c.feed(
        "<message xmlns='jabber:client' from='crone@example.org/desk' to='juliet@example.com'>\
         <x xmlns='jabber:x:conference' jid='darkcave@chat.example.org' reason='Hey'/></message>",
    );
    assert!(matches!(
        &c.events()[..],
        [Event::RoomInvitation {
            mediated: false,
            password: None,
            from: Some(_),
            ..
        }]
    ));
}
