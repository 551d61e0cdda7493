//! The authenticated key exchange (AKE) of OTR v2 and v3: a SIGMA-style exchange of four
//! messages that leaves both sides with a shared Diffie–Hellman secret, each other's
//! long-term DSA public key and a secure session id.
//!
//! ```text
//!  Bob (initiator)                                   Alice (responder)
//!  AUTHSTATE_NONE                                    AUTHSTATE_NONE
//!  ── DH-Commit: AES_r(g^x), SHA256(g^x) ─────────▶  AWAITING_REVEALSIG
//!  AWAITING_DHKEY ◀───────────────────── DH-Key: g^y
//!  ── Reveal-Signature: r, AES_c(X_B), MAC_m2 ────▶  verify, then
//!  AWAITING_SIG   ◀──── Signature: AES_c'(X_A), MAC_m2'  AUTHSTATE_NONE (+ ENCRYPTED)
//!  verify, then AUTHSTATE_NONE (+ ENCRYPTED)
//! ```
//!
//! # Shape
//!
//! [`Ake`] is a sans-IO state machine. Each authstate of the spec is its own struct
//! (private `AuthState` variants) carrying only what is valid there; every transition consumes
//! the old state.
//!
//! - Inputs: [`Ake::initiate`] (send a DH-Commit, e.g. after a query message) and
//!   [`Ake::handle_message`] for each received AKE message. Each returns an [`AkeStep`]
//!   saying what happened, or an [`Error`]; on error the authstate is unchanged (the spec's
//!   "ignore the message").
//! - Outputs, to drain after every input: [`Ake::poll_transmit`] (messages to send, in
//!   order) and [`Ake::poll_established`] (the result of a completed exchange).
//!
//! Randomness is passed into every call that needs it. Policy (which versions are
//! allowed) and routing between several peer instances are the caller's business; this
//! type checks that v3 messages are addressed to our instance tag and come from the peer
//! instance it is talking to.

use std::collections::VecDeque;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use crate::crypto::group::{DhKeyPair, DhPublicKey};
use crate::crypto::kdf::{aes128_ctr, ct_eq, hmac_sha256, hmac_sha256_160, sha256, AkeKeys};
use crate::crypto::CryptoRng;
use crate::error::{DecodeError, Error, PeerError};
use crate::wire::message::{
    DhCommit, DhKey, EncodedMessage, Header, InstanceTag, MessageBody, RevealSignature, Signature,
    Version,
};
use crate::wire::{encode_data, Codec, Data, Mac, Mpi, PublicKeyWire, Reader, SignatureWire};

/// The key id both sides give their AKE Diffie–Hellman key (libotr: always 1).
pub const AKE_KEYID: u32 = 1;

/// The authstate names of the spec, for display and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthStateName {
    /// AUTHSTATE_NONE.
    None,
    /// AUTHSTATE_AWAITING_DHKEY: we sent a DH-Commit.
    AwaitingDhKey,
    /// AUTHSTATE_AWAITING_REVEALSIG: we sent a DH-Key.
    AwaitingRevealSig,
    /// AUTHSTATE_AWAITING_SIG: we sent a Reveal-Signature.
    AwaitingSig,
}

/// AUTHSTATE_AWAITING_DHKEY: we committed to g^x and wait for g^y.
struct AwaitingDhKey {
    version: Version,
    r: Zeroizing<[u8; 16]>,
    our_dh: DhKeyPair,
    /// Our DH-Commit, kept for retransmission and the hash comparison.
    commit: DhCommit,
}

/// AUTHSTATE_AWAITING_REVEALSIG: we answered a DH-Commit with g^y.
struct AwaitingRevealSig {
    version: Version,
    our_dh: DhKeyPair,
    their_commit: DhCommit,
    /// Our DH-Key, kept for retransmission.
    dh_key: DhKey,
}

