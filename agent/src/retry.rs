//! Retrying, in two separate questions:
//! - *should* this failure be retried? Each error answers for itself
//!   ([`RetryClass`]);
//! - *when*? A capped exponential [`Backoff`] with full jitter, applied to the
//!   count of consecutive failures that the journal keeps, so a restart
//!   continues the schedule instead of starting a retry storm.
//!
//! A single request gets a few quick attempts first ([`with_retries`], with
//! `backon`) so a dropped packet does not cost a long wait; the rounds that
//! still fail follow [`wait_after_failure`].

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tracing::debug;

use crate::client::ApiError;

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
        jitter: &mut fastrand::Rng,
    ) -> Duration {
        let ceiling = self.ceiling(failures);
        let floor = (self.base / 10).min(ceiling);
        let span = ceiling.saturating_sub(floor);
        let drawn = floor + span.mul_f64(jitter.f64());
        match retry_after {
            Some(ra) => drawn.max(ra.min(self.cap)),
            None => drawn,
        }
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

/// Quick retries of one call (see [`call_policy`]) while the failure is
/// transient; the long schedule is the caller's. A server asking for a short
/// pause (`Retry-After` up to [`QUICK_RETRY_AFTER_MAX`]) gets exactly that
/// pause; one asking for longer ends the quick tries.
pub async fn with_retries<T, F, Fut>(op: F, attempts: usize) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    with_retries_if(op, attempts, ApiError::is_transient).await
}

/// [`with_retries`] for the failures `retry_if` accepts (a subset of the
/// transient ones).
pub async fn with_retries_if<T, F, Fut>(
    op: F,
    attempts: usize,
    retry_if: fn(&ApiError) -> bool,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    op.retry(call_policy(attempts))
        .sleep(tokio::time::sleep)
        .when(retry_if)
        .adjust(|e, planned| match (planned, e.retry_class()) {
            // The attempts are used up: the long schedule takes over.
            (None, _) => None,
            (
                Some(_),
                RetryClass::Transient {
                    retry_after: Some(ra),
                },
            ) if ra > QUICK_RETRY_AFTER_MAX => None,
            (
                Some(_),
                RetryClass::Transient {
                    retry_after: Some(ra),
                },
            ) => Some(ra),
            (planned, _) => planned,
        })
        .notify(|e, wait| debug!(error = %e, ?wait, "request failed; retrying"))
        .await
}

/// The longest `Retry-After` honoured by waiting within one call.
pub const QUICK_RETRY_AFTER_MAX: Duration = Duration::from_secs(5);

/// When to try again after `failures` consecutive failed rounds, the last
/// one failing with `error`: transient failures back off with jitter (and
/// respect `Retry-After`), failures that need a person wait the cap.
pub fn wait_after_failure(
    backoff: &Backoff,
    failures: u32,
    error: &ApiError,
    jitter: &mut fastrand::Rng,
) -> Duration {
    match error.retry_class() {
        RetryClass::Transient { retry_after } => backoff.delay(failures, retry_after, jitter),
        RetryClass::Permanent => backoff.cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
        let mut j = fastrand::Rng::with_seed(7);
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
        let mut j = fastrand::Rng::with_seed(1);
        let d = b.delay(1, Some(Duration::from_secs(30)), &mut j);
        assert_eq!(d, Duration::from_secs(30));
        let d = b.delay(1, Some(Duration::from_secs(86_400)), &mut j);
        assert_eq!(d, Duration::from_secs(600));
    }

    /// The project's quick retries, observed on tokio's paused clock: a
    /// broken connection is tried `attempts` times with waits of about 250 ms
    /// then 500 ms; a short Retry-After is waited exactly; a long one, and a
    /// failure that needs a person, end the quick tries at once.
    #[tokio::test(start_paused = true)]
    async fn with_retries_retries_transient_failures_on_schedule() {
        async fn calls(error: ApiError, attempts: usize) -> (Result<(), ApiError>, Vec<Duration>) {
            let start = tokio::time::Instant::now();
            let times = Arc::new(std::sync::Mutex::new(Vec::new()));
            let t = times.clone();
            let result = with_retries(
                move || {
                    let t = t.clone();
                    let error = error.clone();
                    async move {
                        t.lock().unwrap().push(start.elapsed());
                        Err::<(), _>(error)
                    }
                },
                attempts,
            )
            .await;
            let times = times.lock().unwrap().clone();
            (result, times)
        }

        let (result, times) = calls(ApiError::Transport("reset".into()), 3).await;
        assert!(matches!(result, Err(ApiError::Transport(_))));
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

        let busy = |secs| ApiError::Unavailable {
            status: 503,
            message: "busy".into(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        let (_, times) = calls(busy(2), 2).await;
        assert_eq!(times, vec![Duration::ZERO, Duration::from_secs(2)]);
        let (_, times) = calls(busy(60), 3).await;
        assert_eq!(
            times.len(),
            1,
            "a long Retry-After goes to the long schedule"
        );
        let (result, times) = calls(ApiError::Unauthorized("revoked".into()), 3).await;
        assert_eq!(times.len(), 1);
        assert!(matches!(result, Err(ApiError::Unauthorized(_))));
    }

    /// An hour offline on tokio's paused clock, sleeping what
    /// [`wait_after_failure`] says after each failed round: the agent wakes
    /// a bounded number of times (no busy loop), each wait within its
    /// ceiling; a failure that needs a person waits the cap every time.
    #[tokio::test(start_paused = true)]
    async fn an_offline_hour_wakes_rarely_and_within_the_ceilings() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let mut j = fastrand::Rng::with_seed(42);
        let offline = ApiError::Connect("connection refused".into());
        let start = tokio::time::Instant::now();
        let mut failures = 0;
        while start.elapsed() < Duration::from_secs(3600) {
            failures += 1;
            let wait = wait_after_failure(&b, failures, &offline, &mut j);
            assert!(wait >= Duration::from_millis(100), "{wait:?}");
            assert!(wait <= b.ceiling(failures), "{wait:?} after {failures}");
            tokio::time::sleep(wait).await;
        }
        assert!(
            (10..=25).contains(&failures),
            "{failures} wake-ups in an hour"
        );

        let revoked = ApiError::Unauthorized("revoked".into());
        for failures in 1..5 {
            assert_eq!(wait_after_failure(&b, failures, &revoked, &mut j), b.cap);
        }
        let busy = ApiError::Unavailable {
            status: 429,
            message: "one upload at a time".into(),
            retry_after: Some(Duration::from_secs(90)),
        };
        assert!(wait_after_failure(&b, 1, &busy, &mut j) >= Duration::from_secs(90));
    }
}
