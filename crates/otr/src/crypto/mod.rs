//! Cryptographic primitives of OTR v2/v3.
//!
//! | piece | module | notes |
//! |---|---|---|
//! | 1536-bit MODP group (RFC 3526 §2), DH key pairs, range checks | [`group`] | constant-time modexp for secret exponents |
//! | DSA 1024/160 keys: generate, sign, verify, fingerprint | [`dsa`] | signs the 32-byte value reduced mod q |
//! | AKE keys (h2, SHA-256), data keys (h1, SHA-1), AES-128-CTR, HMACs | [`kdf`] | secrets in zeroizing types |
//!
//! Big numbers are `crypto-bigint`'s heap-allocated [`BoxedUint`] and [`BoxedMontyForm`].
//! The exponentiations, where nearly all the time goes, run in `mont`: fixed-size,
//! allocation-free Montgomery arithmetic (28-bit limbs on wasm32, 64-bit natively) for the 1536-bit
//! group and 1024-bit DSA primes. Exponentiation by a secret exponent (`pow_ct`) is a
//! fixed-window ladder with masked table lookups that leaks only the public bound on the
//! exponent's bit length; `pow_public_vartime` is for public exponents only. Randomness
//! always comes in as a [`CryptoRng`] argument.

pub mod dsa;
pub mod group;
pub mod kdf;
pub(crate) mod mont;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd, Resize};

pub use rand_core::CryptoRng;

use crate::wire::strip_leading_zeros;

/// Parse a big-endian magnitude into a [`BoxedUint`] of exactly `bits` precision (a
/// multiple of 64 is used internally). `None` if the value does not fit.
pub(crate) fn uint_from_be(bytes: &[u8], bits: u32) -> Option<BoxedUint> {
    let bytes = strip_leading_zeros(bytes);
    let value = BoxedUint::from_be_slice_vartime(bytes);
    if value.bit_width_vartime() > bits {
        return None;
    }
    Some(resize(&value, bits))
}

/// `value` widened or shortened to the precision used for `bits`.
///
/// Callers only shorten values that fit (checked by `bits_vartime`).
pub(crate) fn resize(value: &BoxedUint, bits: u32) -> BoxedUint {
    value.clone().resize_unchecked(bits)
}

/// A small constant at the precision used for `bits`.
pub(crate) fn small(value: u64, bits: u32) -> BoxedUint {
    resize(&BoxedUint::from(value), bits)
}

/// The minimal big-endian bytes of `value` (empty for zero).
pub(crate) fn uint_to_be_minimal(value: &BoxedUint) -> Vec<u8> {
    strip_leading_zeros(&value.to_be_bytes()).to_vec()
}

/// Montgomery parameters for an odd modulus.
pub(crate) fn monty_params(modulus: &BoxedUint) -> Option<BoxedMontyParams> {
    let odd: Option<Odd<BoxedUint>> = modulus.to_odd().into();
    odd.map(BoxedMontyParams::new_vartime)
}

/// `value` (any precision, already `< modulus`) in Montgomery form for `params`.
pub(crate) fn to_monty(value: &BoxedUint, params: &BoxedMontyParams) -> BoxedMontyForm {
    BoxedMontyForm::new(resize(value, params.bits_precision()), params)
}

/// `base^exponent mod m`, constant time in the value of `exponent` for a given
/// `exponent_bits` bound.
pub(crate) fn pow_ct(
    base: &BoxedMontyForm,
    exponent: &BoxedUint,
    exponent_bits: u32,
) -> BoxedMontyForm {
    mont::pow_ct(base, exponent, exponent_bits)
        .unwrap_or_else(|| base.pow_bounded_exp(exponent, exponent_bits))
}

/// `base^exponent mod m` for a **public** exponent (a received proof value, a signature
/// verification scalar, a primality test): variable time in the exponent. Never pass a
/// secret.
pub(crate) fn pow_public_vartime(base: &BoxedMontyForm, exponent: &BoxedUint) -> BoxedMontyForm {
    mont::pow_vartime(base, exponent).unwrap_or_else(|| base.pow(exponent))
}

