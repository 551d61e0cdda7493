//! SASL SCRAM-SHA-1 and SCRAM-SHA-256 client (RFC 5802, RFC 7677), without channel binding,
//! and PLAIN (RFC 4616).
//!
//! One type per exchange step, each consumed by the next:
//! [`ScramClient`] → [`AwaitingServerFirst`] → [`AwaitingServerFinal`] → verified.
//! The server's signature is always checked (in constant time): a server that does not
//! know the password cannot complete the exchange.
//!
//! The `sasl` crate was not used: its nonce injection is test-only (it reads `getrandom`
//! itself), its password type derives `Debug`, and it pins older RustCrypto majors.

use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::credentials::Password;

/// Fewest PBKDF2 iterations we accept from a server (RFC 7677 §4 recommends at least 4096).
pub const MIN_ITERATIONS: u32 = 4096;
/// Most PBKDF2 iterations we accept, so a hostile server cannot stall the client.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-1.
    Sha1,
    /// SCRAM-SHA-256.
    Sha256,
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            Self::Sha1 => "SCRAM-SHA-1",
            Self::Sha256 => "SCRAM-SHA-256",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallbacks
        // only satisfy the type checker.
        Zeroizing::new(match self {
            Self::Sha1 => match Hmac::<Sha1>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            Self::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        })
    }

    fn hash(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
        })
    }

    /// `Hi()` of RFC 5802 §2.2: PBKDF2 with HMAC, one output block.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<Vec<u8>> {
        match self {
            Self::Sha1 => hi::<Hmac<Sha1>>(password, salt, iterations),
            Self::Sha256 => hi::<Hmac<Sha256>>(password, salt, iterations),
        }
    }
}

/// PBKDF2 block 1, keying the HMAC once and cloning its state per iteration.
fn hi<M: Mac + KeyInit + Clone>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Zeroizing<Vec<u8>> {
    // HMAC accepts keys of any length; the error branch is unreachable in practice.
    let Ok(keyed) = <M as KeyInit>::new_from_slice(password) else {
        return Zeroizing::new(Vec::new());
    };
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u = Zeroizing::new(mac.finalize().into_bytes().to_vec());
    let mut out = u.clone();
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&u);
        let mut next = mac.finalize().into_bytes();
        u.copy_from_slice(&next);
        zeroize::Zeroize::zeroize(next.as_mut_slice());
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// Why a SCRAM exchange failed. All but [`ScramError::InvalidNonce`] on our side are the
/// server's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// Our client nonce is not printable ASCII without ','. (API misuse.)
    InvalidNonce,
    /// A server message does not follow the SCRAM grammar.
    Malformed(&'static str),
    /// The server's nonce does not extend ours (RFC 5802 §5.1).
    NonceMismatch,
    /// Iteration count below [`MIN_ITERATIONS`] or above [`MAX_ITERATIONS`].
    IterationCount(u32),
    /// The server sent `m=`, a mandatory extension we do not know.
    MandatoryExtension,
    /// The server reported an error in its final message (`e=`).
    ServerError(String),
    /// The server's signature is wrong: it does not know the password, or someone is in the
    /// middle.
    BadServerSignature,
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNonce => f.write_str("client nonce is not printable ASCII"),
            Self::Malformed(what) => write!(f, "malformed SCRAM message: {what}"),
            Self::NonceMismatch => f.write_str("server nonce does not extend the client nonce"),
            Self::IterationCount(i) => write!(f, "unacceptable iteration count {i}"),
            Self::MandatoryExtension => f.write_str("unsupported mandatory SCRAM extension"),
            Self::ServerError(e) => write!(f, "server reported SCRAM error {e}"),
            Self::BadServerSignature => f.write_str("server signature does not verify"),
        }
    }
}

impl std::error::Error for ScramError {}

