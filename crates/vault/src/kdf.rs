//! Passphrase → key-encryption key with Argon2id (RFC 9106, version 0x13), the
//! accepted parameter range, calibration and the RFC 9106 known-answer test.

use core::time::Duration;

use argon2::{Algorithm, Argon2, AssociatedData, Params, ParamsBuilder, Version};
use zeroize::Zeroizing;

use crate::crypto::{Kek, KEY_LEN};
use crate::error::{KdfError, ParamsError, SelfTestError};

/// Argon2id cost parameters, always inside the accepted range:
///
/// | | minimum | maximum |
/// |---|---|---|
/// | `m` (memory, KiB) | 19 456 (19 MiB, the OWASP floor) | 65 536 (64 MiB) |
/// | `t` (passes) | 2 | 24 |
/// | `p` (lanes) | 1 | 1 |
///
/// The same range is enforced on every header read from storage or a backup,
/// before the KDF runs: a header cannot downgrade the cost, nor make unlocking
/// hang the device. `p` is 1 because the browser runs Argon2 on one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl KdfParams {
    /// Smallest memory cost, KiB (19 MiB).
    pub const MIN_M_KIB: u32 = 19 * 1024;
    /// Largest memory cost, KiB (64 MiB).
    pub const MAX_M_KIB: u32 = 64 * 1024;
    /// Fewest passes.
    pub const MIN_T: u32 = 2;
    /// Most passes: about 1 s at 64 MiB on a fast desktop, and a bound on how long
    /// a crafted header can make a slow phone work.
    pub const MAX_T: u32 = 24;
    /// The only lane count accepted.
    pub const P: u32 = 1;

    /// The floor: m = 19 MiB, t = 2, p = 1.
    pub const MINIMUM: Self = Self {
        m_kib: Self::MIN_M_KIB,
        t: Self::MIN_T,
        p: Self::P,
    };

    /// Checks parameters against the accepted range.
    ///
    /// # Errors
    /// [`ParamsError`] when any of them is outside the table above.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, ParamsError> {
        let ok = (Self::MIN_M_KIB..=Self::MAX_M_KIB).contains(&m_kib)
            && (Self::MIN_T..=Self::MAX_T).contains(&t)
            && p == Self::P;
        if ok {
            Ok(Self { m_kib, t, p })
        } else {
            Err(ParamsError { m_kib, t, p })
        }
    }

    /// Memory cost in KiB.
    pub fn m_kib(&self) -> u32 {
        self.m_kib
    }

    /// Number of passes.
    pub fn t(&self) -> u32 {
        self.t
    }

    /// Number of lanes (always 1).
    pub fn p(&self) -> u32 {
        self.p
    }
}

fn argon2_params(m_kib: u32, t: u32, p: u32) -> Result<Params, KdfError> {
    Params::new(m_kib, t, p, Some(KEY_LEN)).map_err(|_| KdfError::Failed)
}

fn run_argon2id(ctx: &Argon2<'_>, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), KdfError> {
    ctx.hash_password_into(pwd, salt, out).map_err(|e| match e {
        argon2::Error::OutOfMemory => KdfError::OutOfMemory,
        _ => KdfError::Failed,
    })
}

/// Argon2id(passphrase, salt) at (m KiB, t passes, p lanes), 32 bytes of output.
fn argon2id_with(
    passphrase: &[u8],
    salt: &[u8],
    (m, t, p): (u32, u32, u32),
) -> Result<Zeroizing<[u8; KEY_LEN]>, KdfError> {
    let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params(m, t, p)?);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    run_argon2id(&ctx, passphrase, salt, out.as_mut())?;
    Ok(out)
}

/// Argon2id(passphrase, salt) with the given cost, 32 bytes of output.
pub(crate) fn derive_kek(passphrase: &[u8], salt: &[u8], cost: Cost) -> Result<Kek, KdfError> {
    let mtp = match cost {
        Cost::Params(k) => (k.m_kib, k.t, k.p),
        #[cfg(test)]
        Cost::TestOnlyCheap => (8, 1, 1),
    };
    argon2id_with(passphrase, salt, mtp).map(Kek::from_bytes)
}