/// AUTHSTATE_AWAITING_SIG: we revealed r and sent our signature.
struct AwaitingSig {
    version: Version,
    our_dh: DhKeyPair,
    their_dh: DhPublicKey,
    keys: AkeKeys,
    /// Our Reveal-Signature, kept for retransmission.
    reveal: RevealSignature,
}

/// The authstate: one struct per spec state.
enum AuthState {
    None,
    AwaitingDhKey(AwaitingDhKey),
    AwaitingRevealSig(AwaitingRevealSig),
    AwaitingSig(AwaitingSig),
}

impl AuthState {
    fn name(&self) -> AuthStateName {
        match self {
            AuthState::None => AuthStateName::None,
            AuthState::AwaitingDhKey(_) => AuthStateName::AwaitingDhKey,
            AuthState::AwaitingRevealSig(_) => AuthStateName::AwaitingRevealSig,
            AuthState::AwaitingSig(_) => AuthStateName::AwaitingSig,
        }
    }
}

/// What one input did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AkeStep {
    /// A new message was queued and the authstate advanced.
    Replied,
    /// A stored message was queued again (spec retransmission rules).
    Retransmitted,
    /// The exchange completed; see [`Ake::poll_established`]. A reply may also be queued.
    Established,
    /// The message was ignored as the spec requires; nothing changed.
    Ignored(IgnoreReason),
}

/// Why a message was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// The message type is not expected in the current authstate.
    UnexpectedInState(AuthStateName),
    /// Its protocol version differs from the exchange in progress.
    VersionMismatch,
    /// A v3 message addressed to another instance of ours, or from another peer instance
    /// than the one this exchange is with.
    OtherInstance,
    /// A DH-Key that differs from the one we answered (AWAITING_SIG).
    DifferentDhKey,
}

/// Which half of the session id libotr shows in bold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoldHalf {
    /// The first 4 bytes (the side that sent Reveal-Signature).
    First,
    /// The last 4 bytes (the side that received Reveal-Signature).
    Second,
}

/// The secure session id: 8 bytes both sides compare out of band.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionId {
    /// The 8 bytes.
    pub bytes: [u8; 8],
    /// The half this side shows in bold.
    pub bold: BoldHalf,
}

impl core::fmt::Display for SessionId {
    /// Two `%08x` halves separated by a space, as libotr shows them.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, b) in self.bytes.iter().enumerate() {
            if i == 4 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SessionId({self}, bold {:?})", self.bold)
    }
}

/// Everything a completed AKE hands to the data-message layer.
#[derive(Debug)]
pub struct AkeSuccess {
    /// The protocol version of the exchange.
    pub version: Version,
    /// The peer's instance tag (v3), or [`InstanceTag::UNKNOWN`] for v2.
    pub their_instance: InstanceTag,
    /// The secure session id.
    pub ssid: SessionId,
    /// The peer's long-term DSA public key (its fingerprint identifies the peer).
    pub their_long_term: DsaPublicKey,
    /// The peer's key id for `their_dh` (positive; libotr uses 1).
    pub their_keyid: u32,
    /// The peer's AKE Diffie–Hellman value.
    pub their_dh: DhPublicKey,
    /// Our AKE Diffie–Hellman key pair, with key id [`AKE_KEYID`].
    pub our_dh: DhKeyPair,
}

/// The AKE state machine for one (our instance, peer instance) pair.
pub struct Ake {
    our_key: Arc<DsaPrivateKey>,
    our_instance: InstanceTag,
    their_instance: InstanceTag,
    state: AuthState,
    transmit: VecDeque<EncodedMessage>,
    established: Option<AkeSuccess>,
}

impl core::fmt::Debug for Ake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ake")
            .field("our_instance", &self.our_instance)
            .field("their_instance", &self.their_instance)
            .field("state", &self.state.name())
            .field("queued", &self.transmit.len())
            .finish_non_exhaustive()
    }
}

