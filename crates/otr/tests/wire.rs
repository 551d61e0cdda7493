//! Decoders never panic and are consistent: pseudo-random and mutated inputs (a cheap
//! stand-in until the cargo-fuzz targets exist).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use candado_otr::tlv::Plaintext;
use candado_otr::wire::message::{EncodedMessage, Version};
use candado_otr::wire::text::{encode_message, Fragment, TextMessage};
use candado_otr::wire::Codec;
use common::{established, TestRng};
use rand_core::Rng;

fn valid_messages() -> Vec<EncodedMessage> {
    use candado_otr::ake::Ake;
    use candado_otr::wire::message::InstanceTag;
    let mut rng = TestRng::new(1);
    let (alice_key, bob_key) = common::keys();
    let mut out = Vec::new();
    for version in [Version::V3, Version::V2] {
        let mut a = Ake::new(alice_key.clone(), common::tag(0x100), InstanceTag::UNKNOWN);
        let mut b = Ake::new(bob_key.clone(), common::tag(0x200), InstanceTag::UNKNOWN);
        b.initiate(version, &mut rng);
        let mut to_a = true;
        loop {
            let (from, to) = if to_a {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            let Some(m) = from.poll_transmit() else { break };
            to.handle_message(&m, &mut rng).unwrap();
            out.push(m);
            to_a = !to_a;
        }
    }
    let (x, _) = established(Version::V3, &mut rng);
    let mut ch = candado_otr::data::DataChannel::new(x, common::tag(0x300), &mut rng).unwrap();
    out.push(ch.encrypt(b"hello\0", 0).unwrap().0);
    out
}

#[test]
fn mutated_binary_messages_never_panic_and_round_trip_when_accepted() {
    let mut rng = TestRng::new(2);
    for msg in valid_messages() {
        let bytes = msg.to_bytes();
        for _ in 0..300 {
            let mut b = bytes.clone();
            match rng.next_u32() % 4 {
                0 => {
                    let i = rng.next_u32() as usize % b.len();
                    b[i] = rng.next_u32() as u8;
                }
                1 => b.truncate(rng.next_u32() as usize % b.len()),
                2 => b.push(rng.next_u32() as u8),
                _ => {
                    // Overwrite a 4-byte window with a large length.
                    let i = rng.next_u32() as usize % b.len().saturating_sub(4).max(1);
                    for (k, v) in [0x7f, 0xff, 0xff, 0xff].iter().enumerate() {
                        if let Some(x) = b.get_mut(i + k) {
                            *x = *v;
                        }
                    }
                }
            }
            if let Ok(decoded) = EncodedMessage::decode(&b) {
                let again = EncodedMessage::decode(&decoded.to_bytes()).unwrap();
                assert_eq!(again, decoded);
            }
        }
    }
}

#[test]
fn random_bytes_and_text_never_panic() {
    let mut rng = TestRng::new(3);
    let alphabet = b"?OTR:|,.0123456789abcdefAMIKCDRS \t\n=+/vError";
    for len in 0..400 {
        let mut buf = vec![0u8; len % 97];
        rng.fill_bytes(&mut buf);
        let _ = EncodedMessage::decode(&buf);
        let _ = Plaintext::parse(&buf);
        let text: String = (0..len % 61)
            .map(|_| alphabet[rng.next_u32() as usize % alphabet.len()] as char)
            .collect();
        for candidate in [
            text.clone(),
            format!("?OTR{text}"),
            format!("?OTR|{text}"),
            format!("?OTR,{text}"),
        ] {
            if let Ok(TextMessage::Fragment(f)) = TextMessage::parse(&candidate) {
                // A parsed fragment re-serialises to an equivalent fragment.
                assert_eq!(Fragment::decode(&f.to_text()), Ok(f));
            }
        }
    }
}

#[test]
fn encoded_text_survives_line_wrapping_in_the_payload() {
    for msg in valid_messages() {
        let text = encode_message(&msg);
        // Wrap after the instance-tag prefix, as some transports do.
        let (head, tail) = text.split_at(30);
        let wrapped: String = tail
            .as_bytes()
            .chunks(50)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            TextMessage::parse(&format!("{head}{wrapped}")),
            Ok(TextMessage::Encoded(msg))
        );
    }
}
