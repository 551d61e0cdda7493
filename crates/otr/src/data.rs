//! Data messages: encryption under the current key pair, key ids, counters, key
//! rotation and revealing old MAC keys.
//!
//! After the AKE each side holds two of its own DH keys (current and previous) and up to
//! two of the peer's, and keeps symmetric keys for each of the (up to four) pairs:
//!
//! | ours \ theirs | their current (`their_keyid`) | their previous (`their_keyid − 1`) |
//! |---|---|---|
//! | our current (`our_keyid`) | `sessions[0][0]` | `sessions[0][1]` |
//! | our previous (`our_keyid − 1`) | `sessions[1][0]` — **we send with this** | `sessions[1][1]` |
//!
//! Sending (libotr `otrl_proto_create_data`): sender keyid `our_keyid − 1`, recipient keyid
//! `their_keyid`, next DH = our current public value, counter incremented before use
//! (first counter is 1), MAC = HMAC-SHA1 over header through ciphertext, then the MAC keys
//! waiting to be revealed.
//!
//! Receiving (libotr `otrl_proto_accept_data`), in this order: key ids must name known
//! keys; the MAC is checked in constant time; the counter must be larger than the last one
//! accepted for that pair; the next DH value must be in range (a check libotr omits);
//! then the payload is
//! decrypted and keys rotate: if the recipient keyid is our current one we make a new key
//! pair, and if the sender keyid is their current one their next DH becomes current.
//! Receiving MAC keys of discarded pairs that verified a message are revealed in our next
//! Data message, as libotr does.

use zeroize::Zeroizing;

use crate::ake::AkeSuccess;
use crate::crypto::group::{DhKeyPair, DhPublicKey};
use crate::crypto::kdf::{aes128_ctr, ct_eq, hmac_sha1, SessionKeys};
use crate::crypto::CryptoRng;
use crate::error::{Error, PeerError, UsageError};
use crate::wire::message::{
    DataMessage, EncodedMessage, Header, InstanceTag, MessageBody, Version,
};
use crate::wire::{Ctr, Data, Mac};

/// Symmetric state for one (our key, their key) pair.
struct PairState {
    keys: SessionKeys,
    /// Top half of the last counter we sent.
    send_ctr: u64,
    /// Top half of the last counter we accepted.
    recv_ctr: u64,
    /// Whether `keys.recv_mac` verified a message (then it is revealed when discarded).
    recv_mac_used: bool,
}

impl PairState {
    fn new(ours: &DhKeyPair, theirs: &DhPublicKey) -> Self {
        Self {
            keys: SessionKeys::derive(&ours.shared_secret(theirs), ours.public(), theirs),
            send_ctr: 0,
            recv_ctr: 0,
            recv_mac_used: false,
        }
    }
}

/// A decrypted Data message.
pub struct Received {
    /// The decrypted payload (text, optional NUL and TLVs); see [`crate::tlv::Plaintext`].
    pub payload: Zeroizing<Vec<u8>>,
    /// The message's flags.
    pub flags: u8,
    /// The extra symmetric key of the key pair this message used (for TLV 8).
    pub extra_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for Received {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Received")
            .field("payload_len", &self.payload.len())
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// The encrypted channel after a successful AKE (msgstate ENCRYPTED).
pub struct DataChannel {
    version: Version,
    our_instance: InstanceTag,
    their_instance: InstanceTag,
    our_keyid: u32,
    our_dh: DhKeyPair,
    our_old_dh: DhKeyPair,
    their_keyid: u32,
    their_y: DhPublicKey,
    their_old_y: Option<DhPublicKey>,
    /// `[ours: 0 = current, 1 = previous][theirs: 0 = current, 1 = previous]`.
    sessions: [[Option<PairState>; 2]; 2],
    /// Receiving MAC keys to publish in our next Data message.
    pending_reveal: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataChannel")
            .field("version", &self.version)
            .field("their_instance", &self.their_instance)
            .field("our_keyid", &self.our_keyid)
            .field("their_keyid", &self.their_keyid)
            .finish_non_exhaustive()
    }
}

impl DataChannel {
    /// Set up keys as libotr's `go_encrypted` does: the AKE key pair becomes our previous
    /// key (id 1), a fresh pair our current key (id 2); the peer's AKE value is their
    /// current key with the id from the AKE.
    pub fn new<R: CryptoRng + ?Sized>(
        ake: AkeSuccess,
        our_instance: InstanceTag,
        rng: &mut R,
    ) -> Result<Self, Error> {
        if ake.their_keyid == 0 {
            return Err(PeerError::ZeroKeyId.into());
        }
        let our_old_dh = ake.our_dh;
        let our_dh = DhKeyPair::generate(rng);
        let their_y = ake.their_dh;
        let current = PairState::new(&our_dh, &their_y);
        let previous = PairState::new(&our_old_dh, &their_y);
        Ok(Self {
            version: ake.version,
            our_instance,
            their_instance: ake.their_instance,
            our_keyid: crate::ake::AKE_KEYID + 1,
            our_dh,
            our_old_dh,
            their_keyid: ake.their_keyid,
            their_y,
            their_old_y: None,
            sessions: [[Some(current), None], [Some(previous), None]],
            pending_reveal: Zeroizing::new(Vec::new()),
        })
    }

