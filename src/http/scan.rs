//! [`HeadScan`]: when to run the head parser on a head that arrives in
//! pieces.
//!
//! `httparse` starts from the first byte on every call, so calling it after
//! every read of a head trickling in a byte at a time costs O(n²) over the
//! 64 KiB head limit: a cheap denial of service. `HeadScan` remembers how
//! far the buffer was looked at and says "parse now" only on the first
//! look, when the new bytes hold the first line end (so a malformed
//! request line is refused as soon as it is complete), when they hold a
//! blank line (a possible end of head, bare-LF forms included so they reach
//! the parser and are refused), when the request-line limit is crossed
//! without a line end, or when the head limit is crossed. Each byte is
//! looked at a bounded number of times, and the parser runs a bounded
//! number of times per head: total work stays linear in the head size.
//! [`HeadScan::work`] counts it, for tests and benchmarks.

use super::{parse_request_head, HeadError, HeadLimits, RequestHead};

/// How far a growing head buffer has been scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadScan {
    scanned: usize,
    line_checked: bool,
    line_end_seen: bool,
    work: ScanWork,
}

/// The work spent on one head so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanWork {
    /// Runs of the full head parser.
    pub parses: u32,
    /// Bytes looked at: by the scan for line ends, plus the whole buffer
    /// for each parser run (an upper bound of what the parser reads).
    pub bytes: u64,
}

impl HeadScan {
    /// Nothing scanned yet.
    pub const fn new() -> Self {
        HeadScan {
            scanned: 0,
            line_checked: false,
            line_end_seen: false,
            work: ScanWork { parses: 0, bytes: 0 },
        }
    }

    /// Forget the scan (after the head was consumed from the buffer).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The work spent since [`HeadScan::new`] or the last reset.
    pub fn work(&self) -> ScanWork {
        self.work
    }

    /// Parses the head at the start of `buf` (the head so far, from its
    /// first byte) if [`HeadScan::should_parse`] says so. Call after every
    /// read that grew `buf`. `Ok(None)`: not complete yet, read more; the
    /// answer is the same [`parse_request_head`] would give on `buf`, only
    /// for the limits it may come at the next trigger rather than at once.
    #[inline]
    pub fn parse_request(
        &mut self,
        buf: &[u8],
        limits: &HeadLimits,
    ) -> Result<Option<RequestHead>, HeadError> {
        if !self.should_parse(buf, limits) {
            return Ok(None);
        }
        self.work.parses += 1;
        self.work.bytes += buf.len() as u64;
        parse_request_head(buf, limits)
    }

    /// Whether to call the parser on `buf` (the head so far, from its
    /// first byte) now. Call after every read that grew `buf`.
    pub fn should_parse(&mut self, buf: &[u8], limits: &HeadLimits) -> bool {
        if self.scanned == 0 || self.scanned > buf.len() {
            self.work.bytes += buf.len() as u64;
            self.line_end_seen = buf.contains(&b'\n');
            self.scanned = buf.len();
            return true;
        }
        // A blank line ends in LF preceded by LF or CRLF: look back two
        // bytes so one split across reads is found.
        let from = self.scanned.saturating_sub(2);
        let new = &buf[from..];
        self.work.bytes += new.len() as u64;
        let found = new.windows(2).enumerate().any(|(i, w)| {
            w[1] == b'\n'
                && (w[0] == b'\n' || (w[0] == b'\r' && from + i >= 1 && buf[from + i - 1] == b'\n'))
        });
        self.scanned = buf.len();
        if found || buf.len() > limits.max_head_bytes {
            return true;
        }
        if !self.line_end_seen && new.contains(&b'\n') {
            // The request line is complete: check it now, not at the end.
            self.line_end_seen = true;
            return true;
        }
        if !self.line_end_seen
            && !self.line_checked
            && buf.len() >= limits.max_request_line_bytes.saturating_add(2)
        {
            self.line_checked = true;
            return true;
        }
        false
    }
}
