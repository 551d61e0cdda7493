//! Hooks for `cargo xtask bench otr` (hidden): the raw modular exponentiation that DH, SMP
//! and DSA are built on, so its cost can be compared with libgcrypt's `gcry_mpi_powm`.
//! Not part of the API.

use crypto_bigint::BoxedUint;

use crate::crypto::group::{group, MODULUS_BITS};
use crate::crypto::{pow_ct, resize, to_monty};

/// `base^exponent mod p` in the 1536-bit MODP group, with the constant-time exponentiation
/// the protocol uses for secret exponents, bounded by `exponent_bits`. `base` and
/// `exponent` are big-endian; `base` is reduced mod p first (not a hot path), `exponent`
/// is truncated to its low `exponent_bits` bits. Returns the big-endian result (192 bytes).
pub fn modexp_1536(base: &[u8], exponent: &[u8], exponent_bits: u32) -> Vec<u8> {
    let grp = group();
    let bits = exponent_bits.clamp(1, MODULUS_BITS);
    let p = grp.params.modulus().as_nz_ref().clone();
    let b = BoxedUint::from_be_slice_vartime(base);
    let b = resize(&b, b.bits_precision().max(MODULUS_BITS)).rem_vartime(&p);
    let e = BoxedUint::from_be_slice_vartime(exponent);
    // A precision above `bits`, so that 1 << bits is representable.
    let e = resize(&e, e.bits_precision().max(bits + 64));
    let one = BoxedUint::one_with_precision(e.bits_precision());
    let mask = one.wrapping_shl_vartime(bits).wrapping_sub(&one);
    let e = e.bitand(&mask);
    pow_ct(&to_monty(&b, &grp.params), &e, bits)
        .retrieve()
        .to_be_bytes()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modexp_matches_small_cases() {
        // 2^10 = 1024 (no reduction), 3^1 = 3, x^0 = 1.
        let r = modexp_1536(&[2], &[10], 320);
        assert_eq!(r.len(), 192);
        assert_eq!(&r[190..], &[4, 0]);
        assert!(r[..190].iter().all(|b| *b == 0));
        assert_eq!(r[191], 0);
        assert_eq!(modexp_1536(&[3], &[1], 1536)[191], 3);
        assert_eq!(modexp_1536(&[7], &[0], 320)[191], 1);
        // The exponent is truncated to its low `exponent_bits` bits: 2^(0x1_0a mod 2^8) = 2^10.
        assert_eq!(
            modexp_1536(&[2], &[1, 10], 8),
            modexp_1536(&[2], &[10], 320)
        );
        // (p-1)^2 = 1: the base is reduced and the arithmetic wraps at p.
        let p_minus_1 = resize(&BoxedUint::from(&crate::crypto::group::MODULUS), 1536)
            .wrapping_sub(BoxedUint::one_with_precision(1536))
            .to_be_bytes();
        assert_eq!(modexp_1536(&p_minus_1, &[2], 1536)[191], 1);
        // A full-size exponent: 2 has order q, so 2^q = 1 and 2^(q+1) = 2.
        let q = BoxedUint::from(&crate::crypto::group::ORDER);
        let one_at = |v: &[u8], last: u8| {
            v.len() == 192 && v[191] == last && v[..191].iter().all(|b| *b == 0)
        };
        assert!(one_at(&modexp_1536(&[2], &q.to_be_bytes(), 1536), 1));
        let q1 = q.wrapping_add(BoxedUint::one_with_precision(1536));
        assert!(one_at(&modexp_1536(&[2], &q1.to_be_bytes(), 1536), 2));
        // ... and at 1535 bits (q's width) too, but not when truncated below it.
        assert!(one_at(&modexp_1536(&[2], &q.to_be_bytes(), 1535), 1));
        assert!(!one_at(&modexp_1536(&[2], &q.to_be_bytes(), 1534), 1));
    }
}
