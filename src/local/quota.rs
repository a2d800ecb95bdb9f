//! Request quotas of the local KMS: which [`Quota`] a request counts
//! against, the [`RequestRate`] it allows, the token buckets that enforce
//! it, and the counts of served and throttled requests ([`RequestStats`]).
//!
//! The rules users see are documented on
//! [`LocalKmsBuilder::quota`](super::LocalKmsBuilder::quota).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::ops::OPERATIONS;

/// The operations AWS counts against its cryptographic-operations quotas
/// (whether or not this local KMS serves them yet).
pub(crate) const CRYPTOGRAPHIC_OPERATIONS: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// The name of the cryptographic quota on a command line (`crypto=2000`).
const CRYPTOGRAPHIC_NAME: &str = "crypto";

/// A request quota of the local KMS: the one shared by the cryptographic
/// operations, or the one of a single other operation.
///
/// See [`LocalKmsBuilder::quota`](super::LocalKmsBuilder::quota) for how
/// quotas are enforced.
///
/// ```
/// use tower_kms::local::Quota;
///
/// let create_key = Quota::operation("CreateKey").unwrap();
/// assert_eq!(create_key.to_string(), "CreateKey");
/// assert_eq!("crypto".parse::<Quota>().unwrap(), Quota::CRYPTOGRAPHIC);
/// // Encrypt has no quota of its own: it counts against the shared one.
/// assert!(Quota::operation("Encrypt").is_err());
/// assert!(Quota::operation("NoSuchOperation").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quota(Kind);

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quota({})", self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Cryptographic,
    /// An entry of [`OPERATIONS`] that is not cryptographic.
    Operation(&'static str),
}

impl Quota {
    /// The quota shared by the cryptographic operations: `Encrypt`,
    /// `Decrypt`, `ReEncrypt`, `GenerateDataKey`,
    /// `GenerateDataKeyWithoutPlaintext`, `GenerateDataKeyPair`,
    /// `GenerateDataKeyPairWithoutPlaintext`, `GenerateMac`, `VerifyMac`,
    /// `GenerateRandom`, `Sign`, `Verify`, `DeriveSharedSecret`,
    /// `Encapsulate` and `Decapsulate` (the last two answered without being
    /// modelled: see the [module documentation](super)).
    ///
    /// AWS KMS has three such quotas, for symmetric, RSA and ECC keys (and
    /// one per custom key store); here this one quota stands for them all:
    /// every cryptographic request takes from it, whatever its key.
    /// Written `crypto` on a command line.
    pub const CRYPTOGRAPHIC: Quota = Quota(Kind::Cryptographic);

