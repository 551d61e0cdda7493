//! The screens, mounted for real in the browser: events are fed into the store as the worker would
//! send them, the DOM is checked through the ids and data attributes the end-to-end tests rely on, and
//! the commands the screens send are recorded instead of reaching a worker.
#![cfg(target_arch = "wasm32")]

use std::sync::{Arc, Mutex};

use candado_api::*;
use candado_ui::lang::Lang;
use candado_ui::screens::Shell;
use candado_ui::store::{Status, Store};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

struct Mounted {
    root: Element,
    store: Store,
    sent: Arc<Mutex<Vec<Command>>>,
}

fn server() -> ServerConfig {
    ServerConfig {
        domain: "localhost".into(),
        websocket_url: "ws://127.0.0.1:5280/xmpp-websocket".into(),
    }
}

fn alice() -> AccountId {
    AccountId("alice@localhost".into())
}

fn mount() -> Mounted {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let store = Store::new(Lang::Es, move |c| log.lock().unwrap().push(c));
    store.server.set(Some(server()));
    leptos::mount::mount_to(root.clone().unchecked_into::<HtmlElement>(), move || {
        view! { <Shell store=store /> }
    })
    .forget();
    Mounted { root, store, sent }
}

async fn tick() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

impl Mounted {
    async fn apply(&self, event: Event) {
        self.store.apply(event);
        tick().await;
    }

    fn find(&self, selector: &str) -> Option<Element> {
        self.root.query_selector(selector).unwrap()
    }

    fn get(&self, selector: &str) -> Element {
        self.find(selector)
            .unwrap_or_else(|| panic!("no {selector} in {}", self.root.inner_html()))
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.root.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into())
            .collect()
    }

    fn text(&self, selector: &str) -> String {
        self.get(selector).text_content().unwrap_or_default()
    }

    fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.get(selector).get_attribute(name)
    }

    fn screen(&self) -> String {
        self.attr("#screen", "data-screen").unwrap()
    }

    async fn click(&self, selector: &str) {
        self.get(selector).unchecked_into::<HtmlElement>().click();
        tick().await;
    }

    async fn type_in(&self, selector: &str, value: &str) {
        let el = self.get(selector);
        if let Some(input) = el.dyn_ref::<HtmlInputElement>() {
            input.set_value(value);
        } else {
            el.unchecked_ref::<web_sys::HtmlTextAreaElement>()
                .set_value(value);
        }
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        let ev = web_sys::Event::new_with_event_init_dict("input", &init).unwrap();
        el.dispatch_event(&ev).unwrap();
        tick().await;
    }

    async fn press_enter(&self, selector: &str) {
        self.press(selector, "Enter").await;
    }

    async fn press(&self, selector: &str, key: &str) {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key(key);
        init.set_bubbles(true);
        init.set_cancelable(true);
        let ev =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        self.get(selector).dispatch_event(&ev).unwrap();
        tick().await;
    }

    fn disabled(&self, selector: &str) -> bool {
        self.get(selector).has_attribute("disabled")
    }

    /// The roles follow ARIA in HTML where axe-core (and so Lighthouse) checks them: a list or a form
    /// takes only the roles it may, and every list item sits in a list that is still a list.
    fn assert_roles_fit(&self, where_: &str) {
        for el in self.all("[role]") {
            let role = el.get_attribute("role").unwrap_or_default();
            let allowed: &[&str] = match el.tag_name().as_str() {
                "UL" | "OL" => &[
                    "directory",
                    "group",
                    "listbox",
                    "menu",
                    "menubar",
                    "none",
                    "presentation",
                    "radiogroup",
                    "tablist",
                    "toolbar",
                    "tree",
                ],
                "FORM" => &["search", "none", "presentation"],
                _ => continue,
            };
            assert!(
                allowed.contains(&role.as_str()),
                "{where_}: role {role:?} on {}",
                el.outer_html().chars().take(200).collect::<String>()
            );
        }
        for li in self.all("li") {
            let parent = li.parent_element().unwrap();
            let list = matches!(parent.tag_name().as_str(), "UL" | "OL" | "MENU")
                && parent
                    .get_attribute("role")
                    .is_none_or(|role| role == "list");
            assert!(
                list,
                "{where_}: a list item outside a list: {}",
                parent.outer_html().chars().take(200).collect::<String>()
            );
        }
    }

    fn take_sent(&self) -> Vec<Command> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    async fn unlocked_with_alice_online(&self) {
        self.apply(Event::Ready).await;
        self.apply(Event::Vault {
            state: VaultState::Locked,
        })
        .await;
        self.store.unlock("p");
        self.apply(Event::Vault {
            state: VaultState::Unlocked,
        })
        .await;
        self.apply(Event::SavedAccounts {
            accounts: vec![SavedAccount {
                account: alice(),
                websocket_url: server().websocket_url,
                password_saved: true,
            }],
        })
        .await;
        self.apply(Event::Account {
            account: alice(),
            state: AccountState::Online {
                jid: "alice@localhost/web".into(),
            },
        })
        .await;
        self.apply(Event::Roster {
            account: alice(),
            contacts: vec![Contact {
                jid: "bob@localhost".into(),
                name: None,
                subscription: Subscription::Both,
                pending_out: false,
                presence: Presence::Available,
            }],
        })
        .await;
        self.take_sent();
    }
}

/// A roster of 5 000: the list knows them all, puts only the rows in view in the page, keeps each
/// row's place for assistive technology, scrolls to the last, follows presence, and searches.
#[wasm_bindgen_test]
async fn a_roster_of_five_thousand_renders_only_the_rows_in_view() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    // Sent in reverse order: the list sorts by address.
    let contacts: Vec<Contact> = (0..5000)
        .rev()
        .map(|i| Contact {
            jid: format!("c{i:05}@localhost"),
            name: (i % 3 == 0).then(|| format!("Persona {i}")),
            subscription: Subscription::Both,
            pending_out: false,
            presence: Presence::Offline,
        })
        .collect();
    // In parts, as the worker sends a big roster.
    let parts = Event::Roster {
        account: alice(),
        contacts,
    }
    .into_messages();
    assert_eq!(parts.len(), 20);
    for part in parts {
        m.store.apply(part);
    }
    tick().await;
    assert_eq!(m.attr("#contacts", "data-total").as_deref(), Some("5000"));
    assert_eq!(m.text("#contacts-count"), "Contactos: 5000");
    assert_eq!(
        m.attr("#contacts-count", "aria-live").as_deref(),
        Some("off")
    );
    let rows = m.all("#contacts li.contact");
    assert!(
        (10..60).contains(&rows.len()),
        "{} rows in the page",
        rows.len()
    );
    assert_eq!(
        rows[0].get_attribute("data-jid").as_deref(),
        Some("c00000@localhost")
    );
    assert_eq!(rows[0].get_attribute("aria-posinset").as_deref(), Some("1"));
    assert_eq!(
        rows[0].get_attribute("aria-setsize").as_deref(),
        Some("5000")
    );
    assert!(m.find("li.contact[data-jid='c04999@localhost']").is_none());

    // Scrolled to the end, with the app's own stylesheet (which fixes the rows' height).
    let document = web_sys::window().unwrap().document().unwrap();
    let style = document.create_element("style").unwrap();
    style.set_text_content(Some(include_str!("../../../web/candado.css")));
    document.body().unwrap().append_child(&style).unwrap();
    let list = m.get("#contacts-scroll").unchecked_into::<HtmlElement>();
    assert!(list.client_height() > 0 && list.client_height() < list.scroll_height());
    list.set_scroll_top(i32::MAX);
    list.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    tick().await;
    let rows = m.all("#contacts li.contact");
    assert!(rows.len() < 60, "{} rows in the page", rows.len());
    style.remove();
    let last = rows.last().unwrap();
    assert_eq!(
        last.get_attribute("data-jid").as_deref(),
        Some("c04999@localhost")
    );
    assert_eq!(last.get_attribute("aria-posinset").as_deref(), Some("5000"));
    assert!(m.find("li.contact[data-jid='c00000@localhost']").is_none());

    // A presence change of a row in view shows at once.
    m.apply(Event::Contact {
        account: alice(),
        contact: Contact {
            jid: "c04998@localhost".into(),
            name: None,
            subscription: Subscription::Both,
            pending_out: false,
            presence: Presence::Available,
        },
    })
    .await;
    assert_eq!(
        m.attr("li.contact[data-jid='c04998@localhost']", "data-presence")
            .as_deref(),
        Some("available")
    );

    // The search finds by name or address, from the top of the results.
    m.type_in("#contact-search", "PERSONA 4998").await;
    assert_eq!(m.attr("#contacts", "data-total").as_deref(), Some("0"));
    assert_eq!(
        m.text("#contacts li.empty"),
        "Ningún contacto coincide con la búsqueda."
    );
    m.type_in("#contact-search", "persona 4995").await;
    let found = m.all("#contacts li.contact");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].get_attribute("data-jid").as_deref(),
        Some("c04995@localhost")
    );
    assert_eq!(m.text("#contacts-count"), "Contactos: 1");
    assert_eq!(
        m.attr("#contacts-count", "aria-live").as_deref(),
        Some("polite")
    );
    m.type_in("#contact-search", "c0004").await;
    assert_eq!(m.attr("#contacts", "data-total").as_deref(), Some("10"));
    m.type_in("#contact-search", "").await;
    assert_eq!(m.attr("#contacts", "data-total").as_deref(), Some("5000"));

    // The rows' texts follow a change of language.
    assert_eq!(m.text("#contacts li.contact .contact-open"), "Abrir chat");
    m.store.lang.set(Lang::En);
    tick().await;
    assert_eq!(m.text("#contacts li.contact .contact-open"), "Open chat");
    assert_eq!(m.text("#contacts li.contact .presence"), "offline");
}

