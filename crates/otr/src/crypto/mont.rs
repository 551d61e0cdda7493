//! Fixed-size Montgomery arithmetic for the moduli on OTR's hot paths: the 1536-bit MODP
//! prime (DH, SMP) and 1024-bit DSA primes (signing, verification, key generation).
//!
//! Two fields implement [`MontField`]; each target uses one (`RADIX`), tests run both:
//!
//! - [`Field`] (native targets): radix 2^64, `u128` products; schoolbook product then
//!   Montgomery reduction (separated operand scanning), and a dedicated squaring that
//!   computes each cross product once. R = 2^precision, the same as `crypto-bigint`'s
//!   [`BoxedMontyForm`], so values move between the two by copying limbs.
//! - [`Field28`] (wasm32): radix 2^28 in `u32` limbs. wasm32 has a native 64-bit multiply
//!   but no 64×64→128 (`crypto-bigint` picks 64-bit limbs there, whose 128-bit products
//!   are emulated: the reason this module exists). A 28×28-bit product is below 2^56, so a
//!   whole column of products adds up in one `u64`: multiplication and reduction are
//!   interleaved column by column (finely integrated product scanning) with one multiply
//!   and one add per term and no carry handling inside a column. R = 2^(28·N), a few bits
//!   above `crypto-bigint`'s, so values move in by modular doublings and out by halvings.
//!
//! Both keep numbers in fixed arrays on the stack: no heap allocation in the arithmetic.
//! [`pow_ct`] is a fixed-window exponentiation for secret exponents: the number of
//! squarings and multiplications depends only on the public bit bound, and every table
//! lookup reads the whole table and keeps one entry with masks; the final subtraction of
//! each product is masked too. [`pow_vartime`] is for public exponents only (proof checks,
//! signature verification, primality tests): it skips zero windows and starts at the
//! exponent's highest set bit. [`FixedBase`] is a table of powers of one base (DH's
//! generator) for secret exponents of a bounded size: one multiplication per 4-bit window
//! and no squarings, with the same whole-row reads. `bench::ct_tstat` is a dudect-style
//! timing test of all three.
//!
//! Only moduli whose bit length equals the precision (1536 or 1024 bits) take this path;
//! everything else falls back to `crypto-bigint`.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Word};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

/// A limb of the binary-radix field: 64 bits with 128-bit products (native targets).
pub(crate) type Limb = u64;
type Wide = u128;

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

/// Montgomery arithmetic on `N`-limb elements, fully reduced.
pub(crate) trait MontField<const N: usize> {
    /// The limb type.
    type L: Copy + Default + ConditionallySelectable + Zeroize;
    /// 1 in Montgomery form.
    fn one(&self) -> [Self::L; N];
    /// a·b·R⁻¹ mod m.
    fn mul(&self, a: &[Self::L; N], b: &[Self::L; N]) -> [Self::L; N];
    /// a²·R⁻¹ mod m.
    fn square(&self, a: &[Self::L; N]) -> [Self::L; N];
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
}

impl<const N: usize> MontField<N> for Field<N> {
    type L = Limb;
    fn one(&self) -> [Limb; N] {
        self.one
    }
    fn mul(&self, a: &[Limb; N], b: &[Limb; N]) -> [Limb; N] {
        Field::mul(self, a, b)
    }
    fn square(&self, a: &[Limb; N]) -> [Limb; N] {
        Field::square(self, a)
    }
}

/// A radix-2^28 Montgomery field, for wasm32: limbs hold 28 bits in a `u32`, so a product
/// of two limbs is below 2^56 and a whole column of a product (at most 2·N products plus
/// a carry) adds up in one `u64` without carry handling. Multiplication interleaves the
/// product and the reduction column by column (finely integrated product scanning).
/// R = 2^(28·N): N = 55 covers 1536 bits, N = 37 covers 1024 bits.
#[derive(Clone, Debug)]
pub(crate) struct Field28<const N: usize> {
    m: [u32; N],
    /// −m⁻¹ mod 2^28.
    m_neg_inv: u64,
    /// R mod m.
    one: [u32; N],
}

