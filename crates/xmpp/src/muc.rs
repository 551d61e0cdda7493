//! XEP-0045 multi-user chat, the occupant's side: joining (with nickname conflicts),
//! leaving, occupants, subject, removal, the configuration of a room we create, and
//! invitations (mediated, XEP-0045 §7.8.2, and direct, XEP-0249). The session keeps one
//! [`Room`] per room we joined or are joining, and routes presence and messages from those
//! rooms here.

use jid::{BareJid, Jid};
use minidom::Element;
use xmpp_parsers::ns;

use crate::credentials::Password;
use crate::framing::NS_CLIENT;
use crate::stanza;
use crate::types::{Event, Occupant, RoomConfig, Show, MAX_INVITATION_TEXT};

const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// XEP-0249 direct invitations.
const NS_CONFERENCE: &str = "jabber:x:conference";
/// The `FORM_TYPE` of a room configuration form (XEP-0045 §15.5.3).
const ROOMCONFIG: &str = "http://jabber.org/protocol/muc#roomconfig";
/// Room passwords longer than this (in bytes) in an invitation are ignored.
const MAX_PASSWORD: usize = 1024;

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
    /// Settings to apply if joining creates the room.
    pub(crate) config: Option<RoomConfig>,
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
    password: Option<&Password>,
    history: Option<u32>,
) -> Option<Element> {
    let to = room.with_resource_str(nick).ok()?;
    let mut x = Element::builder("x", ns::MUC).build();
    if let Some(password) = password {
        x.append_child(
            Element::builder("password", ns::MUC)
                .append(password.expose())
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

/// Asks a room we created for its configuration form (XEP-0045 §10.1.3).
pub(crate) fn config_request(room: &BareJid, id: String) -> Element {
    let query = Element::builder("query", NS_MUC_OWNER).build();
    crate::ext::iq("get", id, Some(Jid::from(room.clone())), query)
}

/// The form field `var` of a data form, if present.
fn field<'a>(form: &'a Element, var: &str) -> Option<&'a Element> {
    form.children()
        .find(|c| c.is("field", ns::DATA_FORMS) && c.attr("var") == Some(var))
}

fn field_value(var: &str, value: &str) -> Element {
    Element::builder("field", ns::DATA_FORMS)
        .attr(nc!("var"), var)
        .append(
            Element::builder("value", ns::DATA_FORMS)
                .append(value)
                .build(),
        )
        .build()
}

/// Fills in the configuration form of a room we created (the `<query/>` of the room's
/// answer) with `config`, as the `<iq type='set'/>` to send; `Err` says why the form cannot
/// take it (not a `muc#roomconfig` form, or a field for a setting asked for is missing).
/// Only the fields we change are submitted; the room keeps its defaults for the rest.
pub(crate) fn config_submit(
    room: &BareJid,
    id: String,
    query: Option<&Element>,
    config: &RoomConfig,
) -> Result<Element, &'static str> {
    let form = query
        .filter(|q| q.is("query", NS_MUC_OWNER))
        .and_then(|q| q.get_child("x", ns::DATA_FORMS))
        .ok_or("no configuration form")?;
    let form_type = field(form, "FORM_TYPE")
        .and_then(|f| f.get_child("value", ns::DATA_FORMS))
        .map(Element::text);
    if form_type.as_deref().map(str::trim) != Some(ROOMCONFIG) {
        return Err("not a room configuration form");
    }
    let mut submit = Element::builder("x", ns::DATA_FORMS)
        .attr(nc!("type"), "submit")
        .append(
            Element::builder("field", ns::DATA_FORMS)
                .attr(nc!("var"), "FORM_TYPE")
                .attr(nc!("type"), "hidden")
                .append(
                    Element::builder("value", ns::DATA_FORMS)
                        .append(ROOMCONFIG)
                        .build(),
                )
                .build(),
        )
        .build();
    if let Some(password) = &config.password {
        field(form, "muc#roomconfig_roomsecret").ok_or("the form has no room password")?;
        if field(form, "muc#roomconfig_passwordprotectedroom").is_some() {
            submit.append_child(field_value("muc#roomconfig_passwordprotectedroom", "1"));
        }
        submit.append_child(field_value("muc#roomconfig_roomsecret", password.expose()));
    }
    for (wanted, var) in [
        (config.members_only, "muc#roomconfig_membersonly"),
        (config.persistent, "muc#roomconfig_persistentroom"),
    ] {
        if wanted {
            field(form, var).ok_or("the form lacks a setting asked for")?;
            submit.append_child(field_value(var, "1"));
        }
    }
    let query = Element::builder("query", NS_MUC_OWNER)
        .append(submit)
        .build();
    Ok(crate::ext::iq(
        "set",
        id,
        Some(Jid::from(room.clone())),
        query,
    ))
}

/// A mediated invitation (XEP-0045 §7.8.2), sent through `room`.
pub(crate) fn invite(room: &BareJid, id: String, to: &BareJid, reason: Option<String>) -> Element {
    mediated(room, id, "invite", &Jid::from(to.clone()), reason)
}

