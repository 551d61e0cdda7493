//! libotr's private key file (`otr.private_key`): read and write.
//!
//! libotr keeps every account's long-term DSA key in one file of libgcrypt
//! S-expressions:
//!
//! ```text
//! (privkeys
//!  (account
//! (name "alice@example.org")
//! (protocol prpl-jabber)
//! (private-key
//!  (dsa
//!   (p #00FC07...#)
//!   (q #00DB5B...#)
//!   (g #...#)
//!   (y #...#)
//!   (x #...#)
//!   )
//!  )
//!  )
//! )
//! ```
//!
//! [`write_private_keys`] produces exactly the bytes libotr 4.1 writes for the same keys
//! (libgcrypt's "advanced" S-expression format, including its choice between tokens,
//! quoted strings and `#hex#`, and its indentation), so a file can move between Candado
//! and Pidgin, Profanity or any other libotr client. [`read_private_keys`] accepts what
//! libgcrypt's parser accepts for such files: tokens, quoted strings with escapes,
//! `#hex#`, `|base64|` and `N:verbatim` atoms, and any whitespace.
//!
//! Values are checked: the OTR sizes (1024-bit p, 160-bit q), 0 < x < q, and that the
//! file's y equals g^x mod p. Nothing here panics on input.
//!
//! The file holds secret keys: the returned text is [`Zeroizing`], and so are the
//! secret bytes while parsing.

use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::dsa::DsaPrivateKey;
use crate::wire::base64;

/// One account's key as stored in the file.
#[derive(Debug)]
pub struct PrivateKeyEntry {
    /// The account name (libotr's `accountname`, e.g. `alice@example.org`).
    pub account: String,
    /// The protocol name (e.g. `prpl-jabber` for Pidgin, `xmpp` for Profanity).
    pub protocol: String,
    /// The key.
    pub key: DsaPrivateKey,
}

