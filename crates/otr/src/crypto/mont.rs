//! Fixed-size Montgomery arithmetic for the moduli on OTR's hot paths: the 1536-bit MODP
//! prime (DH, SMP) and 1024-bit DSA primes (signing, verification, key generation).
//!
//! - Limbs are `u32` with `u64` products on 32-bit targets and wasm32 (which has native
//!   64-bit multiplication but no 64×64→128), `u64` with `u128` products elsewhere.
//!   `crypto-bigint` picks 64-bit limbs on wasm32, whose 128-bit products are emulated;
//!   that is why this module exists.
//! - Numbers are arrays of `N` limbs on the stack: no heap allocation anywhere.
//! - Multiplication is schoolbook product then Montgomery reduction (separated operand
//!   scanning), with a dedicated squaring that computes each cross product once.
//! - [`pow_ct`] is a fixed-window exponentiation for secret exponents: the number of
//!   squarings and multiplications depends only on the public bit bound, and every table
//!   lookup reads the whole table and keeps one entry with masks. [`pow_vartime`] is for
//!   public exponents only (verification, primality tests): it skips zero windows and
//!   starts at the exponent's highest set bit.
//!
//! The representation is the one of `crypto-bigint`'s [`BoxedMontyForm`] (R = 2^precision,
//! values fully reduced), so values move between the two by copying limbs. Only moduli
//! whose bit length equals the precision (1536 or 1024 bits) take this path, which makes
//! R mod m = R − m; everything else falls back to `crypto-bigint`.

use crypto_bigint::modular::BoxedMontyForm;
use crypto_bigint::{BoxedUint, Word};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

#[cfg(any(target_pointer_width = "32", target_arch = "wasm32"))]
mod limb {
    /// One limb.
    pub type Limb = u32;
    /// A product of two limbs plus two limbs always fits.
    pub type Wide = u64;
}

#[cfg(not(any(target_pointer_width = "32", target_arch = "wasm32")))]
mod limb {
    /// One limb.
    pub type Limb = u64;
    /// A product of two limbs plus two limbs always fits.
    pub type Wide = u128;
}

pub(crate) use limb::{Limb, Wide};

const LIMB_BITS: u32 = Limb::BITS;
/// Limbs of a 1536-bit number.
pub(crate) const N1536: usize = (1536 / LIMB_BITS) as usize;
/// Limbs of a 1024-bit number.
pub(crate) const N1024: usize = (1024 / LIMB_BITS) as usize;
/// The largest window used (table of 2^5 entries).
const MAX_WINDOW: u32 = 5;
const TABLE_LEN: usize = 1 << MAX_WINDOW;

#[inline(always)]
fn lo(w: Wide) -> Limb {
    w as Limb
}

#[inline(always)]
fn hi(w: Wide) -> Limb {
    (w >> LIMB_BITS) as Limb
}

/// An odd modulus of exactly `N` limbs with its top bit set, and its Montgomery constants.
#[derive(Clone, Debug)]
pub(crate) struct Field<const N: usize> {
    m: [Limb; N],
    /// −m⁻¹ mod 2^LIMB_BITS.
    m_neg_inv: Limb,
    /// R mod m = R − m (m > R/2), i.e. 1 in Montgomery form.
    one: [Limb; N],
}

impl<const N: usize> Field<N> {
    /// The field of `modulus` (little-endian limbs); `None` unless it is odd and has its
    /// top bit set.
    pub(crate) fn new(modulus: [Limb; N]) -> Option<Self> {
        let m0 = *modulus.first()?;
        let top = *modulus.last()?;
        if m0 & 1 == 0 || top >> (LIMB_BITS - 1) == 0 {
            return None;
        }
        // Newton's iteration: each step doubles the number of correct low bits (3 to start).
        let mut inv: Limb = m0;
        for _ in 0..6 {
            inv = inv.wrapping_mul((2 as Limb).wrapping_sub(m0.wrapping_mul(inv)));
        }
        // R − m: the two's complement of m.
        let mut one = [0; N];
        let mut borrow: Limb = 0;
        for (o, &mi) in one.iter_mut().zip(modulus.iter()) {
            let (d, b1) = (0 as Limb).overflowing_sub(mi);
            let (d, b2) = d.overflowing_sub(borrow);
            *o = d;
            borrow = Limb::from(b1 | b2);
        }
        Some(Self {
            m: modulus,
            m_neg_inv: inv.wrapping_neg(),
            one,
        })
    }