const R28_BITS: u32 = 28;
const R28_MASK: u64 = (1 << R28_BITS) - 1;
/// Limbs of radix 2^28 for a 1536-bit modulus.
pub(crate) const N28_1536: usize = 1536usize.div_ceil(R28_BITS as usize);
/// Limbs of radix 2^28 for a 1024-bit modulus.
pub(crate) const N28_1024: usize = 1024usize.div_ceil(R28_BITS as usize);

/// Σ `x[i]·y[len−1−i]`: the dot product of `x` with `y` reversed.
#[inline(always)]
fn dot_rev(x: &[u32], y: &[u32]) -> u64 {
    x.iter()
        .zip(y.iter().rev())
        .map(|(&a, &b)| u64::from(a) * u64::from(b))
        .sum()
}

impl<const N: usize> Field28<N> {
    /// `modulus` and R mod m in radix 2^28; `None` unless the modulus is odd and below R.
    pub(crate) fn new(modulus: [u32; N], one: [u32; N]) -> Option<Self> {
        let m0 = *modulus.first()?;
        if m0 & 1 == 0
            || modulus
                .iter()
                .chain(one.iter())
                .any(|&l| u64::from(l) > R28_MASK)
        {
            return None;
        }
        let mut inv: u32 = m0;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(m0.wrapping_mul(inv)));
        }
        Some(Self {
            m: modulus,
            m_neg_inv: u64::from(inv.wrapping_neg()) & R28_MASK,
            one,
        })
    }

    /// (top·R + r) mod m for a value below 2m, in constant time.
    #[inline(always)]
    fn final_sub(&self, r: &[u32; N], top: u64) -> [u32; N] {
        let mut d = [0u32; N];
        let mut borrow: u64 = 0;
        for ((o, &ri), &mi) in d.iter_mut().zip(r.iter()).zip(self.m.iter()) {
            let x = u64::from(ri)
                .wrapping_sub(u64::from(mi))
                .wrapping_sub(borrow);
            *o = (x & R28_MASK) as u32;
            borrow = x >> 63;
        }
        // Keep r exactly when top = 0 and the subtraction borrowed.
        let keep_r = (top.wrapping_sub(borrow) & 0xffff_ffff) as u32;
        for (o, &ri) in d.iter_mut().zip(r.iter()) {
            *o = (ri & keep_r) | (*o & !keep_r);
        }
        d
    }

    /// The column-wise Montgomery product; `sum(k, q)` is Σ_{i+j=k} a_i·b_j restricted
    /// to the limbs present, given the q limbs found so far.
    #[inline(always)]
    fn reduce_columns(&self, mut column: impl FnMut(usize) -> u64) -> [u32; N] {
        let mut q = [0u32; N];
        let mut r = [0u32; N];
        let mut acc: u64 = 0;
        for k in 0..N {
            acc += column(k);
            // Σ_{i<k} q_i·m_{k−i}
            if let (Some(qs), Some(ms)) = (q.get(..k), self.m.get(1..=k)) {
                acc += dot_rev(qs, ms);
            }
            let qk = (acc.wrapping_mul(self.m_neg_inv)) & R28_MASK;
            if let Some(slot) = q.get_mut(k) {
                *slot = qk as u32;
            }
            acc += qk * u64::from(self.m.first().copied().unwrap_or(0));
            acc >>= R28_BITS;
        }
        for k in N..2 * N - 1 {
            acc += column(k);
            // Σ_{i=k−N+1}^{N−1} q_i·m_{k−i}
            if let (Some(qs), Some(ms)) = (q.get(k + 1 - N..), self.m.get(k + 1 - N..)) {
                acc += dot_rev(qs, ms);
            }
            if let Some(slot) = r.get_mut(k - N) {
                *slot = (acc & R28_MASK) as u32;
            }
            acc >>= R28_BITS;
        }
        if let Some(slot) = r.last_mut() {
            *slot = (acc & R28_MASK) as u32;
        }
        self.final_sub(&r, acc >> R28_BITS)
    }
}

impl<const N: usize> MontField<N> for Field28<N> {
    type L = u32;
    fn one(&self) -> [u32; N] {
        self.one
    }

