//! What a KMS error means for a record, and the pause before trying it again.
//!
//! Three outcomes:
//!
//! - **final**: an answer about the record itself (`InvalidCiphertextException`,
//!   `IncorrectKeyException`, a source key that is missing, disabled or pending
//!   deletion, a rejected request, ...): written as a `failed` record;
//! - **retry**: throttling, a server fault (HTTP 5xx, `KMSInternalException`,
//!   `KeyUnavailableException`, `DependencyTimeoutException`), a request
//!   timeout (HTTP 408, `RequestTimeoutException`: the server gave up waiting
//!   for the request body), an attempt or operation timeout, a broken
//!   connection, and once KMS has answered in this run, a connection that
//!   cannot be made (a network blip, an endpoint restarting): nothing is
//!   written, the record is tried again after a backoff, for as long as the run
//!   goes on;
//! - **stop**: the configuration or environment is wrong (credentials,
//!   signatures, `AccessDeniedException`, an invalid grant token, an endpoint
//!   that cannot be reached before KMS first answered (a wrong endpoint or
//!   region), one whose certificate is rejected, a destination key
//!   that is missing, disabled or of the wrong usage, an error page that is not
//!   a KMS answer, an error code outside the KMS model that is not about the
//!   request's content, such as `UnknownOperationException`): the run stops
//!   without writing the records it hit, and the next run does them.

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, Hasher as _, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tower_kms::retry::RetryConfig;
use tower_kms::{KmsError, TimeoutKind, TransportKind};

/// What to do with a record after a KMS error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The record's own, final answer: write it as failed.
    Final,
    /// Transient: try the record again after a backoff.
    Retry,
    /// Stop the run, with this explanation.
    Stop(String),
}

/// The destination key as given, and its ARN once a response has named it, to
/// tell an error about the destination key (a configuration problem: every
/// record would fail the same way) from one about a record's source key.
#[derive(Debug)]
pub(crate) struct Destination {
    given: String,
    arn: OnceLock<String>,
}

impl Destination {
    pub(crate) fn new(given: &str) -> Self {
        Self {
            given: given.to_owned(),
            arn: OnceLock::new(),
        }
    }

    /// Remembers the destination key's ARN from a response's `KeyId`.
    pub(crate) fn learn(&self, arn: Option<&str>) {
        if let Some(arn) = arn.filter(|a| !a.is_empty())
            && self.arn.get().is_none()
        {
            let _ = self.arn.set(arn.to_owned());
        }
    }

    /// Whether an error message names the destination key: the id, alias or ARN
    /// as given, the learned ARN, or the key id inside either ARN. KMS names the
    /// key at fault in the messages of `NotFoundException`, `DisabledException`,
    /// `KMSInvalidStateException` and `InvalidKeyUsageException`.
    pub(crate) fn named_in(&self, message: &str) -> bool {
        let names = std::iter::once(self.given.as_str()).chain(self.arn.get().map(String::as_str));
        names.filter(|n| !n.is_empty()).any(|n| {
            message.contains(n)
                || n.split_once(":key/")
                    .is_some_and(|(_, id)| id.len() >= 8 && message.contains(id))
        })
    }

    pub(crate) fn given(&self) -> &str {
        &self.given
    }
}

fn chain(e: &KmsError) -> String {
    tower_kms::DisplayChain(e).to_string()
}