    /// Montgomery reduction of the 2N-limb `t` (< m·R): t·R⁻¹ mod m, fully reduced. `t`
    /// holds `N` low limbs and `N` high limbs.
    #[inline(always)]
    fn redc(&self, lo_half: &mut [Limb; N], hi_half: &mut [Limb; N]) -> [Limb; N] {
        // Reduce limb by limb: after step i the low i+1 limbs are zero. The running
        // window is lo_half[i..] ++ hi_half[..=i]; rather than indexing across the two
        // halves, fold each step's carry into the high half as it is reached.
        let mut extra: Limb = 0;
        for i in 0..N {
            let Some(&ti) = lo_half.get(i) else { break };
            let q = ti.wrapping_mul(self.m_neg_inv);
            let mut carry: Limb = 0;
            // lo_half[i..N] += q·m[0..N-i]
            let split = N - i;
            let (m_low, m_high) = self.m.split_at(split);
            for (t, &mj) in lo_half.iter_mut().skip(i).zip(m_low.iter()) {
                let s = Wide::from(q) * Wide::from(mj) + Wide::from(*t) + Wide::from(carry);
                *t = lo(s);
                carry = hi(s);
            }
            // hi_half[0..i] += q·m[N-i..N]
            for (t, &mj) in hi_half.iter_mut().zip(m_high.iter()) {
                let s = Wide::from(q) * Wide::from(mj) + Wide::from(*t) + Wide::from(carry);
                *t = lo(s);
                carry = hi(s);
            }
            // hi_half[i] += carry + extra
            if let Some(t) = hi_half.get_mut(i) {
                let s = Wide::from(*t) + Wide::from(carry) + Wide::from(extra);
                *t = lo(s);
                extra = hi(s);
            }
        }
        self.final_sub(hi_half, extra)
    }

    /// (extra·R + t) mod m for a value below 2m, in constant time.
    #[inline(always)]
    fn final_sub(&self, t: &[Limb; N], extra: Limb) -> [Limb; N] {
        let mut d = [0; N];
        let mut borrow: Limb = 0;
        for ((o, &ti), &mi) in d.iter_mut().zip(t.iter()).zip(self.m.iter()) {
            let (x, b1) = ti.overflowing_sub(mi);
            let (x, b2) = x.overflowing_sub(borrow);
            *o = x;
            borrow = Limb::from(b1 | b2);
        }
        // Keep t (all-ones mask) exactly when extra = 0 and the subtraction borrowed.
        let keep_t = extra.wrapping_sub(borrow);
        for (o, &ti) in d.iter_mut().zip(t.iter()) {
            *o = (ti & keep_t) | (*o & !keep_t);
        }
        d
    }

    /// a·b·R⁻¹ mod m.
    pub(crate) fn mul(&self, a: &[Limb; N], b: &[Limb; N]) -> [Limb; N] {
        let mut lo_half = [0; N];
        let mut hi_half = [0; N];
        // Row i: (lo ++ hi)[i..i+N] += a·b[i], the carry goes to (lo ++ hi)[i+N] = hi[i].
        for (i, &bi) in b.iter().enumerate() {
            let mut carry: Limb = 0;
            let split = N - i;
            let (a_low, a_high) = a.split_at(split);
            for (t, &aj) in lo_half.iter_mut().skip(i).zip(a_low.iter()) {
                let s = Wide::from(aj) * Wide::from(bi) + Wide::from(*t) + Wide::from(carry);
                *t = lo(s);
                carry = hi(s);
            }
            for (t, &aj) in hi_half.iter_mut().zip(a_high.iter()) {
                let s = Wide::from(aj) * Wide::from(bi) + Wide::from(*t) + Wide::from(carry);
                *t = lo(s);
                carry = hi(s);
            }
            if let Some(t) = hi_half.get_mut(i) {
                *t = carry;
            }
        }
        self.redc(&mut lo_half, &mut hi_half)
    }

