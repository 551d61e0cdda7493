//! The Socialist Millionaires' Protocol (SMP): both users prove to each other that they
//! typed the same secret, without revealing it, inside an encrypted session.
//!
//! SMP runs over TLVs in Data messages (OTR v3 spec "Socialist Millionaires' Protocol";
//! libotr `sm.c`, `message.c`):
//!
//! | TLV | name | payload (INT count, then MPIs) | sent by |
//! |---|---|---|---|
//! | 2 | SMP1 | g2a, c2, D2, g3a, c3, D3 | initiator (Alice) |
//! | 7 | SMP1Q | UTF-8 question, NUL, then the SMP1 payload | initiator, with a question |
//! | 3 | SMP2 | g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6 | responder (Bob) |
//! | 4 | SMP3 | Pa, Qa, cP, D5, D6, Ra, cR, D7 | initiator |
//! | 5 | SMP4 | Rb, cR, D7 | responder |
//! | 6 | abort | empty | either side, any time |
//!
//! ```text
//!  initiator                                         responder
//!  EXPECT1 ── initiate(question?, secret) ── SMP1/1Q ─▶ EXPECT1: verify, SmpEvent::Asked
//!  EXPECT2                                              (user types) respond(secret)
//!  EXPECT2 ◀──────────────────────────────── SMP2 ───── EXPECT3
//!  EXPECT4 ── SMP3 ───────────────────────────────────▶ EXPECT3: Succeeded / Failed
//!  EXPECT4 ◀──────────────────────────────── SMP4 ───── EXPECT1
//!  EXPECT1: Succeeded / Failed
//! ```
//!
//! # The secret
//!
//! Both sides hash the typed answer exactly as libotr does: x = SHA-256(0x01 ‖ initiator
//! fingerprint ‖ responder fingerprint ‖ ssid ‖ answer), fingerprints as 20 raw bytes, the
//! 8-byte AKE session id, the answer as raw bytes (UTF-8, no NUL, no normalisation). The
//! "initiator" is whoever sent SMP1, not whoever started the AKE.
//!
//! # Checks on received values
//!
//! Like libotr's `check_group_elem` / `check_expon`: every group element must be in
//! `2..=p−2`, every D value in `1..q`; the count of MPIs must be exact. Any failed check
//! or proof is [`SmpEvent::Cheated`]: the exchange is reset to EXPECT1 and an abort TLV is
//! returned to send (libotr reports SMPEVENT_CHEATED and its callers abort). An SMP TLV
//! that is not expected in the current state is [`SmpEvent::OutOfOrder`], also answered
//! with an abort (spec: "set smpstate to EXPECT1 and send an SMP abort").
//!
//! # Exponent size (a deliberate choice)
//!
//! Every random exponent is drawn uniformly modulo q (1536 bits), as the spec says and as
//! libotr does (it draws 192 unreduced random bytes; after `mod q` the group sees the same
//! distribution). Shorter (320-bit) exponents would make our side's modexps cheaper, but
//! only safely for the ephemeral a2, a3, b2, b3 and r4: the proof nonces r2, r3, r5, r6,
//! r7 hide `a·c` in `D = r − a·c mod q` and must be full size, or D leaks a (and D6 the
//! secret x) over the integers. Those nonces and the public-exponent verifications
//! dominate the cost, so the saving would be small and the risk of a mix-up large.
//!
//! Exponentiations by secret values (the random exponents, x) use the constant-time
//! fixed-window [`crate::crypto::group`] path with a fixed public bound; the D values are
//! computed in constant-time Montgomery arithmetic modulo q. Verifications, whose
//! exponents are public, use the bit length of the exponent as the bound.

use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::dsa::Fingerprint;
use crate::crypto::group::{g_pow_full, group, DhPublicKey, MODULUS_BITS, ORDER};
use crate::crypto::CryptoRng;
use crate::crypto::{
    monty_params, pow_ct, pow_public_vartime, resize, to_monty, uint_from_be, uint_to_be_minimal,
};
use crate::error::{Error, UsageError};
use crate::tlv::Tlv;
use crate::wire::{encode_mpi_bytes, Codec, Mpi, Reader};

/// TLV type 2: SMP message 1.
pub const TLV_SMP1: u16 = 2;
/// TLV type 3: SMP message 2.
pub const TLV_SMP2: u16 = 3;
/// TLV type 4: SMP message 3.
pub const TLV_SMP3: u16 = 4;
/// TLV type 5: SMP message 4.
pub const TLV_SMP4: u16 = 5;
/// TLV type 6: SMP abort.
pub const TLV_SMP_ABORT: u16 = 6;
/// TLV type 7: SMP message 1 with a question.
pub const TLV_SMP1Q: u16 = 7;

/// Whether `tlv_type` is one of the SMP TLVs (2..=7).
pub fn is_smp_tlv(tlv_type: u16) -> bool {
    (TLV_SMP1..=TLV_SMP1Q).contains(&tlv_type)
}

/// Bits of the hash output used as an exponent (SHA-256).
const HASH_BITS: u32 = 256;
/// Random bytes drawn per exponent before reduction mod q: 64 bits more than q, so the
/// reduced value is within 2^-64 of uniform.
const RANDOM_BYTES: usize = 200;

/// The SMP state names of the spec, for display and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmpStateName {
    /// SMPSTATE_EXPECT1: nothing in progress.
    Expect1,
    /// SMPSTATE_EXPECT1 after an SMP1 was verified, waiting for the local user's answer
    /// (libotr's step2a done, step2b pending).
    AwaitingAnswer,
    /// SMPSTATE_EXPECT2: we sent SMP1.
    Expect2,
    /// SMPSTATE_EXPECT3: we sent SMP2.
    Expect3,
    /// SMPSTATE_EXPECT4: we sent SMP3.
    Expect4,
}

