//! The output file: resume state on start, an append-only log while running.
//!
//! # Format
//!
//! JSON Lines, each a JSON object on one `\n`-terminated line, members in
//! alphabetical order.
//!
//! **The header**, the first line, says which run the file belongs to. It is an
//! object with the single member `kms_reencrypt` (which no record can be),
//! holding the arguments that decide what is written (from [`header_line`]):
//!
//! - `destination_key_id`: `--destination-key-id` as given (an id, ARN or alias);
//! - `source_key_id`: `--source-key-id` as given, or `null`;
//! - `context_mode`: `"keep"`, `"replace"` or `"map"`;
//! - `destination_context`: the `--destination-context` pairs, an object (`{}`
//!   for none);
//! - `dry_run`: `--dry-run`, a boolean;
//! - `fields`: the `id`, `ciphertext` and `context` field names;
//! - `format`: [`FORMAT`] (2); `tool_version`: the version that wrote it;
//! - `adopted_lines`: how many record lines of an adopted older output (below)
//!   follow the header without `input_sha256`; 0 otherwise.
//!
//! ```text
//! {"kms_reencrypt":{"adopted_lines":0,"context_mode":"map","destination_context":{"rotated":"2026"},"destination_key_id":"alias/new","dry_run":false,"fields":{"ciphertext":"ciphertext","context":"context","id":"id"},"format":2,"source_key_id":"alias/old","tool_version":"0.1.0"}}
//! ```
//!
//! A run refuses (exit 2, the file untouched) an output whose header differs
//! from its arguments in any of these but `format`, `tool_version` and
//! `adopted_lines`, naming the difference; one written by a newer format; and
//! one whose first line is neither a header nor a record. How hard a run
//! pushes (`--concurrency`, `--rate`, retries, timeouts, `--max-same-failures`)
//! is not recorded: a resumed run may change it.
//!
//! **Record lines** follow, in the order the records finished (not input
//! order), one per finished record:
//!
//! - the id under the `--id-field` name (`null` for a bad line without a
//!   usable id), `line` (the input line, from 1) and `status`, `"ok"` or
//!   `"failed"`;
//! - `input_sha256`: 64 hex digits, the SHA-256 of the record's input, canonical
//!   ([`crate::input::record_digest`]: the decoded ciphertext and the source
//!   context), or of the line's bytes for a line that is not a valid record;
//! - `dry_run: true` in a `--dry-run` run's lines;
//! - ok: the new ciphertext in base64 under the `--ciphertext-field` name, the
//!   destination context under the `--context-field` name (absent when empty),
//!   and the `key_id` and `source_key_id` ARNs KMS answered; a dry run writes
//!   the context only;
//! - failed: `code` and `message`: a KMS error code about the record itself
//!   (`InvalidCiphertextException`, `IncorrectKeyException`, ...), or the
//!   tool's own `InvalidInput` (a bad line; a duplicate id also has
//!   `duplicate_of_line`, the line of its first occurrence) or
//!   `UnexpectedResponse` (a success without a ciphertext).
//!
//! ```text
//! {"ciphertext":"omZmZmZ3...","context":{"rotated":"2026","tenant":"acme"},"id":"user-41","input_sha256":"0ff8de6e...","key_id":"arn:aws:kms:us-east-1:111122223333:key/66666666-...","line":1,"source_key_id":"arn:aws:kms:us-east-1:111122223333:key/11111111-...","status":"ok"}
//! {"code":"InvalidInput","id":"user-44","input_sha256":"f994026f...","line":4,"message":"field \"ciphertext\" is not valid base64: Invalid padding","status":"failed"}
//! ```
//!
//! Only final outcomes are written. A record that failed transiently is tried
//! again rather than written; one that a configuration error stopped the run
//! on, that was waiting to be tried again when the run stopped, or that was
//! part of a streak of `--max-same-failures` failures with one code, is not
//! written at all. So a file holds at most one line per record, except after a
//! resume that did a record again (below): the later line of a record wins.
//!
//! **Resuming.** The records the file holds (by id; bad lines without a usable
//! id or with a duplicate id, by input line) are skipped by the reader, ok or
//! failed, once their input is checked against `input_sha256` (a record whose
//! input changed makes the run refuse). Done again, with a new line appended:
//!
//! - every record the file does not hold (see above, and the lines cut off on
//!   start, under Crash safety);
//! - records whose last line is `failed` with a code this version would retry
//!   or stop on rather than write ([`crate::outcome::redo_on_resume`]:
//!   throttling, server faults, timeouts, transport errors; AccessDenied,
//!   credentials, signatures, codes that are not KMS answers), as older
//!   versions wrote them.
//!
//! An output without a header, as versions before format 2 wrote it, is
//! adopted: its arguments and inputs were not recorded, so they cannot be
//! checked; after the preflight the file is rewritten (a copy, then an atomic
//! rename) with this run's header first (`adopted_lines` counting its lines),
//! and resumed like any other.
//!
//! # Crash safety
//!
//! 1. The file is only ever appended to, one whole `\n`-terminated line per record
//!    (lines are batched into one `write` per batch and `fdatasync`ed at least every
//!    `--sync-interval-ms`); the header is synced before the first record.
//! 2. On start, everything after the last `\n` (a line cut short by a crash) is
//!    truncated away, and so is everything from the first complete line that is
//!    not a record (what power loss can leave: a run of NUL bytes, then later
//!    data), so a damaged line is never taken for a result; the records after it
//!    are done again.
//! 3. The ids (and, for records without a usable id, the input line numbers) of the
//!    complete lines are the records already done, the later line of an id
//!    winning; the reader skips them, except those whose last line holds an
//!    error a run now retries or stops on ([`crate::outcome::redo_on_resume`]).
//!
//! A record whose KMS call finished but whose line was not yet written when the
//! process died is simply done again on the next run: the unused new ciphertext
//! from the first call is harmless. An exclusive lock on the file keeps two runs
//! from appending to the same output.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tower_kms::{EncryptionContext, ReEncryptResponse};