/// Declines a mediated invitation: the room tells `to`, the inviter.
pub(crate) fn decline(room: &BareJid, id: String, to: &Jid, reason: Option<String>) -> Element {
    mediated(room, id, "decline", to, reason)
}

fn mediated(room: &BareJid, id: String, what: &str, to: &Jid, reason: Option<String>) -> Element {
    let mut item = Element::builder(what, ns::MUC_USER)
        .attr(nc!("to"), to.to_string())
        .build();
    if let Some(reason) = reason.filter(|r| !r.trim().is_empty()) {
        item.append_child(
            Element::builder("reason", ns::MUC_USER)
                .append(reason)
                .build(),
        );
    }
    Element::builder("message", NS_CLIENT)
        .attr(nc!("to"), room.to_string())
        .attr(nc!("id"), id)
        .append(Element::builder("x", ns::MUC_USER).append(item).build())
        .build()
}

/// Cuts an untrusted note to [`MAX_INVITATION_TEXT`] characters; blank is none.
fn note(text: Option<String>) -> Option<String> {
    let text = text?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(MAX_INVITATION_TEXT).collect())
}

fn password(text: Option<String>) -> Option<Password> {
    text.filter(|p| !p.is_empty() && p.len() <= MAX_PASSWORD)
        .map(Password::new)
}

