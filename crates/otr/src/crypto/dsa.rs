//! DSA long-term keys as OTR uses them: 1024-bit p, 160-bit q, signatures of exactly 40
//! bytes over a 32-byte value **reduced mod q** (not FIPS-truncated).
//!
//! - The value signed in the AKE is M_A or M_B, a 32-byte HMAC-SHA256 output. It is taken
//!   as a 256-bit big-endian integer modulo q, as libotr does (libgcrypt with a plain MPI)
//!   and as the 4.1.1 spec says. Signing it with a FIPS 186-3 "leftmost bits" truncation
//!   would not interoperate.
//! - The per-signature nonce k is hedged: SHA-512(x ‖ H ‖ 32 fresh random bytes) mod q, so
//!   a weak RNG alone does not expose x.
//! - g^k, k⁻¹ and the arithmetic with x are constant time (fixed-window modexp bounded by
//!   |q|, safegcd inversion, Montgomery multiplication). Verification handles only public
//!   values.
//! - The fingerprint is SHA-1 over the PUBKEY bytes without the 2-byte type field, as they
//!   appeared on the wire; shown as five groups of eight upper-case hex digits.

use core::fmt;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero};
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::kdf::sha1;
use super::{
    is_probable_prime, monty_params, pow_ct, pow_public_vartime, resize, small, to_monty,
    uint_from_be, uint_to_be_minimal, CryptoRng,
};
use crate::error::PeerError;
use crate::wire::{Mpi, PublicKeyWire, SignatureWire};

/// Bits of the DSA modulus p OTR uses.
pub const P_BITS: u32 = 1024;
/// Bits of the DSA subgroup order q OTR uses (a signature is two 20-byte halves).
pub const Q_BITS: u32 = 160;
/// Miller–Rabin rounds for generated p and q (FIPS 186-4 Table C.1, L = 1024, N = 160).
const MR_ROUNDS: usize = 40;

/// A DSA public key, checked for the sizes and ranges OTR needs.
#[derive(Clone)]
pub struct DsaPublicKey {
    q: BoxedUint,
    g: BoxedUint,
    y: BoxedUint,
    p_params: BoxedMontyParams,
    q_params: BoxedMontyParams,
    wire: PublicKeyWire,
}

impl PartialEq for DsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.wire.mpi_bytes() == other.wire.mpi_bytes()
    }
}

impl Eq for DsaPublicKey {}

impl fmt::Debug for DsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DsaPublicKey")
            .field(&self.fingerprint().to_string())
            .finish()
    }
}

/// A 20-byte OTR fingerprint: SHA-1 of a DSA public key's MPIs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 20]);