/// Classifies a KMS error for a record (see the [module docs](self));
/// `answered`: whether KMS has answered a call of this run yet.
pub(crate) fn classify(e: &KmsError, destination: &Destination, answered: bool) -> Verdict {
    match e {
        KmsError::Credentials(_)
        | KmsError::Signing(_)
        | KmsError::UnrecognizedClient(_)
        | KmsError::InvalidSignature(_)
        | KmsError::ExpiredToken(_)
        | KmsError::Authentication(_)
        | KmsError::InvalidGrantToken(_) => Verdict::Stop(chain(e)),
        KmsError::AccessDenied(_) => Verdict::Stop(format!(
            "{} (ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on \
             the destination key)",
            chain(e)
        )),
        KmsError::Transport(t) if t.is_certificate_error() => Verdict::Stop(chain(e)),
        // No connection: before KMS first answered, a wrong endpoint or region
        // (every record would get it); after, a blip, tried again below.
        KmsError::Transport(t) if t.kind() == TransportKind::Connect && !answered => {
            Verdict::Stop(unreachable(e))
        }
        KmsError::Timeout(t) if t.kind() == TimeoutKind::Connect && !answered => {
            Verdict::Stop(unreachable(e))
        }
        KmsError::Transport(t) if t.kind() == TransportKind::Connect => Verdict::Retry,
        KmsError::Timeout(t) if t.kind() == TimeoutKind::Connect => Verdict::Retry,
        KmsError::NotFound(s)
        | KmsError::Disabled(s)
        | KmsError::KmsInvalidState(s)
        | KmsError::InvalidKeyUsage(s)
            if destination.named_in(s.message.as_deref().unwrap_or("")) =>
        {
            Verdict::Stop(format!(
                "the destination key {:?} cannot be used: {}",
                destination.given(),
                chain(e)
            ))
        }
        // Throttling, 5xx, 408, broken connections, attempt timeouts; and the
        // operation timeout, which only says that all the attempts of this call
        // took too long.
        e if e.is_retryable() || e.is_timeout() || is_request_timeout(e) => Verdict::Retry,
        // An error page that is not a KMS answer (a proxy's, or whatever
        // serves a wrong endpoint): every record would get it.
        KmsError::UnexpectedResponse(u)
            if !u.status.is_success() && !about_the_request_size(u.status) =>
        {
            Verdict::Stop(format!(
                "{} (not a KMS answer: is AWS_ENDPOINT_URL_KMS a KMS endpoint, or is a proxy in \
                 the way?)",
                chain(e)
            ))
        }
        // An error code KMS does not answer ReEncrypt with, and that is not
        // about the request's content (UnknownOperationException, ...).
        KmsError::Unknown(s) if !record_code(&s.code) && !about_the_request_size(s.status) => {
            Verdict::Stop(format!(
                "{} (KMS does not answer a ReEncrypt with this about a record: is \
                 AWS_ENDPOINT_URL_KMS a KMS endpoint, or is a proxy in the way?)",
                chain(e)
            ))
        }
        _ => Verdict::Final,
    }
}

fn unreachable(e: &KmsError) -> String {
    format!(
        "{} (KMS has not answered this run yet: are AWS_REGION and AWS_ENDPOINT_URL_KMS right?)",
        chain(e)
    )
}

/// Error codes outside the KMS model that are about the content of one
/// request (a record's ciphertext or context), so final for that record.
const RECORD_CODES: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "InvalidParameterException",
    "MissingParameter",
    "SerializationException",
    "RequestEntityTooLargeException",
];

fn record_code(code: &str) -> bool {
    RECORD_CODES.contains(&code)
}

/// `413 Payload Too Large`: about the size of one record's request.
fn about_the_request_size(status: http::StatusCode) -> bool {
    status == http::StatusCode::PAYLOAD_TOO_LARGE
}

/// `408 Request Timeout` / `RequestTimeoutException`: the server stopped
/// waiting for the request body (a slow network; `kms-local` answers it too).
/// Transient, whatever the library's own classification says.
fn is_request_timeout(e: &KmsError) -> bool {
    e.status() == Some(http::StatusCode::REQUEST_TIMEOUT)
        || e.code().is_some_and(is_request_timeout_code)
}

fn is_request_timeout_code(code: &str) -> bool {
    matches!(code, "RequestTimeoutException" | "RequestTimeout")
}

/// Error codes of `failed` lines that a run does again on resume: those a run
/// would now try again or stop on rather than record, as earlier versions
/// wrote them: transient errors (before the retry-until-done rule) and
/// configuration errors (`AccessDeniedException`, `InvalidGrantTokenException`,
/// credentials, signatures, codes that are not KMS answers about a record).
/// Only the code is known: an error naming the destination key cannot be told
/// from one naming a record's source key, and stays final.
pub(crate) fn redo_on_resume(code: &str) -> bool {
    match code {
        // The tool's own codes: transport errors and timeouts; credentials and
        // signing (configuration).
        "TransportError" | "TimeoutError" | "CredentialsError" | "SigningError" => true,
        // The tool's own codes for bad input lines, undecodable successes and
        // requests the client refused to send: final.
        "InvalidInput" | "UnexpectedResponse" | "ValidationError" | "Error" => false,
        // Server faults that carry no KMS code of their own.
        "InternalFailure"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => true,
        _ => {
            let e = KmsError::from_service_error(tower_kms::ServiceError::new(
                code,
                http::StatusCode::BAD_REQUEST,
            ));
            classify(&e, &Destination::new(""), false) != Verdict::Final
        }
    }
}