/// Why a key file could not be read. Never contains secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Not a well-formed S-expression; `offset` is the byte where parsing failed.
    Syntax {
        /// Byte offset into the file.
        offset: usize,
    },
    /// Well-formed, but not a libotr key file.
    Structure(&'static str),
    /// An account or protocol name is not UTF-8.
    NotUtf8,
    /// The DSA values of this account are not a valid OTR key.
    InvalidKey {
        /// The account.
        account: String,
        /// The protocol.
        protocol: String,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Syntax { offset } => {
                write!(f, "private key file: syntax error at byte {offset}")
            }
            KeyFileError::Structure(what) => write!(f, "private key file: {what}"),
            KeyFileError::NotUtf8 => f.write_str("private key file: a name is not UTF-8"),
            KeyFileError::InvalidKey { account, protocol } => write!(
                f,
                "private key file: invalid DSA key for {account} ({protocol})"
            ),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// An S-expression. Atoms are byte strings; secret atoms are wiped on drop.
enum Sexp {
    Atom(Zeroizing<Vec<u8>>),
    List(Vec<Sexp>),
}

impl Sexp {
    fn atom(bytes: &[u8]) -> Sexp {
        Sexp::Atom(Zeroizing::new(bytes.to_vec()))
    }

    fn as_atom(&self) -> Option<&[u8]> {
        match self {
            Sexp::Atom(a) => Some(a),
            Sexp::List(_) => None,
        }
    }

    /// For a list whose first element is an atom: that atom.
    fn head(&self) -> Option<&[u8]> {
        match self {
            Sexp::List(items) => items.first().and_then(Sexp::as_atom),
            Sexp::Atom(_) => None,
        }
    }

    /// The elements after the head.
    fn tail(&self) -> &[Sexp] {
        match self {
            Sexp::List(items) => items.get(1..).unwrap_or_default(),
            Sexp::Atom(_) => &[],
        }
    }

    /// The first sub-list of this list whose head is `name`.
    fn find(&self, name: &[u8]) -> Option<&Sexp> {
        self.tail().iter().find(|s| s.head() == Some(name))
    }

    /// The atom following `name` in the sub-list `(name atom)`.
    fn value(&self, name: &[u8]) -> Option<&[u8]> {
        self.find(name)?.tail().first()?.as_atom()
    }
}

// ---- reading ----

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

/// Characters allowed in a token besides letters and digits (libgcrypt's
/// `TOKEN_SPECIALS`).
const TOKEN_SPECIALS: &[u8] = b"-./_:*+=";

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || TOKEN_SPECIALS.contains(&c)
}

/// Nesting limit: libotr files are 4 deep; this only stops pathological input.
const MAX_DEPTH: usize = 32;

impl<'a> Parser<'a> {
    fn error<T>(&self) -> Result<T, KeyFileError> {
        Err(KeyFileError::Syntax { offset: self.pos })
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// One S-expression (a list) and nothing but whitespace after it.
    fn document(mut self) -> Result<Sexp, KeyFileError> {
        self.skip_space();
        if self.peek() != Some(b'(') {
            return self.error();
        }
        let sexp = self.expr(0)?;
        self.skip_space();
        // libgcrypt stops at the end of the first expression; a NUL terminator is fine.
        match self.peek() {
            None | Some(0) => Ok(sexp),
            Some(_) => self.error(),
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Sexp, KeyFileError> {
        self.skip_space();
        match self.peek() {
            Some(b'(') => {
                if depth >= MAX_DEPTH {
                    return self.error();
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Sexp::List(items));
                        }
                        Some(_) => items.push(self.expr(depth + 1)?),
                        None => return self.error(),
                    }
                }
            }
            Some(b'"') => self.quoted(),
            Some(b'#') => self.hex(),
            Some(b'|') => self.base64(),
            Some(c) if c.is_ascii_digit() => self.verbatim(),
            Some(c) if is_token_char(c) => {
                let start = self.pos;
                while self.peek().is_some_and(is_token_char) {
                    self.pos += 1;
                }
                Ok(Sexp::atom(
                    self.input.get(start..self.pos).unwrap_or_default(),
                ))
            }
            _ => self.error(),
        }
    }

    /// `N:bytes`.
    fn verbatim(&mut self) -> Result<Sexp, KeyFileError> {
        let mut len: usize = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            len = match len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(c - b'0')))
            {
                Some(l) => l,
                None => return self.error(),
            };
            self.pos += 1;
        }
        if self.peek() != Some(b':') {
            return self.error();
        }
        self.pos += 1;
        let end = match self.pos.checked_add(len) {
            Some(end) if end <= self.input.len() => end,
            _ => return self.error(),
        };
        let bytes = self.input.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(Sexp::atom(bytes))
    }

    /// `#hex#`, whitespace allowed between digits.
    fn hex(&mut self) -> Result<Sexp, KeyFileError> {
        self.pos += 1;
        let mut out = Zeroizing::new(Vec::new());
        let mut high: Option<u8> = None;
        loop {
            let Some(c) = self.peek() else {
                return self.error();
            };
            if c == b'#' {
                break;
            }
            if !c.is_ascii_whitespace() {
                let Some(v) = (c as char).to_digit(16) else {
                    return self.error();
                };
                // to_digit(16) is below 16.
                let v = v as u8;
                match high.take() {
                    Some(h) => out.push((h << 4) | v),
                    None => high = Some(v),
                }
            }
            self.pos += 1;
        }
        if high.is_some() {
            return self.error();
        }
        self.pos += 1;
        Ok(Sexp::Atom(out))
    }

    /// `|base64|`.
    fn base64(&mut self) -> Result<Sexp, KeyFileError> {
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c != b'|') {
            self.pos += 1;
        }
        if self.peek().is_none() {
            return self.error();
        }
        let text = self.input.get(start..self.pos).unwrap_or_default();
        let text =
            core::str::from_utf8(text).map_err(|_| KeyFileError::Syntax { offset: start })?;
        let bytes = base64::decode(text).ok_or(KeyFileError::Syntax { offset: start })?;
        self.pos += 1;
        Ok(Sexp::Atom(Zeroizing::new(bytes)))
    }

    /// `"string"` with libgcrypt's escapes.
    fn quoted(&mut self) -> Result<Sexp, KeyFileError> {
        self.pos += 1;
        let mut out = Zeroizing::new(Vec::new());
        loop {
            let Some(c) = self.peek() else {
                return self.error();
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(Sexp::Atom(out)),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return self.error();
                    };
                    self.pos += 1;
                    match e {
                        b'b' => out.push(0x08),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0b),
                        b'n' => out.push(b'\n'),
                        b'f' => out.push(0x0c),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\'' | b'\\' => out.push(e),
                        b'x' => {
                            let digits = self.input.get(self.pos..self.pos + 2);
                            let value = digits
                                .and_then(|d| core::str::from_utf8(d).ok())
                                .and_then(|d| u8::from_str_radix(d, 16).ok());
                            let Some(value) = value else {
                                return self.error();
                            };
                            out.push(value);
                            self.pos += 2;
                        }
                        b'0'..=b'7' => {
                            let digits = self.input.get(self.pos - 1..self.pos + 2);
                            let value = digits
                                .and_then(|d| core::str::from_utf8(d).ok())
                                .and_then(|d| u8::from_str_radix(d, 8).ok());
                            let Some(value) = value else {
                                return self.error();
                            };
                            out.push(value);
                            self.pos += 2;
                        }
                        // A line continuation: backslash, newline (optionally CR LF or LF CR).
                        b'\n' | b'\r' => {
                            let other = if e == b'\n' { b'\r' } else { b'\n' };
                            if self.peek() == Some(other) {
                                self.pos += 1;
                            }
                        }
                        _ => return self.error(),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, KeyFileError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| KeyFileError::NotUtf8)
}