impl Fingerprint {
    /// Lower-case hex without spaces, as libotr's fingerprint store writes it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Fingerprint {
    /// Five groups of eight upper-case hex digits separated by spaces
    /// (libotr `otrl_privkey_hash_to_human`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            for b in chunk {
                write!(f, "{b:02X}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

fn nonzero(value: &BoxedUint) -> Option<NonZero<BoxedUint>> {
    value.to_nz().into_option()
}

impl DsaPublicKey {
    /// Accept a received PUBKEY: q must have exactly 160 bits, p exactly 1024 bits (the only
    /// sizes whose signatures libotr accepts), and 1 < g, y < p.
    pub fn from_wire(wire: &PublicKeyWire) -> Result<Self, PeerError> {
        Self::from_wire_sized(wire, P_BITS)
    }

    fn from_wire_sized(wire: &PublicKeyWire, p_bits: u32) -> Result<Self, PeerError> {
        let bad = PeerError::BadPublicKey;
        let p = uint_from_be(wire.p.as_be_bytes(), p_bits).ok_or(bad.clone())?;
        let q = uint_from_be(wire.q.as_be_bytes(), Q_BITS).ok_or(bad.clone())?;
        if p.bit_width_vartime() != p_bits || q.bit_width_vartime() != Q_BITS {
            return Err(bad);
        }
        let g = uint_from_be(wire.g.as_be_bytes(), p_bits).ok_or(bad.clone())?;
        let y = uint_from_be(wire.y.as_be_bytes(), p_bits).ok_or(bad.clone())?;
        let one = small(1, p_bits);
        for v in [&g, &y] {
            if v.cmp_vartime(&one).is_le() || v.cmp_vartime(&p).is_ge() {
                return Err(bad);
            }
        }
        let p_params = monty_params(&p).ok_or(bad.clone())?;
        let q_params = monty_params(&q).ok_or(bad)?;
        Ok(Self {
            q,
            g,
            y,
            p_params,
            q_params,
            wire: wire.clone(),
        })
    }

    /// The PUBKEY wire form (with the exact bytes it was received as).
    pub fn to_wire(&self) -> &PublicKeyWire {
        &self.wire
    }

    /// SHA-1 over the PUBKEY bytes without the type field.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(sha1(self.wire.mpi_bytes()))
    }

    /// H = `message` as a big-endian integer, reduced mod q.
    fn reduce(&self, message: &[u8]) -> Option<BoxedUint> {
        let h = BoxedUint::from_be_slice_vartime(message);
        let q_nz = nonzero(&resize(
            &self.q,
            h.bits_precision().max(self.q.bits_precision()),
        ))?;
        let reduced = resize(&h, q_nz.bits_precision()).rem_vartime(&q_nz);
        Some(resize(&reduced, self.q.bits_precision()))
    }

    /// Verify a 40-byte signature over `message` (a byte string taken as an integer mod q).
    pub fn verify(&self, message: &[u8], signature: &SignatureWire) -> Result<(), PeerError> {
        let bad = PeerError::BadSignature;
        let (r_bytes, s_bytes) = signature.0.split_at(20);
        let r = uint_from_be(r_bytes, Q_BITS).ok_or(bad.clone())?;
        let s = uint_from_be(s_bytes, Q_BITS).ok_or(bad.clone())?;
        let zero = BoxedUint::zero_with_precision(Q_BITS);
        for v in [&r, &s] {
            if v.cmp_vartime(&zero).is_eq() || v.cmp_vartime(&self.q).is_ge() {
                return Err(bad);
            }
        }
        let h = self.reduce(message).ok_or(bad.clone())?;
        let w = to_monty(&s, &self.q_params)
            .invert_vartime()
            .into_option()
            .ok_or(bad.clone())?;
        let u1 = (to_monty(&h, &self.q_params) * &w).retrieve();
        let u2 = (to_monty(&r, &self.q_params) * &w).retrieve();
        let g_u1 = pow_public_vartime(&to_monty(&self.g, &self.p_params), &u1);
        let y_u2 = pow_public_vartime(&to_monty(&self.y, &self.p_params), &u2);
        let v = (g_u1 * y_u2).retrieve();
        let q_nz = nonzero(&resize(&self.q, v.bits_precision())).ok_or(bad.clone())?;
        let v = resize(&v.rem_vartime(&q_nz), Q_BITS);
        if v == r {
            Ok(())
        } else {
            Err(bad)
        }
    }
}

/// The secret exponent x. Zeroized on drop.
struct DsaSecret(BoxedUint);

impl Drop for DsaSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A DSA private key (with its public key). `Debug` shows only the fingerprint.
pub struct DsaPrivateKey {
    public: DsaPublicKey,
    x: DsaSecret,
}

impl fmt::Debug for DsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsaPrivateKey")
            .field("fingerprint", &self.public.fingerprint().to_string())
            .finish_non_exhaustive()
    }
}

/// Why a private key could not be loaded from its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrivateKey;

impl fmt::Display for InvalidPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid DSA private key")
    }
}

impl std::error::Error for InvalidPrivateKey {}

