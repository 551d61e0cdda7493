//! The OTR wire format: primitive encodings, binary messages and their text framing.
//!
//! Everything that turns bytes or text into typed values lives here, on top of one
//! [`Codec`] trait and one bounds-checked [`Reader`]. Parsing is strict the way libotr is
//! strict (truncated input and trailing bytes are errors, fixed-size fields must have
//! their size) and lenient the way libotr is lenient (base64 may contain whitespace, MPIs
//! may carry leading zero bytes, fragment numbers may be zero-padded or not). Encoding is
//! always canonical: minimal MPIs, one-line padded base64, zero-padded fragment numbers.
//!
//! # Primitive types (OTR v3 spec, "Data types")
//!
//! | OTR name | Rust type | bytes on the wire |
//! |---|---|---|
//! | BYTE | `u8` | 1 |
//! | SHORT | `u16` | 2, big-endian |
//! | INT | `u32` | 4, big-endian |
//! | MPI | [`Mpi`] | INT length, then that many bytes of big-endian magnitude (minimal when we write it) |
//! | DATA | [`Data`] | INT length, then that many raw bytes |
//! | CTR | [`Ctr`] | 8 raw bytes: the top half of an AES-CTR counter block |
//! | MAC | [`Mac`] | 20 raw bytes |
//! | PUBKEY | [`PublicKeyWire`] | SHORT type `0x0000`, MPI p, MPI q, MPI g, MPI y |
//! | SIG | [`SignatureWire`] | r and s, each 20 bytes (the byte length of a 160-bit q): 40 bytes |
//!
//! Every message type has a fuzz-friendly `decode(&[u8]) -> Result<_, DecodeError>` entry
//! point (see [`message`] and [`text`]).

pub mod base64;
pub mod message;
pub mod text;

use crate::error::DecodeError;

/// Upper bound on any single length-prefixed field we accept (MPI or DATA).
///
/// OTR chat messages are a few kilobytes; libotr 4.1.1 fixed an integer overflow
/// (CVE-2016-2851) triggered by multi-gigabyte lengths. 16 MiB is far above any honest
/// field; lengths are also checked against the input before anything is allocated.
pub const MAX_FIELD_LEN: usize = 16 << 20;

/// A value with one OTR wire encoding.
///
/// `read` consumes exactly the value's bytes from a [`Reader`]; [`Codec::decode`] decodes a
/// whole buffer and rejects trailing bytes. `encode` appends the canonical encoding.
pub trait Codec: Sized {
    /// Append the canonical encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Read one value from `reader`, advancing it past the value's bytes.
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decode a buffer that must contain exactly one value.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let value = Self::read(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }

    /// The canonical encoding of `self` as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A bounds-checked cursor over a byte slice. Reads never panic; running off the end is
/// [`DecodeError::Truncated`].
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Start reading at the beginning of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// How many bytes have been consumed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Take the next `len` bytes.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(DecodeError::Truncated)?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Take the next `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Take everything that is left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos = self.bytes.len();
        out
    }

    /// Read an INT length prefix and then that many bytes.
    pub fn take_length_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(u32::read(self)?).map_err(|_| DecodeError::TooLarge)?;
        if len > MAX_FIELD_LEN {
            return Err(DecodeError::TooLarge);
        }
        self.take(len)
    }

    /// Succeed only if every byte has been consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }

    /// The bytes consumed since `start` (a value from [`Reader::position`]).
    pub fn consumed_since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or(&[])
    }
}

impl Codec for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(u8::from_be_bytes(reader.take_array()?))
    }
}

impl Codec for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(u16::from_be_bytes(reader.take_array()?))
    }
}

impl Codec for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(u32::from_be_bytes(reader.take_array()?))
    }
}

/// Append `bytes` as an OTR MPI: INT length then the magnitude without leading zero bytes.
///
/// Zero encodes as length 0. This is the encoding libotr produces (libgcrypt `FMT_USG`);
/// MACs, hashes and fingerprints depend on it.
pub fn encode_mpi_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let minimal = strip_leading_zeros(bytes);
    // A magnitude longer than u32::MAX bytes cannot exist in memory on any target we
    // support; saturate rather than panic.
    let len = u32::try_from(minimal.len()).unwrap_or(u32::MAX);
    len.encode(out);
    out.extend_from_slice(minimal);
}

/// `bytes` without its leading zero bytes.
pub fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or(&[])
}

