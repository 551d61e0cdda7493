//! The vault in the worker: one queue of operations on the IndexedDB-backed [`Vault`], run one at a
//! time in order, so a record written before a lock is on disk before the keys are dropped.
//!
//! Argon2id (creating, unlocking, changing the passphrase) runs in a worker, never on the page's
//! thread: in a short-lived worker of its own ([`crate::kdf`]), so its memory is given back.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use candado_api::{VaultFailure, VaultState};
use candado_engine::records;
use candado_vault::{
    self_test, IndexedDbStorage, Passphrase, RecordId, RecordKind, StoreName, SystemRandom, Vault,
    VaultConfig, VaultError,
};
use zeroize::Zeroizing;

/// The IndexedDB database (and vault store name) of the app.
pub const DATABASE: &str = "candado";
/// The record schema this build writes.
pub const SCHEMA_VERSION: u32 = 1;
/// How long unlocking should take on this device; calibrated once, when the vault is created.
pub const UNLOCK_TARGET: Duration = Duration::from_millis(1000);
/// What seals the vault when the person skipped the app passphrase (after a warning): a public
/// constant, so the vault is then only as safe as the device. The vault refuses empty passphrases.
pub const SKIPPED_PASSPHRASE: &str = "candado: the person chose no app passphrase";

/// An operation, queued in the order the worker asked for it.
pub enum Op {
    /// Open the database and report whether a vault exists.
    Open,
    /// Create the vault (first run).
    Create(Passphrase),
    /// Unlock and read every record the engine needs.
    Unlock(Passphrase),
    /// Drop the keys.
    Lock,
    /// Re-wrap the vault key under a new passphrase.
    Change(Passphrase, Passphrase),
    /// Write a record.
    Put(RecordKind, RecordId, Zeroizing<Vec<u8>>),
    /// Delete a record.
    Delete(RecordKind, RecordId),
}

/// What an operation produced, for the driver to act on.
pub enum Outcome {
    /// The vault is now in this state.
    State(VaultState),
    /// The operation failed; the vault is as it was, in the state given (re-announced after a
    /// failed create or unlock, so the page leaves its "working" screen).
    Failed(VaultFailure, String, Option<VaultState>),
    /// Unlocked (or created): these records are for the engine, then report `Unlocked`.
    Unlocked(Vec<(RecordKind, RecordId, Zeroizing<Vec<u8>>)>),
    /// A write failed: what it was about, for the UI to warn that it may not last.
    WriteFailed(String),
}

impl core::fmt::Debug for Op {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Passphrases and payloads never reach a log.
        match self {
            Op::Open => f.write_str("Open"),
            Op::Create(_) => f.write_str("Create(<passphrase>)"),
            Op::Unlock(_) => f.write_str("Unlock(<passphrase>)"),
            Op::Lock => f.write_str("Lock"),
            Op::Change(..) => f.write_str("Change(<passphrases>)"),
            Op::Put(kind, _, value) => write!(f, "Put({}, {} bytes)", kind.as_str(), value.len()),
            Op::Delete(kind, _) => write!(f, "Delete({})", kind.as_str()),
        }
    }
}

impl core::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Outcome::State(s) => write!(f, "State({s:?})"),
            Outcome::Failed(r, d, s) => write!(f, "Failed({r:?}, {d:?}, {s:?})"),
            Outcome::Unlocked(records) => write!(f, "Unlocked({} records)", records.len()),
            Outcome::WriteFailed(d) => write!(f, "WriteFailed({d:?})"),
        }
    }
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("open", &self.vault.is_some())
            .field("queued", &self.queue.len())
            .field("running", &self.running)
            .finish()
    }
}

/// The passphrase the vault is sealed with: the person's, or the public constant when skipped.
pub fn passphrase_of(typed: &str) -> Passphrase {
    if typed.is_empty() {
        Passphrase::from(SKIPPED_PASSPHRASE)
    } else {
        Passphrase::from(typed)
    }
}

type AppVault = Vault<IndexedDbStorage, SystemRandom>;

/// The queue and the vault it works on.
#[derive(Default)]
pub struct Store {
    /// `None` before the database is open, and while an operation holds it.
    vault: Option<AppVault>,
    queue: VecDeque<Op>,
    running: bool,
    self_tested: bool,
}

impl Store {
    /// Queues `op`; starts the runner if it is idle. `deliver` gets each outcome, in order.
    pub fn push(this: &Rc<RefCell<Store>>, op: Op, deliver: Rc<dyn Fn(Outcome)>) {
        let start = {
            let mut s = this.borrow_mut();
            crate::queue::enqueue(
                &mut s.queue,
                op,
                |last, new| matches!((last, new), (Op::Put(k1, i1, _), Op::Put(k2, i2, _)) if k1 == k2 && i1 == i2),
            );
            !std::mem::replace(&mut s.running, true)
        };
        if start {
            let this = this.clone();
            wasm_bindgen_futures::spawn_local(async move {
                loop {
                    let next = {
                        let mut s = this.borrow_mut();
                        let op = s.queue.pop_front();
                        if op.is_none() {
                            s.running = false;
                        }
                        op.map(|op| (op, s.vault.take(), s.self_tested))
                    };
                    let Some((op, vault, self_tested)) = next else {
                        return;
                    };
                    let (vault, tested, outcome) = perform(op, vault, self_tested).await;
                    {
                        let mut s = this.borrow_mut();
                        s.vault = vault;
                        s.self_tested = tested;
                    }
                    if let Some(outcome) = outcome {
                        deliver(outcome);
                    }
                }
            });
        }
    }
}

