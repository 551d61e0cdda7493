//! The interface texts, compiled from `locales/*.json` by `leptos_i18n` (see `build.rs`), and the
//! functions that put the api's states and failures into words.
//!
//! Screens read a text with `td_string!(locale, key)` (or `td_string!(locale, key, name = value)` for
//! a text with `{{ name }}` placeholders), where `locale` is [`crate::store::Store::locale`]: reading it
//! tracks the language signal, so every text follows a change of language at once. A misspelt key is a
//! compile error.

use candado_api::{AccountFailure, AccountState, CommandFailure, Notice, Padlock, VaultFailure};
pub use leptos_i18n::td_string;

use crate::lang::Lang;

/// The code `leptos_i18n_codegen` wrote from the locale files.
#[allow(
    missing_docs,
    missing_debug_implementations,
    non_camel_case_types,
    unused,
    unused_qualifications,
    clippy::all,
    clippy::pedantic
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/i18n/mod.rs"));
}

pub use generated::i18n::Locale;

impl Lang {
    /// The compiled texts of this language.
    pub fn locale(self) -> Locale {
        match self {
            Lang::Es => Locale::es,
            Lang::En => Locale::en,
        }
    }
}

/// The label of a passphrase strength level (0 = very weak … 4 = strong).
pub fn strength_label(level: u8, t: Locale) -> &'static str {
    match level {
        0 => td_string!(t, strength_0),
        1 => td_string!(t, strength_1),
        2 => td_string!(t, strength_2),
        3 => td_string!(t, strength_3),
        _ => td_string!(t, strength_4),
    }
}

/// The padlock's visible label.
pub fn padlock_label(state: Padlock, t: Locale) -> &'static str {
    match state {
        Padlock::NotEncrypted => td_string!(t, padlock_not_encrypted),
        Padlock::EncryptedUnverified => td_string!(t, padlock_encrypted_unverified),
        Padlock::Verified => td_string!(t, padlock_verified),
    }
}

/// A notice's status line.
pub fn notice_text(notice: &Notice, t: Locale) -> String {
    match notice {
        Notice::PrivateStarted { verified: true } => {
            td_string!(t, notice_private_started).to_owned()
        }
        Notice::PrivateStarted { verified: false } => {
            format!(
                "{}. {}",
                td_string!(t, notice_private_started),
                td_string!(t, notice_not_verified)
            )
        }
        Notice::PeerEndedPrivate => td_string!(t, notice_peer_ended_private).to_owned(),
        Notice::PrivateEnded => td_string!(t, notice_private_ended).to_owned(),
        Notice::FingerprintChanged { fingerprint } => {
            td_string!(t, notice_fingerprint_changed, fp = fingerprint)
        }
        Notice::Verified => td_string!(t, notice_verified).to_owned(),
        Notice::AnsweredCorrectly => td_string!(t, notice_answered_correctly).to_owned(),
        Notice::VerificationFailed => td_string!(t, notice_verification_failed).to_owned(),
        Notice::VerificationAborted => td_string!(t, notice_verification_aborted).to_owned(),
        Notice::UnencryptedWhilePrivate => {
            td_string!(t, notice_unencrypted_while_private).to_owned()
        }
        Notice::Unreadable => td_string!(t, notice_unreadable).to_owned(),
        Notice::PeerError { text } => td_string!(t, notice_peer_error, text = text),
        Notice::StoredEncryptedMessage => td_string!(t, notice_stored_encrypted_message).to_owned(),
        Notice::HistoryOn => td_string!(t, notice_history_on).to_owned(),
        Notice::HistoryOff => td_string!(t, notice_history_off).to_owned(),
    }
}

/// The account state in words.
pub fn account_state_text(state: &AccountState, t: Locale) -> String {
    match state {
        AccountState::GeneratingKey => td_string!(t, state_generating_key).to_owned(),
        AccountState::Connecting => td_string!(t, state_connecting).to_owned(),
        AccountState::Reconnecting { .. } => td_string!(t, state_reconnecting).to_owned(),
        AccountState::Registering => td_string!(t, state_registering).to_owned(),
        AccountState::Registered => td_string!(t, state_registered).to_owned(),
        AccountState::Online { .. } => td_string!(t, state_online).to_owned(),
        AccountState::Offline => td_string!(t, state_offline).to_owned(),
        AccountState::Failed { reason, .. } => {
            format!(
                "{}: {}",
                td_string!(t, state_failed),
                account_failure_text(*reason, t)
            )
        }
    }
}

/// Why an account failed, in words.
pub fn account_failure_text(reason: AccountFailure, t: Locale) -> &'static str {
    match reason {
        AccountFailure::Unreachable => td_string!(t, unreachable_account),
        AccountFailure::AuthFailed => td_string!(t, auth_failed),
        AccountFailure::RegistrationRefused => td_string!(t, registration_refused),
        AccountFailure::InvalidSetup => td_string!(t, invalid_setup),
        AccountFailure::ServerError => td_string!(t, server_error),
    }
}

/// Why a command failed, in words.
pub fn command_failure_text(kind: CommandFailure, t: Locale) -> &'static str {
    match kind {
        CommandFailure::UnknownAccount => td_string!(t, cmd_unknown_account),
        CommandFailure::AccountExists => td_string!(t, cmd_account_exists),
        CommandFailure::InvalidInput => td_string!(t, cmd_invalid_input),
        CommandFailure::NotOnline => td_string!(t, cmd_not_online),
        CommandFailure::WrongState => td_string!(t, cmd_wrong_state),
    }
}

/// Why a vault command failed, in words.
pub fn vault_failure_text(reason: VaultFailure, t: Locale) -> &'static str {
    match reason {
        VaultFailure::WrongPassphrase => td_string!(t, wrong_passphrase),
        VaultFailure::Unavailable => td_string!(t, vault_unavailable),
        VaultFailure::Storage => td_string!(t, vault_storage),
        VaultFailure::WrongState => td_string!(t, vault_wrong_state),
    }
}

/// A registration refusal in words: `conflict` means the name is taken.
pub fn registration_failure_text(condition: &str, text: Option<&str>, t: Locale) -> String {
    if condition == "conflict" {
        return td_string!(t, name_taken).to_owned();
    }
    match text {
        Some(text) if !text.trim().is_empty() => {
            format!("{} ({text})", td_string!(t, registration_failed))
        }
        _ => format!("{} ({condition})", td_string!(t, registration_failed)),
    }
}

/// Why entering a room failed, in words: `conflict` means the nickname is in use there.
pub fn room_failure_text(
    condition: &str,
    text: Option<&str>,
    with_password: bool,
    t: Locale,
) -> String {
    match condition {
        "conflict" => td_string!(t, room_conflict).to_owned(),
        "not-authorized" if with_password => td_string!(t, room_wrong_password).to_owned(),
        "not-authorized" => td_string!(t, room_not_authorized).to_owned(),
        "forbidden" | "registration-required" => td_string!(t, room_forbidden).to_owned(),
        _ => match text {
            Some(text) if !text.trim().is_empty() => {
                format!("{} ({text})", td_string!(t, room_join_failed))
            }
            _ => format!("{} ({condition})", td_string!(t, room_join_failed)),
        },
    }
}
