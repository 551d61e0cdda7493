//! The UI's pure decisions, kept apart from the DOM so they can be tested on any target: which screen
//! shows, how strong a passphrase looks, what the padlock and the status lines say, how a server's
//! registration form maps to inputs and back, and the QR code's module matrix.

use std::hash::{Hash, Hasher};

use candado_api::{
    AccountState, ChatMessage, Contact, FormField, FormValue, Notice, OtrPolicy, Padlock,
    VaultState,
};

use crate::lang::Lang;

/// One line of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// A message.
    Message(ChatMessage),
    /// A status line.
    Notice(Notice),
    /// A message we sent was not delivered.
    Failed {
        /// The message's id.
        id: String,
        /// The XMPP condition.
        condition: String,
    },
}

/// The key of line `index` of a conversation in the rendered list: the language, the place, and a
/// digest of everything the line shows. A line is built once, and again only when it changes (a
/// message's delivery state) or the language does; a new message builds one line, not the list.
pub fn item_key(lang: Lang, index: usize, item: &Item) -> (Lang, usize, u64) {
    let mut digest = std::hash::DefaultHasher::new();
    item.hash(&mut digest);
    (lang, index, digest.finish())
}

/// The kept messages a chat shows when `shown` of them may be: the last `shown`, with the place
/// of the first of them in the whole history (as many as are hidden above, behind "show earlier").
pub fn kept_tail(messages: &[ChatMessage], shown: usize) -> (usize, &[ChatMessage]) {
    let hidden = messages.len().saturating_sub(shown);
    (hidden, &messages[hidden..])
}

/// A kept message's date and time as the chat shows it, from its local calendar fields (`month`
/// 1–12): `7 dic 2026, 22:38` in Spanish, `7 Dec 2026, 22:38` in English. The month is a word, so
/// day and month are never confused; the formatting is ours because building the browser's
/// `Intl.DateTimeFormat` (its locale data) took 160 ms of a chat's opening on a slow phone.
pub fn message_date(lang: Lang, year: u32, month: u32, day: u32, hour: u32, minute: u32) -> String {
    const ES: [&str; 12] = [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ];
    const EN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let names = match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    };
    let name = names
        .get((month as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("?");
    format!("{day} {name} {year}, {hour:02}:{minute:02}")
}

/// Where the person is, inside an unlocked vault.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Route {
    /// The contacts of the current account (or adding the first account).
    #[default]
    Home,
    /// Adding one more account.
    AddAccount,
    /// The conversation with this contact (bare address).
    Chat(String),
    /// The group chat in this room (bare address).
    Group(String),
    /// The settings.
    Settings,
}

/// The screen on show; [`Screen::id`] is `<main data-screen>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// Waiting for the worker to say what the vault is.
    Starting,
    /// No vault yet: choose the app passphrase.
    FirstRun,
    /// The vault is locked.
    Unlock,
    /// The vault is deriving its key or opening.
    Working,
    /// Register or log in an account.
    AddAccount,
    /// Contacts of the current account.
    Contacts,
    /// One conversation.
    Chat,
    /// One group chat.
    Group,
    /// Settings.
    Settings,
}

impl Screen {
    /// The value of `data-screen`.
    pub fn id(self) -> &'static str {
        match self {
            Screen::Starting => "starting",
            Screen::FirstRun => "first-run",
            Screen::Unlock => "unlock",
            Screen::Working => "working",
            Screen::AddAccount => "add-account",
            Screen::Contacts => "contacts",
            Screen::Chat => "chat",
            Screen::Group => "group",
            Screen::Settings => "settings",
        }
    }
}

/// Picks the screen. `waiting_for_accounts`: the vault was just unlocked and the saved accounts have not
/// arrived yet (showing "add account" for a moment would be wrong). `has_account`: some account is
/// saved, logged in, or being used.
pub fn screen(
    vault: Option<VaultState>,
    route: &Route,
    waiting_for_accounts: bool,
    has_account: bool,
) -> Screen {
    match vault {
        None => Screen::Starting,
        Some(VaultState::Absent) => Screen::FirstRun,
        Some(VaultState::Locked) => Screen::Unlock,
        Some(VaultState::Working) => Screen::Working,
        Some(VaultState::Unlocked) if waiting_for_accounts => Screen::Working,
        Some(VaultState::Unlocked) => match route {
            Route::AddAccount => Screen::AddAccount,
            _ if !has_account => Screen::AddAccount,
            Route::Home => Screen::Contacts,
            Route::Chat(_) => Screen::Chat,
            Route::Group(_) => Screen::Group,
            Route::Settings => Screen::Settings,
        },
    }
}