/// Why an SMP exchange was declared cheated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmpCheat {
    /// The TLV does not parse (wrong MPI count, truncated, no NUL after a question).
    Malformed,
    /// A group element outside `2..=p−2` or a D value outside `1..q`.
    OutOfRange,
    /// A zero-knowledge proof does not verify.
    BadProof,
}

/// What an SMP input means for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmpEvent {
    /// The peer started SMP; answer with [`Smp::respond`] (or [`Smp::abort`]).
    Asked {
        /// The question (SMP1Q), decoded as UTF-8 (invalid sequences replaced).
        question: Option<String>,
    },
    /// Both sides typed the same secret.
    Succeeded {
        /// Whether we sent SMP1.
        we_initiated: bool,
        /// Whether a question was used.
        with_question: bool,
    },
    /// The secrets differ (both sides learn this).
    Failed,
    /// The peer aborted (TLV 6).
    Aborted,
    /// The peer's values or proofs are invalid; an abort was returned to send.
    Cheated {
        /// What failed.
        reason: SmpCheat,
    },
    /// An SMP TLV that the current state does not expect; an abort was returned to send.
    OutOfOrder {
        /// The TLV type received.
        tlv_type: u16,
        /// The state it arrived in.
        state: SmpStateName,
    },
}

impl SmpEvent {
    /// libotr's trust rule after success: the initiator always learns that the peer is
    /// genuine; the responder only when no question was used (the asker chose the
    /// question, so a question SMP authenticates one direction only).
    pub fn authenticates_peer(&self) -> bool {
        matches!(
            self,
            SmpEvent::Succeeded { we_initiated, with_question } if *we_initiated || !*with_question
        )
    }
}

/// The result of one SMP input: a TLV to send (in a Data message) and an event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SmpStep {
    /// A TLV to send to the peer.
    pub reply: Option<Tlv>,
    /// What to tell the user.
    pub event: Option<SmpEvent>,
}

/// A secret exponent (or the hashed secret x): zeroized on drop, never printed.
struct Secret(BoxedUint);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A group element modulo p, in Montgomery form (public).
type Elem = BoxedMontyForm;

/// Montgomery parameters for q, computed once.
fn q_params() -> Option<&'static BoxedMontyParams> {
    static PARAMS: OnceLock<Option<BoxedMontyParams>> = OnceLock::new();
    PARAMS
        .get_or_init(|| monty_params(&BoxedUint::from(&ORDER)))
        .as_ref()
}

fn q_nonzero() -> Option<NonZero<BoxedUint>> {
    BoxedUint::from(&ORDER).to_nz().into_option()
}

/// A uniform exponent in `0..q` (the probability of 0 is 2^-1535; it is still valid).
fn random_exponent<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<Secret, Error> {
    let mut bytes = Zeroizing::new([0u8; RANDOM_BYTES]);
    rng.fill_bytes(bytes.as_mut_slice());
    let wide = Zeroizing::new(BoxedUint::from_be_slice_vartime(bytes.as_slice()));
    let q = q_nonzero().ok_or(UsageError::WrongState("SMP group order"))?;
    Ok(Secret(resize(&wide.rem(&q), MODULUS_BITS)))
}

/// g1^e for a secret exponent.
fn g_pow_secret(e: &Secret) -> Elem {
    g_pow_full(&e.0)
}

/// base^e for a secret exponent.
fn pow_secret(base: &Elem, e: &Secret) -> Elem {
    pow_ct(base, &e.0, MODULUS_BITS)
}

/// base^e for a public exponent (a received D or c value): variable time.
fn pow_public(base: &Elem, e: &BoxedUint) -> Elem {
    pow_public_vartime(base, e)
}

/// SHA-256(version ‖ MPI(a) [‖ MPI(b)]) as an integer (libotr `otrl_sm_hash`).
fn hash(version: u8, a: &Elem, b: Option<&Elem>) -> BoxedUint {
    let mut buf = vec![version];
    encode_mpi_bytes(&a.retrieve().to_be_bytes(), &mut buf);
    if let Some(b) = b {
        encode_mpi_bytes(&b.retrieve().to_be_bytes(), &mut buf);
    }
    let digest: [u8; 32] = Sha256::digest(&buf).into();
    resize(&BoxedUint::from_be_slice_vartime(&digest), MODULUS_BITS)
}

/// D = r − a·c mod q, in constant time in r and a.
fn proof_d(r: &Secret, a: &Secret, c: &BoxedUint) -> Result<BoxedUint, Error> {
    let params = q_params().ok_or(UsageError::WrongState("SMP group order"))?;
    let r_m = to_monty(&r.0, params);
    let a_m = to_monty(&a.0, params);
    let c_m = to_monty(c, params);
    Ok(r_m.sub(&a_m.mul(&c_m)).retrieve())
}

/// a / b mod p for public elements.
fn divide(a: &Elem, b: &Elem) -> Result<Elem, SmpCheat> {
    // b is in 2..=p-2 and p is prime, so the inverse exists.
    let inv: Option<Elem> = b.invert_vartime().into_option();
    inv.map(|inv| a.mul(&inv)).ok_or(SmpCheat::OutOfRange)
}

fn to_mpi(value: &BoxedUint) -> Mpi {
    Mpi::from_be_bytes(&uint_to_be_minimal(value))
}

fn elem_mpi(e: &Elem) -> Mpi {
    to_mpi(&e.retrieve())
}

/// The payload of an SMP TLV: INT count, then the MPIs.
fn encode_mpis(mpis: &[Mpi]) -> Vec<u8> {
    let mut out = Vec::new();
    (mpis.len() as u32).encode(&mut out);
    for m in mpis {
        m.encode(&mut out);
    }
    out
}