/// A multi-precision integer as carried on the wire: the big-endian magnitude.
///
/// The stored magnitude is always minimal. Like libotr (libgcrypt `gcry_mpi_scan`), the
/// decoder accepts leading zero bytes and drops them; the encoder never writes them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mpi(Vec<u8>);

impl Mpi {
    /// An MPI from a big-endian magnitude (leading zeros are dropped).
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        Self(strip_leading_zeros(bytes).to_vec())
    }

    /// The minimal big-endian magnitude (empty for zero).
    pub fn as_be_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Mpi({} bytes)", self.0.len())
    }
}

impl Codec for Mpi {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_mpi_bytes(&self.0, out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self::from_be_bytes(reader.take_length_prefixed()?))
    }
}

/// DATA: a length-prefixed byte string.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Data(pub Vec<u8>);

impl core::fmt::Debug for Data {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Data({} bytes)", self.0.len())
    }
}

impl Codec for Data {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_data(&self.0, out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(reader.take_length_prefixed()?.to_vec()))
    }
}

/// Append `bytes` as DATA (INT length, then the bytes).
pub fn encode_data(bytes: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    len.encode(out);
    out.extend_from_slice(bytes);
}

/// CTR: the top 8 bytes of the AES-CTR initial counter block of a Data message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, PartialOrd, Ord)]
pub struct Ctr(pub [u8; 8]);

impl Codec for Ctr {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(reader.take_array()?))
    }
}

/// MAC: 20 bytes (HMAC-SHA1, or HMAC-SHA256 truncated to 160 bits in the AKE).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mac(pub [u8; 20]);

impl Codec for Mac {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(reader.take_array()?))
    }
}

/// The only public-key type OTR defines: DSA.
pub const PUBKEY_TYPE_DSA: u16 = 0x0000;

/// PUBKEY as it appeared on the wire: a DSA public key (type `0x0000`, MPIs p, q, g, y).
///
/// The bytes of the four MPIs are kept exactly as received, because libotr computes
/// fingerprints and the AKE MACs over the received bytes, not a re-encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeyWire {
    /// MPI(p) ‖ MPI(q) ‖ MPI(g) ‖ MPI(y), as received or as we encoded them.
    mpi_bytes: Vec<u8>,
    /// The prime modulus.
    pub p: Mpi,
    /// The prime order of the subgroup.
    pub q: Mpi,
    /// The subgroup generator.
    pub g: Mpi,
    /// The public value g^x mod p.
    pub y: Mpi,
}

impl PublicKeyWire {
    /// Build the canonical (minimal) encoding from the four values.
    pub fn new(p: Mpi, q: Mpi, g: Mpi, y: Mpi) -> Self {
        let mut mpi_bytes = Vec::new();
        for v in [&p, &q, &g, &y] {
            v.encode(&mut mpi_bytes);
        }
        Self {
            mpi_bytes,
            p,
            q,
            g,
            y,
        }
    }

    /// The PUBKEY bytes without the 2-byte type: the input of the fingerprint.
    pub fn mpi_bytes(&self) -> &[u8] {
        &self.mpi_bytes
    }
}

impl core::fmt::Debug for PublicKeyWire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicKeyWire")
            .field("len", &self.mpi_bytes.len())
            .finish()
    }
}

impl Codec for PublicKeyWire {
    fn encode(&self, out: &mut Vec<u8>) {
        PUBKEY_TYPE_DSA.encode(out);
        out.extend_from_slice(&self.mpi_bytes);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let key_type = u16::read(reader)?;
        if key_type != PUBKEY_TYPE_DSA {
            return Err(DecodeError::UnknownPublicKeyType(key_type));
        }
        let start = reader.position();
        let p = Mpi::read(reader)?;
        let q = Mpi::read(reader)?;
        let g = Mpi::read(reader)?;
        let y = Mpi::read(reader)?;
        Ok(Self {
            mpi_bytes: reader.consumed_since(start).to_vec(),
            p,
            q,
            g,
            y,
        })
    }
}

/// SIG: a DSA signature, r and s each left-padded to 20 bytes (the length of q).
///
/// libotr rejects any other length (`siglen != 40`), so 1024/160 keys are the only ones
/// that interoperate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureWire(pub [u8; 40]);

impl core::fmt::Debug for SignatureWire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SignatureWire(40 bytes)")
    }
}