    fn mul(&self, a: &[u32; N], b: &[u32; N]) -> [u32; N] {
        self.reduce_columns(|k| {
            let lo_i = (k + 1).saturating_sub(N);
            match (a.get(lo_i..=k.min(N - 1)), b.get(lo_i..=k.min(N - 1))) {
                (Some(x), Some(y)) => dot_rev(x, y),
                _ => 0,
            }
        })
    }

    fn square(&self, a: &[u32; N]) -> [u32; N] {
        self.reduce_columns(|k| {
            // Σ_{i+j=k} a_i·a_j = 2·Σ_{i<j} a_i·a_j + a_{k/2}² (k even).
            let lo_i = (k + 1).saturating_sub(N);
            let hi_i = k.min(N - 1);
            let Some(window) = a.get(lo_i..=hi_i) else {
                return 0;
            };
            let half = window.len() / 2;
            let (x, y) = window.split_at(half);
            // y's last `half` limbs pair with x reversed; the middle one (odd length) squares.
            let cross = dot_rev(x, y.get(y.len() - half..).unwrap_or_default());
            let middle = if window.len() % 2 == 1 {
                y.first().map_or(0, |&v| u64::from(v) * u64::from(v))
            } else {
                0
            };
            2 * cross + middle
        })
    }
}

/// The window of `width` bits of `exp` (little-endian u32 words) starting at bit `pos`,
/// without the bits at or above `bound`. Positions are public; the value is not branched on.
#[inline(always)]
fn window(exp: &[u32], pos: u32, width: u32, bound: u32) -> u32 {
    let idx = (pos / 32) as usize;
    let off = pos % 32;
    let low = exp.get(idx).copied().unwrap_or(0) >> off;
    let high = if off == 0 {
        0
    } else {
        exp.get(idx + 1).copied().unwrap_or(0) << (32 - off)
    };
    let avail = bound.saturating_sub(pos).min(width);
    let mask = if avail >= 32 {
        u32::MAX
    } else {
        (1u32 << avail) - 1
    };
    (low | high) & mask
}

/// base^0 .. base^(2^width − 1).
fn power_table<const N: usize, F: MontField<N>>(
    f: &F,
    base: &[F::L; N],
    width: u32,
) -> [[F::L; N]; TABLE_LEN] {
    let mut table = [[F::L::default(); N]; TABLE_LEN];
    let mut prev = f.one();
    for (k, entry) in table.iter_mut().take(1 << width).enumerate() {
        *entry = match k {
            0 => f.one(),
            1 => *base,
            _ => f.mul(&prev, base),
        };
        prev = *entry;
    }
    prev.zeroize();
    table
}

/// `out` = `table[idx]`, reading every entry and keeping one by mask: the memory accesses
/// do not depend on the secret `idx`.
#[inline(always)]
fn select_ct<L: Copy + Default + ConditionallySelectable, const N: usize>(
    table: &[[L; N]],
    idx: u32,
    out: &mut [L; N],
) {
    for o in out.iter_mut() {
        *o = L::default();
    }
    for (k, entry) in table.iter().enumerate() {
        let hit = (k as u32).ct_eq(&idx);
        for (o, e) in out.iter_mut().zip(entry.iter()) {
            o.conditional_assign(e, hit);
        }
    }
}

/// base^exp for a secret `exp` (little-endian u32 words; bits at or above `bits` are
/// ignored): a fixed-window ladder. The sequence of operations and memory accesses
/// depends only on `bits`; each table lookup reads every entry and keeps one by mask.
pub(crate) fn field_pow_ct<const N: usize, F: MontField<N>>(
    f: &F,
    base: &[F::L; N],
    exp: &[u32],
    bits: u32,
) -> [F::L; N] {
    let width = if bits >= 512 { 5 } else { 4 };
    let entries = 1usize << width;
    let mut table = power_table(f, base, width);
    let windows = bits.div_ceil(width);
    let mut acc = f.one();
    let mut selected = [F::L::default(); N];
    for w in (0..windows).rev() {
        if w + 1 != windows {
            for _ in 0..width {
                acc = f.square(&acc);
            }
        }
        let idx = window(exp, w * width, width, bits);
        select_ct(table.get(..entries).unwrap_or(&table), idx, &mut selected);
        acc = f.mul(&acc, &selected);
    }
    table.zeroize();
    selected.zeroize();
    acc
}

