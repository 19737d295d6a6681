//! The `Date` header value (RFC 9110 §6.6.1), formatted at most once per
//! second per worker.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

/// A worker's cached `Date` value: reformatted only when the second
/// changes, never allocating.
#[derive(Clone, Debug)]
pub struct DateCache {
    secs: u64,
    buf: [u8; HTTP_DATE_LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}

impl DateCache {
    /// A cache holding the current time.
    pub fn new() -> Self {
        let mut c = DateCache { secs: u64::MAX, buf: [b' '; HTTP_DATE_LEN] };
        c.at(SystemTime::now());
        c
    }

    /// The value for now.
    #[inline]
    pub fn get(&mut self) -> &[u8] {
        self.at(SystemTime::now())
    }

    /// The value for `now` (refreshed when its second differs from the
    /// cached one).
    pub fn at(&mut self, now: SystemTime) -> &[u8] {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.secs {
            let mut out: &mut [u8] = &mut self.buf;
            // 29 bytes always fit: IMF-fixdate has a fixed width for the
            // years httpdate can represent (1970..=9999).
            if write!(out, "{}", httpdate::HttpDate::from(now)).is_ok() {
                self.secs = secs;
            }
        }
        &self.buf
    }
}
