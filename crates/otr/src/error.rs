//! Errors, split by who is to blame.
//!
//! | variant | who is to blame | what the caller does |
//! |---|---|---|
//! | [`Error::Malformed`] | the bytes: not a well-formed OTR message | drop it; in an encrypted session libotr answers "malformed" |
//! | [`Error::Unauthenticated`] | unknown: a MAC or commitment did not verify | drop it; deliberately carries no detail |
//! | [`Error::Peer`] | the peer: well-formed but breaks the protocol | drop it, maybe warn the user |
//! | [`Error::Usage`] | the caller: the API was used out of order | fix the calling code |
//!
//! A failed MAC check is always the single opaque [`Error::Unauthenticated`], whichever MAC
//! or key failed, so that nothing about the keys leaks through error reporting.

use core::fmt;

/// Any error of this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a well-formed OTR message.
    Malformed(DecodeError),
    /// A MAC or a commitment hash did not verify. Opaque on purpose.
    Unauthenticated,
    /// The message is well-formed but the peer broke the protocol.
    Peer(PeerError),
    /// The API was called in a way or at a time that is not allowed.
    Usage(UsageError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(e) => write!(f, "malformed OTR message: {e}"),
            Error::Unauthenticated => f.write_str("message authentication failed"),
            Error::Peer(e) => write!(f, "peer protocol violation: {e}"),
            Error::Usage(e) => write!(f, "API misuse: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Malformed(e)
    }
}

impl From<PeerError> for Error {
    fn from(e: PeerError) -> Self {
        Error::Peer(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

/// Why bytes or text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    Truncated,
    /// Bytes were left over after the message (libotr rejects these too).
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// A length field is larger than any OTR field can be.
    TooLarge,
    /// A PUBKEY with a type other than DSA (`0x0000`).
    UnknownPublicKeyType(u16),
    /// A protocol version we do not speak.
    UnsupportedVersion(u16),
    /// A message type byte we do not know.
    UnknownMessageType(u8),
    /// A field whose length is fixed by the protocol (or by libotr) had another length.
    BadFieldLength {
        /// Which field.
        field: &'static str,
        /// The length required.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// An instance tag in the reserved range 1..=0xFF, or 0 where a tag is required.
    InvalidInstanceTag(u32),
    /// The base64 payload of an encoded message is not valid.
    Base64,
    /// An encoded message (`?OTR:...`) without its terminating `.`.
    MissingTerminator,
    /// A fragment (`?OTR|...` or `?OTR,...`) with a malformed header or piece.
    MalformedFragment,
    /// A query message (`?OTR?` / `?OTRv...?`) that does not parse.
    MalformedQuery,
    /// Decrypted text is not valid UTF-8.
    Utf8,
    /// Text that contains `?OTR` but is no OTR message we recognise (libotr's
    /// `OTRL_MSGTYPE_UNKNOWN`, which it ignores), e.g. an OTR v1 message.
    Unrecognized,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("input truncated"),
            DecodeError::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            DecodeError::TooLarge => f.write_str("length field too large"),
            DecodeError::UnknownPublicKeyType(t) => write!(f, "unknown public key type {t:#06x}"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            DecodeError::UnknownMessageType(t) => write!(f, "unknown message type {t:#04x}"),
            DecodeError::BadFieldLength {
                field,
                expected,
                actual,
            } => write!(f, "{field} has length {actual}, expected {expected}"),
            DecodeError::InvalidInstanceTag(t) => write!(f, "invalid instance tag {t:#010x}"),
            DecodeError::Base64 => f.write_str("invalid base64"),
            DecodeError::MissingTerminator => f.write_str("encoded message without final '.'"),
            DecodeError::MalformedFragment => f.write_str("malformed fragment"),
            DecodeError::MalformedQuery => f.write_str("malformed query message"),
            DecodeError::Utf8 => f.write_str("invalid UTF-8"),
            DecodeError::Unrecognized => f.write_str("unrecognised OTR message"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The peer sent a well-formed message that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// A received Diffie-Hellman value is outside 2..=p-2.
    BadGroupElement,
    /// A DSA public key with unsupported sizes or out-of-range values.
    BadPublicKey,
    /// A DSA signature that does not verify, or whose r or s is out of range.
    BadSignature,
    /// A key id of zero (the AKE key id must be positive).
    ZeroKeyId,
    /// The peer's DH value equals ours: we are talking to ourselves (libotr's
    /// MSG_REFLECTED).
    Reflected,
    /// The message's protocol version or instance tags do not match this exchange.
    WrongVersion,
    /// A Data message names a key id we do not hold (or zero): unreadable. Also what
    /// happens after either side restarted its session.
    UnknownKeyId,
    /// A Data message whose counter is not above the last one accepted for its keys: a
    /// replay, a duplicate delivery or reordering. Callers should not answer it with an
    /// OTR error (transports duplicate stanzas).
    CounterNotIncreasing,
    /// A Data message arrived while no private conversation is up (libotr
    /// RCVDMSG_NOT_IN_PRIVATE); like libotr we send no error reply.
    NotEncrypted,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerError::BadGroupElement => "Diffie-Hellman value out of range",
            PeerError::BadPublicKey => "unusable DSA public key",
            PeerError::BadSignature => "DSA signature does not verify",
            PeerError::ZeroKeyId => "key id zero",
            PeerError::Reflected => "our own message was reflected back",
            PeerError::WrongVersion => "protocol version or instance tag mismatch",
            PeerError::UnknownKeyId => "unknown key id",
            PeerError::CounterNotIncreasing => "counter did not increase (replay?)",
            PeerError::NotEncrypted => "encrypted message received outside a private conversation",
        })
    }
}

impl std::error::Error for PeerError {}

/// The caller used the API wrongly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// An instance tag below 0x100 was given as our own tag.
    InvalidInstanceTag(u32),
    /// The operation needs a state the object is not in.
    WrongState(&'static str),
    /// The version asked for is not allowed.
    VersionNotAllowed,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::InvalidInstanceTag(t) => write!(f, "invalid own instance tag {t:#010x}"),
            UsageError::WrongState(what) => write!(f, "not allowed in this state: {what}"),
            UsageError::VersionNotAllowed => f.write_str("protocol version not allowed"),
        }
    }
}

impl std::error::Error for UsageError {}