/// A rough strength level, 0 (very weak) to 4 (strong), from an entropy estimate: the size of the
/// character classes used times the length, discounted for repeated characters, sequences and common
/// words. It rewards length most, as the guide's advice does (several words beat one clever word).
pub fn passphrase_strength(passphrase: &str) -> u8 {
    let bits = entropy_bits(passphrase);
    match bits {
        b if b < 28.0 => 0,
        b if b < 40.0 => 1,
        b if b < 60.0 => 2,
        b if b < 80.0 => 3,
        _ => 4,
    }
}

const COMMON: [&str; 14] = [
    "password",
    "contraseña",
    "contrasena",
    "123456",
    "qwerty",
    "candado",
    "abc123",
    "111111",
    "iloveyou",
    "teamo",
    "admin",
    "letmein",
    "asdf",
    "12345678",
];

/// The estimated entropy of `passphrase` in bits.
pub fn entropy_bits(passphrase: &str) -> f64 {
    let chars: Vec<char> = passphrase.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut pool = 0u32;
    if chars.iter().any(char::is_ascii_lowercase) {
        pool += 26;
    }
    if chars.iter().any(char::is_ascii_uppercase) {
        pool += 26;
    }
    if chars.iter().any(char::is_ascii_digit) {
        pool += 10;
    }
    if chars.iter().any(|c| c.is_ascii_punctuation() || *c == ' ') {
        pool += 33;
    }
    if chars.iter().any(|c| !c.is_ascii()) {
        pool += 64;
    }
    let per_char = f64::from(pool.max(2)).log2();
    // Count a character that repeats the previous one, or continues a +1/-1 sequence, as a quarter.
    let mut effective = 0.0;
    let mut prev: Option<char> = None;
    let mut prev_step: Option<i64> = None;
    for &c in &chars {
        let weight = match prev {
            Some(p) => {
                let step = i64::from(u32::from(c)) - i64::from(u32::from(p));
                let weak = step == 0 || (step.abs() == 1 && prev_step == Some(step));
                prev_step = Some(step);
                if weak {
                    0.25
                } else {
                    1.0
                }
            }
            None => 1.0,
        };
        effective += weight;
        prev = Some(c);
    }
    let mut bits = effective * per_char;
    let lower = passphrase.to_lowercase();
    for word in COMMON {
        if lower.contains(word) {
            // A common word is one guess, not a run of random characters.
            let len = word.chars().count() as f64;
            bits -= (len - 1.0).max(0.0) * per_char;
        }
    }
    bits.max(0.0)
}

/// The padlock state as the api writes it (`data-padlock`).
pub fn padlock_key(state: Padlock) -> &'static str {
    match state {
        Padlock::NotEncrypted => "not_encrypted",
        Padlock::EncryptedUnverified => "encrypted_unverified",
        Padlock::Verified => "verified",
    }
}

/// A notice's tag as the api writes it (`data-notice`).
pub fn notice_key(notice: &Notice) -> &'static str {
    match notice {
        Notice::PrivateStarted { .. } => "private_started",
        Notice::PeerEndedPrivate => "peer_ended_private",
        Notice::PrivateEnded => "private_ended",
        Notice::FingerprintChanged { .. } => "fingerprint_changed",
        Notice::Verified => "verified",
        Notice::AnsweredCorrectly => "answered_correctly",
        Notice::VerificationFailed => "verification_failed",
        Notice::VerificationAborted => "verification_aborted",
        Notice::UnencryptedWhilePrivate => "unencrypted_while_private",
        Notice::Unreadable => "unreadable",
        Notice::PeerError { .. } => "peer_error",
        Notice::StoredEncryptedMessage => "stored_encrypted_message",
        Notice::HistoryOn => "history_on",
        Notice::HistoryOff => "history_off",
    }
}

/// Whether a notice is a security change worth announcing to screen readers.
pub fn notice_is_security_change(notice: &Notice) -> bool {
    !matches!(
        notice,
        Notice::PeerError { .. } | Notice::StoredEncryptedMessage
    )
}

