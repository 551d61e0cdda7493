//! Binary OTR messages (the payload of `?OTR:...base64....`).
//!
//! # Header
//!
//! | field | v2 | v3 |
//! |---|---|---|
//! | protocol version | SHORT `0x0002` | SHORT `0x0003` |
//! | message type | BYTE | BYTE |
//! | sender instance tag | — | INT (≥ `0x100`) |
//! | receiver instance tag | — | INT (0 = unknown, else ≥ `0x100`) |
//!
//! # Bodies
//!
//! | type | byte | fields after the header |
//! |---|---|---|
//! | [`DhCommit`] | `0x02` | DATA encrypted g^x MPI, DATA SHA-256 of the g^x MPI (32 bytes) |
//! | [`DhKey`] | `0x0a` | MPI g^y |
//! | [`RevealSignature`] | `0x11` | DATA revealed AES key r (16 bytes), DATA encrypted signature, MAC (20) |
//! | [`Signature`] | `0x12` | DATA encrypted signature, MAC (20) |
//! | [`DataMessage`] | `0x03` | BYTE flags, INT sender keyid, INT recipient keyid, MPI next DH, CTR, DATA encrypted message, MAC, DATA old MAC keys |
//!
//! The fixed lengths (r is 16 bytes, the hash 32) are enforced as libotr enforces them.
//! Each of [`EncodedMessage`], [`DhCommit`], [`DhKey`], [`RevealSignature`], [`Signature`]
//! and [`DataMessage`] has `decode(&[u8])` through [`Codec`]; the body types decode the
//! bytes after the header.

use crate::error::DecodeError;
use crate::wire::{encode_data, Codec, Ctr, Data, Mac, Mpi, Reader};

/// Message type byte of DH-Commit.
pub const TYPE_DH_COMMIT: u8 = 0x02;
/// Message type byte of Data.
pub const TYPE_DATA: u8 = 0x03;
/// Message type byte of DH-Key.
pub const TYPE_DH_KEY: u8 = 0x0a;
/// Message type byte of Reveal-Signature.
pub const TYPE_REVEAL_SIGNATURE: u8 = 0x11;
/// Message type byte of Signature.
pub const TYPE_SIGNATURE: u8 = 0x12;

/// Data message flag: the receiver should not report this message if it cannot read it.
pub const FLAG_IGNORE_UNREADABLE: u8 = 0x01;

/// An OTR protocol version this crate speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// OTR version 2 (no instance tags).
    V2,
    /// OTR version 3 (instance tags).
    V3,
}

impl Version {
    /// The SHORT that starts every binary message of this version.
    pub fn wire_value(self) -> u16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// A v3 instance tag: a 32-bit client-instance identifier.
///
/// 0 means "unknown" and is only valid as a receiver tag; 1..=0xFF are reserved; every
/// value from `0x100` to `0xFFFF_FFFF` is a valid tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceTag(u32);

impl InstanceTag {
    /// The "unknown / any" receiver tag.
    pub const UNKNOWN: InstanceTag = InstanceTag(0);
    /// The smallest valid tag (libotr `OTRL_MIN_VALID_INSTAG`).
    pub const MIN_VALID: u32 = 0x100;

    /// A tag that identifies an instance (`>= 0x100`), or `None`.
    pub fn new(value: u32) -> Option<Self> {
        (value >= Self::MIN_VALID).then_some(Self(value))
    }

    /// The raw value.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Whether this is a real instance (not [`InstanceTag::UNKNOWN`]).
    pub fn is_known(self) -> bool {
        self.0 >= Self::MIN_VALID
    }

    /// Parse a tag that may be zero (receiver position).
    pub fn receiver(value: u32) -> Option<Self> {
        if value == 0 {
            Some(Self::UNKNOWN)
        } else {
            Self::new(value)
        }
    }
}

/// The version-dependent part of a message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Header {
    /// A v2 message: no instance tags.
    V2,
    /// A v3 message with its instance tags.
    V3 {
        /// The sending instance (always a valid tag).
        sender: InstanceTag,
        /// The intended receiving instance, or [`InstanceTag::UNKNOWN`].
        receiver: InstanceTag,
    },
}

impl Header {
    /// The protocol version of this header.
    pub fn version(&self) -> Version {
        match self {
            Header::V2 => Version::V2,
            Header::V3 { .. } => Version::V3,
        }
    }

    fn encode_with_type(&self, message_type: u8, out: &mut Vec<u8>) {
        self.version().wire_value().encode(out);
        message_type.encode(out);
        if let Header::V3 { sender, receiver } = self {
            sender.value().encode(out);
            receiver.value().encode(out);
        }
    }

