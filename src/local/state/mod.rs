//! State that outlives the process: the state file of a local KMS.
//!
//! Opened with [`LocalKmsBuilder::open`](super::LocalKmsBuilder::open) and
//! [`Storage::file`], a local KMS keeps its whole state in one file:
//!
//! * every key with all its materials (the AES-256 bytes of each symmetric
//!   material with its rotation date and type; an RSA or ECC key's private
//!   key, of either usage, as an unencrypted PKCS#8 v1 document; an HMAC
//!   key's key bytes), its key spec and key usage, its state and deletion
//!   date, its description, creation date, automatic rotation schedule and
//!   tags, and its last use (`GetKeyLastUsage`: operation, time, request id);
//! * every key policy, as its text;
//! * the aliases of every account, with their creation and last update
//!   dates;
//! * every grant with all it has: name, grantee and retiring principals,
//!   operations, constraints, creation date, and its retirement or
//!   revocation date while that propagates;
//! * the secret that authenticates grant tokens, so tokens given out before
//!   a restart keep working after it;
//! * the numbering of keys and grants (the order `ListKeys` and `ListGrants`
//!   answer in).
//!
//! Configuration is not state: the region (checked: a file written for
//! another region is refused), credentials, principals and identity policies,
//! quotas, the grant propagation delay and the clock come from the builder
//! (or `kms-local`'s flags and seed) at every start.
//!
//! # The file holds key material in plaintext
//!
//! **Anyone who can read the state file can decrypt everything its keys
//! encrypted.** It is for tests and local development, never for real
//! secrets. It is created readable and writable by its owner only (mode
//! 0600 on Unix), and a state file that others may read or write is
//! refused at start, as is a symbolic link (the file is replaced on every
//! write, so it must be given by its own path) and a file replaced between
//! its examination and its opening.
//!
//! # Format
//!
//! One header line, then the state:
//!
//! ```text
//! {"Format":"tower-kms local KMS state","Length":5123,"Sha256":"9f2c…","Version":2,"Warning":"…plaintext…"}
//! {
//!   "Region": "us-east-1",
//!   "GrantTokenKey": "…base64…",
//!   "NextKeySequence": 3,
//!   "NextGrantSequence": 1,
//!   "Keys": [ { "KeyId": "…", "Arn": "…", "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT",
//!              "KeyUsage": "ENCRYPT_DECRYPT",
//!              "KeyMaterials": [ { "KeyMaterialId": "…", "Secret": "…base64…" } ], "Policy": "…",
//!              "Tags": [ { "TagKey": "team", "TagValue": "orders" } ],
//!              "KeyLastUsage": { "Operation": "Encrypt", "Timestamp": "…", "KmsRequestId": "…" }, … },
//!             { "KeyId": "…", "KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY",
//!               "PrivateKey": "…base64 PKCS#8…", … },
//!             { "KeyId": "…", "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC",
//!               "HmacKey": "…base64…", … } ],
//!   "Aliases": [ … ],
//!   "Grants": [ … ]
//! }
//! ```
//!
//! The header names the format and its version (`2`), and the length and
//! SHA-256 of the state after it. Times are RFC 3339 UTC with nanoseconds.
//! A key holds exactly the material of its kind: `KeyMaterials` for a
//! `SYMMETRIC_DEFAULT` key, `PrivateKey` for an RSA or ECC key (an RSA key's
//! `KeyUsage` says whether it encrypts or signs), `HmacKey` (28, 32, 48 or
//! 64 bytes) for an HMAC key.
//!
//! Version 1 came before the local KMS had signing, MAC and key agreement
//! keys, tags, last use and alias update dates. Nothing that wrote it was
//! released, so a version 1 file is refused like any other version, not
//! migrated.
//! The state is JSON for people debugging a test, not for editing: any
//! change breaks the checksum (use a [seed](super::Seed) for hand-written
//! fixtures).
//!
//! A state file is refused, with a message naming the file and what is
//! wrong, and nothing of it is loaded, when it is empty, truncated, longer
//! than its header says, fails its checksum, is of another format version,
//! holds a value that does not check (the entry is named, e.g.
//! `Keys[2].PrivateKey`), was written for another region, or may be read by
//! others. Another local KMS using the same file is refused too: the state
//! file `DIR/NAME` is locked through `DIR/.NAME.lock` (an advisory lock the
//! operating system releases when the process ends, even by `kill -9`).
//!
//! # When a change is on disk
//!
//! **A request is answered only once every change it made or saw is in the
//! state file.** After each request that changed the state (or read a state
//! that is not on disk yet), the whole state is written to `DIR/.NAME.tmp`
//! (created anew, mode 0600), flushed to disk (`fsync`), renamed over
//! `DIR/NAME` (atomic on POSIX file systems), and the directory is flushed
//! so the rename is durable; only then does the request get its answer. A
//! crash at any moment leaves the previous state file or the new one, whole:
//! after a restart, every change acknowledged to a client is there, and
//! changes whose requests were still running may be there too (their
//! clients saw no answer, as when a network fails).
//!
//! Writes are grouped: while one write is running, the requests that
//! finish meanwhile wait, and the next write (one file) covers them all.
//! So a busy server writes about once per `fsync` time whatever its request
//! rate, and a request waits for at most two writes. Requests that neither
//! changed nor saw an unsaved change (`DescribeKey`, `ListKeys`,
//! `GetPublicKey`, a request that fails, ... on a saved state) write nothing
//! and wait for nothing. The one exception to "on disk before answered" is
//! the record of a key's last use (`GetKeyLastUsage`) that every successful
//! cryptographic operation (`Encrypt`, `Decrypt`, `Sign`, `GenerateMac`, ...)
//! makes: it goes to the file with the next write or flush
//! ([`LocalKms::flush`](super::LocalKms::flush), which `kms-local` calls when
//! it stops), and the cryptographic request does not wait for it. So
//! cryptography never waits for the disk, and a crash (`kill -9`, power
//! loss) may lose the last-use records made since the last write, as KMS
//! itself reports last use with a delay. Each write
//! costs the size of the whole state, which suits the tens to thousands of
//! keys of a test or development server; the alternative, an append-only
//! log, needs compaction and a rule for its torn last entry, for no gain at
//! that size.
//!
//! Changes the clock makes (automatic rotations, the removal of deleted keys
//! and of retired grants) are written by the first request that sees them,
//! before it is answered: a rotation's new material is never used before it
//! is saved.
//!
//! When a write fails (a full disk, a directory that went away), the request
//! is answered `KMSInternalException` naming the file and the cause; its
//! change stays in memory and is in the next successful write, and the
//! requests that see it fail the same way until then. Such a change may be
//! lost by a crash, but it was never acknowledged.
//!
//! A write that panics (a bug, not a disk error) cannot be retried safely:
//! from then on every request that changed or saw an unsaved change is
//! answered `KMSInternalException` naming the file and saying so, and
//! [`LocalKms::flush`](super::LocalKms::flush) returns a [`StateError`] of
//! kind [`StateErrorKind::Panicked`]; nothing waits for ever on the write
//! that will not finish. Restart the local KMS: the file holds every change
//! acknowledged before.
//!
//! [`LocalKms::flush`](super::LocalKms::flush) writes what is not on disk
//! yet (nothing, normally); `kms-local` calls it when it stops.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::Inner;
use super::seed::{Seed, SeedError};

