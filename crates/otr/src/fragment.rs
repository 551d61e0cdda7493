//! Fragmentation: splitting long OTR messages for transports with a size limit, and
//! reassembling received fragments the way libotr 4.1.1 does.
//!
//! | version | format (as sent, zero-padded like libotr) | header bytes |
//! |---|---|---|
//! | v3 | `?OTR\|%08x\|%08x,%05hu,%05hu,<piece>,` (sender, receiver, k, n) | 36 |
//! | v2 | `?OTR,%05hu,%05hu,<piece>,` | 18 |
//!
//! **Sending** ([`fragment`]): the piece size is `max_message_size − 37` (v3) or `− 19`
//! (v2), libotr's constants (they count the C string's NUL), so our fragments are
//! byte-identical to libotr's for the same input and size. Only encoded `?OTR:` messages
//! are fragmented; at most 65535 pieces.
//!
//! **Receiving** ([`Reassembler`]), libotr's `otrl_proto_fragment_accumulate`:
//!
//! | fragment | effect |
//! |---|---|
//! | `k == 1` | start a new message (a partial one is dropped) |
//! | `k == K + 1` and `n == N` (K, N of the partial message) | append |
//! | anything else (gap, repeat, other n, no partial message) | drop the partial message and this fragment |
//! | `k == n` after appending | complete: the text is handled as a message of its own |
//!
//! So out-of-order or interleaved fragments are lost, as with libotr. A non-fragment
//! message also drops the partial one (the session calls [`Reassembler::clear`]).
//! `k > n`, `k == 0`, `n == 0` and empty pieces are malformed (rejected by
//! [`crate::wire::text::Fragment::decode`]). v3 fragments addressed to another instance
//! of ours are ignored. The assembled text is capped at [`MAX_REASSEMBLED`] bytes
//! (CVE-2016-2851 was an overflow in this code in libotr).

use crate::error::{DecodeError, Error, UsageError};
use crate::wire::message::{Header, InstanceTag};
use crate::wire::text::Fragment;

/// The largest reassembled message accepted (1 MiB; honest OTR messages over XMPP are a
/// few kB).
pub const MAX_REASSEMBLED: usize = 1 << 20;

/// libotr's per-fragment overhead for v3 (`?OTR|%08x|%08x,%05hu,%05hu,` + `,` + NUL).
pub const V3_OVERHEAD: usize = 37;
/// libotr's per-fragment overhead for v2 (`?OTR,%05hu,%05hu,` + `,` + NUL).
pub const V2_OVERHEAD: usize = 19;

/// Split an encoded message `text` into fragments of at most `max_message_size` bytes,
/// in the format of `header`'s version. A text that already fits is returned as is.
pub fn fragment(
    text: &str,
    header: &Header,
    max_message_size: usize,
) -> Result<Vec<String>, Error> {
    if text.len() <= max_message_size {
        return Ok(vec![text.to_owned()]);
    }
    let (overhead, instances) = match *header {
        Header::V2 => (V2_OVERHEAD, None),
        Header::V3 { sender, receiver } => (V3_OVERHEAD, Some((sender, receiver))),
    };
    let piece_len = max_message_size
        .checked_sub(overhead)
        .filter(|l| *l > 0)
        .ok_or(UsageError::WrongState(
            "max_message_size too small for fragments",
        ))?;
    let count = text.len().div_ceil(piece_len);
    let n = u16::try_from(count).map_err(|_| UsageError::WrongState("too many fragments"))?;
    // Encoded messages are ASCII, so byte chunks are character chunks.
    if !text.is_ascii() {
        return Err(UsageError::WrongState("only encoded OTR messages are fragmented").into());
    }
    let mut out = Vec::with_capacity(count);
    for (i, chunk) in text.as_bytes().chunks(piece_len).enumerate() {
        let k = u16::try_from(i + 1).map_err(|_| UsageError::WrongState("too many fragments"))?;
        let piece = core::str::from_utf8(chunk)
            .map_err(|_| UsageError::WrongState("only encoded OTR messages are fragmented"))?;
        out.push(
            Fragment {
                instances,
                k,
                n,
                piece: piece.to_owned(),
            }
            .to_text(),
        );
    }
    Ok(out)
}