/// The account state's tag as the api writes it (`data-state`).
pub fn account_state_key(state: &AccountState) -> &'static str {
    match state {
        AccountState::GeneratingKey => "generating_key",
        AccountState::Connecting => "connecting",
        AccountState::Reconnecting { .. } => "reconnecting",
        AccountState::Registering => "registering",
        AccountState::Registered => "registered",
        AccountState::Online { .. } => "online",
        AccountState::Offline => "offline",
        AccountState::Failed { .. } => "failed",
    }
}

/// The nickname offered when joining a room: the account's username (`alice` of `alice@x`).
pub fn default_nick(account: &str) -> String {
    account.split('@').next().unwrap_or_default().to_owned()
}

/// The OTR policy's value in `#policy`.
pub fn policy_key(policy: OtrPolicy) -> &'static str {
    match policy {
        OtrPolicy::Manual => "manual",
        OtrPolicy::Opportunistic => "opportunistic",
        OtrPolicy::Always => "always",
    }
}

/// The OTR policy named by a `#policy` value.
pub fn policy_from_key(key: &str) -> Option<OtrPolicy> {
    match key {
        "manual" => Some(OtrPolicy::Manual),
        "opportunistic" => Some(OtrPolicy::Opportunistic),
        "always" => Some(OtrPolicy::Always),
        _ => None,
    }
}

/// The address of an account typed as a username and a server domain. A username that already holds
/// an `@` is taken whole. Lower-cased, as the worker names accounts.
pub fn account_jid(user: &str, domain: &str) -> String {
    let user = user.trim();
    if user.contains('@') {
        return user.to_lowercase();
    }
    format!("{}@{}", user, domain.trim()).to_lowercase()
}

/// How one registration field is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldInput {
    /// `<input type=text>`.
    Text,
    /// `<input type=password>`.
    Password,
    /// `<input type=hidden>` keeping the server's value.
    Hidden,
    /// `<input type=checkbox>`.
    Checkbox,
    /// A text with no input (`fixed`).
    Fixed,
    /// `<textarea>`, one value per line.
    Multi,
}

/// The input for an XEP-0004 field type.
pub fn field_input(kind: &str) -> FieldInput {
    match kind {
        "hidden" => FieldInput::Hidden,
        "text-private" => FieldInput::Password,
        "boolean" => FieldInput::Checkbox,
        "fixed" => FieldInput::Fixed,
        "text-multi" | "jid-multi" | "list-multi" => FieldInput::Multi,
        _ => FieldInput::Text,
    }
}

/// The `name` of a field's input.
pub fn field_name(var: &str) -> String {
    format!("reg-field-{var}")
}

/// The values to submit: hidden fields keep the server's values, fixed ones are left out, a checkbox is
/// `1` or `0`, a multi-line field gives one value per non-empty line. `entered` maps a field's `var` to
/// what the person typed (or `"true"`/`"false"` for a checkbox).
pub fn form_values(
    fields: &[FormField],
    entered: &dyn Fn(&str) -> Option<String>,
) -> Vec<FormValue> {
    let mut out = Vec::new();
    for field in fields {
        let values = match field_input(&field.kind) {
            FieldInput::Fixed => continue,
            FieldInput::Hidden => field.values.clone(),
            FieldInput::Checkbox => {
                let on = entered(&field.var).is_some_and(|v| v == "true");
                vec![if on { "1" } else { "0" }.to_string()]
            }
            FieldInput::Multi => entered(&field.var)
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            FieldInput::Text | FieldInput::Password => match entered(&field.var) {
                Some(v) if !v.is_empty() => vec![v],
                _ => Vec::new(),
            },
        };
        out.push(FormValue {
            var: field.var.clone(),
            values,
        });
    }
    out
}

/// Only `data:image/…` URLs are shown as images (never a remote address: no third-party requests).
pub fn is_inline_image(url: &str) -> bool {
    url.starts_with("data:image/")
}

/// The QR code of `text`: its width in modules and the modules row by row (`true` = dark).
pub fn qr_matrix(text: &str) -> Option<(usize, Vec<bool>)> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some((width, dark))
}

/// The auto-lock delays offered, as `#auto-lock` values; `never` turns it off.
pub const AUTO_LOCK_CHOICES: [&str; 5] = ["1", "5", "15", "60", "never"];