impl Ake {
    /// A new exchange in AUTHSTATE_NONE. `our_instance` is used in v3 headers;
    /// `their_instance` may be [`InstanceTag::UNKNOWN`] until the peer's first v3 message.
    pub fn new(
        our_key: Arc<DsaPrivateKey>,
        our_instance: InstanceTag,
        their_instance: InstanceTag,
    ) -> Self {
        Self {
            our_key,
            our_instance,
            their_instance,
            state: AuthState::None,
            transmit: VecDeque::new(),
            established: None,
        }
    }

    /// The current authstate.
    pub fn state(&self) -> AuthStateName {
        self.state.name()
    }

    /// The peer instance this exchange is with (UNKNOWN until learned).
    pub fn their_instance(&self) -> InstanceTag {
        self.their_instance
    }

    /// The next message to send, if any. Drain after every input.
    pub fn poll_transmit(&mut self) -> Option<EncodedMessage> {
        self.transmit.pop_front()
    }

    /// The result of a completed exchange, once.
    pub fn poll_established(&mut self) -> Option<AkeSuccess> {
        self.established.take()
    }

    /// Start (or restart) the exchange as Bob: draw r and x, queue a DH-Commit, go to
    /// AWAITING_DHKEY. Any exchange in progress is abandoned.
    pub fn initiate<R: CryptoRng + ?Sized>(&mut self, version: Version, rng: &mut R) {
        let our_dh = DhKeyPair::generate(rng);
        let mut r = Zeroizing::new([0u8; 16]);
        rng.fill_bytes(r.as_mut_slice());
        let gx_mpi = our_dh.public().mpi().to_bytes();
        let mut encrypted = gx_mpi.clone();
        aes128_ctr(&r, [0; 8], &mut encrypted);
        let commit = DhCommit {
            encrypted_gx: Data(encrypted),
            hashed_gx: sha256(&gx_mpi),
        };
        self.send(version, MessageBody::DhCommit(commit.clone()));
        self.state = AuthState::AwaitingDhKey(AwaitingDhKey {
            version,
            r,
            our_dh,
            commit,
        });
    }