#[wasm_bindgen_test]
async fn first_run_creates_the_vault_only_with_matching_passphrases() {
    let m = mount();
    assert_eq!(m.screen(), "starting");
    assert_eq!(
        m.attr("#connection-status", "data-state").as_deref(),
        Some("starting")
    );
    // The status area waits for the first screen: under "Loading…" it would be pushed down when
    // the screen arrives (a layout shift on every start).
    assert!(m.get(".status-area").has_attribute("hidden"));
    m.apply(Event::Ready).await;
    m.apply(Event::Connection {
        state: ConnectionState::Connecting {
            websocket_url: server().websocket_url,
        },
    })
    .await;
    assert!(m.get(".status-area").has_attribute("hidden"));
    m.apply(Event::Vault {
        state: VaultState::Absent,
    })
    .await;
    assert_eq!(m.screen(), "first-run");
    assert!(!m.get(".status-area").has_attribute("hidden"));
    assert_eq!(m.text("#connection-status"), "Conectando…");
    assert_eq!(m.attr("#passphrase", "type").as_deref(), Some("password"));
    assert!(m.disabled("#create-vault"));
    // The probe's status area is on this screen too.
    m.apply(Event::Connection {
        state: ConnectionState::Connected {
            domain: "localhost".into(),
        },
    })
    .await;
    assert_eq!(m.text("#connection-status"), "Conectado");
    assert_eq!(m.text("#server-domain"), "localhost");

    m.type_in("#passphrase", "abc").await;
    assert_eq!(
        m.attr("#passphrase-strength", "data-level").as_deref(),
        Some("0")
    );
    m.type_in("#passphrase", "caballo correcto pila grapa")
        .await;
    assert_eq!(
        m.attr("#passphrase-strength", "data-level").as_deref(),
        Some("4")
    );
    assert_eq!(m.text("#passphrase-strength-text"), "Fuerte");
    m.type_in("#passphrase-confirm", "caballo correcto pila")
        .await;
    assert!(m.disabled("#create-vault"));
    assert!(!m.text("#passphrase-mismatch").is_empty());
    m.type_in("#passphrase-confirm", "caballo correcto pila grapa")
        .await;
    assert!(!m.disabled("#create-vault"));
    m.click("#create-vault").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::CreateVault { passphrase }] if passphrase.expose() == "caballo correcto pila grapa"),
        "{sent:?}"
    );

    // Skipping warns first; cancelling sends nothing.
    assert!(m.find("#skip-warning").is_none());
    m.click("#skip-passphrase").await;
    assert_eq!(
        m.attr("#skip-warning", "role").as_deref(),
        Some("alertdialog")
    );
    m.click("#skip-cancel").await;
    assert!(m.find("#skip-warning").is_none());
    assert!(m.take_sent().is_empty());
    m.click("#skip-passphrase").await;
    // Tab stays inside the warning: from its last button back to its first.
    m.get("#skip-cancel")
        .unchecked_into::<HtmlElement>()
        .focus()
        .unwrap();
    m.press("#skip-cancel", "Tab").await;
    let active = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element()
        .unwrap();
    assert_eq!(active.id(), "skip-confirm");
    m.click("#skip-confirm").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::CreateVault { passphrase }] if passphrase.expose().is_empty()),
        "{sent:?}"
    );
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert_eq!(
        storage
            .get_item("candado.passphrase-skipped")
            .unwrap()
            .as_deref(),
        Some("1")
    );
    storage.remove_item("candado.passphrase-skipped").unwrap();

    m.apply(Event::Vault {
        state: VaultState::Working,
    })
    .await;
    assert_eq!(m.screen(), "working");
    assert_eq!(m.attr("#working", "role").as_deref(), Some("status"));
    assert_eq!(m.text("#working"), "Abriendo la bóveda…");
}

/// A failure before the first screen is known shows at once: the screen may never come.
#[wasm_bindgen_test]
async fn a_failure_while_starting_shows_the_status_area_at_once() {
    let m = mount();
    assert!(m.get(".status-area").has_attribute("hidden"));
    m.store.status.set(Status::WorkerError);
    tick().await;
    assert_eq!(m.screen(), "starting");
    assert!(!m.get(".status-area").has_attribute("hidden"));
    assert_eq!(
        m.attr("#connection-status", "data-state").as_deref(),
        Some("failed")
    );
    assert!(!m.text("#connection-help").is_empty());

    let m = mount();
    m.apply(Event::Ready).await;
    m.apply(Event::Connection {
        state: ConnectionState::Failed {
            reason: FailureReason::Unreachable,
            websocket_url: server().websocket_url,
        },
    })
    .await;
    assert_eq!(m.screen(), "starting");
    assert!(!m.get(".status-area").has_attribute("hidden"));
    assert!(!m.get("#retry").has_attribute("hidden"));
}

#[wasm_bindgen_test]
async fn unlock_shows_a_wrong_passphrase_then_contacts_and_requests() {
    let m = mount();
    m.apply(Event::Ready).await;
    m.apply(Event::Vault {
        state: VaultState::Locked,
    })
    .await;
    assert_eq!(m.screen(), "unlock");
    m.type_in("#unlock-passphrase", "wrong").await;
    m.click("#unlock").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::Unlock { passphrase }] if passphrase.expose() == "wrong"),
        "{sent:?}"
    );
    assert_eq!(m.text("#unlock-error"), "");
    m.apply(Event::VaultFailed {
        reason: VaultFailure::WrongPassphrase,
        detail: "x".into(),
    })
    .await;
    assert_eq!(m.text("#unlock-error"), "La contraseña no es correcta.");

    m.unlocked_with_alice_online().await;
    assert_eq!(m.screen(), "contacts");
    assert_eq!(m.text("#account-jid"), "alice@localhost");
    assert_eq!(
        m.attr("#account-state", "data-state").as_deref(),
        Some("online")
    );
    let contacts = m.all("#contacts li.contact");
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].get_attribute("data-jid").as_deref(),
        Some("bob@localhost")
    );
    assert_eq!(
        contacts[0].get_attribute("data-presence").as_deref(),
        Some("available")
    );

    m.apply(Event::SubscriptionRequest {
        account: alice(),
        jid: "carol@localhost".into(),
        status: None,
    })
    .await;
    assert_eq!(
        m.attr("#requests li.request", "data-jid").as_deref(),
        Some("carol@localhost")
    );
    m.click("#requests li.request .request-accept").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::AnswerSubscription { jid, accept: true, .. }] if jid == "carol@localhost"),
        "{sent:?}"
    );
    assert!(m.find("li.request").is_none());

    m.type_in("#add-contact-jid", "dave@localhost").await;
    m.click("#add-contact").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::AddContact { jid, .. }] if jid == "dave@localhost"),
        "{sent:?}"
    );
    m.apply(Event::Contact {
        account: alice(),
        contact: Contact {
            jid: "dave@localhost".into(),
            name: None,
            subscription: Subscription::None,
            pending_out: true,
            presence: Presence::Offline,
        },
    })
    .await;
    let dave = m.get("li.contact[data-jid='dave@localhost']");
    assert!(dave.text_content().unwrap().contains("invitación enviada"));

    // A saved account without a remembered password asks for it.
    m.apply(Event::Account {
        account: alice(),
        state: AccountState::Offline,
    })
    .await;
    assert!(m.find("#login").is_none(), "password is remembered");
    m.click("#lock-now").await;
    assert!(matches!(m.take_sent().as_slice(), [Command::Lock]));
}