/// The vault's key-encryption key: Argon2id(passphrase, salt) at `params` (always in the
/// accepted range), 32 bytes. What a [`KdfRunner`] computes, wherever it runs.
///
/// # Errors
/// [`KdfError::OutOfMemory`] when the Argon2 blocks cannot be allocated.
pub fn argon2id(
    passphrase: &[u8],
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KdfError> {
    argon2id_with(passphrase, salt, (params.m_kib, params.t, params.p))
}

/// What [`KdfRunner::argon2id`] returns.
pub type KdfFuture<'a> = core::pin::Pin<
    Box<dyn core::future::Future<Output = Result<Zeroizing<[u8; KEY_LEN]>, KdfError>> + 'a>,
>;

/// Where Argon2id runs for a [`Vault`](crate::Vault) (see
/// [`Vault::with_kdf`](crate::Vault::with_kdf)). Its blocks take up to 64 MiB, and a
/// WebAssembly memory never shrinks: the browser runtime runs it in a short-lived worker
/// of its own, so that memory is given back as soon as the key is derived. The default,
/// [`InPlace`], runs it in the caller's thread.
pub trait KdfRunner {
    /// [`argon2id`]`(passphrase, salt, params)`.
    fn argon2id<'a>(
        &'a self,
        passphrase: &'a [u8],
        salt: &'a [u8],
        params: KdfParams,
    ) -> KdfFuture<'a>;
}

/// Runs Argon2id in the caller's thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct InPlace;

impl KdfRunner for InPlace {
    fn argon2id<'a>(
        &'a self,
        passphrase: &'a [u8],
        salt: &'a [u8],
        params: KdfParams,
    ) -> KdfFuture<'a> {
        Box::pin(core::future::ready(argon2id(passphrase, salt, params)))
    }
}

/// What the KDF spends. Production code only ever builds `Params` from a
/// validated [`KdfParams`]; the cheap variant exists only in this crate's unit
/// tests, after the stored header has passed the same range check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cost {
    Params(KdfParams),
    #[cfg(test)]
    TestOnlyCheap,
}

/// The memory steps calibration tries, largest first (64, 46, 32 and 19 MiB).
pub const CALIBRATION_MEMORY_STEPS_KIB: [u32; 4] = [65_536, 47_104, 32_768, KdfParams::MIN_M_KIB];

/// The parameters calibration picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// The parameters to create the vault with.
    pub params: KdfParams,
    /// The time one derivation is expected to take with them.
    pub estimated: Duration,
    /// True when even the floor (19 MiB, t = 2) took longer than the target:
    /// the device is slow, unlocking will take longer than asked, and the
    /// passphrase carries more of the protection. Tell the user.
    pub slow_device: bool,
}

/// Picks Argon2id parameters that take about `target` on this device.
///
/// `now` is the caller's monotonic clock (for example `performance.now()` in a
/// worker, or `Instant::elapsed` natively); the crate never reads a clock itself.
///
/// Method: for m in 64, 46, 32, 19 MiB (skipping a step whose memory cannot be
/// allocated, and a step that takes longer than `target` at t = 2 unless it is
/// the floor), time one derivation at t = 2 and scale t linearly to reach
/// `target`, clamped to `2..=`[`KdfParams::MAX_T`]; if that gives t > 2, time
/// one derivation at that t and rescale once (the first run also pays for
/// fresh memory and overestimates). Never below m = 19 MiB, t = 2. Runs
/// Argon2id up to five times, about `target` plus a few seconds on a slow
/// device: run it in a worker.
///
/// # Errors
/// [`KdfError::OutOfMemory`] if not even 19 MiB can be allocated.
pub fn calibrate(target: Duration, now: impl FnMut() -> Duration) -> Result<Calibration, KdfError> {
    calibrate_with(target, now, |params| {
        let salt = [0x5a; 32];
        derive_kek(b"calibration", &salt, Cost::Params(params)).map(drop)
    })
}

