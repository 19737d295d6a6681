//! Exponential back-off after watch errors, reset only on progress.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    seed: std::collections::hash_map::RandomState,
    draws: u64,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self { initial, max, next: initial, seed: Default::default(), draws: 0 }
    }

    /// The pause before the next retry: doubles each time up to `max`, with
    /// up to a quarter added at random so replicas do not retry in step.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        self.draws += 1;
        let mut h = self.seed.build_hasher();
        h.write_u64(self.draws);
        let jitter = base.mul_f64((h.finish() % 1000) as f64 / 4000.0);
        (base + jitter).min(self.max.max(base))
    }

    /// Progress was made: start again from `initial`.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_resets_on_progress() {
        let mut b = Backoff::new(Duration::from_millis(800), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(
            delays[0] >= Duration::from_millis(800) && delays[0] <= Duration::from_millis(1000)
        );
        assert!(delays[3] >= Duration::from_millis(6400));
        assert_eq!(delays[7], Duration::from_secs(30));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1000));
    }
}