/// Parse an SMP payload with exactly `count` MPIs. Like libotr, bytes after the last MPI
/// are not checked.
fn decode_mpis(bytes: &[u8], count: usize) -> Result<Vec<Mpi>, SmpCheat> {
    let mut reader = Reader::new(bytes);
    let n = u32::read(&mut reader).map_err(|_| SmpCheat::Malformed)?;
    if usize::try_from(n).ok() != Some(count) {
        return Err(SmpCheat::Malformed);
    }
    (0..count)
        .map(|_| Mpi::read(&mut reader).map_err(|_| SmpCheat::Malformed))
        .collect()
}

/// A received MPI parsed in order: group elements and D values are range-checked, c
/// values must fit a hash.
struct Fields(std::vec::IntoIter<Mpi>);

impl Fields {
    fn next(&mut self) -> Result<Mpi, SmpCheat> {
        self.0.next().ok_or(SmpCheat::Malformed)
    }

    /// A group element: 2 <= v <= p − 2.
    fn elem(&mut self) -> Result<Elem, SmpCheat> {
        let mpi = self.next()?;
        let v = DhPublicKey::from_mpi(&mpi).map_err(|_| SmpCheat::OutOfRange)?;
        Ok(to_monty(v.value(), &group().params))
    }

    /// A D value: 1 <= D < q.
    fn exponent(&mut self) -> Result<BoxedUint, SmpCheat> {
        let mpi = self.next()?;
        let v = uint_from_be(mpi.as_be_bytes(), MODULUS_BITS).ok_or(SmpCheat::OutOfRange)?;
        let q = BoxedUint::from(&ORDER);
        if bool::from(v.is_zero()) || v.cmp_vartime(&q).is_ge() {
            return Err(SmpCheat::OutOfRange);
        }
        Ok(v)
    }

    /// A c value (a hash): not range-checked by libotr; anything longer than a hash
    /// cannot verify.
    fn hash(&mut self) -> Result<BoxedUint, SmpCheat> {
        let mpi = self.next()?;
        let v = uint_from_be(mpi.as_be_bytes(), HASH_BITS).ok_or(SmpCheat::BadProof)?;
        Ok(resize(&v, MODULUS_BITS))
    }
}

fn check(ok: bool) -> Result<(), SmpCheat> {
    if ok {
        Ok(())
    } else {
        Err(SmpCheat::BadProof)
    }
}

/// g1^D · base^c (D is below q: a received D is range-checked to 1536 bits).
fn g_d_times(d: &BoxedUint, base: &Elem, c: &BoxedUint) -> Elem {
    g_pow_full(d).mul(&pow_public(base, c))
}

/// A knowledge-of-discrete-log proof for `a` with hash version `v`: (c, D).
fn prove_log<R: CryptoRng + ?Sized>(
    v: u8,
    a: &Secret,
    rng: &mut R,
) -> Result<(BoxedUint, BoxedUint), Error> {
    let r = random_exponent(rng)?;
    let c = hash(v, &g_pow_secret(&r), None);
    let d = proof_d(&r, a, &c)?;
    Ok((c, d))
}

// ---- the states: one struct per spec state ----

/// SMPSTATE_EXPECT1 after a verified SMP1: the peer's shares, waiting for our answer.
struct AwaitingAnswer {
    g2a: Elem,
    g3a: Elem,
    with_question: bool,
}

/// SMPSTATE_EXPECT2: we sent SMP1.
struct Expect2 {
    x: Secret,
    a2: Secret,
    a3: Secret,
    with_question: bool,
}

/// SMPSTATE_EXPECT3: we sent SMP2.
struct Expect3 {
    g3a: Elem,
    g2: Elem,
    g3: Elem,
    b3: Secret,
    pb: Elem,
    qb: Elem,
    with_question: bool,
}

/// SMPSTATE_EXPECT4: we sent SMP3.
struct Expect4 {
    g3b: Elem,
    pa_over_pb: Elem,
    qa_over_qb: Elem,
    a3: Secret,
    with_question: bool,
}

enum State {
    Expect1,
    AwaitingAnswer(AwaitingAnswer),
    Expect2(Expect2),
    Expect3(Expect3),
    Expect4(Expect4),
}

impl State {
    fn name(&self) -> SmpStateName {
        match self {
            State::Expect1 => SmpStateName::Expect1,
            State::AwaitingAnswer(_) => SmpStateName::AwaitingAnswer,
            State::Expect2(_) => SmpStateName::Expect2,
            State::Expect3(_) => SmpStateName::Expect3,
            State::Expect4(_) => SmpStateName::Expect4,
        }
    }
}

/// The SMP state machine of one encrypted session.
///
/// - Inputs: [`Smp::initiate`] (the user starts), [`Smp::respond`] (the user answers an
///   [`SmpEvent::Asked`]), [`Smp::abort`] and [`Smp::handle_tlv`] for each received SMP
///   TLV.
/// - Outputs: TLVs to send inside Data messages (returned directly) and [`SmpEvent`]s.
pub struct Smp {
    our_fingerprint: Fingerprint,
    their_fingerprint: Fingerprint,
    ssid: [u8; 8],
    state: State,
}

impl core::fmt::Debug for Smp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Smp")
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

impl Smp {
    /// A fresh SMP (EXPECT1) for a session with these fingerprints and session id.
    pub fn new(
        our_fingerprint: Fingerprint,
        their_fingerprint: Fingerprint,
        ssid: [u8; 8],
    ) -> Self {
        Self {
            our_fingerprint,
            their_fingerprint,
            ssid,
            state: State::Expect1,
        }
    }

    /// The current state.
    pub fn state(&self) -> SmpStateName {
        self.state.name()
    }

