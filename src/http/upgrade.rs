//! Which protocol upgrades pass the proxy.
//!
//! Only the protocols in the allow-list are forwarded: `websocket` by
//! default, others added with `--allow-upgrade TOKEN`. A protocol matches
//! an allowed token when they are equal ASCII case-insensitively, or when
//! the token has no `/version` and equals the protocol's name (`foo`
//! allows `foo/2`). [`restrict_upgrade`] removes the offered protocols that
//! are not allowed from the client's `Upgrade` line; when none is left the
//! request is served as plain HTTP/1.1: no `Upgrade` line, `Connection:
//! keep-alive`, no `HTTP2-Settings` (so `Upgrade: h2c` never reaches an
//! upstream unless `h2c` is allowed). [`switch_agreed`] then checks that an
//! upstream's `101 Switching Protocols` names only protocols the client
//! offered and the proxy forwarded; any other 101 is a 502.
//!
//! The first 64 tokens of the list take part (the offer is a 64-bit set).

use super::fields::list_elements;
use super::RequestHead;

/// The protocol the allow-list always holds.
pub const WEBSOCKET: &str = "websocket";

/// Index in `allowed` of the first token that admits `protocol`.
#[inline]
fn allowed_index(protocol: &[u8], allowed: &[String]) -> Option<usize> {
    let name = protocol.split(|b| *b == b'/').next().unwrap_or(protocol);
    allowed.iter().take(64).position(|t| {
        let t = t.as_bytes();
        protocol.eq_ignore_ascii_case(t) || (!t.contains(&b'/') && name.eq_ignore_ascii_case(t))
    })
}

/// Keeps in the forwarded `Upgrade` line of `head` (parsed from `buf`)
/// only the protocols `allowed` admits, rewriting the value in place
/// (joined by `,`; never longer) and recording them in
/// [`RequestHead::upgrade_offered`]. With none left the upgrade is not
/// forwarded: the `Upgrade` line is dropped and `head.upgrade` cleared.
/// `HTTP2-Settings` lines are forwarded only with an `h2c` upgrade.
pub fn restrict_upgrade(buf: &mut [u8], head: &mut RequestHead, allowed: &[String]) {
    if !head.upgrade {
        return;
    }
    let Some(line) = head.upgrade_line.filter(|i| *i < head.headers().len()) else {
        head.upgrade = false;
        return;
    };
    let value = head.headers()[line].value;
    let (start, end) = (value.start as usize, (value.end as usize).min(buf.len()));
    let mut offered = 0u64;
    let mut h2c = false;
    let (mut w, mut r) = (start, start);
    while r < end {
        let next = buf[r..end].iter().position(|b| *b == b',').map_or(end, |k| r + k);
        let (mut a, mut b) = (r, next);
        while a < b && matches!(buf[a], b' ' | b'\t') {
            a += 1;
        }
        while b > a && matches!(buf[b - 1], b' ' | b'\t') {
            b -= 1;
        }
        if let Some(k) = (a < b).then(|| allowed_index(&buf[a..b], allowed)).flatten() {
            offered |= 1 << k;
            h2c |= buf[a..b].eq_ignore_ascii_case(b"h2c");
            // The writer never passes the reader: each element read was
            // followed by a comma, each written is preceded by one.
            if w > start {
                buf[w] = b',';
                w += 1;
            }
            buf.copy_within(a..b, w);
            w += b - a;
        }
        r = next + 1;
    }
    if offered == 0 {
        head.upgrade = false;
        head.drop.insert(line);
        return;
    }
    head.headers_mut()[line].value.end = w as u32;
    head.upgrade_offered = offered;
    if h2c && !head.http2_settings.is_empty() {
        head.h2c = true;
        for i in 0..head.headers().len() {
            if head.http2_settings.contains(i) {
                head.drop.remove(i);
            }
        }
    }
}

/// Whether an upstream's `101` whose `Upgrade` value is `response_upgrade`
/// switches to protocols the client offered (`offered`, from
/// [`RequestHead::upgrade_offered`]) under the same `allowed` list: every
/// protocol it names must be one of them, and it must name one.
pub fn switch_agreed(response_upgrade: &[u8], offered: u64, allowed: &[String]) -> bool {
    let mut any = false;
    for protocol in list_elements(response_upgrade) {
        match allowed_index(protocol, allowed) {
            Some(k) if offered & (1 << k) != 0 => any = true,
            _ => return false,
        }
    }
    any
}