/// The pause before a record's next try: full jitter over an exponential
/// ceiling from 1 s, capped at 20 s (the standard retry mode's formula, from the
/// library). The client has already made its own attempts by then.
pub(crate) fn backoff(tries: u32, throttling: bool, jitter: f64) -> Duration {
    static CONFIG: OnceLock<RetryConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            RetryConfig::standard()
                .with_base(Duration::from_secs(1))
                .with_throttling_base(Duration::from_secs(1))
                .with_max_backoff(MAX_BACKOFF)
        })
        .backoff(tries, throttling, jitter)
}

/// The longest pause between two tries of a record.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Numbers in `[0, 1)`: a counter hashed with a per-process random key.
#[derive(Debug, Default)]
pub(crate) struct Jitter {
    key: RandomState,
    counter: AtomicU64,
}

impl Jitter {
    pub(crate) fn next(&self) -> f64 {
        let mut h = self.key.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How often the run says on stderr that records are waiting to be tried
/// again after transient errors, while the longest has waited at least as long
/// (whether stderr is a terminal or a log: a waiting run is not a hung one).
pub(crate) const WAITING_WARNING: Duration = Duration::from_secs(30);

/// The records that failed transiently and are not done yet (waiting out a
/// backoff or trying again), by when they first failed, and the last
/// transient error code: what the periodic warning says.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    state: Mutex<WaitingState>,
}

#[derive(Debug, Default)]
struct WaitingState {
    /// When each record first failed transiently, and its input line.
    since: BTreeSet<(Instant, u64)>,
    last: String,
}

impl Waiting {
    /// The record on input line `line`, failing transiently since `since`,
    /// just failed with `code`.
    pub(crate) fn failed(&self, since: Instant, line: u64, code: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.since.insert((since, line));
        code.clone_into(&mut s.last);
    }

    /// The record is done (or abandoned).
    pub(crate) fn done(&self, since: Instant, line: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.since.remove(&(since, line));
    }

    /// Follows one record (on input `line`): on the list from its first
    /// transient failure until the returned value is dropped.
    pub(crate) fn record(&self, line: u64) -> WaitingRecord<'_> {
        WaitingRecord {
            waiting: self,
            line,
            since: None,
        }
    }

    /// The warning to print at `now`, if a record has been waiting for at
    /// least `after`.
    pub(crate) fn warning(&self, now: Instant, after: Duration) -> Option<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let longest = now.saturating_duration_since(s.since.first()?.0);
        if longest < after {
            return None;
        }
        let n = s.since.len();
        Some(format!(
            "still trying: {n} record{} waiting to be tried again after transient errors, the \
             longest for {} (the last error: {}); the run goes on until KMS answers or it is \
             stopped",
            if n == 1 { "" } else { "s" },
            minutes(longest),
            s.last,
        ))
    }
}

/// One record's place on the [`Waiting`] list.
#[derive(Debug)]
pub(crate) struct WaitingRecord<'a> {
    waiting: &'a Waiting,
    line: u64,
    since: Option<Instant>,
}

impl WaitingRecord<'_> {
    /// The record failed transiently with `code`.
    pub(crate) fn failed(&mut self, code: &str) {
        let since = *self.since.get_or_insert_with(Instant::now);
        self.waiting.failed(since, self.line, code);
    }
}

impl Drop for WaitingRecord<'_> {
    fn drop(&mut self) {
        if let Some(since) = self.since {
            self.waiting.done(since, self.line);
        }
    }
}

/// `45 s`, `2 min 05 s`.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    match secs / 60 {
        0 => format!("{secs} s"),
        m => format!("{m} min {:02} s", secs % 60),
    }
}

