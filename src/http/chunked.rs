//! An incremental validator for chunked bodies (RFC 9112 §7.1).
//!
//! The proxy forwards chunked bytes as they arrive; [`ChunkedState`] only
//! follows them to find where the body ends and to refuse anything a next
//! hop could read differently: sizes that are not hex or overflow, bytes
//! that do not belong in an extension, a missing CRLF after chunk data, bare
//! LF, malformed or oversized trailers. It holds a few integers, accepts
//! input split anywhere (down to single bytes), and never allocates.

use super::fields::is_tchar;
use thiserror::Error;

/// Most hex digits in a chunk size (a `u64`); leading zeros count.
pub const MAX_CHUNK_SIZE_DIGITS: u32 = 16;
/// Longest chunk-size line (size plus extensions, without CRLF).
pub const MAX_CHUNK_LINE_BYTES: u32 = 4096;
/// Largest trailer section (all trailer lines).
pub const MAX_TRAILER_BYTES: u32 = 16 * 1024;

/// Why a chunked body was refused (400 from downstream, 502 from upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ChunkError {
    /// A chunk size that is empty or holds a non-hex byte.
    #[error("malformed chunk size")]
    BadSize,
    /// A chunk size over [`MAX_CHUNK_SIZE_DIGITS`] digits or `u64::MAX`.
    #[error("chunk size overflows")]
    SizeOverflow,
    /// A control byte in a chunk extension.
    #[error("malformed chunk extension")]
    BadExtension,
    /// A chunk-size line longer than [`MAX_CHUNK_LINE_BYTES`].
    #[error("chunk-size line too long")]
    LineTooLong,
    /// A line not ended by CRLF (including a missing CRLF after data).
    #[error("malformed line ending in chunked body")]
    BadLineEnding,
    /// A malformed trailer line.
    #[error("malformed trailer")]
    BadTrailer,
    /// Trailers over [`MAX_TRAILER_BYTES`].
    #[error("trailer section too large")]
    TrailerTooLarge,
}

impl ChunkError {
    /// A static metric label naming the rule.
    pub fn label(&self) -> &'static str {
        match self {
            ChunkError::BadSize => "chunk_bad_size",
            ChunkError::SizeOverflow => "chunk_size_overflow",
            ChunkError::BadExtension => "chunk_bad_extension",
            ChunkError::LineTooLong => "chunk_line_too_long",
            ChunkError::BadLineEnding => "chunk_bad_line_ending",
            ChunkError::BadTrailer => "chunk_bad_trailer",
            ChunkError::TrailerTooLarge => "chunk_trailer_too_large",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Size,
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

/// Where a chunked body is, between calls to [`ChunkedState::advance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedState {
    phase: Phase,
    /// The size being read, then the data bytes still to come.
    size: u64,
    digits: u32,
    line: u32,
    trailer: u32,
}

impl Default for ChunkedState {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `b` may appear in a field value or chunk extension.
#[inline]
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

impl ChunkedState {
    /// At the start of a chunked body.
    pub const fn new() -> Self {
        ChunkedState { phase: Phase::Size, size: 0, digits: 0, line: 0, trailer: 0 }
    }

    /// Whether the whole body (last chunk and trailers) has been seen.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Follows `input`, the next bytes of the body. Returns how many bytes
    /// belong to the body and whether it ended; when it ended, the bytes
    /// after `consumed` belong to the next message. Forward
    /// `input[..consumed]` as-is.
    #[inline]
    pub fn advance(&mut self, input: &[u8]) -> Result<(usize, bool), ChunkError> {
        self.advance_with(input, |_| {})
    }

    /// Like [`ChunkedState::advance`], also handing each run of chunk data
    /// (without framing) to `data`: decoding, for a client that cannot take
    /// a chunked body (HTTP/1.0).
    pub fn advance_with(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if self.phase == Phase::Done {
                return Ok((i, true));
            }
            if self.phase == Phase::Data {
                let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                data(&input[i..i + n]);
                i += n;
                self.size -= n as u64;
                if self.size == 0 {
                    self.phase = Phase::DataCr;
                }
                continue;
            }
            self.step(input[i])?;
            i += 1;
        }
        Ok((i, self.phase == Phase::Done))
    }

    /// One byte of framing (anything but chunk data).
    #[inline]
    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        match self.phase {
            Phase::Size | Phase::SizeWs | Phase::Ext => {
                self.line += 1;
                if self.line > MAX_CHUNK_LINE_BYTES {
                    return Err(ChunkError::LineTooLong);
                }
            }
            Phase::TrailerStart | Phase::TrailerName | Phase::TrailerValue | Phase::TrailerLf => {
                self.trailer += 1;
                if self.trailer > MAX_TRAILER_BYTES {
                    return Err(ChunkError::TrailerTooLarge);
                }
            }
            _ => {}
        }
        self.phase = match (self.phase, b) {
            (Phase::Size, _) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > MAX_CHUNK_SIZE_DIGITS {
                    return Err(ChunkError::SizeOverflow);
                }
                let d = u64::from((b as char).to_digit(16).unwrap_or(0));
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(d))
                    .ok_or(ChunkError::SizeOverflow)?;
                Phase::Size
            }
            (Phase::Size, _) if self.digits == 0 => return Err(ChunkError::BadSize),
            (Phase::Size, b'\r') => Phase::SizeLf,
            (Phase::Size | Phase::SizeWs, b' ' | b'\t') => Phase::SizeWs,
            (Phase::Size | Phase::SizeWs, b';') => Phase::Ext,
            (Phase::Size | Phase::SizeWs, _) => return Err(ChunkError::BadSize),
            (Phase::Ext, b'\r') => Phase::SizeLf,
            (Phase::Ext, _) if is_value_byte(b) => Phase::Ext,
            (Phase::Ext, _) => return Err(ChunkError::BadExtension),
            (Phase::SizeLf, b'\n') => {
                self.line = 0;
                self.digits = 0;
                if self.size == 0 {
                    Phase::TrailerStart
                } else {
                    Phase::Data
                }
            }
            (Phase::DataCr, b'\r') => Phase::DataLf,
            (Phase::DataLf, b'\n') => Phase::Size,
            (Phase::TrailerStart, b'\r') => Phase::FinalLf,
            (Phase::TrailerStart | Phase::TrailerName, _) if is_tchar(b) => Phase::TrailerName,
            (Phase::TrailerName, b':') => Phase::TrailerValue,
            (Phase::TrailerValue, b'\r') => Phase::TrailerLf,
            (Phase::TrailerValue, _) if is_value_byte(b) => Phase::TrailerValue,
            (Phase::TrailerStart | Phase::TrailerName | Phase::TrailerValue, _) => {
                return Err(ChunkError::BadTrailer)
            }
            (Phase::TrailerLf, b'\n') => Phase::TrailerStart,
            (Phase::FinalLf, b'\n') => Phase::Done,
            (
                Phase::SizeLf | Phase::DataCr | Phase::DataLf | Phase::TrailerLf | Phase::FinalLf,
                _,
            ) => return Err(ChunkError::BadLineEnding),
            (Phase::Data | Phase::Done, _) => self.phase,
        };
        Ok(())
    }
}
