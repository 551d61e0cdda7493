//! Small browser helpers: local storage for the UI's own settings (never a secret), focus, the
//! document's language and visibility, and "New message" notifications.

use wasm_bindgen::JsCast;

/// `localStorage` keys the UI uses. None of them holds a secret.
pub mod keys {
    /// "1" when the person chose to skip the app passphrase.
    pub const PASSPHRASE_SKIPPED: &str = "candado.passphrase-skipped";
    /// The auto-lock delay in minutes, or "never".
    pub const AUTO_LOCK: &str = "candado.auto-lock";
    /// "1" when new-message notifications are on.
    pub const NOTIFICATIONS: &str = "candado.notifications";
    /// The interface language chosen in the settings ("es" or "en").
    pub const LANGUAGE: &str = "candado.language";
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Reads a local-storage value.
pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Writes a local-storage value (silently does nothing where storage is unavailable).
pub fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// Removes a local-storage value.
pub fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// The document, if any.
pub fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

/// Focuses the element with this id, if it is on the page.
pub fn focus(id: &str) {
    if let Some(el) = document()
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Sets `<html lang>`.
pub fn set_document_lang(tag: &str) {
    if let Some(root) = document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", tag);
    }
}

/// Whether the page is hidden (another tab, minimised, screen off).
pub fn page_hidden() -> bool {
    document().is_some_and(|d| d.hidden())
}

/// The browser's preferred languages, most preferred first.
pub fn browser_languages() -> Vec<String> {
    web_sys::window()
        .map(|w| {
            w.navigator()
                .languages()
                .iter()
                .filter_map(|v| v.as_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether notifications are allowed by the browser.
pub fn notifications_granted() -> bool {
    web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

/// Shows a notification with this title and nothing else (no sender, no text).
pub fn notify(title: &str) {
    if notifications_granted() {
        let _ = web_sys::Notification::new(title);
    }
}

/// Waits for the boot script's `window.candadoWorkerGate` (see `web/boot.js`): `true` once the runtime
/// worker may start, `false` if its files could not be checked. Without the boot script (tests, the
/// development server) there is no gate: `true` at once.
pub async fn worker_gate() -> bool {
    let Some(window) = web_sys::window() else {
        return true;
    };
    let gate = js_sys::Reflect::get(
        &window,
        &wasm_bindgen::JsValue::from_str("candadoWorkerGate"),
    )
    .ok()
    .and_then(|g| g.dyn_into::<js_sys::Promise>().ok());
    match gate {
        Some(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
        None => true,
    }
}

/// Asks the browser for notification permission; resolves to whether it was granted.
pub async fn request_notifications() -> bool {
    let Ok(promise) = web_sys::Notification::request_permission() else {
        return false;
    };
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(value) => value.as_string().as_deref() == Some("granted"),
        Err(_) => false,
    }
}

/// `window.confirm(text)`.
pub fn confirm(text: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(text).ok())
        .unwrap_or(false)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Keeps Tab inside a dialog: call from the dialog's `keydown` handler. Tab on its last focusable
/// element goes to the first, Shift+Tab on the first goes to the last.
pub fn trap_tab(ev: &web_sys::KeyboardEvent) {
    if ev.key() != "Tab" {
        return;
    }
    // The dialog around the focused element (Leptos delegates events, so not `currentTarget`).
    let Some(dialog) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| {
            el.closest("[role=dialog], [role=alertdialog]")
                .ok()
                .flatten()
        })
    else {
        return;
    };
    let Ok(list) = dialog.query_selector_all(
        "button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea",
    ) else {
        return;
    };
    let count = list.length();
    let (Some(first), Some(last)) = (
        list.item(0),
        count.checked_sub(1).and_then(|i| list.item(i)),
    ) else {
        return;
    };
    let active: Option<web_sys::Node> = document().and_then(|d| d.active_element()).map(Into::into);
    let target = if ev.shift_key() && active.as_ref() == Some(&first) {
        last
    } else if !ev.shift_key() && active.as_ref() == Some(&last) {
        first
    } else {
        return;
    };
    if let Ok(el) = target.dyn_into::<web_sys::HtmlElement>() {
        ev.prevent_default();
        let _ = el.focus();
    }
}
