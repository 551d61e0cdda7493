//! RFC 6121 stanzas: turning received `<message/>`/`<presence/>`/roster payloads into events,
//! and commands into stanzas. Parsing uses `xmpp-parsers`; the session decides who may
//! send what.

use std::collections::BTreeMap;

use jid::{BareJid, Jid};
use minidom::Element;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::{Id, Lang, Message, MessageType, Thread};
use xmpp_parsers::presence::{self, Presence};
use xmpp_parsers::roster::{self, Group, Roster};

use crate::framing::NS_CLIENT;
use crate::types::{Event, MessageKind, RosterItem, Show, StanzaErrorInfo, Subscription};

/// `urn:ietf:params:xml:ns:xmpp-stanzas`.
pub(crate) const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// `jabber:iq:roster`.
pub(crate) const NS_ROSTER: &str = "jabber:iq:roster";
/// `urn:xmpp:delay` (XEP-0203).
pub(crate) const NS_DELAY: &str = "urn:xmpp:delay";
/// `urn:xmpp:ping`.
pub(crate) const NS_PING: &str = "urn:xmpp:ping";

/// Reads the `<error/>` child of a stanza (RFC 6120 §8.3.2). Missing parts become
/// `undefined-condition`/`cancel`, so a sloppy error still reaches the caller.
pub(crate) fn stanza_error(stanza: &Element) -> StanzaErrorInfo {
    let error = stanza.get_child("error", NS_CLIENT);
    let kind = error
        .and_then(|e| e.attr("type"))
        .unwrap_or("cancel")
        .to_owned();
    let condition = error
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        })
        .map_or_else(|| "undefined-condition".to_owned(), |c| c.name().to_owned());
    let text = error
        .and_then(|e| e.get_child("text", NS_STANZAS))
        .map(Element::text);
    StanzaErrorInfo {
        kind,
        condition,
        text,
    }
}

/// Picks the text without a language tag, else the first one.
fn best_text(texts: &BTreeMap<Lang, String>) -> Option<String> {
    texts
        .get(&Lang::new())
        .or_else(|| texts.values().next())
        .cloned()
}

pub(crate) fn roster_item(item: roster::Item) -> RosterItem {
    RosterItem {
        jid: item.jid,
        name: item.name,
        subscription: match item.subscription {
            roster::Subscription::None => Subscription::None,
            roster::Subscription::To => Subscription::To,
            roster::Subscription::From => Subscription::From,
            roster::Subscription::Both => Subscription::Both,
            roster::Subscription::Remove => Subscription::Remove,
        },
        pending_out: item.ask == roster::Ask::Subscribe,
        approved: item.approved.unwrap_or(false),
        groups: item.groups.into_iter().map(|g| g.0).collect(),
    }
}

/// Converts a received `<presence/>`. `from` defaults to `own` (a stanza with no `from` comes
/// from our own account, RFC 6120 §8.1.2.1).
pub(crate) fn presence_event(element: Element, own: &BareJid) -> Event {
    let error = stanza_error(&element);
    let caps = crate::disco::caps_of(&element);
    let presence = match Presence::try_from(element) {
        Ok(p) => p,
        Err(e) => return dropped("presence", &e),
    };
    let from = presence.from.unwrap_or_else(|| Jid::from(own.clone()));
    let status = best_text(&presence.statuses);
    match presence.type_ {
        presence::Type::None => Event::Presence {
            from,
            show: presence.show.map(|s| match s {
                presence::Show::Away => Show::Away,
                presence::Show::Chat => Show::Chat,
                presence::Show::Dnd => Show::Dnd,
                presence::Show::Xa => Show::Xa,
            }),
            status,
            priority: presence.priority.0,
            caps,
        },
        presence::Type::Unavailable => Event::Unavailable { from, status },
        presence::Type::Subscribe => Event::SubscriptionRequest {
            from: from.to_bare(),
            status,
        },
        presence::Type::Subscribed => Event::SubscriptionApproved {
            from: from.to_bare(),
        },
        presence::Type::Unsubscribed => Event::SubscriptionRevoked {
            from: from.to_bare(),
        },
        presence::Type::Unsubscribe => Event::ContactUnsubscribed {
            from: from.to_bare(),
        },
        presence::Type::Error => Event::PresenceError { from, error },
        // Probes are for servers (RFC 6121 §4.3); a client never answers them.
        presence::Type::Probe => Event::StanzaDropped {
            reason: "presence probe addressed to a client".to_owned(),
        },
    }
}