    /// The protocol version of this channel.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Our current key id.
    pub fn our_keyid(&self) -> u32 {
        self.our_keyid
    }

    /// The peer's current key id.
    pub fn their_keyid(&self) -> u32 {
        self.their_keyid
    }

    fn header(&self) -> Header {
        match self.version {
            Version::V2 => Header::V2,
            Version::V3 => Header::V3 {
                sender: self.our_instance,
                receiver: self.their_instance,
            },
        }
    }

    /// Encrypt `payload` (text, NUL, TLVs: see [`crate::tlv::Plaintext::encode`]) into a
    /// Data message, revealing any MAC keys that are due. Also returns the extra symmetric
    /// key of the pair used.
    pub fn encrypt(
        &mut self,
        payload: &[u8],
        flags: u8,
    ) -> Result<(EncodedMessage, Zeroizing<[u8; 32]>), Error> {
        let header = self.header();
        let sender_keyid = self.our_keyid.saturating_sub(1);
        let recipient_keyid = self.their_keyid;
        let next_dh = self.our_dh.public().mpi().clone();
        let Some(pair) = self.sessions[1][0].as_mut() else {
            return Err(UsageError::WrongState("no sending keys").into());
        };
        pair.send_ctr = pair
            .send_ctr
            .checked_add(1)
            .ok_or(UsageError::WrongState("counter exhausted"))?;
        let ctr = Ctr(pair.send_ctr.to_be_bytes());
        let mut encrypted = payload.to_vec();
        aes128_ctr(&pair.keys.send_aes, ctr.0, &mut encrypted);
        let mut message = DataMessage {
            flags,
            sender_keyid,
            recipient_keyid,
            next_dh,
            ctr,
            encrypted_message: Data(encrypted),
            mac: Mac([0; 20]),
            old_mac_keys: Data(core::mem::take(&mut *self.pending_reveal)),
        };
        message.mac = Mac(hmac_sha1(
            &pair.keys.send_mac,
            &[&message.authenticated_bytes(&header)],
        ));
        let extra = Zeroizing::new(pair.keys.extra_key);
        Ok((
            EncodedMessage {
                header,
                body: MessageBody::Data(message),
            },
            extra,
        ))
    }

    /// Verify, decrypt and account for one received Data message. On error nothing
    /// changes.
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        header: &Header,
        message: &DataMessage,
        rng: &mut R,
    ) -> Result<Received, Error> {
        match (*header, self.version) {
            (Header::V2, Version::V2) => {}
            (Header::V3 { sender, receiver }, Version::V3)
                if sender == self.their_instance && receiver == self.our_instance => {}
            _ => return Err(PeerError::WrongVersion.into()),
        }
        let (s, r) = (message.sender_keyid, message.recipient_keyid);
        if s == 0 || r == 0 {
            return Err(PeerError::UnknownKeyId.into());
        }
        let ours = if r == self.our_keyid {
            0
        } else if r == self.our_keyid.wrapping_sub(1) {
            1
        } else {
            return Err(PeerError::UnknownKeyId.into());
        };
        let theirs = if s == self.their_keyid {
            0
        } else if s == self.their_keyid.wrapping_sub(1) {
            1
        } else {
            return Err(PeerError::UnknownKeyId.into());
        };
        let Some(pair) = self
            .sessions
            .get_mut(ours)
            .and_then(|row| row.get_mut(theirs))
            .and_then(Option::as_mut)
        else {
            return Err(PeerError::UnknownKeyId.into());
        };
        let expected = hmac_sha1(&pair.keys.recv_mac, &[&message.authenticated_bytes(header)]);
        if !ct_eq(&expected, &message.mac.0) {
            return Err(Error::Unauthenticated);
        }
        let ctr = u64::from_be_bytes(message.ctr.0);
        if ctr <= pair.recv_ctr {
            return Err(PeerError::CounterNotIncreasing.into());
        }
        // Authenticated, so only the peer can have put a bad value here. libotr does not
        // check it; honest peers always pass.
        let next_dh = if theirs == 0 {
            Some(DhPublicKey::from_mpi(&message.next_dh)?)
        } else {
            None
        };
        let mut payload = Zeroizing::new(message.encrypted_message.0.clone());
        aes128_ctr(&pair.keys.recv_aes, message.ctr.0, &mut payload);
        pair.recv_ctr = ctr;
        pair.recv_mac_used = true;
        let extra_key = Zeroizing::new(pair.keys.extra_key);

        if ours == 0 {
            self.rotate_ours(rng);
        }
        if let Some(next) = next_dh {
            self.rotate_theirs(next);
        }
        Ok(Received {
            payload,
            flags: message.flags,
            extra_key,
        })
    }