    /// x = SHA-256(0x01 ‖ initiator fp ‖ responder fp ‖ ssid ‖ answer), as libotr.
    fn secret(&self, we_initiate: bool, answer: &[u8]) -> Secret {
        let (first, second) = if we_initiate {
            (&self.our_fingerprint, &self.their_fingerprint)
        } else {
            (&self.their_fingerprint, &self.our_fingerprint)
        };
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(first.0);
        h.update(second.0);
        h.update(self.ssid);
        h.update(answer);
        let digest = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        Secret(resize(
            &BoxedUint::from_be_slice_vartime(digest.as_slice()),
            MODULUS_BITS,
        ))
    }

    /// Start SMP as the initiator with our `answer` and an optional question (SMP1Q).
    /// Any exchange in progress is abandoned (as libotr's step1 does). Returns the TLV to
    /// send.
    pub fn initiate<R: CryptoRng + ?Sized>(
        &mut self,
        question: Option<&str>,
        answer: &[u8],
        rng: &mut R,
    ) -> Result<Tlv, Error> {
        if question.is_some_and(|q| q.contains('\0')) {
            return Err(UsageError::WrongState("SMP question contains NUL").into());
        }
        self.state = State::Expect1;
        let x = self.secret(true, answer);
        let a2 = random_exponent(rng)?;
        let a3 = random_exponent(rng)?;
        let (c2, d2) = prove_log(1, &a2, rng)?;
        let (c3, d3) = prove_log(2, &a3, rng)?;
        let payload = encode_mpis(&[
            elem_mpi(&g_pow_secret(&a2)),
            to_mpi(&c2),
            to_mpi(&d2),
            elem_mpi(&g_pow_secret(&a3)),
            to_mpi(&c3),
            to_mpi(&d3),
        ]);
        let tlv = match question {
            None => Tlv {
                tlv_type: TLV_SMP1,
                value: payload,
            },
            Some(q) => {
                let mut value = q.as_bytes().to_vec();
                value.push(0);
                value.extend_from_slice(&payload);
                if value.len() > usize::from(u16::MAX) {
                    return Err(UsageError::WrongState("SMP question too long").into());
                }
                Tlv {
                    tlv_type: TLV_SMP1Q,
                    value,
                }
            }
        };
        self.state = State::Expect2(Expect2 {
            x,
            a2,
            a3,
            with_question: question.is_some(),
        });
        Ok(tlv)
    }

    /// Answer the peer's SMP1 (after [`SmpEvent::Asked`]) with our `answer`. Returns the
    /// SMP2 TLV to send.
    pub fn respond<R: CryptoRng + ?Sized>(
        &mut self,
        answer: &[u8],
        rng: &mut R,
    ) -> Result<Tlv, Error> {
        let State::AwaitingAnswer(st) = core::mem::replace(&mut self.state, State::Expect1) else {
            return Err(UsageError::WrongState("no SMP question to answer").into());
        };
        let y = self.secret(false, answer);
        let b2 = random_exponent(rng)?;
        let b3 = random_exponent(rng)?;
        let (c2, d2) = prove_log(3, &b2, rng)?;
        let (c3, d3) = prove_log(4, &b3, rng)?;
        let g2 = pow_secret(&st.g2a, &b2);
        let g3 = pow_secret(&st.g3a, &b3);
        let r4 = random_exponent(rng)?;
        let r5 = random_exponent(rng)?;
        let r6 = random_exponent(rng)?;
        let pb = pow_secret(&g3, &r4);
        let qb = g_pow_secret(&r4).mul(&pow_ct(&g2, &y.0, HASH_BITS));
        let cp = hash(
            5,
            &pow_secret(&g3, &r5),
            Some(&g_pow_secret(&r5).mul(&pow_secret(&g2, &r6))),
        );
        let d5 = proof_d(&r5, &r4, &cp)?;
        let d6 = proof_d(&r6, &y, &cp)?;
        let value = encode_mpis(&[
            elem_mpi(&g_pow_secret(&b2)),
            to_mpi(&c2),
            to_mpi(&d2),
            elem_mpi(&g_pow_secret(&b3)),
            to_mpi(&c3),
            to_mpi(&d3),
            elem_mpi(&pb),
            elem_mpi(&qb),
            to_mpi(&cp),
            to_mpi(&d5),
            to_mpi(&d6),
        ]);
        self.state = State::Expect3(Expect3 {
            g3a: st.g3a,
            g2,
            g3,
            b3,
            pb,
            qb,
            with_question: st.with_question,
        });
        Ok(Tlv {
            tlv_type: TLV_SMP2,
            value,
        })
    }

    /// Abort the exchange (user action): reset to EXPECT1 and return the TLV 6 to send.
    pub fn abort(&mut self) -> Tlv {
        self.state = State::Expect1;
        abort_tlv()
    }

    /// Forget any exchange in progress without telling the peer (the session left
    /// ENCRYPTED).
    pub fn reset(&mut self) {
        self.state = State::Expect1;
    }

    /// Handle one received TLV. Non-SMP TLVs are ignored (empty step).
    pub fn handle_tlv<R: CryptoRng + ?Sized>(&mut self, tlv: &Tlv, rng: &mut R) -> SmpStep {
        if !is_smp_tlv(tlv.tlv_type) {
            return SmpStep::default();
        }
        if tlv.tlv_type == TLV_SMP_ABORT {
            self.state = State::Expect1;
            return SmpStep {
                reply: None,
                event: Some(SmpEvent::Aborted),
            };
        }
        let state = core::mem::replace(&mut self.state, State::Expect1);
        let name = state.name();
        let result = match (tlv.tlv_type, state) {
            // libotr runs step2a whenever it expects SMP1, also over a pending question.
            (TLV_SMP1 | TLV_SMP1Q, State::Expect1 | State::AwaitingAnswer(_)) => {
                self.receive_smp1(tlv)
            }
            (TLV_SMP2, State::Expect2(st)) => self.receive_smp2(&tlv.value, st, rng),
            (TLV_SMP3, State::Expect3(st)) => self.receive_smp3(&tlv.value, st, rng),
            (TLV_SMP4, State::Expect4(st)) => Self::receive_smp4(&tlv.value, st),
            _ => {
                return SmpStep {
                    reply: Some(abort_tlv()),
                    event: Some(SmpEvent::OutOfOrder {
                        tlv_type: tlv.tlv_type,
                        state: name,
                    }),
                };
            }
        };
        match result {
            Ok(step) => step,
            Err(Failure::Cheat(reason)) => {
                self.state = State::Expect1;
                SmpStep {
                    reply: Some(abort_tlv()),
                    event: Some(SmpEvent::Cheated { reason }),
                }
            }
            Err(Failure::Internal) => {
                self.state = State::Expect1;
                SmpStep {
                    reply: Some(abort_tlv()),
                    event: None,
                }
            }
        }
    }

