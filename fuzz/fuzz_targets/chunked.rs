//! The chunked-body validator and decoder, [`ChunkedState`], fed in
//! arbitrary pieces.
//!
//! Input layout: the low four bits of the first byte give `k`, the next `k`
//! bytes give piece sizes (each byte + 1, used in turn; `k = 0` feeds one
//! byte at a time), and the rest is the body. Whatever the split, the
//! answer (bytes consumed, whether the body ended, or the error) and the
//! decoded data are those of feeding the body in one go; the decoded data
//! is never longer than the input; a state never consumes past the end of
//! the body; and an ended body agrees with a plain reference reading of
//! the chunked grammar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringress::http::{ChunkError, ChunkedState};

fuzz_target!(|data: &[u8]| {
    let k = data.first().map_or(0, |b| usize::from(b & 0x0f));
    let sizes = data.get(1..1 + k).unwrap_or(&[]);
    let body = data.get(1 + k..).unwrap_or(&[]);

    let (whole, whole_data) = feed(body, |_| body.len().max(1));
    let (split, split_data) =
        feed(body, |i| sizes.get(i % sizes.len().max(1)).map_or(1, |s| usize::from(*s) + 1));
    assert_eq!(split, whole, "a split body gives another answer");
    assert_eq!(split_data, whole_data, "a split body decodes to other data");

    let (consumed, done) = match whole {
        Ok(r) => r,
        Err(e) => {
            let _ = e.label();
            assert!(whole_data.len() < body.len().max(1), "more data than input before an error");
            return;
        }
    };
    assert!(consumed <= body.len());
    assert!(
        whole_data.len() <= consumed,
        "more data ({}) than body bytes ({consumed})",
        whole_data.len()
    );
    if !done {
        assert_eq!(consumed, body.len(), "stopped before the end without ending");
        return;
    }
    // The shortest body is "0\r\n\r\n"; each chunk adds a size line and CRLF.
    assert!(consumed >= whole_data.len() + 5);
    let reference = reference(&body[..consumed]);
    assert_eq!(reference, Some((consumed, whole_data)), "the reference reads the body otherwise");
    // Once ended, the state takes no more bytes.
    let mut state = ChunkedState::new();
    assert_eq!(state.advance(&body[..consumed]), Ok((consumed, true)));
    assert!(state.is_done());
    assert_eq!(state.advance(&body[consumed..]), Ok((0, true)));
});

type Outcome = Result<(usize, bool), ChunkError>;

/// Feeds `body` in pieces of `size(i)` bytes for the `i`-th piece; returns
/// the answer and the decoded data.
fn feed(body: &[u8], size: impl Fn(usize) -> usize) -> (Outcome, Vec<u8>) {
    let mut state = ChunkedState::new();
    let mut decoded = Vec::new();
    let mut pos = 0;
    let mut piece = 0;
    while pos < body.len() {
        let end = (pos + size(piece)).min(body.len());
        piece += 1;
        let mut run = 0;
        let result = state.advance_with(&body[pos..end], |d| {
            run += d.len();
            decoded.extend_from_slice(d);
        });
        match result {
            Ok((n, done)) => {
                assert!(n <= end - pos, "consumed past the piece");
                assert!(run <= n, "decoded more than consumed");
                assert_eq!(state.is_done(), done);
                pos += n;
                if done {
                    return (Ok((pos, true)), decoded);
                }
                assert_eq!(pos, end, "a piece not taken whole before the end");
            }
            Err(e) => return (Err(e), decoded),
        }
    }
    (Ok((pos, state.is_done())), decoded)
}

/// A plain reading of a complete chunked body (RFC 9112 §7.1), used only
/// after the validator said it ended: lines end at the first CRLF (no
/// framing byte the validator accepts is CR or LF), a size line starts
/// with hex digits, data is exactly that many bytes then CRLF, trailer
/// lines run to the empty line. Returns the length and the data.
fn reference(body: &[u8]) -> Option<(usize, Vec<u8>)> {
    let line_end =
        |from: usize| body.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|p| from + p);
    let mut data = Vec::new();
    let mut i = 0;
    loop {
        let end = line_end(i)?;
        let line = &body[i..end];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let size = u64::from_str_radix(std::str::from_utf8(&line[..digits]).ok()?, 16).ok()?;
        i = end + 2;
        if size == 0 {
            loop {
                let end = line_end(i)?;
                let empty = end == i;
                i = end + 2;
                if empty {
                    return Some((i, data));
                }
            }
        }
        let size = usize::try_from(size).ok()?;
        data.extend_from_slice(body.get(i..i.checked_add(size)?)?);
        i += size;
        if body.get(i..i + 2)? != b"\r\n" {
            return None;
        }
        i += 2;
    }
}