/// A Miller–Rabin probable-prime test on a public odd candidate `n > 3`, with `rounds`
/// random bases, after trial division by small primes. Used for DSA parameter generation.
pub(crate) fn is_probable_prime<R: CryptoRng + ?Sized>(
    n: &BoxedUint,
    rounds: usize,
    rng: &mut R,
) -> bool {
    if !passes_trial_division(n) {
        return false;
    }
    let Some(params) = monty_params(n) else {
        return false;
    };
    let bits = n.bit_width_vartime();
    let one = BoxedUint::one_with_precision(n.bits_precision());
    let n_minus_1 = n.wrapping_sub(&one);
    let s = n_minus_1.trailing_zeros_vartime();
    let d = n_minus_1.wrapping_shr_vartime(s);
    let one_m = BoxedMontyForm::one(&params);
    let minus_one_m = to_monty(&n_minus_1, &params);
    let byte_len = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
    let mut buf = vec![0u8; byte_len];
    for round in 0..rounds {
        // Base 2 first (cheap rejection of composites), then random bases in [2, n-2].
        let a = if round == 0 {
            BoxedUint::from(2u64)
        } else {
            rng.fill_bytes(&mut buf);
            let candidate = BoxedUint::from_be_slice_vartime(&buf);
            let Some(nz) = n_minus_1
                .wrapping_sub(small(3u64, n.bits_precision()))
                .to_nz()
                .into_option()
            else {
                return false;
            };
            // a = 2 + (random mod (n - 3))
            resize(&candidate, n.bits_precision())
                .rem_vartime(&nz)
                .wrapping_add(small(2u64, n.bits_precision()))
        };
        // n, d and the bases are public (a rejected candidate is discarded; an accepted
        // one becomes part of a public key).
        let mut x = pow_public_vartime(&to_monty(&a, &params), &d);
        if x == one_m || x == minus_one_m {
            continue;
        }
        let mut witness = true;
        for _ in 1..s {
            x = x.square();
            if x == minus_one_m {
                witness = false;
                break;
            }
        }
        if witness {
            return false;
        }
    }
    true
}

const SMALL_PRIMES: [u64; 53] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251,
];

fn passes_trial_division(n: &BoxedUint) -> bool {
    for p in SMALL_PRIMES {
        let Some(limb) = crypto_bigint::NonZero::new(crypto_bigint::Limb::from(p)).into_option()
        else {
            continue;
        };
        if n.rem_limb(limb) == crypto_bigint::Limb::ZERO {
            return n == &small(p, n.bits_precision());
        }
    }
    true
}

#[cfg(test)]
pub(crate) mod test_rng {
    //! A deterministic RNG for reproducible tests (SHA-256 in counter mode). Not for use
    //! outside tests.
    use core::convert::Infallible;
    use rand_core::{TryCryptoRng, TryRng};
    use sha2::{Digest, Sha256};

    #[derive(Debug, Clone)]
    pub struct TestRng {
        seed: [u8; 32],
        counter: u64,
    }

    impl TestRng {
        pub fn new(seed: u64) -> Self {
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_be_bytes());
            Self {
                seed: s,
                counter: 0,
            }
        }
    }

    impl TryRng for TestRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for chunk in dst.chunks_mut(32) {
                let mut h = Sha256::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.counter += 1;
                let out = h.finalize();
                chunk.copy_from_slice(&out[..chunk.len()]);
            }
            Ok(())
        }
    }

    impl TryCryptoRng for TestRng {}
}

#[cfg(test)]
mod tests {
    use super::test_rng::TestRng;
    use super::*;

    #[test]
    fn miller_rabin_separates_primes_from_composites() {
        let mut rng = TestRng::new(1);
        // 2^127 - 1 is prime (a Mersenne prime); 2^128 + 1 is composite (F7).
        let m127 = BoxedUint::from_be_slice_vartime(&[0xff; 16]).wrapping_shr_vartime(1);
        assert!(is_probable_prime(&m127, 20, &mut rng));
        let f7 = {
            let mut b = vec![0u8; 17];
            b[0] = 1;
            b[16] = 1;
            BoxedUint::from_be_slice_vartime(&b)
        };
        assert!(!is_probable_prime(&f7, 20, &mut rng));
        // F5 = 2^32 + 1 = 641 * 6700417 is a strong pseudoprime to base 2 and has no factor
        // in the trial-division table, so only the random bases can reject it.
        let f5 = BoxedUint::from(4_294_967_297u64);
        assert!(!is_probable_prime(&f5, 20, &mut rng));
        assert!(
            is_probable_prime(&f5, 1, &mut rng),
            "base 2 alone is fooled"
        );
        let c = BoxedUint::from(257u64 * 263); // product of two primes above the table
        assert!(!is_probable_prime(&c, 20, &mut rng));
        assert!(is_probable_prime(&BoxedUint::from(65_537u64), 20, &mut rng));
    }

    #[test]
    fn uint_conversions() {
        assert_eq!(
            uint_from_be(&[0, 0, 1, 2], 64).map(|u| u.bits_precision()),
            Some(64)
        );
        assert!(uint_from_be(&[1; 9], 64).is_none());
        let v = uint_from_be(&[0, 1, 2], 1536).unwrap();
        assert_eq!(v.bits_precision(), 1536);
        assert_eq!(uint_to_be_minimal(&v), [1, 2]);
        assert_eq!(uint_to_be_minimal(&BoxedUint::zero()), Vec::<u8>::new());
    }
}
