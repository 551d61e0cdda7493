//! Helpers for this crate's unit tests.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use crate::error::RandomnessError;
use crate::rng::RandomSource;

/// A seeded, reproducible generator (SplitMix64). Tests only: not secure.
#[derive(Debug, Clone)]
pub(crate) struct TestRng {
    state: u64,
}

impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl RandomSource for TestRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// A random source that always fails.
#[derive(Debug)]
pub(crate) struct BrokenRng;

impl RandomSource for BrokenRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), RandomnessError> {
        Err(RandomnessError)
    }
}

/// Drives a future that never waits on anything external (the in-memory
/// storage is always ready).
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete: the in-memory storage should always be ready");
}
