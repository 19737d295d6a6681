//! HTTP/1.1 message framing (RFC 9112 §6): where a response head ends, how
//! its body is delimited, and an incremental chunked decoder that skips body
//! bytes without keeping them. Used by the client for responses and by the
//! upstream for request bodies.

use thiserror::Error;

/// Largest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed per response head.
const MAX_HEADERS: usize = 96;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("malformed chunked body")]
    Chunked,
}

/// What the head of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub body: Body,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Length(u64),
    Chunked,
    /// Until the connection closes.
    UntilClose,
}

/// Parses a response head at the start of `buf`; `Ok(None)` when more bytes
/// are needed. `head_request`: the request was HEAD, so no body follows.
pub fn parse_response_head(
    buf: &[u8],
    head_request: bool,
) -> Result<Option<ResponseHead>, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(FramingError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(FramingError::Head(e)),
    };
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut length = None;
    let mut chunked = false;
    let mut close = http10;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = parse_content_length(h.value).ok_or(FramingError::ContentLength)?;
            if length.is_some_and(|l| l != v) {
                return Err(FramingError::ContentLength);
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = last_token_is(h.value, b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, b"close") {
                close = true;
            } else if http10 && has_token(h.value, b"keep-alive") {
                close = false;
            }
        }
    }
    let body = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Length(0)
    } else if chunked {
        Body::Chunked
    } else if let Some(l) = length {
        Body::Length(l)
    } else {
        close = true;
        Body::UntilClose
    };
    Ok(Some(ResponseHead { status, len, body, close }))
}

pub fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    value.rsplit(|b| *b == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Skips body bytes as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyReader {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

impl BodyReader {
    pub fn new(body: Body) -> Self {
        match body {
            Body::Length(n) => BodyReader::Length(n),
            Body::Chunked => BodyReader::Chunked(Chunked::default()),
            Body::UntilClose => BodyReader::UntilClose,
        }
    }

    /// Consumes body bytes from the front of `data`: returns how many were
    /// used and whether the body is complete.
    pub fn consume(&mut self, data: &[u8]) -> Result<(usize, bool), FramingError> {
        match self {
            BodyReader::Length(rem) => {
                let used = (*rem).min(data.len() as u64);
                *rem -= used;
                Ok((used as usize, *rem == 0))
            }
            BodyReader::Chunked(c) => c.consume(data),
            BodyReader::UntilClose => Ok((data.len(), false)),
        }
    }

    /// Whether the connection closing now ends the body cleanly.
    pub fn complete_at_close(&self) -> bool {
        matches!(self, BodyReader::UntilClose)
    }
}

/// Incremental chunked-body decoder (RFC 9112 §7.1); data is skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    digits: u8,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerLine,
    EndLf,
    Done,
}

impl Chunked {
    pub fn consume(&mut self, data: &[u8]) -> Result<(usize, bool), FramingError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.state {
                ChunkState::Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits == 15 {
                            return Err(FramingError::Chunked);
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0);
                        self.size = self.size * 16 + u64::from(d);
                        self.digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => self.state = ChunkState::Extension,
                    b'\r' if self.digits > 0 => self.state = ChunkState::SizeLf,
                    b'\n' if self.digits > 0 => self.end_size(),
                    _ => return Err(FramingError::Chunked),
                },
                ChunkState::Extension => {
                    if b == b'\n' {
                        self.end_size();
                    }
                }
                ChunkState::SizeLf => match b {
                    b'\n' => self.end_size(),
                    _ => return Err(FramingError::Chunked),
                },
                ChunkState::Data => {
                    let take = self.size.min((data.len() - i) as u64);
                    self.size -= take;
                    i += take as usize;
                    if self.size == 0 {
                        self.state = ChunkState::DataCr;
                    }
                    continue;
                }
                ChunkState::DataCr => match b {
                    b'\r' => self.state = ChunkState::DataLf,
                    b'\n' => self.state = ChunkState::Size,
                    _ => return Err(FramingError::Chunked),
                },
                ChunkState::DataLf => match b {
                    b'\n' => self.state = ChunkState::Size,
                    _ => return Err(FramingError::Chunked),
                },
                ChunkState::TrailerLineStart => match b {
                    b'\r' => self.state = ChunkState::EndLf,
                    b'\n' => self.state = ChunkState::Done,
                    _ => self.state = ChunkState::TrailerLine,
                },
                ChunkState::TrailerLine => {
                    if b == b'\n' {
                        self.state = ChunkState::TrailerLineStart;
                    }
                }
                ChunkState::EndLf => match b {
                    b'\n' => self.state = ChunkState::Done,
                    _ => return Err(FramingError::Chunked),
                },
                ChunkState::Done => return Ok((i, true)),
            }
            i += 1;
            if self.state == ChunkState::Done {
                return Ok((i, true));
            }
        }
        Ok((i, self.state == ChunkState::Done))
    }

    fn end_size(&mut self) {
        self.state = if self.size == 0 { ChunkState::TrailerLineStart } else { ChunkState::Data };
        self.digits = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_frames_the_body() {
        let h = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello", false)
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.len, h.body, h.close), (200, 39, Body::Length(12), false));
    }

    #[test]
    fn head_is_partial_until_the_blank_line() {
        assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Le", false), Ok(None));
    }

    #[test]
    fn garbage_is_a_head_error() {
        assert!(matches!(
            parse_response_head(b"hello there\r\n\r\n", false),
            Err(FramingError::Head(_))
        ));
    }

    #[test]
    fn no_length_means_until_close_and_close() {
        let h = parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap().unwrap();
        assert_eq!((h.body, h.close), (Body::UntilClose, true));
    }

    #[test]
    fn head_request_and_204_have_no_body() {
        let h = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(h.body, Body::Length(0));
        let h = parse_response_head(b"HTTP/1.1 204 No Content\r\n\r\n", false).unwrap().unwrap();
        assert_eq!((h.body, h.close), (Body::Length(0), false));
    }

    #[test]
    fn connection_close_and_http10_close() {
        let h = parse_response_head(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert!(h.close);
        let h = parse_response_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert!(h.close);
    }

    #[test]
    fn conflicting_lengths_are_refused() {
        let r = parse_response_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
        );
        assert_eq!(r, Err(FramingError::ContentLength));
    }

    #[test]
    fn chunked_body_decodes_byte_by_byte_and_whole() {
        let body =
            b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let mut whole = Chunked::default();
        assert_eq!(whole.consume(body), Ok((body.len() - 4, true)));
        let mut bytewise = Chunked::default();
        let mut done_at = None;
        for (i, b) in body.iter().enumerate() {
            let (used, done) = bytewise.consume(std::slice::from_ref(b)).unwrap();
            assert_eq!(used, 1);
            if done {
                done_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(done_at, Some(body.len() - 4));
    }

    #[test]
    fn malformed_chunks_are_errors() {
        assert_eq!(Chunked::default().consume(b"zz\r\n"), Err(FramingError::Chunked));
        assert_eq!(Chunked::default().consume(b"2\r\nabX"), Err(FramingError::Chunked));
        assert_eq!(Chunked::default().consume(b"ffffffffffffffff\r\n"), Err(FramingError::Chunked));
    }

    #[test]
    fn length_reader_stops_at_the_length() {
        let mut r = BodyReader::new(Body::Length(3));
        assert_eq!(r.consume(b"ab"), Ok((2, false)));
        assert_eq!(r.consume(b"cdef"), Ok((1, true)));
    }
}