/// base^exp for a **public** exponent: variable time (skips zero windows and leading zero
/// bits). Never use it with a secret exponent.
pub(crate) fn field_pow_vartime<const N: usize, F: MontField<N>>(
    f: &F,
    base: &[F::L; N],
    exp: &[u32],
) -> [F::L; N] {
    let bits = exp
        .iter()
        .enumerate()
        .rev()
        .find(|(_, &l)| l != 0)
        .map(|(i, &l)| i as u32 * 32 + (32 - l.leading_zeros()))
        .unwrap_or(0);
    let width = match bits {
        0 => return f.one(),
        512.. => 5,
        64.. => 4,
        _ => 1,
    };
    let table = power_table(f, base, width);
    let windows = bits.div_ceil(width);
    let mut acc = f.one();
    let mut started = false;
    for w in (0..windows).rev() {
        if started {
            for _ in 0..width {
                acc = f.square(&acc);
            }
        }
        let idx = window(exp, w * width, width, bits) as usize;
        if idx != 0 {
            if let Some(entry) = table.get(idx) {
                acc = if started { f.mul(&acc, entry) } else { *entry };
                started = true;
            }
        }
    }
    acc
}

/// Width of a fixed-base table's windows: rows of 2^4 entries.
const FIXED_WIDTH: u32 = 4;
const FIXED_ENTRIES: usize = 1 << FIXED_WIDTH;

/// Powers of one base for exponents of up to `rows.len()·4` bits: row i holds
/// base^(j·2^(4i)) for j in 0..16. base^e is the product, over the rows, of the entry that
/// e's i-th 4-bit window picks: one multiplication per window and no squaring, against
/// four squarings and one multiplication per window for [`field_pow_ct`].
struct FixedTable<const N: usize, F: MontField<N>> {
    field: F,
    rows: Vec<[[F::L; N]; FIXED_ENTRIES]>,
}

impl<const N: usize, F: MontField<N>> FixedTable<N, F> {
    fn new(field: F, base: &[F::L; N], max_bits: u32) -> Self {
        let count = max_bits.div_ceil(FIXED_WIDTH) as usize;
        let mut rows = Vec::with_capacity(count);
        // base^(2^(4i)) for the row being built.
        let mut step = *base;
        for _ in 0..count {
            let mut acc = field.one();
            // `from_fn` builds the entries in order: entry j = step^j.
            let row: [[F::L; N]; FIXED_ENTRIES] = core::array::from_fn(|j| {
                if j > 0 {
                    acc = field.mul(&acc, &step);
                }
                acc
            });
            step = field.mul(&acc, &step);
            rows.push(row);
        }
        Self { field, rows }
    }

    /// base^exp for a secret `exp` (little-endian u32 words; bits at or above `bits` are
    /// ignored); `None` if `bits` is above what the table covers. The operations and memory
    /// accesses depend only on `bits`: one multiplication and one whole-row read per window.
    fn pow(&self, exp: &[u32], bits: u32) -> Option<[F::L; N]> {
        let rows = self.rows.get(..bits.div_ceil(FIXED_WIDTH) as usize)?;
        let mut acc = self.field.one();
        let mut selected = [F::L::default(); N];
        for (i, row) in rows.iter().enumerate() {
            let idx = window(exp, i as u32 * FIXED_WIDTH, FIXED_WIDTH, bits);
            select_ct(row, idx, &mut selected);
            acc = self.field.mul(&acc, &selected);
        }
        selected.zeroize();
        Some(acc)
    }
}

