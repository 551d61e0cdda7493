//! The plaintext inside a Data message: human-readable text, optionally followed by a NUL
//! byte and type-length-value records (TLVs).
//!
//! | field | encoding |
//! |---|---|
//! | message | UTF-8 (libpurple peers put HTML here), no NUL |
//! | separator | `0x00`, present when TLVs follow; libotr always writes it |
//! | each TLV | SHORT type, SHORT length, `length` bytes of value |
//!
//! Parsing follows libotr's `otrl_tlv_parse`: it stops silently at the first truncated
//! TLV. An empty message part is a heartbeat and is not shown to the user.
//! What each TLV type means (disconnect, SMP, extra symmetric key) is not handled here yet.

use crate::wire::Codec;

/// TLV type 0: padding.
pub const TLV_PADDING: u16 = 0;
/// TLV type 1: the sender has ended the private conversation.
pub const TLV_DISCONNECTED: u16 = 1;
/// TLV type 8: use the extra symmetric key (v3).
pub const TLV_EXTRA_SYMMETRIC_KEY: u16 = 8;

/// One TLV record.
#[derive(Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The type.
    pub tlv_type: u16,
    /// The value (at most 65535 bytes on the wire).
    pub value: Vec<u8>,
}

impl core::fmt::Debug for Tlv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tlv(type {}, {} bytes)", self.tlv_type, self.value.len())
    }
}

/// A decrypted Data message payload, split into its parts.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Plaintext {
    /// The human-readable part (bytes before the first NUL), possibly empty.
    pub message: Vec<u8>,
    /// The TLVs after the NUL.
    pub tlvs: Vec<Tlv>,
}

impl core::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plaintext")
            .field("message_len", &self.message.len())
            .field("tlvs", &self.tlvs)
            .finish()
    }
}

impl Plaintext {
    /// Split a decrypted payload.
    pub fn parse(bytes: &[u8]) -> Self {
        let (message, rest) = match bytes.iter().position(|b| *b == 0) {
            Some(nul) => (
                bytes.get(..nul).unwrap_or_default(),
                bytes.get(nul + 1..).unwrap_or_default(),
            ),
            None => (bytes, &[][..]),
        };
        let mut tlvs = Vec::new();
        let mut reader = crate::wire::Reader::new(rest);
        while reader.remaining() >= 4 {
            let (Ok(tlv_type), Ok(len)) = (u16::read(&mut reader), u16::read(&mut reader)) else {
                break;
            };
            let Ok(value) = reader.take(usize::from(len)) else {
                break;
            };
            tlvs.push(Tlv {
                tlv_type,
                value: value.to_vec(),
            });
        }
        Self {
            message: message.to_vec(),
            tlvs,
        }
    }

    /// Whether this is a heartbeat (nothing to show).
    pub fn is_heartbeat(&self) -> bool {
        self.message.is_empty()
    }

    /// Encode as libotr does: message, NUL, TLVs. TLV values longer than 65535 bytes are
    /// truncated to fit their 16-bit length.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.message.clone();
        out.push(0);
        for tlv in &self.tlvs {
            let len = tlv.value.len().min(usize::from(u16::MAX));
            tlv.tlv_type.encode(&mut out);
            (len as u16).encode(&mut out);
            out.extend_from_slice(tlv.value.get(..len).unwrap_or_default());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_and_without_nul() {
        assert_eq!(Plaintext::parse(b"hi").message, b"hi");
        assert!(Plaintext::parse(b"hi").tlvs.is_empty());
        assert_eq!(Plaintext::parse(b"hi\0").message, b"hi");
        assert!(Plaintext::parse(b"").is_heartbeat());
        assert!(Plaintext::parse(b"\0\0\x01\0\0").is_heartbeat());
    }

    #[test]
    fn tlvs_round_trip_and_truncation_stops_parsing() {
        let p = Plaintext {
            message: b"hello".to_vec(),
            tlvs: vec![
                Tlv {
                    tlv_type: TLV_PADDING,
                    value: vec![0; 3],
                },
                Tlv {
                    tlv_type: TLV_DISCONNECTED,
                    value: vec![],
                },
            ],
        };
        let bytes = p.encode();
        assert_eq!(&bytes[..6], b"hello\0");
        assert_eq!(&bytes[6..], [0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(Plaintext::parse(&bytes), p);
        // A truncated last TLV is dropped silently (libotr otrl_tlv_parse).
        let cut = Plaintext::parse(&bytes[..bytes.len() - 1]);
        assert_eq!(cut.tlvs.len(), 1);
        let cut = Plaintext::parse(&bytes[..9]);
        assert!(cut.tlvs.is_empty());
    }
}
