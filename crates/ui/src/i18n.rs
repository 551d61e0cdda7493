//! Interface texts in Spanish (first) and English, chosen from the browser's preferred languages or the
//! person's choice in the settings.
//!
//! The texts live in `locales/es.json` and `locales/en.json` (flat keys, the layout `leptos_i18n` uses), are
//! compiled into the binary and parsed once per language into [`Texts`]. Both files must have exactly the
//! fields of [`Texts`]: the unit tests parse them with unknown fields denied, so a missing, extra or
//! misspelt key in either language fails `cargo test`.

use std::sync::OnceLock;

use serde::Deserialize;

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Spanish, the default for people whose browser prefers it.
    Es,
    /// English, for everyone else.
    En,
}

const ES_JSON: &str = include_str!("../locales/es.json");
const EN_JSON: &str = include_str!("../locales/en.json");

static ES: OnceLock<Texts> = OnceLock::new();
static EN: OnceLock<Texts> = OnceLock::new();

impl Lang {
    /// Picks the language from the browser's preference list (`navigator.languages`): the first entry that
    /// is Spanish or English wins; with neither, English.
    pub fn from_preferences<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Lang {
        for tag in preferred {
            if let Some(lang) = Lang::from_tag(tag) {
                return lang;
            }
        }
        Lang::En
    }

    /// The language of a BCP 47 tag (`es-AR` → Spanish), if it is one of ours.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("es") {
            Some(Lang::Es)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The texts in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Es => ES.get_or_init(|| Texts::parse(ES_JSON).unwrap_or_default()),
            Lang::En => EN.get_or_init(|| Texts::parse(EN_JSON).unwrap_or_default()),
        }
    }
}

/// Replaces `{name}` in `template` with `value`.
pub fn fill(template: &str, name: &str, value: &str) -> String {
    template.replace(&format!("{{{name}}}"), value)
}

