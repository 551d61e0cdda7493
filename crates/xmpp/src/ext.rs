//! Message and account extensions: XEP-0280 carbons, XEP-0184 receipts, XEP-0085 chat
//! states, XEP-0334 hints, XEP-0191 blocking and XEP-0363 upload slots. Builders for what we
//! send, readers for what we receive; the session decides who may send what.

use jid::{BareJid, Jid};
use minidom::Element;
use xmpp_parsers::message::{Id, Lang, Message, MessageType, Thread};
use xmpp_parsers::ns;

use crate::framing::NS_CLIENT;
use crate::stanza;
use crate::types::{CarbonDirection, ChatState, Event, MessageKind, OutgoingMessage};

/// `urn:xmpp:receipts` (XEP-0184).
pub(crate) const NS_RECEIPTS: &str = ns::RECEIPTS;
/// `urn:xmpp:hints` (XEP-0334).
pub(crate) const NS_HINTS: &str = "urn:xmpp:hints";

macro_rules! nc {
    ($name:literal) => {
        minidom::rxml::xml_ncname!($name).to_owned()
    };
}

/// The chat state a payload carries, if it is one (XEP-0085).
pub(crate) fn chat_state(payload: &Element) -> Option<ChatState> {
    if payload.ns() != ns::CHATSTATES {
        return None;
    }
    Some(match payload.name() {
        "active" => ChatState::Active,
        "composing" => ChatState::Composing,
        "paused" => ChatState::Paused,
        "inactive" => ChatState::Inactive,
        "gone" => ChatState::Gone,
        _ => return None,
    })
}

fn chat_state_element(state: ChatState) -> Element {
    let name = match state {
        ChatState::Active => "active",
        ChatState::Composing => "composing",
        ChatState::Paused => "paused",
        ChatState::Inactive => "inactive",
        ChatState::Gone => "gone",
    };
    Element::builder(name, ns::CHATSTATES).build()
}

fn message_type(kind: MessageKind) -> MessageType {
    match kind {
        MessageKind::Chat => MessageType::Chat,
        MessageKind::Normal => MessageType::Normal,
        MessageKind::Groupchat => MessageType::Groupchat,
        MessageKind::Headline => MessageType::Headline,
    }
}

/// Builds an [`OutgoingMessage`] with id `id`.
pub(crate) fn outgoing(id: String, m: &OutgoingMessage) -> Element {
    let mut message = Message::new_with_type(message_type(m.kind), Some(m.to.clone()));
    if let Some(body) = &m.body {
        message.bodies.insert(Lang::new(), body.clone());
    }
    message.id = Some(Id(id));
    message.thread = m.thread.clone().map(|id| Thread { parent: None, id });
    let mut el: Element = message.into();
    if let Some(state) = m.chat_state {
        el.append_child(chat_state_element(state));
    }
    if m.request_receipt && m.body.is_some() {
        el.append_child(Element::builder("request", NS_RECEIPTS).build());
    }
    if m.private {
        el.append_child(Element::builder("private", ns::CARBONS).build());
        el.append_child(Element::builder("no-copy", NS_HINTS).build());
    }
    if m.no_store {
        el.append_child(Element::builder("no-store", NS_HINTS).build());
    }
    if m.no_permanent_store {
        el.append_child(Element::builder("no-permanent-store", NS_HINTS).build());
    }
    el
}

/// A delivery receipt for message `their_id` (XEP-0184 §5).
pub(crate) fn receipt(id: String, to: Jid, their_id: String) -> Element {
    let mut message = Message::new(Some(to));
    message.id = Some(Id(id));
    let mut el: Element = message.into();
    el.append_child(
        Element::builder("received", NS_RECEIPTS)
            .attr(nc!("id"), their_id)
            .build(),
    );
    el
}

/// `<enable/>` or `<disable/>` for carbons (XEP-0280 §4).
pub(crate) fn carbons(id: String, enable: bool) -> Element {
    let payload = Element::builder(if enable { "enable" } else { "disable" }, ns::CARBONS).build();
    iq("set", id, None, payload)
}