impl Codec for SignatureWire {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(reader.take_array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        assert_eq!(0x0102u16.to_bytes(), [1, 2]);
        assert_eq!(0x0102_0304u32.to_bytes(), [1, 2, 3, 4]);
        assert_eq!(u32::decode(&[0xde, 0xad, 0xbe, 0xef]), Ok(0xdead_beef));
        assert_eq!(u16::decode(&[1]), Err(DecodeError::Truncated));
        assert_eq!(
            u8::decode(&[1, 2]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn mpi_encoding_is_minimal() {
        assert_eq!(
            Mpi::from_be_bytes(&[0, 0, 1, 0]).to_bytes(),
            [0, 0, 0, 2, 1, 0]
        );
        // Zero is length 0 (S3 "Data types").
        assert_eq!(Mpi::from_be_bytes(&[0, 0]).to_bytes(), [0, 0, 0, 0]);
        assert_eq!(Mpi::decode(&[0, 0, 0, 0]), Ok(Mpi::from_be_bytes(&[])));
    }

    #[test]
    fn mpi_decoding_accepts_leading_zeros_like_libotr() {
        let mpi = Mpi::decode(&[0, 0, 0, 3, 0, 0x12, 0x34]).unwrap();
        assert_eq!(mpi.as_be_bytes(), [0x12, 0x34]);
        // Re-encoding is minimal.
        assert_eq!(mpi.to_bytes(), [0, 0, 0, 2, 0x12, 0x34]);
    }

    #[test]
    fn length_prefixed_fields_are_bounds_checked() {
        assert_eq!(
            Mpi::decode(&[0, 0, 0, 3, 1, 2]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Data::decode(&[0, 0, 0]), Err(DecodeError::Truncated));
        assert_eq!(
            Data::decode(&[0xff, 0xff, 0xff, 0xff, 1]),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            Data::decode(&[0, 0, 0, 1, 7, 8]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(Data::decode(&[0, 0, 0, 1, 7]), Ok(Data(vec![7])));
    }

    #[test]
    fn fixed_fields_have_fixed_sizes() {
        assert_eq!(Ctr::decode(&[1; 8]), Ok(Ctr([1; 8])));
        assert_eq!(Ctr::decode(&[1; 7]), Err(DecodeError::Truncated));
        assert_eq!(Mac::decode(&[2; 20]), Ok(Mac([2; 20])));
        assert_eq!(
            Mac::decode(&[2; 21]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(SignatureWire::decode(&[3; 40]), Ok(SignatureWire([3; 40])));
        assert_eq!(SignatureWire::decode(&[3; 39]), Err(DecodeError::Truncated));
    }

    #[test]
    fn pubkey_keeps_received_bytes_and_checks_type() {
        let key = PublicKeyWire::new(
            Mpi::from_be_bytes(&[0x0b]),
            Mpi::from_be_bytes(&[5]),
            Mpi::from_be_bytes(&[4]),
            Mpi::from_be_bytes(&[9]),
        );
        let bytes = key.to_bytes();
        assert_eq!(&bytes[..2], [0, 0]);
        assert_eq!(PublicKeyWire::decode(&bytes), Ok(key.clone()));
        assert_eq!(key.mpi_bytes(), &bytes[2..]);

        // A non-minimal MPI survives verbatim in mpi_bytes (the fingerprint input).
        let mut odd = vec![0, 0, 0, 0, 0, 2, 0, 0x0b];
        odd.extend_from_slice(&bytes[2 + 5..]);
        let decoded = PublicKeyWire::decode(&odd).unwrap();
        assert_eq!(decoded.p, key.p);
        assert_eq!(decoded.mpi_bytes(), &odd[2..]);
        assert_eq!(decoded.to_bytes(), odd);

        let mut wrong_type = bytes.clone();
        wrong_type[1] = 1;
        assert_eq!(
            PublicKeyWire::decode(&wrong_type),
            Err(DecodeError::UnknownPublicKeyType(1))
        );
        assert_eq!(
            PublicKeyWire::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn reader_never_overflows() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.take(usize::MAX), Err(DecodeError::Truncated));
        assert_eq!(r.take(2), Ok(&[1u8, 2][..]));
        assert_eq!(r.take(2), Err(DecodeError::Truncated));
        assert_eq!(r.take_rest(), &[3]);
        assert_eq!(r.finish(), Ok(()));
    }
}