pub(crate) mod file;
pub(crate) mod format;

/// Where a local KMS keeps its state and what it starts with, for
/// [`LocalKmsBuilder::open`](super::LocalKmsBuilder::open).
///
/// * [`Storage::memory`]: in memory, gone with the process (what
///   [`build`](super::LocalKmsBuilder::build) makes).
/// * [`Storage::file`]: in a state file (see the [module
///   documentation](self)), loaded when it exists, created otherwise.
/// * [`seed`](Storage::seed) adds a [`Seed`]: its principals are configured
///   at every start; its keys, aliases and grants are created in a state that
///   starts empty: always in memory, and with a state file only when the file
///   does not exist yet (from then on the file is the truth; delete it to
///   seed again).
///
/// ```
/// use tower_kms::local::{LocalKms, Seed, Storage};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("storage-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let seed = Seed::from_json(
///     r#"{"keys":[{"KeyId":"0b7e2a04-7c3d-4a6e-9d4b-3f2d1c0b9a88","Description":"fixture"}]}"#,
/// )?;
/// let path = dir.join("kms.state");
/// let kms = LocalKms::builder().open(Storage::file(&path).seed(seed))?;
/// let key = kms.describe_key("0b7e2a04-7c3d-4a6e-9d4b-3f2d1c0b9a88")?;
/// assert_eq!(key.description.as_deref(), Some("fixture"));
/// drop(kms);
/// // Started again, it has the same key (and the same material).
/// let kms = LocalKms::builder().open(Storage::file(&path))?;
/// assert!(kms.describe_key("0b7e2a04-7c3d-4a6e-9d4b-3f2d1c0b9a88").is_ok());
/// # drop(kms);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Storage {
    pub(crate) file: Option<PathBuf>,
    pub(crate) seed: Option<Seed>,
}