    fn read_with_type(reader: &mut Reader<'_>) -> Result<(Header, u8), DecodeError> {
        let version = u16::read(reader)?;
        let message_type = u8::read(reader)?;
        let header = match version {
            2 => Header::V2,
            3 => {
                let sender = u32::read(reader)?;
                let receiver = u32::read(reader)?;
                Header::V3 {
                    sender: InstanceTag::new(sender)
                        .ok_or(DecodeError::InvalidInstanceTag(sender))?,
                    receiver: InstanceTag::receiver(receiver)
                        .ok_or(DecodeError::InvalidInstanceTag(receiver))?,
                }
            }
            other => return Err(DecodeError::UnsupportedVersion(other)),
        };
        Ok((header, message_type))
    }
}

/// A decoded binary OTR message: header plus body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedMessage {
    /// Version and instance tags.
    pub header: Header,
    /// The typed body.
    pub body: MessageBody,
}

/// The body of a binary OTR message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageBody {
    /// AKE message 1.
    DhCommit(DhCommit),
    /// AKE message 2.
    DhKey(DhKey),
    /// AKE message 3.
    RevealSignature(RevealSignature),
    /// AKE message 4.
    Signature(Signature),
    /// An encrypted data message.
    Data(DataMessage),
}

impl MessageBody {
    /// The message type byte.
    pub fn message_type(&self) -> u8 {
        match self {
            MessageBody::DhCommit(_) => TYPE_DH_COMMIT,
            MessageBody::DhKey(_) => TYPE_DH_KEY,
            MessageBody::RevealSignature(_) => TYPE_REVEAL_SIGNATURE,
            MessageBody::Signature(_) => TYPE_SIGNATURE,
            MessageBody::Data(_) => TYPE_DATA,
        }
    }
}

impl Codec for EncodedMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode_with_type(self.body.message_type(), out);
        match &self.body {
            MessageBody::DhCommit(m) => m.encode(out),
            MessageBody::DhKey(m) => m.encode(out),
            MessageBody::RevealSignature(m) => m.encode(out),
            MessageBody::Signature(m) => m.encode(out),
            MessageBody::Data(m) => m.encode(out),
        }
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (header, message_type) = Header::read_with_type(reader)?;
        let body = match message_type {
            TYPE_DH_COMMIT => MessageBody::DhCommit(DhCommit::read(reader)?),
            TYPE_DH_KEY => MessageBody::DhKey(DhKey::read(reader)?),
            TYPE_REVEAL_SIGNATURE => MessageBody::RevealSignature(RevealSignature::read(reader)?),
            TYPE_SIGNATURE => MessageBody::Signature(Signature::read(reader)?),
            TYPE_DATA => MessageBody::Data(DataMessage::read(reader)?),
            other => return Err(DecodeError::UnknownMessageType(other)),
        };
        Ok(Self { header, body })
    }
}

fn read_fixed_data<const N: usize>(
    reader: &mut Reader<'_>,
    field: &'static str,
) -> Result<[u8; N], DecodeError> {
    let bytes = reader.take_length_prefixed()?;
    <[u8; N]>::try_from(bytes).map_err(|_| DecodeError::BadFieldLength {
        field,
        expected: N,
        actual: bytes.len(),
    })
}

/// DH-Commit: Bob commits to g^x by sending it encrypted under a fresh key r, plus its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhCommit {
    /// AES-128-CTR (zero counter) encryption of MPI(g^x) under r.
    pub encrypted_gx: Data,
    /// SHA-256 of MPI(g^x).
    pub hashed_gx: [u8; 32],
}

impl Codec for DhCommit {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encrypted_gx.encode(out);
        encode_data(&self.hashed_gx, out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let encrypted_gx = Data::read(reader)?;
        let hashed_gx = read_fixed_data::<32>(reader, "hashed g^x")?;
        Ok(Self {
            encrypted_gx,
            hashed_gx,
        })
    }
}

/// DH-Key: Alice's g^y.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhKey {
    /// g^y.
    pub gy: Mpi,
}

impl Codec for DhKey {
    fn encode(&self, out: &mut Vec<u8>) {
        self.gy.encode(out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            gy: Mpi::read(reader)?,
        })
    }
}

/// Reveal-Signature: Bob reveals r and sends his encrypted, MACed authenticator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevealSignature {
    /// The AES key r that opens the DH-Commit.
    pub revealed_key: [u8; 16],
    /// AES-128-CTR encryption of X_B under c.
    pub encrypted_signature: Data,
    /// First 160 bits of HMAC-SHA256 under m2 over the encrypted-signature DATA field.
    pub mac: Mac,
}

