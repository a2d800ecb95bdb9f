//! Middleware that paces attempts the way the AWS SDKs' *adaptive* retry mode
//! does: a client-side token bucket whose fill rate follows CUBIC, consulted
//! before every attempt and fed by every attempt's outcome.
//!
//! Until the first throttling response the bucket is not enforced (requests go
//! out unlimited) while it already measures the send rate. From the first
//! throttle on, each attempt takes one token; the fill rate drops to 70 % of the
//! rate in use at each throttle (the rate at that moment becomes CUBIC's
//! `W_max`), then grows back along `C (t - t_throttle - K)^3 + W_max` and probes
//! beyond, never above twice the measured send rate nor below 0.5 requests per
//! second. The measured rate is the number of responses per half-second
//! bucket, smoothed (`0.8 new + 0.2 old`).
//!
//! Sources (algorithm and constants, checked against their published test
//! tables in this module's tests): botocore `botocore/retries/adaptive.py`,
//! `bucket.py` and `throttling.py`; smithy-rs
//! `aws-smithy-runtime/src/client/retries/client_rate_limiter.rs`; the AWS SDKs
//! and Tools Reference Guide, "Retry behavior".
//!
//! Where the SDKs differ, this layer takes:
//! - **botocore's accounting:** every attempt costs one token, so the bucket is
//!   the send rate the server sees (smithy-rs charges 5 or 10 for retries);
//! - **a non-blocking, ordered wait:** a token is reserved when the attempt is
//!   called (the bucket may go into debt, as in smithy-rs, so concurrent callers
//!   queue in order) and the response future sleeps on tokio's timer: no thread
//!   is ever blocked. A waiting attempt looks at the bucket again after half
//!   its estimated wait (at least 50 ms, at most the whole wait), so a rate
//!   that grows while it waits lets it go early (botocore's waiters are woken
//!   when the rate changes; a sleep computed once, as in smithy-rs, would keep
//!   the rate of the moment it queued). `poll_ready` only delegates to the
//!   inner service, so a clone held ready reserves nothing; a call dropped
//!   while it waits (a timeout above, a cancelled task) gives its token back
//!   without letting the calls queued ahead of it go early;
//! - **no backpressure of its own:** as in the SDKs, every call is accepted and
//!   waits in its future, holding its request and the ready inner service it
//!   was called on (and any permit that service holds). The number of waiting
//!   calls is the number of calls made; to bound it, put a
//!   [`ConcurrencyLimitLayer`](tower::limit::ConcurrencyLimitLayer) around
//!   the client (the operation timeout bounds how long each call waits);
//! - the wait comes on top of the retry layer's backoff (as botocore), bounded
//!   by the operation timeout above rather than cut short (smithy-rs caps retry
//!   waits at the maximum backoff and leaves the debt in the bucket).
//!
//! Three deliberate additions, each for a case the SDKs handle badly with many
//! requests in flight (measured in `tests/adaptive.rs` and the throttling
//! benchmark); the formulas and the SDKs' test tables are unchanged:
//! - **One decrease per congestion event.** The SDKs cut the rate by 30 % for
//!   every throttling response, so one burst over the quota with many requests
//!   in flight multiplies the cuts (ten throttles in one round trip leave 3 % of
//!   the rate). As TCP reduces its window once per loss event, a throttle for an
//!   attempt sent *before* the last decrease is counted (and reported) without
//!   cutting the rate again.
//! - **No burst after a decrease.** The bucket holds up to one second of tokens;
//!   after a cut the saved tokens would be spent at once and hit the quota
//!   again, so a decrease empties the bucket (a debt stays).
//! - **A rate before the first half-second.** The measured rate only exists once
//!   a half-second bucket has closed; before that the SDKs use 0, so a throttle
//!   in a client's first half-second drops the rate to the 0.5 rps floor, and
//!   CUBIC then needs `(rate / 0.4)^(1/3)` seconds to climb back (17 s for 2,000
//!   rps). Until the first bucket closes, this layer uses the rate of the
//!   responses counted so far.
//!
//! The limiter is shared by every clone of the layer and of the services it
//! makes (one per [`KmsClient`](crate::KmsClient), as botocore keeps one per
//! client). [`RetryConfig::adaptive`](super::RetryConfig::adaptive),
//! `AWS_RETRY_MODE=adaptive` and an `SdkConfig` in adaptive mode turn it on in
//! the client, below the retry layer so that every attempt takes a token.
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::retry::{AdaptiveRateLimitLayer, RetryConfig, RetryLayer};
//! use tower_kms::{KmsError, ReEncryptRequest, ReEncryptResponse};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let adaptive = AdaptiveRateLimitLayer::new();
//! let limiter = adaptive.limiter().clone();
//! let kms = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryConfig::adaptive()))
//!     .layer(adaptive) // below the retry layer: every attempt takes a token
//!     .service(service_fn(|_req: ReEncryptRequest| async {
//!         Ok::<_, KmsError>(ReEncryptResponse::default())
//!     }));
//! let req = ReEncryptRequest::builder().ciphertext_blob(vec![1]).destination_key_id("k").build().unwrap();
//! kms.oneshot(req).await.unwrap();
//! assert_eq!(limiter.snapshot().fill_rate, None); // no throttle yet: unlimited
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::error::KmsError;
use crate::operation::KmsOperation;