impl Storage {
    /// In memory only.
    pub fn memory() -> Self {
        Self::default()
    }

    /// In the state file at `path` (its directory must exist).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            file: Some(path.into()),
            seed: None,
        }
    }

    /// Starts from `seed` (see the [type documentation](Self) for when its
    /// resources are created).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// What went wrong with a state file or a seed when opening a local KMS, or
/// when writing its state.
#[derive(Debug, Clone)]
pub struct StateError {
    kind: StateErrorKind,
    path: Option<PathBuf>,
    what: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// The kind of a [`StateError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// Reading, writing, renaming or flushing a file failed (the
    /// [`source`](std::error::Error::source) is the `io::Error`).
    Io,
    /// Not a state file, or an empty, truncated, corrupt or invalid one.
    Corrupt,
    /// A state file of another format version.
    Version,
    /// A state file others may read or write, or a symbolic link.
    Permissions,
    /// Another local KMS holds the state file's lock.
    InUse,
    /// A state file written for another region.
    Region,
    /// The seed does not fit the builder (the [`source`] is the
    /// [`SeedError`]).
    ///
    /// [`source`]: std::error::Error::source
    Seed,
    /// A write of the state file panicked earlier: the file no longer
    /// follows the state in memory, so every later change is refused (the
    /// file holds every change acknowledged before; restart the local KMS).
    Panicked,
    /// A setting of the [builder](crate::local::LocalKmsBuilder) is invalid,
    /// such as an [account id](crate::local::LocalKmsBuilder::account_id)
    /// that is not 12 digits.
    Config,
}

impl StateError {
    pub(crate) fn file(kind: StateErrorKind, path: &Path, what: String) -> Self {
        Self {
            kind,
            path: Some(path.to_path_buf()),
            what: format!("state file {} {what}", path.display()),
            source: None,
        }
    }

    /// An invalid builder setting; `what` says which and why.
    pub(crate) fn config(what: String) -> Self {
        Self {
            kind: StateErrorKind::Config,
            path: None,
            what,
            source: None,
        }
    }

    pub(crate) fn io(path: &Path, what: &str, e: io::Error) -> Self {
        Self {
            kind: StateErrorKind::Io,
            path: Some(path.to_path_buf()),
            what: format!("{} {what}", path.display()),
            source: Some(Arc::new(e)),
        }
    }

    /// What went wrong, in kind.
    pub fn kind(&self) -> StateErrorKind {
        self.kind
    }

    /// The file concerned, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl From<SeedError> for StateError {
    fn from(e: SeedError) -> Self {
        Self {
            kind: StateErrorKind::Seed,
            path: e.origin().map(Path::to_path_buf),
            what: "the seed does not fit this local KMS".to_string(),
            source: Some(Arc::new(e)),
        }
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `error: cause: its cause ...`, one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[derive(Debug, Default)]
struct Status {
    /// The store version the state file holds.
    persisted: u64,
    /// The lazy changes the state file holds.
    persisted_lazy: u64,
    /// A write is running.
    writing: bool,
    /// Writes finished (or failed) so far.
    attempts: u64,
    /// The last write, if it failed: the version it tried and why.
    failure: Option<(u64, StateError)>,
    /// Set for good when a write panicked: the error every later commit
    /// returns.
    broken: Option<StateError>,
}

/// The state file of a running local KMS: its path, its lock, and the
/// grouping of writes (see "When a change is on disk" in the module
/// documentation).
pub(crate) struct Persister {
    path: PathBuf,
    /// Held for the life of the local KMS.
    _lock: File,
    status: Mutex<Status>,
    done: Condvar,
    /// Test hook: the next write panics.
    #[cfg(test)]
    pub(crate) panic_next_write: std::sync::atomic::AtomicBool,
}

/// Held while a write runs: if the write panics, its drop (during the
/// unwinding) ends the write and marks the persister broken, so waiting and
/// later commits get a clear error instead of waiting for ever on a write
/// that will never finish, or carrying on with a memory the file no longer
/// follows.
struct WriteGuard<'a> {
    persister: &'a Persister,
    finished: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let p = self.persister;
        let mut status = p.status();
        status.writing = false;
        status.attempts += 1;
        status.broken = Some(StateError::file(
            StateErrorKind::Panicked,
            &p.path,
            "is no longer written: a write of it panicked, so it would not follow the state in memory; restart the local KMS (the file holds every change acknowledged before)".into(),
        ));
        p.done.notify_all();
    }
}