/// The decision logic of [`calibrate`], with the Argon2id run injected (for tests).
pub(crate) fn calibrate_with(
    target: Duration,
    mut now: impl FnMut() -> Duration,
    mut run: impl FnMut(KdfParams) -> Result<(), KdfError>,
) -> Result<Calibration, KdfError> {
    // One timed run; `None` when the memory cannot be allocated.
    let mut timed = |params: KdfParams| -> Result<Option<Duration>, KdfError> {
        let start = now();
        match run(params) {
            Ok(()) => Ok(Some(
                now().saturating_sub(start).max(Duration::from_micros(1)),
            )),
            Err(KdfError::OutOfMemory) => Ok(None),
            Err(e) => Err(e),
        }
    };
    for m_kib in CALIBRATION_MEMORY_STEPS_KIB {
        let Some(first) = timed(KdfParams::new(m_kib, KdfParams::MIN_T, KdfParams::P)?)? else {
            continue;
        };
        if first > target && m_kib != KdfParams::MIN_M_KIB {
            continue;
        }
        let mut t = scale_passes(KdfParams::MIN_T, first, target);
        let mut estimated = first.saturating_mul(t) / KdfParams::MIN_T;
        if t > KdfParams::MIN_T {
            // The first run also paid for fresh memory (page faults), so it
            // overestimates; time the chosen cost once and rescale from it.
            let Some(second) = timed(KdfParams::new(m_kib, t, KdfParams::P)?)? else {
                continue;
            };
            let refined = scale_passes(t, second, target);
            estimated = second.saturating_mul(refined) / t;
            t = refined;
        }
        return Ok(Calibration {
            params: KdfParams::new(m_kib, t, KdfParams::P)?,
            estimated,
            slow_device: first > target,
        });
    }
    Err(KdfError::OutOfMemory)
}

/// The pass count that makes a run which took `elapsed` with `passes` passes
/// take about `target`, clamped to the accepted range.
fn scale_passes(passes: u32, elapsed: Duration, target: Duration) -> u32 {
    let scaled = target.as_nanos().saturating_mul(u128::from(passes)) / elapsed.as_nanos().max(1);
    u32::try_from(scaled)
        .unwrap_or(u32::MAX)
        .clamp(KdfParams::MIN_T, KdfParams::MAX_T)
}

impl From<ParamsError> for KdfError {
    fn from(_: ParamsError) -> Self {
        Self::Failed
    }
}

/// RFC 9106 §5.3 Argon2id test vector (version 0x13, t = 3, m = 32 KiB, p = 4,
/// with secret and associated data).
pub(crate) mod rfc9106 {
    pub(crate) const PASSWORD: [u8; 32] = [0x01; 32];
    pub(crate) const SALT: [u8; 16] = [0x02; 16];
    pub(crate) const SECRET: [u8; 8] = [0x03; 8];
    pub(crate) const AD: [u8; 12] = [0x04; 12];
    pub(crate) const M_KIB: u32 = 32;
    pub(crate) const T: u32 = 3;
    pub(crate) const P: u32 = 4;
    pub(crate) const TAG: [u8; 32] = [
        0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53,
        0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01,
        0xe6, 0x59,
    ];
}

/// Computes the RFC 9106 §5.3 Argon2id tag (exposed for the known-answer test).
pub(crate) fn rfc9106_tag(password: &[u8]) -> Result<[u8; 32], KdfError> {
    use rfc9106::*;
    let data = AssociatedData::new(&AD).map_err(|_| KdfError::Failed)?;
    let params = ParamsBuilder::new()
        .m_cost(M_KIB)
        .t_cost(T)
        .p_cost(P)
        .data(data)
        .output_len(32)
        .build()
        .map_err(|_| KdfError::Failed)?;
    let ctx = Argon2::new_with_secret(&SECRET, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|_| KdfError::Failed)?;
    let mut out = [0u8; 32];
    run_argon2id(&ctx, password, &SALT, &mut out)?;
    Ok(out)
}