impl DsaPrivateKey {
    /// Generate a new 1024/160 key: q prime, p = k·q + 1 prime, g of order q, x uniform in
    /// [1, q−1]. Takes on the order of a second; run it off the UI thread.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let q = random_prime_q(rng);
        let p = random_prime_p(&q, rng);
        let g = generator(&p, &q);
        let x = random_scalar(&q, rng);
        // The values were just generated with the right sizes; the checks cannot fail
        // but are kept rather than asserted.
        match Self::assemble(&p, &q, &g, x, P_BITS) {
            Some(key) => key,
            None => Self::generate(rng),
        }
    }

    /// Load a key from its big-endian components (p, q, g, x), e.g. from storage. Checks
    /// the OTR sizes and that 0 < x < q; y is recomputed.
    pub fn from_components(
        p: &[u8],
        q: &[u8],
        g: &[u8],
        x: &[u8],
    ) -> Result<Self, InvalidPrivateKey> {
        Self::from_components_sized(p, q, g, x, P_BITS)
    }

    fn from_components_sized(
        p: &[u8],
        q: &[u8],
        g: &[u8],
        x: &[u8],
        p_bits: u32,
    ) -> Result<Self, InvalidPrivateKey> {
        let p = uint_from_be(p, p_bits).ok_or(InvalidPrivateKey)?;
        let q = uint_from_be(q, Q_BITS).ok_or(InvalidPrivateKey)?;
        let g = uint_from_be(g, p_bits).ok_or(InvalidPrivateKey)?;
        let x = DsaSecret(uint_from_be(x, Q_BITS).ok_or(InvalidPrivateKey)?);
        if x.0.is_zero().into() || x.0.cmp_vartime(&q).is_ge() {
            return Err(InvalidPrivateKey);
        }
        Self::assemble(&p, &q, &g, x, p_bits).ok_or(InvalidPrivateKey)
    }

    fn assemble(
        p: &BoxedUint,
        q: &BoxedUint,
        g: &BoxedUint,
        x: DsaSecret,
        p_bits: u32,
    ) -> Option<Self> {
        let p_params = monty_params(p)?;
        let y = pow_ct(&to_monty(g, &p_params), &x.0, Q_BITS).retrieve();
        let mpi = |v: &BoxedUint| Mpi::from_be_bytes(&uint_to_be_minimal(v));
        let wire = PublicKeyWire::new(mpi(p), mpi(q), mpi(g), mpi(&y));
        let public = DsaPublicKey::from_wire_sized(&wire, p_bits).ok()?;
        Some(Self { public, x })
    }

    /// The public half.
    pub fn public_key(&self) -> &DsaPublicKey {
        &self.public
    }

    /// The secret exponent x as 20 big-endian bytes, for storage.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let bytes = Zeroizing::new(self.x.0.to_be_bytes());
        let start = bytes.len().saturating_sub(20);
        Zeroizing::new(bytes.get(start..).unwrap_or_default().to_vec())
    }

    /// Sign `message` (in OTR the 32-byte M_A or M_B) taken as an integer mod q.
    pub fn sign<R: CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> SignatureWire {
        let h = self
            .public
            .reduce(message)
            .unwrap_or_else(|| small(0, Q_BITS));
        loop {
            let mut fresh = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(fresh.as_mut_slice());
            let mut hasher = Sha512::new();
            hasher.update(self.x.0.to_be_bytes());
            hasher.update(h.to_be_bytes());
            hasher.update(fresh.as_slice());
            let digest = Zeroizing::new(<[u8; 64]>::from(hasher.finalize()));
            let k = Zeroizing::new(reduce_mod(digest.as_slice(), &self.public.q));
            if let Some(sig) = self.sign_with_nonce(&h, &k) {
                return sig;
            }
        }
    }

    /// The signing equation with a given nonce: r = (g^k mod p) mod q,
    /// s = k⁻¹(H + x·r) mod q. `None` if k, r or s is zero.
    fn sign_with_nonce(&self, h: &BoxedUint, k: &BoxedUint) -> Option<SignatureWire> {
        let pk = &self.public;
        let k_m = to_monty(k, &pk.q_params);
        let k_inv: BoxedMontyForm = k_m.invert().into_option()?;
        let gk = pow_ct(&to_monty(&pk.g, &pk.p_params), k, Q_BITS).retrieve();
        let r = reduce_mod(&gk.to_be_bytes(), &pk.q);
        let x_m = to_monty(&self.x.0, &pk.q_params);
        let s_m = k_inv * (to_monty(h, &pk.q_params) + x_m * to_monty(&r, &pk.q_params));
        let s = s_m.retrieve();
        if bool::from(r.is_zero()) || bool::from(s.is_zero()) {
            return None;
        }
        let mut out = [0u8; 40];
        let r_bytes = r.to_be_bytes();
        let s_bytes = s.to_be_bytes();
        let r_tail = r_bytes.get(r_bytes.len().checked_sub(20)?..)?;
        let s_tail = s_bytes.get(s_bytes.len().checked_sub(20)?..)?;
        out.get_mut(..20)?.copy_from_slice(r_tail);
        out.get_mut(20..)?.copy_from_slice(s_tail);
        Some(SignatureWire(out))
    }
}