    /// SMP1 / SMP1Q in EXPECT1 (libotr step2a): verify, store, ask the user.
    fn receive_smp1(&mut self, tlv: &Tlv) -> Result<SmpStep, Failure> {
        let (question, payload) = if tlv.tlv_type == TLV_SMP1Q {
            let nul = tlv
                .value
                .iter()
                .position(|b| *b == 0)
                .ok_or(SmpCheat::Malformed)?;
            let q = tlv.value.get(..nul).unwrap_or_default();
            let rest = tlv.value.get(nul + 1..).unwrap_or_default();
            (Some(String::from_utf8_lossy(q).into_owned()), rest)
        } else {
            (None, tlv.value.as_slice())
        };
        let mut f = Fields(decode_mpis(payload, 6)?.into_iter());
        let g2a = f.elem()?;
        let c2 = f.hash()?;
        let d2 = f.exponent()?;
        let g3a = f.elem()?;
        let c3 = f.hash()?;
        let d3 = f.exponent()?;
        check(hash(1, &g_d_times(&d2, &g2a, &c2), None) == c2)?;
        check(hash(2, &g_d_times(&d3, &g3a, &c3), None) == c3)?;
        self.state = State::AwaitingAnswer(AwaitingAnswer {
            g2a,
            g3a,
            with_question: question.is_some(),
        });
        Ok(SmpStep {
            reply: None,
            event: Some(SmpEvent::Asked { question }),
        })
    }

    /// SMP2 in EXPECT2 (libotr step3): verify Bob's proofs, send SMP3.
    fn receive_smp2<R: CryptoRng + ?Sized>(
        &mut self,
        value: &[u8],
        st: Expect2,
        rng: &mut R,
    ) -> Result<SmpStep, Failure> {
        let mut f = Fields(decode_mpis(value, 11)?.into_iter());
        let g2b = f.elem()?;
        let c2 = f.hash()?;
        let d2 = f.exponent()?;
        let g3b = f.elem()?;
        let c3 = f.hash()?;
        let d3 = f.exponent()?;
        let pb = f.elem()?;
        let qb = f.elem()?;
        let cp = f.hash()?;
        let d5 = f.exponent()?;
        let d6 = f.exponent()?;
        check(hash(3, &g_d_times(&d2, &g2b, &c2), None) == c2)?;
        check(hash(4, &g_d_times(&d3, &g3b, &c3), None) == c3)?;
        let g2 = pow_secret(&g2b, &st.a2);
        let g3 = pow_secret(&g3b, &st.a3);
        let t1 = pow_public(&g3, &d5).mul(&pow_public(&pb, &cp));
        let t2 = g_d_times(&d5, &qb, &cp).mul(&pow_public(&g2, &d6));
        check(hash(5, &t1, Some(&t2)) == cp)?;

        let r4 = random_exponent(rng)?;
        let r5 = random_exponent(rng)?;
        let r6 = random_exponent(rng)?;
        let r7 = random_exponent(rng)?;
        let pa = pow_secret(&g3, &r4);
        let qa = g_pow_secret(&r4).mul(&pow_ct(&g2, &st.x.0, HASH_BITS));
        let cp_a = hash(
            6,
            &pow_secret(&g3, &r5),
            Some(&g_pow_secret(&r5).mul(&pow_secret(&g2, &r6))),
        );
        let d5_a = proof_d(&r5, &r4, &cp_a)?;
        let d6_a = proof_d(&r6, &st.x, &cp_a)?;
        let qa_over_qb = divide(&qa, &qb)?;
        let pa_over_pb = divide(&pa, &pb)?;
        let ra = pow_secret(&qa_over_qb, &st.a3);
        let cr = hash(7, &g_pow_secret(&r7), Some(&pow_secret(&qa_over_qb, &r7)));
        let d7 = proof_d(&r7, &st.a3, &cr)?;
        let value = encode_mpis(&[
            elem_mpi(&pa),
            elem_mpi(&qa),
            to_mpi(&cp_a),
            to_mpi(&d5_a),
            to_mpi(&d6_a),
            elem_mpi(&ra),
            to_mpi(&cr),
            to_mpi(&d7),
        ]);
        self.state = State::Expect4(Expect4 {
            g3b,
            pa_over_pb,
            qa_over_qb,
            a3: st.a3,
            with_question: st.with_question,
        });
        Ok(SmpStep {
            reply: Some(Tlv {
                tlv_type: TLV_SMP3,
                value,
            }),
            event: None,
        })
    }

