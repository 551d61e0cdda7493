//! The specifications this crate implements, as `candado.doap` at the repository root lists them (a test
//! in `candado-engine` fails when the two disagree).

/// How much of a specification is implemented (DOAP's `xmpp:status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Everything a client needs.
    Complete,
    /// The parts listed in [`Spec::note`].
    Partial,
}

impl Status {
    /// The DOAP word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
        }
    }
}

/// One supported RFC or XEP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// `RFC 6120` or `XEP-0198`.
    pub id: &'static str,
    /// How much of it.
    pub status: Status,
    /// What is (not) covered, for partial support.
    pub note: &'static str,
}

const fn complete(id: &'static str) -> Spec {
    Spec {
        id,
        status: Status::Complete,
        note: "",
    }
}

const fn partial(id: &'static str, note: &'static str) -> Spec {
    Spec {
        id,
        status: Status::Partial,
        note,
    }
}

/// Every RFC and XEP this crate implements (see the crate docs, "Supported").
pub const SUPPORTED: &[Spec] = &[
    partial(
        "RFC 6120",
        "over WebSocket only: no STARTTLS, no SCRAM -PLUS channel binding",
    ),
    complete("RFC 6121"),
    complete("RFC 7395"),
    complete("RFC 4013"),
    complete("RFC 5802"),
    complete("RFC 7677"),
    complete("XEP-0004"),
    complete("XEP-0030"),
    partial(
        "XEP-0045",
        "join, leave, occupants, subject, messages; instant rooms only",
    ),
    complete("XEP-0077"),
    complete("XEP-0085"),
    partial("XEP-0115", "our caps sent; others' reported, not verified"),
    complete("XEP-0156"),
    complete("XEP-0158"),
    complete("XEP-0184"),
    complete("XEP-0191"),
    complete("XEP-0198"),
    complete("XEP-0199"),
    complete("XEP-0203"),
    partial("XEP-0231", "CAPTCHA media handed to the owner"),
    complete("XEP-0280"),
    complete("XEP-0334"),
    partial("XEP-0363", "slot requests"),
];

/// The URL DOAP uses for a spec: `https://www.rfc-editor.org/rfc/rfcNNNN` or
/// `https://xmpp.org/extensions/xep-NNNN.html`.
pub fn url(id: &str) -> Option<String> {
    if let Some(n) = id.strip_prefix("RFC ") {
        Some(format!("https://www.rfc-editor.org/rfc/rfc{n}"))
    } else {
        id.strip_prefix("XEP-")
            .map(|n| format!("https://xmpp.org/extensions/xep-{n}.html"))
    }
}