    fn reveal(&mut self, pair: Option<PairState>) {
        if let Some(p) = pair {
            if p.recv_mac_used {
                self.pending_reveal.extend_from_slice(&p.keys.recv_mac);
            }
        }
    }

    /// Our current key was used by the peer: make a new one (libotr `rotate_dh_keys`).
    fn rotate_ours<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        let [current_row, old_row] = core::mem::take(&mut self.sessions);
        let [old_a, old_b] = old_row;
        self.reveal(old_a);
        self.reveal(old_b);
        let new_dh = DhKeyPair::generate(rng);
        self.our_old_dh = core::mem::replace(&mut self.our_dh, new_dh);
        self.our_keyid = self.our_keyid.saturating_add(1);
        let new_row = [
            Some(PairState::new(&self.our_dh, &self.their_y)),
            self.their_old_y
                .as_ref()
                .map(|old| PairState::new(&self.our_dh, old)),
        ];
        self.sessions = [new_row, current_row];
    }

    /// The peer's current key was used: their next key becomes current (libotr
    /// `rotate_y_keys`).
    fn rotate_theirs(&mut self, next: DhPublicKey) {
        let [[a0, a1], [b0, b1]] = core::mem::take(&mut self.sessions);
        self.reveal(a1);
        self.reveal(b1);
        self.their_old_y = Some(core::mem::replace(&mut self.their_y, next));
        self.their_keyid = self.their_keyid.saturating_add(1);
        self.sessions = [
            [Some(PairState::new(&self.our_dh, &self.their_y)), a0],
            [Some(PairState::new(&self.our_old_dh, &self.their_y)), b0],
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ake::{BoldHalf, SessionId};
    use crate::crypto::dsa::DsaPrivateKey;
    use crate::crypto::test_rng::TestRng;
    use crate::wire::Mpi;

    fn pair() -> (DataChannel, DataChannel, TestRng) {
        let mut rng = TestRng::new(11);
        let key = DsaPrivateKey::generate(&mut rng);
        let a_dh = DhKeyPair::generate(&mut rng);
        let b_dh = DhKeyPair::generate(&mut rng);
        let success = |ours: DhKeyPair, theirs: DhPublicKey, their_instance| AkeSuccess {
            version: Version::V3,
            their_instance,
            ssid: SessionId {
                bytes: [0; 8],
                bold: BoldHalf::First,
            },
            their_long_term: key.public_key().clone(),
            their_keyid: 1,
            their_dh: theirs,
            our_dh: ours,
        };
        let (a_tag, b_tag) = (
            InstanceTag::new(0x100).unwrap(),
            InstanceTag::new(0x200).unwrap(),
        );
        let a_pub = a_dh.public().clone();
        let b_pub = b_dh.public().clone();
        let alice = DataChannel::new(success(a_dh, b_pub, b_tag), a_tag, &mut rng).unwrap();
        let bob = DataChannel::new(success(b_dh, a_pub, a_tag), b_tag, &mut rng).unwrap();
        (alice, bob, rng)
    }

    #[test]
    fn authenticated_but_out_of_range_next_dh_is_a_peer_error() {
        let (mut alice, mut bob, mut rng) = pair();
        let (msg, _) = alice.encrypt(b"x\0", 0).unwrap();
        let MessageBody::Data(mut d) = msg.body else {
            panic!("not data")
        };
        // Re-MAC with Alice's real sending key after replacing next_dh.
        d.next_dh = Mpi::from_be_bytes(&[1]);
        let send_mac = alice.sessions[1][0].as_ref().unwrap().keys.send_mac;
        d.mac = Mac(hmac_sha1(&send_mac, &[&d.authenticated_bytes(&msg.header)]));
        assert_eq!(
            bob.decrypt(&msg.header, &d, &mut rng).unwrap_err(),
            Error::Peer(PeerError::BadGroupElement)
        );
        // Nothing rotated.
        assert_eq!(bob.their_keyid(), 1);
        assert_eq!(bob.our_keyid(), 2);
    }

    #[test]
    fn counter_zero_is_refused_like_libotr() {
        let (mut alice, mut bob, mut rng) = pair();
        let (msg, _) = alice.encrypt(b"x\0", 0).unwrap();
        let MessageBody::Data(mut d) = msg.body else {
            panic!("not data")
        };
        d.ctr = Ctr([0; 8]);
        let send_mac = alice.sessions[1][0].as_ref().unwrap().keys.send_mac;
        d.mac = Mac(hmac_sha1(&send_mac, &[&d.authenticated_bytes(&msg.header)]));
        assert_eq!(
            bob.decrypt(&msg.header, &d, &mut rng).unwrap_err(),
            Error::Peer(PeerError::CounterNotIncreasing)
        );
    }
}