pub(crate) fn iq(type_: &str, id: String, to: Option<Jid>, payload: Element) -> Element {
    let mut b = Element::builder("iq", NS_CLIENT)
        .attr(nc!("type"), type_)
        .attr(nc!("id"), id);
    if let Some(to) = to {
        b = b.attr(nc!("to"), to.to_string());
    }
    b.append(payload).build()
}

/// An `<iq type='result'/>` answering `id` with `payload`.
pub(crate) fn iq_result(id: String, to: Option<Jid>, payload: Element) -> Element {
    iq("result", id, to, payload)
}

/// Reads a received message that is not a carbon: receipts and bare chat states become
/// their own events, everything else an [`Event::Message`] (or error, or drop).
pub(crate) fn message_event(element: Element, own: &BareJid) -> Event {
    let receipt = element
        .get_child("received", NS_RECEIPTS)
        .and_then(|r| r.attr("id"))
        .map(str::to_owned);
    let event = stanza::message_event(element, own);
    match event {
        Event::Message {
            from,
            body: None,
            subject: None,
            chat_state,
            ..
        } if receipt.is_some() || chat_state.is_some() => match (receipt, chat_state) {
            (Some(id), _) => Event::Receipt { from, id },
            (None, Some(state)) => Event::ChatState { from, state },
            (None, None) => Event::StanzaDropped {
                reason: "empty message".into(),
            },
        },
        other => other,
    }
}

/// If `element` is a carbon wrapper (XEP-0280 §5-6), the carbon event, or a drop when it
/// does not come from our own bare JID (§11: anyone else could forge one). `None` when it
/// is an ordinary message.
pub(crate) fn carbon(element: &Element, own: &BareJid) -> Option<Event> {
    let (direction, wrapper) = if let Some(w) = element.get_child("received", ns::CARBONS) {
        (CarbonDirection::Received, w)
    } else if let Some(w) = element.get_child("sent", ns::CARBONS) {
        (CarbonDirection::Sent, w)
    } else {
        return None;
    };
    let from_ok = match element.attr("from") {
        None => true,
        Some(f) => f
            .parse::<Jid>()
            .is_ok_and(|f| f.resource().is_none() && f.to_bare() == *own),
    };
    if !from_ok {
        return Some(Event::StanzaDropped {
            reason: "carbon copy not from our own account".into(),
        });
    }
    let Some(inner) = wrapper
        .get_child("forwarded", ns::FORWARD)
        .and_then(|f| f.get_child("message", NS_CLIENT))
    else {
        return Some(Event::StanzaDropped {
            reason: "carbon copy without a forwarded message".into(),
        });
    };
    // A delay on the `<forwarded/>` wrapper dates the copy.
    let delay = wrapper
        .get_child("forwarded", ns::FORWARD)
        .and_then(|f| f.get_child("delay", stanza::NS_DELAY))
        .cloned();
    let mut inner = inner.clone();
    if let Some(delay) = delay.filter(|_| !inner.has_child("delay", stanza::NS_DELAY)) {
        inner.append_child(delay);
    }
    match stanza::message_event(inner, own) {
        message @ Event::Message { .. } => Some(Event::Carbon {
            direction,
            message: Box::new(message),
        }),
        Event::StanzaDropped { reason } => Some(Event::StanzaDropped { reason }),
        _ => Some(Event::StanzaDropped {
            reason: "carbon copy of an error message".into(),
        }),
    }
}

// ---- XEP-0191 blocking ---------------------------------------------------------------------

fn items(name: &str, jids: &[Jid]) -> Element {
    let mut el = Element::builder(name, ns::BLOCKING).build();
    for j in jids {
        el.append_child(
            Element::builder("item", ns::BLOCKING)
                .attr(nc!("jid"), j.to_string())
                .build(),
        );
    }
    el
}

pub(crate) fn blocklist_get(id: String) -> Element {
    iq("get", id, None, items("blocklist", &[]))
}