    /// a²·R⁻¹ mod m, with each cross product computed once.
    pub(crate) fn square(&self, a: &[Limb; N]) -> [Limb; N] {
        let mut lo_half = [0; N];
        let mut hi_half = [0; N];
        // Cross products a[i]·a[j], j > i, land at position i + j; row i covers
        // positions 2i+1 .. i+N, its carry goes to position i+N.
        for (i, &ai) in a.iter().enumerate() {
            let mut carry: Limb = 0;
            let start = 2 * i + 1;
            let rest = a.iter().skip(i + 1);
            if start < N {
                let split = N - start;
                let mut rest = rest;
                for (t, &aj) in lo_half
                    .iter_mut()
                    .skip(start)
                    .zip(rest.by_ref().take(split))
                {
                    let s = Wide::from(aj) * Wide::from(ai) + Wide::from(*t) + Wide::from(carry);
                    *t = lo(s);
                    carry = hi(s);
                }
                for (t, &aj) in hi_half.iter_mut().zip(rest) {
                    let s = Wide::from(aj) * Wide::from(ai) + Wide::from(*t) + Wide::from(carry);
                    *t = lo(s);
                    carry = hi(s);
                }
            } else {
                for (t, &aj) in hi_half.iter_mut().skip(start - N).zip(rest) {
                    let s = Wide::from(aj) * Wide::from(ai) + Wide::from(*t) + Wide::from(carry);
                    *t = lo(s);
                    carry = hi(s);
                }
            }
            // Position i + N: a fresh limb in the high half (row N-1 has no products).
            if i + 1 < N {
                if let Some(t) = hi_half.get_mut(i) {
                    *t = carry;
                }
            }
        }
        // Double the cross products and add the squares a[i]² at positions 2i, 2i+1.
        let mut shift_in: Limb = 0;
        let mut carry: Limb = 0;
        let mut squares = a.iter();
        let mut pending_hi: Option<Limb> = None;
        for t in lo_half.iter_mut().chain(hi_half.iter_mut()) {
            let doubled = (*t << 1) | shift_in;
            shift_in = *t >> (LIMB_BITS - 1);
            let sq_part = match pending_hi.take() {
                Some(h) => h,
                None => match squares.next() {
                    Some(&ai) => {
                        let sq = Wide::from(ai) * Wide::from(ai);
                        pending_hi = Some(hi(sq));
                        lo(sq)
                    }
                    None => 0,
                },
            };
            let s = Wide::from(doubled) + Wide::from(sq_part) + Wide::from(carry);
            *t = lo(s);
            carry = hi(s);
        }
        self.redc(&mut lo_half, &mut hi_half)
    }

    /// The window of `width` bits of `exp` (little-endian limbs) starting at bit `pos`,
    /// without the bits at or above `bound`. Positions are public; the value is not
    /// branched on.
    #[inline(always)]
    fn window(exp: &[Limb], pos: u32, width: u32, bound: u32) -> Limb {
        let idx = (pos / LIMB_BITS) as usize;
        let off = pos % LIMB_BITS;
        let low = exp.get(idx).copied().unwrap_or(0) >> off;
        let high = if off == 0 {
            0
        } else {
            exp.get(idx + 1).copied().unwrap_or(0) << (LIMB_BITS - off)
        };
        let avail = bound.saturating_sub(pos).min(width);
        let mask = if avail >= LIMB_BITS {
            Limb::MAX
        } else {
            ((1 as Limb) << avail) - 1
        };
        (low | high) & mask
    }

