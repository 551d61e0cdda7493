//! The guide's journey, by two people on two independent browser profiles (alice in Spanish, bob in
//! English), through the built app and a real Prosody: app passphrase, registration, contact
//! request, private conversation, verification with a question (wrong, then right, both ways),
//! reload and unlock with the trust kept, and the end of the private conversation.
//!
//! Every step saves a screenshot under `target/e2e/journey-*.png`.

use candado_e2e::steps::{
    answer, ask, befriend, choose_policy, first_run_and_register, open_chat, padlock, send,
    wait_incoming,
};
use candado_e2e::{csp_violations, serve_app, Person};
use candado_harness::{fresh_dir, Prosody, Way, WsProxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_walk_the_guide() {
    let prosody = Prosody::start(&fresh_dir("e2e", "journey").unwrap(), "localhost").unwrap();
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    let alice = Person::start("journey-alice", "es-AR", "alce azul 7 montañas").await;
    let bob = Person::start("journey-bob", "en-US", "bob's long passphrase 42").await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;

    // App passphrase and accounts (bob asks the app to remember his password; alice does not).
    first_run_and_register(&alice, "alice", false, &endpoint).await;
    first_run_and_register(&bob, "bob", true, &endpoint).await;

    // alice adds bob; bob accepts.
    befriend(&alice, "alice@localhost", &bob, "bob@localhost").await;
    alice.shot("contacts").await;

    // alice starts encryption: both padlocks "encrypted, not verified".
    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    padlock(&alice, "not_encrypted").await;
    alice.click("#padlock").await;
    alice.shot("padlock-menu").await;
    alice.click("#start-private").await;
    padlock(&alice, "encrypted_unverified").await;
    padlock(&bob, "encrypted_unverified").await;
    let label = alice.text("#padlock-label").await;
    assert!(label.contains("sin verificar"), "{label:?}");
    let label = bob.text("#padlock-label").await;
    assert!(label.contains("not verified"), "{label:?}");
    alice.shot("private-started").await;

    // Messages both ways, encrypted.
    send(&alice, "Hola Bob, ¿me leés?").await;
    assert_eq!(wait_incoming(&bob, "Hola Bob, ¿me leés?").await, "true");
    send(&bob, "<b>Yes</b> & more").await;
    assert_eq!(wait_incoming(&alice, "<b>Yes</b> & more").await, "true");
    alice.shot("messages").await;
    bob.shot("messages").await;

    // alice asks; bob answers wrong (the answer is case-sensitive): failure on both sides.
    let question = "¿Dónde nos conocimos?";
    ask(&alice, question, "Rosario").await;
    answer(&bob, question, "rosario").await;
    alice
        .wait_css("li.notice[data-notice='verification_failed']")
        .await;
    bob.wait_css("li.notice[data-notice='verification_failed']")
        .await;
    padlock(&alice, "encrypted_unverified").await;
    alice.shot("verification-failed").await;

    // Then right: verified for alice only.
    ask(&alice, question, "Rosario").await;
    answer(&bob, question, "Rosario").await;
    padlock(&alice, "verified").await;
    bob.wait_css("li.notice[data-notice='answered_correctly']")
        .await;
    padlock(&bob, "encrypted_unverified").await;
    alice.shot("verified").await;

    // bob asks alice: verified for both.
    let question = "What did we eat?";
    ask(&bob, question, "Empanadas").await;
    answer(&alice, question, "Empanadas").await;
    padlock(&bob, "verified").await;
    padlock(&alice, "verified").await;
    bob.shot("verified").await;

    // Both reload and unlock: the trust is still there at the next private conversation.
    for p in [&alice, &bob] {
        p.reload().await;
        p.wait_screen("unlock").await;
        p.fill("#unlock-passphrase", "wrong passphrase").await;
        p.click("#unlock").await;
        p.wait_visible("#unlock-error").await;
        p.shot("unlock-wrong").await;
        p.fill("#unlock-passphrase", p.passphrase()).await;
        p.click("#unlock").await;
        p.wait_screen("contacts").await;
    }
    // bob's password was remembered: he is online by himself. alice types hers.
    bob.wait_attr("#account-state", "data-state", "online")
        .await;
    alice.fill("#login-password", "alice-Contraseña-1").await;
    alice.click("#login").await;
    alice
        .wait_attr("#account-state", "data-state", "online")
        .await;
    open_chat(&alice, "bob@localhost").await;
    open_chat(&bob, "alice@localhost").await;
    alice.click("#padlock").await;
    alice.click("#start-private").await;
    padlock(&alice, "verified").await;
    padlock(&bob, "verified").await;
    alice.shot("verified-after-reload").await;

    // bob ends the private conversation: alice sees it and her padlock opens.
    bob.click("#padlock").await;
    bob.click("#end-private").await;
    padlock(&bob, "not_encrypted").await;
    alice
        .wait_css("li.notice[data-notice='peer_ended_private']")
        .await;
    padlock(&alice, "not_encrypted").await;
    alice.shot("peer-ended").await;

    // The whole journey ran under the documented Content-Security-Policy without one violation.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_always_encrypt_no_plaintext_reaches_the_server() {
    let prosody = Prosody::start(&fresh_dir("e2e", "always").unwrap(), "localhost").unwrap();
    // The app talks to Prosody through a relay that keeps every frame: what the server could read.
    let relay = WsProxy::start(&prosody.websocket_url()).unwrap();
    let server = serve_app(&relay.url());
    let alice = Person::start("always-alice", "es-AR", "frase de alice 123").await;
    let bob = Person::start("always-bob", "en-US", "phrase of bob 456").await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;
    first_run_and_register(&alice, "alice", false, &relay.url()).await;
    first_run_and_register(&bob, "bob", false, &relay.url()).await;
    befriend(&alice, "alice@localhost", &bob, "bob@localhost").await;

    // alice: "always encrypt".
    choose_policy(&alice, "always").await;

    // A message typed before any private conversation exists waits, then arrives encrypted.
    open_chat(&alice, "bob@localhost").await;
    padlock(&alice, "not_encrypted").await;
    let secret = "El lugar de la reunión es secreto";
    send(&alice, secret).await;
    alice.shot("queued").await;
    open_chat(&bob, "alice@localhost").await;
    assert_eq!(wait_incoming(&bob, secret).await, "true");
    padlock(&alice, "encrypted_unverified").await;
    bob.shot("received-encrypted").await;

    let leaked: Vec<String> = relay
        .frames()
        .into_iter()
        .filter(|(way, f)| *way == Way::Up && f.contains("reuni"))
        .map(|(_, f)| f)
        .collect();
    assert!(
        leaked.is_empty(),
        "plaintext reached the server: {leaked:?}"
    );
    // And the message did travel, as OTR data.
    assert!(relay
        .frames()
        .iter()
        .any(|(way, f)| *way == Way::Up && f.contains("?OTR:AAM")));

    alice.close().await;
    bob.close().await;
}
