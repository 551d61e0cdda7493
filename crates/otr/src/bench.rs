//! Hooks for `cargo xtask bench otr` (hidden): the raw modular exponentiation that DH, SMP
//! and DSA are built on, so its cost can be compared with libgcrypt's `gcry_mpi_powm`, and
//! a dudect-style timing test of the constant-time exponentiation ([`ct_tstat`]).
//! Not part of the API.

use crypto_bigint::BoxedUint;

use crate::crypto::group::{group, MODULUS_BITS};
use crate::crypto::mont::{pow_ct_radix, pow_vartime_radix, FixedBase, Radix};
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

/// Builds a table of powers of the group's generator for exponents of up to `bits` bits, as
/// the app does once per process: 320 bits for every `g^x` of a new DH key, 1536 for SMP.
/// Returns how many exponent bits it covers.
pub fn build_g_table(bits: u32) -> u32 {
    let grp = group();
    FixedBase::new(&grp.g, bits.clamp(1, MODULUS_BITS)).map_or(0, |t| t.bits())
}

/// g^e in the 1536-bit group for the big-endian `exponent` truncated to `bits` bits (320: DH,
/// 1536: SMP), constant time, either from the table of powers of g the app uses
/// (`table = true`) or with the fixed-window ladder; returns the 192-byte result. The two are
/// timed in alternation by `cargo xtask bench otr`, so a machine whose speed drifts between
/// runs still shows what the table saves.
pub fn g_pow(exponent: &[u8], bits: u32, table: bool) -> Vec<u8> {
    let grp = group();
    let bits = bits.clamp(1, MODULUS_BITS);
    let e = BoxedUint::from_be_slice_vartime(exponent);
    let e = resize(&e, e.bits_precision().max(bits + 64));
    let one = BoxedUint::one_with_precision(e.bits_precision());
    let e = e.bitand(&one.wrapping_shl_vartime(bits).wrapping_sub(&one));
    let r = match (table, bits) {
        (true, 0..=320) => crate::crypto::group::g_pow_dh(&resize(&e, 320)),
        (true, _) => crate::crypto::group::g_pow_full(&resize(&e, MODULUS_BITS)),
        (false, _) => pow_ct(&grp.g, &e, bits),
    };
    r.retrieve().to_be_bytes().to_vec()
}

/// Which exponentiation [`ct_tstat`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exponentiation {
    /// The constant-time ladder, in the radix-2^64 field (native targets).
    ConstantTime64,
    /// The constant-time ladder, in the radix-2^28 field (wasm32).
    ConstantTime28,
    /// The fixed-base table (DH's `g^x`), in the radix-2^64 field; the exponent bound must
    /// be at most 320 bits.
    FixedBase64,
    /// The fixed-base table, in the radix-2^28 field.
    FixedBase28,
    /// The variable-time path for public exponents: the positive control, which a
    /// timing test must flag.
    VariableTime,
}

/// A dudect-style leakage test ("dude, is my code constant time?", Reparaz, Balasch and
/// Verbauwhede 2017) of `g^e` in the 1536-bit group with a `exponent_bits`-bit bound.
///
/// `samples` exponentiations are timed with `now` (milliseconds), in a shuffled order, for
/// two classes of exponent: one fixed value (only the top bit set, so that a ladder that
/// skips zero windows is fast on it) and fresh random values of the same bound. Samples
/// above the pooled 90th percentile are dropped (interrupts, preemption), and Welch's t
/// statistic of the two classes' means is returned. |t| above 4.5 means the time depends
/// on the exponent.
pub fn ct_tstat(
    samples: usize,
    exponent_bits: u32,
    which: Exponentiation,
    now: &mut dyn FnMut() -> f64,
) -> f64 {
    let grp = group();
    let bits = exponent_bits.clamp(2, MODULUS_BITS);
    let words = bits.div_ceil(64) as usize;
    // SplitMix64: reproducible, and the classes only need to differ, not be secret.
    let mut state: u64 = 0x0dd_c0de;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let top = BoxedUint::one_with_precision(64 * words as u32).wrapping_shl_vartime(bits - 1);
    let mask = top
        .wrapping_shl_vartime(1)
        .wrapping_sub(BoxedUint::one_with_precision(64 * words as u32));
    let base = to_monty(&BoxedUint::from(0x1234_5678_9abc_def1u64), &grp.params);
    let table = match which {
        Exponentiation::FixedBase64 => FixedBase::new_radix(&base, bits, Radix::R64),
        Exponentiation::FixedBase28 => FixedBase::new_radix(&base, bits, Radix::R28),
        _ => None,
    };
    let mut fixed_times = Vec::with_capacity(samples);
    let mut random_times = Vec::with_capacity(samples);
    for _ in 0..2 * samples {
        let fixed = next() & 1 == 0;
        let e = if fixed {
            top.clone()
        } else {
            BoxedUint::from_words((0..words).map(|_| next() as crypto_bigint::Word))
                .bitand(&mask)
                .bitor(&top)
        };
        let t0 = now();
        let r = match which {
            Exponentiation::ConstantTime64 => pow_ct_radix(&base, &e, bits, Radix::R64),
            Exponentiation::ConstantTime28 => pow_ct_radix(&base, &e, bits, Radix::R28),
            Exponentiation::FixedBase64 | Exponentiation::FixedBase28 => {
                table.as_ref().and_then(|t| t.pow_ct(&e, bits))
            }
            Exponentiation::VariableTime => pow_vartime_radix(&base, &e, Radix::R64),
        };
        let elapsed = now() - t0;
        core::hint::black_box(r);
        if fixed {
            fixed_times.push(elapsed);
        } else {
            random_times.push(elapsed);
        }
    }
    let mut pooled: Vec<f64> = fixed_times.iter().chain(&random_times).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let cut = pooled
        .get(pooled.len() * 9 / 10)
        .copied()
        .unwrap_or(f64::INFINITY);
    let keep = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|t| *t <= cut).collect() };
    welch_t(&keep(&fixed_times), &keep(&random_times))
}

