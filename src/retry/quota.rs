//! The retry quota: a token bucket shared by all clones of a client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A token bucket that pays for retries; see [`RetryConfig`](super::RetryConfig).
///
/// Clones share the bucket. It also implements tower's
/// [`Budget`](tower::retry::budget::Budget) (a withdrawal costs 5 tokens, a
/// deposit refunds 1), so it can back other tower retry policies.
#[derive(Debug, Clone)]
pub struct RetryQuota {
    tokens: Arc<AtomicU32>,
    capacity: u32,
}

impl RetryQuota {
    /// A full bucket of `capacity` tokens.
    pub fn new(capacity: u32) -> Self {
        Self {
            tokens: Arc::new(AtomicU32::new(capacity)),
            capacity,
        }
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// The capacity.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Takes `cost` tokens if there are enough.
    pub fn try_acquire(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Gives back `tokens`, up to the capacity.
    pub fn release(&self, tokens: u32) {
        let cap = self.capacity;
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(tokens).min(cap))
            });
    }
}

impl tower::retry::budget::Budget for RetryQuota {
    fn deposit(&self) {
        self.release(1)
    }

    fn withdraw(&self) -> bool {
        self.try_acquire(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_release_and_cap() {
        let q = RetryQuota::new(12);
        assert!(q.try_acquire(10));
        assert!(!q.try_acquire(5));
        assert_eq!(q.available(), 2);
        q.release(100);
        assert_eq!(q.available(), 12);
        let shared = q.clone();
        assert!(shared.try_acquire(12));
        assert_eq!(q.available(), 0);
    }
}
