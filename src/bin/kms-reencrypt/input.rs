//! Reading the input: JSON Lines to re-encryption jobs, on a thread of its own.
//!
//! The reader parses and validates each line, detects duplicate ids and skips
//! records the output already holds, so the async side only sees work.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tower_kms::{EncryptionContext, ReEncryptRequest};

use crate::Stats;
use crate::args::{Args, ContextMode};
use crate::output::{Existing, IdHasher, Record};

/// The longest input line read, in bytes (a KMS ciphertext is at most 6144 bytes).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// One re-encryption to do.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: Value,
    pub(crate) line: u64,
    pub(crate) request: ReEncryptRequest,
    pub(crate) destination_context: Option<EncryptionContext>,
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

impl Reader {
    /// Reads `input` to the end (or until the driver stops listening), sending jobs
    /// and bad-line records to `tx`.
    pub(crate) fn run(self, mut input: impl BufRead, tx: mpsc::Sender<Item>) {
        let mut buf = Vec::with_capacity(16 * 1024);
        // First line of every id seen in this pass (by hash).
        let mut seen: HashMap<u128, u64> = HashMap::new();
        let mut line_no = 0u64;
        loop {
            let (n, too_long) = match read_line(&mut input, &mut buf, MAX_LINE) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Item::Error(format!(
                        "reading the input after line {line_no}: {e}"
                    )));
                    return;
                }
            };
            line_no += 1;
            self.stats.bytes_read.fetch_add(n, Ordering::Relaxed);
            let item = if too_long {
                self.invalid(
                    line_no,
                    (Value::Null, format!("line longer than {MAX_LINE} bytes")),
                    None,
                )
            } else if buf.iter().all(u8::is_ascii_whitespace) {
                continue; // blank lines are not records
            } else {
                self.line(line_no, &buf, &mut seen)
            };
            match item {
                None => {
                    self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Some(item) => {
                    if tx.blocking_send(item).is_err() {
                        return; // the driver stopped
                    }
                }
            }
        }
    }

    /// A bad-line record, or `None` when the output already has it.
    fn invalid(&self, line: u64, (id, message): Bad, duplicate_of: Option<u64>) -> Option<Item> {
        if self.existing.done_line(line) {
            return None;
        }
        Some(Item::Invalid(Record::invalid(
            &self.args,
            id,
            line,
            message,
            duplicate_of,
        )))
    }

    fn line(&self, line: u64, bytes: &[u8], seen: &mut HashMap<u128, u64>) -> Option<Item> {
        let f = &self.args.fields;
        let obj: Map<String, Value> = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return self.invalid(line, (Value::Null, "not a JSON object".into()), None),
            Err(e) => return self.invalid(line, (Value::Null, format!("not JSON: {e}")), None),
        };
        let id = match obj.get(&f.id) {
            Some(v @ Value::String(s)) if !s.is_empty() => v.clone(),
            Some(v @ Value::Number(_)) => v.clone(),
            Some(_) => {
                let msg = format!("field {:?} must be a non-empty string or a number", f.id);
                return self.invalid(line, (Value::Null, msg), None);
            }
            None => {
                let msg = format!("missing field {:?}", f.id);
                return self.invalid(line, (Value::Null, msg), None);
            }
        };
        let key = self.hasher.hash(&id);
        if let Some(&first) = seen.get(&key) {
            let msg = format!("duplicate id (first on line {first})");
            return self.invalid(line, (id, msg), Some(first));
        }
        seen.insert(key, line);
        if self.existing.done_id(key) {
            return None;
        }
        match self.job(&obj) {
            Ok((request, destination_context)) => Some(Item::Job(Box::new(Job {
                id,
                line,
                request,
                destination_context,
            }))),
            // The record has an id: resume finds it by id.
            Err(msg) => Some(Item::Invalid(Record::invalid(
                &self.args, id, line, msg, None,
            ))),
        }
    }

    fn job(
        &self,
        obj: &Map<String, Value>,
    ) -> Result<(ReEncryptRequest, Option<EncryptionContext>), String> {
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
        Ok((request, destination_context))
    }
}
