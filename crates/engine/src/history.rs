//! Opt-in history: chats are off the record unless the person turns history on for one
//! ([`candado_api::Command::SetHistory`]); from then on every message shown in that chat (sent or
//! received, the decrypted text of OTR ones) is kept in the vault, and only there.
//!
//! # Records (kind `history`)
//!
//! | id | payload |
//! |---|---|
//! | `account SP peer` | `candado-history 1\n`: the switch. Its presence means "keep this chat" |
//! | `account SP peer SP n` | chunk `n` (0, 1, …): `0x01 ‖ entry*`, each entry `flags ‖ at ‖ len32 ‖ UTF-8 text` |
//!
//! `flags` is one byte (bit 0: we wrote it; bit 1: it travelled encrypted), `at` the time as a
//! big-endian u64 (milliseconds on the worker's clock), `len32` a big-endian u32. Bare addresses
//! hold no spaces, so the ids parse back unambiguously; record ids are only ever stored inside the
//! vault's ciphertext.
//!
//! New messages go to the last chunk, which is rewritten as a whole; a chunk is closed at
//! [`CHUNK_MESSAGES`] messages or [`CHUNK_BYTES`] of payload. Appending therefore costs at most one
//! chunk's encoding, and a chat of 5 000 messages is about fifty records to read after unlocking.
//! Between unlocks only the last chunk is held in memory.
//!
//! Turning history off deletes the switch first, then every chunk: chunks left without a switch
//! (a deletion cut short) are deleted after the next unlock. Forgetting an account deletes every
//! history record of the account.

use std::collections::{BTreeMap, VecDeque};

use candado_api::{AccountId, ChatMessage, Delivery, Direction, Event, Notice};
use candado_vault::{RecordId, RecordKind};
use zeroize::Zeroizing;

use crate::records::RecordValue;
use crate::Effect;

/// A chunk is closed once it holds this many messages.
pub const CHUNK_MESSAGES: usize = 100;
/// A chunk is closed once its payload reaches this many bytes.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// The payload of a chat's switch record.
const SWITCH: &[u8] = b"candado-history 1\n";
const CHUNK_VERSION: u8 = 1;
const OUTGOING: u8 = 1;
const ENCRYPTED: u8 = 2;
/// One entry's bytes besides the text: flags, time, length.
const ENTRY_OVERHEAD: usize = 1 + 8 + 4;

/// One kept message.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// When (milliseconds on the worker's clock).
    pub at: u64,
    /// We wrote it.
    pub outgoing: bool,
    /// It travelled encrypted.
    pub encrypted: bool,
    /// What was shown.
    pub text: Zeroizing<String>,
}

impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry")
            .field("at", &self.at)
            .field("outgoing", &self.outgoing)
            .field("encrypted", &self.encrypted)
            .field("text_len", &self.text.len())
            .finish()
    }
}

