//! Bounds-checked reading and writing of the big-endian layouts in the crate docs.
//!
//! Every decoder in this crate goes through [`Reader`]: a short input is
//! [`FormatError::Truncated`], bytes left over are [`FormatError::TrailingBytes`],
//! and nothing is ever allocated from a length field before the bytes it claims
//! have been found in the input.

use crate::error::FormatError;

/// A cursor over an untrusted byte string.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.rest.len() {
            return Err(FormatError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Everything not read yet, without consuming it.
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Succeeds only if the whole input was consumed.
    pub(crate) fn finish(self) -> Result<(), FormatError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes)
        }
    }
}

/// Appends a length-prefixed (one byte) field. The caller has checked `bytes.len() <= 255`.
pub(crate) fn put_u8_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

/// Appends a length-prefixed (two bytes) field. The caller has checked `bytes.len() <= 65535`.
pub(crate) fn put_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_and_trailing_bytes() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u16(), Err(FormatError::Truncated));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.finish(), Err(FormatError::TrailingBytes));
        let mut r = Reader::new(&[0, 0, 1, 0]);
        assert_eq!(r.u32(), Ok(256));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn prefixed_fields_never_write_a_length_that_disagrees_with_the_bytes() {
        let mut out = Vec::new();
        put_u8_prefixed(&mut out, &[7; 300]);
        assert_eq!(out.len(), 256);
        assert_eq!(out[0], 255);
        let mut out = Vec::new();
        put_u16_prefixed(&mut out, b"abc");
        assert_eq!(out, [0, 3, b'a', b'b', b'c']);
    }
}