/// The lowest fill rate, in requests per second.
pub const MIN_FILL_RATE: f64 = 0.5;
/// The smallest bucket capacity, in tokens.
const MIN_CAPACITY: f64 = 1.0;
/// Weight of the newest half-second bucket in the measured send rate.
const SMOOTH: f64 = 0.8;
/// CUBIC's multiplicative decrease.
const BETA: f64 = 0.7;
/// CUBIC's scaling constant `C`.
const SCALE_CONSTANT: f64 = 0.4;
/// The fill rate never exceeds this multiple of the measured send rate.
const MAX_RATE_ADJUST_SCALE: f64 = 2.0;
/// Tokens per attempt.
const ATTEMPT_COST: f64 = 1.0;
/// A gap between responses longer than this (seconds) starts the measured
/// rate afresh (see `CubicState::update_measured_rate`).
const IDLE_RESTART: f64 = 2.0;

/// The algorithm's state, on a clock of seconds since the limiter was made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CubicState {
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    current_capacity: f64,
    last_timestamp: Option<f64>,
    measured_tx_rate: f64,
    last_tx_rate_bucket: f64,
    request_count: u64,
    last_max_rate: f64,
    time_of_last_throttle: f64,
    /// Whether a half-second bucket has closed (the measured rate means something).
    measured_any: bool,
    /// Tokens added to the bucket so far (refills and refunds): a reservation
    /// made in debt may go once this has grown by the debt it found.
    refilled: f64,
}

impl Default for CubicState {
    /// The SDKs' starting point (botocore's and Go's measured rate of 0; a
    /// capacity set by the first update).
    fn default() -> Self {
        Self {
            enabled: false,
            fill_rate: MIN_FILL_RATE,
            max_capacity: f64::MAX,
            current_capacity: 0.0,
            last_timestamp: None,
            measured_tx_rate: 0.0,
            last_tx_rate_bucket: 0.0,
            request_count: 0,
            last_max_rate: 0.0,
            time_of_last_throttle: 0.0,
            measured_any: false,
            refilled: 0.0,
        }
    }
}

impl CubicState {
    /// CUBIC's `K`: the time to climb back to `W_max` after a decrease.
    fn k(&self) -> f64 {
        // powf, not cbrt: the SDKs' tables are computed this way.
        ((self.last_max_rate * (1.0 - BETA)) / SCALE_CONSTANT).powf(1.0 / 3.0)
    }

    /// The rate CUBIC allows at `t` after a success.
    pub(crate) fn cubic_success(&self, t: f64) -> f64 {
        let dt = t - self.time_of_last_throttle - self.k();
        SCALE_CONSTANT * dt * dt * dt + self.last_max_rate
    }

    /// The rate after a throttle at `rate_to_use`.
    pub(crate) fn cubic_throttle(rate_to_use: f64) -> f64 {
        rate_to_use * BETA
    }

    fn refill(&mut self, t: f64) {
        if let Some(last) = self.last_timestamp {
            let fill = (t - last).max(0.0) * self.fill_rate;
            let before = self.current_capacity;
            self.current_capacity = (before + fill).min(self.max_capacity);
            self.refilled += (self.current_capacity - before).max(0.0);
            // Callers read the clock before they take the lock, so a later one
            // may bring an older time: the bucket's time never goes back, or the
            // same interval would be counted twice.
            self.last_timestamp = Some(last.max(t));
        } else {
            self.last_timestamp = Some(t);
        }
    }

    fn update_measured_rate(&mut self, t: f64) {
        let bucket = (t * 2.0).floor() / 2.0;
        if bucket - self.last_tx_rate_bucket > IDLE_RESTART {
            // After an idle spell the bucket about to close would spread the
            // first responses over the whole gap (the SDKs' rate collapses to
            // near zero, and a throttle then would cut from there). Measure
            // afresh from this bucket, keeping the rate of before the spell
            // until a bucket has closed (see `effective_measured_rate`).
            self.last_tx_rate_bucket = bucket;
            self.request_count = 0;
            self.measured_any = false;
        }
        self.request_count += 1;
        if bucket > self.last_tx_rate_bucket {
            let current = self.request_count as f64 / (bucket - self.last_tx_rate_bucket);
            self.measured_tx_rate = current * SMOOTH + self.measured_tx_rate * (1.0 - SMOOTH);
            self.request_count = 0;
            self.last_tx_rate_bucket = bucket;
            self.measured_any = true;
        }
    }