/// An invitation, or a decline of ours, carried by a message: mediated (from the room's bare
/// JID, `<x xmlns='…muc#user'><invite/>`) or direct (`<x xmlns='jabber:x:conference'/>`).
/// Anything malformed is `None` (the message is then handled as an ordinary one).
pub(crate) fn invitation(element: &Element) -> Option<Event> {
    if matches!(element.attr("type"), Some("error" | "groupchat")) {
        return None;
    }
    let from = element.attr("from").and_then(|f| f.parse::<Jid>().ok());
    if let Some(x) = element.get_child("x", ns::MUC_USER) {
        // Only a room (a bare JID with a local part) mediates.
        let room = from
            .filter(|f| f.resource().is_none() && f.node().is_some())
            .map(|f| f.to_bare())?;
        let who = |child: &Element| child.attr("from").and_then(|f| f.parse::<Jid>().ok());
        let reason =
            |child: &Element| note(child.get_child("reason", ns::MUC_USER).map(Element::text));
        if let Some(invite) = x.get_child("invite", ns::MUC_USER) {
            return Some(Event::RoomInvitation {
                room,
                from: who(invite),
                reason: reason(invite),
                password: password(x.get_child("password", ns::MUC_USER).map(Element::text)),
                mediated: true,
            });
        }
        if let Some(decline) = x.get_child("decline", ns::MUC_USER) {
            return Some(Event::RoomInvitationDeclined {
                room,
                from: who(decline),
                reason: reason(decline),
            });
        }
        return None;
    }
    let x = element.get_child("x", NS_CONFERENCE)?;
    let room = x
        .attr("jid")
        .and_then(|j| j.parse::<BareJid>().ok())
        .filter(|j| j.node().is_some())?;
    Some(Event::RoomInvitation {
        room,
        from,
        reason: note(x.attr("reason").map(str::to_owned)),
        password: password(x.attr("password").map(str::to_owned)),
        mediated: false,
    })
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
            config: None,
        }
    }

    #[test]
    fn join_and_leave_stanzas() {
        let secret = Password::new("cauldronburn");
        let j = serialise(&join(&room(), "thirdwitch", Some(&secret), Some(0)).unwrap());
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
            config: None,
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
            config: None,
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

    #[test]
    fn config_form_with_every_field_and_refusals() {
        // ejabberd's form has `passwordprotectedroom` next to the secret.
        let form = el("<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' \
            type='form'><field var='FORM_TYPE' type='hidden'><value>\
            http://jabber.org/protocol/muc#roomconfig</value></field>\
            <field var='muc#roomconfig_passwordprotectedroom' type='boolean'><value>0</value></field>\
            <field var='muc#roomconfig_roomsecret' type='text-private'/>\
            <field var='muc#roomconfig_membersonly' type='boolean'/></x></query>");
        let with_password = RoomConfig {
            password: Some(Password::new("s3cret")),
            ..RoomConfig::default()
        };
        let set =
            serialise(&config_submit(&room(), "c1".into(), Some(&form), &with_password).unwrap());
        assert!(
            set.contains("passwordprotectedroom'><value>1</value>"),
            "{set}"
        );
        assert!(set.contains("<value>s3cret</value>"), "{set}");
        assert!(
            !set.contains("membersonly"),
            "only what changes is sent: {set}"
        );
        // A setting the form lacks: refused, nothing half-applied.
        let persistent = RoomConfig {
            persistent: true,
            ..RoomConfig::default()
        };
        assert!(config_submit(&room(), "c2".into(), Some(&form), &persistent).is_err());
        // No form, or not a form in the owner namespace.
        assert!(config_submit(&room(), "c3".into(), None, &with_password).is_err());
        let other = el("<query xmlns='urn:example'><x xmlns='jabber:x:data' type='form'/></query>");
        assert!(config_submit(&room(), "c4".into(), Some(&other), &with_password).is_err());
        let no_type = el(
            "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' \
            type='form'><field var='muc#roomconfig_roomsecret'/></x></query>",
        );
        assert!(config_submit(&room(), "c5".into(), Some(&no_type), &with_password).is_err());
    }

    #[test]
    fn invitations_mediated_direct_and_declines() {
        let mediated = el(
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit' \
            to='hecate@shakespeare.lit'><x xmlns='http://jabber.org/protocol/muc#user'>\
            <invite from='crone1@shakespeare.lit/desktop'><reason>Hey Hecate</reason></invite>\
            <password>cauldronburn</password></x></message>",
        );
        assert_eq!(
            invitation(&mediated),
            Some(Event::RoomInvitation {
                room: room(),
                from: "crone1@shakespeare.lit/desktop".parse().ok(),
                reason: Some("Hey Hecate".into()),
                password: Some(Password::new("cauldronburn")),
                mediated: true,
            })
        );
        let direct = el(
            "<message xmlns='jabber:client' from='crone1@shakespeare.lit/desktop'>\
            <x xmlns='jabber:x:conference' jid='coven@chat.shakespeare.lit' password='pw' \
            reason='Come'/></message>",
        );
        assert_eq!(
            invitation(&direct),
            Some(Event::RoomInvitation {
                room: room(),
                from: "crone1@shakespeare.lit/desktop".parse().ok(),
                reason: Some("Come".into()),
                password: Some(Password::new("pw")),
                mediated: false,
            })
        );
        let declined = el(
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><decline from='hecate@shakespeare.lit'>\
            <reason>Sorry</reason></decline></x></message>",
        );
        assert!(matches!(invitation(&declined),
            Some(Event::RoomInvitationDeclined { from: Some(_), reason: Some(r), .. }) if r == "Sorry"));
        // Sent ones.
        let i = serialise(&invite(
            &room(),
            "i1".into(),
            &"hecate@shakespeare.lit".parse().unwrap(),
            Some("x".into()),
        ));
        assert!(
            i.contains("<invite to='hecate@shakespeare.lit'><reason>x</reason></invite>"),
            "{i}"
        );
        let d = serialise(&decline(
            &room(),
            "d1".into(),
            &"crone1@shakespeare.lit/desktop".parse().unwrap(),
            None,
        ));
        assert!(
            d.contains("<decline to='crone1@shakespeare.lit/desktop'/>"),
            "{d}"
        );
    }

    #[test]
    fn hostile_or_malformed_invitations_never_panic() {
        let long = "x".repeat(10_000);
        let cases = [
            // Not from a room: an occupant's full JID, a domain, nothing, garbage.
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit/evil'><x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
            "<message xmlns='jabber:client' from='chat.shakespeare.lit'><x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
            "<message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
            "<message xmlns='jabber:client' from='@@@'><x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
            // Errors and group messages are never invitations.
            "<message xmlns='jabber:client' type='error' from='coven@chat.shakespeare.lit'><x xmlns='http://jabber.org/protocol/muc#user'><invite/></x></message>",
            "<message xmlns='jabber:client' type='groupchat' from='coven@chat.shakespeare.lit'><x xmlns='jabber:x:conference' jid='a@b'/></message>",
            // Direct invitations to nowhere.
            "<message xmlns='jabber:client' from='a@b/c'><x xmlns='jabber:x:conference'/></message>",
            "<message xmlns='jabber:client' from='a@b/c'><x xmlns='jabber:x:conference' jid='chat.example.org'/></message>",
            "<message xmlns='jabber:client' from='a@b/c'><x xmlns='jabber:x:conference' jid='r@chat.example.org/nick'/></message>",
            "<message xmlns='jabber:client' from='a@b/c'><x xmlns='jabber:x:conference' jid='@'/></message>",
            // muc#user without an invite or decline (a status notice).
            "<message xmlns='jabber:client' from='coven@chat.shakespeare.lit'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>",
        ];
        for case in cases {
            assert_eq!(invitation(&el(case)), None, "{case}");
        }
        // Sloppy but usable: no inviter (a stranger, then), an unparsable inviter, a huge note,
        // an oversized or empty password.
        let sloppy = el(&format!("<message xmlns='jabber:client' from='coven@chat.shakespeare.lit'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><invite from='@@'><reason>{long}</reason>\
            </invite><password>{long}</password></x></message>"));
        let Some(Event::RoomInvitation {
            from,
            reason,
            password,
            ..
        }) = invitation(&sloppy)
        else {
            panic!("still an invitation")
        };
        assert_eq!(from, None);
        assert_eq!(reason.map(|r| r.chars().count()), Some(MAX_INVITATION_TEXT));
        assert_eq!(password, None);
        let blank = el(
            "<message xmlns='jabber:client' from='a@b/c'><x xmlns='jabber:x:conference' \
            jid='r@chat.example.org' password='' reason='   '/></message>",
        );
        assert!(matches!(
            invitation(&blank),
            Some(Event::RoomInvitation {
                password: None,
                reason: None,
                mediated: false,
                ..
            })
        ));
    }
}