/// `bytes` as a big-endian integer mod `q`, at q's precision. Constant time in the value.
fn reduce_mod(bytes: &[u8], q: &BoxedUint) -> BoxedUint {
    let v = BoxedUint::from_be_slice_vartime(bytes);
    let prec = v.bits_precision().max(q.bits_precision());
    match nonzero(&resize(q, prec)) {
        Some(q_nz) => resize(&resize(&v, prec).rem(&q_nz), q.bits_precision()),
        None => BoxedUint::zero_with_precision(q.bits_precision()),
    }
}

fn random_odd_with_top_bit<R: CryptoRng + ?Sized>(bits: u32, rng: &mut R) -> BoxedUint {
    let len = bits.div_ceil(8) as usize;
    let mut buf = vec![0u8; len];
    rng.fill_bytes(&mut buf);
    let excess = (len as u32) * 8 - bits;
    if let Some(first) = buf.first_mut() {
        *first &= 0xff >> excess;
        *first |= 0x80 >> excess;
    }
    if let Some(last) = buf.last_mut() {
        *last |= 1;
    }
    resize(&BoxedUint::from_be_slice_vartime(&buf), bits)
}

fn random_prime_q<R: CryptoRng + ?Sized>(rng: &mut R) -> BoxedUint {
    loop {
        let q = random_odd_with_top_bit(Q_BITS, rng);
        if is_probable_prime(&q, MR_ROUNDS, rng) {
            return q;
        }
    }
}

/// A 1024-bit prime p with q | p − 1: p = X − (X mod 2q) + 1 for random 1024-bit X
/// (FIPS 186-4 A.1.1.2 step 11 without the seed bookkeeping).
fn random_prime_p<R: CryptoRng + ?Sized>(q: &BoxedUint, rng: &mut R) -> BoxedUint {
    let two_q = resize(q, P_BITS).wrapping_shl_vartime(1);
    let one = small(1, P_BITS);
    loop {
        let x = random_odd_with_top_bit(P_BITS, rng);
        let Some(nz) = nonzero(&two_q) else { continue };
        let c = x.rem_vartime(&nz);
        let p = x.wrapping_sub(&c).wrapping_add(&one);
        if p.bit_width_vartime() != P_BITS {
            continue;
        }
        if is_probable_prime(&p, MR_ROUNDS, rng) {
            return p;
        }
    }
}

/// g = h^((p−1)/q) mod p for the first h = 2, 3, … giving g ≠ 1.
fn generator(p: &BoxedUint, q: &BoxedUint) -> BoxedUint {
    let one = small(1, P_BITS);
    let e = match nonzero(&resize(q, P_BITS)) {
        Some(q_nz) => p.wrapping_sub(&one).wrapping_div_vartime(&q_nz),
        None => return small(2, P_BITS),
    };
    let Some(params) = monty_params(p) else {
        return small(2, P_BITS);
    };
    let mut h = 2u64;
    loop {
        let g = pow_public_vartime(&to_monty(&small(h, P_BITS), &params), &e).retrieve();
        if g != one {
            return g;
        }
        h += 1;
    }
}