/// The run's stop switch, its first fatal error, and the records waiting to
/// be tried again.
#[derive(Debug)]
pub(crate) struct Control {
    stop: watch::Sender<bool>,
    fatal: Mutex<Option<String>>,
    /// Records waiting out a backoff.
    pub(crate) retrying: AtomicU64,
    /// Records that failed transiently and are not done yet.
    pub(crate) waiting: Waiting,
    /// Records left unwritten because the run stopped (a configuration error
    /// they ran into, or a stop while they waited to be tried again).
    pub(crate) abandoned: AtomicU64,
    /// Whether KMS has answered a call of this run (a success, the preflight's
    /// dry run): from then on, a connection that cannot be made is transient.
    answered: AtomicBool,
    pub(crate) jitter: Jitter,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            stop: watch::Sender::new(false),
            fatal: Mutex::default(),
            retrying: AtomicU64::new(0),
            waiting: Waiting::default(),
            abandoned: AtomicU64::new(0),
            answered: AtomicBool::new(false),
            jitter: Jitter::default(),
        }
    }
}

impl Control {
    /// Stops the run: records waiting to be tried again are abandoned, no record
    /// starts another try.
    pub(crate) fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the run for a configuration error (the first one is kept).
    pub(crate) fn fatal(&self, message: String) {
        let mut slot = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(message);
        drop(slot);
        self.stop();
    }

    /// KMS answered a call: see [`classify`].
    pub(crate) fn answered(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }

    /// What to do about a KMS error for a record. An error KMS itself
    /// answered (any error code, final or not) counts as an answer: the
    /// endpoint is right.
    pub(crate) fn classify(&self, e: &KmsError, destination: &Destination) -> Verdict {
        if e.service_error().is_some() {
            self.answered();
        }
        classify(e, destination, self.answered.load(Ordering::Relaxed))
    }

    pub(crate) fn fatal_error(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the run is stopping.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Waits `wait` before a record's next try; `false` if the run stopped
    /// meanwhile (the record is then abandoned, unwritten).
    pub(crate) async fn pause(&self, wait: Duration) -> bool {
        if self.stopping() {
            return false;
        }
        self.retrying.fetch_add(1, Ordering::Relaxed);
        let go_on = tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = self.stopped() => false,
        };
        self.retrying.fetch_sub(1, Ordering::Relaxed);
        go_on && !self.stopping()
    }
}

/// The default of `--max-same-failures`: how many records in a row may fail
/// with one error code before the run stops.
pub(crate) const SAME_FAILURES: usize = 50;

/// Stops a run whose records keep failing the same way. When `limit` records
/// in a row fail for good with one error code, the configuration is the
/// likelier culprit (a wrong `--source-key-id`, context mode or pairs, a key
/// the records cannot use), not each record: written as failed, every record
/// of the input would follow. The failures of the streak under way are held
/// back (not written) until something else ends it: an ok record or another
/// code writes them; reaching `limit` drops them, so the next run does them
/// again. After that, failures are dropped too (the run is stopping; the next
/// run does them). `limit` 0: never.
///
/// "In a row" is counted as records finish, keyed by input line: a record of
/// an earlier input line than the streak's first that finishes ok or with
/// another code neither ends the streak nor joins it (so the records in
/// flight when a run starts failing cannot hide its start), and one that
/// fails with the streak's code joins it. A record still in flight or waiting
/// to be tried again (throttling) does not break a streak: with many records
/// in flight, failures that finish fast can trip the breaker while slower
/// records between them would have succeeded.
#[derive(Debug)]
pub(crate) struct Breaker<T> {
    limit: usize,
    streak: Mutex<Streak<T>>,
}

#[derive(Debug)]
struct Streak<T> {
    code: String,
    /// The first input line of the streak.
    since: u64,
    held: Vec<T>,
    tripped: bool,
}

/// What to do with a finished record, per the [`Breaker`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<T> {
    /// Write these: the held failures of a streak that just ended, then the
    /// record if it is not held in turn.
    Write(Vec<T>),
    /// The streak reached the limit with this record: stop the run; the
    /// `count` records of the streak are dropped, unwritten.
    Tripped { code: String, count: usize },
    /// Dropped, unwritten: the breaker has tripped.
    Dropped,
}