/// Converts a received `<message/>`.
pub(crate) fn message_event(element: Element, own: &BareJid) -> Event {
    let error = stanza_error(&element);
    let message = match Message::try_from(element) {
        Ok(m) => m,
        Err(e) => return dropped("message", &e),
    };
    let from = message.from.unwrap_or_else(|| Jid::from(own.clone()));
    let id = message.id.map(|i| i.0);
    let kind = match message.type_ {
        MessageType::Error => return Event::MessageError { from, id, error },
        MessageType::Chat => MessageKind::Chat,
        MessageType::Normal => MessageKind::Normal,
        MessageType::Groupchat => MessageKind::Groupchat,
        MessageType::Headline => MessageKind::Headline,
    };
    let to = message.to.clone();
    let receipt_requested = message
        .payloads
        .iter()
        .any(|p| p.is("request", crate::ext::NS_RECEIPTS));
    let chat_state = message.payloads.iter().find_map(crate::ext::chat_state);
    let delayed = message
        .payloads
        .iter()
        .find(|p| p.is("delay", NS_DELAY))
        .and_then(|d| d.attr("stamp"))
        .and_then(|stamp| stamp.parse::<xmpp_parsers::date::DateTime>().ok())
        .map(|t| t.0.to_rfc3339());
    Event::Message {
        from,
        id,
        kind,
        body: best_text(&message.bodies),
        subject: best_text(&message.subjects),
        thread: message.thread.map(|t| t.id),
        delayed,
        to,
        receipt_requested,
        chat_state,
    }
}

fn dropped(what: &str, error: &dyn core::fmt::Display) -> Event {
    Event::StanzaDropped {
        reason: format!("invalid {what}: {error}"),
    }
}

pub(crate) fn presence(show: Option<Show>, status: Option<String>, priority: i8) -> Element {
    let mut p = Presence::available().with_priority(priority);
    p.show = show.map(|s| match s {
        Show::Away => presence::Show::Away,
        Show::Chat => presence::Show::Chat,
        Show::Dnd => presence::Show::Dnd,
        Show::Xa => presence::Show::Xa,
    });
    if let Some(status) = status {
        p.statuses.insert(Lang::new(), status);
    }
    p.into()
}

pub(crate) fn unavailable(status: Option<String>) -> Element {
    let mut p = Presence::unavailable();
    if let Some(status) = status {
        p.statuses.insert(Lang::new(), status);
    }
    // `Presence` always writes a priority; it means nothing on unavailable presence.
    let mut el: Element = p.into();
    el.remove_child("priority", NS_CLIENT);
    el
}

pub(crate) fn subscription(type_: presence::Type, to: BareJid) -> Element {
    let mut p = Presence::new(type_);
    p.to = Some(Jid::from(to));
    let mut el: Element = p.into();
    el.remove_child("priority", NS_CLIENT);
    el
}

pub(crate) fn message(
    to: Jid,
    id: String,
    kind: MessageKind,
    body: String,
    thread: Option<String>,
) -> Element {
    let type_ = match kind {
        MessageKind::Chat => MessageType::Chat,
        MessageKind::Normal => MessageType::Normal,
        MessageKind::Groupchat => MessageType::Groupchat,
        MessageKind::Headline => MessageType::Headline,
    };
    let mut m = Message::new_with_type(type_, Some(to)).with_body(Lang::new(), body);
    m.id = Some(Id(id));
    m.thread = thread.map(|id| Thread { parent: None, id });
    m.into()
}

pub(crate) fn roster_get(id: String, ver: Option<String>) -> Element {
    Iq::from_get(
        id,
        Roster {
            ver,
            items: Vec::new(),
        },
    )
    .into()
}

pub(crate) fn roster_set(
    id: String,
    jid: BareJid,
    name: Option<String>,
    groups: Vec<String>,
    remove: bool,
) -> Element {
    let item = roster::Item {
        jid,
        name,
        subscription: if remove {
            roster::Subscription::Remove
        } else {
            roster::Subscription::None
        },
        ask: roster::Ask::None,
        groups: groups.into_iter().map(Group).collect(),
        approved: None,
    };
    Iq::from_set(
        id,
        Roster {
            ver: None,
            items: vec![item],
        },
    )
    .into()
}