    /// base^exp for a secret `exp` (little-endian limbs; bits at or above `bits` are
    /// ignored). The sequence of operations and memory accesses depends only on `bits`.
    pub(crate) fn pow_ct(&self, base: &[Limb; N], exp: &[Limb], bits: u32) -> [Limb; N] {
        let width = if bits >= 512 { 5 } else { 4 };
        let entries = 1usize << width;
        let mut table = [[0 as Limb; N]; TABLE_LEN];
        let mut prev = self.one;
        for (k, entry) in table.iter_mut().take(entries).enumerate() {
            *entry = match k {
                0 => self.one,
                1 => *base,
                _ => self.mul(&prev, base),
            };
            prev = *entry;
        }
        let windows = bits.div_ceil(width);
        let mut acc = self.one;
        let mut selected = [0 as Limb; N];
        for w in (0..windows).rev() {
            if w + 1 != windows {
                for _ in 0..width {
                    acc = self.square(&acc);
                }
            }
            let idx = Self::window(exp, w * width, width, bits);
            // Read every entry; keep the one at idx.
            selected.fill(0);
            for (k, entry) in table.iter().take(entries).enumerate() {
                let hit = (k as Limb).ct_eq(&idx);
                for (s, &e) in selected.iter_mut().zip(entry.iter()) {
                    s.conditional_assign(&e, hit);
                }
            }
            acc = self.mul(&acc, &selected);
        }
        table.zeroize();
        selected.zeroize();
        prev.zeroize();
        acc
    }

    /// base^exp for a **public** exponent: variable time (skips zero windows and leading
    /// zero bits). Never use it with a secret exponent.
    pub(crate) fn pow_vartime(&self, base: &[Limb; N], exp: &[Limb]) -> [Limb; N] {
        let bits = exp
            .iter()
            .enumerate()
            .rev()
            .find(|(_, &l)| l != 0)
            .map(|(i, &l)| i as u32 * LIMB_BITS + (LIMB_BITS - l.leading_zeros()))
            .unwrap_or(0);
        if bits == 0 {
            return self.one;
        }
        let width = if bits >= 512 {
            5
        } else if bits >= 64 {
            4
        } else {
            1
        };
        let entries = 1usize << width;
        let mut table = [[0 as Limb; N]; TABLE_LEN];
        let mut prev = self.one;
        for (k, entry) in table.iter_mut().take(entries).enumerate() {
            *entry = match k {
                0 => self.one,
                1 => *base,
                _ => self.mul(&prev, base),
            };
            prev = *entry;
        }
        let windows = bits.div_ceil(width);
        let mut acc = self.one;
        let mut started = false;
        for w in (0..windows).rev() {
            if started {
                for _ in 0..width {
                    acc = self.square(&acc);
                }
            }
            let idx = Self::window(exp, w * width, width, bits) as usize;
            if idx != 0 {
                if let Some(entry) = table.get(idx) {
                    acc = if started {
                        self.mul(&acc, entry)
                    } else {
                        *entry
                    };
                    started = true;
                }
            }
        }
        acc
    }
}

/// The little-endian limbs of `words` (crypto-bigint words, possibly wider than limbs),
/// zero-extended or truncated to `N`.
fn words_to_limbs<const N: usize>(words: &[Word]) -> [Limb; N] {
    let per = (Word::BITS / LIMB_BITS) as usize;
    let mut out = [0 as Limb; N];
    let limbs = words
        .iter()
        .flat_map(|&w| (0..per).map(move |k| (w >> (k as u32 * LIMB_BITS)) as Limb));
    for (o, l) in out.iter_mut().zip(limbs) {
        *o = l;
    }
    out
}

/// The crypto-bigint words of `limbs`.
fn limbs_to_words(limbs: &[Limb]) -> Vec<Word> {
    let per = (Word::BITS / LIMB_BITS) as usize;
    limbs
        .chunks(per)
        .map(|chunk| {
            chunk.iter().enumerate().fold(0 as Word, |acc, (k, &l)| {
                acc | (Word::from(l) << (k as u32 * LIMB_BITS))
            })
        })
        .collect()
}

