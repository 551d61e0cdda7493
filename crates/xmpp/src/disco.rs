//! XEP-0030 service discovery (our answer, and reading others') and XEP-0115 entity
//! capabilities (the hash we announce in presence, and the caps others announce).

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use minidom::Element;
use xmpp_parsers::caps::{compute_disco, hash_caps, Caps as ParsedCaps};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity};
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::ns;

use crate::types::{Caps, DiscoIdentity, DiscoItem};

/// The features we answer disco#info with, sorted (XEP-0030 §3.1).
pub(crate) const FEATURES: &[&str] = &[
    ns::CAPS,
    ns::DISCO_INFO,
    ns::CHATSTATES,
    ns::MUC,
    ns::RECEIPTS,
    ns::CARBONS,
    "urn:xmpp:ping",
];

/// What we are, for disco#info answers and the caps hash.
#[derive(Debug, Clone)]
pub(crate) struct OurInfo {
    pub(crate) name: String,
    pub(crate) node: String,
    /// XEP-0115 verification string.
    pub(crate) ver: String,
}

impl OurInfo {
    pub(crate) fn new(name: &str, node: &str) -> Self {
        let ver = hash_caps(&compute_disco(&info(name, None)), Algo::Sha_1)
            .map(|h| BASE64.encode(h.hash))
            .unwrap_or_default();
        Self {
            name: name.to_owned(),
            node: node.to_owned(),
            ver,
        }
    }

    /// Our disco#info for `node` (none, or our caps `node#ver`); `None` for other nodes.
    pub(crate) fn answer(&self, node: Option<&str>) -> Option<Element> {
        match node {
            None => Some(info(&self.name, None).into()),
            Some(n) if n == format!("{}#{}", self.node, self.ver) => {
                Some(info(&self.name, Some(n.to_owned())).into())
            }
            Some(_) => None,
        }
    }

    /// The `<c/>` element for our presence.
    pub(crate) fn caps_element(&self) -> Element {
        Element::builder("c", ns::CAPS)
            .attr(minidom::rxml::xml_ncname!("hash").to_owned(), "sha-1")
            .attr(
                minidom::rxml::xml_ncname!("node").to_owned(),
                self.node.as_str(),
            )
            .attr(
                minidom::rxml::xml_ncname!("ver").to_owned(),
                self.ver.as_str(),
            )
            .build()
    }
}

fn info(name: &str, node: Option<String>) -> DiscoInfoResult {
    DiscoInfoResult {
        node,
        identities: vec![Identity {
            category: "client".into(),
            type_: "web".into(),
            lang: None,
            name: Some(name.to_owned()),
        }],
        features: FEATURES
            .iter()
            .map(|f| (*f).to_owned())
            .collect::<BTreeSet<_>>(),
        extensions: Vec::new(),
    }
}

/// The caps a presence announces, if any.
pub(crate) fn caps_of(presence: &Element) -> Option<Caps> {
    let c = presence.get_child("c", ns::CAPS)?;
    // Validated by the parser (known hash, base64 ver), reported as sent.
    ParsedCaps::try_from(c.clone()).ok()?;
    Some(Caps {
        node: c.attr("node")?.to_owned(),
        hash: c.attr("hash")?.to_owned(),
        ver: c.attr("ver")?.to_owned(),
    })
}

/// Reads a disco#info result.
pub(crate) fn parse_info(payload: Element) -> Option<(Vec<DiscoIdentity>, Vec<String>)> {
    let result = DiscoInfoResult::try_from(payload).ok()?;
    let identities = result
        .identities
        .into_iter()
        .map(|i| DiscoIdentity {
            category: i.category,
            kind: i.type_,
            name: i.name,
        })
        .collect();
    Some((identities, result.features.into_iter().collect()))
}

/// Reads a disco#items result.
pub(crate) fn parse_items(payload: Element) -> Option<Vec<DiscoItem>> {
    let result = DiscoItemsResult::try_from(payload).ok()?;
    Some(
        result
            .items
            .into_iter()
            .map(|i| DiscoItem {
                jid: i.jid,
                node: i.node,
                name: i.name,
            })
            .collect(),
    )
}