    /// The measured rate, or, before the first half-second bucket has closed
    /// (after the limiter's first use or an idle spell), the rate of the
    /// responses counted so far (over at least 0.1 s), or the rate measured
    /// before the spell if that is higher.
    ///
    /// The SDKs use the (then zero) measured rate there, so a throttle in the
    /// first half-second of a client's life drops the rate to the 0.5 rps floor,
    /// and CUBIC needs `(rate / 0.4)^(1/3)` seconds to climb back (17 s for 2,000
    /// rps). Once a bucket has closed this is exactly the SDKs' value.
    fn effective_measured_rate(&self, t: f64) -> f64 {
        if self.measured_any {
            self.measured_tx_rate
        } else {
            let elapsed = (t - self.last_tx_rate_bucket).max(0.1);
            self.measured_tx_rate
                .max(self.request_count as f64 / elapsed)
        }
    }

    fn set_fill_rate(&mut self, t: f64, new_rate: f64) {
        self.refill(t);
        self.fill_rate = new_rate.max(MIN_FILL_RATE);
        self.max_capacity = new_rate.max(MIN_CAPACITY);
        self.current_capacity = self.current_capacity.min(self.max_capacity);
    }

    /// The SDKs' `update_rate`: after every attempt, throttled or not.
    pub(crate) fn update_rate(&mut self, t: f64, throttled: bool) {
        self.update_measured_rate(t);
        let measured = self.effective_measured_rate(t);
        let calculated = if throttled {
            let rate_to_use = if self.enabled {
                measured.min(self.fill_rate)
            } else {
                measured
            };
            self.last_max_rate = rate_to_use;
            self.time_of_last_throttle = t;
            self.enabled = true;
            Self::cubic_throttle(rate_to_use)
        } else {
            self.cubic_success(t)
        };
        let new_rate = calculated.min(MAX_RATE_ADJUST_SCALE * measured);
        self.set_fill_rate(t, new_rate);
    }

    /// A throttle for an attempt sent before the last decrease: measured, but
    /// part of the congestion event already answered.
    fn record_stale_throttle(&mut self, t: f64) {
        self.update_measured_rate(t);
    }

    /// Reserves `amount` tokens at `t`; the wait before sending, if any. The
    /// bucket may go into debt, so later callers wait longer.
    pub(crate) fn acquire(&mut self, t: f64, amount: f64) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        self.refill(t);
        let delay = (amount > self.current_capacity)
            .then(|| (amount - self.current_capacity) / self.fill_rate.max(MIN_FILL_RATE));
        self.current_capacity -= amount;
        delay
    }

    /// Empties the bucket (a debt stays): after a decrease, sending resumes at
    /// the new rate instead of with a burst of saved tokens.
    fn drain(&mut self) {
        self.current_capacity = self.current_capacity.min(0.0);
    }

    /// Gives back tokens of a reservation that was never sent.
    ///
    /// The tokens go to the bucket only, not to [`CubicState::refilled`]: the
    /// calls queued ahead of the cancelled one keep their place in time (were
    /// the refund counted as a refill, they would go early, at once). Calls
    /// behind it wait at most for the tokens refunded once more, the safe side.
    fn refund(&mut self, amount: f64) {
        self.current_capacity = (self.current_capacity + amount).min(self.max_capacity);
    }

    /// Reserves one attempt at `t`: `None` to go now, or the ticket to wait for
    /// (the value [`CubicState::refilled`] must reach) and a first estimate of the
    /// wait at the current rate.
    fn reserve(&mut self, t: f64) -> Option<(f64, f64)> {
        let delay = self.acquire(t, ATTEMPT_COST)?;
        // The debt after our token (what was owed before us, plus our own) must
        // be refilled: read after `acquire`, which has refilled up to `t`.
        let need = self.refilled - self.current_capacity;
        Some((need, delay))
    }

    /// Whether the reservation `need` may go at `t`, else the wait at the
    /// current rate.
    fn poll_ticket(&mut self, t: f64, need: f64) -> Option<f64> {
        self.refill(t);
        let missing = need - self.refilled;
        (missing > 1e-9).then(|| missing / self.fill_rate.max(MIN_FILL_RATE))
    }
}

/// What the limiter is doing, for progress lines and metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AdaptiveRateSnapshot {
    /// The enforced send rate in requests per second, or `None` while no
    /// throttling response has been seen (unlimited).
    pub fill_rate: Option<f64>,
    /// The measured, smoothed response rate in requests per second.
    pub measured_rate: f64,
    /// Outcomes recorded (responses and errors of every attempt).
    pub responses: u64,
    /// Throttling responses seen.
    pub throttles: u64,
    /// Of those, the ones that cut the rate (the others belonged to a
    /// congestion event already answered).
    pub decreases: u64,
    /// Attempts that had to wait for a token.
    pub delayed_attempts: u64,
}

