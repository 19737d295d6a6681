//! [`HeadScan`]: when to run the head parser on a head that arrives in
//! pieces.
//!
//! `httparse` starts from the first byte on every call, so calling it after
//! every read of a head trickling in a byte at a time costs O(n²) over the
//! 64 KiB head limit: a cheap denial of service. `HeadScan` remembers how
//! far the buffer was looked at and says "parse now" only on the first
//! look, when new bytes hold a blank line (a possible end of head, bare-LF
//! forms included so they reach the parser and are refused), when the
//! request-line limit is crossed without a line end, or when the head limit
//! is crossed. Total work stays linear in the head size.

use super::HeadLimits;

/// How far a growing head buffer has been scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadScan {
    scanned: usize,
    line_checked: bool,
}

impl HeadScan {
    /// Nothing scanned yet.
    pub const fn new() -> Self {
        HeadScan { scanned: 0, line_checked: false }
    }

    /// Forget the scan (after the head was consumed from the buffer).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether to call the parser on `buf` (the head so far, from its
    /// first byte) now. Call after every read that grew `buf`.
    pub fn should_parse(&mut self, buf: &[u8], limits: &HeadLimits) -> bool {
        if self.scanned == 0 || self.scanned > buf.len() {
            self.scanned = buf.len();
            return true;
        }
        // A blank line ends in LF preceded by LF or CRLF: look back two
        // bytes so one split across reads is found.
        let from = self.scanned.saturating_sub(2);
        let found = buf[from..].windows(2).enumerate().any(|(i, w)| {
            w[1] == b'\n'
                && (w[0] == b'\n' || (w[0] == b'\r' && from + i >= 1 && buf[from + i - 1] == b'\n'))
        });
        self.scanned = buf.len();
        if found || buf.len() > limits.max_head_bytes {
            return true;
        }
        if !self.line_checked && buf.len() >= limits.max_request_line_bytes.saturating_add(2) {
            self.line_checked = true;
            return true;
        }
        false
    }
}