    /// SMP3 in EXPECT3 (libotr step4): verify Alice's proofs, send SMP4, decide.
    fn receive_smp3<R: CryptoRng + ?Sized>(
        &mut self,
        value: &[u8],
        st: Expect3,
        rng: &mut R,
    ) -> Result<SmpStep, Failure> {
        let mut f = Fields(decode_mpis(value, 8)?.into_iter());
        let pa = f.elem()?;
        let qa = f.elem()?;
        let cp = f.hash()?;
        let d5 = f.exponent()?;
        let d6 = f.exponent()?;
        let ra = f.elem()?;
        let cr = f.hash()?;
        let d7 = f.exponent()?;
        let t1 = pow_public(&st.g3, &d5).mul(&pow_public(&pa, &cp));
        let t2 = g_d_times(&d5, &qa, &cp).mul(&pow_public(&st.g2, &d6));
        check(hash(6, &t1, Some(&t2)) == cp)?;
        let qa_over_qb = divide(&qa, &st.qb)?;
        let r1 = g_d_times(&d7, &st.g3a, &cr);
        let r2 = pow_public(&qa_over_qb, &d7).mul(&pow_public(&ra, &cr));
        check(hash(7, &r1, Some(&r2)) == cr)?;

        let r7 = random_exponent(rng)?;
        let rb = pow_secret(&qa_over_qb, &st.b3);
        let cr_b = hash(8, &g_pow_secret(&r7), Some(&pow_secret(&qa_over_qb, &r7)));
        let d7_b = proof_d(&r7, &st.b3, &cr_b)?;
        let rab = pow_secret(&ra, &st.b3);
        let pa_over_pb = divide(&pa, &st.pb)?;
        let success = rab.retrieve() == pa_over_pb.retrieve();
        self.state = State::Expect1;
        Ok(SmpStep {
            reply: Some(Tlv {
                tlv_type: TLV_SMP4,
                value: encode_mpis(&[elem_mpi(&rb), to_mpi(&cr_b), to_mpi(&d7_b)]),
            }),
            event: Some(if success {
                SmpEvent::Succeeded {
                    we_initiated: false,
                    with_question: st.with_question,
                }
            } else {
                SmpEvent::Failed
            }),
        })
    }

    /// SMP4 in EXPECT4 (libotr step5): verify Bob's proof, decide.
    fn receive_smp4(value: &[u8], st: Expect4) -> Result<SmpStep, Failure> {
        let mut f = Fields(decode_mpis(value, 3)?.into_iter());
        let rb = f.elem()?;
        let cr = f.hash()?;
        let d7 = f.exponent()?;
        let r1 = g_d_times(&d7, &st.g3b, &cr);
        let r2 = pow_public(&st.qa_over_qb, &d7).mul(&pow_public(&rb, &cr));
        check(hash(8, &r1, Some(&r2)) == cr)?;
        let rab = pow_secret(&rb, &st.a3);
        let success = rab.retrieve() == st.pa_over_pb.retrieve();
        Ok(SmpStep {
            reply: None,
            event: Some(if success {
                SmpEvent::Succeeded {
                    we_initiated: true,
                    with_question: st.with_question,
                }
            } else {
                SmpEvent::Failed
            }),
        })
    }
}

fn abort_tlv() -> Tlv {
    Tlv {
        tlv_type: TLV_SMP_ABORT,
        value: Vec::new(),
    }
}

/// Why a received SMP TLV was not accepted.
enum Failure {
    Cheat(SmpCheat),
    /// An internal arithmetic setup failure (cannot happen with the fixed group).
    Internal,
}

impl From<SmpCheat> for Failure {
    fn from(c: SmpCheat) -> Self {
        Failure::Cheat(c)
    }
}