struct LimiterInner {
    origin: Instant,
    state: Mutex<CubicState>,
    responses: AtomicU64,
    throttles: AtomicU64,
    decreases: AtomicU64,
    delayed: AtomicU64,
}

/// The adaptive limiter's shared state (cheap to clone; clones share it).
#[derive(Clone)]
pub struct ClientRateLimiter {
    inner: Arc<LimiterInner>,
}

impl fmt::Debug for ClientRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRateLimiter")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

impl Default for ClientRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientRateLimiter {
    /// A limiter that lets everything through until the first throttle.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(LimiterInner {
                origin: Instant::now(),
                state: Mutex::new(CubicState::default()),
                responses: AtomicU64::new(0),
                throttles: AtomicU64::new(0),
                decreases: AtomicU64::new(0),
                delayed: AtomicU64::new(0),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, CubicState> {
        // The state is plain numbers; a panic elsewhere cannot leave it unusable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds on the limiter's clock (tokio's, so paused time drives it in tests).
    fn now(&self) -> f64 {
        Instant::now()
            .saturating_duration_since(self.inner.origin)
            .as_secs_f64()
    }

    /// What the limiter is doing now.
    pub fn snapshot(&self) -> AdaptiveRateSnapshot {
        let s = self.state();
        AdaptiveRateSnapshot {
            fill_rate: s.enabled.then_some(s.fill_rate),
            measured_rate: s.measured_tx_rate,
            responses: self.inner.responses.load(Ordering::Relaxed),
            throttles: self.inner.throttles.load(Ordering::Relaxed),
            decreases: self.inner.decreases.load(Ordering::Relaxed),
            delayed_attempts: self.inner.delayed.load(Ordering::Relaxed),
        }
    }

    /// Reserves a token for an attempt now: `None` to send at once, else the
    /// ticket to wait for and how long to sleep before looking again.
    fn reserve(&self) -> Option<(f64, Duration)> {
        let now = self.now();
        let (need, delay) = self.state().reserve(now)?;
        self.inner.delayed.fetch_add(1, Ordering::Relaxed);
        Some((need, recheck_after(delay)))
    }

    /// Whether a reserved ticket may go now, else how long to sleep before
    /// looking again.
    fn poll_ticket(&self, need: f64) -> Option<Duration> {
        let now = self.now();
        self.state().poll_ticket(now, need).map(recheck_after)
    }

    fn refund(&self) {
        self.state().refund(ATTEMPT_COST);
    }

    /// Feeds an attempt's outcome: `throttled` for a throttling error, and when
    /// the attempt was sent.
    fn record(&self, throttled: bool, sent_at: f64) {
        self.inner.responses.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let mut s = self.state();
        if !throttled {
            s.update_rate(now, false);
            return;
        }
        self.inner.throttles.fetch_add(1, Ordering::Relaxed);
        if s.enabled && sent_at < s.time_of_last_throttle {
            s.record_stale_throttle(now);
        } else {
            self.inner.decreases.fetch_add(1, Ordering::Relaxed);
            s.update_rate(now, true);
            // No burst after a cut: tokens saved while the rate was too high
            // would be spent at once and hit the quota again.
            s.drain();
        }
    }
}

/// How long a waiting attempt sleeps before it looks at the bucket again: its
/// estimated wait if that is short, else half of it but at least [`RECHECK`].
/// A rate that grows while it waits (CUBIC probing back up) lets it go early
/// instead of at the time computed when it queued, and a call deep in the
/// queue looks a few times (about `log2(wait / 50 ms)`), not 20 times a second.
fn recheck_after(estimate: f64) -> Duration {
    let d = if estimate.is_finite() && estimate > 0.0 {
        // Bounded: a float too large for a Duration would panic.
        Duration::from_secs_f64(estimate.min(MAX_RECHECK_SECS))
    } else {
        Duration::ZERO
    };
    d.min(RECHECK.max(d / 2))
}

/// The shortest sleep between two looks at the bucket of an attempt that
/// still has longer than this to wait.
const RECHECK: Duration = Duration::from_millis(50);
/// The longest estimate considered (a day): far above any wait the 0.5 rps
/// floor can produce for a realistic queue.
const MAX_RECHECK_SECS: f64 = 86_400.0;

/// Layer that applies [`AdaptiveRateLimit`]; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct AdaptiveRateLimitLayer {
    limiter: ClientRateLimiter,
}

impl AdaptiveRateLimitLayer {
    /// A layer with a new limiter, shared by every service it makes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer drawing on `limiter` (to share one between stacks).
    pub fn with_limiter(limiter: ClientRateLimiter) -> Self {
        Self { limiter }
    }