use crate::Stats;
use crate::args::{Args, ContextMode, Fields};
use crate::input::{Digest, hex, short};

/// The output format this version writes: 2, the first with a header and
/// input hashes (1: records only).
pub(crate) const FORMAT: u64 = 2;

/// The one member of a header line.
pub(crate) const HEADER_KEY: &str = "kms_reencrypt";

/// The output field with the input's hash.
pub(crate) const HASH_FIELD: &str = "input_sha256";

/// Hashes ids to 128 bits with two randomly keyed SipHashers (keys differ per
/// process, so crafted input cannot force collisions). Only used within one run.
#[derive(Clone, Debug)]
pub(crate) struct IdHasher(RandomState, RandomState);

impl IdHasher {
    pub(crate) fn new() -> Self {
        Self(RandomState::new(), RandomState::new())
    }

    pub(crate) fn hash(&self, id: &Value) -> u128 {
        let (tag, text): (u8, std::borrow::Cow<'_, str>) = match id {
            Value::String(s) => (0, s.as_str().into()),
            other => (1, other.to_string().into()),
        };
        let one = |s: &RandomState| {
            let mut h = s.build_hasher();
            h.write_u8(tag);
            h.write(text.as_bytes());
            h.write_u8(0xff);
            h.finish()
        };
        (u128::from(one(&self.0)) << 64) | u128::from(one(&self.1))
    }
}

/// Whether a JSON object is a header line (of any format version).
pub(crate) fn is_header(obj: &Map<String, Value>) -> bool {
    obj.len() == 1 && obj.get(HEADER_KEY).is_some_and(Value::is_object)
}

fn mode_name(mode: ContextMode) -> &'static str {
    match mode {
        ContextMode::Keep => "keep",
        ContextMode::Replace => "replace",
        ContextMode::Map => "map",
    }
}

