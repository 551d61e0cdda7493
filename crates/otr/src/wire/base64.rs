//! Base64 as OTR uses it: strict one-line padded output, lenient input.
//!
//! The encoder writes the standard alphabet with `=` padding on one line (libotr reads the
//! v3 instance tags from fixed character positions, so wrapping would break it). The
//! decoder follows libotr's `otrl_base64_decode`: characters outside the alphabet
//! (whitespace, line breaks) are skipped and decoding stops at the first `=`. Unlike
//! libotr it rejects a dangling single sextet, which no encoder produces.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encode `bytes` as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextets = [n >> 18, n >> 12, n >> 6, n];
        let keep = chunk.len() + 1;
        for (i, s) in sextets.iter().enumerate() {
            if i < keep {
                out.push(char::from(sym(*s)));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sym(sextet: u32) -> u8 {
    // The index is masked to 0..64, so the lookup always succeeds.
    ALPHABET
        .get((sextet & 0x3f) as usize)
        .copied()
        .unwrap_or(b'A')
}

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decode leniently: skip non-alphabet characters, stop at the first `=`.
///
/// Returns `None` if the number of sextets leaves a dangling 6 bits (length ≡ 1 mod 4).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut count = 0u8;
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            count = 0;
        }
    }
    match count {
        0 => {}
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    const RFC4648: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, encoded) in RFC4648 {
            assert_eq!(encode(plain.as_bytes()), *encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn decoding_is_lenient_like_libotr() {
        assert_eq!(decode("Zm9v\r\nYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(decode(" Zm 9v ").as_deref(), Some(&b"foo"[..]));
        // Stops at the first '='.
        assert_eq!(decode("Zg==Zm9v").as_deref(), Some(&b"f"[..]));
        // Unpadded input is fine.
        assert_eq!(decode("Zm8").as_deref(), Some(&b"fo"[..]));
    }

    #[test]
    fn dangling_sextet_is_rejected() {
        assert_eq!(decode("Zm9vY"), None);
    }

    #[test]
    fn all_byte_values_round_trip() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for len in 0..bytes.len() {
            let slice = &bytes[..len];
            assert_eq!(decode(&encode(slice)).as_deref(), Some(slice));
        }
    }
}
