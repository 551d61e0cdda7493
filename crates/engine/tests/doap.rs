//! `candado.doap` (the repository root) lists exactly what the code says it supports:
//! `candado_xmpp::SUPPORTED` (RFCs and XEPs, with their status) and `candado_otr::SUPPORTED_VERSIONS`.
//! Changing either side alone fails this test.

use std::collections::BTreeSet;

use candado_otr::wire::message::Version;
use candado_xmpp::specs::{url, Status};

fn doap() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../candado.doap");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `rdf:resource="…"` after `marker` in the file.
fn resources(doap: &str, marker: &str) -> Vec<String> {
    doap.split(marker)
        .skip(1)
        .filter_map(|rest| rest.strip_prefix("rdf:resource=\""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn rfcs_in_the_doap_are_the_supported_ones() {
    let doap = doap();
    let listed: BTreeSet<String> = resources(&doap, "<implements ")
        .into_iter()
        .filter(|r| r.contains("rfc-editor.org"))
        .collect();
    let code: BTreeSet<String> = candado_xmpp::SUPPORTED
        .iter()
        .filter(|s| s.id.starts_with("RFC "))
        .filter_map(|s| url(s.id))
        .collect();
    assert_eq!(listed, code);
}

#[test]
fn xeps_in_the_doap_are_the_supported_ones_with_their_status() {
    let doap = doap();
    let mut listed = BTreeSet::new();
    for block in doap.split("<xmpp:SupportedXep>").skip(1) {
        let xep = resources(block, "<xmpp:xep ");
        let status = block
            .split("<xmpp:status>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default();
        assert_eq!(xep.len(), 1, "{block}");
        listed.insert((xep[0].clone(), status.to_string()));
    }
    let code: BTreeSet<(String, String)> = candado_xmpp::SUPPORTED
        .iter()
        .filter(|s| s.id.starts_with("XEP-"))
        .filter_map(|s| url(s.id).map(|u| (u, s.status.as_str().to_string())))
        .collect();
    assert_eq!(listed, code);
    // A partial entry says what is covered; a complete one needs no note.
    for spec in candado_xmpp::SUPPORTED {
        assert_eq!(
            spec.status == Status::Partial,
            !spec.note.is_empty(),
            "{spec:?}"
        );
    }
}

#[test]
fn otr_versions_in_the_doap_are_the_supported_ones() {
    let listed: BTreeSet<u16> = resources(&doap(), "<implements ")
        .iter()
        .filter_map(|r| r.strip_prefix("https://otr.cypherpunks.ca/Protocol-v"))
        .filter_map(|r| r.split('-').next()?.parse().ok())
        .collect();
    let code: BTreeSet<u16> = candado_otr::SUPPORTED_VERSIONS
        .iter()
        .copied()
        .map(Version::wire_value)
        .collect();
    assert_eq!(listed, code);
    assert_eq!(code, BTreeSet::from([2, 3]));
}