#[wasm_bindgen_test]
async fn a_saved_account_without_password_logs_in_from_contacts() {
    let m = mount();
    m.apply(Event::Ready).await;
    m.apply(Event::Vault {
        state: VaultState::Locked,
    })
    .await;
    m.store.unlock("p");
    assert!(matches!(m.take_sent().as_slice(), [Command::Unlock { .. }]));
    m.apply(Event::Vault {
        state: VaultState::Unlocked,
    })
    .await;
    assert_eq!(m.screen(), "working", "waits for the saved accounts");
    m.apply(Event::SavedAccounts {
        accounts: vec![SavedAccount {
            account: alice(),
            websocket_url: "wss://example.org/ws".into(),
            password_saved: false,
        }],
    })
    .await;
    assert_eq!(m.screen(), "contacts");
    m.type_in("#login-password", "s3cret").await;
    m.click("#login").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::Login { account }]
            if account.jid == "alice@localhost" && account.password.expose() == "s3cret"
            && account.websocket_url == "wss://example.org/ws" && !account.remember_password),
        "{sent:?}"
    );
    m.apply(Event::Account {
        account: alice(),
        state: AccountState::GeneratingKey,
    })
    .await;
    assert_eq!(
        m.attr("#account-state", "data-state").as_deref(),
        Some("generating_key")
    );
    assert_eq!(m.text("#account-state"), "Creando tu clave de cifrado…");
}

#[wasm_bindgen_test]
async fn chat_shows_the_padlock_messages_as_text_and_notices() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.click("li.contact[data-jid='bob@localhost'] .contact-open")
        .await;
    assert_eq!(m.screen(), "chat");
    assert_eq!(
        m.attr("#screen", "data-peer").as_deref(),
        Some("bob@localhost")
    );
    assert_eq!(m.text("#chat-peer"), "bob@localhost");
    assert_eq!(
        m.attr("#padlock", "data-padlock").as_deref(),
        Some("not_encrypted")
    );
    assert_eq!(m.text("#padlock-label"), "No cifrado");
    assert!(m.find("#padlock svg").is_some());

    m.click("#padlock").await;
    assert!(m.find("#padlock-menu").is_some());
    assert_eq!(m.text("#start-private"), "Iniciar cifrado");
    m.click("#start-private").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::StartPrivate { peer, .. }] if peer == "bob@localhost"),
        "{sent:?}"
    );

    m.apply(Event::Padlock {
        account: alice(),
        peer: "bob@localhost".into(),
        padlock: PadlockView {
            state: Padlock::EncryptedUnverified,
            fingerprint: Some("AAAAAAAA BBBBBBBB CCCCCCCC DDDDDDDD EEEEEEEE".into()),
            finished: false,
            queued: 2,
        },
    })
    .await;
    assert_eq!(
        m.attr("#padlock", "data-padlock").as_deref(),
        Some("encrypted_unverified")
    );
    assert_eq!(m.text("#padlock-label"), "Cifrado, sin verificar");
    assert!(m.text("#padlock-queued").contains('2'));
    assert!(m.text("#announcer").contains("Cifrado, sin verificar"));
    m.apply(Event::Notice {
        account: alice(),
        peer: "bob@localhost".into(),
        notice: Notice::PrivateStarted { verified: false },
    })
    .await;
    m.apply(Event::Message {
        account: alice(),
        peer: "bob@localhost".into(),
        message: ChatMessage {
            id: "m1".into(),
            direction: Direction::Incoming,
            text: "<b>hola</b><img src=x onerror=alert(1)>".into(),
            encrypted: true,
            delivery: Delivery::Received,
            at: 1,
        },
    })
    .await;
    let notice = m.get("#messages li.notice");
    assert_eq!(
        notice.get_attribute("data-notice").as_deref(),
        Some("private_started")
    );
    assert!(notice
        .text_content()
        .unwrap()
        .contains("Conversación privada iniciada"));
    let message = m.get("#messages li.message");
    assert_eq!(
        message.get_attribute("data-direction").as_deref(),
        Some("incoming")
    );
    assert_eq!(
        message.get_attribute("data-encrypted").as_deref(),
        Some("true")
    );
    assert_eq!(
        message.get_attribute("data-delivery").as_deref(),
        Some("received")
    );
    assert_eq!(
        m.text(".message-text"),
        "<b>hola</b><img src=x onerror=alert(1)>"
    );
    assert!(m.find(".message-text b").is_none() && m.find(".message-text img").is_none());
    assert_eq!(m.text("#announcer"), "Nuevo mensaje de bob@localhost");
    // The messages are a list inside a live region (a `<ul>` cannot be the log itself).
    let log = m.get("[role=log]");
    assert_eq!(log.get_attribute("aria-label").as_deref(), Some("Mensajes"));
    assert!(log.query_selector("ul#messages").unwrap().is_some());
    m.assert_roles_fit("chat");

    // Enter sends; the outgoing message appears when the worker reports it, then updates in place.
    m.type_in("#message-input", "hola bob").await;
    m.press_enter("#message-input").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SendMessage { text, peer, .. }] if text == "hola bob" && peer == "bob@localhost"),
        "{sent:?}"
    );
    for delivery in [Delivery::Queued, Delivery::Sent] {
        m.apply(Event::Message {
            account: alice(),
            peer: "bob@localhost".into(),
            message: ChatMessage {
                id: "o1".into(),
                direction: Direction::Outgoing,
                text: "hola bob".into(),
                encrypted: true,
                delivery,
                at: 2,
            },
        })
        .await;
    }
    let outgoing = m.all("li.message[data-direction='outgoing']");
    assert_eq!(outgoing.len(), 1);
    assert_eq!(
        outgoing[0].get_attribute("data-delivery").as_deref(),
        Some("sent")
    );

    m.apply(Event::Notice {
        account: alice(),
        peer: "bob@localhost".into(),
        notice: Notice::FingerprintChanged {
            fingerprint: "1111".into(),
        },
    })
    .await;
    assert!(m.text("#alert-announcer").contains("1111"));
    assert!(m
        .find("li.notice[data-notice='fingerprint_changed']")
        .is_some());

    m.apply(Event::Padlock {
        account: alice(),
        peer: "bob@localhost".into(),
        padlock: PadlockView {
            state: Padlock::NotEncrypted,
            fingerprint: None,
            finished: true,
            queued: 0,
        },
    })
    .await;
    assert!(m
        .text("#padlock-finished")
        .contains("terminó la conversación privada"));
    m.apply(Event::CommandFailed {
        account: Some(alice()),
        detail: "finished".into(),
        kind: CommandFailure::WrongState,
    })
    .await;
    assert!(!m.text("#chat-error").is_empty());
    m.click("#back").await;
    assert_eq!(m.screen(), "contacts");
}