impl Codec for RevealSignature {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_data(&self.revealed_key, out);
        self.encrypted_signature.encode(out);
        self.mac.encode(out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            revealed_key: read_fixed_data::<16>(reader, "revealed key")?,
            encrypted_signature: Data::read(reader)?,
            mac: Mac::read(reader)?,
        })
    }
}

/// Signature: Alice's encrypted, MACed authenticator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// AES-128-CTR encryption of X_A under c'.
    pub encrypted_signature: Data,
    /// First 160 bits of HMAC-SHA256 under m2' over the encrypted-signature DATA field.
    pub mac: Mac,
}

impl Codec for Signature {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encrypted_signature.encode(out);
        self.mac.encode(out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            encrypted_signature: Data::read(reader)?,
            mac: Mac::read(reader)?,
        })
    }
}

/// A Data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataMessage {
    /// Flags ([`FLAG_IGNORE_UNREADABLE`]).
    pub flags: u8,
    /// The sender's key id of the DH key used.
    pub sender_keyid: u32,
    /// The recipient's key id of the DH key used.
    pub recipient_keyid: u32,
    /// The sender's next DH public value.
    pub next_dh: Mpi,
    /// Top half of the AES-CTR counter.
    pub ctr: Ctr,
    /// The AES-128-CTR ciphertext.
    pub encrypted_message: Data,
    /// HMAC-SHA1 over the header through the ciphertext.
    pub mac: Mac,
    /// Concatenated 20-byte MAC keys being revealed.
    pub old_mac_keys: Data,
}

impl DataMessage {
    /// The bytes the MAC covers: header (with instance tags), type, flags, key ids,
    /// next DH, CTR and the encrypted-message DATA field.
    pub fn authenticated_bytes(&self, header: &Header) -> Vec<u8> {
        let mut out = Vec::new();
        header.encode_with_type(TYPE_DATA, &mut out);
        self.encode_authenticated_body(&mut out);
        out
    }

    fn encode_authenticated_body(&self, out: &mut Vec<u8>) {
        self.flags.encode(out);
        self.sender_keyid.encode(out);
        self.recipient_keyid.encode(out);
        self.next_dh.encode(out);
        self.ctr.encode(out);
        self.encrypted_message.encode(out);
    }
}