/// The header line of this run's output; `adopted` lines (records of a
/// headerless output it was given, without input hashes) follow it.
pub(crate) fn header_line(args: &Args, adopted: u64) -> Vec<u8> {
    let ctx: Map<String, Value> = args
        .destination_context
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let f = &args.fields;
    let h = serde_json::json!({
        HEADER_KEY: {
            "format": FORMAT,
            "tool_version": env!("CARGO_PKG_VERSION"),
            "destination_key_id": args.destination_key_id,
            "source_key_id": args.source_key_id,
            "context_mode": mode_name(args.context_mode),
            "destination_context": ctx,
            "dry_run": args.dry_run,
            "fields": { "id": f.id, "ciphertext": f.ciphertext, "context": f.context },
            "adopted_lines": adopted,
        }
    });
    let mut bytes = serde_json::to_vec(&h).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// How a header differs from this run's arguments: one phrase per flag.
fn header_differences(header: &Map<String, Value>, args: &Args) -> Result<Vec<String>, String> {
    let format = header.get("format").and_then(Value::as_u64);
    match format {
        Some(FORMAT) => {}
        Some(n) if n > FORMAT => {
            return Err(format!(
                "it was written by a newer kms-reencrypt (output format {n}; this one writes \
                 {FORMAT})"
            ));
        }
        _ => return Err("its header line is damaged or of an unknown format".into()),
    }
    let ours = serde_json::from_slice::<Value>(&header_line(args, 0))
        .ok()
        .and_then(|v| v.get(HEADER_KEY).cloned())
        .unwrap_or_default();
    let shown = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(Value::Object(m)) if m.is_empty() => "none".to_owned(),
        Some(v) => v.to_string(),
    };
    let mut diffs = Vec::new();
    for (member, flag) in [
        ("destination_key_id", "--destination-key-id"),
        ("source_key_id", "--source-key-id"),
        ("context_mode", "--context-mode"),
        ("destination_context", "--destination-context"),
    ] {
        let (theirs, mine) = (header.get(member), ours.get(member));
        if shown(theirs) != shown(mine) {
            diffs.push(format!(
                "{flag} was {} there, {} now",
                shown(theirs),
                shown(mine)
            ));
        }
    }
    for (member, flag) in [
        ("id", "--id-field"),
        ("ciphertext", "--ciphertext-field"),
        ("context", "--context-field"),
    ] {
        let theirs = header.get("fields").and_then(|f| f.get(member));
        let mine = ours.get("fields").and_then(|f| f.get(member));
        if theirs != mine {
            diffs.push(format!(
                "{flag} was {} there, {} now",
                shown(theirs),
                shown(mine)
            ));
        }
    }
    if header.get("dry_run") != ours.get("dry_run") {
        diffs.push(if args.dry_run {
            "it holds real results, and this is a --dry-run: use another --output for --dry-run"
                .into()
        } else {
            "it holds --dry-run results: use another --output for the real run".into()
        });
    }
    Ok(diffs)
}

/// The last outcome the output holds for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Ok,
    /// Failed for good, with this code (an index into [`Existing::codes`]).
    Failed(u32),
    /// Failed with a transient or configuration error (as older versions
    /// wrote them): to do again.
    Redo,
}

/// A record the output holds: its last outcome and the (shortened) hash of
/// its input, 0 when the line has none (format 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prior {
    pub(crate) state: State,
    pub(crate) hash: u64,
}

impl Prior {
    /// Whether the record is done (ok or failed for good).
    pub(crate) fn done(&self) -> bool {
        self.state != State::Redo
    }

    /// Whether `digest` is not the input this line was written for.
    pub(crate) fn differs(&self, digest: &Digest) -> bool {
        self.hash != 0 && self.hash != short(digest)
    }
}

/// What the output already holds. When a record has several lines (a record
/// done again after a transient failure), the later line wins.
#[derive(Debug, Default)]
pub(crate) struct Existing {
    /// Records by id.
    pub(crate) by_id: HashMap<u128, Prior>,
    /// Bad-line records without an id of their own (no id, or a duplicate id), by
    /// input line.
    pub(crate) by_line: HashMap<u64, Prior>,
    /// Failure codes (interned).
    codes: Vec<String>,
}

/// What an output holds, counted by record (not by line).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    /// Records to do again.
    pub(crate) redo: u64,
    pub(crate) codes: BTreeMap<String, u64>,
}