fn chat_message(id: &str, direction: Direction, text: &str, delivery: Delivery) -> ChatMessage {
    ChatMessage {
        id: id.into(),
        direction,
        text: text.into(),
        encrypted: true,
        delivery,
        at: 1_765_000_000_000,
    }
}

/// Tags `el` with a JS property: a line still tagged later is the same element, not a rebuilt one.
fn tag(el: &Element) {
    js_sys::Reflect::set(el, &"candadoTag".into(), &true.into()).unwrap();
}

fn tagged(el: &Element) -> bool {
    js_sys::Reflect::get(el, &"candadoTag".into())
        .unwrap()
        .is_truthy()
}

/// A long kept history shows a page of lines and more on request, and a new message, a delivery
/// update or an earlier page each build their own lines only: the lines already shown stay the same
/// elements (issue #8: a burst of messages rebuilt the whole conversation once per message).
#[wasm_bindgen_test]
async fn a_long_chat_shows_a_page_of_kept_lines_and_builds_only_new_ones() {
    use candado_ui::screens::HISTORY_PAGE;
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.click("li.contact[data-jid='bob@localhost'] .contact-open")
        .await;
    // More than two parts of HISTORY_PART: the worker sends it as History + HistoryMore.
    const KEPT: usize = 2 * HISTORY_PART + 100;
    let last = format!("k{}", KEPT - 1);
    let kept: Vec<ChatMessage> = (0..KEPT)
        .map(|i| {
            chat_message(
                &format!("k{i}"),
                Direction::Incoming,
                &format!("guardado {i}"),
                Delivery::Received,
            )
        })
        .collect();
    let parts = Event::History {
        account: alice(),
        peer: "bob@localhost".into(),
        keep: true,
        messages: kept,
    }
    .into_messages();
    assert_eq!(parts.len(), 3);
    for part in parts {
        m.apply(part).await;
    }
    let lines = m.all("#messages li.message.kept");
    assert_eq!(lines.len(), HISTORY_PAGE);
    assert_eq!(
        lines[0].get_attribute("data-id").as_deref(),
        Some(format!("k{}", KEPT - HISTORY_PAGE).as_str())
    );
    assert_eq!(
        lines[HISTORY_PAGE - 1].get_attribute("data-id").as_deref(),
        Some(last.as_str())
    );
    let date = m.get("#messages li.message.kept time.message-date");
    assert_eq!(
        date.get_attribute("datetime").as_deref(),
        Some("2025-12-06T05:46:40.000Z")
    );
    assert!(
        date.text_content().unwrap().contains(" dic 2025, "),
        "{:?}",
        date.text_content()
    );
    assert!(m
        .text("#history-more")
        .contains(&(KEPT - HISTORY_PAGE).to_string()));
    assert!(m.find("#history-divider").is_some());

    // Earlier messages: a page more above, the lines on show stay.
    let newest_kept = lines[HISTORY_PAGE - 1].clone();
    tag(&newest_kept);
    m.click("#history-more").await;
    let lines = m.all("#messages li.message.kept");
    assert_eq!(lines.len(), 2 * HISTORY_PAGE);
    assert_eq!(
        lines[0].get_attribute("data-id").as_deref(),
        Some(format!("k{}", KEPT - 2 * HISTORY_PAGE).as_str())
    );
    assert!(
        tagged(&lines[2 * HISTORY_PAGE - 1]),
        "a kept line was rebuilt"
    );
    assert!(m
        .text("#history-more")
        .contains(&(KEPT - 2 * HISTORY_PAGE).to_string()));

    // This session's messages: each builds its own line.
    let new = |id: &str, direction, delivery| Event::Message {
        account: alice(),
        peer: "bob@localhost".into(),
        message: chat_message(id, direction, &format!("nuevo {id}"), delivery),
    };
    m.apply(new("n0", Direction::Incoming, Delivery::Received))
        .await;
    m.apply(new("o1", Direction::Outgoing, Delivery::Queued))
        .await;
    let first = m.get("#messages li.message[data-id='n0']");
    tag(&first);
    for i in 1..30 {
        m.store.apply(new(
            &format!("n{i}"),
            Direction::Incoming,
            Delivery::Received,
        ));
    }
    tick().await;
    assert_eq!(m.all("#messages li.message:not(.kept)").len(), 31);
    assert!(
        tagged(&m.get("#messages li.message[data-id='n0']")),
        "a line was rebuilt by newer messages"
    );
    assert!(tagged(
        &m.get(&format!("#messages li.message[data-id='{last}']"))
    ));
    let last = m.all("#messages > li");
    assert_eq!(
        last.last().unwrap().get_attribute("data-id").as_deref(),
        Some("n29")
    );

    // The queued message is sent: its line shows the new state, the others stay.
    let queued = m.get("#messages li.message[data-id='o1']");
    assert_eq!(
        queued.get_attribute("data-delivery").as_deref(),
        Some("queued")
    );
    m.apply(new("o1", Direction::Outgoing, Delivery::Sent))
        .await;
    let sent = m.get("#messages li.message[data-id='o1']");
    assert_eq!(sent.get_attribute("data-delivery").as_deref(), Some("sent"));
    assert_eq!(m.all("#messages li.message[data-id='o1']").len(), 1);
    assert!(tagged(&m.get("#messages li.message[data-id='n0']")));

    // Another language rebuilds every line in it.
    m.store.lang.set(Lang::En);
    tick().await;
    assert!(m.text("#history-more").starts_with("Show earlier messages"));
    assert_eq!(m.text("#history-divider"), "End of the saved history");
    assert!(m
        .text("#messages li.message.kept time.message-date")
        .contains(" Dec 2025, "));
    assert!(!tagged(&m.get("#messages li.message[data-id='n0']")));
    assert_eq!(m.all("#messages li.message").len(), 2 * HISTORY_PAGE + 31);
}