    /// The shared limiter (for its [`snapshot`](ClientRateLimiter::snapshot)).
    pub fn limiter(&self) -> &ClientRateLimiter {
        &self.limiter
    }
}

impl<S> Layer<S> for AdaptiveRateLimitLayer {
    type Service = AdaptiveRateLimit<S>;
    fn layer(&self, inner: S) -> AdaptiveRateLimit<S> {
        AdaptiveRateLimit {
            inner,
            limiter: Some(self.limiter.clone()),
        }
    }
}

/// Service that waits for the adaptive limiter before each attempt and feeds
/// it each outcome; see the [module docs](self). Without a limiter
/// ([`AdaptiveRateLimit::disabled`], the client's standard mode) it passes
/// calls straight through.
#[derive(Debug, Clone)]
pub struct AdaptiveRateLimit<S> {
    inner: S,
    limiter: Option<ClientRateLimiter>,
}

impl<S> AdaptiveRateLimit<S> {
    /// Paces `inner` with `limiter`.
    pub fn new(inner: S, limiter: ClientRateLimiter) -> Self {
        Self {
            inner,
            limiter: Some(limiter),
        }
    }

    /// Passes every call straight to `inner` (standard mode).
    pub fn disabled(inner: S) -> Self {
        Self {
            inner,
            limiter: None,
        }
    }

    /// The limiter, if pacing is on.
    pub fn limiter(&self) -> Option<&ClientRateLimiter> {
        self.limiter.as_ref()
    }
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Op> Service<Op> for AdaptiveRateLimit<S>
where
    Op: KmsOperation,
    S: Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    type Response = Op::Output;
    type Error = KmsError;
    type Future = ResponseFuture<S, Op>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, op: Op) -> Self::Future {
        let Some(limiter) = &self.limiter else {
            return ResponseFuture {
                state: State::Calling {
                    fut: self.inner.call(op),
                },
                limiter: None,
                sent_at: 0.0,
                ticket: None,
            };
        };
        let (state, ticket) = match limiter.reserve() {
            None => (
                State::Calling {
                    fut: self.inner.call(op),
                },
                None,
            ),
            Some((need, sleep)) => {
                // The ready service goes into the future; a fresh clone stays.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                (
                    State::Waiting {
                        // Boxed: waiting is the rare path, and the future of
                        // every call stays as small as the inner one's.
                        parked: Some(Box::new(Parked {
                            sleep: Box::pin(tokio::time::sleep(sleep)),
                            svc: ready,
                            op,
                        })),
                    },
                    Some(need),
                )
            }
        };
        ResponseFuture {
            state,
            limiter: Some(limiter.clone()),
            sent_at: limiter.now(),
            ticket,
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Op>
    where
        S: Service<Op>,
    {
        Waiting { parked: Option<Box<Parked<S, Op>>> },
        Calling { #[pin] fut: S::Future },
    }
}

/// An attempt waiting for its token: the ready service and the request.
struct Parked<S, Op> {
    sleep: Pin<Box<Sleep>>,
    svc: S,
    op: Op,
}

pin_project! {
    /// Response future of [`AdaptiveRateLimit`]: waits for its token, calls the
    /// inner service, then feeds the outcome to the limiter.
    pub struct ResponseFuture<S, Op>
    where
        S: Service<Op>,
    {
        #[pin]
        state: State<S, Op>,
        limiter: Option<ClientRateLimiter>,
        sent_at: f64,
        // The reservation being waited for (tokens refilled it needs), if any.
        ticket: Option<f64>,
    }

    impl<S, Op> PinnedDrop for ResponseFuture<S, Op>
    where
        S: Service<Op>,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Dropped while waiting: the token was never used.
            if this.ticket.is_some()
                && let Some(limiter) = this.limiter.as_ref()
            {
                limiter.refund();
            }
        }
    }
}