/// Little-endian `bits`-bit limbs (in `u32` or `u64`) of the little-endian words `words`,
/// zero-extended or truncated to `N` limbs.
fn repack<T: Copy + Default + TryFrom<u64>, const N: usize>(words: &[Word], bits: u32) -> [T; N] {
    let mut out = [T::default(); N];
    let mask: u128 = (1u128 << bits) - 1;
    let mut buf: u128 = 0;
    let mut have: u32 = 0;
    let mut words = words.iter();
    for o in out.iter_mut() {
        while have < bits {
            let next = words.next().copied().unwrap_or(0);
            buf |= u128::from(next) << have;
            have += Word::BITS;
        }
        *o = T::try_from((buf & mask) as u64).unwrap_or_default();
        buf >>= bits;
        have -= bits;
    }
    out
}

/// crypto-bigint words of the little-endian `bits`-bit limbs `limbs`, `nwords` of them.
fn unpack<T: Copy + Into<u64>>(limbs: &[T], bits: u32, nwords: usize) -> Vec<Word> {
    let mut out = Vec::with_capacity(nwords);
    let mut buf: u128 = 0;
    let mut have: u32 = 0;
    let mut limbs = limbs.iter();
    while out.len() < nwords {
        while have < Word::BITS {
            match limbs.next() {
                Some(&l) => {
                    buf |= u128::from(l.into()) << have;
                    have += bits;
                }
                None => have = Word::BITS,
            }
        }
        out.push(buf as Word);
        buf >>= Word::BITS;
        have -= Word::BITS;
    }
    out
}

/// The exponent as little-endian u32 words (all of its precision).
fn exponent_words(exponent: &BoxedUint) -> Vec<u32> {
    let per = (Word::BITS / 32) as usize;
    exponent
        .as_words()
        .iter()
        .flat_map(|&w| (0..per).map(move |k| (w >> (k as u32 * 32)) as u32))
        .collect()
}

/// What to compute in a field.
#[derive(Clone, Copy)]
enum Op<'a> {
    Ct(&'a [u32], u32),
    Vartime(&'a [u32]),
}

fn run<const N: usize, F: MontField<N>>(f: &F, base: &[F::L; N], op: Op<'_>) -> [F::L; N] {
    match op {
        Op::Ct(e, bits) => field_pow_ct(f, base, e, bits),
        Op::Vartime(e) => field_pow_vartime(f, base, e),
    }
}

/// The binary-radix field of `params` (R = 2^precision, the same as crypto-bigint's).
fn field64<const N: usize>(params: &BoxedMontyParams) -> Option<Field<N>> {
    Field::<N>::new(repack(params.modulus().as_ref().as_words(), LIMB_BITS))
}

/// `x` in [`field64`]'s form: the same limbs.
fn to64<const N: usize>(x: &BoxedMontyForm) -> [Limb; N] {
    repack(x.as_montgomery().as_words(), LIMB_BITS)
}

/// A value of [`field64`] back in crypto-bigint's form for `params`.
fn from64<const N: usize>(r: &[Limb; N], params: &BoxedMontyParams) -> BoxedMontyForm {
    let nwords = params.modulus().as_ref().as_words().len();
    let words = unpack(r, LIMB_BITS, nwords);
    BoxedMontyForm::from_montgomery(BoxedUint::from_words(words), params)
}

/// In the binary-radix field.
fn in_field64<const N: usize>(base: &BoxedMontyForm, op: Op<'_>) -> Option<BoxedMontyForm> {
    let field = field64::<N>(base.params())?;
    let mut b: [Limb; N] = to64(base);
    let mut r = run(&field, &b, op);
    let out = from64(&r, base.params());
    b.zeroize();
    r.zeroize();
    Some(out)
}

/// The radix-2^28 field of `params`, and `shift`: how many bits its R = 2^(28·N) is above
/// crypto-bigint's. Values move in by doubling `shift` times and out by halving `shift`
/// times (both constant time).
fn field28<const N: usize>(params: &BoxedMontyParams) -> Option<(Field28<N>, u32)> {
    let shift = (R28_BITS * N as u32).checked_sub(params.bits_precision())?;
    let mut one = BoxedMontyForm::one(params);
    for _ in 0..shift {
        one = one.double();
    }
    let field = Field28::<N>::new(
        repack(params.modulus().as_ref().as_words(), R28_BITS),
        repack(one.as_montgomery().as_words(), R28_BITS),
    )?;
    Some((field, shift))
}

/// `x` in [`field28`]'s form.
fn to28<const N: usize>(x: &BoxedMontyForm, shift: u32) -> [u32; N] {
    let mut lifted = x.clone();
    for _ in 0..shift {
        lifted = lifted.double();
    }
    let out = repack(lifted.as_montgomery().as_words(), R28_BITS);
    lifted.zeroize();
    out
}

/// A value of [`field28`] back in crypto-bigint's form for `params`.
fn from28<const N: usize>(r: &[u32; N], params: &BoxedMontyParams, shift: u32) -> BoxedMontyForm {
    let nwords = params.modulus().as_ref().as_words().len();
    let words = unpack(r, R28_BITS, nwords);
    let mut out = BoxedMontyForm::from_montgomery(BoxedUint::from_words(words), params);
    for _ in 0..shift {
        out = out.div_by_2();
    }
    out
}

/// In the radix-2^28 field.
fn in_field28<const N: usize>(base: &BoxedMontyForm, op: Op<'_>) -> Option<BoxedMontyForm> {
    let (field, shift) = field28::<N>(base.params())?;
    let mut b: [u32; N] = to28(base, shift);
    let mut r = run(&field, &b, op);
    let out = from28(&r, base.params(), shift);
    b.zeroize();
    r.zeroize();
    Some(out)
}

/// Which radix this target uses: 2^28 on wasm32 (no 64×64→128 multiplication), 2^64
/// elsewhere. Both are compiled and tested everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Radix {
    R28,
    R64,
}

