//! XEP-0045 multi-user chat, the occupant's side: joining (with nickname conflicts),
//! leaving, occupants, subject, and removal. The session keeps one [`Room`] per room we
//! joined or are joining, and routes presence and messages from those rooms here.

use jid::{BareJid, Jid};
use minidom::Element;
use xmpp_parsers::ns;

use crate::framing::NS_CLIENT;
use crate::stanza;
use crate::types::{Event, Occupant, Show};

const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";

macro_rules! nc {
    ($name:literal) => {
        minidom::rxml::xml_ncname!($name).to_owned()
    };
}

/// A room we are in or entering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Room {
    /// Our nickname (as asked, then as the room assigned it).
    pub(crate) nick: String,
    /// Our own presence came back.
    pub(crate) joined: bool,
}

/// What the session must do after a room presence.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Report these events; keep the room.
    Events(Vec<Event>),
    /// We are in, and created the room: accept the default configuration.
    JoinedNew(Vec<Event>),
    /// The room is gone for us (left, removed, or joining failed).
    Gone(Vec<Event>),
}

/// The join presence (XEP-0045 §7.2).
pub(crate) fn join(
    room: &BareJid,
    nick: &str,
    password: Option<&str>,
    history: Option<u32>,
) -> Option<Element> {
    let to = room.with_resource_str(nick).ok()?;
    let mut x = Element::builder("x", ns::MUC).build();
    if let Some(password) = password {
        x.append_child(
            Element::builder("password", ns::MUC)
                .append(password)
                .build(),
        );
    }
    if let Some(n) = history {
        x.append_child(
            Element::builder("history", ns::MUC)
                .attr(nc!("maxstanzas"), n.to_string())
                .build(),
        );
    }
    Some(
        Element::builder("presence", NS_CLIENT)
            .attr(nc!("to"), to.to_string())
            .append(x)
            .build(),
    )
}

/// The exit presence (XEP-0045 §7.14).
pub(crate) fn leave(room: &BareJid, nick: &str, status: Option<String>) -> Option<Element> {
    let to = room.with_resource_str(nick).ok()?;
    let mut b = Element::builder("presence", NS_CLIENT)
        .attr(nc!("to"), to.to_string())
        .attr(nc!("type"), "unavailable");
    if let Some(status) = status {
        b = b.append(Element::builder("status", NS_CLIENT).append(status).build());
    }
    Some(b.build())
}

/// A subject change (XEP-0045 §8.1).
pub(crate) fn subject(room: &BareJid, id: String, subject: String) -> Element {
    Element::builder("message", NS_CLIENT)
        .attr(nc!("to"), room.to_string())
        .attr(nc!("type"), "groupchat")
        .attr(nc!("id"), id)
        .append(
            Element::builder("subject", NS_CLIENT)
                .append(subject)
                .build(),
        )
        .build()
}

/// Accepts the default configuration of a room we created (XEP-0045 §10.1.2).
pub(crate) fn instant_room(room: &BareJid, id: String) -> Element {
    let form = Element::builder("x", ns::DATA_FORMS)
        .attr(nc!("type"), "submit")
        .build();
    let query = Element::builder("query", NS_MUC_OWNER).append(form).build();
    crate::ext::iq("set", id, Some(Jid::from(room.clone())), query)
}