pub(crate) fn block(id: String, jids: &[Jid], blocking: bool) -> Element {
    iq(
        "set",
        id,
        None,
        items(if blocking { "block" } else { "unblock" }, jids),
    )
}

/// The JIDs of a `<blocklist/>`, `<block/>` or `<unblock/>`; `None` if one is invalid.
pub(crate) fn blocked_jids(payload: &Element) -> Option<Vec<Jid>> {
    payload
        .children()
        .filter(|c| c.is("item", ns::BLOCKING))
        .map(|c| c.attr("jid").and_then(|j| j.parse().ok()))
        .collect()
}

// ---- XEP-0363 upload slots -----------------------------------------------------------------

pub(crate) fn upload_request(
    id: String,
    service: Jid,
    filename: &str,
    size: u64,
    content_type: Option<&str>,
) -> Element {
    let mut b = Element::builder("request", ns::HTTP_UPLOAD)
        .attr(nc!("filename"), filename)
        .attr(nc!("size"), size.to_string());
    if let Some(ct) = content_type {
        b = b.attr(nc!("content-type"), ct);
    }
    iq("get", id, Some(service), b.build())
}

/// An upload slot, as [`upload_slot`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) put_url: String,
    pub(crate) put_headers: Vec<(String, String)>,
    pub(crate) get_url: String,
}