impl<S, Op> fmt::Debug for ResponseFuture<S, Op>
where
    S: Service<Op>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("waiting", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, Op> Future for ResponseFuture<S, Op>
where
    Op: KmsOperation,
    S: Service<Op, Response = Op::Output, Error = KmsError>,
{
    type Output = Result<Op::Output, KmsError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Waiting { parked } => {
                    let Some(p) = parked.as_mut() else {
                        return Poll::Ready(Err(KmsError::from_box(
                            "adaptive rate limit future polled after completion".into(),
                        )));
                    };
                    ready!(p.sleep.as_mut().poll(cx));
                    if let (Some(limiter), Some(need)) = (this.limiter.as_ref(), *this.ticket)
                        && let Some(again) = limiter.poll_ticket(need)
                    {
                        p.sleep.as_mut().reset(Instant::now() + again);
                        continue;
                    }
                    let Some(p) = parked.take() else {
                        return Poll::Ready(Err(KmsError::from_box(
                            "adaptive rate limit future polled after completion".into(),
                        )));
                    };
                    let Parked { mut svc, op, .. } = *p;
                    *this.ticket = None;
                    if let Some(limiter) = this.limiter.as_ref() {
                        *this.sent_at = limiter.now();
                    }
                    let fut = svc.call(op);
                    this.state.set(State::Calling { fut });
                }
                StateProj::Calling { fut } => {
                    let out = ready!(fut.poll(cx));
                    if let Some(limiter) = this.limiter.as_ref() {
                        let throttled = matches!(&out, Err(e) if e.is_throttling());
                        limiter.record(throttled, *this.sent_at);
                    }
                    return Poll::Ready(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The SDKs' published test tables (botocore `tests/unit/retries/`,
    //! smithy-rs `client_rate_limiter.rs`, aws-sdk-go-v2
    //! `adaptive_ratelimit_test.go`), reproduced against this implementation.
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    /// The SDKs' state with a measured rate of 0 taken at face value (as if a
    /// half-second bucket had closed empty), for the derived reservation table.
    fn sdk_measured_zero() -> CubicState {
        CubicState {
            measured_any: true,
            ..CubicState::default()
        }
    }

    fn with_max(w_max: f64, t_last: f64) -> CubicState {
        CubicState {
            last_max_rate: w_max,
            time_of_last_throttle: t_last,
            ..CubicState::default()
        }
    }

    #[test]
    fn botocore_cubic_calculator() {
        // test_throttling.py: starting max rate 10, start time 0.
        let s = with_max(10.0, 0.0);
        let k = s.k();
        assert!(close(k, 1.9574338205844317), "{k}");
        assert!(s.cubic_success(k / 3.0) <= 10.0);
        assert!(close(s.cubic_success(k / 3.0), 9.11111111111111));
        assert!(close(s.cubic_success(k / 2.0), 9.625));
        assert!(s.cubic_success(k / 1.1) <= 10.0);
        assert!(close(s.cubic_success(k), 10.0));
        assert!(s.cubic_success(k * 1.1) >= 10.0);
        assert!(close(s.cubic_success(k * 2.0), 13.0));
        // test_error_response_decreases_rate_by_beta: a throttle at rate 8, t = 1.
        assert!(close(CubicState::cubic_throttle(8.0), 5.6));
        let after = with_max(8.0, 1.0);
        assert!(close(after.k(), 1.8171205928321397));
    }

    #[test]
    fn smithy_rs_calculated_rate_with_successes() {
        let s = with_max(10.0, 5.0);
        for (t, want) in [
            (5.0, 7.0),
            (6.0, 9.64893600966),
            (7.0, 10.000030849917364),
            (8.0, 10.453284520772092),
            (9.0, 13.408697022224185),
            (10.0, 21.26626835427364),
            (11.0, 36.425998516920465),
        ] {
            let got = s.cubic_success(t);
            assert!(close(got, want), "t={t}: {got} != {want}");
        }
        assert_eq!(CubicState::cubic_throttle(10.0), 7.0);
        assert!(close(with_max(10.0, 1.0).cubic_success(1.0), 7.0));
    }

    #[test]
    fn smithy_rs_calculated_rate_with_throttles() {
        // The primitives only (this upstream table keeps W_max after the cut).
        let mut s = with_max(10.0, 5.0);
        let mut calc = 0.0;
        for (throttled, t, want) in [
            (false, 5.0, 7.0),
            (false, 6.0, 9.64893600966),
            (true, 7.0, 6.754255206761999),
            (true, 8.0, 4.727978644733399),
            (false, 9.0, 4.670125557970046),
            (false, 10.0, 4.770870456867401),
            (false, 11.0, 6.011819748005445),
            (false, 12.0, 10.792973431384178),
        ] {
            if throttled {
                calc = CubicState::cubic_throttle(calc);
                s.time_of_last_throttle = t;
                s.last_max_rate = calc;
            } else {
                calc = s.cubic_success(t);
            }
            assert!(close(calc, want), "t={t}: {calc} != {want}");
        }
    }

    #[test]
    fn smithy_rs_and_go_client_sending_rates() {
        // The whole update_rate, from the SDKs' starting state.
        let mut s = CubicState::default();
        for (t, throttled, measured, fill) in [
            (0.2, false, 0.0, 0.5),
            (0.4, false, 0.0, 0.5),
            (0.6, false, 4.800000000000001, 0.5),
            (0.8, false, 4.800000000000001, 0.5),
            (1.0, false, 4.16, 0.5),
            (1.2, false, 4.16, 0.6912),
            (1.4, false, 4.16, 1.0975999999999997),
            (1.6, false, 5.632000000000001, 1.6384000000000005),
            (1.8, false, 5.632000000000001, 2.3328),
            (2.0, true, 4.3264, 3.0284799999999996),
            (2.2, false, 4.3264, 3.48663917347026),
            (2.4, false, 4.3264, 3.821874416040255),
            (2.6, false, 5.66528, 4.053385727709987),
            (2.8, false, 5.66528, 4.200373108479454),
            (3.0, false, 4.333056, 4.282036558348658),
            (3.2, true, 4.333056, 2.99742559084406),
            (3.4, false, 4.333056, 3.4522263943863463),
        ] {
            s.update_rate(t, throttled);
            assert!(
                close(s.measured_tx_rate, measured),
                "t={t}: measured {}",
                s.measured_tx_rate
            );
            assert!(close(s.fill_rate, fill), "t={t}: fill {}", s.fill_rate);
        }
        assert!(s.enabled);
    }

    #[test]
    fn botocore_rate_clocker() {
        // test_adaptive.py, RateClocker: constant 1 rps converges to 1.
        let mut s = CubicState::default();
        for t in 1..=20 {
            s.update_measured_rate(t as f64);
        }
        assert!(
            (s.measured_tx_rate - 1.0).abs() < 1e-7,
            "{}",
            s.measured_tx_rate
        );
        // Smoothing favours recent buckets.
        let mut s = CubicState::default();
        for t in [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0] {
            s.update_measured_rate(t);
        }
        assert!(
            (1.99..=2.0).contains(&s.measured_tx_rate),
            "{}",
            s.measured_tx_rate
        );
        // botocore's own check here is a looser range; after an idle spell this
        // layer keeps the rate of before the spell (see IDLE_RESTART).
        s.update_measured_rate(14.0);
        assert!((0.1..=2.0).contains(&s.measured_tx_rate));
        assert!(!s.measured_any);
        // Times are grouped per half-second bucket.
        let mut s = CubicState::default();
        for t in [0.1, 0.2, 0.3, 0.4, 0.49] {
            s.update_measured_rate(t);
            assert_eq!(s.measured_tx_rate, 0.0);
        }
        s.update_measured_rate(0.5);
        assert_eq!(s.measured_tx_rate, 12.0 * 0.8);
    }

    #[test]
    fn botocore_limiter_caps_at_twice_the_measured_rate() {
        // test_max_rate_updated_on_success_response / test_max_rate_cant_exceed...:
        // the new rate is min(calculated, 2 * measured).
        let mut s = CubicState {
            measured_tx_rate: 21.0,
            last_max_rate: 20.0,
            time_of_last_throttle: 0.0,
            ..CubicState::default()
        };
        // At t = K the cubic gives exactly W_max = 20.
        let k = s.k();
        s.last_tx_rate_bucket = (k * 2.0).floor() / 2.0;
        s.update_rate(k, false);
        assert!(close(s.fill_rate, 20.0), "{}", s.fill_rate);
        let mut s = CubicState {
            measured_tx_rate: 20.0,
            last_max_rate: 100.0,
            ..CubicState::default()
        };
        let k = s.k();
        s.last_tx_rate_bucket = (k * 2.0).floor() / 2.0;
        s.update_rate(k, false);
        assert!(close(s.fill_rate, 40.0), "{}", s.fill_rate);
    }

    #[test]
    fn acquisition_only_once_enabled_and_reservations_queue() {
        let mut s = sdk_measured_zero();
        assert_eq!(s.acquire(0.0, 1.0), None, "not enabled: no waiting");
        assert_eq!(s.current_capacity, 0.0, "and no debit");
        // The derived reservation table: enabled at t = 0 with fill 0.5, capacity 1.
        s.update_rate(0.0, true);
        assert!(s.enabled);
        assert_eq!(s.fill_rate, 0.5);
        for (t, cost, delay, after) in [
            (0.0, 1.0, Some(2.0), -1.0),
            (0.0, 1.0, Some(4.0), -2.0),
            (6.0, 1.0, None, 0.0),
            (6.0, 5.0, Some(10.0), -5.0),
            (6.0, 10.0, Some(30.0), -15.0),
            (40.0, 1.0, None, 0.0),
        ] {
            assert_eq!(s.acquire(t, cost), delay, "t={t} cost={cost}");
            assert_eq!(s.current_capacity, after, "t={t}");
        }
    }

    #[test]
    fn before_the_first_bucket_closes_the_rate_counted_so_far_is_used() {
        // 50 responses in the first 0.2 s, then a throttle: the SDKs would use a
        // measured rate of 0 (fill 0.5); here 51 / 0.2 s = 255 rps, cut to 70 %.
        let mut s = CubicState::default();
        for i in 0..50 {
            s.update_rate(0.004 * i as f64, false);
        }
        s.update_rate(0.2, true);
        assert!(close(s.fill_rate, 0.7 * 51.0 / 0.2), "{}", s.fill_rate);
        // Once a bucket has closed, the SDKs' measured rate is used again.
        s.update_rate(0.5, false);
        assert!(s.measured_any);
        assert_eq!(s.effective_measured_rate(0.5), s.measured_tx_rate);
    }

    #[test]
    fn tickets_go_in_order_and_follow_a_rising_rate() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true); // enabled, fill 0.5, empty bucket
        let (a, wait_a) = s.reserve(0.0).unwrap();
        let (b, wait_b) = s.reserve(0.0).unwrap();
        assert_eq!((wait_a, wait_b), (2.0, 4.0));
        assert!(s.poll_ticket(1.0, a).is_some());
        assert_eq!(s.poll_ticket(2.0, a), None, "the first goes after 2 s");
        assert!(s.poll_ticket(2.0, b).is_some(), "the second still waits");
        // The rate rises to 10 rps: the second goes 0.1 s later, not at t = 4 s.
        s.set_fill_rate(2.0, 10.0);
        assert!(s.poll_ticket(2.05, b).is_some());
        assert_eq!(s.poll_ticket(2.1, b), None);
    }

    #[test]
    fn a_ticket_taken_after_a_quiet_spell_waits_only_for_what_is_missing() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true); // fill 0.5, empty bucket
        // At t = 1 half a token has come in: the call waits 1 s, not 2.
        let (need, wait) = s.reserve(1.0).unwrap();
        assert_eq!(wait, 1.0);
        assert!(s.poll_ticket(1.99, need).is_some());
        assert_eq!(s.poll_ticket(2.0, need), None);
    }

    #[test]
    fn a_ticket_is_always_reachable_even_past_the_capacity() {
        // Debt, then a gap longer than the capacity lasts: the refill then is
        // capped, so a ticket counting it would never come.
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true);
        s.reserve(0.0).unwrap();
        s.reserve(0.0).unwrap();
        let (need, wait) = s.reserve(3.0).unwrap();
        assert_eq!(wait, 3.0);
        assert!(s.poll_ticket(5.9, need).is_some());
        assert_eq!(s.poll_ticket(6.0, need), None);
    }

    #[test]
    fn a_refund_does_not_move_the_tickets_ahead() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true);
        let (a, _) = s.reserve(0.0).unwrap();
        let (_b, _) = s.reserve(0.0).unwrap();
        s.refund(ATTEMPT_COST); // b cancelled
        assert!(s.poll_ticket(0.0, a).is_some(), "a still waits its 2 s");
        assert!(s.poll_ticket(1.9, a).is_some());
        assert_eq!(s.poll_ticket(2.0, a), None);
        // The next caller takes b's place.
        let (c, wait) = s.reserve(2.0).unwrap();
        assert_eq!(wait, 2.0);
        assert_eq!(s.poll_ticket(4.0, c), None);
    }

    #[test]
    fn the_bucket_clock_never_goes_back() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true);
        for _ in 0..3 {
            s.reserve(0.0).unwrap(); // in debt, so the refill is not capped
        }
        s.refill(5.0);
        s.refill(4.0); // a caller that read the clock earlier
        s.refill(5.0);
        assert_eq!(s.refilled, 2.5, "5 s at 0.5 rps, counted once");
        assert_eq!(s.last_timestamp, Some(5.0));
    }

    #[test]
    fn waits_are_looked_at_again_after_half_their_estimate() {
        assert_eq!(recheck_after(0.01), Duration::from_millis(10));
        assert_eq!(recheck_after(0.08), Duration::from_millis(50));
        assert_eq!(recheck_after(10.0), Duration::from_secs(5));
        assert_eq!(recheck_after(f64::INFINITY), Duration::ZERO);
        assert_eq!(recheck_after(-1.0), Duration::ZERO);
        assert_eq!(recheck_after(1e300), Duration::from_secs(43_200));
    }

    #[test]
    fn an_idle_spell_starts_the_measurement_afresh() {
        let mut s = CubicState::default();
        for i in 0..50 {
            s.update_rate(100.0 + 0.004 * i as f64, false);
        }
        s.update_rate(100.2, true);
        assert!(close(s.fill_rate, 0.7 * 51.0 / 0.2), "{}", s.fill_rate);
    }

    #[test]
    fn a_drained_bucket_keeps_its_debt() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true);
        s.refund(1.0);
        assert_eq!(s.current_capacity, 1.0);
        s.drain();
        assert_eq!(s.current_capacity, 0.0);
        s.acquire(0.0, 1.0);
        s.drain();
        assert_eq!(s.current_capacity, -1.0);
    }

    #[test]
    fn a_refund_never_exceeds_the_capacity() {
        let mut s = sdk_measured_zero();
        s.update_rate(0.0, true);
        s.refund(5.0);
        assert_eq!(s.current_capacity, s.max_capacity);
    }
}