/// One finished record, rendered as its output line.
#[derive(Debug)]
pub(crate) struct Record {
    bytes: Vec<u8>,
    /// The error code of a failed record.
    code: Option<String>,
}

fn base(
    fields: &Fields,
    id: Value,
    line: u64,
    digest: &Digest,
    ok: bool,
    dry_run: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(fields.id.clone(), id);
    m.insert("line".into(), line.into());
    m.insert("status".into(), if ok { "ok" } else { "failed" }.into());
    m.insert(HASH_FIELD.into(), hex(digest).into());
    if dry_run {
        m.insert("dry_run".into(), true.into());
    }
    m
}

fn finish(m: Map<String, Value>, code: Option<String>) -> Record {
    let mut bytes = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    bytes.push(b'\n');
    Record { bytes, code }
}

impl Record {
    /// The error code of a failed record; `None` if it is ok.
    pub(crate) fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// A bad input line (code `InvalidInput`).
    pub(crate) fn invalid(
        args: &Args,
        id: Value,
        line: u64,
        digest: &Digest,
        message: String,
        duplicate_of: Option<u64>,
    ) -> Self {
        let mut m = base(&args.fields, id, line, digest, false, args.dry_run);
        m.insert("code".into(), "InvalidInput".into());
        m.insert("message".into(), message.into());
        if let Some(first) = duplicate_of {
            m.insert("duplicate_of_line".into(), first.into());
        }
        finish(m, Some("InvalidInput".into()))
    }

    /// A failed KMS call.
    pub(crate) fn failed(
        args: &Args,
        id: Value,
        line: u64,
        digest: &Digest,
        code: String,
        message: String,
    ) -> Self {
        let mut m = base(&args.fields, id, line, digest, false, args.dry_run);
        m.insert("code".into(), code.clone().into());
        m.insert("message".into(), message.into());
        finish(m, Some(code))
    }

    /// A re-encrypted record (or, in a dry run, one KMS says would succeed).
    pub(crate) fn ok(
        args: &Args,
        id: Value,
        line: u64,
        digest: &Digest,
        context: Option<EncryptionContext>,
        out: Option<&ReEncryptResponse>,
    ) -> Self {
        let mut m = base(&args.fields, id, line, digest, true, args.dry_run);
        if let Some(blob) = out.and_then(|o| o.ciphertext_blob.as_ref()) {
            m.insert(args.fields.ciphertext.clone(), STANDARD.encode(blob).into());
        }
        if let Some(ctx) = context {
            let obj: Map<String, Value> = ctx.into_iter().map(|(k, v)| (k, v.into())).collect();
            m.insert(args.fields.context.clone(), obj.into());
        }
        if let Some(out) = out {
            if let Some(k) = &out.key_id {
                m.insert("key_id".into(), k.clone().into());
            }
            if let Some(k) = &out.source_key_id {
                m.insert("source_key_id".into(), k.clone().into());
            }
        }
        finish(m, None)
    }
}

/// How the output starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// New, empty, or only a torn header: the header is to be written.
    New,
    /// Our header, matching this run.
    Ours,
    /// Records without a header (format 1, an older version): to be rewritten
    /// with a header first.
    Older,
}

/// Lines cut off the end of the output on start.
#[derive(Debug, Clone)]
pub(crate) struct Cut {
    /// The first line dropped (1-based).
    pub(crate) line: u64,
    /// Complete lines dropped (the damaged one included).
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    /// Why: `None` for a partial last line, else what is wrong with the line.
    pub(crate) damage: Option<String>,
}

/// The output, opened and locked, with what it holds; nothing is changed until
/// [`Opened::prepare`].
#[derive(Debug)]
pub(crate) struct Opened {
    path: PathBuf,
    file: File,
    pub(crate) existing: Existing,
    pub(crate) start: Start,
    /// Bytes to keep (the rest is cut off by `prepare`).
    keep: u64,
    /// Complete record lines kept.
    records: u64,
    pub(crate) cut: Option<Cut>,
}

