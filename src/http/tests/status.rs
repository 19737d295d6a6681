//! The proxy's own responses and the Date cache.

use std::time::{Duration, UNIX_EPOCH};

use crate::http::{
    parse_response_head, write_redirect, write_status_response, DateCache, HeadLimits,
    ResponseFraming, Status, CONTINUE,
};

const DATE: &[u8] = b"Sun, 22 Nov 2026 04:00:00 GMT";

#[test]
fn status_responses_are_well_framed_plain_text() {
    for &status in Status::ALL {
        let mut out = Vec::new();
        write_status_response(status, DATE, true, false, &mut out);
        let head = parse_response_head(&out, false, &HeadLimits::DEFAULT).unwrap().unwrap();
        assert_eq!(head.status, status.code());
        assert_eq!(head.framing, ResponseFraming::Length(status.body().len() as u64));
        assert_eq!(&out[head.head_len..], status.body());
        assert!(!head.keep_alive, "close asked for");
        assert_eq!(head.header(&out, "date"), Some(DATE));
        assert_eq!(head.header(&out, "content-type"), Some(&b"text/plain; charset=utf-8"[..]));
        assert_eq!(Status::from_code(status.code()), Some(status));
    }
}

#[test]
fn status_response_to_head_has_no_body_and_may_keep_alive() {
    let mut out = Vec::new();
    write_status_response(Status::NotFound, DATE, false, true, &mut out);
    let head = parse_response_head(&out, true, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(head.head_len, out.len());
    assert!(head.keep_alive);
    assert_eq!(head.content_length, Some(10));
}

#[test]
fn status_exact_bytes_of_404() {
    let mut out = Vec::new();
    write_status_response(Status::NotFound, DATE, false, false, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 404 Not Found\r\nServer: ringress\r\nDate: Sun, 22 Nov 2026 04:00:00 GMT\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n\r\nNot Found\n"
    );
}

#[test]
fn redirect_goes_to_https_with_path_and_query() {
    let mut out = Vec::new();
    write_redirect(b"Example.com:8080", b"/a/b?c=d", None, DATE, false, false, &mut out);
    let head = parse_response_head(&out, false, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(head.status, 308);
    assert_eq!(head.header(&out, "location"), Some(&b"https://Example.com/a/b?c=d"[..]));
    let mut out = Vec::new();
    write_redirect(b"[::1]:80", b"", Some(8443), DATE, true, true, &mut out);
    let head = parse_response_head(&out, true, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert_eq!(head.header(&out, "location"), Some(&b"https://[::1]:8443/"[..]));
    assert_eq!(head.head_len, out.len(), "no body for HEAD");
}

#[test]
fn continue_is_an_interim_response() {
    let head = parse_response_head(CONTINUE, false, &HeadLimits::DEFAULT).unwrap().unwrap();
    assert!(head.is_interim());
    assert_eq!(head.head_len, CONTINUE.len());
}

#[test]
fn date_cache_formats_imf_fixdate_and_refreshes_per_second() {
    let mut cache = DateCache::new();
    let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(cache.at(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(cache.at(t + Duration::from_millis(999)), b"Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(cache.at(t + Duration::from_secs(1)), b"Sun, 06 Nov 1994 08:49:38 GMT");
    assert_eq!(cache.get().len(), 29);
}

#[test]
fn static_responses_are_well_framed_and_close() {
    for &status in Status::ALL {
        let bytes = status.static_response();
        let head = parse_response_head(bytes, false, &HeadLimits::DEFAULT).unwrap().unwrap();
        assert_eq!(head.status, status.code());
        assert_eq!(&bytes[head.head_len..], status.body(), "Content-Length matches the body");
        assert_eq!(head.framing, ResponseFraming::Length(status.body().len() as u64));
        assert!(!head.keep_alive);
    }
}