/// Exponent limbs: the exponent's words as limbs (all of them).
fn exponent_limbs(exponent: &BoxedUint) -> Vec<Limb> {
    let per = (Word::BITS / LIMB_BITS) as usize;
    exponent
        .as_words()
        .iter()
        .flat_map(|&w| (0..per).map(move |k| (w >> (k as u32 * LIMB_BITS)) as Limb))
        .collect()
}

/// Run `f` in the fixed-size field of `base`'s modulus, if it is one this module handles.
fn with_field(
    base: &BoxedMontyForm,
    f1536: impl FnOnce(&Field<N1536>, &[Limb; N1536]) -> [Limb; N1536],
    f1024: impl FnOnce(&Field<N1024>, &[Limb; N1024]) -> [Limb; N1024],
) -> Option<BoxedMontyForm> {
    let params = base.params();
    let modulus = params.modulus().as_ref();
    if modulus.bit_width_vartime() != params.bits_precision() {
        return None;
    }
    let words = match params.bits_precision() {
        1536 => {
            let field = Field::<N1536>::new(words_to_limbs(modulus.as_words()))?;
            let mut b = words_to_limbs::<N1536>(base.as_montgomery().as_words());
            let mut r = f1536(&field, &b);
            let words = limbs_to_words(&r);
            b.zeroize();
            r.zeroize();
            words
        }
        1024 => {
            let field = Field::<N1024>::new(words_to_limbs(modulus.as_words()))?;
            let mut b = words_to_limbs::<N1024>(base.as_montgomery().as_words());
            let mut r = f1024(&field, &b);
            let words = limbs_to_words(&r);
            b.zeroize();
            r.zeroize();
            words
        }
        _ => return None,
    };
    Some(BoxedMontyForm::from_montgomery(
        BoxedUint::from_words(words),
        params,
    ))
}

/// `base^exponent`, constant time in `exponent` for the public bound `exponent_bits`
/// (bits of `exponent` at or above it are ignored). `None` if the modulus is not one this
/// module handles.
pub(crate) fn pow_ct(
    base: &BoxedMontyForm,
    exponent: &BoxedUint,
    exponent_bits: u32,
) -> Option<BoxedMontyForm> {
    let mut e = exponent_limbs(exponent);
    let out = with_field(
        base,
        |f, b| f.pow_ct(b, &e, exponent_bits),
        |f, b| f.pow_ct(b, &e, exponent_bits),
    );
    e.zeroize();
    out
}