/// A slot's PUT URL, its allowed headers (XEP-0363 §5: only `Authorization`, `Cookie` and
/// `Expires`, with no line breaks) and the GET URL. Both URLs must be `https://` (or
/// `http://` when `allow_http`, for a loopback test server).
pub(crate) fn upload_slot(payload: &Element, allow_http: bool) -> Option<Slot> {
    if !payload.is("slot", ns::HTTP_UPLOAD) {
        return None;
    }
    let put = payload.get_child("put", ns::HTTP_UPLOAD)?;
    let get = payload.get_child("get", ns::HTTP_UPLOAD)?;
    let url_ok = |u: &str| u.starts_with("https://") || (allow_http && u.starts_with("http://"));
    let put_url = put.attr("url").filter(|u| url_ok(u))?.to_owned();
    let get_url = get.attr("url").filter(|u| url_ok(u))?.to_owned();
    let headers = put
        .children()
        .filter(|h| h.is("header", ns::HTTP_UPLOAD))
        .filter_map(|h| {
            let name = h.attr("name")?;
            let allowed = ["Authorization", "Cookie", "Expires"]
                .iter()
                .find(|a| a.eq_ignore_ascii_case(name))?;
            let value: String = h
                .text()
                .chars()
                .filter(|c| *c != '\r' && *c != '\n')
                .collect();
            Some(((*allowed).to_owned(), value))
        })
        .collect();
    Some(Slot {
        put_url,
        put_headers: headers,
        get_url,
    })
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
    fn outgoing_with_every_extension() {
        let mut m = OutgoingMessage::chat("romeo@example.net".parse().unwrap(), "hi");
        m.request_receipt = true;
        m.chat_state = Some(ChatState::Active);
        m.private = true;
        m.no_store = true;
        m.no_permanent_store = true;
        m.thread = Some("t".into());
        let text = serialise(&outgoing("m1".into(), &m));
        let back = el(&text);
        assert_eq!(back.attr("id"), Some("m1"));
        assert_eq!(back.attr("type"), Some("chat"));
        assert!(back.has_child("request", NS_RECEIPTS), "{text}");
        assert!(back.has_child("active", ns::CHATSTATES), "{text}");
        assert!(back.has_child("private", ns::CARBONS), "{text}");
        for hint in ["no-copy", "no-store", "no-permanent-store"] {
            assert!(back.has_child(hint, NS_HINTS), "{hint}: {text}");
        }
        // A bare chat state: no body, and no receipt request without a body.
        let mut m = OutgoingMessage::chat("romeo@example.net".parse().unwrap(), "x");
        m.body = None;
        m.request_receipt = true;
        m.chat_state = Some(ChatState::Composing);
        let back = el(&serialise(&outgoing("m2".into(), &m)));
        assert!(!back.has_child("body", NS_CLIENT));
        assert!(!back.has_child("request", NS_RECEIPTS));
        assert!(back.has_child("composing", ns::CHATSTATES));
        assert!(!back.has_child("private", ns::CARBONS));
    }

    #[test]
    fn receipts_and_chat_states_in() {
        let ev = message_event(
            el(
                "<message xmlns='jabber:client' from='romeo@example.net/o' id='r'>\
                <received xmlns='urn:xmpp:receipts' id='m1'/></message>",
            ),
            &own(),
        );
        assert_eq!(
            ev,
            Event::Receipt {
                from: "romeo@example.net/o".parse().unwrap(),
                id: "m1".into()
            }
        );
        let ev = message_event(
            el(
                "<message xmlns='jabber:client' from='romeo@example.net/o' type='chat'>\
                <composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
            ),
            &own(),
        );
        assert_eq!(
            ev,
            Event::ChatState {
                from: "romeo@example.net/o".parse().unwrap(),
                state: ChatState::Composing
            }
        );
        let ev = message_event(
            el(
                "<message xmlns='jabber:client' from='romeo@example.net/o' type='chat' id='x'>\
                <body>hi</body><request xmlns='urn:xmpp:receipts'/>\
                <gone xmlns='http://jabber.org/protocol/chatstates'/></message>",
            ),
            &own(),
        );
        assert!(matches!(
            ev,
            Event::Message {
                receipt_requested: true,
                chat_state: Some(ChatState::Gone),
                ..
            }
        ));
        // Unknown chat state elements are ignored.
        let ev = message_event(
            el("<message xmlns='jabber:client' from='a@b/c'><body>b</body>\
                <typing xmlns='http://jabber.org/protocol/chatstates'/></message>"),
            &own(),
        );
        assert!(matches!(
            ev,
            Event::Message {
                chat_state: None,
                ..
            }
        ));
        let r = serialise(&receipt(
            "id9".into(),
            "romeo@example.net/o".parse().unwrap(),
            "m1".into(),
        ));
        let back = el(&r);
        assert_eq!(back.attr("to"), Some("romeo@example.net/o"));
        assert_eq!(
            back.get_child("received", NS_RECEIPTS).unwrap().attr("id"),
            Some("m1")
        );
    }

    const SENT: &str = "<message xmlns='jabber:client' from='juliet@example.com' \
        to='juliet@example.com/balcony' type='chat'><sent xmlns='urn:xmpp:carbons:2'>\
        <forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' \
        to='romeo@example.net/o' from='juliet@example.com/phone' type='chat' id='p1'>\
        <body>from my phone</body></message></forwarded></sent></message>";

    #[test]
    fn carbons_from_our_account_only() {
        let ev = carbon(&el(SENT), &own()).unwrap();
        let Event::Carbon { direction, message } = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(direction, CarbonDirection::Sent);
        assert!(matches!(*message, Event::Message { ref to, ref body, .. }
            if to.as_ref().map(ToString::to_string).as_deref() == Some("romeo@example.net/o")
            && body.as_deref() == Some("from my phone")));

        let received = "<message xmlns='jabber:client' to='juliet@example.com/balcony'>\
            <received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
            <delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/>\
            <message xmlns='jabber:client' from='romeo@example.net/o' type='chat'>\
            <body>to your phone</body></message></forwarded></received></message>";
        let ev = carbon(&el(received), &own()).unwrap();
        assert!(
            matches!(&ev, Event::Carbon { direction: CarbonDirection::Received, message }
                if matches!(**message, Event::Message { delayed: Some(_), .. })),
            "{ev:?}"
        );

        // Forged: from a contact, from one of our resources, from another server.
        for from in [
            "romeo@example.net",
            "juliet@example.com/phone",
            "example.com",
        ] {
            let forged = SENT.replace("from='juliet@example.com' ", &format!("from='{from}' "));
            assert!(
                matches!(
                    carbon(&el(&forged), &own()),
                    Some(Event::StanzaDropped { .. })
                ),
                "{from}"
            );
        }
        // Not a carbon at all.
        assert!(carbon(
            &el("<message xmlns='jabber:client'><body>x</body></message>"),
            &own()
        )
        .is_none());
        // A wrapper without a message inside.
        assert!(matches!(
            carbon(
                &el("<message xmlns='jabber:client'><sent xmlns='urn:xmpp:carbons:2'/></message>"),
                &own()
            ),
            Some(Event::StanzaDropped { .. })
        ));
        let enable = serialise(&carbons("c1".into(), true));
        assert!(
            enable.contains("<enable xmlns='urn:xmpp:carbons:2'/>"),
            "{enable}"
        );
        assert!(enable.contains("type='set'"), "{enable}");
    }

    #[test]
    fn blocking_payloads() {
        let jids: Vec<Jid> = vec![
            "spam@example.org".parse().unwrap(),
            "example.net".parse().unwrap(),
        ];
        let set = el(&serialise(&block("b1".into(), &jids, true)));
        let payload = set.get_child("block", ns::BLOCKING).unwrap();
        assert_eq!(blocked_jids(payload), Some(jids.clone()));
        let unset = el(&serialise(&block("b2".into(), &[], false)));
        assert_eq!(
            blocked_jids(unset.get_child("unblock", ns::BLOCKING).unwrap()),
            Some(vec![])
        );
        let bad = el("<blocklist xmlns='urn:xmpp:blocking'><item jid='a@@b'/></blocklist>");
        assert_eq!(blocked_jids(&bad), None);
        let missing = el("<blocklist xmlns='urn:xmpp:blocking'><item/></blocklist>");
        assert_eq!(blocked_jids(&missing), None);
        assert!(serialise(&blocklist_get("g".into())).contains("type='get'"));
    }

    #[test]
    fn upload_slots() {
        let req = serialise(&upload_request(
            "u1".into(),
            "upload.example.com".parse().unwrap(),
            "cat.jpg",
            23456,
            Some("image/jpeg"),
        ));
        let back = el(&req);
        assert_eq!(back.attr("to"), Some("upload.example.com"));
        let r = back.get_child("request", ns::HTTP_UPLOAD).unwrap();
        assert_eq!(r.attr("filename"), Some("cat.jpg"));
        assert_eq!(r.attr("size"), Some("23456"));
        assert_eq!(r.attr("content-type"), Some("image/jpeg"));

        let slot = el("<slot xmlns='urn:xmpp:http:upload:0'>\
            <put url='https://up.example.com/abc/cat.jpg'>\
            <header name='authorization'>Basic Base64String==</header>\
            <header name='Cookie'>foo=bar;\r\nuser=romeo</header>\
            <header name='X-Evil'>1</header></put>\
            <get url='https://down.example.com/abc/cat.jpg'/></slot>");
        let Slot {
            put_url: put,
            put_headers: headers,
            get_url: get,
        } = upload_slot(&slot, false).unwrap();
        assert_eq!(put, "https://up.example.com/abc/cat.jpg");
        assert_eq!(get, "https://down.example.com/abc/cat.jpg");
        assert_eq!(
            headers,
            vec![
                (
                    "Authorization".to_owned(),
                    "Basic Base64String==".to_owned()
                ),
                ("Cookie".to_owned(), "foo=bar;user=romeo".to_owned()),
            ]
        );
        let http = el(
            "<slot xmlns='urn:xmpp:http:upload:0'><put url='http://x/a'/>\
            <get url='http://x/a'/></slot>",
        );
        assert!(upload_slot(&http, false).is_none());
        assert!(upload_slot(&http, true).is_some());
        let missing = el("<slot xmlns='urn:xmpp:http:upload:0'><put url='https://x/a'/></slot>");
        assert!(upload_slot(&missing, false).is_none());
        let odd = el(
            "<slot xmlns='urn:xmpp:http:upload:0'><put url='javascript:x'/>\
            <get url='https://x/a'/></slot>",
        );
        assert!(upload_slot(&odd, true).is_none());
    }
}