fn account(sexp: &Sexp) -> Result<PrivateKeyEntry, KeyFileError> {
    let account = utf8(
        sexp.value(b"name")
            .ok_or(KeyFileError::Structure("account without a name"))?,
    )?;
    let protocol = utf8(
        sexp.value(b"protocol")
            .ok_or(KeyFileError::Structure("account without a protocol"))?,
    )?;
    let dsa = sexp
        .find(b"private-key")
        .ok_or(KeyFileError::Structure("account without a private-key"))?
        .find(b"dsa")
        .ok_or(KeyFileError::Structure("private-key is not a DSA key"))?;
    let invalid = || KeyFileError::InvalidKey {
        account: account.clone(),
        protocol: protocol.clone(),
    };
    let [p, q, g, y, x] = [b"p", b"q", b"g", b"y", b"x"].map(|n| dsa.value(n));
    let (Some(p), Some(q), Some(g), Some(y), Some(x)) = (p, q, g, y, x) else {
        return Err(invalid());
    };
    // libgcrypt stores MPIs in two's complement with a leading 00 when the top bit is
    // set; a leading 0x80 bit would be a negative number.
    if [p, q, g, y, x]
        .iter()
        .any(|v| v.first().is_some_and(|b| b & 0x80 != 0))
    {
        return Err(invalid());
    }
    let key = DsaPrivateKey::from_components(p, q, g, x).map_err(|_| invalid())?;
    if key.public_key().to_wire().y.as_be_bytes() != crate::wire::strip_leading_zeros(y) {
        return Err(invalid());
    }
    Ok(PrivateKeyEntry {
        account,
        protocol,
        key,
    })
}

/// Read a libotr private key file. Accounts come back in file order. Fails on the first
/// problem (libotr also refuses the whole file).
pub fn read_private_keys(file: &[u8]) -> Result<Vec<PrivateKeyEntry>, KeyFileError> {
    let root = Parser {
        input: file,
        pos: 0,
    }
    .document()?;
    if root.head() != Some(b"privkeys") {
        return Err(KeyFileError::Structure("not a (privkeys ...) file"));
    }
    root.tail()
        .iter()
        .filter(|s| s.head() == Some(b"account"))
        .map(account)
        .collect()
}

// ---- writing ----

