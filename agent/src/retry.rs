//! Retrying, in two separate questions:
//! - *should* this failure be retried? Each error answers for itself
//!   ([`RetryClass`]);
//! - *when*? A capped exponential [`Backoff`] with full jitter, applied to the
//!   count of consecutive failures that the journal keeps, so a restart
//!   continues the schedule instead of starting a retry storm.
//!
//! A single request gets a few quick attempts first ([`call_policy`], with
//! `backon`) so a dropped packet does not cost a long wait.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Whether a failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Network trouble, timeouts, 5xx, 429: try again later, forever.
    Transient { retry_after: Option<Duration> },
    /// The same request will fail the same way until something changes.
    Permanent,
}

/// Capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The longest wait after `failures` consecutive failures (1 = the first).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// A uniformly random wait in [floor, ceiling], where the floor (a tenth of
    /// the base) keeps a run of unlucky draws from becoming a busy loop.
    /// A server's Retry-After is a lower bound, itself capped.
    pub fn delay(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        jitter: &mut Jitter,
    ) -> Duration {
        let ceiling = self.ceiling(failures);
        let floor = (self.base / 10).min(ceiling);
        let span = ceiling.saturating_sub(floor);
        let drawn = floor + span.mul_f64(jitter.unit());
        match retry_after {
            Some(ra) => drawn.max(ra.min(self.cap)),
            None => drawn,
        }
    }
}

/// A small PRNG for jitter (SplitMix64). Jitter needs spread, not secrecy.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Self {
        Jitter(seed)
    }

    pub fn from_entropy() -> Self {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            // Fall back to the clock; spread between agents is all that matters.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            seed = (nanos ^ u64::from(std::process::id())).to_le_bytes();
        }
        Jitter(u64::from_le_bytes(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Quick attempts of one request: `attempts` tries in all, 250 ms then doubling, jittered.
pub fn call_policy(attempts: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(attempts.saturating_sub(1))
        .with_jitter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::Retryable;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let got: Vec<u64> = (1..=12).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn delays_are_jittered_within_bounds() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let mut j = Jitter::seeded(7);
        for failures in 1..20 {
            let mut seen = Vec::new();
            for _ in 0..200 {
                let d = b.delay(failures, None, &mut j);
                assert!(
                    d >= Duration::from_millis(100) && d <= b.ceiling(failures),
                    "{d:?}"
                );
                seen.push(d);
            }
            seen.sort();
            seen.dedup();
            assert!(seen.len() > 150, "full jitter spreads agents apart");
        }
    }

    #[test]
    fn retry_after_is_a_floor_but_capped() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let mut j = Jitter::seeded(1);
        let d = b.delay(1, Some(Duration::from_secs(30)), &mut j);
        assert_eq!(d, Duration::from_secs(30));
        let d = b.delay(1, Some(Duration::from_secs(86_400)), &mut j);
        assert_eq!(d, Duration::from_secs(600));
    }

    /// The quick per-call schedule, observed on tokio's paused clock: three
    /// attempts, waits of about 250 ms then 500 ms (jitter adds up to one
    /// more delay), and a permanent failure is not retried at all.
    #[tokio::test(start_paused = true)]
    async fn call_retries_follow_the_schedule_on_paused_time() {
        let start = tokio::time::Instant::now();
        let times = Arc::new(std::sync::Mutex::new(Vec::new()));
        let t = times.clone();
        let result: Result<(), &str> = (move || {
            let t = t.clone();
            async move {
                t.lock().unwrap().push(start.elapsed());
                Err("connection reset")
            }
        })
        .retry(call_policy(3))
        .sleep(tokio::time::sleep)
        .await;
        assert!(result.is_err());
        let times = times.lock().unwrap().clone();
        assert_eq!(times.len(), 3, "{times:?}");
        let gap1 = times[1] - times[0];
        let gap2 = times[2] - times[1];
        assert!(
            gap1 >= Duration::from_millis(250) && gap1 <= Duration::from_millis(500),
            "{gap1:?}"
        );
        assert!(
            gap2 >= Duration::from_millis(500) && gap2 <= Duration::from_millis(1000),
            "{gap2:?}"
        );

        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let result: Result<(), RetryClass> = (move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err(RetryClass::Permanent)
            }
        })
        .retry(call_policy(3))
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, RetryClass::Transient { .. }))
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// The long-horizon schedule as the service sleeps it, on paused time:
    /// consecutive failures wait within the doubling ceilings, and the total
    /// stays bounded by them, so an offline agent wakes rarely.
    #[tokio::test(start_paused = true)]
    async fn service_schedule_sleeps_without_busy_looping() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let mut j = Jitter::seeded(42);
        let start = tokio::time::Instant::now();
        let mut wakeups = Vec::new();
        for failures in 1..=15 {
            let d = b.delay(failures, None, &mut j);
            tokio::time::sleep(d).await;
            wakeups.push(start.elapsed());
        }
        // 15 failures take at most 1+2+...+512+600*5 s, and at least the floors.
        let max: u64 = (1..=15).map(|n| b.ceiling(n).as_secs()).sum();
        assert!(start.elapsed() <= Duration::from_secs(max));
        assert!(start.elapsed() >= Duration::from_millis(1500));
        // In the first hour an offline agent wakes at most 15 times, not thousands.
        assert!(
            wakeups
                .iter()
                .filter(|t| **t < Duration::from_secs(3600))
                .count()
                <= 15
        );
    }
}