/// What one received fragment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reassembly {
    /// The message is complete.
    Complete(String),
    /// Waiting for more fragments (or the fragment was dropped by the ordering rules).
    Incomplete,
    /// A v3 fragment for another instance of ours: ignored.
    OtherInstance,
    /// The fragment was rejected (the partial message is dropped too).
    Rejected(DecodeError),
}

struct Partial {
    instances: Option<(InstanceTag, InstanceTag)>,
    k: u16,
    n: u16,
    text: String,
}

/// One message being reassembled (libotr keeps one per context).
#[derive(Default)]
pub struct Reassembler {
    partial: Option<Partial>,
}

impl core::fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.partial {
            Some(p) => write!(f, "Reassembler({}/{}, {} bytes)", p.k, p.n, p.text.len()),
            None => f.write_str("Reassembler(idle)"),
        }
    }
}

impl Reassembler {
    /// Drop any partial message.
    pub fn clear(&mut self) {
        self.partial = None;
    }

    /// Whether a message is partially assembled.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Add one received fragment. `our_instance` is checked against a v3 receiver tag.
    pub fn accumulate(&mut self, fragment: &Fragment, our_instance: InstanceTag) -> Reassembly {
        if let Some((_, receiver)) = fragment.instances {
            if receiver.is_known() && receiver != our_instance {
                return Reassembly::OtherInstance;
            }
        }
        if fragment.k == 0 || fragment.k > fragment.n || fragment.piece.is_empty() {
            self.partial = None;
            return Reassembly::Rejected(DecodeError::MalformedFragment);
        }
        if fragment.k == 1 {
            self.partial = Some(Partial {
                instances: fragment.instances,
                k: 1,
                n: fragment.n,
                text: String::new(),
            });
        } else {
            let continues = self.partial.as_ref().is_some_and(|p| {
                p.n == fragment.n
                    && p.k.checked_add(1) == Some(fragment.k)
                    && p.instances.map(|(s, _)| s) == fragment.instances.map(|(s, _)| s)
            });
            if !continues {
                self.partial = None;
                return Reassembly::Incomplete;
            }
        }
        let Some(partial) = self.partial.as_mut() else {
            return Reassembly::Incomplete;
        };
        if partial.text.len().saturating_add(fragment.piece.len()) > MAX_REASSEMBLED {
            self.partial = None;
            return Reassembly::Rejected(DecodeError::TooLarge);
        }
        partial.text.push_str(&fragment.piece);
        partial.k = fragment.k;
        if partial.k == partial.n {
            let done = self.partial.take().map(|p| p.text).unwrap_or_default();
            return Reassembly::Complete(done);
        }
        Reassembly::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::text::TextMessage;

    fn tag(v: u32) -> InstanceTag {
        InstanceTag::new(v).unwrap()
    }

    fn parse(text: &str) -> Fragment {
        match TextMessage::parse(text).unwrap() {
            TextMessage::Fragment(f) => f,
            other => panic!("not a fragment: {other:?}"),
        }
    }

    #[test]
    fn split_matches_libotr_sizes_and_round_trips() {
        let text = format!("?OTR:{}.", "A".repeat(300));
        let header = Header::V3 {
            sender: tag(0x1234),
            receiver: tag(0xabcd_ef01),
        };
        let pieces = fragment(&text, &header, 100).unwrap();
        // piece = 100 - 37 = 63 bytes: ceil(306 / 63) = 5 fragments, each <= 100 bytes.
        assert_eq!(pieces.len(), 5);
        assert!(pieces.iter().all(|p| p.len() <= 100));
        assert!(pieces[0].starts_with("?OTR|00001234|abcdef01,00001,00005,?OTR:AAA"));
        assert_eq!(pieces[0].len(), 99);
        let mut r = Reassembler::default();
        let mut done = None;
        for p in &pieces {
            if let Reassembly::Complete(t) = r.accumulate(&parse(p), tag(0xabcd_ef01)) {
                done = Some(t);
            }
        }
        assert_eq!(done.unwrap(), text);
        let v2 = fragment(&text, &Header::V2, 50).unwrap();
        assert_eq!(v2.len(), 306usize.div_ceil(31));
        assert!(v2[0].starts_with("?OTR,00001,00010,"));
        assert!(fragment(&text, &Header::V2, 19).is_err());
        assert_eq!(
            fragment("?OTR:AA.", &Header::V2, 100).unwrap(),
            ["?OTR:AA."]
        );
    }

    #[test]
    fn libotr_reassembly_rules() {
        let ours = tag(0x100);
        let mut r = Reassembler::default();
        // Unpadded numbers are accepted too.
        assert_eq!(
            r.accumulate(&parse("?OTR,1,3,ab,"), ours),
            Reassembly::Incomplete
        );
        // A gap drops everything.
        assert_eq!(
            r.accumulate(&parse("?OTR,3,3,ef,"), ours),
            Reassembly::Incomplete
        );
        assert!(!r.in_progress());
        // Interleaving: a new k = 1 restarts.
        r.accumulate(&parse("?OTR,1,2,xx,"), ours);
        r.accumulate(&parse("?OTR,1,3,ab,"), ours);
        r.accumulate(&parse("?OTR,2,3,cd,"), ours);
        assert_eq!(
            r.accumulate(&parse("?OTR,3,3,ef,"), ours),
            Reassembly::Complete("abcdef".into())
        );
        // A different n mid-way drops it; a repeated k drops it.
        r.accumulate(&parse("?OTR,1,3,ab,"), ours);
        assert_eq!(
            r.accumulate(&parse("?OTR,2,4,cd,"), ours),
            Reassembly::Incomplete
        );
        assert!(!r.in_progress());
        r.accumulate(&parse("?OTR,1,3,ab,"), ours);
        r.accumulate(&parse("?OTR,1,3,ab,"), ours);
        assert!(r.in_progress());
        r.accumulate(&parse("?OTR,2,3,ab,"), ours);
        assert_eq!(
            r.accumulate(&parse("?OTR,2,3,ab,"), ours),
            Reassembly::Incomplete
        );
        assert!(!r.in_progress());
        // 1 of 1 is complete at once; huge n just waits.
        assert_eq!(
            r.accumulate(&parse("?OTR,00001,00001,z,"), ours),
            Reassembly::Complete("z".into())
        );
        assert_eq!(
            r.accumulate(&parse("?OTR,1,65535,z,"), ours),
            Reassembly::Incomplete
        );
        // v3: another receiver is ignored; receiver 0 is fine; sender change drops.
        assert_eq!(
            r.accumulate(&parse("?OTR|101|200,1,2,a,"), ours),
            Reassembly::OtherInstance
        );
        assert_eq!(
            r.accumulate(&parse("?OTR|101|0,1,2,a,"), ours),
            Reassembly::Incomplete
        );
        assert_eq!(
            r.accumulate(&parse("?OTR|102|100,2,2,b,"), ours),
            Reassembly::Incomplete
        );
        assert!(!r.in_progress());
    }

    #[test]
    fn hostile_headers_are_rejected_by_the_parser() {
        for bad in [
            "?OTR,0,1,a,",
            "?OTR,2,1,a,",
            "?OTR,1,0,a,",
            "?OTR,1,65536,a,",
            "?OTR,1,2,,",
            "?OTR,1,2,a",
            "?OTR,-1,2,a,",
            "?OTR|ff|100,1,2,a,",
            "?OTR|100|ff,1,2,a,",
            "?OTR|1000000000|100,1,2,a,",
        ] {
            assert!(TextMessage::parse(bad).is_err(), "{bad}");
        }
        // A fragment built by hand with k > n is rejected without panicking.
        let mut r = Reassembler::default();
        let f = Fragment {
            instances: None,
            k: 5,
            n: 2,
            piece: "a".into(),
        };
        assert_eq!(
            r.accumulate(&f, tag(0x100)),
            Reassembly::Rejected(DecodeError::MalformedFragment)
        );
    }

    #[test]
    fn reassembled_size_is_bounded() {
        let mut r = Reassembler::default();
        let big = "A".repeat(60_000);
        let ours = tag(0x100);
        let mut last = Reassembly::Incomplete;
        for k in 1..=20u16 {
            last = r.accumulate(
                &Fragment {
                    instances: None,
                    k,
                    n: 20,
                    piece: big.clone(),
                },
                ours,
            );
            if last != Reassembly::Incomplete {
                break;
            }
        }
        assert_eq!(last, Reassembly::Rejected(DecodeError::TooLarge));
        assert!(!r.in_progress());
    }
}