#[wasm_bindgen_test]
async fn group_chats_join_with_a_permanent_banner_and_text_only_messages() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    let room = "sala@conference.localhost";
    assert_eq!(m.all("#rooms li.room").len(), 0);
    assert_eq!(
        m.get("#join-room-nick")
            .unchecked_into::<HtmlInputElement>()
            .value(),
        "alice"
    );
    m.type_in("#join-room-jid", " Sala@conference.localhost ")
        .await;
    m.click("#join-room").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::JoinRoom { room: r, nick, .. }] if r == room && nick == "alice"),
        "{sent:?}"
    );
    assert_eq!(
        m.attr(&format!("li.room[data-jid='{room}']"), "data-joined")
            .as_deref(),
        Some("false")
    );
    // The nickname is taken: the error is shown, the room is not listed.
    m.apply(Event::RoomJoinFailed {
        account: alice(),
        room: room.into(),
        condition: "conflict".into(),
        text: None,
    })
    .await;
    assert!(
        m.text("#rooms-error").contains("apodo ya está en uso"),
        "{}",
        m.text("#rooms-error")
    );
    assert!(m.find("li.room").is_none());
    assert_eq!(m.screen(), "contacts");

    m.type_in("#join-room-nick", "ali").await;
    m.click("#join-room").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::JoinRoom { nick, .. }] if nick == "ali"),
        "{sent:?}"
    );
    m.apply(Event::RoomJoined {
        account: alice(),
        room: room.into(),
        nick: "ali".into(),
        subject: None,
    })
    .await;
    // The room opens, the banner first.
    assert_eq!(m.screen(), "group");
    assert_eq!(m.attr("#screen", "data-room").as_deref(), Some(room));
    assert!(m.store.room_error.get_untracked().is_none());
    // The banner is the first thing on the screen, inside the part that stays on top.
    let banner = m.get("#screen > :first-child > :first-child");
    assert_eq!(banner.id(), "group-banner");
    assert_eq!(m.get("#screen > :first-child").class_name(), "group-top");
    assert_eq!(banner.get_attribute("role").as_deref(), Some("note"));
    assert!(m
        .text("#group-banner")
        .contains("no tienen cifrado de punta a punta"));
    assert_eq!(m.text("#room-subject"), "Sin tema");
    m.apply(Event::RoomOccupants {
        account: alice(),
        room: room.into(),
        nicks: vec!["ali".into(), "bob".into()],
    })
    .await;
    m.apply(Event::RoomSubject {
        account: alice(),
        room: room.into(),
        subject: "<i>Charla</i>".into(),
    })
    .await;
    assert_eq!(m.all("#occupants li.occupant").len(), 2);
    assert_eq!(
        m.attr("li.occupant[data-nick='ali']", "data-own")
            .as_deref(),
        Some("true")
    );
    assert_eq!(m.text("#room-subject"), "<i>Charla</i>");
    m.apply(Event::RoomMessage {
        account: alice(),
        room: room.into(),
        message: RoomMessage {
            id: "m1".into(),
            nick: "bob".into(),
            text: "<b>hola</b> ?OTR:AAMD".into(),
            own: false,
            delivery: Delivery::Received,
            at: 1,
        },
    })
    .await;
    let bob_says = "li.room-message[data-nick='bob'][data-own='false'] .message-text";
    assert_eq!(m.text(bob_says), "<b>hola</b> ?OTR:AAMD");
    assert!(m.find(".message-text b").is_none());
    // On screen: not announced.
    assert!(!m.text("#announcer").contains(room));

    m.type_in("#room-input", "hola a todos").await;
    m.press_enter("#room-input").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SendRoomMessage { room: r, text, .. }] if r == room && text == "hola a todos"),
        "{sent:?}"
    );
    m.apply(Event::RoomMessage {
        account: alice(),
        room: room.into(),
        message: RoomMessage {
            id: "m2".into(),
            nick: "ali".into(),
            text: "hola a todos".into(),
            own: true,
            delivery: Delivery::Sent,
            at: 2,
        },
    })
    .await;
    assert_eq!(m.all("li.room-message[data-own='true']").len(), 1);
    let log = m.get("[role=log]");
    assert_eq!(
        log.get_attribute("aria-label").as_deref(),
        Some("Mensajes de la sala")
    );
    assert!(log.query_selector("ul#room-messages").unwrap().is_some());
    m.assert_roles_fit("group");

    // Away from the room, a new message is announced without its text or author.
    m.click("#back").await;
    assert_eq!(m.screen(), "contacts");
    m.apply(Event::RoomMessage {
        account: alice(),
        room: room.into(),
        message: RoomMessage {
            id: "m3".into(),
            nick: "bob".into(),
            text: "secreto".into(),
            own: false,
            delivery: Delivery::Received,
            at: 3,
        },
    })
    .await;
    assert_eq!(m.text("#announcer"), format!("Nuevo mensaje en {room}"));
    m.click(&format!("li.room[data-jid='{room}'] .room-open"))
        .await;
    assert_eq!(m.screen(), "group");
    assert_eq!(m.all("li.room-message").len(), 3);

    m.click("#room-leave").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::LeaveRoom { room: r, .. }] if r == room),
        "{sent:?}"
    );
    assert_eq!(m.screen(), "contacts");
    m.apply(Event::RoomLeft {
        account: alice(),
        room: room.into(),
        removed: None,
    })
    .await;
    assert!(m.find("li.room").is_none());

    // Logging out forgets the account's rooms.
    m.apply(Event::RoomJoined {
        account: alice(),
        room: room.into(),
        nick: "ali".into(),
        subject: None,
    })
    .await;
    assert_eq!(m.all("li.room").len(), 1);
    m.apply(Event::Account {
        account: alice(),
        state: AccountState::Offline,
    })
    .await;
    assert!(m.find("li.room").is_none());
}

#[wasm_bindgen_test]
async fn room_passwords_invitations_subject_and_refused_messages() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.apply(Event::Roster {
        account: alice(),
        contacts: vec![Contact {
            jid: "bob@localhost".into(),
            name: None,
            subscription: Subscription::Both,
            pending_out: false,
            presence: Presence::Available,
        }],
    })
    .await;
    let room = "secreta@conference.localhost";
    // A password and the settings for a new room go with the join.
    m.type_in("#join-room-jid", room).await;
    m.type_in("#join-room-password", "abre sésamo").await;
    m.click("#join-room-members-only").await;
    m.click("#join-room").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::JoinRoom { password: Some(p), new_room, .. }]
            if p.expose() == "abre sésamo" && new_room.members_only && !new_room.persistent),
        "{sent:?}"
    );
    // The password field is emptied; a wrong password is told apart from a missing one.
    assert_eq!(
        m.get("#join-room-password")
            .unchecked_into::<HtmlInputElement>()
            .value(),
        ""
    );
    m.apply(Event::RoomJoinFailed {
        account: alice(),
        room: room.into(),
        condition: "not-authorized".into(),
        text: None,
    })
    .await;
    assert!(
        m.text("#rooms-error")
            .contains("Esa no es la contraseña de la sala"),
        "{}",
        m.text("#rooms-error")
    );
    m.type_in("#join-room-jid", room).await;
    m.click("#join-room").await;
    m.take_sent();
    m.apply(Event::RoomJoinFailed {
        account: alice(),
        room: room.into(),
        condition: "not-authorized".into(),
        text: None,
    })
    .await;
    assert!(
        m.text("#rooms-error")
            .contains("Esta sala pide una contraseña"),
        "{}",
        m.text("#rooms-error")
    );

    // Invitations: a contact's and a stranger's, never joined by themselves.
    let invitation = |room: &str, from: &str, from_contact: bool| Event::RoomInvitation {
        account: alice(),
        invitation: Invitation {
            room: room.into(),
            from: Some(from.into()),
            from_nick: None,
            from_contact,
            reason: Some("<b>vení</b>".into()),
            has_password: from_contact,
            mediated: true,
        },
    };
    m.apply(invitation(room, "bob@localhost", true)).await;
    m.apply(invitation(
        "otra@conference.localhost",
        "eve@evil.example",
        false,
    ))
    .await;
    assert!(m.take_sent().is_empty());
    assert_eq!(m.all("#invitations li.invitation").len(), 2);
    let bob_inv = format!("li.invitation[data-room='{room}']");
    assert_eq!(m.attr(&bob_inv, "data-stranger").as_deref(), Some("false"));
    assert_eq!(
        m.attr(
            "li.invitation[data-room='otra@conference.localhost']",
            "data-stranger"
        )
        .as_deref(),
        Some("true")
    );
    assert!(m
        .text("li.invitation[data-room='otra@conference.localhost']")
        .contains("No está entre tus contactos"));
    assert_eq!(
        m.text(&format!("{bob_inv} .invitation-reason")),
        "<b>vení</b>"
    );
    assert!(m.find(".invitation-reason b").is_none());
    m.click("li.invitation[data-room='otra@conference.localhost'] .invitation-decline")
        .await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::DeclineInvitation { room: r, .. }] if r == "otra@conference.localhost"),
        "{sent:?}"
    );
    m.click(&format!("{bob_inv} .invitation-join")).await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::JoinRoom { room: r, password: None, nick, .. }] if r == room && nick == "alice"),
        "{sent:?}"
    );
    assert!(m.find("li.invitation").is_none());
    m.apply(Event::RoomJoined {
        account: alice(),
        room: room.into(),
        nick: "alice".into(),
        subject: None,
    })
    .await;
    assert_eq!(m.screen(), "group");

    // The subject: sent; a refusal is said on the room's screen.
    m.type_in("#room-subject-input", "Orden del día").await;
    m.click("#room-subject-set").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SetRoomSubject { room: r, subject, .. }] if r == room && subject == "Orden del día"),
        "{sent:?}"
    );
    m.apply(Event::RoomSubjectFailed {
        account: alice(),
        room: room.into(),
        condition: "forbidden".into(),
    })
    .await;
    assert!(
        m.text("#room-error").contains("no te deja cambiar el tema"),
        "{}",
        m.text("#room-error")
    );

    // Inviting a contact, through the room.
    m.type_in("#room-invite-jid", "bob@localhost").await;
    m.click("#room-invite").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::InviteToRoom { room: r, jid, .. }] if r == room && jid == "bob@localhost"),
        "{sent:?}"
    );
    assert!(m.text("#room-invite-status").contains("bob@localhost"));

    // A message the room refuses is marked failed.
    m.apply(Event::RoomMessage {
        account: alice(),
        room: room.into(),
        message: RoomMessage {
            id: "m9".into(),
            nick: "alice".into(),
            text: "¿me leen?".into(),
            own: true,
            delivery: Delivery::Sent,
            at: 9,
        },
    })
    .await;
    assert_eq!(
        m.attr("li.room-message[data-id='m9']", "data-delivery")
            .as_deref(),
        Some("sent")
    );
    m.apply(Event::RoomMessageFailed {
        account: alice(),
        room: room.into(),
        id: "m9".into(),
        condition: "forbidden".into(),
    })
    .await;
    assert_eq!(
        m.attr("li.room-message[data-id='m9']", "data-delivery")
            .as_deref(),
        Some("failed")
    );
    assert!(m
        .text("li.room-message[data-id='m9']")
        .contains("No enviado"));

    // A room created without the settings asked for says so.
    m.apply(Event::RoomNotConfigured {
        account: alice(),
        room: room.into(),
    })
    .await;
    assert!(
        m.text("#room-error").contains("no tiene contraseña"),
        "{}",
        m.text("#room-error")
    );
}

