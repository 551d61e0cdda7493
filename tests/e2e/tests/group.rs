//! Group chats (XEP-0045) by two people on two independent browser profiles (alice in Spanish, bob
//! in English), through the built app and a real Prosody: both register, both enter the same room,
//! both see the permanent "not end-to-end encrypted" banner in their language, messages both ways
//! with the author's nickname, and a nickname already in use in a room is refused with a clear error.
//! Then alice creates a password-protected room; bob, without the password, is told the room needs
//! one; alice invites him from the room, bob sees the invitation (marked: alice is not one of his
//! contacts) and joins with it; alice changes the subject and bob sees it.
//!
//! Every step saves a screenshot under `target/e2e/group-*.png`.

use candado_e2e::{csp_violations, serve_app, Person};
use candado_harness::{fresh_dir, Prosody};

const ROOM: &str = "sala@conference.localhost";
const OTHER_ROOM: &str = "otra@conference.localhost";
const SECRET_ROOM: &str = "secreta@conference.localhost";

/// Waits until the text of `css` is `want`.
async fn wait_text(p: &Person, css: &str, want: &str) {
    let deadline = std::time::Instant::now() + candado_e2e::STEP;
    loop {
        let got = p.text(css).await;
        if got == want {
            return;
        }
        if std::time::Instant::now() > deadline {
            p.fail(format!("{css} is {got:?}, not {want:?}")).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Registers `user` in the app (after creating the app passphrase) and waits until it is online.
async fn first_run_and_register(p: &Person, user: &str, endpoint: &str) {
    p.wait_screen("first-run").await;
    p.fill("#passphrase", p.passphrase()).await;
    p.fill("#passphrase-confirm", p.passphrase()).await;
    p.click("#create-vault").await;
    p.wait_screen("add-account").await;
    p.click("#mode-register").await;
    p.fill("#account-user", user).await;
    p.fill("#account-password", &format!("{user}-Contraseña-1"))
        .await;
    p.fill("#account-password-confirm", &format!("{user}-Contraseña-1"))
        .await;
    p.click("#account-submit").await;
    p.wait_visible("#server-confirm").await;
    assert_eq!(p.text("#confirm-endpoint").await, endpoint);
    p.click("#server-confirm-yes").await;
    p.wait_screen("contacts").await;
    p.wait_attr("#account-state", "data-state", "online").await;
    p.shot("online").await;
}

/// Enters `room` with the nickname the app offers (the username), and waits for the group screen.
async fn join(p: &Person, room: &str, nick: &str) {
    p.fill("#join-room-jid", room).await;
    assert_eq!(p.value("#join-room-nick").await, nick);
    p.click("#join-room").await;
    p.wait_screen("group").await;
    p.wait_attr("#screen", "data-room", room).await;
}

async fn send(p: &Person, text: &str) {
    p.fill("#room-input", text).await;
    p.click("#room-send").await;
}

/// Waits for a room message with `text`; returns its `data-nick` and `data-own`.
async fn wait_room_message(p: &Person, text: &str) -> (String, String) {
    let css = "#room-messages li.room-message";
    p.wait_text_in(css, ".message-text", text).await;
    (
        p.attr_of_item_with_text(css, ".message-text", text, "data-nick")
            .await,
        p.attr_of_item_with_text(css, ".message-text", text, "data-own")
            .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_chat_in_a_room_that_says_it_is_not_encrypted() {
    let prosody = Prosody::start(&fresh_dir("e2e", "group").unwrap(), "localhost").unwrap();
    let endpoint = prosody.websocket_url();
    let server = serve_app(&endpoint);
    let alice = Person::start("group-alice", "es-AR", "sala de alice 123").await;
    let bob = Person::start("group-bob", "en-US", "room of bob 456").await;
    alice.open(&server.url()).await;
    bob.open(&server.url()).await;
    first_run_and_register(&alice, "alice", &endpoint).await;
    first_run_and_register(&bob, "bob", &endpoint).await;

    // Both enter the room; the banner is there at once, in each person's language.
    join(&alice, ROOM, "alice").await;
    join(&bob, ROOM, "bob").await;
    alice.wait_visible("#group-banner").await;
    bob.wait_visible("#group-banner").await;
    assert_eq!(
        alice.text("#group-banner").await,
        "Los chats grupales no tienen cifrado de punta a punta: el servidor puede leerlos."
    );
    assert_eq!(
        bob.text("#group-banner").await,
        "Group chats are not end-to-end encrypted: the server can read them."
    );
    alice
        .wait_css("#occupants li.occupant[data-nick='bob']")
        .await;
    bob.wait_css("#occupants li.occupant[data-nick='alice']")
        .await;
    alice.shot("room").await;
    bob.shot("room").await;

    // alice writes; bob sees it from "alice"; alice sees hers once, as her own.
    let hola = "Hola a todos, ¿se leen?";
    send(&alice, hola).await;
    assert_eq!(
        wait_room_message(&bob, hola).await,
        ("alice".to_string(), "false".to_string())
    );
    assert_eq!(
        wait_room_message(&alice, hola).await,
        ("alice".to_string(), "true".to_string())
    );
    // bob answers (markup stays text).
    let answer = "Loud and clear <b>alice</b>";
    send(&bob, answer).await;
    assert_eq!(
        wait_room_message(&alice, answer).await,
        ("bob".to_string(), "false".to_string())
    );
    // Each message shows once on each side, even after the room reflected it.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for p in [&alice, &bob] {
        p.wait_css("#room-messages li.room-message:nth-child(2)")
            .await;
        assert!(
            p.text("#room-messages").await.matches(hola).count() == 1
                && p.text("#room-messages").await.matches(answer).count() == 1,
            "{}",
            p.text("#room-messages").await
        );
    }
    alice.shot("messages").await;
    bob.shot("messages").await;
    // The banner is still there after the conversation.
    alice.wait_visible("#group-banner").await;
    bob.wait_visible("#group-banner").await;

    // alice is in a second room; bob tries it with her nickname: refused, said in his language.
    alice.click("#back").await;
    alice.wait_screen("contacts").await;
    join(&alice, OTHER_ROOM, "alice").await;
    bob.click("#back").await;
    bob.wait_screen("contacts").await;
    bob.fill("#join-room-jid", OTHER_ROOM).await;
    bob.fill("#join-room-nick", "alice").await;
    bob.click("#join-room").await;
    let error =
        format!("{OTHER_ROOM}: That nickname is already in use in the room. Choose another.");
    let deadline = std::time::Instant::now() + candado_e2e::STEP;
    while bob.text("#rooms-error").await != error {
        assert!(
            std::time::Instant::now() < deadline,
            "no conflict error: {:?}",
            bob.text("#rooms-error").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bob.wait_screen("contacts").await;
    bob.wait_css(&format!("#rooms li.room[data-jid='{ROOM}']"))
        .await;
    bob.shot("nickname-conflict").await;

    // alice creates a room protected by a password.
    alice.click("#back").await;
    alice.wait_screen("contacts").await;
    alice.fill("#join-room-jid", SECRET_ROOM).await;
    alice.fill("#join-room-password", "abre sésamo 42").await;
    alice.click("#join-room").await;
    alice.wait_screen("group").await;
    alice.wait_attr("#screen", "data-room", SECRET_ROOM).await;
    // The room took its settings: no "created without the settings" error (the element is there, empty
    // and hidden; bob being refused below proves the password is set).
    assert_eq!(
        alice.count("#room-error:empty").await,
        1,
        "the room did not take its settings"
    );
    // bob, without the password, is told the room needs one.
    bob.fill("#join-room-jid", SECRET_ROOM).await;
    bob.fill("#join-room-nick", "bob").await;
    bob.click("#join-room").await;
    wait_text(
        &bob,
        "#rooms-error",
        &format!("{SECRET_ROOM}: This room needs a password: type it and join again."),
    )
    .await;
    bob.shot("needs-password").await;
    // alice invites him from the room; he sees who invites, marked as not one of his contacts.
    alice.fill("#room-invite-jid", "bob@localhost").await;
    alice.click("#room-invite").await;
    wait_text(
        &alice,
        "#room-invite-status",
        "Invitación enviada a bob@localhost.",
    )
    .await;
    let invitation = format!("#invitations li.invitation[data-room='{SECRET_ROOM}']");
    bob.wait_css(&invitation).await;
    // The room hides addresses: the inviter is named by nickname, and cannot be a known contact.
    bob.wait_attr(&invitation, "data-stranger", "true").await;
    assert!(bob
        .text(&invitation)
        .await
        .contains("alice invites you to secreta@conference.localhost"));
    bob.shot("invitation").await;
    // He joins with it: the invitation carries the password.
    bob.click(&format!("{invitation} .invitation-join")).await;
    bob.wait_screen("group").await;
    bob.wait_attr("#screen", "data-room", SECRET_ROOM).await;
    alice
        .wait_css("#occupants li.occupant[data-nick='bob']")
        .await;
    // alice sets the subject; both see it.
    alice
        .fill("#room-subject-input", "Orden del día: la cerradura")
        .await;
    alice.click("#room-subject-set").await;
    wait_text(&alice, "#room-subject", "Orden del día: la cerradura").await;
    wait_text(&bob, "#room-subject", "Orden del día: la cerradura").await;
    alice.shot("subject").await;
    bob.shot("subject").await;

    // The whole room journey ran under the documented headers without a CSP violation.
    assert_eq!(csp_violations(&server), Vec::<String>::new());
    alice.close().await;
    bob.close().await;
}