/// Every text of the interface, one field per key of the locale files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub tagline: String,
    pub server_label: String,
    pub starting: String,
    pub disconnected: String,
    pub connecting: String,
    pub connected: String,
    pub failed: String,
    pub unreachable_help: String,
    pub not_xmpp_help: String,
    pub invalid_url_help: String,
    pub stream_error_help: String,
    pub config_error: String,
    pub worker_error: String,
    pub retry: String,
    pub loading: String,
    pub cancel: String,
    pub first_run_title: String,
    pub first_run_intro: String,
    pub passphrase_advice: String,
    pub passphrase_label: String,
    pub passphrase_confirm_label: String,
    pub strength_label: String,
    pub strength_0: String,
    pub strength_1: String,
    pub strength_2: String,
    pub strength_3: String,
    pub strength_4: String,
    pub passphrase_mismatch: String,
    pub create_vault: String,
    pub skip_passphrase: String,
    pub skip_warning_title: String,
    pub skip_warning_text: String,
    pub skip_confirm: String,
    pub skip_cancel: String,
    pub unlock_title: String,
    pub unlock_label: String,
    pub unlock: String,
    pub wrong_passphrase: String,
    pub vault_unavailable: String,
    pub vault_storage: String,
    pub vault_wrong_state: String,
    pub opening_vault: String,
    pub add_account_title: String,
    pub mode_register: String,
    pub mode_login: String,
    pub account_user_label: String,
    pub account_server_label: String,
    pub account_password_label: String,
    pub account_password_confirm_label: String,
    pub account_password_advice: String,
    pub remember_password_label: String,
    pub remember_password_help: String,
    pub account_submit_register: String,
    pub account_submit_login: String,
    pub passwords_differ: String,
    pub fill_all_fields: String,
    pub server_confirm_title: String,
    pub server_confirm_text: String,
    pub confirm_domain_label: String,
    pub confirm_endpoint_label: String,
    pub server_confirm_yes: String,
    pub server_confirm_no: String,
    pub discovering: String,
    pub account_endpoint_label: String,
    pub account_endpoint_help: String,
    pub reg_form_title: String,
    pub reg_form_submit: String,
    pub name_taken: String,
    pub registration_failed: String,
    pub auth_failed: String,
    pub unreachable_account: String,
    pub registration_refused: String,
    pub invalid_setup: String,
    pub server_error: String,
    pub state_generating_key: String,
    pub state_connecting: String,
    pub state_reconnecting: String,
    pub state_registering: String,
    pub state_registered: String,
    pub state_online: String,
    pub state_offline: String,
    pub state_failed: String,
    pub cmd_unknown_account: String,
    pub cmd_account_exists: String,
    pub cmd_invalid_input: String,
    pub cmd_not_online: String,
    pub cmd_wrong_state: String,
    pub contacts_title: String,
    pub account_switch_label: String,
    pub login_password_label: String,
    pub login: String,
    pub contacts_empty: String,
    pub pending_out: String,
    pub presence_offline: String,
    pub presence_available: String,
    pub presence_away: String,
    pub presence_busy: String,
    pub open_chat: String,
    pub requests_title: String,
    pub request_text: String,
    pub request_accept: String,
    pub request_refuse: String,
    pub add_contact_label: String,
    pub add_contact: String,
    pub settings_open: String,
    pub add_account_open: String,
    pub lock_now: String,
    pub back: String,
    pub padlock_not_encrypted: String,
    pub padlock_encrypted_unverified: String,
    pub padlock_verified: String,
    pub padlock_button: String,
    pub start_private: String,
    pub verify: String,
    pub end_private: String,
    pub queued: String,
    pub finished_text: String,
    pub messages_label: String,
    pub message_input_label: String,
    pub send: String,
    pub message_unencrypted: String,
    pub delivery_queued: String,
    pub delivery_sent: String,
    pub message_failed: String,
    pub notice_private_started: String,
    pub notice_not_verified: String,
    pub notice_peer_ended_private: String,
    pub notice_private_ended: String,
    pub notice_fingerprint_changed: String,
    pub notice_verified: String,
    pub notice_answered_correctly: String,
    pub notice_verification_failed: String,
    pub notice_verification_aborted: String,
    pub notice_unencrypted_while_private: String,
    pub notice_unreadable: String,
    pub notice_peer_error: String,
    pub notice_stored_encrypted_message: String,
    pub notice_history_on: String,
    pub notice_history_off: String,
    pub history_toggle: String,
    pub history_explain: String,
    pub history_skipped_warning: String,
    pub history_off_question: String,
    pub history_off_confirm: String,
    pub history_off_cancel: String,
    pub history_saved_until_here: String,
    pub history_more: String,
    pub history_label: String,
    pub new_message_from: String,
    pub new_message: String,
    pub padlock_now: String,
    pub verify_title: String,
    pub verify_question_tab: String,
    pub verify_secret_tab: String,
    pub verify_fingerprint_tab: String,
    pub smp_question_label: String,
    pub smp_answer_label: String,
    pub smp_hint: String,
    pub smp_ask_submit: String,
    pub smp_secret_label: String,
    pub smp_secret_submit: String,
    pub smp_sent: String,
    pub own_fingerprint_label: String,
    pub peer_fingerprint_label: String,
    pub fingerprint_unknown: String,
    pub fingerprint_compare: String,
    pub qr_label: String,
    pub trust_fingerprint: String,
    pub untrust_fingerprint: String,
    pub verify_close: String,
    pub smp_incoming_title: String,
    pub smp_incoming_shared_secret: String,
    pub smp_incoming_answer_label: String,
    pub smp_incoming_submit: String,
    pub smp_incoming_cancel: String,
    pub settings_title: String,
    pub policy_label: String,
    pub policy_manual: String,
    pub policy_opportunistic: String,
    pub policy_always: String,
    pub auto_lock_label: String,
    pub minutes: String,
    pub minute_1: String,
    pub never: String,
    pub notifications_label: String,
    pub notifications_help: String,
    pub notifications_denied: String,
    pub language_label: String,
    pub forget_account: String,
    pub forget_confirm: String,
    pub settings_close: String,
    pub change_passphrase_title: String,
    pub change_passphrase_current: String,
    pub change_passphrase_new: String,
    pub change_passphrase_submit: String,
    pub passphrase_changed: String,
    pub groups_title: String,
    pub groups_note: String,
    pub join_room_jid_label: String,
    pub join_room_nick_label: String,
    pub join_room: String,
    pub rooms_empty: String,
    pub room_open: String,
    pub room_joining: String,
    pub room_conflict: String,
    pub room_not_authorized: String,
    pub room_forbidden: String,
    pub room_join_failed: String,
    pub room_left: String,
    pub group_banner: String,
    pub room_subject_label: String,
    pub room_no_subject: String,
    pub occupants_title: String,
    pub room_messages_label: String,
    pub room_input_label: String,
    pub room_send: String,
    pub room_leave: String,
    pub room_own: String,
    pub new_room_message: String,
    pub join_room_password_label: String,
    pub new_room_settings: String,
    pub new_room_hint: String,
    pub new_room_members_only: String,
    pub new_room_persistent: String,
    pub room_wrong_password: String,
    pub room_not_configured: String,
    pub invitations_title: String,
    pub invitation_text: String,
    pub invitation_someone: String,
    pub invitation_stranger: String,
    pub invitation_with_password: String,
    pub invitation_join: String,
    pub invitation_decline: String,
    pub new_invitation: String,
    pub room_subject_input_label: String,
    pub room_subject_set: String,
    pub room_subject_failed: String,
    pub room_invite_label: String,
    pub room_invite: String,
    pub room_invite_sent: String,
    pub room_message_failed: String,
    pub update_available: String,
    pub update_reload: String,
}