#[wasm_bindgen_test]
async fn verify_dialog_asks_trusts_and_shows_the_qr_code() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.apply(Event::OwnFingerprint {
        account: alice(),
        fingerprint: "0123ABCD 4567EF01 89ABCDEF 01234567 89ABCDEF".into(),
    })
    .await;
    m.apply(Event::Padlock {
        account: alice(),
        peer: "bob@localhost".into(),
        padlock: PadlockView {
            state: Padlock::EncryptedUnverified,
            fingerprint: Some("AAAAAAAA BBBBBBBB CCCCCCCC DDDDDDDD EEEEEEEE".into()),
            finished: false,
            queued: 0,
        },
    })
    .await;
    m.click(".contact-open").await;
    m.click("#padlock").await;
    m.click("#verify").await;
    assert_eq!(m.attr("#verify-dialog", "role").as_deref(), Some("dialog"));
    assert!(m.text("#smp-hint").contains("mayúsculas"));
    // Each tab's panel is a `<div role="tabpanel">` named by its tab, around the form.
    let panel = m.get("[role=tabpanel]");
    assert_eq!(
        panel.get_attribute("aria-labelledby").as_deref(),
        Some("verify-question-tab")
    );
    assert!(panel
        .query_selector("form #smp-question")
        .unwrap()
        .is_some());
    m.assert_roles_fit("verify, question");
    m.type_in("#smp-question", "¿Cómo se llama mi perro? (minúscula)")
        .await;
    m.type_in("#smp-answer", "ricky").await;
    m.click("#smp-ask-submit").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SmpAsk { question: Some(q), answer, .. }]
            if q.starts_with("¿Cómo") && answer.expose() == "ricky"),
        "{sent:?}"
    );
    // Once asked, the dialog closes: the outcome arrives as a status line in the conversation.
    assert!(m.find("#verify-dialog").is_none());
    assert!(m.text("#announcer").contains("Esperando"));
    m.click("#padlock").await;
    m.click("#verify").await;
    m.click("#verify-secret-tab").await;
    assert_eq!(
        m.attr("[role=tabpanel]", "aria-labelledby").as_deref(),
        Some("verify-secret-tab")
    );
    m.assert_roles_fit("verify, secret");
    m.type_in("#smp-secret", "milanesa").await;
    m.click("#smp-secret-submit").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SmpAsk { question: None, answer, .. }] if answer.expose() == "milanesa"),
        "{sent:?}"
    );
    assert!(m.find("#verify-dialog").is_none());
    m.click("#padlock").await;
    m.click("#verify").await;
    m.click("#verify-fingerprint-tab").await;
    assert_eq!(
        m.text("#own-fingerprint"),
        "0123ABCD 4567EF01 89ABCDEF 01234567 89ABCDEF"
    );
    assert_eq!(
        m.text("#peer-fingerprint"),
        "AAAAAAAA BBBBBBBB CCCCCCCC DDDDDDDD EEEEEEEE"
    );
    assert_eq!(
        m.attr("#own-fingerprint-qr", "data-modules").as_deref(),
        Some("29")
    );
    let rects = m.all("#own-fingerprint-qr rect").len();
    assert!(rects > 100 && rects < 29 * 29, "{rects} rects");
    m.click("#trust-fingerprint").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SetTrust { trusted: true, fingerprint, .. }] if fingerprint.starts_with("AAAAAAAA")),
        "{sent:?}"
    );
    m.click("#verify-close").await;
    assert!(m.find("#verify-dialog").is_none());
}

#[wasm_bindgen_test]
async fn an_incoming_question_is_answered_or_cancelled() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.apply(Event::SmpQuestion {
        account: alice(),
        peer: "bob@localhost".into(),
        question: Some("Que almorzamos ayer?".into()),
    })
    .await;
    assert_eq!(
        m.attr("#smp-incoming", "role").as_deref(),
        Some("alertdialog")
    );
    assert_eq!(m.text("#smp-incoming-question"), "Que almorzamos ayer?");
    assert!(m.text("#smp-incoming").contains("mayúsculas"));
    m.type_in("#smp-incoming-answer", "milanesa").await;
    m.click("#smp-incoming-submit").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::SmpAnswer { answer, peer, .. }] if answer.expose() == "milanesa" && peer == "bob@localhost"),
        "{sent:?}"
    );
    assert!(m.find("#smp-incoming").is_none());
    m.apply(Event::SmpQuestion {
        account: alice(),
        peer: "bob@localhost".into(),
        question: None,
    })
    .await;
    assert!(m.text("#smp-incoming-question").contains("secreto"));
    m.click("#smp-incoming-cancel").await;
    assert!(matches!(
        m.take_sent().as_slice(),
        [Command::SmpAbort { .. }]
    ));
}