    /// Handle one received AKE message (DH-Commit, DH-Key, Reveal-Signature or
    /// Signature). Data messages are not AKE messages and are ignored here.
    pub fn handle_message<R: CryptoRng + ?Sized>(
        &mut self,
        message: &EncodedMessage,
        rng: &mut R,
    ) -> Result<AkeStep, Error> {
        let version = message.header.version();
        if let Some(reason) = self.check_instances(message) {
            return Ok(AkeStep::Ignored(reason));
        }
        // Replies go to the sending instance; forget it again if the message is not
        // accepted.
        let previous = self.their_instance;
        if let Header::V3 { sender, .. } = message.header {
            self.their_instance = sender;
        }
        let result = match &message.body {
            MessageBody::DhCommit(m) => self.handle_dh_commit(version, m, rng),
            MessageBody::DhKey(m) => self.handle_dh_key(version, m, rng),
            MessageBody::RevealSignature(m) => self.handle_reveal_signature(version, m, rng),
            MessageBody::Signature(m) => self.handle_signature(version, m),
            MessageBody::Data(_) => Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(
                self.state(),
            ))),
        };
        if !matches!(
            result,
            Ok(AkeStep::Replied | AkeStep::Retransmitted | AkeStep::Established)
        ) {
            self.their_instance = previous;
        }
        result
    }

    /// v3 receiver rules: the receiver tag must be ours (or 0 for a DH-Commit) and the
    /// sender must be the peer instance we talk to, once known.
    fn check_instances(&self, message: &EncodedMessage) -> Option<IgnoreReason> {
        let Header::V3 { sender, receiver } = message.header else {
            return None;
        };
        let is_commit = matches!(message.body, MessageBody::DhCommit(_));
        let receiver_ok =
            receiver == self.our_instance || (is_commit && receiver == InstanceTag::UNKNOWN);
        let sender_ok = !self.their_instance.is_known() || sender == self.their_instance;
        (!receiver_ok || !sender_ok).then_some(IgnoreReason::OtherInstance)
    }

    fn header(&self, version: Version) -> Header {
        match version {
            Version::V2 => Header::V2,
            Version::V3 => Header::V3 {
                sender: self.our_instance,
                receiver: self.their_instance,
            },
        }
    }

    fn send(&mut self, version: Version, body: MessageBody) {
        let header = self.header(version);
        self.transmit.push_back(EncodedMessage { header, body });
    }

    /// Received DH-Commit (spec "Receiving a D-H Commit Message").
    fn handle_dh_commit<R: CryptoRng + ?Sized>(
        &mut self,
        version: Version,
        commit: &DhCommit,
        rng: &mut R,
    ) -> Result<AkeStep, Error> {
        match core::mem::replace(&mut self.state, AuthState::None) {
            AuthState::None | AuthState::AwaitingSig(_) => {
                Ok(self.answer_commit(version, commit.clone(), rng))
            }
            AuthState::AwaitingDhKey(ours) => {
                // Both sides committed: the higher hash (32-byte big-endian) wins. The
                // hashes are public, so a plain comparison is fine.
                if ours.commit.hashed_gx > commit.hashed_gx {
                    let resend = ours.commit.clone();
                    let our_version = ours.version;
                    self.state = AuthState::AwaitingDhKey(ours);
                    self.send(our_version, MessageBody::DhCommit(resend));
                    Ok(AkeStep::Retransmitted)
                } else {
                    Ok(self.answer_commit(version, commit.clone(), rng))
                }
            }
            AuthState::AwaitingRevealSig(mut st) => {
                // Keep our g^y, use the new commitment, resend the same DH-Key.
                st.their_commit = commit.clone();
                let resend = st.dh_key.clone();
                let our_version = st.version;
                self.state = AuthState::AwaitingRevealSig(st);
                self.send(our_version, MessageBody::DhKey(resend));
                Ok(AkeStep::Retransmitted)
            }
        }
    }

    fn answer_commit<R: CryptoRng + ?Sized>(
        &mut self,
        version: Version,
        their_commit: DhCommit,
        rng: &mut R,
    ) -> AkeStep {
        let our_dh = DhKeyPair::generate(rng);
        let dh_key = DhKey {
            gy: our_dh.public().mpi().clone(),
        };
        self.send(version, MessageBody::DhKey(dh_key.clone()));
        self.state = AuthState::AwaitingRevealSig(AwaitingRevealSig {
            version,
            our_dh,
            their_commit,
            dh_key,
        });
        AkeStep::Replied
    }

    /// Received DH-Key (spec "Receiving a D-H Key Message").
    fn handle_dh_key<R: CryptoRng + ?Sized>(
        &mut self,
        version: Version,
        dh_key: &DhKey,
        rng: &mut R,
    ) -> Result<AkeStep, Error> {
        match core::mem::replace(&mut self.state, AuthState::None) {
            AuthState::AwaitingDhKey(st) => {
                if version != st.version {
                    self.state = AuthState::AwaitingDhKey(st);
                    return Ok(AkeStep::Ignored(IgnoreReason::VersionMismatch));
                }
                match self.reveal_signature(st, dh_key, rng) {
                    Ok(next) => {
                        self.state = AuthState::AwaitingSig(next);
                        Ok(AkeStep::Replied)
                    }
                    Err((st, e)) => {
                        self.state = AuthState::AwaitingDhKey(*st);
                        Err(e)
                    }
                }
            }
            AuthState::AwaitingSig(st) => {
                let same = version == st.version && dh_key.gy == *st.their_dh.mpi();
                let (our_version, resend) = (st.version, st.reveal.clone());
                self.state = AuthState::AwaitingSig(st);
                if same {
                    self.send(our_version, MessageBody::RevealSignature(resend));
                    Ok(AkeStep::Retransmitted)
                } else {
                    Ok(AkeStep::Ignored(IgnoreReason::DifferentDhKey))
                }
            }
            other => {
                let name = other.name();
                self.state = other;
                Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(name)))
            }
        }
    }

    /// AWAITING_DHKEY + valid DH-Key → queue Reveal-Signature. On error the old state is
    /// handed back untouched.
    #[allow(clippy::type_complexity)]
    fn reveal_signature<R: CryptoRng + ?Sized>(
        &mut self,
        st: AwaitingDhKey,
        dh_key: &DhKey,
        rng: &mut R,
    ) -> Result<AwaitingSig, (Box<AwaitingDhKey>, Error)> {
        let their_dh = match DhPublicKey::from_mpi(&dh_key.gy) {
            Ok(v) => v,
            Err(e) => return Err((Box::new(st), e.into())),
        };
        if their_dh == *st.our_dh.public() {
            return Err((Box::new(st), PeerError::Reflected.into()));
        }
        let keys = AkeKeys::derive(&st.our_dh.shared_secret(&their_dh));
        let x_b = self.authenticator(&keys.m1, st.our_dh.public(), &their_dh, &keys.c, rng);
        let mac = Mac(hmac_sha256_160(&keys.m2, &[&data_field(&x_b)]));
        let reveal = RevealSignature {
            revealed_key: *st.r,
            encrypted_signature: Data(x_b),
            mac,
        };
        self.send(st.version, MessageBody::RevealSignature(reveal.clone()));
        Ok(AwaitingSig {
            version: st.version,
            our_dh: st.our_dh,
            their_dh,
            keys,
            reveal,
        })
    }

    /// Build and encrypt our authenticator X = PUBKEY ‖ keyid ‖ SIG(M) with
    /// M = HMAC-SHA256(m1, MPI(our g) ‖ MPI(their g) ‖ PUBKEY ‖ keyid).
    fn authenticator<R: CryptoRng + ?Sized>(
        &self,
        m1: &[u8; 32],
        ours: &DhPublicKey,
        theirs: &DhPublicKey,
        aes_key: &[u8; 16],
        rng: &mut R,
    ) -> Vec<u8> {
        let pubkey = self.our_key.public_key().to_wire().to_bytes();
        let keyid = AKE_KEYID.to_be_bytes();
        let m = hmac_sha256(
            m1,
            &[
                &ours.mpi().to_bytes(),
                &theirs.mpi().to_bytes(),
                &pubkey,
                &keyid,
            ],
        );
        let sig = self.our_key.sign(&m, rng);
        let mut x = pubkey;
        x.extend_from_slice(&keyid);
        x.extend_from_slice(&sig.0);
        aes128_ctr(aes_key, [0; 8], &mut x);
        x
    }

    /// Received Reveal-Signature (spec "Receiving a Reveal Signature Message").
    fn handle_reveal_signature<R: CryptoRng + ?Sized>(
        &mut self,
        version: Version,
        reveal: &RevealSignature,
        rng: &mut R,
    ) -> Result<AkeStep, Error> {
        let AuthState::AwaitingRevealSig(st) = &self.state else {
            return Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(
                self.state(),
            )));
        };
        if version != st.version {
            return Ok(AkeStep::Ignored(IgnoreReason::VersionMismatch));
        }
        // 1. Open the commitment and check its hash.
        let mut gx_mpi = st.their_commit.encrypted_gx.0.clone();
        aes128_ctr(&reveal.revealed_key, [0; 8], &mut gx_mpi);
        if !ct_eq(&sha256(&gx_mpi), &st.their_commit.hashed_gx) {
            return Err(Error::Unauthenticated);
        }
        let gx = Mpi::decode(&gx_mpi)?;
        let their_dh = DhPublicKey::from_mpi(&gx)?;
        if their_dh == *st.our_dh.public() {
            return Err(PeerError::Reflected.into());
        }
        // 2. Keys, then the MAC before anything is decrypted.
        let keys = AkeKeys::derive(&st.our_dh.shared_secret(&their_dh));
        let expected = hmac_sha256_160(&keys.m2, &[&data_field(&reveal.encrypted_signature.0)]);
        if !ct_eq(&expected, &reveal.mac.0) {
            return Err(Error::Unauthenticated);
        }
        // 3. Decrypt and verify Bob's authenticator (his g^x first in M_B).
        let (their_long_term, their_keyid) = verify_authenticator(
            &reveal.encrypted_signature.0,
            &keys.c,
            &keys.m1,
            &their_dh,
            st.our_dh.public(),
        )?;
        // 4. Answer with our Signature and finish.
        let AuthState::AwaitingRevealSig(st) = core::mem::replace(&mut self.state, AuthState::None)
        else {
            return Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(
                self.state(),
            )));
        };
        let x_a = self.authenticator(
            &keys.m1_prime,
            st.our_dh.public(),
            &their_dh,
            &keys.c_prime,
            rng,
        );
        let mac = Mac(hmac_sha256_160(&keys.m2_prime, &[&data_field(&x_a)]));
        self.send(
            st.version,
            MessageBody::Signature(Signature {
                encrypted_signature: Data(x_a),
                mac,
            }),
        );
        self.established = Some(AkeSuccess {
            version: st.version,
            their_instance: self.their_instance_for(st.version),
            ssid: SessionId {
                bytes: keys.ssid,
                bold: BoldHalf::Second,
            },
            their_long_term,
            their_keyid,
            their_dh,
            our_dh: st.our_dh,
        });
        Ok(AkeStep::Established)
    }

    /// Received Signature (spec "Receiving a Signature Message").
    fn handle_signature(&mut self, version: Version, sig: &Signature) -> Result<AkeStep, Error> {
        let AuthState::AwaitingSig(st) = &self.state else {
            return Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(
                self.state(),
            )));
        };
        if version != st.version {
            return Ok(AkeStep::Ignored(IgnoreReason::VersionMismatch));
        }
        let expected = hmac_sha256_160(
            &st.keys.m2_prime,
            &[&data_field(&sig.encrypted_signature.0)],
        );
        if !ct_eq(&expected, &sig.mac.0) {
            return Err(Error::Unauthenticated);
        }
        // Alice's g^y first in M_A.
        let (their_long_term, their_keyid) = verify_authenticator(
            &sig.encrypted_signature.0,
            &st.keys.c_prime,
            &st.keys.m1_prime,
            &st.their_dh,
            st.our_dh.public(),
        )?;
        let AuthState::AwaitingSig(st) = core::mem::replace(&mut self.state, AuthState::None)
        else {
            return Ok(AkeStep::Ignored(IgnoreReason::UnexpectedInState(
                self.state(),
            )));
        };
        self.established = Some(AkeSuccess {
            version: st.version,
            their_instance: self.their_instance_for(st.version),
            ssid: SessionId {
                bytes: st.keys.ssid,
                bold: BoldHalf::First,
            },
            their_long_term,
            their_keyid,
            their_dh: st.their_dh,
            our_dh: st.our_dh,
        });
        Ok(AkeStep::Established)
    }

    fn their_instance_for(&self, version: Version) -> InstanceTag {
        match version {
            Version::V2 => InstanceTag::UNKNOWN,
            Version::V3 => self.their_instance,
        }
    }
}