/// Opens (creating it if needed) and locks the output, and reads what it holds:
/// refuses one that belongs to another rotation or to another tool.
pub(crate) fn open(path: &Path, args: &Args, hasher: &IdHasher) -> Result<Opened, String> {
    let shown = path.display();
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot open --output {shown}: {e}"))?;
    lock(&file, path)?;
    if !existed {
        sync_dir(path);
    }

    let mut existing = Existing::default();
    let mut start = Start::New;
    let mut reader = BufReader::with_capacity(1 << 20, &file);
    let mut buf = Vec::new();
    // Bytes of the lines taken so far, and their count.
    let (mut keep, mut n) = (0u64, 0u64);
    let mut cut: Option<Cut> = None;
    // Lines after the header that may lack an input hash (adopted ones).
    let mut adopted = 0u64;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("cannot read --output {shown}: {e}"))?;
        if read == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // A partial last line. Alone in the file, it must be a torn header
            // (or the zeros a power loss leaves), not someone else's text.
            if n == 0 && !torn_header(&buf) {
                return Err(not_ours(path));
            }
            match cut.as_mut() {
                Some(c) => c.bytes += read as u64,
                None => {
                    cut = Some(Cut {
                        line: n + 1,
                        lines: 0,
                        bytes: read as u64,
                        damage: None,
                    });
                }
            }
            break;
        }
        n += 1;
        if let Some(c) = cut.as_mut() {
            // After a damaged line: counted, then dropped.
            c.lines += 1;
            c.bytes += read as u64;
            continue;
        }
        if n == 1 {
            let value = serde_json::from_slice::<Value>(&buf).ok();
            match value {
                Some(Value::Object(m)) if is_header(&m) => {
                    let header = m[HEADER_KEY].as_object().cloned().unwrap_or_default();
                    let diffs = header_differences(&header, args)
                        .map_err(|why| format!("--output {shown} cannot be resumed: {why}"))?;
                    if !diffs.is_empty() {
                        return Err(format!(
                            "--output {shown} belongs to another rotation: {}; run with the \
                             same arguments to resume it, or use another --output",
                            diffs.join("; ")
                        ));
                    }
                    adopted = header
                        .get("adopted_lines")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    start = Start::Ours;
                }
                _ => {
                    // No header: a format-1 output, if the line is one of its records.
                    existing
                        .add(&buf, args, hasher, Start::Older, false)
                        .map_err(|e| match e {
                            Bad::Refuse(msg) => format!("--output {shown}: {msg}"),
                            Bad::Damaged(_) => not_ours(path),
                        })?;
                    start = Start::Older;
                }
            }
            keep += read as u64;
            continue;
        }
        // Line n is record n - 1 after a header, record n without one.
        let hashed = start == Start::Ours && n > adopted + 1;
        match existing.add(&buf, args, hasher, start, hashed) {
            Ok(()) => keep += read as u64,
            Err(Bad::Refuse(msg)) => return Err(format!("--output {shown} line {n}: {msg}")),
            Err(Bad::Damaged(why)) => {
                cut = Some(Cut {
                    line: n,
                    lines: 1,
                    bytes: read as u64,
                    damage: Some(why),
                });
            }
        }
    }
    drop(reader);
    // Record lines kept: those before the cut, less the header.
    let kept = cut.as_ref().map_or(n, |c| c.line - 1);
    let records = match start {
        Start::New => 0,
        Start::Ours => kept.saturating_sub(1),
        Start::Older => kept,
    };
    Ok(Opened {
        path: path.to_owned(),
        file,
        existing,
        start,
        keep,
        records,
        cut,
    })
}

fn not_ours(path: &Path) -> String {
    format!(
        "--output {} is not a kms-reencrypt output (its first line is neither a \
         kms-reencrypt header nor a record); it is never appended to: use another --output",
        path.display()
    )
}

/// A partial first line that a crash while writing the header can leave.
fn torn_header(bytes: &[u8]) -> bool {
    let start = format!("{{\"{HEADER_KEY}\":");
    let start = start.as_bytes();
    bytes.iter().all(|&b| b == 0) || bytes.starts_with(start) || start.starts_with(bytes)
}

fn lock(file: &File, path: &Path) -> Result<(), String> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "--output {} is locked by another kms-reencrypt run; wait for it to end",
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock --output {}: {e}", path.display()))
        }
    }
}