impl<T> Breaker<T> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            streak: Mutex::new(Streak {
                code: String::new(),
                since: 0,
                held: Vec::new(),
                tripped: false,
            }),
        }
    }

    /// Takes a finished record from input line `line`: `failed` is its error
    /// code, `None` if it is ok.
    pub(crate) fn finished(&self, line: u64, failed: Option<&str>, record: T) -> Step<T> {
        let mut s = self.streak.lock().unwrap_or_else(|p| p.into_inner());
        let older = !s.held.is_empty() && line < s.since;
        let Some(code) = failed else {
            if older {
                return Step::Write(vec![record]);
            }
            let mut out = std::mem::take(&mut s.held);
            out.push(record);
            return Step::Write(out);
        };
        if s.tripped {
            return Step::Dropped;
        }
        if self.limit == 0 {
            return Step::Write(vec![record]);
        }
        let mut out = Vec::new();
        if !s.held.is_empty() && s.code != code {
            if older {
                return Step::Write(vec![record]);
            }
            out = std::mem::take(&mut s.held);
        }
        if s.held.is_empty() {
            code.clone_into(&mut s.code);
            s.since = line;
        }
        s.since = s.since.min(line);
        s.held.push(record);
        if s.held.len() >= self.limit {
            s.tripped = true;
            let count = s.held.len();
            s.held.clear();
            // `out` is empty: a new code starts a streak of one, which only a
            // limit of 1 trips, and under that limit nothing is ever held.
            return Step::Tripped {
                code: code.to_owned(),
                count,
            };
        }
        Step::Write(out)
    }

    /// The held failures of the streak under way (at the end of the run: they
    /// are written).
    pub(crate) fn take(&self) -> Vec<T> {
        let mut s = self.streak.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut s.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use tower_kms::{ServiceError, TimeoutError, TransportError, UnexpectedResponse};

    fn service(code: &str, status: u16, message: &str) -> KmsError {
        KmsError::from_service_error(
            ServiceError::new(code, StatusCode::from_u16(status).unwrap()).with_message(message),
        )
    }

    /// A response that is not a KMS answer, with this status and body.
    fn page(status: u16, body: &str) -> KmsError {
        KmsError::UnexpectedResponse(UnexpectedResponse::new(
            StatusCode::from_u16(status).unwrap(),
            None,
            "the error response is not a KMS JSON error",
            body.as_bytes(),
        ))
    }

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn verdicts() {
        let dest = Destination::new("alias/new");
        let v = |e: &KmsError| classify(e, &dest, true);
        for retry in [
            service("ThrottlingException", 400, "slow down"),
            service("KMSInternalException", 500, ""),
            service("KeyUnavailableException", 500, ""),
            service("DependencyTimeoutException", 503, ""),
            service("SomethingNew", 503, ""),
            service("SomethingNew", 429, ""),
            KmsError::Timeout(TimeoutError::new(TimeoutKind::Attempt, None)),
            KmsError::Timeout(TimeoutError::new(TimeoutKind::Operation, None)),
            KmsError::Transport(TransportError::new(TransportKind::Io, "reset")),
            KmsError::Transport(TransportError::new(TransportKind::Body, "cut")),
            // The server gave up waiting for the request body.
            service("RequestTimeoutException", 408, "slow body"),
            service("RequestTimeout", 400, ""),
            service("SomethingNew", 408, ""),
            KmsError::UnexpectedResponse(UnexpectedResponse::new(
                StatusCode::REQUEST_TIMEOUT,
                None,
                "the error response is not a KMS JSON error",
                b"<html>408 Request Timeout</html>",
            )),
        ] {
            assert_eq!(v(&retry), Verdict::Retry, "{retry:?}");
        }
        for stop in [
            service("AccessDeniedException", 400, "no"),
            service("InvalidSignatureException", 400, ""),
            service("UnrecognizedClientException", 400, ""),
            service("InvalidGrantTokenException", 400, ""),
            service(
                "NotFoundException",
                400,
                "Alias arn:aws:kms:us-east-1:111122223333:alias/new is not found.",
            ),
            // Not KMS: a wrong endpoint, a proxy.
            service("UnknownOperationException", 400, "Unknown operation"),
            service("InvalidAction", 400, ""),
            service("Forbidden", 403, ""),
            service("SomethingNew", 404, ""),
            page(403, "<html>Forbidden by the proxy</html>"),
            page(404, "<html>Not Found</html>"),
            page(400, r#"{"error":"bad request"}"#),
            page(302, ""),
        ] {
            assert!(matches!(v(&stop), Verdict::Stop(_)), "{stop:?}");
        }
        let Verdict::Stop(m) = v(&service("AccessDeniedException", 400, "no")) else {
            unreachable!()
        };
        assert!(m.contains("kms:ReEncryptTo"), "{m}");
        // No connection: a wrong endpoint until KMS first answered, then a blip.
        for connect in [
            KmsError::Transport(TransportError::new(TransportKind::Connect, "refused")),
            KmsError::Timeout(TimeoutError::new(TimeoutKind::Connect, None)),
        ] {
            let Verdict::Stop(m) = classify(&connect, &dest, false) else {
                panic!("{connect:?}")
            };
            assert!(m.contains("AWS_ENDPOINT_URL_KMS"), "{m}");
            assert_eq!(classify(&connect, &dest, true), Verdict::Retry);
        }
        // The run's control knows whether KMS answered.
        let control = Control::default();
        let refused = KmsError::Transport(TransportError::new(TransportKind::Connect, "no"));
        assert!(matches!(
            control.classify(&refused, &dest),
            Verdict::Stop(_)
        ));
        control.answered();
        assert_eq!(control.classify(&refused, &dest), Verdict::Retry);
        // An error KMS answered is an answer too; an error page is not.
        let control = Control::default();
        control.classify(&page(502, "<html>Bad Gateway</html>"), &dest);
        assert!(matches!(
            control.classify(&refused, &dest),
            Verdict::Stop(_)
        ));
        control.classify(&service("InvalidCiphertextException", 400, ""), &dest);
        assert_eq!(control.classify(&refused, &dest), Verdict::Retry);
        for last in [
            service("InvalidCiphertextException", 400, ""),
            service("IncorrectKeyException", 400, ""),
            service("ValidationException", 400, "too long"),
            service("SerializationException", 400, ""),
            service("RequestEntityTooLargeException", 413, ""),
            service("SomethingNew", 413, ""),
            page(413, "<html>Request Entity Too Large</html>"),
            // A success KMS sent that could not be decoded.
            page(200, ""),
            service("DisabledException", 400, &format!("{ARN} is disabled.")),
            service(
                "NotFoundException",
                400,
                "Key 'arn:...:key/other' does not exist",
            ),
        ] {
            assert_eq!(v(&last), Verdict::Final, "{last:?}");
        }
        // Once a response names the destination's ARN, errors naming it stop.
        dest.learn(Some(ARN));
        let disabled = service(
            "DisabledException",
            400,
            "1234abcd-12ab-34cd-56ef-1234567890ab is disabled.",
        );
        assert!(matches!(v(&disabled), Verdict::Stop(_)));
        let pending = service(
            "KMSInvalidStateException",
            400,
            &format!("{ARN} is pending deletion."),
        );
        assert!(matches!(v(&pending), Verdict::Stop(_)));
    }

    #[test]
    fn codes_redone_on_resume() {
        for code in [
            "ThrottlingException",
            "TooManyRequestsException",
            "KMSInternalException",
            "DependencyTimeoutException",
            "KeyUnavailableException",
            "TransportError",
            "TimeoutError",
            "RequestTimeoutException",
            "RequestTimeout",
            "InternalFailure",
            "AccessDeniedException",
            "InvalidGrantTokenException",
            "InvalidSignatureException",
            "ExpiredTokenException",
            "CredentialsError",
            "UnknownOperationException",
        ] {
            assert!(redo_on_resume(code), "{code}");
        }
        for code in [
            "InvalidCiphertextException",
            "IncorrectKeyException",
            "NotFoundException",
            "DisabledException",
            "InvalidInput",
            "UnexpectedResponse",
            "ValidationError",
            "ValidationException",
            "SerializationException",
            "LimitExceededException",
        ] {
            assert!(!redo_on_resume(code), "{code}");
        }
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        assert_eq!(backoff(1, true, 0.0), Duration::ZERO);
        assert_eq!(backoff(1, false, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(3, true, 0.5), Duration::from_secs(2));
        assert_eq!(
            backoff(40, false, 0.999_999),
            MAX_BACKOFF.mul_f64(0.999_999)
        );
        let j = Jitter::default();
        let draws: Vec<f64> = (0..1000).map(|_| j.next()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }

    #[test]
    fn the_breaker_trips_on_a_streak_of_one_code_and_holds_the_streak_back() {
        let b = Breaker::new(4);
        let w = |v: &[u64]| Step::Write(v.to_vec());
        // Records are their input lines here.
        let f = |b: &Breaker<u64>, line: u64, code: Option<&str>| b.finished(line, code, line);
        assert_eq!(f(&b, 1, None), w(&[1]));
        assert_eq!(f(&b, 2, Some("A")), w(&[]), "held");
        assert_eq!(f(&b, 3, Some("A")), w(&[]), "held");
        // An ok record ends the streak: the held failures are written first.
        assert_eq!(f(&b, 4, None), w(&[2, 3, 4]));
        assert_eq!(f(&b, 5, Some("A")), w(&[]));
        assert_eq!(f(&b, 6, Some("A")), w(&[]));
        // So does another code, which starts a streak of its own.
        assert_eq!(f(&b, 8, Some("B")), w(&[5, 6]));
        assert_eq!(f(&b, 10, Some("B")), w(&[]));
        // Records from before the streak, finishing late, do not end it: an
        // ok one, another code.
        assert_eq!(f(&b, 7, None), w(&[7]));
        assert_eq!(f(&b, 6, Some("C")), w(&[6]));
        // The same code from before joins it: the streak now starts there.
        assert_eq!(f(&b, 7, Some("B")), w(&[]));
        assert_eq!(f(&b, 9, None), w(&[8, 10, 7, 9]), "a later ok ends it");
        for line in [11, 13, 12] {
            assert_eq!(f(&b, line, Some("B")), w(&[]));
        }
        let tripped = Step::Tripped {
            code: "B".into(),
            count: 4,
        };
        assert_eq!(f(&b, 14, Some("B")), tripped);
        // Tripped: failures are dropped, ok records still written.
        assert_eq!(f(&b, 15, Some("C")), Step::Dropped);
        assert_eq!(f(&b, 16, None), w(&[16]));
        assert_eq!(f(&b, 17, Some("B")), Step::Dropped);
        assert!(b.take().is_empty());

        // At the end, a streak short of the limit is written.
        let b = Breaker::new(3);
        assert_eq!(f(&b, 1, Some("A")), w(&[]));
        assert_eq!(f(&b, 2, Some("A")), w(&[]));
        assert_eq!(b.take(), [1, 2]);
        assert_eq!(f(&b, 3, Some("A")), w(&[]), "a new streak");
        assert_eq!(b.take(), [3]);

        // 0: never; 1: the first failure.
        let b = Breaker::new(0);
        for i in 0..100 {
            assert_eq!(f(&b, i, Some("A")), w(&[i]));
        }
        let b = Breaker::new(1);
        assert_eq!(f(&b, 1, None), w(&[1]));
        let tripped = Step::Tripped {
            code: "A".into(),
            count: 1,
        };
        assert_eq!(f(&b, 2, Some("A")), tripped);
    }

    #[test]
    fn the_waiting_warning_names_the_records_the_longest_wait_and_the_last_code() {
        let w = Waiting::default();
        let t0 = Instant::now();
        let after = Duration::from_secs(30);
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        assert_eq!(w.warning(at(100), after), None, "nobody waiting");
        w.failed(at(0), 7, "ThrottlingException");
        assert_eq!(w.warning(at(29), after), None, "not for long yet");
        assert_eq!(
            w.warning(at(30), after).unwrap(),
            "still trying: 1 record waiting to be tried again after transient errors, the \
             longest for 30 s (the last error: ThrottlingException); the run goes on until KMS \
             answers or it is stopped"
        );
        w.failed(at(0), 7, "ThrottlingException");
        w.failed(at(20), 9, "TransportError");
        let m = w.warning(at(125), after).unwrap();
        assert!(
            m.starts_with("still trying: 2 records waiting") && m.contains("for 2 min 05 s"),
            "{m}"
        );
        assert!(m.contains("(the last error: TransportError)"), "{m}");
        // The longest wait is the oldest record's still waiting.
        w.done(at(0), 7);
        let m = w.warning(at(125), after).unwrap();
        assert!(
            m.contains("1 record waiting") && m.contains("for 1 min 45 s"),
            "{m}"
        );
        assert_eq!(w.warning(at(49), after), None);
        w.done(at(20), 9);
        assert_eq!(w.warning(at(1000), after), None);
    }
}
