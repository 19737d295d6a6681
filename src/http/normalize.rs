//! Path normalisation before routing: [`normalize_path`].
//!
//! The router and the upstream must agree on what a path names, or a rule
//! can be walked around: with `/public` → A and `/admin` → B,
//! `/public/../admin` and `/public/%2e%2e/admin` name `/admin` to most
//! servers but start with `/public` byte for byte. So, as Envoy's
//! `normalize_path` does, the path is normalised once, routed on, and the
//! normalised form is what the upstream receives:
//!
//! 1. percent-encoded unreserved characters (RFC 3986 §2.3: ALPHA, DIGIT,
//!    `-`, `.`, `_`, `~`) are decoded (`%2e` and `%2E` become `.`,
//!    `%41` becomes `A`); every other escape stays encoded with its hex
//!    digits in upper case (`%2f` becomes `%2F`, RFC 3986 §6.2.2.1);
//! 2. dot segments are removed (RFC 3986 §5.2.4 `remove_dot_segments`),
//!    except that a `..` with no segment left to remove (the path climbs
//!    above the root) is refused ([`HeadError::PathAboveRoot`], 400) rather
//!    than dropped;
//! 3. the query (from the first `?`) is copied unchanged.
//!
//! Only a literal `/` separates segments: `%2F` and `%5C` stay encoded and
//! are never treated as separators (so `/public%2F..%2Fadmin` is one
//! segment under `/public`), and a literal `\` is an ordinary byte. A `%`
//! not followed by two hex digits is refused ([`HeadError::BadPercentEncoding`],
//! 400), as nginx does. Empty segments (`//`) are kept.
//!
//! A path with no `%` and no `.` or `..` segment is already normal: one
//! scan, no copy, no allocation.

use super::{HeadError, RequestHead, TargetForm};

/// Normalises `path`, an origin-form request target (`/path`, optionally
/// followed by `?query`), as the module documentation describes.
///
/// - `Ok(false)`: `path` is already normal; use it as it is (`out` may
///   have been used as scratch space).
/// - `Ok(true)`: `out` was cleared and holds the normalised target, which
///   differs from `path` and is never longer.
/// - `Err`: the path climbs above the root or has a malformed escape.
///
/// A target that does not start with `/` (`*`, or empty) is left alone.
/// The result is stable: normalising a normalised path gives `Ok(false)`.
pub fn normalize_path(path: &[u8], out: &mut Vec<u8>) -> Result<bool, HeadError> {
    if path.first() != Some(&b'/') || is_normal(path) {
        return Ok(false);
    }
    out.clear();
    let query_at = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    let (p, query) = path.split_at(query_at);
    out.push(b'/');
    let mut i = 1;
    loop {
        let seg_end = p[i..].iter().position(|&b| b == b'/').map_or(p.len(), |k| i + k);
        let start = out.len();
        decode_segment(&p[i..seg_end], out)?;
        let more = seg_end < p.len();
        match &out[start..] {
            b"." => out.truncate(start),
            b".." => {
                // `out` is `/` or ends in `seg/`: drop that segment.
                out.truncate(start);
                if out.len() == 1 {
                    return Err(HeadError::PathAboveRoot);
                }
                out.pop();
                let keep = out.iter().rposition(|&b| b == b'/').map_or(1, |k| k + 1);
                out.truncate(keep);
            }
            _ if more => out.push(b'/'),
            _ => {}
        }
        if !more {
            break;
        }
        i = seg_end + 1;
    }
    out.extend_from_slice(query);
    Ok(out.as_slice() != path)
}

/// One pass: no `%` and no `.` or `..` segment before the query.
#[inline]
fn is_normal(path: &[u8]) -> bool {
    let mut seg_start = 0;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'%' => return false,
            b'/' | b'?' => {
                if is_dot_segment(&path[seg_start..i]) {
                    return false;
                }
                if b == b'?' {
                    return true;
                }
                seg_start = i + 1;
            }
            _ => {}
        }
    }
    !is_dot_segment(&path[seg_start..])
}

#[inline]
fn is_dot_segment(seg: &[u8]) -> bool {
    matches!(seg, b"." | b"..")
}

/// Appends `seg` to `out`, unreserved escapes decoded, others upper-cased.
fn decode_segment(seg: &[u8], out: &mut Vec<u8>) -> Result<(), HeadError> {
    let mut i = 0;
    while i < seg.len() {
        let b = seg[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (seg.get(i + 1).and_then(hex), seg.get(i + 2).and_then(hex))
        else {
            return Err(HeadError::BadPercentEncoding);
        };
        let c = (hi << 4) | lo;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c);
        } else {
            out.extend_from_slice(&[
                b'%',
                seg[i + 1].to_ascii_uppercase(),
                seg[i + 2].to_ascii_uppercase(),
            ]);
        }
        i += 3;
    }
    Ok(())
}

#[inline]
fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Normalises the path of `head` in `buf`, the buffer it was parsed from:
/// the normalised path (never longer) overwrites the start of the old one
/// and the `path` and `target` spans shrink to it, so routing, redirects
/// and the upstream head all see the normalised form with nothing copied
/// to a new buffer. `scratch` is a reused buffer (per connection). Returns
/// whether the path changed.
pub fn normalize_request_path(
    buf: &mut [u8],
    head: &mut RequestHead,
    scratch: &mut Vec<u8>,
) -> Result<bool, HeadError> {
    if head.target_form == TargetForm::Asterisk || head.path.is_empty() {
        return Ok(false);
    }
    if !normalize_path(head.path.get(buf), scratch)? {
        return Ok(false);
    }
    let start = head.path.start as usize;
    let end = start + scratch.len();
    match buf.get_mut(start..end) {
        // The path is the tail of the target in both forms.
        Some(dst) if end <= head.path.end as usize => dst.copy_from_slice(scratch),
        _ => return Err(HeadError::BadTarget),
    }
    head.path.end = end as u32;
    head.target.end = end as u32;
    Ok(true)
}