    /// The quota of one operation that is not cryptographic, by its
    /// `X-Amz-Target` name, e.g. `CreateKey`, `DescribeKey` or `ListKeys`.
    ///
    /// # Errors
    /// For a cryptographic operation (it counts against
    /// [`CRYPTOGRAPHIC`](Self::CRYPTOGRAPHIC)) and for a name that is not an
    /// operation this local KMS serves.
    pub fn operation(name: &str) -> Result<Quota, QuotaError> {
        if CRYPTOGRAPHIC_OPERATIONS.contains(&name) {
            return Err(QuotaError(format!(
                "{name} has no quota of its own: it is a cryptographic operation, \
                 counted against the shared quota ({CRYPTOGRAPHIC_NAME})"
            )));
        }
        match OPERATIONS.iter().find(|op| **op == name) {
            Some(op) => Ok(Quota(Kind::Operation(op))),
            None => Err(QuotaError(format!(
                "no quota named {name:?}: expected {CRYPTOGRAPHIC_NAME} or one of {}",
                Self::operation_names().collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The operations that have a quota of their own: those this local KMS
    /// serves that are not cryptographic.
    pub fn operation_names() -> impl Iterator<Item = &'static str> {
        OPERATIONS
            .iter()
            .copied()
            .filter(|op| !CRYPTOGRAPHIC_OPERATIONS.contains(op))
    }

    /// `crypto` for [`CRYPTOGRAPHIC`](Self::CRYPTOGRAPHIC), else the
    /// operation's name. What [`FromStr`] reads back.
    pub fn name(&self) -> &'static str {
        match self.0 {
            Kind::Cryptographic => CRYPTOGRAPHIC_NAME,
            Kind::Operation(op) => op,
        }
    }

    /// The quota a request for `operation` (an entry of [`OPERATIONS`])
    /// counts against.
    fn of(operation: &'static str) -> Quota {
        if CRYPTOGRAPHIC_OPERATIONS.contains(&operation) {
            Quota::CRYPTOGRAPHIC
        } else {
            Quota(Kind::Operation(operation))
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Quota {
    type Err = QuotaError;

    /// `crypto` (or `cryptographic`, any case) for
    /// [`Quota::CRYPTOGRAPHIC`], else an operation name as
    /// [`Quota::operation`] takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case(CRYPTOGRAPHIC_NAME) || s.eq_ignore_ascii_case("cryptographic") {
            Ok(Quota::CRYPTOGRAPHIC)
        } else {
            Quota::operation(s)
        }
    }
}

/// Thousandths of a request in one request.
const MILLIS_PER_REQUEST: u64 = 1_000;
/// The largest rate accepted, in requests per second.
const MAX_RATE: u64 = 1_000_000_000;

/// A rate of requests per second for a [`Quota`]: positive, finite, in
/// thousandths of a request per second (from 0.001 to 1,000,000,000).
///
/// ```
/// use tower_kms::local::RequestRate;
///
/// let rate = RequestRate::per_second(2000.0).unwrap();
/// assert_eq!(rate.as_per_second(), 2000.0);
/// assert_eq!("0.5".parse::<RequestRate>().unwrap().as_per_second(), 0.5);
/// for nonsense in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.0001] {
///     assert!(RequestRate::per_second(nonsense).is_err());
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestRate {
    /// Thousandths of a request per second, at least 1.
    millis: u64,
}

impl RequestRate {
    /// `rate` requests per second, rounded to the nearest thousandth.
    ///
    /// # Errors
    /// When `rate` is not a number, infinite, zero, negative, below 0.001 or
    /// above 1,000,000,000.
    pub fn per_second(rate: f64) -> Result<RequestRate, QuotaError> {
        let bad = |why: &str| {
            Err(QuotaError(format!(
                "a quota must be {why} requests per second, got {rate}"
            )))
        };
        if !rate.is_finite() || rate <= 0.0 {
            return bad("a positive number of");
        }
        if rate > MAX_RATE as f64 {
            return bad("at most 1000000000");
        }
        // Finite and within 0..=1e12 here, so the cast is exact.
        let millis = (rate * MILLIS_PER_REQUEST as f64).round() as u64;
        if millis == 0 {
            return bad("at least 0.001");
        }
        Ok(RequestRate { millis })
    }

    /// The rate in requests per second.
    pub fn as_per_second(&self) -> f64 {
        self.millis as f64 / MILLIS_PER_REQUEST as f64
    }
}

impl fmt::Debug for RequestRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestRate({self}/s)")
    }
}

impl fmt::Display for RequestRate {
    /// Requests per second, e.g. `2000` or `0.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_per_second())
    }
}

impl FromStr for RequestRate {
    type Err = QuotaError;

    /// A decimal number of requests per second, as
    /// [`RequestRate::per_second`] takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rate: f64 = s.trim().parse().map_err(|_| {
            QuotaError(format!(
                "a quota must be a number of requests per second, got {s:?}"
            ))
        })?;
        RequestRate::per_second(rate)
    }
}

/// A quota or a rate that makes no sense: an unknown operation, a
/// cryptographic operation given a quota of its own, or a rate that is not a
/// positive, finite number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaError(String);

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QuotaError {}

/// Requests served and throttled, from
/// [`LocalKms::stats`](super::LocalKms::stats).
///
/// Only authenticated requests for an operation this local KMS serves are
/// counted (the ones a quota applies to); the set-up methods that bypass
/// HTTP ([`LocalKms::invoke`](super::LocalKms::invoke) and friends) are not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestStats {
    /// Requests let through to the operation (which then succeeded or
    /// returned its own error).
    pub served: u64,
    /// Requests answered `ThrottlingException`.
    pub throttled: u64,
    /// The counts of each operation that had a request, by name.
    pub operations: BTreeMap<&'static str, OperationStats>,
}

impl RequestStats {
    /// The counts of `operation` (zero when it had no request).
    pub fn operation(&self, operation: &str) -> OperationStats {
        self.operations.get(operation).copied().unwrap_or_default()
    }
}

/// The counts of one operation, in [`RequestStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationStats {
    /// Requests let through to the operation.
    pub served: u64,
    /// Requests answered `ThrottlingException`.
    pub throttled: u64,
}