/// The auto-lock delay in milliseconds for a stored `#auto-lock` value (default 15 minutes).
pub fn auto_lock_ms(stored: Option<&str>) -> Option<f64> {
    match stored.unwrap_or("15") {
        "never" => None,
        value => {
            let minutes: u32 = value.parse().unwrap_or(15);
            Some(f64::from(minutes.max(1)) * 60_000.0)
        }
    }
}

/// A roster as the worker sent it, sorted by address with one entry per address (the last wins):
/// the order the contact list shows and the one [`roster_upsert`] keeps.
pub fn roster_sorted(mut contacts: Vec<Contact>) -> Vec<Contact> {
    // Stable: of two entries for one address, the later stays later.
    contacts.sort_by(|a, b| a.jid.cmp(&b.jid));
    let mut out: Vec<Contact> = Vec::with_capacity(contacts.len());
    for contact in contacts {
        match out.last_mut() {
            Some(last) if last.jid == contact.jid => *last = contact,
            _ => out.push(contact),
        }
    }
    out
}

/// Puts `contact` in the sorted `roster`, in place of the entry with its address.
pub fn roster_upsert(roster: &mut Vec<Contact>, contact: Contact) {
    match roster.binary_search_by(|c| c.jid.cmp(&contact.jid)) {
        Ok(at) => roster[at] = contact,
        Err(at) => roster.insert(at, contact),
    }
}

/// Takes the contact with address `jid` out of the sorted `roster`.
pub fn roster_remove(roster: &mut Vec<Contact>, jid: &str) {
    if let Ok(at) = roster.binary_search_by(|c| c.jid.as_str().cmp(jid)) {
        roster.remove(at);
    }
}

/// Whether `contact` matches a search, given in lower case: in its name or its address.
pub fn contact_matches(contact: &Contact, needle: &str) -> bool {
    needle.is_empty()
        || contact.jid.to_lowercase().contains(needle)
        || contact
            .name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(needle))
}