/// Encodes a chunk's payload.
pub fn encode_chunk(entries: &[Entry]) -> RecordValue {
    let size = 1 + entries
        .iter()
        .map(|e| ENTRY_OVERHEAD + e.text.len())
        .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    out.push(CHUNK_VERSION);
    for e in entries {
        let flags = if e.outgoing { OUTGOING } else { 0 } | if e.encrypted { ENCRYPTED } else { 0 };
        out.push(flags);
        out.extend_from_slice(&e.at.to_be_bytes());
        // Texts come from XMPP frames, far below 4 GiB; a longer one is cut at a char boundary.
        let mut text: &str = &e.text;
        while u32::try_from(text.len()).is_err() {
            let mut cut = text.len() / 2;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = text.get(..cut).unwrap_or_default();
        }
        let len = u32::try_from(text.len()).unwrap_or(0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    RecordValue(out)
}

/// Decodes a chunk's payload; `None` if it is damaged.
pub fn decode_chunk(bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut rest = bytes.strip_prefix(&[CHUNK_VERSION])?;
    let mut entries = Vec::new();
    while let Some((&flags, tail)) = rest.split_first() {
        if flags & !(OUTGOING | ENCRYPTED) != 0 {
            return None;
        }
        let (at, tail) = tail.split_at_checked(8)?;
        let (len, tail) = tail.split_at_checked(4)?;
        let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
        let (text, tail) = tail.split_at_checked(len)?;
        entries.push(Entry {
            at: u64::from_be_bytes(at.try_into().ok()?),
            outgoing: flags & OUTGOING != 0,
            encrypted: flags & ENCRYPTED != 0,
            text: Zeroizing::new(core::str::from_utf8(text).ok()?.to_owned()),
        });
        rest = tail;
    }
    Some(entries)
}

/// What a history record's id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryId {
    /// The switch of a chat.
    Switch(AccountId, String),
    /// One chunk of a chat.
    Chunk(AccountId, String, u32),
}

impl HistoryId {
    /// Parses a record id; `None` if it is not one of ours.
    pub fn parse(id: &str) -> Option<Self> {
        let mut words = id.split(' ');
        let account = words.next().filter(|w| !w.is_empty())?;
        let peer = words.next().filter(|w| !w.is_empty())?;
        let chunk = match words.next() {
            None => None,
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => Some(n.parse().ok()?),
            Some(_) => return None,
        };
        if words.next().is_some() {
            return None;
        }
        let (account, peer) = (AccountId(account.to_owned()), peer.to_owned());
        Some(match chunk {
            None => Self::Switch(account, peer),
            Some(n) => Self::Chunk(account, peer, n),
        })
    }

    /// The record id.
    pub fn record(&self) -> Option<RecordId> {
        let text = match self {
            Self::Switch(a, p) => format!("{a} {p}"),
            Self::Chunk(a, p, n) => format!("{a} {p} {n}"),
        };
        RecordId::new(text).ok()
    }
}

/// One chat's history while the vault is unlocked.
#[derive(Debug, Default)]
struct Chat {
    /// The switch is on.
    keep: bool,
    /// Chunks read from the vault, until they are reported after unlocking.
    loaded: BTreeMap<u32, Vec<Entry>>,
    /// The chunk new messages go to.
    tail: u32,
    /// Its messages.
    tail_entries: Vec<Entry>,
    /// Its payload size.
    tail_bytes: usize,
    /// Every chunk number that may exist in the vault (to delete them all).
    highest: Option<u32>,
}

/// Every chat's history: the switches, and the last chunk of each kept chat.
#[derive(Debug, Default)]
pub(crate) struct History {
    chats: BTreeMap<(AccountId, String), Chat>,
}

fn put(effects: &mut VecDeque<Effect>, id: &HistoryId, value: RecordValue) {
    if let Some(id) = id.record() {
        effects.push_back(Effect::PutRecord {
            kind: RecordKind::HISTORY,
            id,
            value,
        });
    }
}

fn delete(effects: &mut VecDeque<Effect>, id: &HistoryId) {
    if let Some(id) = id.record() {
        effects.push_back(Effect::DeleteRecord {
            kind: RecordKind::HISTORY,
            id,
        });
    }
}

fn to_message(id: String, e: &Entry) -> ChatMessage {
    ChatMessage {
        id,
        direction: if e.outgoing {
            Direction::Outgoing
        } else {
            Direction::Incoming
        },
        text: e.text.to_string().into(),
        encrypted: e.encrypted,
        delivery: if e.outgoing {
            Delivery::Sent
        } else {
            Delivery::Received
        },
        at: e.at,
    }
}

impl History {
    /// Whether the chat's history is kept.
    pub(crate) fn keeps(&self, account: &AccountId, peer: &str) -> bool {
        self.chats
            .get(&(account.clone(), peer.to_owned()))
            .is_some_and(|c| c.keep)
    }

    /// A history record from the vault.
    pub(crate) fn load(&mut self, id: &RecordId, value: &[u8]) {
        match HistoryId::parse(id.as_str()) {
            Some(HistoryId::Switch(account, peer)) => {
                self.chats.entry((account, peer)).or_default().keep = true;
            }
            Some(HistoryId::Chunk(account, peer, n)) => {
                let chat = self.chats.entry((account, peer)).or_default();
                chat.highest = chat.highest.max(Some(n));
                // A damaged chunk is left out; its number is not reused.
                if let Some(entries) = decode_chunk(value) {
                    chat.loaded.insert(n, entries);
                }
            }
            None => {}
        }
    }

    /// After unlocking: reports every kept chat with its messages, keeps only each last chunk in
    /// memory, and deletes chunks whose switch is gone.
    pub(crate) fn report(&mut self, effects: &mut VecDeque<Effect>) {
        let mut orphans = Vec::new();
        for ((account, peer), chat) in &mut self.chats {
            let loaded = core::mem::take(&mut chat.loaded);
            if !chat.keep {
                if let Some(highest) = chat.highest {
                    orphans.push((account.clone(), peer.clone(), highest));
                }
                continue;
            }
            let messages = loaded
                .iter()
                .flat_map(|(n, entries)| {
                    entries
                        .iter()
                        .enumerate()
                        .map(move |(i, e)| to_message(format!("h{n}.{i}"), e))
                })
                .collect();
            effects.push_back(Effect::Emit(Event::History {
                account: account.clone(),
                peer: peer.clone(),
                keep: true,
                messages,
            }));
            if let Some(highest) = chat.highest {
                // Appends continue the last chunk (a new one if it was damaged).
                match loaded.into_iter().next_back() {
                    Some((n, entries)) if n == highest => {
                        chat.tail = n;
                        chat.tail_bytes = encode_chunk(&entries).0.len();
                        chat.tail_entries = entries;
                    }
                    _ => chat.tail = highest.saturating_add(1),
                }
            }
        }
        for (account, peer, highest) in orphans {
            for n in 0..=highest {
                delete(effects, &HistoryId::Chunk(account.clone(), peer.clone(), n));
            }
            self.chats.remove(&(account, peer));
        }
    }

    /// Turns a chat's history on or off ([`candado_api::Command::SetHistory`]).
    pub(crate) fn set(
        &mut self,
        account: &AccountId,
        peer: &str,
        keep: bool,
        effects: &mut VecDeque<Effect>,
    ) {
        let key = (account.clone(), peer.to_owned());
        let was = self.chats.get(&key).is_some_and(|c| c.keep);
        let notice = match (was, keep) {
            (false, true) => {
                let chat = self.chats.entry(key).or_default();
                chat.keep = true;
                put(
                    effects,
                    &HistoryId::Switch(account.clone(), peer.to_owned()),
                    RecordValue(Zeroizing::new(SWITCH.to_vec())),
                );
                Some(Notice::HistoryOn)
            }
            (true, false) => {
                self.delete_chat(account, peer, effects);
                Some(Notice::HistoryOff)
            }
            _ => None,
        };
        effects.push_back(Effect::Emit(Event::History {
            account: account.clone(),
            peer: peer.to_owned(),
            keep,
            messages: Vec::new(),
        }));
        if let Some(notice) = notice {
            effects.push_back(Effect::Emit(Event::Notice {
                account: account.clone(),
                peer: peer.to_owned(),
                notice,
            }));
        }
    }

    /// Deletes a chat's switch, then its chunks, and forgets it.
    fn delete_chat(&mut self, account: &AccountId, peer: &str, effects: &mut VecDeque<Effect>) {
        let Some(chat) = self.chats.remove(&(account.clone(), peer.to_owned())) else {
            return;
        };
        delete(
            effects,
            &HistoryId::Switch(account.clone(), peer.to_owned()),
        );
        let last = chat.highest.max(Some(chat.tail));
        for n in 0..=last.unwrap_or(0) {
            delete(
                effects,
                &HistoryId::Chunk(account.clone(), peer.to_owned(), n),
            );
        }
    }

    /// Deletes every history record of an account.
    pub(crate) fn forget(&mut self, account: &AccountId, effects: &mut VecDeque<Effect>) {
        let peers: Vec<String> = self
            .chats
            .keys()
            .filter(|(a, _)| a == account)
            .map(|(_, p)| p.clone())
            .collect();
        for peer in peers {
            self.delete_chat(account, &peer, effects);
        }
    }

    /// A message was shown: kept if its chat's history is on (incoming, and outgoing once sent).
    pub(crate) fn shown(
        &mut self,
        account: &AccountId,
        peer: &str,
        message: &ChatMessage,
        effects: &mut VecDeque<Effect>,
    ) {
        if message.delivery == Delivery::Queued {
            return;
        }
        let Some(chat) = self
            .chats
            .get_mut(&(account.clone(), peer.to_owned()))
            .filter(|c| c.keep)
        else {
            return;
        };
        let entry = Entry {
            at: message.at,
            outgoing: message.direction == Direction::Outgoing,
            encrypted: message.encrypted,
            text: Zeroizing::new(message.text.to_string()),
        };
        let size = ENTRY_OVERHEAD + entry.text.len();
        if !chat.tail_entries.is_empty()
            && (chat.tail_entries.len() >= CHUNK_MESSAGES
                || chat.tail_bytes.saturating_add(size) > CHUNK_BYTES)
        {
            chat.tail = chat.tail.saturating_add(1);
            chat.tail_entries.clear();
        }
        if chat.tail_entries.is_empty() {
            chat.tail_bytes = 1;
        }
        chat.tail_entries.push(entry);
        chat.tail_bytes = chat.tail_bytes.saturating_add(size);
        chat.highest = chat.highest.max(Some(chat.tail));
        put(
            effects,
            &HistoryId::Chunk(account.clone(), peer.to_owned(), chat.tail),
            encode_chunk(&chat.tail_entries),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64, text: &str) -> Entry {
        Entry {
            at: 1_764_000_000_000 + i,
            outgoing: i.is_multiple_of(2),
            encrypted: !i.is_multiple_of(3),
            text: Zeroizing::new(text.to_owned()),
        }
    }

    #[test]
    fn chunks_round_trip_and_refuse_damage() {
        let entries: Vec<Entry> = (0..5).map(|i| entry(i, &format!("hola ñ {i}"))).collect();
        let bytes = encode_chunk(&entries).0.to_vec();
        assert_eq!(decode_chunk(&bytes), Some(entries));
        assert_eq!(decode_chunk(&[1]), Some(Vec::new()));
        assert_eq!(decode_chunk(&[]), None);
        assert_eq!(decode_chunk(&[2]), None);
        // Cutting inside an entry is damage; cutting between entries is a shorter chunk.
        let one = encode_chunk(&[entry(0, "abc")]).0.len();
        for cut in 2..one {
            assert_eq!(decode_chunk(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut bad_flags = bytes.clone();
        bad_flags[1] = 0x80;
        assert_eq!(decode_chunk(&bad_flags), None);
        let mut bad_utf8 = encode_chunk(&[entry(0, "ab")]).0.to_vec();
        let last = bad_utf8.len() - 1;
        bad_utf8[last] = 0xff;
        assert_eq!(decode_chunk(&bad_utf8), None);
    }

    #[test]
    fn ids_name_account_peer_and_chunk() {
        let a = AccountId("alice@x".into());
        for id in [
            HistoryId::Switch(a.clone(), "bob@y".into()),
            HistoryId::Chunk(a.clone(), "bob@y".into(), 42),
        ] {
            let record = id.record().unwrap();
            assert_eq!(HistoryId::parse(record.as_str()), Some(id));
        }
        assert_eq!(
            HistoryId::Chunk(a, "bob@y".into(), 7)
                .record()
                .unwrap()
                .as_str(),
            "alice@x bob@y 7"
        );
        for bad in [
            "alice@x",
            "alice@x bob@y x",
            "alice@x bob@y 1 2",
            " bob@y",
            "a  1",
        ] {
            assert_eq!(HistoryId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn entries_do_not_show_their_text_in_debug() {
        let shown = format!("{:?}", entry(1, "secreto"));
        assert!(
            !shown.contains("secreto") && shown.contains("text_len: 7"),
            "{shown}"
        );
    }
}