#[cfg(target_arch = "wasm32")]
const RADIX: Radix = Radix::R28;
#[cfg(not(target_arch = "wasm32"))]
const RADIX: Radix = Radix::R64;

fn dispatch(base: &BoxedMontyForm, op: Op<'_>, radix: Radix) -> Option<BoxedMontyForm> {
    let params = base.params();
    if params.modulus().as_ref().bit_width_vartime() != params.bits_precision() {
        return None;
    }
    match (params.bits_precision(), radix) {
        (1536, Radix::R64) => in_field64::<N1536>(base, op),
        (1024, Radix::R64) => in_field64::<N1024>(base, op),
        (1536, Radix::R28) => in_field28::<N28_1536>(base, op),
        (1024, Radix::R28) => in_field28::<N28_1024>(base, op),
        _ => None,
    }
}

/// `base^exponent`, constant time in `exponent` for the public bound `exponent_bits`
/// (bits of `exponent` at or above it are ignored). `None` if the modulus is not one this
/// module handles (1536 or 1024 bits, top bit set).
pub(crate) fn pow_ct(
    base: &BoxedMontyForm,
    exponent: &BoxedUint,
    exponent_bits: u32,
) -> Option<BoxedMontyForm> {
    pow_ct_radix(base, exponent, exponent_bits, RADIX)
}

pub(crate) fn pow_ct_radix(
    base: &BoxedMontyForm,
    exponent: &BoxedUint,
    exponent_bits: u32,
    radix: Radix,
) -> Option<BoxedMontyForm> {
    let mut e = exponent_words(exponent);
    let out = dispatch(base, Op::Ct(&e, exponent_bits), radix);
    e.zeroize();
    out
}

/// `base^exponent` for a **public** exponent, in variable time. `None` if the modulus is
/// not one this module handles.
pub(crate) fn pow_vartime(base: &BoxedMontyForm, exponent: &BoxedUint) -> Option<BoxedMontyForm> {
    pow_vartime_radix(base, exponent, RADIX)
}

pub(crate) fn pow_vartime_radix(
    base: &BoxedMontyForm,
    exponent: &BoxedUint,
    radix: Radix,
) -> Option<BoxedMontyForm> {
    let e = exponent_words(exponent);
    dispatch(base, Op::Vartime(&e), radix)
}

/// A table of powers of one base modulo a 1536-bit prime, for repeated secret exponents
/// of a bounded size: the generator of the DH group, whose `g^x` every new DH key needs.
/// Built once (about 16 multiplications per 4 bits of the bound); each exponentiation then
/// costs one multiplication per 4 bits instead of five. The table holds powers of a public
/// base only: nothing in it is secret.
pub(crate) struct FixedBase {
    params: BoxedMontyParams,
    tables: FixedTables,
}