/// Units of a bucket: a request is 10^12 units, so that a rate of `r`
/// thousandths of a request per second adds exactly `r` units per
/// nanosecond, and the whole computation is in integers.
const UNITS_PER_REQUEST: u128 = 1_000_000_000_000;

/// A token bucket: `capacity` is one second's worth of the rate (at least
/// one request), it starts full and refills continuously.
#[derive(Debug)]
struct Bucket {
    units: u128,
    /// Nanoseconds on the quota clock of the last refill.
    last: i128,
}

impl Bucket {
    fn capacity(rate: RequestRate) -> u128 {
        u128::from(rate.millis.max(MILLIS_PER_REQUEST)) * 1_000_000_000
    }

    fn full(rate: RequestRate, now: i128) -> Self {
        Self {
            units: Self::capacity(rate),
            last: now,
        }
    }

    /// Refills up to `now` and takes one request if there is one.
    fn take(&mut self, rate: RequestRate, now: i128) -> bool {
        // A clock that went back refills nothing, and the time it went back
        // is not counted twice when it comes forward again.
        if now > self.last {
            let elapsed = now.abs_diff(self.last);
            let added = elapsed.saturating_mul(u128::from(rate.millis));
            self.units = self.units.saturating_add(added).min(Self::capacity(rate));
            self.last = now;
        }
        if self.units >= UNITS_PER_REQUEST {
            self.units -= UNITS_PER_REQUEST;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Default)]
struct Counter {
    served: AtomicU64,
    throttled: AtomicU64,
}

/// Where a bucket's time comes from.
#[derive(Debug)]
enum QuotaClock {
    /// The local KMS's injected clock (the reading of the request).
    Injected,
    /// Tokio's monotonic clock, which follows `tokio::time::pause`.
    Monotonic(tokio::time::Instant),
}

/// The quotas of a local KMS, their buckets (per account) and the counts.
#[derive(Debug)]
pub(crate) struct Quotas {
    limits: BTreeMap<Quota, RequestRate>,
    clock: QuotaClock,
    /// Account id -> quota -> bucket. Buckets are made on first use.
    buckets: Mutex<HashMap<String, HashMap<Quota, Bucket>>>,
    /// One per entry of [`OPERATIONS`].
    counters: Vec<Counter>,
}

impl Quotas {
    pub(crate) fn new(limits: BTreeMap<Quota, RequestRate>, injected_clock: bool) -> Self {
        Self {
            limits,
            clock: if injected_clock {
                QuotaClock::Injected
            } else {
                QuotaClock::Monotonic(tokio::time::Instant::now())
            },
            buckets: Mutex::default(),
            counters: OPERATIONS.iter().map(|_| Counter::default()).collect(),
        }
    }

    pub(crate) fn limits(&self) -> &BTreeMap<Quota, RequestRate> {
        &self.limits
    }

    /// Nanoseconds on the quota clock; `now` is the injected clock's reading.
    fn nanos(&self, now: SystemTime) -> i128 {
        match &self.clock {
            QuotaClock::Injected => match now.duration_since(UNIX_EPOCH) {
                Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
                Err(e) => i128::try_from(e.duration().as_nanos()).map_or(i128::MIN, |n| -n),
            },
            QuotaClock::Monotonic(start) => {
                let d = tokio::time::Instant::now().saturating_duration_since(*start);
                i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
            }
        }
    }