/// libgcrypt's `suitable_encoding`: 0 hex, 1 quoted string, 2 token.
fn encoding(bytes: &[u8]) -> u8 {
    let Some(&first) = bytes.first() else {
        return 1;
    };
    if first & 0x80 != 0 || first == 0 {
        return 0;
    }
    let mut token = true;
    for &c in bytes {
        // libgcrypt tests the escapable set with strchr, which also matches NUL.
        let escapable = b"\x08\t\x0b\n\x0c\r\"'\\\0".contains(&c);
        if (c < 0x20 || (0x7f..=0xa0).contains(&c)) && !escapable {
            return 0;
        }
        if !c.is_ascii_alphanumeric() && !TOKEN_SPECIALS.contains(&c) {
            token = false;
        }
    }
    if token && !first.is_ascii_digit() {
        2
    } else {
        1
    }
}

fn write_atom(bytes: &[u8], out: &mut Vec<u8>) {
    match encoding(bytes) {
        2 => out.extend_from_slice(bytes),
        1 => {
            out.push(b'"');
            for &c in bytes {
                let escape = match c {
                    0x08 => Some(b'b'),
                    b'\t' => Some(b't'),
                    0x0b => Some(b'v'),
                    b'\n' => Some(b'n'),
                    0x0c => Some(b'f'),
                    b'\r' => Some(b'r'),
                    b'"' | b'\'' | b'\\' => Some(c),
                    _ => None,
                };
                match escape {
                    Some(e) => out.extend_from_slice(&[b'\\', e]),
                    None if c < 0x20 || (0x7f..=0xa0).contains(&c) => {
                        out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
                    }
                    None => out.push(c),
                }
            }
            out.push(b'"');
        }
        _ => {
            out.push(b'#');
            for &c in bytes {
                out.extend_from_slice(format!("{c:02X}").as_bytes());
            }
            out.push(b'#');
        }
    }
}

/// The tokens of an S-expression in order, as libgcrypt stores them internally.
enum Tok<'a> {
    Open,
    Close,
    Data(&'a [u8]),
}

fn flatten<'a>(sexp: &'a Sexp, out: &mut Vec<Tok<'a>>) {
    match sexp {
        Sexp::Atom(a) => out.push(Tok::Data(a)),
        Sexp::List(items) => {
            out.push(Tok::Open);
            for item in items {
                flatten(item, out);
            }
            out.push(Tok::Close);
        }
    }
}

/// libgcrypt's `gcry_sexp_sprint(.., GCRYSEXP_FMT_ADVANCED, ..)`.
fn sprint_advanced(sexp: &Sexp, out: &mut Vec<u8>) {
    let mut toks = Vec::new();
    flatten(sexp, &mut toks);
    let mut indent = 0usize;
    let newline = |indent: usize, out: &mut Vec<u8>| {
        out.push(b'\n');
        out.extend(core::iter::repeat_n(b' ', indent));
    };
    let mut iter = toks.iter().peekable();
    while let Some(tok) = iter.next() {
        let next = iter.peek();
        match tok {
            Tok::Open => {
                if indent > 0 {
                    newline(indent, out);
                }
                out.push(b'(');
                indent += 1;
            }
            Tok::Close => {
                out.push(b')');
                indent = indent.saturating_sub(1);
                if matches!(next, Some(Tok::Data(_)) | Some(Tok::Close)) {
                    newline(indent, out);
                }
            }
            Tok::Data(bytes) => {
                write_atom(bytes, out);
                if !matches!(next, Some(Tok::Close)) {
                    out.push(b' ');
                }
            }
        }
    }
    out.push(b'\n');
}

/// libgcrypt's MPI storage: big-endian, minimal, with a 00 byte in front when the top
/// bit is set (two's complement, as `gcry_sexp_build` with `%m` stores it).
fn mpi_atom(be: &[u8]) -> Sexp {
    let be = crate::wire::strip_leading_zeros(be);
    let mut v = Zeroizing::new(Vec::with_capacity(be.len() + 1));
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(be);
    Sexp::Atom(v)
}

fn pair(name: &[u8], value: Sexp) -> Sexp {
    Sexp::List(vec![Sexp::atom(name), value])
}