impl Texts {
    fn parse(json: &str) -> Result<Texts, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The label of a strength level (0 = very weak … 4 = strong).
    pub fn strength(&self, level: u8) -> &str {
        match level {
            0 => &self.strength_0,
            1 => &self.strength_1,
            2 => &self.strength_2,
            3 => &self.strength_3,
            _ => &self.strength_4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_when_preferred() {
        assert_eq!(Lang::from_preferences(["es-AR", "en"]), Lang::Es);
        assert_eq!(Lang::from_preferences(["fr", "ES"]), Lang::Es);
        assert_eq!(Lang::from_preferences(["es_419"]), Lang::Es);
    }

    #[test]
    fn english_otherwise() {
        assert_eq!(Lang::from_preferences(["en-GB", "es"]), Lang::En);
        assert_eq!(Lang::from_preferences(["de", "fr"]), Lang::En);
        assert_eq!(Lang::from_preferences([]), Lang::En);
        assert_eq!(Lang::from_preferences(["estonian-not-a-tag"]), Lang::En);
    }

    fn keys(json: &str) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn both_locale_files_have_the_same_keys_and_every_field() {
        assert_eq!(keys(ES_JSON), keys(EN_JSON));
        // deny_unknown_fields + no serde defaults: every key present, none extra.
        let es = Texts::parse(ES_JSON).unwrap();
        let en = Texts::parse(EN_JSON).unwrap();
        let value: serde_json::Value = serde_json::from_str(ES_JSON).unwrap();
        for (key, text) in value.as_object().unwrap() {
            assert!(
                !text.as_str().unwrap().trim().is_empty(),
                "es: {key} is empty"
            );
        }
        let value: serde_json::Value = serde_json::from_str(EN_JSON).unwrap();
        for (key, text) in value.as_object().unwrap() {
            assert!(
                !text.as_str().unwrap().trim().is_empty(),
                "en: {key} is empty"
            );
        }
        assert_eq!(es.connected, "Conectado");
        assert_eq!(en.connected, "Connected");
        assert_eq!(Lang::Es.texts().opening_vault, "Abriendo la bóveda…");
        assert_eq!(Lang::En.texts().padlock_verified, "Verified");
    }

    #[test]
    fn a_missing_or_extra_key_is_an_error() {
        assert!(Texts::parse(r#"{"tagline":"x"}"#).is_err());
        let mut value: serde_json::Value = serde_json::from_str(EN_JSON).unwrap();
        value
            .as_object_mut()
            .unwrap()
            .insert("not_a_key".into(), "x".into());
        assert!(Texts::parse(&value.to_string()).is_err());
    }

    #[test]
    fn placeholders_are_filled() {
        let t = Lang::Es.texts();
        assert_eq!(
            fill(&t.new_message_from, "jid", "bob@localhost"),
            "Nuevo mensaje de bob@localhost"
        );
        assert_eq!(
            fill(&Lang::En.texts().queued, "n", "2"),
            "Messages waiting for encryption: 2"
        );
        assert_eq!(Lang::En.texts().strength(9), "Strong");
    }
}