/// `base^exponent` for a **public** exponent, in variable time. `None` if the modulus is
/// not one this module handles.
pub(crate) fn pow_vartime(base: &BoxedMontyForm, exponent: &BoxedUint) -> Option<BoxedMontyForm> {
    let e = exponent_limbs(exponent);
    with_field(
        base,
        |f, b| f.pow_vartime(b, &e),
        |f, b| f.pow_vartime(b, &e),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::group::{group, MODULUS};
    use crate::crypto::test_rng::TestRng;
    use crate::crypto::{monty_params, resize, to_monty};
    use crypto_bigint::modular::BoxedMontyParams;
    use rand_core::Rng;

    fn random_below(rng: &mut TestRng, m: &BoxedUint) -> BoxedUint {
        let mut bytes = vec![0u8; (m.bits_precision() / 8) as usize + 8];
        rng.fill_bytes(&mut bytes);
        let wide = BoxedUint::from_be_slice_vartime(&bytes);
        let nz = resize(m, wide.bits_precision()).to_nz().unwrap();
        resize(&wide.rem_vartime(&nz), m.bits_precision())
    }

    /// A random 1024-bit odd modulus with its top bit set (the arithmetic needs no prime).
    fn modulus_1024(rng: &mut TestRng) -> BoxedMontyParams {
        let mut bytes = [0u8; 128];
        rng.fill_bytes(&mut bytes);
        bytes[0] |= 0x80;
        bytes[127] |= 1;
        monty_params(&BoxedUint::from_be_slice_vartime(&bytes)).unwrap()
    }

    fn check_against_crypto_bigint(params: &BoxedMontyParams, rng: &mut TestRng) {
        let m = params.modulus().as_ref().clone();
        let m_minus_1 = m.wrapping_sub(BoxedUint::one_with_precision(m.bits_precision()));
        let zero = BoxedUint::zero_with_precision(m.bits_precision());
        let mut values = vec![zero, m_minus_1.clone()];
        values.extend((0..6).map(|_| random_below(rng, &m)));
        for a in &values {
            for b in &values {
                let am = to_monty(a, params);
                let bm = to_monty(b, params);
                let want = am.mul(&bm);
                let got = with_field(
                    &am,
                    |f, x| f.mul(x, &words_to_limbs(bm.as_montgomery().as_words())),
                    |f, x| f.mul(x, &words_to_limbs(bm.as_montgomery().as_words())),
                )
                .unwrap();
                assert_eq!(got, want);
            }
            let am = to_monty(a, params);
            let sq = with_field(&am, |f, x| f.square(x), |f, x| f.square(x)).unwrap();
            assert_eq!(sq, am.square());
        }
        // Exponents: zero, one, all ones at several widths, random, m - 1.
        let mut exps = vec![
            (BoxedUint::zero_with_precision(320), 320),
            (BoxedUint::one_with_precision(320), 320),
            (m_minus_1.clone(), m.bits_precision()),
        ];
        for bits in [1u32, 5, 63, 64, 65, 160, 320, 511, 512, 1024, 1536] {
            let bytes = vec![0xffu8; bits.div_ceil(8) as usize];
            let all = BoxedUint::from_be_slice_vartime(&bytes)
                .wrapping_shr_vartime(u32::try_from(bytes.len()).unwrap() * 8 - bits);
            exps.push((all, bits));
            let r = random_below(rng, &m);
            exps.push((r.clone(), m.bits_precision()));
            exps.push((r, bits));
        }
        for (e, bits) in &exps {
            let base = to_monty(&random_below(rng, &m), params);
            let want = base.pow_bounded_exp(e, *bits);
            assert_eq!(pow_ct(&base, e, *bits).unwrap(), want, "bits {bits}");
            // The variable-time path ignores no bits: compare with the truncated value.
            let full = base.pow(e);
            assert_eq!(pow_vartime(&base, e).unwrap(), full, "bits {bits}");
        }
    }

    #[test]
    fn matches_crypto_bigint_for_the_1536_bit_group() {
        let mut rng = TestRng::new(11);
        check_against_crypto_bigint(&group().params, &mut rng);
    }

    #[test]
    fn matches_crypto_bigint_for_1024_bit_moduli() {
        let mut rng = TestRng::new(12);
        for _ in 0..3 {
            let params = modulus_1024(&mut rng);
            check_against_crypto_bigint(&params, &mut rng);
        }
    }

    #[test]
    fn other_moduli_are_declined() {
        // 160 bits (DSA q) and a 1536-bit precision modulus without its top bit.
        let q = monty_params(&BoxedUint::from_be_slice_vartime(&[0x8f; 20])).unwrap();
        let base = to_monty(&BoxedUint::from(3u64), &q);
        assert!(pow_ct(&base, &BoxedUint::from(5u64), 8).is_none());
        let small = resize(&BoxedUint::from(&MODULUS).wrapping_shr_vartime(1), 1536);
        let params = monty_params(&small).unwrap();
        let base = to_monty(&BoxedUint::from(3u64), &params);
        assert!(pow_vartime(&base, &BoxedUint::from(5u64)).is_none());
        assert!(Field::<N1024>::new([2; N1024]).is_none());
    }
}