/// Write a libotr private key file with these accounts, byte-for-byte as libotr 4.1
/// writes it. The text contains secret keys.
pub fn write_private_keys(entries: &[PrivateKeyEntry]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(b"(privkeys\n".to_vec());
    for entry in entries {
        let wire = entry.key.public_key().to_wire();
        let x = entry.key.secret_bytes();
        let dsa = Sexp::List(vec![
            Sexp::atom(b"dsa"),
            pair(b"p", mpi_atom(wire.p.as_be_bytes())),
            pair(b"q", mpi_atom(wire.q.as_be_bytes())),
            pair(b"g", mpi_atom(wire.g.as_be_bytes())),
            pair(b"y", mpi_atom(wire.y.as_be_bytes())),
            pair(b"x", mpi_atom(&x)),
        ]);
        out.extend_from_slice(b" (account\n");
        sprint_advanced(
            &pair(b"name", Sexp::atom(entry.account.as_bytes())),
            &mut out,
        );
        sprint_advanced(
            &pair(b"protocol", Sexp::atom(entry.protocol.as_bytes())),
            &mut out,
        );
        sprint_advanced(&pair(b"private-key", dsa), &mut out);
        out.extend_from_slice(b" )\n");
    }
    out.extend_from_slice(b")\n");
    // Not always UTF-8: like libgcrypt, a number whose bytes are all printable in Latin-1 is
    // written as a quoted string of those bytes.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key file written by libotr 4.1.1 (`otrl_privkey_generate`), key for "bob"/"xmpp".
    const LIBOTR_FILE: &str = "(privkeys\n (account\n(name bob)\n(protocol xmpp)\n(private-key \n (dsa \n  (p #00B3DF252C61FD46456F784A6F0B31B06F45813D4D23238935AB54AB7DF9E8C107E596C9FFF2EA0C03D6696DD82B9D0AD25A5DEF1E437BF4367F99F601E3B2819783642C1E0052D787B6A0E57EDCB19F4F6B3CAE58D61309241BB474AD5B47ACDC1DF49FEC58741F671D162DA4442CC96194FAF166714CACE8993C6724C5A0E6F7#)\n  (q #00B021784DFC7DB52BF7E9BA7F9F24B07C7F1770BD#)\n  (g #00915508CCFA696E867353D895AAB549AC5BF6E59B37E31D88C606FA0D0A54AB537B81A24DD97EF7793CC48ABA2AF604156E57130C1A5C52456BFC5143A1BB09D53480050BAA6034456E4BC838D42DEBFC214747B540EBB4683DAE3774567F2AB181E5E744DD853A3CAD538F1C1228D2CCA167401418A0D235D78B0C905CEF263F#)\n  (y #7613719F174F05CAB4CD30B89A9B27A2F5FB3BC8E4EA1F51BAA89F8548FD5CF39C5B09106DE5E6CD1E31A423CF4B50CF5DFB1FC8F8C9990E1306E8F5BEB85FB32E672DA2CB5B5B7B41012FD4D60A651BBDF930E7AE208CAE2DE19C858E9F0F5BB96D5C6FA5C6C3F7D36D0F0348EFCB4F391CDFF30F2FFF581306F1F2699BECE7#)\n  (x #5C8F43299367950B9050C54DD431E171DAC27F99#)\n  )\n )\n )\n)\n";

    #[test]
    fn libotr_file_round_trips_byte_for_byte() {
        let entries = read_private_keys(LIBOTR_FILE.as_bytes()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].account, "bob");
        assert_eq!(entries[0].protocol, "xmpp");
        assert_eq!(
            write_private_keys(&entries).as_slice(),
            LIBOTR_FILE.as_bytes(),
            "our writer reproduces libotr's bytes"
        );
    }

    /// A file libotr 4.1.1 wrote in an interop run, whose secret `x` happened to be all bytes
    /// libgcrypt prints as text (Latin-1, not UTF-8), so it wrote a quoted string.
    #[test]
    fn a_latin1_quoted_secret_round_trips_byte_for_byte() {
        let file = include_bytes!("../testdata/libotr-latin1-x.key");
        assert!(
            file.iter().any(|b| *b > 0x7f),
            "the vector holds Latin-1 bytes"
        );
        let entries = read_private_keys(file).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(write_private_keys(&entries).as_slice(), &file[..]);
    }

    #[test]
    fn atoms_are_encoded_like_libgcrypt() {
        let enc = |b: &[u8]| {
            let mut out = Vec::new();
            write_atom(b, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(enc(b"prpl-jabber"), "prpl-jabber");
        assert_eq!(enc(b"alice@example.org"), "\"alice@example.org\"");
        assert_eq!(enc(b"1abc"), "\"1abc\"");
        assert_eq!(enc(b"a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(enc("jösé".as_bytes()), "\"j\u{f6}s\u{e9}\"");
        assert_eq!(enc(b""), "\"\"");
        assert_eq!(enc(&[0x00, 0x41]), "#0041#");
        assert_eq!(enc(&[0x81, 0x41]), "#8141#");
        assert_eq!(enc(&[0x41, 0x01]), "#4101#");
    }

    #[test]
    fn other_atom_syntaxes_and_whitespace_are_read() {
        // The same key with every value re-spelled: verbatim, base64, hex with spaces.
        let x = "5C8F43299367950B9050C54DD431E171DAC27F99";
        let xb: Vec<u8> = (0..20)
            .map(|i| u8::from_str_radix(&x[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let respelled = LIBOTR_FILE
            .replace("(name bob)", "(name 3:bob)")
            .replace("(protocol xmpp)", "(protocol \"x\\x6dp\\160\")")
            .replace(
                &format!("(x #{x}#)"),
                &format!("(x |{}|)", base64::encode(&xb)),
            )
            .replace("(q #00B021784DFC", "(q #00 B0 21 78\n 4D FC")
            .replace('\n', "\r\n\t");
        let entries = read_private_keys(respelled.as_bytes()).unwrap();
        let original = read_private_keys(LIBOTR_FILE.as_bytes()).unwrap();
        assert_eq!(entries[0].account, "bob");
        assert_eq!(entries[0].protocol, "xmpp");
        assert_eq!(
            entries[0].key.public_key().fingerprint(),
            original[0].key.public_key().fingerprint()
        );
        assert_eq!(
            write_private_keys(&entries).as_slice(),
            LIBOTR_FILE.as_bytes()
        );
    }

    #[test]
    fn bad_files_are_rejected_without_panicking() {
        let wrong_y = LIBOTR_FILE.replace("(y #7613", "(y #7614");
        assert!(matches!(
            read_private_keys(wrong_y.as_bytes()),
            Err(KeyFileError::InvalidKey { .. })
        ));
        let wrong_x = LIBOTR_FILE.replace("(x #5C8F", "(x #5C8E");
        assert!(matches!(
            read_private_keys(wrong_x.as_bytes()),
            Err(KeyFileError::InvalidKey { .. })
        ));
        let no_x = LIBOTR_FILE.replace("(x #", "(z #");
        assert!(read_private_keys(no_x.as_bytes()).is_err());
        assert_eq!(
            read_private_keys(b"(pubkeys)").unwrap_err(),
            KeyFileError::Structure("not a (privkeys ...) file")
        );
        assert!(read_private_keys(b"(privkeys)").unwrap().is_empty());
        // Every prefix and single-byte corruption: an error or a valid key, never a panic.
        let bytes = LIBOTR_FILE.as_bytes();
        for cut in 0..bytes.len() - 1 {
            assert!(read_private_keys(&bytes[..cut]).is_err(), "prefix {cut}");
        }
        for (i, b) in [b'(', b')', b'"', b'#', b'|', b'9', b'\\', 0x80]
            .iter()
            .enumerate()
        {
            for at in (i..bytes.len()).step_by(37) {
                let mut v = bytes.to_vec();
                v[at] = *b;
                let _ = read_private_keys(&v);
            }
        }
        let deep = "(".repeat(10_000);
        assert!(read_private_keys(deep.as_bytes()).is_err());
    }
}