#[wasm_bindgen_test]
async fn add_account_confirms_the_server_then_registers_with_the_form() {
    let m = mount();
    m.apply(Event::Ready).await;
    m.apply(Event::Vault {
        state: VaultState::Absent,
    })
    .await;
    m.apply(Event::Vault {
        state: VaultState::Unlocked,
    })
    .await;
    assert_eq!(m.screen(), "add-account");
    assert_eq!(
        m.attr("#mode-register", "aria-pressed").as_deref(),
        Some("true")
    );
    assert_eq!(
        m.attr("#mode-login", "aria-pressed").as_deref(),
        Some("false")
    );
    let server_input: HtmlInputElement = m.get("#account-server").unchecked_into();
    assert_eq!(server_input.value(), "localhost");
    let remember: HtmlInputElement = m.get("#remember-password").unchecked_into();
    assert!(!remember.checked());
    assert!(m.find("#connection-status").is_some());

    m.type_in("#account-user", "alice").await;
    m.type_in("#account-password", "pw1").await;
    m.type_in("#account-password-confirm", "pw2").await;
    m.click("#account-submit").await;
    assert!(m.find("#server-confirm").is_none());
    assert!(!m.text("#account-error").is_empty());
    m.type_in("#account-password-confirm", "pw1").await;
    m.click("#account-submit").await;
    assert_eq!(m.attr("#server-confirm", "role").as_deref(), Some("dialog"));
    assert_eq!(m.text("#confirm-domain"), "localhost");
    assert_eq!(m.text("#confirm-endpoint"), server().websocket_url);
    assert!(
        m.take_sent().is_empty(),
        "no discovery for the configured domain"
    );
    m.click("#server-confirm-yes").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::Register { account }]
            if account.jid == "alice@localhost" && account.password.expose() == "pw1"
            && account.websocket_url == server().websocket_url && !account.remember_password),
        "{sent:?}"
    );
    m.apply(Event::Account {
        account: alice(),
        state: AccountState::Registering,
    })
    .await;
    assert_eq!(m.screen(), "add-account");
    assert_eq!(m.text("#account-progress"), "Creando la cuenta…");

    m.apply(Event::RegistrationForm {
        account: alice(),
        form: Form {
            title: None,
            instructions: Some("Escribí los números".into()),
            fields: vec![
                FormField {
                    var: "challenge".into(),
                    kind: "hidden".into(),
                    label: None,
                    required: false,
                    values: vec!["c1".into()],
                    media: vec![],
                },
                FormField {
                    var: "ocr".into(),
                    kind: "text-single".into(),
                    label: Some("Números".into()),
                    required: true,
                    values: vec![],
                    media: vec!["data:image/png;base64,iVBORw0KGgo=".into()],
                },
            ],
        },
    })
    .await;
    assert!(m
        .find("#reg-form input[name='reg-field-challenge'][type='hidden']")
        .is_some());
    assert_eq!(m.attr("#reg-form img", "alt").as_deref(), Some("Números"));
    m.type_in("input[name='reg-field-ocr']", "7411").await;
    m.click("#reg-form-submit").await;
    let sent = m.take_sent();
    match sent.as_slice() {
        [Command::SubmitRegistration { account, values }] => {
            assert_eq!(account, &alice());
            assert_eq!(
                values,
                &vec![
                    FormValue {
                        var: "challenge".into(),
                        values: vec!["c1".into()]
                    },
                    FormValue {
                        var: "ocr".into(),
                        values: vec!["7411".into()]
                    },
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    m.apply(Event::RegistrationFailed {
        account: alice(),
        condition: "conflict".into(),
        text: None,
    })
    .await;
    assert!(
        m.text("#account-error").contains("ya está en uso"),
        "{}",
        m.text("#account-error")
    );
    assert_eq!(m.attr("#account-error", "role").as_deref(), Some("alert"));

    // Online: the contacts of the new account.
    m.apply(Event::Account {
        account: alice(),
        state: AccountState::Online {
            jid: "alice@localhost/x".into(),
        },
    })
    .await;
    assert_eq!(m.screen(), "contacts");
    assert_eq!(m.text("#account-jid"), "alice@localhost");
}

#[wasm_bindgen_test]
async fn another_domain_is_discovered_or_typed() {
    let m = mount();
    m.apply(Event::Ready).await;
    m.apply(Event::Vault {
        state: VaultState::Unlocked,
    })
    .await;
    m.click("#mode-login").await;
    assert!(m.find("#account-password-confirm").is_none());
    m.type_in("#account-user", "bob").await;
    m.type_in("#account-server", "Example.org").await;
    m.type_in("#account-password", "pw").await;
    m.click("#account-submit").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::Discover { domain }] if domain == "example.org"),
        "{sent:?}"
    );
    assert!(m.disabled("#server-confirm-yes"));
    m.apply(Event::Discovered {
        domain: "example.org".into(),
        websocket_url: None,
    })
    .await;
    m.type_in("#account-endpoint", "wss://example.org/ws").await;
    assert_eq!(m.text("#confirm-endpoint"), "wss://example.org/ws");
    m.click("#server-confirm-yes").await;
    let sent = m.take_sent();
    assert!(
        matches!(sent.as_slice(), [Command::Login { account }]
            if account.jid == "bob@example.org" && account.websocket_url == "wss://example.org/ws"),
        "{sent:?}"
    );
    m.apply(Event::Account {
        account: AccountId("bob@example.org".into()),
        state: AccountState::Failed {
            reason: AccountFailure::AuthFailed,
            detail: "not-authorized".into(),
        },
    })
    .await;
    assert_eq!(m.screen(), "add-account");
    assert!(m.text("#account-error").contains("no son correctos"));
}

#[wasm_bindgen_test]
async fn settings_set_the_policy_and_the_language() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    m.click("#settings-open").await;
    assert_eq!(m.screen(), "settings");
    let policy: web_sys::HtmlSelectElement = m.get("#policy").unchecked_into();
    // The worker's report decides what the select shows (nothing about it is kept in the page).
    assert_eq!(policy.value(), "opportunistic");
    m.apply(Event::Policy {
        account: AccountId("alice@localhost".into()),
        policy: OtrPolicy::Manual,
    })
    .await;
    assert_eq!(policy.value(), "manual");
    policy.set_value("always");
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    policy
        .dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap())
        .unwrap();
    tick().await;
    let sent = m.take_sent();
    assert!(
        matches!(
            sent.as_slice(),
            [Command::SetPolicy {
                peer: None,
                policy: Some(OtrPolicy::Always),
                ..
            }]
        ),
        "{sent:?}"
    );
    let auto_lock: web_sys::HtmlSelectElement = m.get("#auto-lock").unchecked_into();
    assert_eq!(auto_lock.value(), "15");
    let language: web_sys::HtmlSelectElement = m.get("#language").unchecked_into();
    language.set_value("en");
    language
        .dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap())
        .unwrap();
    tick().await;
    assert_eq!(m.text("#settings-close"), "Back");
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert_eq!(
        storage.get_item("candado.language").unwrap().as_deref(),
        Some("en")
    );
    storage.remove_item("candado.language").unwrap();
    // Only non-secret UI settings live in localStorage: no account address among the keys.
    for i in 0..storage.length().unwrap() {
        let key = storage.key(i).unwrap().unwrap_or_default();
        assert!(!key.contains("alice"), "{key}");
    }
    m.click("#settings-close").await;
    assert_eq!(m.screen(), "contacts");
    assert_eq!(m.text("#lock-now"), "Lock now");
}

#[wasm_bindgen_test]
fn pure_parts_work_in_the_browser() {
    use candado_ui::logic::*;
    assert_eq!(passphrase_strength(""), 0);
    assert_eq!(passphrase_strength("caballo correcto pila grapa"), 4);
    assert_eq!(field_input("hidden"), FieldInput::Hidden);
    let (width, modules) = qr_matrix("0123ABCD 4567EF01 89ABCDEF 01234567 89ABCDEF").unwrap();
    assert_eq!((width, modules.len()), (29, 29 * 29));
}

/// The api's states and failures in words, in both languages (compiled by `leptos_i18n`).
#[wasm_bindgen_test]
fn states_and_failures_in_words() {
    use candado_ui::texts::*;
    let spanish = Lang::Es.locale();
    let english = Lang::En.locale();

    assert_eq!(padlock_label(Padlock::Verified, spanish), "Verificado");
    assert_eq!(
        padlock_label(Padlock::EncryptedUnverified, spanish),
        "Cifrado, sin verificar"
    );
    assert_eq!(
        padlock_label(Padlock::NotEncrypted, english),
        "Not encrypted"
    );
    assert_eq!(strength_label(9, english), "Strong");
    assert_eq!(td_string!(spanish, connected), "Conectado");
    assert_eq!(
        td_string!(spanish, new_message_from, jid = "bob@localhost"),
        "Nuevo mensaje de bob@localhost"
    );
    assert_eq!(
        td_string!(english, queued, n = 2),
        "Messages waiting for encryption: 2"
    );
    assert_eq!(
        td_string!(
            english,
            padlock_now,
            jid = "bob@localhost",
            state = "Verified"
        ),
        "bob@localhost: Verified"
    );

    let n = Notice::PrivateStarted { verified: false };
    assert_eq!(
        notice_text(&n, spanish),
        "Conversación privada iniciada. No verificado"
    );
    assert_eq!(
        notice_text(&Notice::PeerEndedPrivate, spanish),
        "Tu contacto terminó la conversación privada"
    );
    let changed = Notice::FingerprintChanged {
        fingerprint: "AAAA BBBB".into(),
    };
    assert!(notice_text(&changed, spanish).contains("AAAA BBBB"));
    assert!(notice_text(&Notice::HistoryOff, spanish).contains("se borró"));
    assert!(notice_text(&Notice::HistoryOn, english).contains("vault"));

    assert_eq!(
        account_state_text(&AccountState::GeneratingKey, spanish),
        "Creando tu clave de cifrado…"
    );
    assert!(registration_failure_text("conflict", None, english).contains("taken"));
    assert!(registration_failure_text("not-acceptable", Some("bad"), english).contains("bad"));

    assert!(room_failure_text("conflict", None, false, spanish).contains("apodo ya está en uso"));
    assert!(room_failure_text("conflict", Some("x"), false, english).contains("nickname"));
    assert!(room_failure_text("item-not-found", None, false, english).contains("item-not-found"));
    assert!(room_failure_text("gone", Some("closed"), false, english).contains("closed"));
    // A missing password and a wrong one are told apart.
    assert_eq!(
        room_failure_text("not-authorized", None, false, english),
        "This room needs a password: type it and join again."
    );
    assert_eq!(
        room_failure_text("not-authorized", None, true, english),
        "That is not the room's password."
    );
    assert!(room_failure_text("not-authorized", None, false, spanish).contains("contraseña"));
}