enum FixedTables {
    R64(FixedTable<N1536, Field<N1536>>),
    R28(FixedTable<N28_1536, Field28<N28_1536>>, u32),
}

impl core::fmt::Debug for FixedBase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let radix = match &self.tables {
            FixedTables::R64(_) => "2^64",
            FixedTables::R28(..) => "2^28",
        };
        write!(f, "FixedBase(radix {radix}, {} bits)", self.bits())
    }
}

impl FixedBase {
    /// The exponent bits the table covers.
    pub(crate) fn bits(&self) -> u32 {
        let rows = match &self.tables {
            FixedTables::R64(t) => t.rows.len(),
            FixedTables::R28(t, _) => t.rows.len(),
        };
        rows as u32 * FIXED_WIDTH
    }

    /// The table of `base` for exponents of up to `max_bits` bits, in this target's radix;
    /// `None` unless the modulus is one of 1536 bits with its top bit set.
    pub(crate) fn new(base: &BoxedMontyForm, max_bits: u32) -> Option<Self> {
        Self::new_radix(base, max_bits, RADIX)
    }

    pub(crate) fn new_radix(base: &BoxedMontyForm, max_bits: u32, radix: Radix) -> Option<Self> {
        let params = base.params();
        if params.bits_precision() != 1536
            || params.modulus().as_ref().bit_width_vartime() != params.bits_precision()
        {
            return None;
        }
        let tables = match radix {
            Radix::R64 => {
                let field = field64::<N1536>(params)?;
                let b = to64(base);
                FixedTables::R64(FixedTable::new(field, &b, max_bits))
            }
            Radix::R28 => {
                let (field, shift) = field28::<N28_1536>(params)?;
                let b = to28(base, shift);
                FixedTables::R28(FixedTable::new(field, &b, max_bits), shift)
            }
        };
        Some(Self {
            params: params.clone(),
            tables,
        })
    }

