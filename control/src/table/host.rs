//! Host normalisation for lookups: ASCII-lowercase into a stack buffer,
//! strip `:port` and one trailing dot. No allocation.

/// The longest DNS name (RFC 1035) a named virtual host can have.
pub(crate) const MAX_HOST_LEN: usize = 253;

/// A request host reduced to the form virtual hosts are keyed by.
pub(crate) struct HostKey {
    buf: [u8; MAX_HOST_LEN],
    len: usize,
}

impl HostKey {
    /// Normalise a raw `Host` header value (or SNI name). `None` when the
    /// value cannot name a virtual host: empty, longer than 253 bytes, not
    /// ASCII, or an IPv6 literal (`[::1]:8080`, bare `::1`). Such requests
    /// still reach the host-less rules and the default backend.
    pub(crate) fn new(raw: &str) -> Option<Self> {
        let raw = raw.trim_matches(|c: char| c == ' ' || c == '\t');
        if raw.starts_with('[') {
            return None;
        }
        let name = match raw.find(':') {
            // More than one colon: a bare IPv6 literal.
            Some(i) if raw[i + 1..].contains(':') => return None,
            Some(i) => &raw[..i],
            None => raw,
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_HOST_LEN || !name.is_ascii() {
            return None;
        }
        let mut key = Self { buf: [0; MAX_HOST_LEN], len: name.len() };
        for (dst, src) in key.buf.iter_mut().zip(name.bytes()) {
            *dst = src.to_ascii_lowercase();
        }
        Some(key)
    }

    pub(crate) fn as_str(&self) -> &str {
        // ASCII in, ASCII out: always valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The key of the wildcard that covers this host: everything after the
    /// first label (`a.example.com` → `example.com`). `None` for a single
    /// label or an empty first label.
    pub(crate) fn wildcard_suffix(&self) -> Option<&str> {
        let s = self.as_str();
        let dot = s.find('.')?;
        let rest = &s[dot + 1..];
        (dot > 0 && !rest.is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::HostKey;

    fn key(raw: &str) -> Option<String> {
        HostKey::new(raw).map(|k| k.as_str().to_string())
    }

    #[test]
    fn port_and_case_are_ignored() {
        assert_eq!(key("Foo.Example.COM:8080").as_deref(), Some("foo.example.com"));
        assert_eq!(key("foo.example.com.").as_deref(), Some("foo.example.com"));
        assert_eq!(key("10.0.0.1:80").as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn ipv6_literals_and_oversized_names_name_no_virtual_host() {
        assert_eq!(key("[::1]:8080"), None);
        assert_eq!(key("::1"), None);
        assert_eq!(key(""), None);
        assert_eq!(key(&"a".repeat(254)), None);
        assert!(key(&"a".repeat(253)).is_some());
        assert_eq!(key("bücher.example"), None);
    }

    #[test]
    fn wildcard_suffix_drops_exactly_one_label() {
        let k = HostKey::new("a.b.example.com").unwrap();
        assert_eq!(k.wildcard_suffix(), Some("b.example.com"));
        assert_eq!(HostKey::new("localhost").unwrap().wildcard_suffix(), None);
        assert_eq!(HostKey::new(".example.com").unwrap().wildcard_suffix(), None);
    }
}
