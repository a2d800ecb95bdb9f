//! Reading the input: JSON Lines to re-encryption jobs, on a thread of its own.
//!
//! The reader parses and validates each line, detects duplicate ids, hashes
//! each record's input, and skips records the output already holds (after
//! checking that they are the same records), so the async side only sees work.
//! A header line (one rotation's output read as the next one's input) is not a
//! record: it is skipped like a blank line.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tower_kms::{EncryptionContext, ReEncryptRequest};

use crate::Stats;
use crate::args::{Args, ContextMode};
use crate::output::{Existing, IdHasher, Prior, Record, is_header};

/// A SHA-256 digest.
pub(crate) type Digest = [u8; 32];

/// The hash of a record's input, as its output line's `input_sha256`: SHA-256
/// over a domain tag, then the ciphertext bytes (decoded, so the base64
/// spelling does not matter) and the source encryption context (pairs sorted
/// by key; none and empty are the same, as for KMS), each length-prefixed
/// (u64, big-endian):
///
/// ```text
/// "kms-reencrypt record\0" len(ciphertext) ciphertext
///     npairs (len(key) key len(value) value)...
/// ```
pub(crate) fn record_digest(ciphertext: &[u8], context: Option<&EncryptionContext>) -> Digest {
    fn field(h: &mut Sha256, bytes: &[u8]) {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    let mut h = Sha256::new();
    h.update(b"kms-reencrypt record\0");
    field(&mut h, ciphertext);
    let pairs = context.map_or(0, |c| c.len());
    h.update((pairs as u64).to_be_bytes());
    for (k, v) in context.into_iter().flatten() {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    h.finalize().into()
}

/// The hash of a line that is not a valid record (an `InvalidInput` record):
/// its bytes, without the line ending.
pub(crate) fn line_digest(line: &[u8]) -> Digest {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut h = Sha256::new();
    h.update(b"kms-reencrypt line\0");
    h.update(line);
    h.finalize().into()
}

/// The hash of a line longer than [`MAX_LINE`] (not kept): its length.
fn long_line_digest(len: u64) -> Digest {
    let mut h = Sha256::new();
    h.update(b"kms-reencrypt long line\0");
    h.update(len.to_be_bytes());
    h.finalize().into()
}

/// Lower-case hex.
pub(crate) fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 64 bits of a digest, never 0 (0 stands for "no hash"): what a
/// resumed run compares.
pub(crate) fn short(d: &Digest) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first).max(1)
}

/// The longest input line read, in bytes (a KMS ciphertext is at most 6144 bytes).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// One re-encryption to do.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: Value,
    pub(crate) line: u64,
    /// The hash of the record's input.
    pub(crate) digest: Digest,
    pub(crate) request: ReEncryptRequest,
    pub(crate) destination_context: Option<EncryptionContext>,
    /// Whether the output holds a transient failure of this record.
    pub(crate) redo: bool,
}

/// What the reader hands to the driver.
#[derive(Debug)]
pub(crate) enum Item {
    /// A record to re-encrypt.
    Job(Box<Job>),
    /// A finished (failed) record: a bad input line.
    Invalid(Record),
    /// The input could not be read; the run stops.
    Error(String),
}

/// What the reader needs besides the input.
pub(crate) struct Reader {
    pub(crate) args: Arc<Args>,
    pub(crate) existing: Existing,
    pub(crate) hasher: IdHasher,
    pub(crate) stats: Arc<Stats>,
}

/// Reads one line of at most `max` bytes into `buf` (newline included). Returns the
/// bytes consumed and whether the line was too long (then `buf` is empty), or `None`
/// at the end of the input.
fn read_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<(u64, bool)>> {
    buf.clear();
    let (mut total, mut too_long) = (0u64, false);
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((total > 0).then_some((total, too_long)));
        }
        let (n, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if !too_long {
            if buf.len() + n > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&avail[..n]);
            }
        }
        r.consume(n);
        total += n as u64;
        if done {
            return Ok(Some((total, too_long)));
        }
    }
}

/// Why a line is not a valid record: (id if known, message).
type Bad = (Value, String);

/// What the reader makes of one line.
enum Line {
    /// Nothing to do (blank, a header, or done already).
    Skip,
    /// A record done already.
    Done,
    /// Work or a bad-line record to write.
    Item(Item),
}

impl Reader {
    /// Reads `input` to the end (or until the driver stops listening), sending jobs
    /// and bad-line records to `tx`.
    pub(crate) fn run(&self, input: impl BufRead, tx: mpsc::Sender<Item>) {
        let sent = self.scan(input, true, |item| tx.blocking_send(item).is_ok());
        if let Err(e) = sent {
            let _ = tx.blocking_send(Item::Error(e));
        }
    }