/// Start of a SCRAM exchange.
pub struct ScramClient {
    hash: ScramHash,
    username: String,
    password: Password,
    nonce: Zeroizing<String>,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.hash.mechanism())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Prepares an exchange for `username` (the JID localpart) with the caller's nonce.
    pub fn new(
        hash: ScramHash,
        username: &str,
        password: Password,
        nonce: &str,
    ) -> Result<Self, ScramError> {
        if nonce.is_empty()
            || !nonce
                .bytes()
                .all(|c| (0x21..=0x7e).contains(&c) && c != b',')
        {
            return Err(ScramError::InvalidNonce);
        }
        Ok(Self {
            hash,
            username: username.to_owned(),
            password,
            nonce: Zeroizing::new(nonce.to_owned()),
        })
    }

    /// The `client-first-message` (gs2 header `n,,`: no channel binding, no authzid).
    pub fn client_first(self) -> (AwaitingServerFirst, Vec<u8>) {
        let bare = format!("n={},r={}", saslname(&self.username), self.nonce.as_str());
        let message = format!("n,,{bare}").into_bytes();
        (
            AwaitingServerFirst {
                hash: self.hash,
                password: self.password,
                nonce: self.nonce,
                client_first_bare: bare,
            },
            message,
        )
    }
}

/// Sent `client-first-message`; waiting for `server-first-message`.
pub struct AwaitingServerFirst {
    hash: ScramHash,
    password: Password,
    nonce: Zeroizing<String>,
    client_first_bare: String,
}

impl fmt::Debug for AwaitingServerFirst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitingServerFirst")
            .field("mechanism", &self.hash.mechanism())
            .finish_non_exhaustive()
    }
}

impl AwaitingServerFirst {
    /// Takes `server-first-message`, returns `client-final-message`.
    pub fn server_first(
        self,
        message: &[u8],
    ) -> Result<(AwaitingServerFinal, Vec<u8>), ScramError> {
        let text = core::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let mut parts = text.split(',');
        let first = parts.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(ScramError::MandatoryExtension);
        }
        let server_nonce = first
            .strip_prefix("r=")
            .ok_or(ScramError::Malformed("no nonce"))?;
        let salt = parts
            .next()
            .and_then(|p| p.strip_prefix("s="))
            .ok_or(ScramError::Malformed("no salt"))?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| ScramError::Malformed("salt is not base64"))?;
        let iterations = parts
            .next()
            .and_then(|p| p.strip_prefix("i="))
            .ok_or(ScramError::Malformed("no iteration count"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count is not a number"))?;
        if !server_nonce.starts_with(self.nonce.as_str()) || server_nonce.len() <= self.nonce.len()
        {
            return Err(ScramError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::IterationCount(iterations));
        }
        let without_proof = format!("c=biws,r={server_nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);

        let h = self.hash;
        let salted = h.hi(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Zeroizing<Vec<u8>> = Zeroizing::new(
            client_key
                .iter()
                .zip(client_signature.iter())
                .map(|(k, s)| k ^ s)
                .collect(),
        );
        let server_key = h.hmac(&salted, b"Server Key");
        let server_signature = h.hmac(&server_key, auth_message.as_bytes());
        let message = format!("{without_proof},p={}", BASE64.encode(proof.as_slice())).into_bytes();
        Ok((AwaitingServerFinal { server_signature }, message))
    }
}

/// Sent `client-final-message`; waiting for `server-final-message` (`v=` or `e=`).
pub struct AwaitingServerFinal {
    server_signature: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for AwaitingServerFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitingServerFinal")
            .finish_non_exhaustive()
    }
}

impl AwaitingServerFinal {
    /// Checks `server-final-message`. `Ok` means the server proved it knows the password.
    pub fn server_final(self, message: &[u8]) -> Result<(), ScramError> {
        let text = core::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let first = text.split(',').next().unwrap_or_default();
        if let Some(err) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(err.chars().take(64).collect()));
        }
        let verifier = first
            .strip_prefix("v=")
            .ok_or(ScramError::Malformed("no verifier"))?;
        let verifier = BASE64
            .decode(verifier)
            .map_err(|_| ScramError::Malformed("verifier is not base64"))?;
        if verifier.len() == self.server_signature.len()
            && bool::from(verifier.ct_eq(self.server_signature.as_slice()))
        {
            Ok(())
        } else {
            Err(ScramError::BadServerSignature)
        }
    }
}

