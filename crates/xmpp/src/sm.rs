//! XEP-0198 stream management bookkeeping: counters, the queue of unacknowledged stanzas,
//! and the nonzas. The session decides when to enable, resume and resend.
//!
//! Counters are 32-bit and wrap (XEP-0198 §4: "h" is computed modulo 2^32).

use std::collections::VecDeque;

use jid::Jid;
use minidom::Element;

use crate::types::MessageKind;

/// `urn:xmpp:sm:3`.
pub(crate) const NS_SM: &str = "urn:xmpp:sm:3";

/// A stanza the server never acknowledged, handed back so nothing is silently lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnackedStanza {
    /// A message sent with `Command::SendMessage`; send it again with the same fields (the
    /// id lets the recipient's client spot a duplicate).
    Message {
        /// The id `handle_command` returned.
        id: String,
        /// The recipient.
        to: Jid,
        /// The text.
        body: String,
        /// Its kind.
        kind: MessageKind,
        /// Its thread, if any.
        thread: Option<String>,
    },
    /// A message sent with `Command::Send`; send it again with the same fields.
    Outgoing {
        /// The id `handle_command` returned.
        id: String,
        /// The message.
        message: crate::types::OutgoingMessage,
    },
    /// Any other stanza (presence, roster change, iq answer), as the frame that was sent.
    Other {
        /// The serialised stanza.
        frame: String,
    },
}

impl UnackedStanza {
    fn message_id(&self) -> Option<&str> {
        match self {
            Self::Message { id, .. } | Self::Outgoing { id, .. } => Some(id),
            Self::Other { .. } => None,
        }
    }
}

/// One sent, not yet acknowledged stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    pub(crate) frame: String,
    pub(crate) message: Option<UnackedStanza>,
}

impl Queued {
    pub(crate) fn into_unacked(self) -> UnackedStanza {
        self.message
            .unwrap_or(UnackedStanza::Other { frame: self.frame })
    }
}

/// The server acknowledged more stanzas than we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckTooHigh {
    pub(crate) h: u32,
    pub(crate) sent: u32,
}

/// Counters and queue of one stream-management session (which may span several sockets).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Stanzas we handled since `<enabled/>` (our `h`).
    pub(crate) inbound: u32,
    /// Stanzas we sent since `<enable/>`.
    pub(crate) sent: u32,
    /// The server's last `h`.
    pub(crate) acked: u32,
    /// Sent stanzas after `acked`, oldest first; `len() == sent - acked`.
    pub(crate) queue: VecDeque<Queued>,
}

impl Counters {
    pub(crate) fn on_sent(&mut self, frame: String, message: Option<UnackedStanza>) {
        self.sent = self.sent.wrapping_add(1);
        self.queue.push_back(Queued { frame, message });
    }

    pub(crate) fn on_received(&mut self) {
        self.inbound = self.inbound.wrapping_add(1);
    }

    /// Applies the server's `h`; returns the ids of messages it newly acknowledged.
    pub(crate) fn on_ack(&mut self, h: u32) -> Result<Vec<String>, AckTooHigh> {
        let newly = h.wrapping_sub(self.acked) as usize;
        if newly > self.queue.len() {
            return Err(AckTooHigh { h, sent: self.sent });
        }
        self.acked = h;
        Ok(self
            .queue
            .drain(..newly)
            .filter_map(|q| {
                q.message
                    .as_ref()
                    .and_then(|m| m.message_id().map(str::to_owned))
            })
            .collect())
    }

    pub(crate) fn take_unacked(&mut self) -> Vec<UnackedStanza> {
        self.queue.drain(..).map(Queued::into_unacked).collect()
    }
}

pub(crate) fn enable() -> Element {
    Element::builder("enable", NS_SM)
        .attr(minidom::rxml::xml_ncname!("resume").to_owned(), "true")
        .build()
}

pub(crate) fn request() -> Element {
    Element::builder("r", NS_SM).build()
}

pub(crate) fn answer(h: u32) -> Element {
    Element::builder("a", NS_SM)
        .attr(minidom::rxml::xml_ncname!("h").to_owned(), h.to_string())
        .build()
}

pub(crate) fn resume(h: u32, previd: &str) -> Element {
    Element::builder("resume", NS_SM)
        .attr(minidom::rxml::xml_ncname!("h").to_owned(), h.to_string())
        .attr(minidom::rxml::xml_ncname!("previd").to_owned(), previd)
        .build()
}

/// Reads an `h` attribute; `None` when absent or not a u32.
pub(crate) fn h(element: &Element) -> Option<u32> {
    element.attr("h").and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::serialise;

    fn msg(id: &str) -> Option<UnackedStanza> {
        Some(UnackedStanza::Message {
            id: id.into(),
            to: "romeo@example.net".parse().unwrap(),
            body: "b".into(),
            kind: MessageKind::Chat,
            thread: None,
        })
    }

    #[test]
    fn acks_drop_from_the_front_and_report_message_ids() {
        let mut c = Counters::default();
        c.on_sent("<presence/>".into(), None);
        c.on_sent("<message 1/>".into(), msg("m1"));
        c.on_sent("<message 2/>".into(), msg("m2"));
        assert_eq!(c.on_ack(2), Ok(vec!["m1".to_owned()]));
        assert_eq!(c.queue.len(), 1);
        // Repeated and old acks change nothing.
        assert_eq!(c.on_ack(2), Ok(vec![]));
        assert_eq!(c.on_ack(4), Err(AckTooHigh { h: 4, sent: 3 }));
        assert_eq!(c.acked, 2);
        assert_eq!(c.on_ack(3), Ok(vec!["m2".to_owned()]));
        assert!(c.queue.is_empty());
    }

    #[test]
    fn counters_wrap_modulo_2_pow_32() {
        let mut c = Counters {
            sent: u32::MAX - 1,
            acked: u32::MAX - 1,
            ..Counters::default()
        };
        for i in 0..4 {
            c.on_sent(format!("s{i}"), None);
        }
        assert_eq!(c.sent, 2);
        assert_eq!(c.on_ack(1), Ok(vec![]));
        assert_eq!(c.queue.len(), 1);
        assert_eq!(c.queue[0].frame, "s3");
        c.inbound = u32::MAX;
        c.on_received();
        assert_eq!(c.inbound, 0);
    }

    #[test]
    fn unacked_hand_back_keeps_messages_structured() {
        let mut c = Counters::default();
        c.on_sent("<message/>".into(), msg("m1"));
        c.on_sent("<presence xmlns='jabber:client'/>".into(), None);
        let u = c.take_unacked();
        assert_eq!(u[0], msg("m1").unwrap());
        assert_eq!(
            u[1],
            UnackedStanza::Other {
                frame: "<presence xmlns='jabber:client'/>".into()
            }
        );
        assert!(c.queue.is_empty());
    }

    #[test]
    fn nonzas() {
        assert_eq!(
            serialise(&enable()),
            "<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
        );
        assert_eq!(serialise(&request()), "<r xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(serialise(&answer(7)), "<a xmlns='urn:xmpp:sm:3' h='7'/>");
        let r = serialise(&resume(3, "abc"));
        assert!(r.contains("h='3'") && r.contains("previd='abc'"), "{r}");
        let el = crate::framing::parse_frame(
            "<a xmlns='urn:xmpp:sm:3' h='4294967295'/>",
            &Default::default(),
        )
        .unwrap();
        assert_eq!(h(&el), Some(u32::MAX));
        let el =
            crate::framing::parse_frame("<a xmlns='urn:xmpp:sm:3' h='-1'/>", &Default::default())
                .unwrap();
        assert_eq!(h(&el), None);
    }
}
