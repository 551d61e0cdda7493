//! Opt-in history (chats are off the record by default), by two people in two browsers through a
//! real Prosody: alice keeps her chat with bob, bob does not; after reloading and unlocking alice
//! sees the earlier (encrypted) messages with their date and bob sees none; alice turns history off
//! (after confirming the deletion) and after the next reload nothing is left.
//!
//! Every step saves a screenshot under `target/e2e/history-*.png`.

use candado_e2e::steps::{
    befriend, first_run_and_register, open_chat, padlock, reload_and_unlock, send, wait_incoming,
};
use candado_e2e::{serve_app, Person};
use candado_harness::{fresh_dir, Prosody};

const KEPT: &str = "li.message[data-history='true']";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_kept_only_where_it_was_turned_on_and_deleted_when_turned_off() {
    let prosody = Prosody::start(&fresh_dir("e2e", "history").unwrap(), "localhost").unwrap();
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    let alice = Person::start("history-alice", "es-AR", "historia de alice 2026").await;
    let bob = Person::start("history-bob", "en-US", "bob keeps nothing 99").await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;
    // Both remember their password, so they are back online by themselves after unlocking.
    first_run_and_register(&alice, "alice", true, &endpoint).await;
    first_run_and_register(&bob, "bob", true, &endpoint).await;
    befriend(&alice, "alice@localhost", &bob, "bob@localhost").await;

    // Off the record by default, on both sides; alice turns it on for bob.
    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    assert!(!alice.is_checked("#history-toggle").await);
    assert!(!bob.is_checked("#history-toggle").await);
    let label = alice.text("label[for='history-toggle']").await;
    assert!(label.contains("cifrado en la bóveda"), "{label:?}");
    assert_eq!(alice.count("#history-skipped-warning").await, 0);
    alice.click("#history-toggle").await;
    alice
        .wait_attr("#history-toggle", "aria-checked", "true")
        .await;
    alice.wait_css("li.notice[data-notice='history_on']").await;
    assert!(alice.is_checked("#history-toggle").await);
    alice.shot("history-on").await;

    // Encrypted messages both ways.
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    padlock(&alice, "encrypted_unverified").await;
    padlock(&bob, "encrypted_unverified").await;
    let (first, second) = ("Esto queda guardado, ¿sí?", "Kept on your side only: 2 < 3");
    send(&alice, first).await;
    assert_eq!(wait_incoming(&bob, first).await, "true");
    send(&bob, second).await;
    assert_eq!(wait_incoming(&alice, second).await, "true");
    alice.shot("messages").await;

    // Both reload and unlock: alice sees the earlier messages, with their date; bob sees none.
    reload_and_unlock(&alice).await;
    reload_and_unlock(&bob).await;
    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    alice.wait_text_in(KEPT, ".message-text", first).await;
    alice.wait_text_in(KEPT, ".message-text", second).await;
    assert_eq!(alice.count(KEPT).await, 2);
    assert_eq!(
        alice
            .attr_of_item_with_text(KEPT, ".message-text", first, "data-direction")
            .await,
        "outgoing"
    );
    assert_eq!(
        alice
            .attr_of_item_with_text(KEPT, ".message-text", second, "data-encrypted")
            .await,
        "true"
    );
    assert_eq!(alice.count(&format!("{KEPT} time.message-date")).await, 2);
    alice.wait_visible("#history-divider").await;
    assert!(alice.is_checked("#history-toggle").await);
    alice.shot("history-after-reload").await;
    assert_eq!(bob.count("li.message").await, 0);
    assert!(!bob.is_checked("#history-toggle").await);
    bob.shot("nothing-after-reload").await;

    // alice turns it off: she is asked first; cancelling keeps everything.
    alice.click("#history-toggle").await;
    alice.wait_visible("#history-off-confirm").await;
    alice.shot("history-off-confirm").await;
    alice.click("#history-off-cancel").await;
    assert!(alice.is_checked("#history-toggle").await);
    assert_eq!(alice.count(KEPT).await, 2);
    alice.click("#history-toggle").await;
    alice.click("#history-off-confirm").await;
    alice
        .wait_attr("#history-toggle", "aria-checked", "false")
        .await;
    alice.wait_css("li.notice[data-notice='history_off']").await;
    assert_eq!(alice.count(KEPT).await, 0);
    alice.shot("history-off").await;

    // What is written now is not kept: after the next reload nothing is left.
    send(&alice, "Esto ya no se guarda").await;
    wait_incoming(&bob, "Esto ya no se guarda").await;
    reload_and_unlock(&alice).await;
    open_chat(&alice, "bob@localhost").await;
    assert!(!alice.is_checked("#history-toggle").await);
    assert_eq!(alice.count("li.message").await, 0);
    alice.shot("nothing-after-off").await;

    alice.close().await;
    bob.close().await;
}