/// RFC 5802 `saslname`: ',' and '=' escaped.
fn saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// The PLAIN initial response `\0username\0password` (RFC 4616), zeroized on drop.
pub fn plain(username: &str, password: &Password) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        username.len() + password.expose().len() + 2,
    ));
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.expose().as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        hash: ScramHash,
        nonce: &'static str,
        client_first: &'static str,
        server_first: &'static str,
        client_final: &'static str,
        server_final: &'static str,
    }

    /// RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256); user "user", password "pencil".
    const VECTORS: [Vector; 2] = [
        Vector {
            hash: ScramHash::Sha1,
            nonce: "fyko+d2lbbFgONRv9qkxdawL",
            client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            client_final: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        },
        Vector {
            hash: ScramHash::Sha256,
            nonce: "rOprNGfwEbeRWgbNEkqO",
            client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        },
    ];

    fn start(v: &Vector) -> (AwaitingServerFirst, Vec<u8>) {
        ScramClient::new(v.hash, "user", Password::new("pencil"), v.nonce)
            .unwrap()
            .client_first()
    }

    #[test]
    fn rfc_vectors() {
        for v in &VECTORS {
            let (s, first) = start(v);
            assert_eq!(first, v.client_first.as_bytes());
            let (s, fin) = s.server_first(v.server_first.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(fin).unwrap(), v.client_final);
            s.server_final(v.server_final.as_bytes()).unwrap();
        }
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        for v in &VECTORS {
            let (s, _) = start(v);
            let (s, _) = s.server_first(v.server_first.as_bytes()).unwrap();
            // Flip one bit of the signature.
            let mut sig = BASE64.decode(&v.server_final[2..]).unwrap();
            sig[0] ^= 1;
            let forged = format!("v={}", BASE64.encode(sig));
            assert_eq!(
                s.server_final(forged.as_bytes()),
                Err(ScramError::BadServerSignature)
            );
        }
        let (s, _) = start(&VECTORS[0]);
        let (s, _) = s.server_first(VECTORS[0].server_first.as_bytes()).unwrap();
        assert_eq!(s.server_final(b"v="), Err(ScramError::BadServerSignature));
    }

    #[test]
    fn wrong_password_gives_different_proof() {
        let v = &VECTORS[1];
        let (s, _) = ScramClient::new(v.hash, "user", Password::new("pencil2"), v.nonce)
            .unwrap()
            .client_first();
        let (s, fin) = s.server_first(v.server_first.as_bytes()).unwrap();
        assert_ne!(String::from_utf8(fin).unwrap(), v.client_final);
        assert_eq!(
            s.server_final(v.server_final.as_bytes()),
            Err(ScramError::BadServerSignature)
        );
    }

    #[test]
    fn hostile_server_first_messages() {
        let v = &VECTORS[1];
        let cases: [(&str, ScramError); 8] = [
            ("", ScramError::Malformed("no nonce")),
            (
                "r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
                ScramError::IterationCount(1),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294967295",
                ScramError::IterationCount(u32::MAX),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096",
                ScramError::Malformed("salt is not base64"),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-5",
                ScramError::Malformed("iteration count is not a number"),
            ),
            (
                "m=ext,r=rOprNGfwEbeRWgbNEkqOx",
                ScramError::MandatoryExtension,
            ),
        ];
        for (msg, expected) in cases {
            let (s, _) = start(v);
            assert_eq!(
                s.server_first(msg.as_bytes()).unwrap_err(),
                expected,
                "{msg}"
            );
        }
        let (s, _) = start(v);
        assert_eq!(
            s.server_first(&[0xff, 0xfe]).unwrap_err(),
            ScramError::Malformed("not UTF-8")
        );
    }

    #[test]
    fn server_error_in_final_message() {
        let v = &VECTORS[0];
        let (s, _) = start(v);
        let (s, _) = s.server_first(v.server_first.as_bytes()).unwrap();
        assert_eq!(
            s.server_final(b"e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
    }

    #[test]
    fn nonce_and_username_rules() {
        for bad in ["", "a,b", "sp ace", "tab\t", "ü"] {
            assert_eq!(
                ScramClient::new(ScramHash::Sha1, "u", Password::new("p"), bad).unwrap_err(),
                ScramError::InvalidNonce
            );
        }
        let (_, first) = ScramClient::new(ScramHash::Sha1, "a=b,c", Password::new("p"), "n")
            .unwrap()
            .client_first();
        assert_eq!(first, b"n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn plain_message_and_debug() {
        let p = Password::new("pencil");
        assert_eq!(plain("user", &p).as_slice(), b"\0user\0pencil");
        let c = ScramClient::new(ScramHash::Sha256, "user", p, "abc").unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("pencil") && !dbg.contains("abc"), "{dbg}");
        let (s, _) = c.client_first();
        assert!(!format!("{s:?}").contains("pencil"));
    }
}