/// The DATA encoding (length ‖ bytes) the AKE MACs cover.
fn data_field(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 4);
    encode_data(bytes, &mut out);
    out
}

/// Decrypt X = PUBKEY ‖ keyid ‖ SIG and verify SIG over
/// M = HMAC-SHA256(m1, MPI(signer's g) ‖ MPI(verifier's g) ‖ PUBKEY ‖ keyid).
fn verify_authenticator(
    encrypted: &[u8],
    aes_key: &[u8; 16],
    m1: &[u8; 32],
    signer_dh: &DhPublicKey,
    verifier_dh: &DhPublicKey,
) -> Result<(DsaPublicKey, u32), Error> {
    let mut x = encrypted.to_vec();
    aes128_ctr(aes_key, [0; 8], &mut x);
    let mut reader = Reader::new(&x);
    let start = reader.position();
    let wire = PublicKeyWire::read(&mut reader)?;
    let pubkey_bytes = reader.consumed_since(start).to_vec();
    let keyid = u32::read(&mut reader)?;
    let sig_bytes = reader.take_rest();
    let sig = SignatureWire(<[u8; 40]>::try_from(sig_bytes).map_err(|_| {
        DecodeError::BadFieldLength {
            field: "signature",
            expected: 40,
            actual: sig_bytes.len(),
        }
    })?);
    if keyid == 0 {
        return Err(PeerError::ZeroKeyId.into());
    }
    let public = DsaPublicKey::from_wire(&wire)?;
    let m = hmac_sha256(
        m1,
        &[
            &signer_dh.mpi().to_bytes(),
            &verifier_dh.mpi().to_bytes(),
            &pubkey_bytes,
            &keyid.to_be_bytes(),
        ],
    );
    public.verify(&m, &sig)?;
    Ok((public, keyid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_rng::TestRng;
    use std::sync::OnceLock;

    fn key() -> Arc<DsaPrivateKey> {
        static KEY: OnceLock<Arc<DsaPrivateKey>> = OnceLock::new();
        KEY.get_or_init(|| Arc::new(DsaPrivateKey::generate(&mut TestRng::new(77))))
            .clone()
    }

    fn tag(v: u32) -> InstanceTag {
        InstanceTag::new(v).unwrap()
    }

    #[test]
    fn reflected_dh_key_is_detected() {
        let mut rng = TestRng::new(1);
        let mut bob = Ake::new(key(), tag(0x100), InstanceTag::UNKNOWN);
        bob.initiate(Version::V2, &mut rng);
        let our_gx = match &bob.state {
            AuthState::AwaitingDhKey(st) => st.our_dh.public().mpi().clone(),
            _ => panic!("wrong state"),
        };
        let reflected = EncodedMessage {
            header: Header::V2,
            body: MessageBody::DhKey(DhKey { gy: our_gx }),
        };
        bob.poll_transmit();
        assert_eq!(
            bob.handle_message(&reflected, &mut rng),
            Err(Error::Peer(PeerError::Reflected))
        );
        assert_eq!(bob.state(), AuthStateName::AwaitingDhKey);
        assert!(bob.poll_transmit().is_none());
    }

    #[test]
    fn reveal_signature_mac_covers_the_data_length() {
        // The MAC is over DATA(enc) including its 4-byte length (libotr
        // create_revealsig_message), not over the raw bytes.
        let field = data_field(&[1, 2, 3]);
        assert_eq!(field, [0, 0, 0, 3, 1, 2, 3]);
        let key = [9u8; 32];
        assert_ne!(
            hmac_sha256_160(&key, &[&field]),
            hmac_sha256_160(&key, &[&[1, 2, 3]])
        );
    }

    #[test]
    fn debug_shows_state_not_secrets() {
        let mut rng = TestRng::new(2);
        let mut ake = Ake::new(key(), tag(0x1234), InstanceTag::UNKNOWN);
        ake.initiate(Version::V3, &mut rng);
        let shown = format!("{ake:?}");
        assert!(shown.contains("AwaitingDhKey"), "{shown}");
        assert!(!shown.contains("r:"), "{shown}");
        let ssid = SessionId {
            bytes: [0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3],
            bold: BoldHalf::First,
        };
        assert_eq!(ssid.to_string(), "deadbeef 00010203");
    }
}