/// Welch's t statistic for the difference of the means of `a` and `b` (0 if either has
/// fewer than two values or both have no variance).
pub fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    if a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    let ((na, ma, va), (nb, mb, vb)) = (stats(a), stats(b));
    let se = (va / na + vb / nb).sqrt();
    if se == 0.0 {
        return 0.0;
    }
    (ma - mb) / se
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

    #[test]
    fn g_pow_from_the_table_and_the_ladder_agree() {
        let e: Vec<u8> = (0..192u32).map(|i| (i * 37 + 11) as u8).collect();
        for bits in [1, 64, 320, 1000, 1536] {
            assert_eq!(g_pow(&e, bits, true), g_pow(&e, bits, false), "{bits}");
        }
        // 2^10 = 1024.
        let r = g_pow(&[10], 320, true);
        assert_eq!(&r[190..], &[4, 0]);
    }

    #[test]
    fn welch_t_of_known_samples() {
        assert_eq!(welch_t(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        // Means 2 and 5, variances 1 and 1, n = 3: t = -3 / sqrt(2/3).
        let t = welch_t(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!((t + 3.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12, "{t}");
        assert_eq!(welch_t(&[1.0], &[2.0, 3.0]), 0.0);
    }

    /// The dudect-style test: the constant-time ladder and the fixed-base table (both
    /// radices of each) stay below the usual |t| < 4.5 threshold, and the same harness
    /// flags the variable-time path (which skips zero windows), so the test can fail. Each
    /// timing test is repeated once before failing, because a busy machine can disturb a
    /// run.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn exponentiation_time_does_not_depend_on_the_secret_exponent() {
        // This thread's CPU time: preemption on a busy machine does not inflate it.
        let mut now = || {
            use nix::time::{clock_gettime, ClockId};
            let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
            t.tv_sec() as f64 * 1000.0 + t.tv_nsec() as f64 / 1e6
        };
        let (samples, bits) = (800, 320);
        let mut control = ct_tstat(samples, bits, Exponentiation::VariableTime, &mut now);
        println!("dudect t, variable-time control: {control:.1}");
        if control.abs() <= 4.5 {
            control = ct_tstat(samples, bits, Exponentiation::VariableTime, &mut now);
            println!("dudect t, variable-time control, second run: {control:.1}");
        }
        assert!(
            control.abs() > 4.5,
            "the harness must detect the leak: t = {control}"
        );
        for which in [
            Exponentiation::ConstantTime64,
            Exponentiation::ConstantTime28,
            Exponentiation::FixedBase64,
            Exponentiation::FixedBase28,
        ] {
            let first = ct_tstat(samples, bits, which, &mut now);
            println!("dudect t, {which:?}: {first:.3}");
            if first.abs() >= 4.5 {
                let second = ct_tstat(samples, bits, which, &mut now);
                println!("dudect t, {which:?}, second run: {second:.2}");
                assert!(second.abs() < 4.5, "{which:?}: t = {first}, then {second}");
            }
        }
    }
}