/// The rows of a list of `total` rows of `row` pixels each to put in the page, when it is scrolled
/// `scroll_top` pixels down and `viewport` pixels of it can show: those in view, plus `overscan`
/// rows either side so a quick flick does not show blank rows.
pub fn visible_rows(
    scroll_top: f64,
    viewport: f64,
    row: f64,
    total: usize,
    overscan: usize,
) -> std::ops::Range<usize> {
    if total == 0 || row.is_nan() || row <= 0.0 {
        return 0..total.min(overscan);
    }
    // Float to integer casts saturate (NaN and negatives give 0).
    let in_view = (viewport.max(0.0) / row).ceil() as usize + 1;
    // Scrolled past the end (the list just got shorter): the last rows, never none.
    let first_in_view = ((scroll_top.max(0.0) / row) as usize).min(total.saturating_sub(in_view));
    let start = first_in_view.saturating_sub(overscan).min(total);
    let end = first_in_view
        .saturating_add(in_view)
        .saturating_add(overscan)
        .min(total);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use candado_api::{AccountFailure, Presence, Subscription};

    use super::*;

    fn chat_message(id: &str, delivery: candado_api::Delivery) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            direction: candado_api::Direction::Outgoing,
            text: format!("text of {id}").into(),
            encrypted: true,
            delivery,
            at: 1,
        }
    }

    #[test]
    fn message_dates_name_the_month_in_the_language() {
        for (lang, [year, month, day, hour, minute], shown) in [
            (Lang::Es, [2026, 12, 7, 22, 38], "7 dic 2026, 22:38"),
            (Lang::En, [2026, 12, 7, 22, 38], "7 Dec 2026, 22:38"),
            (Lang::Es, [2025, 1, 31, 0, 5], "31 ene 2025, 00:05"),
            (Lang::En, [2025, 9, 1, 9, 0], "1 Sep 2025, 09:00"),
            // A month out of range (never from a Date) is shown as unknown, not a panic.
            (Lang::En, [2025, 0, 1, 9, 0], "1 ? 2025, 09:00"),
            (Lang::En, [2025, 13, 1, 9, 0], "1 ? 2025, 09:00"),
        ] {
            assert_eq!(message_date(lang, year, month, day, hour, minute), shown);
        }
    }

    #[test]
    fn a_line_keeps_its_key_until_what_it_shows_changes() {
        use candado_api::Delivery;
        let queued = Item::Message(chat_message("m1", Delivery::Queued));
        let same = Item::Message(chat_message("m1", Delivery::Queued));
        let sent = Item::Message(chat_message("m1", Delivery::Sent));
        assert_eq!(item_key(Lang::Es, 0, &queued), item_key(Lang::Es, 0, &same));
        // Its delivery state changed: the line is built again.
        assert_ne!(item_key(Lang::Es, 0, &queued), item_key(Lang::Es, 0, &sent));
        // The same line in another place, or in another language, is another line.
        assert_ne!(
            item_key(Lang::Es, 0, &queued),
            item_key(Lang::Es, 1, &queued)
        );
        assert_ne!(
            item_key(Lang::Es, 0, &queued),
            item_key(Lang::En, 0, &queued)
        );
        // Two notices of one kind in two places stay two lines.
        let on = Item::Notice(Notice::HistoryOn);
        assert_ne!(item_key(Lang::Es, 2, &on), item_key(Lang::Es, 3, &on));
        assert_ne!(
            item_key(Lang::Es, 2, &on),
            item_key(Lang::Es, 2, &Item::Notice(Notice::HistoryOff))
        );
        let failed = |condition: &str| Item::Failed {
            id: "m1".into(),
            condition: condition.into(),
        };
        assert_ne!(
            item_key(Lang::Es, 4, &failed("a")),
            item_key(Lang::Es, 4, &failed("b"))
        );
    }

    #[test]
    fn the_kept_tail_is_the_last_messages_with_the_count_above_them() {
        use candado_api::Delivery;
        let all: Vec<ChatMessage> = (0..450)
            .map(|i| chat_message(&format!("k{i}"), Delivery::Sent))
            .collect();
        let (hidden, tail) = kept_tail(&all, 200);
        assert_eq!(hidden, 250);
        assert_eq!(tail.len(), 200);
        assert_eq!(tail[0].id, "k250");
        assert_eq!(tail[199].id, "k449");
        let (hidden, tail) = kept_tail(&all, 600);
        assert_eq!((hidden, tail.len()), (0, 450));
        let (hidden, tail) = kept_tail(&all[..0], 200);
        assert_eq!((hidden, tail.len()), (0, 0));
        let (hidden, tail) = kept_tail(&all, 0);
        assert_eq!((hidden, tail.len()), (450, 0));
    }

    #[test]
    fn the_screen_follows_the_vault_then_the_route() {
        let home = Route::Home;
        assert_eq!(screen(None, &home, false, false), Screen::Starting);
        assert_eq!(
            screen(Some(VaultState::Absent), &home, false, false),
            Screen::FirstRun
        );
        assert_eq!(
            screen(Some(VaultState::Locked), &home, false, true),
            Screen::Unlock
        );
        assert_eq!(
            screen(Some(VaultState::Unlocked), &home, true, false),
            Screen::Working
        );
        assert_eq!(
            screen(Some(VaultState::Unlocked), &home, false, false),
            Screen::AddAccount
        );
        assert_eq!(
            screen(Some(VaultState::Unlocked), &home, false, true),
            Screen::Contacts
        );
        let chat = Route::Chat("bob@localhost".into());
        assert_eq!(
            screen(Some(VaultState::Unlocked), &chat, false, true),
            Screen::Chat
        );
        assert_eq!(
            screen(Some(VaultState::Unlocked), &Route::AddAccount, false, true),
            Screen::AddAccount
        );
        assert_eq!(Screen::FirstRun.id(), "first-run");
        let group = Route::Group("sala@conference.localhost".into());
        assert_eq!(
            screen(Some(VaultState::Unlocked), &group, false, true),
            Screen::Group
        );
        assert_eq!(Screen::Group.id(), "group");
    }

    #[test]
    fn the_default_nickname_is_the_username() {
        assert_eq!(default_nick("alice@localhost"), "alice");
        assert_eq!(default_nick("bob"), "bob");
    }

    #[test]
    fn strength_grows_with_length_and_variety() {
        assert_eq!(passphrase_strength(""), 0);
        assert_eq!(passphrase_strength("aaaaaaaaaaaa"), 0);
        assert_eq!(passphrase_strength("password1"), 0);
        assert_eq!(passphrase_strength("abcdefgh"), 0);
        assert!(passphrase_strength("Tr0mb*n") <= 2);
        assert_eq!(
            passphrase_strength("caballo correcto pila grapa"),
            4,
            "{}",
            entropy_bits("caballo correcto pila grapa")
        );
        assert!(passphrase_strength("milanesa con pure") >= 3);
        assert!(entropy_bits("ricky") < entropy_bits("ricky ricardo"));
    }

    #[test]
    fn padlock_keys() {
        assert_eq!(padlock_key(Padlock::NotEncrypted), "not_encrypted");
        assert_eq!(
            padlock_key(Padlock::EncryptedUnverified),
            "encrypted_unverified"
        );
        assert_eq!(padlock_key(Padlock::Verified), "verified");
    }

    #[test]
    fn notices_have_the_api_tag() {
        // The tags are the api's serde names.
        for n in [
            Notice::PrivateStarted { verified: false },
            Notice::FingerprintChanged {
                fingerprint: "AAAA BBBB".into(),
            },
            Notice::Verified,
            Notice::VerificationFailed,
            Notice::StoredEncryptedMessage,
            Notice::PeerError { text: "x".into() },
            Notice::HistoryOn,
            Notice::HistoryOff,
        ] {
            let wire = serde_json::to_value(&n).unwrap();
            assert_eq!(wire["notice"], notice_key(&n));
        }
    }

    #[test]
    fn account_states_use_the_api_tags() {
        for state in [
            AccountState::GeneratingKey,
            AccountState::Reconnecting {
                attempt: 1,
                retry_in_ms: 3,
            },
            AccountState::Online {
                jid: "a@b/c".into(),
            },
            AccountState::Failed {
                reason: AccountFailure::AuthFailed,
                detail: "x".into(),
            },
        ] {
            let wire = serde_json::to_value(&state).unwrap();
            assert_eq!(wire["state"], account_state_key(&state));
        }
    }

    fn field(var: &str, kind: &str, values: &[&str]) -> FormField {
        FormField {
            var: var.into(),
            kind: kind.into(),
            label: None,
            required: false,
            values: values.iter().map(|v| v.to_string()).collect(),
            media: Vec::new(),
        }
    }

    #[test]
    fn form_fields_map_to_inputs_and_back() {
        assert_eq!(field_input("hidden"), FieldInput::Hidden);
        assert_eq!(field_input("text-private"), FieldInput::Password);
        assert_eq!(field_input("text-single"), FieldInput::Text);
        assert_eq!(field_input("something-new"), FieldInput::Text);
        assert_eq!(field_name("ocr"), "reg-field-ocr");
        let fields = [
            field("FORM_TYPE", "hidden", &["jabber:iq:register"]),
            field("challenge", "hidden", &["abc"]),
            field("note", "fixed", &["Type the digits"]),
            field("ocr", "text-single", &[]),
            field("tos", "boolean", &[]),
            field("why", "text-multi", &[]),
        ];
        let entered = |var: &str| match var {
            "ocr" => Some("7x4".to_string()),
            "tos" => Some("true".to_string()),
            "why" => Some("one\n\ntwo ".to_string()),
            "challenge" => Some("tampered".to_string()),
            _ => None,
        };
        let values = form_values(&fields, &entered);
        let get = |var: &str| {
            values
                .iter()
                .find(|v| v.var == var)
                .map(|v| v.values.clone())
        };
        assert_eq!(get("FORM_TYPE"), Some(vec!["jabber:iq:register".into()]));
        assert_eq!(get("challenge"), Some(vec!["abc".into()]));
        assert_eq!(get("note"), None);
        assert_eq!(get("ocr"), Some(vec!["7x4".into()]));
        assert_eq!(get("tos"), Some(vec!["1".into()]));
        assert_eq!(get("why"), Some(vec!["one".into(), "two".into()]));
        assert!(is_inline_image("data:image/png;base64,AAAA"));
        assert!(!is_inline_image("https://evil.example/x.png"));
    }

    #[test]
    fn account_address_from_user_and_domain() {
        assert_eq!(account_jid(" Alice ", "Example.org"), "alice@example.org");
        assert_eq!(account_jid("bob@other.net", "example.org"), "bob@other.net");
    }

    #[test]
    fn qr_matrix_of_a_fingerprint() {
        let fp = "0123ABCD 4567EF01 89ABCDEF 01234567 89ABCDEF";
        let (width, modules) = qr_matrix(fp).unwrap();
        // 44 bytes at error correction M fit in version 3 (29×29 modules).
        assert_eq!(width, 29);
        assert_eq!(modules.len(), width * width);
        // Finder pattern: the top-left corner module is dark, the one inside its white ring is light.
        assert!(modules[0]);
        assert!(!modules[width + 1]);
        assert!(modules[2 * width + 2]);
    }

    #[test]
    fn auto_lock_delays() {
        assert_eq!(auto_lock_ms(None), Some(15.0 * 60_000.0));
        assert_eq!(auto_lock_ms(Some("1")), Some(60_000.0));
        assert_eq!(auto_lock_ms(Some("never")), None);
        assert_eq!(auto_lock_ms(Some("junk")), Some(15.0 * 60_000.0));
        assert_eq!(
            policy_from_key(policy_key(OtrPolicy::Always)),
            Some(OtrPolicy::Always)
        );
    }

    fn contact(jid: &str, name: Option<&str>) -> Contact {
        Contact {
            jid: jid.into(),
            name: name.map(Into::into),
            subscription: Subscription::Both,
            pending_out: false,
            presence: Presence::Offline,
        }
    }

    fn jids(roster: &[Contact]) -> Vec<&str> {
        roster.iter().map(|c| c.jid.as_str()).collect()
    }

    #[test]
    fn a_roster_is_kept_sorted_by_address_with_one_entry_each() {
        let mut roster = roster_sorted(vec![
            contact("c@x", None),
            contact("a@x", Some("old")),
            contact("b@x", None),
            contact("a@x", Some("new")),
        ]);
        assert_eq!(jids(&roster), ["a@x", "b@x", "c@x"]);
        assert_eq!(roster[0].name.as_deref(), Some("new"));

        let mut online = contact("b@x", None);
        online.presence = Presence::Available;
        roster_upsert(&mut roster, online);
        roster_upsert(&mut roster, contact("0@x", None));
        roster_upsert(&mut roster, contact("bb@x", None));
        roster_upsert(&mut roster, contact("z@x", None));
        assert_eq!(jids(&roster), ["0@x", "a@x", "b@x", "bb@x", "c@x", "z@x"]);
        assert_eq!(roster[2].presence, Presence::Available);

        roster_remove(&mut roster, "bb@x");
        roster_remove(&mut roster, "nobody@x");
        roster_remove(&mut roster, "0@x");
        assert_eq!(jids(&roster), ["a@x", "b@x", "c@x", "z@x"]);
    }

    #[test]
    fn a_search_matches_the_name_or_the_address_in_any_case() {
        let ana = contact("ana.perez@riseup.net", Some("Ana Pérez"));
        assert!(contact_matches(&ana, ""));
        assert!(contact_matches(&ana, "pérez"));
        assert!(contact_matches(&ana, "riseup"));
        assert!(contact_matches(&ana, "ana."));
        assert!(!contact_matches(&ana, "juan"));
        assert!(contact_matches(&contact("JUAN@x", None), "juan"));
    }

    #[test]
    fn only_the_rows_in_view_and_a_margin_are_rendered() {
        // 5 000 rows of 64 px, 740 px of screen.
        assert_eq!(visible_rows(0.0, 740.0, 64.0, 5000, 8), 0..21);
        // Scrolled to row 100: rows 92 to 120.
        assert_eq!(visible_rows(6400.0, 740.0, 64.0, 5000, 8), 92..121);
        // At the very end, never past the last row.
        assert_eq!(visible_rows(319_260.0, 740.0, 64.0, 5000, 8), 4979..5000);
        // Scrolled past the end of a list that just got shorter: its last rows.
        assert_eq!(visible_rows(1e12, 740.0, 64.0, 5000, 8), 4979..5000);
        assert_eq!(visible_rows(6400.0, 740.0, 64.0, 1, 8), 0..1);
        // A short list is rendered whole.
        assert_eq!(visible_rows(0.0, 740.0, 64.0, 3, 8), 0..3);
        assert_eq!(visible_rows(0.0, 740.0, 64.0, 0, 8), 0..0);
        // Nonsense measurements do not panic and still show the top.
        assert_eq!(visible_rows(f64::NAN, f64::NAN, 64.0, 100, 8), 0..9);
        assert_eq!(visible_rows(-50.0, 740.0, 64.0, 100, 8), 0..21);
        assert_eq!(visible_rows(0.0, 740.0, 0.0, 100, 8), 0..8);
    }
}