/// Hostile text, as a malicious server or peer would send it (issue #9): markup, event handlers,
/// `javascript:` links, SVG, entities, bidi overrides, zero-width characters, a 100 KB message.
fn hostile_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "<script>window.__xss = 1</script>",
        "<img src=x onerror=\"window.__xss = 1\">",
        "<svg onload=\"window.__xss = 1\"><circle r=\"9\"/></svg>",
        "<a href=\"javascript:window.__xss = 1\">abrir</a>",
        "\"><iframe src=\"javascript:window.__xss = 1\"></iframe>",
        "<style>body { display: none }</style>",
        "&lt;b&gt;no&lt;/b&gt; &amp;amp; &#60;i&#62;",
        "\u{202E}gnp.exe\u{202C} invertido",
        "cero\u{200B}ancho\u{200D}\u{FEFF}",
        "{{ n }} {jid} %s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push(format!("<b>{}</b>", "A".repeat(100 * 1024)));
    corpus
}

/// What a successful injection would leave behind.
fn assert_nothing_injected(m: &Mounted, where_: &str) {
    let window = web_sys::window().unwrap();
    let flag = js_sys::Reflect::get(&window, &"__xss".into()).unwrap();
    assert!(flag.is_undefined(), "{where_}: a script ran");
    for selector in [
        "script",
        "iframe",
        "img",
        "style",
        "circle",
        "a[href^='javascript']",
        "b",
    ] {
        assert!(
            m.all(selector).is_empty(),
            "{where_}: a <{selector}> was injected"
        );
    }
    let all = m.root.query_selector_all("*").unwrap();
    for i in 0..all.length() {
        let el: Element = all.item(i).unwrap().unchecked_into();
        let names = el.get_attribute_names();
        for n in 0..names.length() {
            let name = names.get(n).as_string().unwrap_or_default();
            assert!(
                !name.starts_with("on"),
                "{where_}: <{}> got an {name} attribute",
                el.tag_name()
            );
        }
    }
}

#[wasm_bindgen_test]
async fn hostile_text_is_only_ever_text() {
    let m = mount();
    m.unlocked_with_alice_online().await;
    let corpus = hostile_corpus();
    let long = corpus.last().unwrap().clone();

    // The contacts screen: roster names, subscription requests, invitations, error texts.
    for (i, text) in corpus.iter().enumerate() {
        m.apply(Event::Contact {
            account: alice(),
            contact: Contact {
                jid: format!("c{i}@localhost"),
                name: Some(text.clone()),
                subscription: Subscription::Both,
                pending_out: false,
                presence: Presence::Available,
            },
        })
        .await;
        m.apply(Event::SubscriptionRequest {
            account: alice(),
            jid: format!("r{i}@localhost"),
            status: Some(text.clone()),
        })
        .await;
        m.apply(Event::RoomInvitation {
            account: alice(),
            invitation: Invitation {
                room: format!("sala{i}@conference.localhost"),
                from: Some(format!("x{i}@localhost")),
                from_nick: Some(text.clone()),
                from_contact: false,
                reason: Some(text.clone().into()),
                has_password: false,
                mediated: true,
            },
        })
        .await;
        m.apply(Event::RoomJoinFailed {
            account: alice(),
            room: format!("otra{i}@conference.localhost"),
            condition: "gone".into(),
            text: Some(text.clone()),
        })
        .await;
    }
    assert_eq!(m.screen(), "contacts");
    assert_nothing_injected(&m, "contacts");
    let page = m.root.text_content().unwrap_or_default();
    assert!(
        page.contains("<script>window.__xss = 1</script>"),
        "the roster name is shown as typed"
    );
    assert!(page.contains("\u{202E}gnp.exe\u{202C}"));
    assert!(page.contains(&long), "the 100 KB name is kept whole");

    // A chat: message bodies, notices with the peer's error text, the peer's SMP question.
    m.click("li.contact[data-jid='bob@localhost'] .contact-open")
        .await;
    assert_eq!(m.screen(), "chat");
    for (i, text) in corpus.iter().enumerate() {
        m.apply(Event::Message {
            account: alice(),
            peer: "bob@localhost".into(),
            message: ChatMessage {
                id: format!("h{i}"),
                direction: Direction::Incoming,
                text: text.clone().into(),
                encrypted: i % 2 == 0,
                delivery: Delivery::Received,
                at: i as u64,
            },
        })
        .await;
        m.apply(Event::Notice {
            account: alice(),
            peer: "bob@localhost".into(),
            notice: Notice::PeerError {
                text: text.clone().into(),
            },
        })
        .await;
        m.apply(Event::MessageFailed {
            account: alice(),
            peer: "bob@localhost".into(),
            id: format!("h{i}"),
            condition: text.clone(),
        })
        .await;
    }
    assert_nothing_injected(&m, "chat");
    let log = m.text("[role=log]");
    for text in &corpus {
        assert!(log.contains(text.as_str()), "the message is shown as sent");
    }
    m.apply(Event::SmpQuestion {
        account: alice(),
        peer: "bob@localhost".into(),
        question: Some(corpus[2].clone().into()),
    })
    .await;
    assert_nothing_injected(&m, "incoming question");
    assert!(m
        .root
        .text_content()
        .unwrap_or_default()
        .contains(&corpus[2]));

    // A room: subject, nicknames, messages.
    let room = "sala@conference.localhost";
    m.apply(Event::RoomJoined {
        account: alice(),
        room: room.into(),
        nick: corpus[0].clone(),
        subject: Some(corpus[1].clone().into()),
    })
    .await;
    m.store
        .route
        .set(candado_ui::logic::Route::Group(room.into()));
    tick().await;
    assert_eq!(m.screen(), "group");
    m.apply(Event::RoomOccupants {
        account: alice(),
        room: room.into(),
        nicks: corpus.clone(),
    })
    .await;
    for (i, text) in corpus.iter().enumerate() {
        m.apply(Event::RoomMessage {
            account: alice(),
            room: room.into(),
            message: RoomMessage {
                id: format!("g{i}"),
                nick: text.clone(),
                text: text.clone().into(),
                own: false,
                delivery: Delivery::Received,
                at: i as u64,
            },
        })
        .await;
    }
    m.apply(Event::RoomSubject {
        account: alice(),
        room: room.into(),
        subject: corpus[3].clone().into(),
    })
    .await;
    assert_nothing_injected(&m, "group");
    let page = m.root.text_content().unwrap_or_default();
    assert!(page.contains(&corpus[3]), "the subject is shown as set");
    assert!(page.contains(&long));
    // Text that others chose is isolated for the bidi algorithm: a right-to-left override inside a
    // nickname or a message cannot reorder what the app writes around it.
    for selector in [
        ".message-nick",
        ".message-text",
        ".occupant",
        ".room-subject",
    ] {
        for el in m.all(selector) {
            assert_eq!(
                el.get_attribute("dir").as_deref(),
                Some("auto"),
                "{selector}"
            );
        }
    }
}