impl From<Error> for Failure {
    fn from(_: Error) -> Self {
        Failure::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_rng::TestRng;

    fn pair() -> (Smp, Smp, TestRng) {
        let fa = Fingerprint([0xaa; 20]);
        let fb = Fingerprint([0xbb; 20]);
        let ssid = [1, 2, 3, 4, 5, 6, 7, 8];
        (
            Smp::new(fa, fb, ssid),
            Smp::new(fb, fa, ssid),
            TestRng::new(99),
        )
    }

    /// Run a whole exchange; returns (initiator's event, responder's event).
    fn run(question: Option<&str>, a: &[u8], b: &[u8]) -> (SmpEvent, SmpEvent) {
        let (mut alice, mut bob, mut rng) = pair();
        let smp1 = alice.initiate(question, a, &mut rng).unwrap();
        assert_eq!(alice.state(), SmpStateName::Expect2);
        let step = bob.handle_tlv(&smp1, &mut rng);
        assert_eq!(
            step.event,
            Some(SmpEvent::Asked {
                question: question.map(str::to_owned)
            })
        );
        assert!(step.reply.is_none());
        let smp2 = bob.respond(b, &mut rng).unwrap();
        assert_eq!(bob.state(), SmpStateName::Expect3);
        let step = alice.handle_tlv(&smp2, &mut rng);
        assert!(step.event.is_none());
        let smp3 = step.reply.unwrap();
        assert_eq!(alice.state(), SmpStateName::Expect4);
        let step = bob.handle_tlv(&smp3, &mut rng);
        let bob_event = step.event.unwrap();
        let smp4 = step.reply.unwrap();
        let step = alice.handle_tlv(&smp4, &mut rng);
        assert!(step.reply.is_none());
        assert_eq!(alice.state(), SmpStateName::Expect1);
        assert_eq!(bob.state(), SmpStateName::Expect1);
        (step.event.unwrap(), bob_event)
    }

    #[test]
    fn same_secret_succeeds_and_different_fails_on_both_sides() {
        let (a, b) = run(None, b"swordfish", b"swordfish");
        assert_eq!(
            a,
            SmpEvent::Succeeded {
                we_initiated: true,
                with_question: false
            }
        );
        assert!(a.authenticates_peer() && b.authenticates_peer());
        let (a, b) = run(Some("colour?"), b"blue", b"green");
        assert_eq!((a, b), (SmpEvent::Failed, SmpEvent::Failed));
    }

    #[test]
    fn secret_is_libotr_hash_with_initiator_first() {
        let (alice, bob, _) = pair();
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update([0xaa; 20]);
        h.update([0xbb; 20]);
        h.update([1, 2, 3, 4, 5, 6, 7, 8]);
        h.update(b"pw");
        let want = BoxedUint::from_be_slice_vartime(&h.finalize());
        assert_eq!(
            resize(&alice.secret(true, b"pw").0, 256),
            resize(&want, 256)
        );
        assert_eq!(resize(&bob.secret(false, b"pw").0, 256), resize(&want, 256));
        assert_ne!(resize(&bob.secret(true, b"pw").0, 256), resize(&want, 256));
    }

    #[test]
    fn hostile_values_are_cheating_not_panics() {
        let (mut alice, mut bob, mut rng) = pair();
        let smp1 = alice.initiate(None, b"s", &mut rng).unwrap();
        let good = decode_mpis(&smp1.value, 6).unwrap();
        let p = BoxedUint::from(&crate::crypto::group::MODULUS);
        let q = BoxedUint::from(&ORDER);
        let one = BoxedUint::one_with_precision(1536);
        let p_minus_1 = p.wrapping_sub(&one);
        let hostile = [
            Mpi::from_be_bytes(&[]),
            Mpi::from_be_bytes(&[1]),
            to_mpi(&p_minus_1),
            to_mpi(&p),
            Mpi::from_be_bytes(&[0xff; 400]),
        ];
        // Group elements (index 0, 3) and D values (2, 5).
        for index in [0usize, 2, 3, 5] {
            for bad in &hostile {
                let mut mpis = good.clone();
                mpis[index] = bad.clone();
                let step = bob.handle_tlv(
                    &Tlv {
                        tlv_type: TLV_SMP1,
                        value: encode_mpis(&mpis),
                    },
                    &mut rng,
                );
                assert!(
                    matches!(step.event, Some(SmpEvent::Cheated { .. })),
                    "index {index}: {:?}",
                    step.event
                );
                assert_eq!(step.reply.as_ref().unwrap().tlv_type, TLV_SMP_ABORT);
                assert_eq!(bob.state(), SmpStateName::Expect1);
            }
        }
        // D = q is out of range, D = q - 1 only fails the proof.
        let mut mpis = good.clone();
        mpis[2] = to_mpi(&q);
        let step = bob.handle_tlv(
            &Tlv {
                tlv_type: TLV_SMP1,
                value: encode_mpis(&mpis),
            },
            &mut rng,
        );
        assert_eq!(
            step.event,
            Some(SmpEvent::Cheated {
                reason: SmpCheat::OutOfRange
            })
        );
        mpis[2] = to_mpi(&q.wrapping_sub(&one));
        let step = bob.handle_tlv(
            &Tlv {
                tlv_type: TLV_SMP1,
                value: encode_mpis(&mpis),
            },
            &mut rng,
        );
        assert_eq!(
            step.event,
            Some(SmpEvent::Cheated {
                reason: SmpCheat::BadProof
            })
        );
        // Wrong counts, truncation, a question without NUL.
        for value in [
            encode_mpis(&good[..5]),
            smp1.value[..smp1.value.len() - 1].to_vec(),
            vec![],
            vec![0xff; 4],
        ] {
            let step = bob.handle_tlv(
                &Tlv {
                    tlv_type: TLV_SMP1,
                    value,
                },
                &mut rng,
            );
            assert_eq!(
                step.event,
                Some(SmpEvent::Cheated {
                    reason: SmpCheat::Malformed
                })
            );
        }
        let step = bob.handle_tlv(
            &Tlv {
                tlv_type: TLV_SMP1Q,
                value: b"no nul".to_vec(),
            },
            &mut rng,
        );
        assert!(matches!(step.event, Some(SmpEvent::Cheated { .. })));
        // The genuine message still works afterwards.
        let step = bob.handle_tlv(&smp1, &mut rng);
        assert_eq!(step.event, Some(SmpEvent::Asked { question: None }));
    }

    #[test]
    fn out_of_order_and_abort() {
        let (mut alice, mut bob, mut rng) = pair();
        // SMP2 in EXPECT1.
        let step = bob.handle_tlv(
            &Tlv {
                tlv_type: TLV_SMP2,
                value: vec![],
            },
            &mut rng,
        );
        assert_eq!(
            step.event,
            Some(SmpEvent::OutOfOrder {
                tlv_type: TLV_SMP2,
                state: SmpStateName::Expect1
            })
        );
        assert_eq!(step.reply.unwrap().tlv_type, TLV_SMP_ABORT);
        // Both initiate at once: each gets SMP1 in EXPECT2 and aborts.
        let a1 = alice.initiate(None, b"x", &mut rng).unwrap();
        let b1 = bob.initiate(None, b"x", &mut rng).unwrap();
        let sa = alice.handle_tlv(&b1, &mut rng);
        let sb = bob.handle_tlv(&a1, &mut rng);
        assert!(matches!(sa.event, Some(SmpEvent::OutOfOrder { .. })));
        assert!(matches!(sb.event, Some(SmpEvent::OutOfOrder { .. })));
        assert_eq!(alice.state(), SmpStateName::Expect1);
        let got = bob.handle_tlv(&sa.reply.unwrap(), &mut rng);
        assert_eq!(got.event, Some(SmpEvent::Aborted));
        assert!(got.reply.is_none());
        // Abort mid-way: responder aborts instead of answering.
        let a1 = alice.initiate(Some("q"), b"x", &mut rng).unwrap();
        bob.handle_tlv(&a1, &mut rng);
        assert_eq!(bob.state(), SmpStateName::AwaitingAnswer);
        let abort = bob.abort();
        assert!(bob.respond(b"x", &mut rng).is_err());
        assert_eq!(
            alice.handle_tlv(&abort, &mut rng).event,
            Some(SmpEvent::Aborted)
        );
        assert_eq!(alice.state(), SmpStateName::Expect1);
        // A question with a NUL cannot be encoded.
        assert!(alice.initiate(Some("a\0b"), b"x", &mut rng).is_err());
        // Non-SMP TLVs are not SMP's business.
        assert_eq!(
            alice.handle_tlv(
                &Tlv {
                    tlv_type: 0,
                    value: vec![]
                },
                &mut rng
            ),
            SmpStep::default()
        );
    }

    #[test]
    fn tampered_proof_in_smp2_and_smp3_is_detected() {
        let (mut alice, mut bob, mut rng) = pair();
        let smp1 = alice.initiate(None, b"k", &mut rng).unwrap();
        bob.handle_tlv(&smp1, &mut rng);
        let smp2 = bob.respond(b"k", &mut rng).unwrap();
        // Replace D6 (the proof about Bob's secret) with another valid-range value.
        let mut mpis = decode_mpis(&smp2.value, 11).unwrap();
        mpis[10] = Mpi::from_be_bytes(&[7]);
        let step = alice.handle_tlv(
            &Tlv {
                tlv_type: TLV_SMP2,
                value: encode_mpis(&mpis),
            },
            &mut rng,
        );
        assert_eq!(
            step.event,
            Some(SmpEvent::Cheated {
                reason: SmpCheat::BadProof
            })
        );
        assert_eq!(alice.state(), SmpStateName::Expect1);
        // A replayed SMP1 after a cheat restarts cleanly; a replayed SMP2 is out of order.
        let step = alice.handle_tlv(&smp2, &mut rng);
        assert!(matches!(step.event, Some(SmpEvent::OutOfOrder { .. })));
    }

    fn hostile_values() -> Vec<Mpi> {
        let p = BoxedUint::from(&crate::crypto::group::MODULUS);
        let one = BoxedUint::one_with_precision(1536);
        vec![
            Mpi::from_be_bytes(&[]),
            Mpi::from_be_bytes(&[1]),
            to_mpi(&p.wrapping_sub(&one)),
            to_mpi(&p),
            Mpi::from_be_bytes(&[0xff; 400]),
        ]
    }

    /// Replace each listed MPI of `tlv` with each hostile value and check that a fresh
    /// machine from `fresh` calls it cheating, resets, and asks for an abort.
    fn rejects_hostile(
        tlv: &Tlv,
        count: usize,
        positions: &[usize],
        mut fresh: impl FnMut(&mut TestRng) -> Smp,
        rng: &mut TestRng,
    ) {
        let good = decode_mpis(&tlv.value, count).unwrap();
        for &index in positions {
            for bad in hostile_values() {
                let mut smp = fresh(rng);
                let mut mpis = good.clone();
                mpis[index] = bad;
                let step = smp.handle_tlv(
                    &Tlv {
                        tlv_type: tlv.tlv_type,
                        value: encode_mpis(&mpis),
                    },
                    rng,
                );
                assert!(
                    matches!(step.event, Some(SmpEvent::Cheated { .. })),
                    "type {} index {index}: {:?}",
                    tlv.tlv_type,
                    step.event
                );
                assert_eq!(step.reply.unwrap().tlv_type, TLV_SMP_ABORT);
                assert_eq!(smp.state(), SmpStateName::Expect1);
            }
        }
    }

    #[test]
    fn hostile_values_in_smp2_smp3_smp4() {
        let (mut alice, mut bob, mut rng) = pair();
        let (fa, fb, ssid) = (alice.our_fingerprint, bob.our_fingerprint, alice.ssid);
        let smp1 = alice.initiate(None, b"s", &mut rng).unwrap();
        bob.handle_tlv(&smp1, &mut rng);
        let smp2 = bob.respond(b"s", &mut rng).unwrap();
        let smp3 = alice.handle_tlv(&smp2, &mut rng).reply.unwrap();
        let smp4 = bob.handle_tlv(&smp3, &mut rng).reply.unwrap();
        // SMP2 at an initiator in EXPECT2: every element (0, 3, 6, 7), D (2, 5, 9, 10)
        // and c (1, 4, 8).
        let expect2 = |rng: &mut TestRng| {
            let mut a = Smp::new(fa, fb, ssid);
            a.initiate(None, b"s", rng).unwrap();
            a
        };
        rejects_hostile(
            &smp2,
            11,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            expect2,
            &mut rng,
        );
        // SMP3 at a responder in EXPECT3.
        let expect3 = |rng: &mut TestRng| {
            let mut b = Smp::new(fb, fa, ssid);
            b.handle_tlv(&smp1, rng);
            b.respond(b"s", rng).unwrap();
            b
        };
        rejects_hostile(&smp3, 8, &[0, 1, 2, 3, 4, 5, 6, 7], expect3, &mut rng);
        // SMP4 at an initiator in EXPECT4.
        let expect4 = |rng: &mut TestRng| {
            let mut a = Smp::new(fa, fb, ssid);
            let mut b = Smp::new(fb, fa, ssid);
            let m1 = a.initiate(None, b"s", rng).unwrap();
            b.handle_tlv(&m1, rng);
            let m2 = b.respond(b"s", rng).unwrap();
            a.handle_tlv(&m2, rng);
            assert_eq!(a.state(), SmpStateName::Expect4);
            a
        };
        rejects_hostile(&smp4, 3, &[0, 1, 2], expect4, &mut rng);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let (mut alice, _, mut rng) = pair();
        alice.initiate(Some("q"), b"hunter2", &mut rng).unwrap();
        assert_eq!(format!("{alice:?}"), "Smp { state: Expect2, .. }");
        let step = SmpStep {
            reply: Some(abort_tlv()),
            event: Some(SmpEvent::Failed),
        };
        assert_eq!(
            format!("{step:?}"),
            "SmpStep { reply: Some(Tlv(type 6, 0 bytes)), event: Some(Failed) }"
        );
    }
}