/// Makes a new or renamed directory entry durable.
fn sync_dir(path: &Path) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Opened {
    /// Makes the file ready for appending records: cuts off a partial or
    /// damaged end, writes the header to a new file, or rewrites a headerless
    /// (older) one with the header first. Called once the preflight passed, so a
    /// run refused before leaves the file as it was.
    pub(crate) fn prepare(self, args: &Args) -> Result<File, String> {
        let Opened {
            path,
            file,
            start,
            keep,
            records,
            ..
        } = self;
        let shown = path.display();
        match start {
            Start::Ours => {
                if file.metadata().map(|m| m.len()).unwrap_or(0) > keep {
                    file.set_len(keep)
                        .and_then(|()| file.sync_data())
                        .map_err(|e| format!("cannot truncate --output {shown}: {e}"))?;
                }
                Ok(file)
            }
            Start::New => {
                (|| {
                    file.set_len(0)?;
                    (&file).write_all(&header_line(args, 0))?;
                    file.sync_data()
                })()
                .map_err(|e| format!("cannot write --output {shown}: {e}"))?;
                Ok(file)
            }
            Start::Older => upgrade(&path, &file, keep, &header_line(args, records))
                .map_err(|e| format!("cannot add a header to --output {shown}: {e}")),
        }
    }
}

