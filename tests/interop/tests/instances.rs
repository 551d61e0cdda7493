//! v3 instance tags with two libotr instances of the same account (two clients logged
//! in at once) talking to our `Router`: each gets its own encrypted session, our
//! messages reach only the instance they are for, and replies are routed back to the
//! right session.
#![cfg(not(target_arch = "wasm32"))]

use candado_interop::{hex, our_key, unhex, LibOtr, TestRng, OUR_TAG};
use candado_otr::wire::message::{InstanceTag, Version};
use candado_otr::{Event, MessageState, Policy, Router, SessionConfig};

struct World {
    router: Router,
    libs: Vec<LibOtr>,
    /// Per libotr instance: its event lines (not `out`).
    lib_events: Vec<Vec<String>>,
    /// Our events with the instance they came from.
    events: Vec<(InstanceTag, Event)>,
    rng: TestRng,
}

impl World {
    /// Deliver libotr's output to the router; returns the instances that took each.
    fn deliver_from_lib(&mut self, i: usize, lines: Vec<String>) -> Vec<Option<InstanceTag>> {
        let mut routed = Vec::new();
        for l in lines {
            match l.strip_prefix("out ") {
                Some(h) => {
                    let text = String::from_utf8(unhex(h)).expect("utf8");
                    routed.push(self.router.handle_incoming(&text, 0, &mut self.rng));
                }
                None => self.lib_events[i].push(l),
            }
        }
        routed
    }

    /// Everything we send reaches every libotr instance (a bare-JID broadcast); pump
    /// until quiet.
    fn pump(&mut self) {
        loop {
            self.events
                .extend(std::iter::from_fn(|| self.router.poll_event()));
            let Some(text) = self.router.poll_transmit() else {
                break;
            };
            for i in 0..self.libs.len() {
                let lines = self.libs[i].cmd(&format!("recv {}", hex(text.as_bytes())));
                self.deliver_from_lib(i, lines);
            }
        }
    }

    fn shown(&self, i: usize) -> Vec<String> {
        self.lib_events[i]
            .iter()
            .filter_map(|l| l.strip_prefix("shown "))
            .map(|h| String::from_utf8(unhex(h)).expect("utf8"))
            .collect()
    }
}

#[test]
fn two_libotr_instances_get_separate_sessions() {
    let (a, a_fp) = LibOtr::with_key(Version::V3, 0);
    let (b, b_fp) = LibOtr::with_key(Version::V3, 0);
    let tags = [a.instag, b.instag];
    assert_ne!(tags[0], tags[1]);
    let mut w = World {
        router: Router::new(
            our_key(),
            InstanceTag::new(OUR_TAG).expect("tag"),
            SessionConfig {
                policy: Policy::MANUAL,
                max_message_size: 0,
            },
        ),
        libs: vec![a, b],
        lib_events: vec![Vec::new(), Vec::new()],
        events: Vec::new(),
        rng: TestRng::new(91),
    };

    // Our query reaches both; each answers with its own DH-Commit and gets its own AKE.
    w.router.master_mut().start().expect("start");
    w.pump();
    let mut instances: Vec<u32> = w.router.instances().iter().map(|t| t.value()).collect();
    instances.sort_unstable();
    let mut expected = tags.to_vec();
    expected.sort_unstable();
    assert_eq!(instances, expected);
    for (i, (tag, fp)) in tags.iter().zip([a_fp, b_fp]).enumerate() {
        let session = w
            .router
            .session_mut(InstanceTag::new(*tag).expect("tag"))
            .expect("session");
        assert_eq!(session.state(), MessageState::Encrypted);
        assert_eq!(session.their_fingerprint().map(|f| f.0), Some(fp));
        assert!(
            w.lib_events[i].contains(&format!("secure v3 {OUR_TAG:08x}")),
            "{:?}",
            w.lib_events[i]
        );
    }

    // Our message to each instance is shown by that instance only.
    for (i, tag) in tags.iter().enumerate() {
        w.lib_events = vec![Vec::new(), Vec::new()];
        let text = format!("only for instance {tag:08x}");
        w.router
            .session_mut(InstanceTag::new(*tag).expect("tag"))
            .expect("session")
            .send(&text, 0)
            .expect("send");
        w.pump();
        assert_eq!(w.shown(i), [text]);
        assert!(w.shown(1 - i).is_empty(), "{:?}", w.lib_events[1 - i]);
    }

    // Each instance's message is routed to its own session.
    w.events.clear();
    for (i, tag) in tags.iter().enumerate() {
        let text = format!("from instance {tag:08x}");
        let lines = w.libs[i].cmd(&format!("send {}", hex(text.as_bytes())));
        let routed = w.deliver_from_lib(i, lines);
        assert_eq!(routed, [Some(InstanceTag::new(*tag).expect("tag"))]);
        w.pump();
        assert!(
            w.events.contains(&(
                InstanceTag::new(*tag).expect("tag"),
                Event::Received {
                    text,
                    encrypted: true
                }
            )),
            "{:?}",
            w.events
        );
    }
    assert!(
        !w.events
            .iter()
            .any(|(_, e)| matches!(e, Event::Error { .. })),
        "{:?}",
        w.events
    );
    for log in &w.lib_events {
        assert!(
            !log.iter().any(|l| l.starts_with("error")
                || l == "msgevent rcvdmsg_unreadable"
                || l == "msgevent rcvdmsg_malformed"),
            "{log:?}"
        );
    }
}