    /// base^exponent, constant time in `exponent` for the public bound `exponent_bits`
    /// (bits of `exponent` at or above it are ignored); `None` if the bound is above the
    /// table's.
    pub(crate) fn pow_ct(
        &self,
        exponent: &BoxedUint,
        exponent_bits: u32,
    ) -> Option<BoxedMontyForm> {
        let mut e = exponent_words(exponent);
        let out = match &self.tables {
            FixedTables::R64(t) => t.pow(&e, exponent_bits).map(|mut r| {
                let out = from64(&r, &self.params);
                r.zeroize();
                out
            }),
            FixedTables::R28(t, shift) => t.pow(&e, exponent_bits).map(|mut r| {
                let out = from28(&r, &self.params, *shift);
                r.zeroize();
                out
            }),
        };
        e.zeroize();
        out
    }
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
        let mut bases = vec![
            zero,
            BoxedUint::one_with_precision(m.bits_precision()),
            m_minus_1.clone(),
        ];
        bases.extend((0..3).map(|_| random_below(rng, &m)));
        // Exponents: zero, one, 2, m - 1, all ones at several widths, random (bounded
        // and not).
        let mut exps = vec![
            (BoxedUint::zero_with_precision(320), 320),
            (BoxedUint::one_with_precision(320), 320),
            (BoxedUint::from(2u64), 2),
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
        for radix in [Radix::R28, Radix::R64] {
            for (n, (e, bits)) in exps.iter().enumerate() {
                let b = &bases[n % bases.len()];
                let base = to_monty(b, params);
                let want = base.pow_bounded_exp(e, *bits);
                let got = pow_ct_radix(&base, e, *bits, radix).unwrap();
                assert_eq!(got, want, "{radix:?} bits {bits}");
                // The variable-time path uses every bit.
                let got = pow_vartime_radix(&base, e, radix).unwrap();
                assert_eq!(got, base.pow(e), "{radix:?} bits {bits}");
            }
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
    fn fixed_base_tables_match_crypto_bigint() {
        let mut rng = TestRng::new(13);
        let params = &group().params;
        let m = params.modulus().as_ref().clone();
        for radix in [Radix::R28, Radix::R64] {
            for b in [
                BoxedUint::from(2u64),
                BoxedUint::one_with_precision(1536),
                random_below(&mut rng, &m),
            ] {
                let base = to_monty(&b, params);
                let table = FixedBase::new_radix(&base, 320, radix).unwrap();
                let mut exps = vec![
                    (BoxedUint::zero_with_precision(320), 320),
                    (BoxedUint::one_with_precision(320), 320),
                    (BoxedUint::from(0xfu64), 4),
                    (BoxedUint::from(0x1fu64), 4),
                ];
                for bits in [1u32, 3, 4, 5, 63, 64, 65, 317, 319, 320] {
                    let all = BoxedUint::from_be_slice_vartime(&[0xff; 40])
                        .wrapping_shr_vartime(320 - bits);
                    exps.push((all, bits));
                    let r = random_below(&mut rng, &m);
                    // Bits above the bound are ignored.
                    exps.push((r, bits));
                }
                for (e, bits) in &exps {
                    let want = base.pow_bounded_exp(e, *bits);
                    assert_eq!(table.pow_ct(e, *bits).unwrap(), want, "{radix:?} {bits}");
                }
                // Above the table's bound: declined, not truncated.
                assert!(table.pow_ct(&BoxedUint::from(5u64), 321).is_none());
            }
        }
        // Only 1536-bit moduli.
        let params = modulus_1024(&mut rng);
        let base = to_monty(&BoxedUint::from(3u64), &params);
        assert!(FixedBase::new_radix(&base, 320, Radix::R28).is_none());
        assert!(FixedBase::new_radix(&base, 320, Radix::R64).is_none());
        // Full-size exponents (SMP): a table for 1536 bits, in both radices.
        let g = &group().g;
        let q = BoxedUint::from(&crate::crypto::group::ORDER);
        let all = BoxedUint::from_be_slice_vartime(&[0xff; 192]);
        for radix in [Radix::R28, Radix::R64] {
            let table = FixedBase::new_radix(g, 1536, radix).unwrap();
            assert_eq!(table.bits(), 1536);
            for e in [q.clone(), all.clone(), random_below(&mut rng, &m)] {
                for bits in [1536, 1535, 320] {
                    let want = g.pow_bounded_exp(&e, bits);
                    assert_eq!(table.pow_ct(&e, bits).unwrap(), want, "{radix:?} {bits}");
                }
            }
        }
        let e = random_below(&mut rng, &m);
        assert_eq!(crate::crypto::group::g_pow_full(&e), g.pow(&e));
        // What DH uses.
        let x = random_below(&mut rng, &m);
        let x = resize(&x.wrapping_shr_vartime(1536 - 320), 320);
        assert_eq!(
            crate::crypto::group::g_pow_dh(&x),
            group().g.pow_bounded_exp(&x, 320)
        );
    }

    #[test]
    fn other_moduli_are_declined() {
        // 160 bits (DSA q) and a 1536-bit precision modulus without its top bit.
        let q = monty_params(&BoxedUint::from_be_slice_vartime(&[0x8f; 20])).unwrap();
        let base = to_monty(&BoxedUint::from(3u64), &q);
        assert!(pow_ct_radix(&base, &BoxedUint::from(5u64), 8, Radix::R28).is_none());
        assert!(pow_ct_radix(&base, &BoxedUint::from(5u64), 8, Radix::R64).is_none());
        let small = resize(&BoxedUint::from(&MODULUS).wrapping_shr_vartime(1), 1536);
        let params = monty_params(&small).unwrap();
        let base = to_monty(&BoxedUint::from(3u64), &params);
        assert!(pow_vartime_radix(&base, &BoxedUint::from(5u64), Radix::R28).is_none());
        assert!(pow_vartime_radix(&base, &BoxedUint::from(5u64), Radix::R64).is_none());
        assert!(Field::<N1024>::new([2; N1024]).is_none());
        assert!(Field28::<N28_1024>::new([2; N28_1024], [1; N28_1024]).is_none());
    }
}