    /// Counts a request of `account` for `operation` (an entry of
    /// [`OPERATIONS`]) and says whether its quota lets it through.
    pub(crate) fn admit(&self, account: &str, operation: &str, now: SystemTime) -> bool {
        let Some(index) = OPERATIONS.iter().position(|op| *op == operation) else {
            return true;
        };
        let quota = Quota::of(OPERATIONS[index]);
        let admitted = match self.limits.get(&quota) {
            None => true,
            Some(&rate) => {
                let now = self.nanos(now);
                let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
                if !buckets.contains_key(account) {
                    buckets.insert(account.to_owned(), HashMap::new());
                }
                buckets.get_mut(account).is_none_or(|account_buckets| {
                    account_buckets
                        .entry(quota)
                        .or_insert_with(|| Bucket::full(rate, now))
                        .take(rate, now)
                })
            }
        };
        let counter = &self.counters[index];
        if admitted {
            counter.served.fetch_add(1, Ordering::Relaxed);
        } else {
            counter.throttled.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    pub(crate) fn stats(&self) -> RequestStats {
        let mut stats = RequestStats::default();
        for (op, counter) in OPERATIONS.iter().zip(&self.counters) {
            let o = OperationStats {
                served: counter.served.load(Ordering::Relaxed),
                throttled: counter.throttled.load(Ordering::Relaxed),
            };
            if o != OperationStats::default() {
                stats.served += o.served;
                stats.throttled += o.throttled;
                stats.operations.insert(op, o);
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(r: f64) -> RequestRate {
        RequestRate::per_second(r).unwrap()
    }

    const SEC: i128 = 1_000_000_000;

    /// Takes from `b` until it refuses; the number taken.
    fn drain(b: &mut Bucket, r: RequestRate, now: i128) -> u32 {
        let mut n = 0;
        while b.take(r, now) {
            n += 1;
            assert!(n < 1_000_000, "bucket never empties");
        }
        n
    }

    #[test]
    fn bucket_capacity_is_one_second_and_refills_at_the_rate() {
        let r = rate(4.0);
        let mut b = Bucket::full(r, 0);
        assert_eq!(drain(&mut b, r, 0), 4);
        // A quarter second is exactly one request.
        assert_eq!(drain(&mut b, r, SEC / 4 - 1), 0);
        assert_eq!(drain(&mut b, r, SEC / 4), 1);
        // A long pause fills the bucket, not more.
        assert_eq!(drain(&mut b, r, 3600 * SEC), 4);
        // Fractions add up across requests: 0.1 s + 0.15 s = one request.
        assert_eq!(drain(&mut b, r, 3600 * SEC + SEC / 10), 0);
        assert_eq!(drain(&mut b, r, 3600 * SEC + SEC / 4), 1);
    }

    #[test]
    fn bucket_with_thirds_and_fractions() {
        // 3 per second: after a third of a second (rounded down to the
        // nanosecond) not quite one request; one nanosecond later, one.
        let r = rate(3.0);
        let mut b = Bucket::full(r, 0);
        assert_eq!(drain(&mut b, r, 0), 3);
        assert_eq!(drain(&mut b, r, SEC / 3), 0);
        assert_eq!(drain(&mut b, r, SEC / 3 + 1), 1);
        assert_eq!(drain(&mut b, r, SEC + 1), 2);
        // Below one per second the capacity is one request.
        let r = rate(0.5);
        let mut b = Bucket::full(r, 0);
        assert_eq!(drain(&mut b, r, 0), 1);
        assert_eq!(drain(&mut b, r, 2 * SEC - 1), 0);
        assert_eq!(drain(&mut b, r, 2 * SEC), 1);
        assert_eq!(drain(&mut b, r, 100 * SEC), 1);
        // 2.5 per second holds 2.5 requests: a burst of 2, then the half
        // left plus a fifth of a second's half request is one more.
        let r = rate(2.5);
        let mut b = Bucket::full(r, 0);
        assert_eq!(drain(&mut b, r, 0), 2);
        assert_eq!(drain(&mut b, r, SEC / 5 - 1), 0);
        assert_eq!(drain(&mut b, r, SEC / 5), 1);
    }

    #[test]
    fn bucket_survives_any_clock() {
        let r = rate(2.0);
        let mut b = Bucket::full(r, 10 * SEC);
        assert_eq!(drain(&mut b, r, 10 * SEC), 2);
        // Backwards: nothing refilled, nothing counted twice.
        assert_eq!(drain(&mut b, r, 0), 0);
        assert_eq!(drain(&mut b, r, i128::MIN), 0);
        assert_eq!(drain(&mut b, r, 10 * SEC + SEC / 2), 1);
        // Absurd jumps saturate at the capacity.
        assert_eq!(drain(&mut b, r, i128::MAX), 2);
        let top = rate(1e9);
        assert_eq!(Bucket::capacity(top), 1_000_000_000 * UNITS_PER_REQUEST);
        let mut b = Bucket {
            units: 0,
            last: i128::MIN,
        };
        assert!(b.take(top, i128::MAX));
        assert_eq!(b.units, Bucket::capacity(top) - UNITS_PER_REQUEST);
    }

    #[test]
    fn rates() {
        assert_eq!(rate(2000.0).as_per_second(), 2000.0);
        assert_eq!(rate(0.001).millis, 1);
        assert_eq!(rate(0.0015).millis, 2);
        assert_eq!(rate(1e9).millis, 1_000_000_000_000);
        assert_eq!(rate(2.5).to_string(), "2.5");
        assert_eq!(" 7 ".parse::<RequestRate>().unwrap(), rate(7.0));
        for bad in [
            0.0,
            -0.0,
            -1.0,
            0.0004,
            1e9 + 1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let e = RequestRate::per_second(bad).unwrap_err();
            assert!(e.to_string().starts_with("a quota must be"), "{bad}: {e}");
        }
        for bad in ["", "x", "1/s", "nan", "inf", "-3", "0", "1e10"] {
            assert!(bad.parse::<RequestRate>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "x".parse::<RequestRate>().unwrap_err().to_string(),
            "a quota must be a number of requests per second, got \"x\""
        );
        assert_eq!(
            RequestRate::per_second(0.0).unwrap_err().to_string(),
            "a quota must be a positive number of requests per second, got 0"
        );
    }

    #[test]
    fn debug_is_short() {
        let limits = BTreeMap::from([
            (Quota::CRYPTOGRAPHIC, rate(2000.0)),
            (Quota::operation("CreateKey").unwrap(), rate(0.5)),
        ]);
        assert_eq!(
            format!("{limits:?}"),
            "{Quota(crypto): RequestRate(2000/s), Quota(CreateKey): RequestRate(0.5/s)}"
        );
    }

    #[test]
    fn quota_names() {
        assert_eq!(Quota::CRYPTOGRAPHIC.name(), "crypto");
        for s in ["crypto", "CRYPTO", "cryptographic", "Cryptographic"] {
            assert_eq!(s.parse::<Quota>().unwrap(), Quota::CRYPTOGRAPHIC, "{s}");
        }
        let names: Vec<_> = Quota::operation_names().collect();
        assert!(names.contains(&"CreateKey") && names.contains(&"ListKeys"));
        for op in OPERATIONS {
            let is_crypto = CRYPTOGRAPHIC_OPERATIONS.contains(op);
            assert_eq!(names.contains(op), !is_crypto, "{op}");
            match Quota::operation(op) {
                Ok(q) => {
                    assert!(!is_crypto);
                    assert_eq!(q.name(), *op);
                    assert_eq!(q.to_string().parse::<Quota>().unwrap(), q);
                    assert_eq!(Quota::of(op), q);
                }
                Err(e) => {
                    assert!(is_crypto, "{op}: {e}");
                    assert_eq!(Quota::of(op), Quota::CRYPTOGRAPHIC);
                }
            }
        }
        assert_eq!(
            Quota::operation("Encrypt").unwrap_err().to_string(),
            "Encrypt has no quota of its own: it is a cryptographic operation, counted against the shared quota (crypto)"
        );
        let e = Quota::operation("createkey").unwrap_err().to_string();
        assert!(
            e.starts_with("no quota named \"createkey\": expected crypto or one of CancelKeyDeletion, ConnectCustomKeyStore, CreateAlias,"),
            "{e}"
        );
        for bad in ["", "TrentService.CreateKey", "TagResources", "Sign "] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admission_and_counts_per_account() {
        let limits = BTreeMap::from([
            (Quota::CRYPTOGRAPHIC, rate(2.0)),
            (Quota::operation("CreateKey").unwrap(), rate(1.0)),
        ]);
        let q = Quotas::new(limits, true);
        let t = UNIX_EPOCH;
        assert!(q.admit("1", "Encrypt", t));
        assert!(q.admit("1", "Decrypt", t));
        assert!(!q.admit("1", "GenerateRandom", t));
        // Another account has buckets of its own.
        assert!(q.admit("2", "ReEncrypt", t));
        assert!(q.admit("1", "CreateKey", t));
        assert!(!q.admit("1", "CreateKey", t));
        for _ in 0..10 {
            assert!(q.admit("1", "ListKeys", t));
        }
        // Not an operation: let through, not counted.
        assert!(q.admit("1", "SignAll", t));
        let s = q.stats();
        assert_eq!((s.served, s.throttled), (14, 2));
        assert_eq!(
            s.operation("Encrypt"),
            OperationStats {
                served: 1,
                throttled: 0
            }
        );
        assert_eq!(s.operation("GenerateRandom").throttled, 1);
        assert_eq!(s.operation("CreateKey").throttled, 1);
        assert_eq!(s.operation("ListKeys").served, 10);
        assert_eq!(s.operation("DescribeKey"), OperationStats::default());
        assert!(!s.operations.contains_key("DescribeKey"));
        assert!(!s.operations.contains_key("SignAll"));
    }
}