    /// Reads the whole input before the run, to refuse an input whose records
    /// differ from those the output holds before anything is written.
    pub(crate) fn check(&self, input: impl BufRead) -> Result<(), String> {
        self.scan(input, false, |_| true)
    }

    /// Reads `input`, handing items to `sink` until it returns false; stops with
    /// an error when the input cannot be read or a record differs from the
    /// output's. Counts into the stats when `count`.
    fn scan(
        &self,
        mut input: impl BufRead,
        count: bool,
        mut sink: impl FnMut(Item) -> bool,
    ) -> Result<(), String> {
        let mut buf = Vec::with_capacity(16 * 1024);
        // First line of every id seen in this pass (by hash).
        let mut seen: HashMap<u128, u64> = HashMap::new();
        let mut line_no = 0u64;
        loop {
            let (n, too_long) = match read_line(&mut input, &mut buf, MAX_LINE) {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(()),
                Err(e) => return Err(format!("reading the input after line {line_no}: {e}")),
            };
            line_no += 1;
            if count {
                self.stats.bytes_read.fetch_add(n, Ordering::Relaxed);
            }
            let what = if too_long {
                let bad = (Value::Null, format!("line longer than {MAX_LINE} bytes"));
                self.invalid(line_no, bad, None, &long_line_digest(n))?
            } else if buf.iter().all(u8::is_ascii_whitespace) {
                Line::Skip // blank lines are not records
            } else {
                self.line(line_no, &buf, &mut seen)?
            };
            match what {
                Line::Skip => {}
                Line::Done => {
                    if count {
                        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Line::Item(item) => {
                    if count && matches!(&item, Item::Job(j) if j.redo) {
                        self.stats.redone.fetch_add(1, Ordering::Relaxed);
                    }
                    if !sink(item) {
                        return Ok(()); // the driver stopped
                    }
                }
            }
        }
    }

    /// Whether the output's record `prior` may stand for the input's record
    /// hashed `digest`; else the run stops with an error naming it.
    fn same(&self, prior: Option<&Prior>, digest: &Digest, what: String) -> Result<(), String> {
        match prior {
            Some(p) if p.differs(digest) => Err(format!(
                "{what} is not the one --output {} holds: its ciphertext or encryption context \
                 changed since that line was written. An output belongs to one input: use \
                 another --output for this input",
                self.args.output.display()
            )),
            _ => Ok(()),
        }
    }

    /// A bad-line record without an id of its own, or nothing when the output
    /// already has it.
    fn invalid(
        &self,
        line: u64,
        (id, message): Bad,
        duplicate_of: Option<u64>,
        digest: &Digest,
    ) -> Result<Line, String> {
        let prior = self.existing.by_line.get(&line);
        self.same(prior, digest, format!("input line {line}"))?;
        if prior.is_some_and(Prior::done) {
            return Ok(Line::Done);
        }
        Ok(Line::Item(Item::Invalid(Record::invalid(
            &self.args,
            id,
            line,
            digest,
            message,
            duplicate_of,
        ))))
    }

    fn line(&self, line: u64, bytes: &[u8], seen: &mut HashMap<u128, u64>) -> Result<Line, String> {
        let f = &self.args.fields;
        let raw = || line_digest(bytes);
        let obj: Map<String, Value> = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) if is_header(&m) => return Ok(Line::Skip),
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                let bad = (Value::Null, "not a JSON object".into());
                return self.invalid(line, bad, None, &raw());
            }
            Err(e) => {
                let bad = (Value::Null, format!("not JSON: {e}"));
                return self.invalid(line, bad, None, &raw());
            }
        };
        let id = match obj.get(&f.id) {
            Some(v @ Value::String(s)) if !s.is_empty() => v.clone(),
            Some(v @ Value::Number(_)) => v.clone(),
            Some(_) => {
                let msg = format!("field {:?} must be a non-empty string or a number", f.id);
                return self.invalid(line, (Value::Null, msg), None, &raw());
            }
            None => {
                let msg = format!("missing field {:?}", f.id);
                return self.invalid(line, (Value::Null, msg), None, &raw());
            }
        };
        let key = self.hasher.hash(&id);
        if let Some(&first) = seen.get(&key) {
            let msg = format!("duplicate id (first on line {first})");
            return self.invalid(line, (id, msg), Some(first), &raw());
        }
        seen.insert(key, line);
        let job = self.job(&obj);
        let digest = match &job {
            Ok((_, _, d)) => *d,
            Err(_) => raw(),
        };
        let prior = self.existing.by_id.get(&key);
        self.same(prior, &digest, format!("record {id} (input line {line})"))?;
        if prior.is_some_and(Prior::done) {
            return Ok(Line::Done);
        }
        Ok(Line::Item(match job {
            Ok((request, destination_context, digest)) => Item::Job(Box::new(Job {
                id,
                line,
                digest,
                request,
                destination_context,
                redo: prior.is_some(),
            })),
            // The record has an id: resume finds it by id.
            Err(msg) => Item::Invalid(Record::invalid(&self.args, id, line, &digest, msg, None)),
        }))
    }

    fn job(
        &self,
        obj: &Map<String, Value>,
    ) -> Result<(ReEncryptRequest, Option<EncryptionContext>, Digest), String> {
        let a = &self.args;
        let f = &a.fields;
        let blob = match obj.get(&f.ciphertext) {
            Some(Value::String(s)) => STANDARD
                .decode(s.trim())
                .map_err(|e| format!("field {:?} is not valid base64: {e}", f.ciphertext))?,
            Some(_) => return Err(format!("field {:?} must be a base64 string", f.ciphertext)),
            None => return Err(format!("missing field {:?}", f.ciphertext)),
        };
        let source_context = match obj.get(&f.context) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let mut ctx = EncryptionContext::new();
                for (k, v) in m {
                    let Value::String(v) = v else {
                        return Err(format!(
                            "field {:?} must be an object of strings ({k:?} is not a string)",
                            f.context
                        ));
                    };
                    ctx.insert(k.clone(), v.clone());
                }
                Some(ctx)
            }
            Some(_) => {
                return Err(format!(
                    "field {:?} must be an object of strings",
                    f.context
                ));
            }
        };
        let digest = record_digest(&blob, source_context.as_ref());
        let destination_context = match a.context_mode {
            ContextMode::Keep => source_context.clone(),
            ContextMode::Replace => Some(a.destination_context.clone()),
            ContextMode::Map => {
                let mut ctx = source_context.clone().unwrap_or_default();
                ctx.extend(a.destination_context.clone());
                Some(ctx)
            }
        }
        .filter(|c| !c.is_empty());
        let mut b = ReEncryptRequest::builder()
            .ciphertext_blob(blob)
            .set_source_encryption_context(source_context)
            .set_source_key_id(a.source_key_id.clone())
            .destination_key_id(a.destination_key_id.clone())
            .set_destination_encryption_context(destination_context.clone())
            .set_grant_tokens(a.grant_tokens.clone());
        if a.dry_run {
            b = b.dry_run(true);
        }
        let request = b.build().map_err(|e| e.to_string())?;
        Ok((request, destination_context, digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn record_digest_is_canonical_and_tells_inputs_apart() {
        let d = record_digest(b"blob", Some(&ctx(&[("a", "1"), ("b", "2")])));
        // Pair order is not part of the input (the context is a map) ...
        assert_eq!(
            d,
            record_digest(b"blob", Some(&ctx(&[("b", "2"), ("a", "1")])))
        );
        // ... and no context is an empty one, for KMS as here.
        assert_eq!(
            record_digest(b"blob", None),
            record_digest(b"blob", Some(&ctx(&[])))
        );
        // Every byte counts, and lengths keep fields from running together.
        for other in [
            record_digest(b"blob!", Some(&ctx(&[("a", "1"), ("b", "2")]))),
            record_digest(b"blob", Some(&ctx(&[("a", "1"), ("b", "3")]))),
            record_digest(b"blob", Some(&ctx(&[("a", "1b"), ("", "2")]))),
            record_digest(b"blob", Some(&ctx(&[("a", "1")]))),
            record_digest(b"blob", None),
        ] {
            assert_ne!(d, other);
        }
        assert_ne!(line_digest(b"x\n"), record_digest(b"x", None));
        assert_eq!(line_digest(b"x\r\n"), line_digest(b"x"));
        // A known vector, so the format cannot change unnoticed: SHA-256 of the
        // tag, len 4, "blob", 0 pairs.
        let mut expected = Sha256::new();
        expected.update(b"kms-reencrypt record\0\0\0\0\0\0\0\0\x04blob\0\0\0\0\0\0\0\0");
        let expected: Digest = expected.finalize().into();
        assert_eq!(record_digest(b"blob", None), expected);
        assert_eq!(hex(&expected).len(), 64);
        assert_ne!(short(&[0; 32]), 0, "0 means no hash");
    }
}