fn failure(e: &VaultError) -> VaultFailure {
    match e {
        VaultError::WrongPassphrase => VaultFailure::WrongPassphrase,
        VaultError::AlreadyExists | VaultError::NoVault | VaultError::Locked => {
            VaultFailure::WrongState
        }
        VaultError::Kdf(_) | VaultError::Randomness => VaultFailure::Unavailable,
        _ => VaultFailure::Storage,
    }
}

async fn open() -> Result<AppVault, String> {
    let storage = IndexedDbStorage::open(DATABASE)
        .await
        .map_err(|e| e.to_string())?;
    let store = StoreName::new(DATABASE).map_err(|e| e.to_string())?;
    Ok(Vault::new(
        storage,
        SystemRandom,
        VaultConfig {
            store,
            schema_version: SCHEMA_VERSION,
        },
    )
    .with_kdf(crate::kdf::WorkerKdf))
}

/// Reads every record of the kinds the engine knows.
async fn read_all(
    vault: &mut AppVault,
) -> Result<Vec<(RecordKind, RecordId, Zeroizing<Vec<u8>>)>, VaultError> {
    let mut out = Vec::new();
    for kind in records::kinds() {
        // Tampered records are left out (the rest stays readable); their ids are unknown.
        let listing = vault.list(&kind).await?;
        for id in listing.ids {
            match vault.get(&kind, &id).await {
                Ok(Some(value)) => out.push((kind.clone(), id, value)),
                Ok(None) | Err(VaultError::Tampered(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Runs one operation. Returns the vault to keep, whether the self-test passed, and the outcome.
async fn perform(
    op: Op,
    vault: Option<AppVault>,
    self_tested: bool,
) -> (Option<AppVault>, bool, Option<Outcome>) {
    let mut vault = match vault {
        Some(v) => v,
        None => match open().await {
            Ok(v) => v,
            Err(detail) => {
                return (
                    None,
                    self_tested,
                    Some(Outcome::Failed(VaultFailure::Unavailable, detail, None)),
                )
            }
        },
    };
    let needs_kdf = matches!(op, Op::Create(_) | Op::Unlock(_) | Op::Change(..));
    if needs_kdf && !self_tested {
        if let Err(e) = self_test() {
            return (
                Some(vault),
                false,
                Some(Outcome::Failed(
                    VaultFailure::Unavailable,
                    e.to_string(),
                    None,
                )),
            );
        }
    }
    let tested = self_tested || needs_kdf;
    let outcome = match op {
        Op::Open => Some(match vault.exists().await {
            Ok(true) if vault.is_unlocked() => Outcome::State(VaultState::Unlocked),
            Ok(true) => Outcome::State(VaultState::Locked),
            Ok(false) => Outcome::State(VaultState::Absent),
            Err(e) => Outcome::Failed(failure(&e), e.to_string(), None),
        }),
        Op::Create(passphrase) => {
            let params = crate::kdf::calibrate_params(UNLOCK_TARGET).await;
            Some(match vault.create(&passphrase, params).await {
                Ok(()) => Outcome::Unlocked(Vec::new()),
                Err(e) => {
                    let state = match e {
                        VaultError::AlreadyExists => VaultState::Locked,
                        _ => VaultState::Absent,
                    };
                    Outcome::Failed(failure(&e), e.to_string(), Some(state))
                }
            })
        }
        Op::Unlock(passphrase) => {
            let unlocked = match vault.unlock(&passphrase).await {
                Ok(()) => read_all(&mut vault).await,
                Err(e) => Err(e),
            };
            Some(match unlocked {
                Ok(records) => Outcome::Unlocked(records),
                Err(e) => {
                    vault.lock();
                    let state = match e {
                        VaultError::NoVault => VaultState::Absent,
                        _ => VaultState::Locked,
                    };
                    Outcome::Failed(failure(&e), e.to_string(), Some(state))
                }
            })
        }
        Op::Lock => {
            vault.lock();
            Some(Outcome::State(VaultState::Locked))
        }
        Op::Change(current, new) => {
            Some(match vault.change_passphrase(&current, &new, None).await {
                Ok(()) => Outcome::State(VaultState::Unlocked),
                Err(e) => Outcome::Failed(failure(&e), e.to_string(), None),
            })
        }
        Op::Put(kind, id, value) => vault
            .put(&kind, &id, &value)
            .await
            .err()
            .map(|e| Outcome::WriteFailed(format!("writing a {} record: {e}", kind.as_str()))),
        Op::Delete(kind, id) => vault
            .delete(&kind, &id)
            .await
            .err()
            .map(|e| Outcome::WriteFailed(format!("deleting a {} record: {e}", kind.as_str()))),
    };
    (Some(vault), tested, outcome)
}