/// The RFC 9106 §5.3 known-answer test for Argon2id. Run it on the device before
/// creating or first unlocking a vault: Argon2 has produced wrong output on some
/// phones, and a vault created by a broken Argon2 cannot be opened elsewhere.
///
/// # Errors
/// [`SelfTestError::Argon2id`] on a wrong tag.
pub fn argon2id_known_answer_test() -> Result<(), SelfTestError> {
    let tag = rfc9106_tag(&rfc9106::PASSWORD).map_err(SelfTestError::Argon2idFailed)?;
    if tag == rfc9106::TAG {
        Ok(())
    } else {
        Err(SelfTestError::Argon2id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    #[test]
    fn rfc9106_argon2id_vector_passes() {
        assert_eq!(argon2id_known_answer_test(), Ok(()));
    }

    #[test]
    fn rfc9106_check_can_fail() {
        // The same computation with another password must not match the tag,
        // or the known-answer test would be vacuous.
        let other = rfc9106_tag(&[0x11; 32]).unwrap();
        assert_ne!(other, rfc9106::TAG);
        assert_eq!(rfc9106_tag(&rfc9106::PASSWORD).unwrap(), rfc9106::TAG);
    }

    #[test]
    fn params_range_is_enforced() {
        assert!(KdfParams::new(19 * 1024, 2, 1).is_ok());
        assert!(KdfParams::new(64 * 1024, 24, 1).is_ok());
        for (m, t, p) in [
            (19 * 1024 - 1, 2, 1),
            (64 * 1024 + 1, 2, 1),
            (19 * 1024, 1, 1),
            (19 * 1024, 25, 1),
            (19 * 1024, 2, 2),
            (19 * 1024, 2, 0),
            (0, 0, 0),
            (u32::MAX, u32::MAX, u32::MAX),
        ] {
            assert_eq!(KdfParams::new(m, t, p), Err(ParamsError { m_kib: m, t, p }));
        }
    }

    #[test]
    fn kek_depends_on_passphrase_and_salt() {
        let a = derive_kek(b"one", &[1; 32], Cost::TestOnlyCheap).unwrap();
        let b = derive_kek(b"two", &[1; 32], Cost::TestOnlyCheap).unwrap();
        let c = derive_kek(b"one", &[2; 32], Cost::TestOnlyCheap).unwrap();
        let a2 = derive_kek(b"one", &[1; 32], Cost::TestOnlyCheap).unwrap();
        assert_eq!(a.bytes(), a2.bytes());
        assert_ne!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), c.bytes());
    }

    #[test]
    fn real_minimum_params_run() {
        let kek = derive_kek(b"pass", &[9; 32], Cost::Params(KdfParams::MINIMUM)).unwrap();
        let again = derive_kek(b"pass", &[9; 32], Cost::Params(KdfParams::MINIMUM)).unwrap();
        assert_eq!(kek.bytes(), again.bytes());
        assert_ne!(kek.bytes(), &[0u8; 32]);
    }

    /// A fake device: Argon2 costs `ns_per_kib_pass` per KiB per pass and
    /// allocations above `max_kib` fail. Time advances only when Argon2 "runs".
    fn simulate(
        target_ms: u64,
        ns_per_kib_pass: u64,
        max_kib: u32,
    ) -> (Result<Calibration, KdfError>, Vec<KdfParams>) {
        simulate_with_first_run_cost(target_ms, ns_per_kib_pass, max_kib, 0)
    }

    /// As `simulate`, and the first run at each memory size costs `first_ns` more.
    fn simulate_with_first_run_cost(
        target_ms: u64,
        ns_per_kib_pass: u64,
        max_kib: u32,
        first_ns: u64,
    ) -> (Result<Calibration, KdfError>, Vec<KdfParams>) {
        let clock = Cell::new(Duration::ZERO);
        let mut tried = Vec::new();
        let result = calibrate_with(
            Duration::from_millis(target_ms),
            || clock.get(),
            |p| {
                tried.push(p);
                if p.m_kib() > max_kib {
                    return Err(KdfError::OutOfMemory);
                }
                let fresh = !tried[..tried.len() - 1]
                    .iter()
                    .any(|q| q.m_kib() == p.m_kib());
                let mut cost = u64::from(p.m_kib()) * u64::from(p.t()) * ns_per_kib_pass;
                if fresh {
                    cost += first_ns;
                }
                clock.set(clock.get() + Duration::from_nanos(cost));
                Ok(())
            },
        );
        (result, tried)
    }

    #[test]
    fn calibration_on_a_fast_device_keeps_64_mib_and_raises_t() {
        // 64 MiB x 2 passes = 100 ms -> t = 20 for a 1 s target.
        let ns = 100_000_000 / (65_536 * 2);
        let (r, tried) = simulate(1000, ns, u32::MAX);
        let c = r.unwrap();
        assert_eq!(c.params.m_kib(), 65_536);
        assert_eq!(c.params.t(), 20);
        assert!(!c.slow_device);
        assert!(c.estimated <= Duration::from_millis(1000));
        assert!(c.estimated >= Duration::from_millis(900));
        // One run at t = 2, one confirming run at the chosen t.
        let runs: Vec<(u32, u32)> = tried.iter().map(|p| (p.m_kib(), p.t())).collect();
        assert_eq!(runs, [(65_536, 2), (65_536, 20)]);
    }

    #[test]
    fn calibration_corrects_for_a_slow_first_run() {
        // Each pass over 64 MiB costs 50 ms; the first run pays 100 ms more for
        // fresh memory. Linear scaling from it alone would pick t = 10 (0.5 s).
        let ns = 50_000_000 / 65_536;
        let (r, tried) = simulate_with_first_run_cost(1000, ns, u32::MAX, 100_000_000);
        let c = r.unwrap();
        assert_eq!(tried[1].t(), 10);
        assert_eq!(c.params.t(), 20);
        assert!(c.estimated <= Duration::from_millis(1000));
        assert!(c.estimated >= Duration::from_millis(950));
    }

    #[test]
    fn calibration_caps_t() {
        let (r, _) = simulate(1000, 1, u32::MAX);
        assert_eq!(r.unwrap().params.t(), KdfParams::MAX_T);
    }

    #[test]
    fn calibration_steps_memory_down_when_allocation_fails() {
        let ns = 100_000_000 / (65_536 * 2);
        let (r, tried) = simulate(1000, ns, 40_000);
        let c = r.unwrap();
        assert_eq!(c.params.m_kib(), 32_768);
        let ms: Vec<u32> = tried.iter().map(|p| p.m_kib()).collect();
        assert_eq!(ms, [65_536, 47_104, 32_768, 32_768]);
    }

    #[test]
    fn calibration_steps_memory_down_when_too_slow() {
        // 64 MiB x 2 takes 2 s; 32 MiB x 2 takes 1 s exactly.
        let ns = 2_000_000_000 / (65_536 * 2);
        let (r, _) = simulate(1000, ns, u32::MAX);
        let c = r.unwrap();
        assert_eq!(c.params.m_kib(), 32_768);
        assert_eq!(c.params.t(), 2);
        assert!(!c.slow_device);
    }

    #[test]
    fn calibration_never_goes_below_the_floor_on_a_slow_device() {
        let ns = 20_000_000_000 / (65_536 * 2);
        let (r, _) = simulate(1000, ns, u32::MAX);
        let c = r.unwrap();
        assert_eq!(c.params, KdfParams::MINIMUM);
        assert!(c.slow_device);
    }

    #[test]
    fn calibration_fails_when_nothing_can_be_allocated() {
        let (r, tried) = simulate(1000, 1, 1000);
        assert_eq!(r, Err(KdfError::OutOfMemory));
        assert_eq!(tried.len(), 4);
    }

    #[test]
    fn calibration_with_a_real_clock_and_real_argon2() {
        // A short target keeps the test fast; the decision path is the real one.
        let start = std::time::Instant::now();
        let c = calibrate(Duration::from_millis(30), || start.elapsed()).unwrap();
        assert!(c.params.m_kib() >= KdfParams::MIN_M_KIB);
        assert!(c.params.t() >= KdfParams::MIN_T);
    }
}