impl fmt::Debug for Persister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persister")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Persister {
    pub(crate) fn new(path: PathBuf, lock: File) -> Self {
        Self {
            path,
            _lock: lock,
            status: Mutex::default(),
            done: Condvar::new(),
            #[cfg(test)]
            panic_next_write: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the state file holds `version` already.
    pub(crate) fn holds(&self, version: u64) -> bool {
        self.status().persisted >= version
    }

    /// Returns once the state file holds `version` of the store (or a later
    /// one), writing it if no running write will: the grouped writes of the
    /// module documentation. Blocks the thread.
    pub(crate) fn commit(&self, inner: &Inner, version: u64) -> Result<(), StateError> {
        self.commit_with_lazy(inner, version, 0)
    }

    /// Like [`commit`](Self::commit), and also the first `lazy` lazy changes
    /// (for a flush).
    pub(crate) fn commit_with_lazy(
        &self,
        inner: &Inner,
        version: u64,
        lazy: u64,
    ) -> Result<(), StateError> {
        let mut status = self.status();
        loop {
            if status.persisted >= version && status.persisted_lazy >= lazy {
                return Ok(());
            }
            if let Some(e) = &status.broken {
                return Err(e.clone());
            }
            if status.writing {
                // Wait for the running write; it may cover `version`.
                let attempt = status.attempts;
                while status.writing && status.attempts == attempt {
                    status = self
                        .done
                        .wait(status)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if let Some((tried, e)) = &status.failure
                    && *tried >= version
                    && status.attempts == attempt + 1
                {
                    return Err(e.clone());
                }
                continue;
            }
            status.writing = true;
            drop(status);
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut guard = WriteGuard {
                    persister: self,
                    finished: false,
                };
                let written = self.write(inner);
                guard.finished = true;
                written
            }));
            let Ok((tried, tried_lazy, result)) = written else {
                // The guard marked the persister broken.
                status = self.status();
                continue;
            };
            status = self.status();
            status.writing = false;
            status.attempts += 1;
            match &result {
                Ok(()) => {
                    status.persisted = status.persisted.max(tried);
                    status.persisted_lazy = status.persisted_lazy.max(tried_lazy);
                    status.failure = None;
                }
                Err(e) => status.failure = Some((tried, e.clone())),
            }
            self.done.notify_all();
            result?;
        }
    }

    /// One write of the whole state: the version and lazy changes written,
    /// and the outcome.
    fn write(&self, inner: &Inner) -> (u64, u64, Result<(), StateError>) {
        #[cfg(test)]
        if self
            .panic_next_write
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("injected panic in a state file write");
        }
        let snapshot = {
            let store = inner.store.lock().unwrap_or_else(PoisonError::into_inner);
            format::Snapshot::of(&store)
        };
        let result = format::encode(&snapshot, &inner.scope.region, &inner.grant_secret)
            .map_err(|what| StateError::file(StateErrorKind::Corrupt, &self.path, what))
            .and_then(|body| file::write_atomically(&self.path, &file::encode(&body)));
        (snapshot.version, snapshot.lazy_changes, result)
    }
}

/// The state file at `path`, locked: its contents (`None` when it does not
/// exist yet) and the persister that will write it.
pub(crate) fn open(
    path: &Path,
    scope: &super::store::Scope,
) -> Result<(Persister, Option<format::Loaded>), StateError> {
    let lock = file::lock(path)?;
    let loaded = match file::read(path)? {
        None => None,
        Some(bytes) => {
            let body = file::decode(path, &bytes)?;
            match format::decode(body, scope) {
                Ok(loaded) => Some(loaded),
                Err(format::Refusal::Region(region)) => {
                    return Err(StateError::file(
                        StateErrorKind::Region,
                        path,
                        format!(
                            "holds the state of a local KMS in region {region}, not {}",
                            scope.region
                        ),
                    ));
                }
                Err(format::Refusal::Invalid(what)) => {
                    return Err(StateError::file(
                        StateErrorKind::Corrupt,
                        path,
                        format!("is invalid: {what}"),
                    ));
                }
            }
        }
    };
    Ok((Persister::new(path.to_path_buf(), lock), loaded))
}

/// How the state of a local KMS began (see [`LocalKms::opened`](super::LocalKms::opened)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Opened {
    /// In memory (with the seed's resources, if it had one).
    Memory,
    /// The state file did not exist: it was created (with the seed's
    /// resources, if there was one).
    Created,
    /// The state file was loaded (a seed's keys, aliases and grants were not
    /// applied).
    Loaded,
}
