//! The output file: resume state on start, an append-only log while running.
//!
//! Crash safety rests on three rules:
//!
//! 1. The file is only ever appended to, one whole `\n`-terminated line per record
//!    (lines are batched into one `write` per batch and `fdatasync`ed at least every
//!    `--sync-interval-ms`).
//! 2. On start, everything after the last `\n` (a line cut short by a crash or
//!    power loss) is truncated away, so a partial line is never taken for a result.
//! 3. The ids (and, for records without a usable id, the input line numbers) of the
//!    complete lines are the records already done; the reader skips them.
//!
//! A record whose KMS call finished but whose line was not yet written when the
//! process died is simply done again on the next run: the unused new ciphertext
//! from the first call is harmless. An exclusive lock on the file keeps two runs
//! from appending to the same output.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tower_kms::{EncryptionContext, ReEncryptResponse};

use crate::Stats;
use crate::args::{Args, Fields};

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

/// What the output already holds. When a record has several lines (a record
/// done again after a transient failure), the later line wins.
#[derive(Debug, Default)]
pub(crate) struct Existing {
    /// Records by id.
    pub(crate) by_id: HashMap<u128, State>,
    /// Bad-line records without an id of their own (no id, or a duplicate id), by
    /// input line.
    pub(crate) by_line: HashMap<u64, State>,
    /// Failure codes (interned).
    codes: Vec<String>,
    /// Bytes cut off the end (a partial last line).
    pub(crate) truncated: u64,
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

fn base(fields: &Fields, id: Value, line: u64, ok: bool, dry_run: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(fields.id.clone(), id);
    m.insert("line".into(), line.into());
    m.insert("status".into(), if ok { "ok" } else { "failed" }.into());
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
    /// A bad input line (code `InvalidInput`).
    pub(crate) fn invalid(
        args: &Args,
        id: Value,
        line: u64,
        message: String,
        duplicate_of: Option<u64>,
    ) -> Self {
        let mut m = base(&args.fields, id, line, false, args.dry_run);
        m.insert("code".into(), "InvalidInput".into());
        m.insert("message".into(), message.into());
        if let Some(first) = duplicate_of {
            m.insert("duplicate_of_line".into(), first.into());
        }
        finish(m, Some("InvalidInput".into()))
    }

    /// A failed KMS call.
    pub(crate) fn failed(args: &Args, id: Value, line: u64, code: String, message: String) -> Self {
        let mut m = base(&args.fields, id, line, false, args.dry_run);
        m.insert("code".into(), code.clone().into());
        m.insert("message".into(), message.into());
        finish(m, Some(code))
    }

    /// A re-encrypted record (or, in a dry run, one KMS says would succeed).
    pub(crate) fn ok(
        args: &Args,
        id: Value,
        line: u64,
        context: Option<EncryptionContext>,
        out: Option<&ReEncryptResponse>,
    ) -> Self {
        let mut m = base(&args.fields, id, line, true, args.dry_run);
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

/// Opens (creating it if needed) and locks the output, truncates a partial last
/// line, and collects what it holds.
pub(crate) fn open(
    path: &Path,
    args: &Args,
    hasher: &IdHasher,
) -> Result<(File, Existing), String> {
    let shown = path.display();
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| format!("cannot open --output {shown}: {e}"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(format!(
                "--output {shown} is locked by another kms-reencrypt run; wait for it to end"
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock --output {shown}: {e}"));
        }
    }
    if !existed {
        // Make the new directory entry durable too.
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }

    let mut existing = Existing::default();
    let mut reader = BufReader::with_capacity(1 << 20, &file);
    let mut buf = Vec::new();
    let (mut complete, mut total, mut n) = (0u64, 0u64, 0u64);
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("cannot read --output {shown}: {e}"))?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if buf.last() != Some(&b'\n') {
            break; // a partial last line
        }
        complete = total;
        n += 1;
        existing
            .add(&buf, args, hasher)
            .map_err(|e| format!("--output {shown} line {n}: {e}"))?;
    }
    drop(reader);
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read --output {shown}: {e}"))?
        .len();
    if len > complete {
        file.set_len(complete)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot truncate the partial last line of {shown}: {e}"))?;
        existing.truncated = len - complete;
    }
    Ok((file, existing))
}

impl Existing {
    fn add(&mut self, line: &[u8], args: &Args, hasher: &IdHasher) -> Result<(), String> {
        let not_ours = || {
            "not a kms-reencrypt output record (was it written with other --*-field \
             options, or by something else?)"
                .to_string()
        };
        let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(line) else {
            return Err(not_ours());
        };
        let line_no = m.get("line").and_then(Value::as_u64).ok_or_else(not_ours)?;
        let ok = match m.get("status").and_then(Value::as_str) {
            Some("ok") => true,
            Some("failed") => false,
            _ => return Err(not_ours()),
        };
        let id = m.get(&args.fields.id).ok_or_else(not_ours)?;
        let dry_run = m.get("dry_run") == Some(&Value::Bool(true));
        if dry_run != args.dry_run {
            return Err(if dry_run {
                "the output holds --dry-run results; use another --output for the real run".into()
            } else {
                "the output holds real results; use another --output for --dry-run".into()
            });
        }
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
        if id.is_null() || m.contains_key("duplicate_of_line") {
            self.by_line.insert(line_no, state);
        } else {
            self.by_id.insert(hasher.hash(id), state);
        }
        Ok(())
    }

    fn intern(&mut self, code: &str) -> u32 {
        match self.codes.iter().position(|c| c == code) {
            Some(i) => i as u32,
            None => {
                self.codes.push(code.to_owned());
                (self.codes.len() - 1) as u32
            }
        }
    }

    /// The records and their outcomes.
    pub(crate) fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for state in self.by_id.values().chain(self.by_line.values()) {
            match *state {
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

    /// Whether the record with this id is done (ok or failed for good).
    pub(crate) fn done_id(&self, id: u128) -> bool {
        self.by_id.get(&id).is_some_and(|s| *s != State::Redo)
    }

    /// Whether the bad line `line` (a record without an id of its own) is done.
    pub(crate) fn done_line(&self, line: u64) -> bool {
        self.by_line.get(&line).is_some_and(|s| *s != State::Redo)
    }
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