pub(crate) fn ping(id: String, to: Jid) -> Element {
    Iq::from_get(id, xmpp_parsers::ping::Ping)
        .with_to(to)
        .into()
}

/// An empty `<iq type='result'/>` answering `id`, addressed back to `to` when known.
pub(crate) fn iq_result(id: String, to: Option<Jid>) -> Element {
    Iq::Result {
        from: None,
        to,
        id,
        payload: None,
    }
    .into()
}

/// An `<iq type='error'/>` with a `cancel` condition from RFC 6120 §8.3.3.
pub(crate) fn iq_error(id: String, to: Option<Jid>, condition: &str) -> Element {
    let error = Element::builder("error", NS_CLIENT)
        .attr(minidom::rxml::xml_ncname!("type").to_owned(), "cancel")
        .append(Element::builder(condition, NS_STANZAS).build())
        .build();
    let mut iq = Element::builder("iq", NS_CLIENT)
        .attr(minidom::rxml::xml_ncname!("type").to_owned(), "error")
        .attr(minidom::rxml::xml_ncname!("id").to_owned(), id);
    if let Some(to) = to {
        iq = iq.attr(minidom::rxml::xml_ncname!("to").to_owned(), to.to_string());
    }
    iq.append(error).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{parse_frame, serialise, Limits};

    fn el(s: &str) -> Element {
        parse_frame(s, &Limits::default()).unwrap()
    }

    fn own() -> BareJid {
        "juliet@example.com".parse().unwrap()
    }

    #[test]
    fn error_parsing_tolerates_missing_parts() {
        let e = stanza_error(&el(
            "<message xmlns='jabber:client' type='error'>\
            <error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>slow down</text></error></message>",
        ));
        assert_eq!(
            e,
            StanzaErrorInfo {
                kind: "wait".into(),
                condition: "resource-constraint".into(),
                text: Some("slow down".into())
            }
        );
        let e = stanza_error(&el("<message xmlns='jabber:client' type='error'/>"));
        assert_eq!(e.condition, "undefined-condition");
        assert_eq!(e.kind, "cancel");
    }

    #[test]
    fn message_with_lang_and_thread() {
        let ev = message_event(
            el("<message xmlns='jabber:client' xml:lang='en' from='romeo@example.net/orchard' \
                to='juliet@example.com/balcony' type='chat' id='m1'><body>Art thou not Romeo?</body>\
                <thread>e0ffe42b</thread></message>"),
            &own(),
        );
        assert_eq!(
            ev,
            Event::Message {
                from: "romeo@example.net/orchard".parse().unwrap(),
                id: Some("m1".into()),
                kind: MessageKind::Chat,
                body: Some("Art thou not Romeo?".into()),
                subject: None,
                thread: Some("e0ffe42b".into()),
                delayed: None,
                to: Some("juliet@example.com/balcony".parse().unwrap()),
                receipt_requested: false,
                chat_state: None,
            }
        );
    }

    #[test]
    fn message_without_type_is_normal_and_without_from_is_ours() {
        let ev = message_event(
            el("<message xmlns='jabber:client'><subject>s</subject></message>"),
            &own(),
        );
        assert_eq!(
            ev,
            Event::Message {
                from: Jid::from(own()),
                id: None,
                kind: MessageKind::Normal,
                body: None,
                subject: Some("s".into()),
                thread: None,
                delayed: None,
                to: None,
                receipt_requested: false,
                chat_state: None,
            }
        );
    }

    #[test]
    fn offline_message_keeps_its_delay_stamp() {
        let ev = message_event(
            el(
                "<message xmlns='jabber:client' from='romeo@example.net/o' type='chat'>\
                <body>sent while you were away</body><delay xmlns='urn:xmpp:delay' \
                from='example.com' stamp='2002-09-10T23:08:25Z'>Offline Storage</delay></message>",
            ),
            &own(),
        );
        assert!(matches!(
            ev,
            Event::Message { delayed: Some(ref d), .. } if d == "2002-09-10T23:08:25+00:00"
        ));
        // A bad stamp is ignored, not fatal.
        let ev = message_event(
            el("<message xmlns='jabber:client' from='a@b'><body>x</body>\
                <delay xmlns='urn:xmpp:delay' stamp='yesterday'/></message>"),
            &own(),
        );
        assert!(matches!(ev, Event::Message { delayed: None, .. }));
    }

    #[test]
    fn invalid_stanzas_are_dropped_not_fatal() {
        let cases = [
            "<message xmlns='jabber:client' from='not a jid@@'/>",
            "<message xmlns='jabber:client' type='bogus'/>",
            "<presence xmlns='jabber:client' type='bogus'/>",
            "<presence xmlns='jabber:client'><priority>500</priority></presence>",
            "<presence xmlns='jabber:client'><show>sleeping</show></presence>",
        ];
        for c in cases {
            let ev = if c.starts_with("<message") {
                message_event(el(c), &own())
            } else {
                presence_event(el(c), &own())
            };
            assert!(matches!(ev, Event::StanzaDropped { .. }), "{c}: {ev:?}");
        }
    }

    #[test]
    fn presence_kinds() {
        let p = |s: &str| presence_event(el(s), &own());
        assert_eq!(
            p(
                "<presence xmlns='jabber:client' from='romeo@example.net/o'><show>dnd</show>\
               <status>busy</status><priority>-1</priority></presence>"
            ),
            Event::Presence {
                from: "romeo@example.net/o".parse().unwrap(),
                show: Some(Show::Dnd),
                status: Some("busy".into()),
                priority: -1,
                caps: None,
            }
        );
        assert_eq!(
            p("<presence xmlns='jabber:client' from='romeo@example.net/o' type='unavailable'/>"),
            Event::Unavailable {
                from: "romeo@example.net/o".parse().unwrap(),
                status: None
            }
        );
        let romeo: BareJid = "romeo@example.net".parse().unwrap();
        assert_eq!(
            p(
                "<presence xmlns='jabber:client' from='romeo@example.net' type='subscribe'>\
               <status>hi</status></presence>"
            ),
            Event::SubscriptionRequest {
                from: romeo.clone(),
                status: Some("hi".into())
            }
        );
        assert_eq!(
            p("<presence xmlns='jabber:client' from='romeo@example.net/x' type='subscribed'/>"),
            Event::SubscriptionApproved {
                from: romeo.clone()
            }
        );
        assert_eq!(
            p("<presence xmlns='jabber:client' from='romeo@example.net' type='unsubscribed'/>"),
            Event::SubscriptionRevoked {
                from: romeo.clone()
            }
        );
        assert_eq!(
            p("<presence xmlns='jabber:client' from='romeo@example.net' type='unsubscribe'/>"),
            Event::ContactUnsubscribed { from: romeo }
        );
        assert!(matches!(
            p("<presence xmlns='jabber:client' from='x@y' type='error'><error type='cancel'>\
               <remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"),
            Event::PresenceError { error, .. } if error.condition == "remote-server-not-found"
        ));
    }

    #[test]
    fn outgoing_stanzas_carry_jabber_client() {
        let to: Jid = "romeo@example.net".parse().unwrap();
        let frames = [
            serialise(&presence(Some(Show::Away), Some("out".into()), 5)),
            serialise(&unavailable(None)),
            serialise(&subscription(
                presence::Type::Subscribe,
                "a@b".parse().unwrap(),
            )),
            serialise(&message(
                to.clone(),
                "id1".into(),
                MessageKind::Chat,
                "hi".into(),
                None,
            )),
            serialise(&roster_get("r1".into(), Some("v1".into()))),
            serialise(&ping("p1".into(), "example.com".parse().unwrap())),
            serialise(&iq_error("x".into(), Some(to), "service-unavailable")),
        ];
        for f in &frames {
            assert!(f.contains("xmlns='jabber:client'"), "{f}");
            // And they parse back within limits.
            parse_frame(f, &Limits::default()).unwrap();
        }
        assert_eq!(
            frames[1],
            "<presence xmlns='jabber:client' type='unavailable'/>"
        );
        assert_eq!(
            frames[2],
            "<presence xmlns='jabber:client' to='a@b' type='subscribe'/>"
        );
        assert!(
            frames[0].contains("<show>away</show>") && frames[0].contains("<priority>5</priority>")
        );
        assert!(frames[4].contains("ver='v1'"), "{}", frames[4]);
    }
}
