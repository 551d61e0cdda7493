//! Randomness, injected so that tests are reproducible.

use core::fmt;

use crate::error::RandomnessError;

/// A cryptographically secure random source. Production code uses
/// [`SystemRandom`]; tests may pass a seeded generator.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    /// [`RandomnessError`] if no randomness is available; the vault then refuses
    /// to write anything.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError>;
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        (**self).fill(dest)
    }
}

/// The operating system's generator through `getrandom` (in the browser,
/// `crypto.getRandomValues`; the wasm build enables getrandom's `wasm_js`).
#[derive(Clone, Copy, Default)]
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomnessError> {
        getrandom::fill(dest).map_err(|_| RandomnessError)
    }
}

impl fmt::Debug for SystemRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRandom")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_random_fills_and_differs() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        SystemRandom.fill(&mut a).unwrap();
        SystemRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
