//! The open-loop schedule. With `--rate R` over `C` connections, connection
//! `k` sends its `i`-th request at `start + k/R + i·C/R`: the connections are
//! evenly staggered and together send `R` requests per second. A request
//! sent late (the connection was still waiting for an earlier answer) keeps
//! its intended time, and its latency is counted from that time: the
//! coordinated-omission correction of wrk2. A request whose connection was
//! idle is sent when the timer fires (monoio's timer has 1 ms resolution)
//! and timed from that moment, so the generator's own timer slack is never
//! charged to the server.

use std::time::Duration;

/// Intended send times of one connection, as offsets from the run's start.
#[derive(Debug, Clone)]
pub struct Schedule {
    phase_ns: f64,
    interval_ns: f64,
    next: u64,
}

impl Schedule {
    /// Connection `index` of `connections` sharing `total_rate` requests/s.
    pub fn new(total_rate: f64, connections: u32, index: u32) -> Self {
        let connections = connections.max(1);
        Schedule {
            phase_ns: f64::from(index % connections) * 1e9 / total_rate,
            interval_ns: f64::from(connections) * 1e9 / total_rate,
            next: 0,
        }
    }

    /// Offset of the `i`-th request.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::from_nanos((self.phase_ns + i as f64 * self.interval_ns).round() as u64)
    }

    /// Offset of the next request; advances the schedule.
    pub fn next_offset(&mut self) -> Duration {
        let d = self.offset(self.next);
        self.next += 1;
        d
    }

    /// Drops the slots before `elapsed` (after a failed connect the
    /// connection starts again on schedule instead of sending a burst).
    pub fn skip_to(&mut self, elapsed: Duration) {
        let ns = elapsed.as_nanos() as f64 - self.phase_ns;
        if ns > 0.0 {
            let first = (ns / self.interval_ns).ceil() as u64;
            self.next = self.next.max(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_at_1000_per_second_sends_every_millisecond() {
        let mut s = Schedule::new(1000.0, 1, 0);
        let got: Vec<Duration> = (0..4).map(|_| s.next_offset()).collect();
        assert_eq!(got, [0, 1, 2, 3].map(Duration::from_millis));
    }

    #[test]
    fn connections_are_staggered_and_sum_to_the_rate() {
        // 4 connections at 1000/s: each every 4 ms, offset by 1 ms.
        let mut all: Vec<Duration> = (0..4)
            .flat_map(|k| {
                let mut s = Schedule::new(1000.0, 4, k);
                (0..250).map(move |_| s.next_offset())
            })
            .collect();
        all.sort();
        assert_eq!(all.len(), 1000);
        for (i, d) in all.iter().enumerate() {
            assert_eq!(*d, Duration::from_millis(i as u64), "slot {i}");
        }
        assert!(*all.last().unwrap() < Duration::from_secs(1));
    }

    #[test]
    fn fractional_intervals_do_not_drift() {
        // 3 per second: 333.33 ms apart; the 3000th request lands at 1000 s.
        let s = Schedule::new(3.0, 1, 0);
        assert_eq!(s.offset(3000), Duration::from_secs(1000));
        assert_eq!(s.offset(1), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn skip_to_drops_past_slots_only() {
        let mut s = Schedule::new(100.0, 1, 0); // every 10 ms
        s.next_offset();
        s.skip_to(Duration::from_millis(35));
        assert_eq!(s.next_offset(), Duration::from_millis(40));
        s.skip_to(Duration::from_millis(5));
        assert_eq!(s.next_offset(), Duration::from_millis(50));
    }
}