/// Uniform-ish x in [1, q − 1]: 64 extra random bits reduced mod (q − 1), plus one.
fn random_scalar<R: CryptoRng + ?Sized>(q: &BoxedUint, rng: &mut R) -> DsaSecret {
    let mut buf = Zeroizing::new([0u8; 28]);
    rng.fill_bytes(buf.as_mut_slice());
    let q_minus_1 = q.wrapping_sub(small(1, q.bits_precision()));
    let mut v = reduce_mod(buf.as_slice(), &q_minus_1);
    v = v.wrapping_add(small(1, v.bits_precision()));
    DsaSecret(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_rng::TestRng;
    use crate::wire::Codec;
    use std::sync::OnceLock;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// FIPS 186-2 Appendix 5 (512-bit p, 160-bit q), message "abc" hashed with SHA-1.
    struct Fips186Example {
        p: &'static str,
        q: &'static str,
        g: &'static str,
        x: &'static str,
        y: &'static str,
        k: &'static str,
        h: &'static str,
        r: &'static str,
        s: &'static str,
    }

    const FIPS_186_2_APPENDIX_5: Fips186Example = Fips186Example {
        p: "8df2a494492276aa3d25759bb06869cbeac0d83afb8d0cf7cbb8324f0d7882e5d0762fc5b7210eafc2e9adac32ab7aac49693dfbf83724c2ec0736ee31c80291",
        q: "c773218c737ec8ee993b4f2ded30f48edace915f",
        g: "626d027839ea0a13413163a55b4cb500299d5522956cefcb3bff10f399ce2c2e71cb9de5fa24babf58e5b79521925c9cc42e9f6f464b088cc572af53e6d78802",
        x: "2070b3223dba372fde1c0ffc7b2e3b498b260614",
        y: "19131871d75b1612a819f29d78d1b0d7346f7aa77bb62a859bfd6c5675da9d212d3a36ef1672ef660b8c7c255cc0ec74858fba33f44c06699630a76b030ee333",
        k: "358dad571462710f50e254cf1a376b2bdeaadfbf",
        h: "a9993e364706816aba3e25717850c26c9cd0d89d",
        r: "8bac1ab66410435cb7181f95b16ab97c92b341c0",
        s: "41e2345f1f56df2458f426d155b4ba2db6dcd8c8",
    };

    fn fips_key() -> DsaPrivateKey {
        let v = &FIPS_186_2_APPENDIX_5;
        DsaPrivateKey::from_components_sized(&hex(v.p), &hex(v.q), &hex(v.g), &hex(v.x), 512)
            .unwrap()
    }

    /// One generated 1024/160 key per test binary (generation takes a while).
    pub(crate) fn test_key() -> &'static DsaPrivateKey {
        static KEY: OnceLock<DsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| DsaPrivateKey::generate(&mut TestRng::new(0xd5a)))
    }

    #[test]
    fn fips_186_2_known_answer() {
        let v = &FIPS_186_2_APPENDIX_5;
        let key = fips_key();
        assert_eq!(key.public_key().to_wire().y.as_be_bytes(), hex(v.y));
        let h = key.public_key().reduce(&hex(v.h)).unwrap();
        let k = uint_from_be(&hex(v.k), Q_BITS).unwrap();
        let sig = key.sign_with_nonce(&h, &k).unwrap();
        assert_eq!(sig.0[..20], hex(v.r)[..]);
        assert_eq!(sig.0[20..], hex(v.s)[..]);
        key.public_key().verify(&hex(v.h), &sig).unwrap();
        let mut wrong = hex(v.h);
        wrong[19] ^= 1;
        assert_eq!(
            key.public_key().verify(&wrong, &sig),
            Err(PeerError::BadSignature)
        );
    }

    #[test]
    fn generated_key_has_otr_sizes_and_signs() {
        let key = test_key();
        let wire = key.public_key().to_wire();
        assert_eq!(wire.p.as_be_bytes().len(), 128);
        assert_eq!(wire.q.as_be_bytes().len(), 20);
        let mut rng = TestRng::new(5);
        let m = [0xabu8; 32];
        let sig = key.sign(&m, &mut rng);
        key.public_key().verify(&m, &sig).unwrap();
        // Hedged nonce: a second signature differs.
        assert_ne!(key.sign(&m, &mut rng), sig);
        // Round trip through the wire form.
        let decoded = PublicKeyWire::decode(&wire.to_bytes()).unwrap();
        let public = DsaPublicKey::from_wire(&decoded).unwrap();
        assert_eq!(&public, key.public_key());
        public.verify(&m, &sig).unwrap();
        // Reload from components.
        let again = DsaPrivateKey::from_components(
            wire.p.as_be_bytes(),
            wire.q.as_be_bytes(),
            wire.g.as_be_bytes(),
            &key.secret_bytes(),
        )
        .unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    /// The 32-byte value is reduced mod q, not truncated to its leftmost 160 bits
    /// (otr-facts §6, the classic pitfall).
    #[test]
    fn signs_the_value_mod_q_not_truncated() {
        let key = test_key();
        let pk = key.public_key();
        let m = [0xffu8; 32];
        let sig = key.sign(&m, &mut TestRng::new(6));
        // The same integer mod q, written as 20 bytes, verifies.
        let reduced = pk.reduce(&m).unwrap();
        let reduced_bytes = reduced.to_be_bytes();
        pk.verify(&reduced_bytes[reduced_bytes.len() - 20..], &sig)
            .unwrap();
        // The FIPS-truncated value (leftmost 20 bytes) does not.
        assert_eq!(pk.verify(&m[..20], &sig), Err(PeerError::BadSignature));
    }

    #[test]
    fn signature_ranges_are_checked() {
        let key = test_key();
        let pk = key.public_key();
        let m = [1u8; 32];
        let sig = key.sign(&m, &mut TestRng::new(8));
        let mut zero_r = sig;
        zero_r.0[..20].fill(0);
        assert_eq!(pk.verify(&m, &zero_r), Err(PeerError::BadSignature));
        let mut big_s = sig;
        big_s.0[20..].fill(0xff);
        assert_eq!(pk.verify(&m, &big_s), Err(PeerError::BadSignature));
        let mut flipped = sig;
        flipped.0[39] ^= 1;
        assert_eq!(pk.verify(&m, &flipped), Err(PeerError::BadSignature));
    }

    #[test]
    fn public_keys_with_wrong_sizes_are_refused() {
        let wire = test_key().public_key().to_wire().clone();
        let mut q_long = wire.q.as_be_bytes().to_vec();
        q_long.insert(0, 1);
        let bad_q = PublicKeyWire::new(
            wire.p.clone(),
            Mpi::from_be_bytes(&q_long),
            wire.g.clone(),
            wire.y.clone(),
        );
        assert_eq!(
            DsaPublicKey::from_wire(&bad_q),
            Err(PeerError::BadPublicKey)
        );
        let bad_y = PublicKeyWire::new(
            wire.p.clone(),
            wire.q.clone(),
            wire.g.clone(),
            Mpi::from_be_bytes(&[1]),
        );
        assert_eq!(
            DsaPublicKey::from_wire(&bad_y),
            Err(PeerError::BadPublicKey)
        );
        let fips = fips_key().public_key().to_wire().clone();
        assert_eq!(DsaPublicKey::from_wire(&fips), Err(PeerError::BadPublicKey));
    }

    #[test]
    fn fingerprint_is_sha1_of_mpis_without_type() {
        let key = fips_key();
        let wire = key.public_key().to_wire();
        let bytes = wire.to_bytes();
        assert_eq!(key.public_key().fingerprint().0, sha1(&bytes[2..]));
        let fp = Fingerprint(
            *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67",
        );
        assert_eq!(
            fp.to_string(),
            "01234567 89ABCDEF 01234567 89ABCDEF 01234567"
        );
        assert_eq!(fp.to_hex(), "0123456789abcdef0123456789abcdef01234567");
    }

    #[test]
    fn debug_shows_fingerprint_only() {
        let key = fips_key();
        let shown = format!("{key:?}");
        let x = FIPS_186_2_APPENDIX_5.x;
        assert!(!shown.to_lowercase().contains(&x[..8]), "{shown}");
        assert!(shown.contains(&key.public_key().fingerprint().to_string()));
    }
}
