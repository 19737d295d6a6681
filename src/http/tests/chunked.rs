//! The chunked-body validator, fed whole and split at every byte.

use crate::http::chunked::{MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES};
use crate::http::{ChunkError, ChunkedState};

/// Feeds `body` in pieces of `step` bytes; returns the bytes consumed
/// before the end, or the error.
fn feed(body: &[u8], step: usize) -> Result<Option<usize>, ChunkError> {
    let mut state = ChunkedState::new();
    let mut pos = 0;
    while pos < body.len() {
        let end = (pos + step).min(body.len());
        let (consumed, done) = state.advance(&body[pos..end])?;
        pos += consumed;
        if done {
            return Ok(Some(pos));
        }
        assert_eq!(consumed, end - pos + consumed, "consumes everything until the end");
    }
    Ok(None)
}

/// Every split of `body` gives the same answer as feeding it whole.
fn every_split(body: &[u8]) -> Result<Option<usize>, ChunkError> {
    let whole = feed(body, body.len().max(1));
    for step in 1..body.len().min(12) {
        assert_eq!(feed(body, step), whole, "step {step}");
    }
    // Two pieces, split at every position.
    for cut in 0..body.len() {
        let mut state = ChunkedState::new();
        let two = state.advance(&body[..cut]).and_then(|(a, done)| {
            if done {
                return Ok(Some(a));
            }
            let (b, done) = state.advance(&body[cut..])?;
            Ok(done.then_some(a + b))
        });
        assert_eq!(two, whole, "cut at {cut}");
    }
    whole
}

#[test]
fn chunked_body_ends_after_last_chunk_and_trailers() {
    let body = b"5\r\nhello\r\n6;ext=1;q=\"a b\"\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
    assert_eq!(every_split(body), Ok(Some(body.len() - 9)));
}

#[test]
fn chunked_body_without_trailers() {
    let body = b"A\r\n0123456789\r\n0\r\n\r\n";
    assert_eq!(every_split(body), Ok(Some(body.len())));
}

#[test]
fn chunked_incomplete_body_is_not_done() {
    let body = b"5\r\nhello\r\n0\r\n";
    assert_eq!(every_split(body), Ok(None));
}

#[test]
fn chunked_size_accepts_upper_and_lower_hex() {
    let body = b"a\r\n0123456789\r\nA\r\n0123456789\r\n00\r\n\r\n";
    assert_eq!(every_split(body), Ok(Some(body.len())));
}

#[test]
fn chunked_bad_size_is_refused() {
    for body in [&b"\r\n"[..], b"g\r\n", b"-1\r\n", b"0x5\r\n", b" 5\r\n", b";ext\r\n"] {
        assert_eq!(every_split(body), Err(ChunkError::BadSize), "{body:?}");
    }
}

#[test]
fn chunked_whitespace_only_before_an_extension() {
    assert_eq!(every_split(b"5 \r\n"), Err(ChunkError::BadSize));
    let body = b"5 ;a\r\nhello\r\n0\r\n\r\n";
    assert_eq!(every_split(body), Ok(Some(body.len())));
}

#[test]
fn chunked_size_overflow_is_refused() {
    assert_eq!(every_split(b"10000000000000000\r\n"), Err(ChunkError::SizeOverflow));
    assert_eq!(every_split(b"00000000000000001\r\n"), Err(ChunkError::SizeOverflow));
    let max = b"ffffffffffffffff\r\n";
    assert_eq!(every_split(max), Ok(None), "u64::MAX is a valid (huge) size");
}

#[test]
fn chunked_missing_crlf_after_data_is_refused() {
    assert_eq!(every_split(b"5\r\nhelloX\r\n0\r\n\r\n"), Err(ChunkError::BadLineEnding));
    assert_eq!(every_split(b"5\r\nhello\r0\r\n\r\n"), Err(ChunkError::BadLineEnding));
}

#[test]
fn chunked_bare_lf_is_refused() {
    assert_eq!(every_split(b"5\nhello\r\n0\r\n\r\n"), Err(ChunkError::BadSize));
    assert_eq!(every_split(b"5\r\nhello\n0\r\n\r\n"), Err(ChunkError::BadLineEnding));
    assert_eq!(every_split(b"5\r\nhello\r\n0\r\n\n"), Err(ChunkError::BadTrailer));
    assert_eq!(every_split(b"5\r\nhello\r\n0\r\n\r\r"), Err(ChunkError::BadLineEnding));
}

#[test]
fn chunked_control_bytes_in_extension_are_refused() {
    assert_eq!(every_split(b"5;a\x00\r\n"), Err(ChunkError::BadExtension));
    assert_eq!(every_split(b"5;a\nb\r\n"), Err(ChunkError::BadExtension));
}

#[test]
fn chunked_long_size_line_is_refused() {
    let mut body = b"5;".to_vec();
    body.resize(MAX_CHUNK_LINE_BYTES as usize + 1, b'a');
    assert_eq!(feed(&body, 7), Err(ChunkError::LineTooLong));
}

#[test]
fn chunked_malformed_trailer_is_refused() {
    for trailer in [&b" X: 1\r\n\r\n"[..], b"X 1\r\n\r\n", b"X: \x01\r\n\r\n", b": v\r\n\r\n"] {
        let mut body = b"0\r\n".to_vec();
        body.extend_from_slice(trailer);
        assert_eq!(every_split(&body), Err(ChunkError::BadTrailer), "{trailer:?}");
    }
}

#[test]
fn chunked_trailer_section_is_bounded() {
    let mut body = b"0\r\n".to_vec();
    while body.len() < MAX_TRAILER_BYTES as usize + 16 {
        body.extend_from_slice(b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(feed(&body, 100), Err(ChunkError::TrailerTooLarge));
}

#[test]
fn chunked_decoding_yields_only_the_data() {
    let body = b"5\r\nhello\r\n1;x\r\n \r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n";
    for step in 1..body.len() {
        let mut state = ChunkedState::new();
        let mut data = Vec::new();
        let mut done = false;
        for piece in body.chunks(step) {
            let (n, d) = state.advance_with(piece, |b| data.extend_from_slice(b)).unwrap();
            assert_eq!(n, piece.len());
            done = d;
        }
        assert!(done && state.is_done());
        assert_eq!(data, b"hello world", "step {step}");
    }
}