pub(crate) fn query(info: bool, node: Option<String>) -> Element {
    let mut b = Element::builder(
        "query",
        if info {
            ns::DISCO_INFO
        } else {
            ns::DISCO_ITEMS
        },
    );
    if let Some(node) = node {
        b = b.attr(minidom::rxml::xml_ncname!("node").to_owned(), node);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{parse_frame, serialise, Limits};

    fn el(s: &str) -> Element {
        parse_frame(s, &Limits::default()).unwrap()
    }

    #[test]
    fn caps_hash_follows_xep_0115() {
        // XEP-0115 §5.2 simple example: client/pc "Exodus 0.9.1" with four features hashes
        // to QgayPKawpkPSDYmwT/WM94uAlu0=. Check our use of the algorithm against it.
        let example = DiscoInfoResult {
            node: None,
            identities: vec![Identity {
                category: "client".into(),
                type_: "pc".into(),
                lang: None,
                name: Some("Exodus 0.9.1".into()),
            }],
            features: [
                "http://jabber.org/protocol/caps",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            extensions: vec![],
        };
        let hash = hash_caps(&compute_disco(&example), Algo::Sha_1).unwrap();
        assert_eq!(BASE64.encode(hash.hash), "QgayPKawpkPSDYmwT/WM94uAlu0=");

        let ours = OurInfo::new("Candado", "https://candado.invalid/caps");
        assert_eq!(ours.ver.len(), 28);
        let c = serialise(&ours.caps_element());
        let back = el(&c);
        assert_eq!(back.attr("ver"), Some(ours.ver.as_str()));
        // The hash changes with the name.
        assert_ne!(OurInfo::new("Other", "n").ver, ours.ver);
    }

    #[test]
    fn our_disco_answer() {
        let ours = OurInfo::new("Candado", "https://candado.invalid/caps");
        let answer = ours.answer(None).unwrap();
        let (identities, features) = parse_info(answer).unwrap();
        assert_eq!(
            identities,
            vec![DiscoIdentity {
                category: "client".into(),
                kind: "web".into(),
                name: Some("Candado".into())
            }]
        );
        assert!(features.contains(&"urn:xmpp:receipts".to_owned()));
        let node = format!("https://candado.invalid/caps#{}", ours.ver);
        let answer = ours.answer(Some(&node)).unwrap();
        assert_eq!(answer.attr("node"), Some(node.as_str()));
        assert!(ours
            .answer(Some("https://candado.invalid/caps#bogus"))
            .is_none());
    }

    #[test]
    fn caps_in_presence_and_disco_results() {
        let p = el(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
            hash='sha-1' node='http://psi-im.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>",
        );
        assert_eq!(
            caps_of(&p),
            Some(Caps {
                node: "http://psi-im.org".into(),
                hash: "sha-1".into(),
                ver: "q07IKJEyjvHSyhy//CH0CxmKi8w=".into()
            })
        );
        let bad = el(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
            hash='sha-1' node='n'/></presence>",
        );
        assert_eq!(caps_of(&bad), None);

        let info = el("<query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='store' type='file' name='HTTP File Upload'/>\
            <feature var='urn:xmpp:http:upload:0'/></query>");
        let (ids, features) = parse_info(info).unwrap();
        assert_eq!(ids[0].category, "store");
        assert_eq!(features, vec!["urn:xmpp:http:upload:0".to_owned()]);
        let items = el("<query xmlns='http://jabber.org/protocol/disco#items'>\
            <item jid='conference.example.com' name='Chatrooms'/>\
            <item jid='upload.example.com' node='n'/></query>");
        let items = parse_items(items).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].node.as_deref(), Some("n"));
        assert_eq!(items[0].name.as_deref(), Some("Chatrooms"));
        assert!(
            parse_items(el("<query xmlns='http://jabber.org/protocol/disco#items'>\
            <item/></query>"))
            .is_none()
        );
        let q = serialise(&query(true, Some("n#v".into())));
        assert!(q.contains("disco#info") && q.contains("node='n#v'"), "{q}");
    }
}