/// Rewrites a headerless output as the header then its first `keep` bytes: a
/// locked copy beside it, synced, renamed over it.
fn upgrade(path: &Path, old: &File, keep: u64, header: &[u8]) -> io::Result<File> {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.kms-reencrypt-upgrade"));
    // A leftover of an upgrade that died: nobody else uses it (we hold the lock
    // on the output, and only a run holding it writes this file).
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let new = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(&tmp)?;
    let copied = (|| {
        new.try_lock().map_err(io::Error::other)?;
        let mut w = io::BufWriter::with_capacity(1 << 20, &new);
        w.write_all(header)?;
        let mut r = old;
        r.seek(SeekFrom::Start(0))?;
        let n = io::copy(&mut r.take(keep), &mut w)?;
        if n != keep {
            return Err(io::Error::other("the output changed while it was copied"));
        }
        w.flush()?;
        drop(w);
        new.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path);
    Ok(new)
}

/// Why an output line is not taken.
#[derive(Debug)]
enum Bad {
    /// The file cannot be resumed by this run (stop with this message).
    Refuse(String),
    /// The line is damaged: cut the output from it.
    Damaged(String),
}

impl Existing {
    /// Takes one record line; `hashed`: it must carry an input hash (every
    /// line a format-2 run wrote; not the adopted lines of an older output).
    fn add(
        &mut self,
        line: &[u8],
        args: &Args,
        hasher: &IdHasher,
        start: Start,
        hashed: bool,
    ) -> Result<(), Bad> {
        if line.contains(&0) {
            return Err(Bad::Damaged("NUL bytes".into()));
        }
        let m = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(Bad::Damaged("not a JSON object".into())),
            Err(e) => return Err(Bad::Damaged(format!("not JSON: {e}"))),
        };
        let not_record = |what: &str| {
            Bad::Damaged(format!(
                "not a kms-reencrypt record ({what}; was it written with other --*-field \
                 options, or by something else?)"
            ))
        };
        let line_no = m
            .get("line")
            .and_then(Value::as_u64)
            .ok_or_else(|| not_record("no `line`"))?;
        let ok = match m.get("status").and_then(Value::as_str) {
            Some("ok") => true,
            Some("failed") => false,
            _ => return Err(not_record("no `status`")),
        };
        let id = m
            .get(&args.fields.id)
            .ok_or_else(|| not_record(&format!("no {:?}", args.fields.id)))?;
        let hash = match start {
            // Format 1 lines carry no hash, and their run's dry-run setting
            // only in each line.
            Start::Older => {
                let dry_run = m.get("dry_run") == Some(&Value::Bool(true));
                if dry_run != args.dry_run {
                    return Err(Bad::Refuse(if dry_run {
                        "the output holds --dry-run results; use another --output for the real \
                         run"
                        .into()
                    } else {
                        "the output holds real results; use another --output for --dry-run".into()
                    }));
                }
                0
            }
            Start::Ours | Start::New => match m.get(HASH_FIELD) {
                None if !hashed => 0,
                h => h
                    .and_then(Value::as_str)
                    .and_then(parse_short)
                    .ok_or_else(|| not_record(&format!("no valid {HASH_FIELD}")))?,
            },
        };
        let state = if ok {
            State::Ok
        } else {
            let code = m.get("code").and_then(Value::as_str).unwrap_or("Unknown");
            if crate::outcome::redo_on_resume(code) {
                State::Redo
            } else {
                State::Failed(self.intern(code))
            }
        };
        let prior = Prior { state, hash };
        if id.is_null() || m.contains_key("duplicate_of_line") {
            self.by_line.insert(line_no, prior);
        } else {
            self.by_id.insert(hasher.hash(id), prior);
        }
        Ok(())
    }

    fn intern(&mut self, code: &str) -> u32 {
        match self.codes.iter().position(|c| c == code) {
            Some(i) => u32::try_from(i).unwrap_or(u32::MAX),
            None => {
                self.codes.push(code.to_owned());
                u32::try_from(self.codes.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// The records and their outcomes.
    pub(crate) fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for prior in self.by_id.values().chain(self.by_line.values()) {
            match prior.state {
                State::Ok => t.ok += 1,
                State::Redo => t.redo += 1,
                State::Failed(c) => {
                    t.failed += 1;
                    let code = self.codes.get(c as usize).map_or("Unknown", String::as_str);
                    *t.codes.entry(code.to_owned()).or_default() += 1;
                }
            }
        }
        t
    }

    /// Whether the output holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.by_line.is_empty()
    }
}

/// The shortened hash of a line's `input_sha256` (64 hex digits).
fn parse_short(hex_hash: &str) -> Option<u64> {
    if hex_hash.len() != 64 || !hex_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut d = [0u8; 32];
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex_hash.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(short(&d))
}

/// Appends records from `rx` to `file` on this (dedicated) thread until every
/// sender is gone, syncing at least every `interval`; returns the failure codes.
pub(crate) fn write_loop(
    mut file: File,
    mut rx: mpsc::Receiver<Record>,
    interval: Duration,
    stats: Arc<Stats>,
    rt: tokio::runtime::Handle,
) -> io::Result<BTreeMap<String, u64>> {
    const BATCH: usize = 256 * 1024;
    let mut codes = BTreeMap::new();
    let mut buf = Vec::with_capacity(BATCH + 16 * 1024);
    let mut last_sync = Instant::now();
    let mut dirty = false;
    loop {
        let first = if dirty {
            let deadline = tokio::time::Instant::from_std(last_sync + interval);
            match rt.block_on(tokio::time::timeout_at(deadline, rx.recv())) {
                Ok(r) => r,
                Err(_) => {
                    file.sync_data()?;
                    (last_sync, dirty) = (Instant::now(), false);
                    continue;
                }
            }
        } else {
            rt.block_on(rx.recv())
        };
        let Some(first) = first else { break };
        let (mut ok, mut failed) = (0u64, 0u64);
        let mut add = |r: Record, buf: &mut Vec<u8>| {
            buf.extend_from_slice(&r.bytes);
            match r.code {
                None => ok += 1,
                Some(c) => {
                    failed += 1;
                    *codes.entry(c).or_insert(0u64) += 1;
                }
            }
        };
        add(first, &mut buf);
        while buf.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => add(r, &mut buf),
                Err(_) => break,
            }
        }
        file.write_all(&buf)?;
        buf.clear();
        dirty = true;
        stats.ok.fetch_add(ok, Ordering::Relaxed);
        stats.failed.fetch_add(failed, Ordering::Relaxed);
        if last_sync.elapsed() >= interval {
            file.sync_data()?;
            (last_sync, dirty) = (Instant::now(), false);
        }
    }
    if dirty {
        file.sync_data()?;
    }
    Ok(codes)
}