/// Handles a presence from `room` (its bare JID is a room we track).
pub(crate) fn presence(room_jid: &BareJid, room: &mut Room, element: Element) -> Outcome {
    let Some(nick) = element
        .attr("from")
        .and_then(|f| f.parse::<Jid>().ok())
        .and_then(|f| f.resource().map(|r| r.as_str().to_owned()))
    else {
        // From the room itself: only errors make sense.
        if element.attr("type") == Some("error") && !room.joined {
            return Outcome::Gone(vec![Event::RoomJoinFailed {
                room: room_jid.clone(),
                error: stanza::stanza_error(&element),
            }]);
        }
        return Outcome::Events(vec![Event::StanzaDropped {
            reason: "presence from a room without a nickname".into(),
        }]);
    };
    let type_ = element.attr("type").unwrap_or("");
    if type_ == "error" {
        let error = stanza::stanza_error(&element);
        if room.joined {
            // E.g. a nickname change refused; we stay in the room.
            return Outcome::Events(vec![Event::PresenceError {
                from: Jid::from(room_jid.clone()),
                error,
            }]);
        }
        return Outcome::Gone(vec![Event::RoomJoinFailed {
            room: room_jid.clone(),
            error,
        }]);
    }
    let x = element.get_child("x", ns::MUC_USER);
    let codes: Vec<u16> = x
        .map(|x| {
            x.children()
                .filter(|c| c.is("status", ns::MUC_USER))
                .filter_map(|c| c.attr("code").and_then(|c| c.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    let item = x.and_then(|x| x.get_child("item", ns::MUC_USER));
    let is_self = codes.contains(&110);
    match type_ {
        "" => {
            let occupant = Occupant {
                nick: nick.clone(),
                jid: item
                    .and_then(|i| i.attr("jid"))
                    .and_then(|j| j.parse().ok()),
                affiliation: item
                    .and_then(|i| i.attr("affiliation"))
                    .unwrap_or("none")
                    .to_owned(),
                role: item
                    .and_then(|i| i.attr("role"))
                    .unwrap_or("none")
                    .to_owned(),
                show: element
                    .get_child("show", NS_CLIENT)
                    .and_then(|s| match s.text().trim() {
                        "away" => Some(Show::Away),
                        "chat" => Some(Show::Chat),
                        "dnd" => Some(Show::Dnd),
                        "xa" => Some(Show::Xa),
                        _ => None,
                    }),
                status: element.get_child("status", NS_CLIENT).map(Element::text),
                is_self,
            };
            let mut events = vec![Event::Occupant {
                room: room_jid.clone(),
                occupant,
            }];
            if is_self && !room.joined {
                room.joined = true;
                // The room may have changed our nickname (status 210).
                room.nick = nick.clone();
                let created = codes.contains(&201);
                events.push(Event::RoomJoined {
                    room: room_jid.clone(),
                    nick,
                    created,
                });
                if created {
                    return Outcome::JoinedNew(events);
                }
            }
            Outcome::Events(events)
        }
        "unavailable" => {
            let new_nick = codes
                .contains(&303)
                .then(|| item.and_then(|i| i.attr("nick")).map(str::to_owned))
                .flatten();
            if is_self {
                if let Some(new) = new_nick.clone() {
                    room.nick = new;
                    return Outcome::Events(vec![Event::OccupantLeft {
                        room: room_jid.clone(),
                        nick,
                        new_nick,
                    }]);
                }
                let removed = [
                    (307, "kicked"),
                    (301, "banned"),
                    (321, "affiliation"),
                    (322, "members-only"),
                    (332, "shutdown"),
                ]
                .iter()
                .find(|(code, _)| codes.contains(code))
                .map(|(_, why)| (*why).to_owned());
                return Outcome::Gone(vec![Event::RoomLeft {
                    room: room_jid.clone(),
                    removed,
                }]);
            }
            Outcome::Events(vec![Event::OccupantLeft {
                room: room_jid.clone(),
                nick,
                new_nick,
            }])
        }
        _ => Outcome::Events(vec![Event::StanzaDropped {
            reason: format!("room presence of type {type_}"),
        }]),
    }
}

/// A subject-only groupchat message from a room (XEP-0045 §8.1): the subject event.
pub(crate) fn subject_event(room: &BareJid, element: &Element) -> Option<Event> {
    if element.attr("type") != Some("groupchat") || element.has_child("body", NS_CLIENT) {
        return None;
    }
    let subject = element.get_child("subject", NS_CLIENT)?;
    let nick = element
        .attr("from")
        .and_then(|f| f.parse::<Jid>().ok())
        .and_then(|f| f.resource().map(|r| r.as_str().to_owned()));
    Some(Event::RoomSubject {
        room: room.clone(),
        nick,
        subject: subject.text(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{parse_frame, serialise, Limits};

    fn el(s: &str) -> Element {
        parse_frame(s, &Limits::default()).unwrap()
    }

    fn room() -> BareJid {
        "coven@chat.shakespeare.lit".parse().unwrap()
    }

    fn entering() -> Room {
        Room {
            nick: "thirdwitch".into(),
            joined: false,
        }
    }

    #[test]
    fn join_and_leave_stanzas() {
        let j = serialise(&join(&room(), "thirdwitch", Some("cauldronburn"), Some(0)).unwrap());
        let back = el(&j);
        assert_eq!(
            back.attr("to"),
            Some("coven@chat.shakespeare.lit/thirdwitch")
        );
        let x = back.get_child("x", ns::MUC).unwrap();
        assert_eq!(
            x.get_child("password", ns::MUC).unwrap().text(),
            "cauldronburn"
        );
        assert_eq!(
            x.get_child("history", ns::MUC).unwrap().attr("maxstanzas"),
            Some("0")
        );
        let l = el(&serialise(
            &leave(&room(), "thirdwitch", Some("bye".into())).unwrap(),
        ));
        assert_eq!(l.attr("type"), Some("unavailable"));
        assert_eq!(l.get_child("status", NS_CLIENT).unwrap().text(), "bye");
        let s = el(&serialise(&subject(
            &room(),
            "s1".into(),
            "Fire Burn".into(),
        )));
        assert_eq!(s.attr("type"), Some("groupchat"));
        let i = serialise(&instant_room(&room(), "i1".into()));
        assert!(
            i.contains("muc#owner") && i.contains("type='submit'"),
            "{i}"
        );
    }

    #[test]
    fn join_sequence_others_then_self_then_subject() {
        let mut r = entering();
        let other = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/firstwitch'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' \
            role='moderator'/></x></presence>",
        );
        let Outcome::Events(evs) = presence(&room(), &mut r, other) else {
            panic!()
        };
        assert!(matches!(&evs[..], [Event::Occupant { occupant, .. }]
            if occupant.nick == "firstwitch" && occupant.affiliation == "owner" && !occupant.is_self));
        assert!(!r.joined);

        let me = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/3rdwitch'>\
            <show>away</show><x xmlns='http://jabber.org/protocol/muc#user'><item \
            affiliation='member' role='participant' jid='hag66@shakespeare.lit/pda'/>\
            <status code='110'/><status code='210'/></x></presence>",
        );
        let Outcome::Events(evs) = presence(&room(), &mut r, me) else {
            panic!()
        };
        assert_eq!(evs.len(), 2);
        assert!(matches!(&evs[0], Event::Occupant { occupant, .. }
            if occupant.is_self && occupant.show == Some(Show::Away) && occupant.jid.is_some()));
        assert_eq!(
            evs[1],
            Event::RoomJoined {
                room: room(),
                nick: "3rdwitch".into(),
                created: false
            }
        );
        assert!(r.joined);
        assert_eq!(r.nick, "3rdwitch");

        let subj = el(
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit/secondwitch' \
            type='groupchat'><subject>Fire Burn and Cauldron Bubble!</subject></message>",
        );
        assert_eq!(
            subject_event(&room(), &subj),
            Some(Event::RoomSubject {
                room: room(),
                nick: Some("secondwitch".into()),
                subject: "Fire Burn and Cauldron Bubble!".into()
            })
        );
        let chat = el(
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit/x' \
            type='groupchat'><subject>s</subject><body>b</body></message>",
        );
        assert_eq!(subject_event(&room(), &chat), None);
    }

    #[test]
    fn created_room_asks_for_instant_configuration() {
        let mut r = entering();
        let me = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/thirdwitch'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' \
            role='moderator'/><status code='110'/><status code='201'/></x></presence>",
        );
        assert!(matches!(
            presence(&room(), &mut r, me),
            Outcome::JoinedNew(evs) if matches!(evs.last(), Some(Event::RoomJoined { created: true, .. }))
        ));
    }

    #[test]
    fn nick_conflict_and_other_errors() {
        let mut r = entering();
        let conflict = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/thirdwitch' \
            type='error'><error type='cancel'><conflict \
            xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
        );
        let Outcome::Gone(evs) = presence(&room(), &mut r, conflict.clone()) else {
            panic!()
        };
        assert!(
            matches!(&evs[..], [Event::RoomJoinFailed { error, .. }] if error.condition == "conflict")
        );
        // Once joined, an error (a refused nick change) does not remove us.
        let mut joined = Room {
            nick: "thirdwitch".into(),
            joined: true,
        };
        assert!(matches!(
            presence(&room(), &mut joined, conflict),
            Outcome::Events(evs) if matches!(evs[..], [Event::PresenceError { .. }])
        ));
    }

    #[test]
    fn leaving_nick_changes_and_removal() {
        let mut r = Room {
            nick: "thirdwitch".into(),
            joined: true,
        };
        let other_left = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/firstwitch' \
            type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item \
            affiliation='member' role='none'/></x></presence>",
        );
        assert_eq!(
            presence(&room(), &mut r, other_left),
            Outcome::Events(vec![Event::OccupantLeft {
                room: room(),
                nick: "firstwitch".into(),
                new_nick: None
            }])
        );
        let renamed = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/thirdwitch' \
            type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item \
            affiliation='member' role='participant' nick='oldhag'/><status code='303'/>\
            <status code='110'/></x></presence>",
        );
        assert!(matches!(
            presence(&room(), &mut r, renamed),
            Outcome::Events(_)
        ));
        assert_eq!(r.nick, "oldhag");
        let kicked = el("<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/oldhag' \
            type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item \
            affiliation='none' role='none'/><status code='307'/><status code='110'/></x></presence>");
        assert_eq!(
            presence(&room(), &mut r, kicked),
            Outcome::Gone(vec![Event::RoomLeft {
                room: room(),
                removed: Some("kicked".into())
            }])
        );
        let left = el(
            "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/oldhag' \
            type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item \
            affiliation='member' role='none'/><status code='110'/></x></presence>",
        );
        assert_eq!(
            presence(&room(), &mut r, left),
            Outcome::Gone(vec![Event::RoomLeft {
                room: room(),
                removed: None
            }])
        );
        // From the room's bare JID, not an error: dropped.
        let odd = el("<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit'/>");
        assert!(matches!(
            presence(&room(), &mut r, odd),
            Outcome::Events(evs) if matches!(evs[..], [Event::StanzaDropped { .. }])
        ));
    }
}