impl Codec for DataMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_authenticated_body(out);
        self.mac.encode(out);
        self.old_mac_keys.encode(out);
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            flags: u8::read(reader)?,
            sender_keyid: u32::read(reader)?,
            recipient_keyid: u32::read(reader)?,
            next_dh: Mpi::read(reader)?,
            ctr: Ctr::read(reader)?,
            encrypted_message: Data::read(reader)?,
            mac: Mac::read(reader)?,
            old_mac_keys: Data::read(reader)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(v: u32) -> InstanceTag {
        InstanceTag::new(v).unwrap()
    }

    fn commit() -> DhCommit {
        DhCommit {
            encrypted_gx: Data(vec![0xaa; 5]),
            hashed_gx: [0x11; 32],
        }
    }

    #[test]
    fn v3_commit_layout() {
        let msg = EncodedMessage {
            header: Header::V3 {
                sender: tag(0x0000_0101),
                receiver: InstanceTag::UNKNOWN,
            },
            body: MessageBody::DhCommit(commit()),
        };
        let bytes = msg.to_bytes();
        let mut expected = vec![0, 3, 2, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 5];
        expected.extend_from_slice(&[0xaa; 5]);
        expected.extend_from_slice(&[0, 0, 0, 32]);
        expected.extend_from_slice(&[0x11; 32]);
        assert_eq!(bytes, expected);
        assert_eq!(EncodedMessage::decode(&bytes), Ok(msg));
    }

    #[test]
    fn v2_header_has_no_tags() {
        let msg = EncodedMessage {
            header: Header::V2,
            body: MessageBody::DhKey(DhKey {
                gy: Mpi::from_be_bytes(&[7, 8]),
            }),
        };
        let bytes = msg.to_bytes();
        assert_eq!(bytes, [0, 2, 0x0a, 0, 0, 0, 2, 7, 8]);
        assert_eq!(EncodedMessage::decode(&bytes), Ok(msg));
    }

    #[test]
    fn every_type_round_trips_and_rejects_truncation_and_trailing_bytes() {
        let header = Header::V3 {
            sender: tag(0x1234_5678),
            receiver: tag(0xffff_ffff),
        };
        let bodies = [
            MessageBody::DhCommit(commit()),
            MessageBody::DhKey(DhKey {
                gy: Mpi::from_be_bytes(&[1; 192]),
            }),
            MessageBody::RevealSignature(RevealSignature {
                revealed_key: [3; 16],
                encrypted_signature: Data(vec![4; 60]),
                mac: Mac([5; 20]),
            }),
            MessageBody::Signature(Signature {
                encrypted_signature: Data(vec![6; 60]),
                mac: Mac([7; 20]),
            }),
            MessageBody::Data(DataMessage {
                flags: FLAG_IGNORE_UNREADABLE,
                sender_keyid: 1,
                recipient_keyid: 2,
                next_dh: Mpi::from_be_bytes(&[9; 192]),
                ctr: Ctr([0, 0, 0, 0, 0, 0, 0, 1]),
                encrypted_message: Data(b"hello".to_vec()),
                mac: Mac([8; 20]),
                old_mac_keys: Data(vec![]),
            }),
        ];
        for body in bodies {
            for header in [header, Header::V2] {
                let msg = EncodedMessage {
                    header,
                    body: body.clone(),
                };
                let bytes = msg.to_bytes();
                assert_eq!(EncodedMessage::decode(&bytes), Ok(msg.clone()));
                for cut in 0..bytes.len() {
                    assert!(
                        EncodedMessage::decode(&bytes[..cut]).is_err(),
                        "truncated at {cut} decoded"
                    );
                }
                let mut longer = bytes.clone();
                longer.push(0);
                assert_eq!(
                    EncodedMessage::decode(&longer),
                    Err(DecodeError::TrailingBytes { count: 1 })
                );
            }
        }
    }

    #[test]
    fn invalid_headers_are_rejected() {
        assert_eq!(
            EncodedMessage::decode(&[0, 1, 2]),
            Err(DecodeError::UnsupportedVersion(1))
        );
        assert_eq!(
            EncodedMessage::decode(&[0, 2, 0x42]),
            Err(DecodeError::UnknownMessageType(0x42))
        );
        // Sender tag below 0x100.
        assert_eq!(
            EncodedMessage::decode(&[0, 3, 0x0a, 0, 0, 0, 0xff, 0, 0, 0, 0]),
            Err(DecodeError::InvalidInstanceTag(0xff))
        );
        // Reserved receiver tag.
        assert_eq!(
            EncodedMessage::decode(&[0, 3, 0x0a, 0, 0, 1, 0, 0, 0, 0, 1]),
            Err(DecodeError::InvalidInstanceTag(1))
        );
    }

    #[test]
    fn fixed_length_data_fields_are_enforced() {
        // hashed g^x of 31 bytes.
        let mut bytes = vec![0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 31];
        bytes.extend_from_slice(&[0; 31]);
        assert_eq!(
            EncodedMessage::decode(&bytes),
            Err(DecodeError::BadFieldLength {
                field: "hashed g^x",
                expected: 32,
                actual: 31
            })
        );
        // revealed key of 15 bytes.
        let mut bytes = vec![0, 2, 0x11, 0, 0, 0, 15];
        bytes.extend_from_slice(&[0; 15]);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 20]);
        assert!(matches!(
            EncodedMessage::decode(&bytes),
            Err(DecodeError::BadFieldLength { expected: 16, .. })
        ));
    }

    #[test]
    fn data_mac_covers_header_tags_and_flags() {
        let m = DataMessage {
            flags: 0,
            sender_keyid: 1,
            recipient_keyid: 1,
            next_dh: Mpi::from_be_bytes(&[2]),
            ctr: Ctr([0; 8]),
            encrypted_message: Data(vec![1, 2, 3]),
            mac: Mac([0; 20]),
            old_mac_keys: Data(vec![0xee; 20]),
        };
        let h = Header::V3 {
            sender: tag(0x100),
            receiver: tag(0x200),
        };
        let auth = m.authenticated_bytes(&h);
        let full = EncodedMessage {
            header: h,
            body: MessageBody::Data(m.clone()),
        }
        .to_bytes();
        assert!(full.starts_with(&auth));
        assert_eq!(full.len(), auth.len() + 20 + 4 + 20);
        assert_eq!(&auth[..11], [0, 3, 3, 0, 0, 1, 0, 0, 0, 2, 0]);
        let mut flagged = m;
        flagged.flags = 1;
        assert_ne!(flagged.authenticated_bytes(&h), auth);
    }
}
