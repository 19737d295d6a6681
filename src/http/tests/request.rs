//! Request head parsing: derived facts, limits and the smuggling defences.

use crate::http::{
    parse_request_head, BodyFraming, HeadError, HeadLimits, Method, RequestHead, TargetForm,
    MAX_HEADERS, MAX_HEAD_BYTES, MAX_REQUEST_LINE_BYTES,
};

fn parse(src: &[u8]) -> RequestHead {
    match parse_request_head(src, &HeadLimits::DEFAULT) {
        Ok(Some(h)) => h,
        other => {
            panic!("expected a complete head, got {other:?} for {:?}", String::from_utf8_lossy(src))
        }
    }
}

fn refuse(src: &[u8]) -> HeadError {
    match parse_request_head(src, &HeadLimits::DEFAULT) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?} for {:?}", String::from_utf8_lossy(src)),
    }
}

fn kept<'a>(src: &'a [u8], head: &RequestHead) -> Vec<&'a [u8]> {
    head.headers()
        .iter()
        .enumerate()
        .filter(|(i, _)| !head.drop.contains(*i))
        .map(|(_, h)| h.name.get(src))
        .collect()
}

#[test]
fn typical_get_is_parsed_into_offsets() {
    let src = b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\nNEXT";
    let head = parse(src);
    assert_eq!(head.head_len, src.len() - 4);
    assert_eq!(head.method(src), b"GET");
    assert_eq!(head.method_kind, Method::Get);
    assert_eq!(head.target(src), b"/a/b?c=d");
    assert_eq!(head.path(src), "/a/b?c=d");
    assert_eq!(head.host(src), Some("example.com:8080"));
    assert_eq!(head.minor_version, 1);
    assert_eq!(head.framing, BodyFraming::Empty);
    assert!(head.keep_alive);
    assert!(!head.expect_continue && !head.upgrade);
    assert_eq!(head.headers().len(), 2);
    assert_eq!(head.header(src, "accept"), Some(&b"*/*"[..]));
}

#[test]
fn incomplete_head_needs_more_bytes() {
    let src = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for cut in 0..src.len() {
        assert_eq!(parse_request_head(&src[..cut], &HeadLimits::DEFAULT), Ok(None), "cut {cut}");
    }
    assert!(parse_request_head(src, &HeadLimits::DEFAULT).unwrap().is_some());
}

#[test]
fn leading_empty_lines_are_skipped() {
    let src = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let head = parse(src);
    assert_eq!(head.head_len, src.len());
    assert_eq!(head.method(src), b"GET");
}

#[test]
fn http11_without_host_is_400() {
    assert_eq!(refuse(b"GET / HTTP/1.1\r\nAccept: x\r\n\r\n"), HeadError::MissingHost);
    assert_eq!(HeadError::MissingHost.status(), 400);
}

#[test]
fn http10_without_host_is_accepted() {
    let head = parse(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(head.host, None);
    assert!(!head.keep_alive);
}

#[test]
fn multiple_host_lines_are_400() {
    assert_eq!(refuse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), HeadError::MultipleHost);
    assert_eq!(refuse(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), HeadError::MultipleHost);
}

#[test]
fn invalid_host_value_is_400() {
    for host in [&b"a b"[..], b"a/b", b"user@a", b"a\xc3\xa9"] {
        let mut src = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        src.extend_from_slice(host);
        src.extend_from_slice(b"\r\n\r\n");
        assert_eq!(refuse(&src), HeadError::BadHost, "{host:?}");
    }
}

#[test]
fn absolute_form_routes_by_authority_and_forwards_origin_form() {
    let src = b"GET http://Example.com:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n";
    let head = parse(src);
    assert_eq!(head.target_form, TargetForm::Absolute);
    assert_eq!(head.host(src), Some("Example.com:81"));
    assert_eq!(head.path(src), "/x?y");
    assert_eq!(kept(src, &head), Vec::<&[u8]>::new(), "the Host line is replaced");
    let bare = b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_eq!(parse(bare).path(bare), "/");
}

#[test]
fn absolute_form_with_userinfo_or_bad_scheme_is_400() {
    assert_eq!(refuse(b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
    assert_eq!(refuse(b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
    assert_eq!(refuse(b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
}

#[test]
fn target_with_fragment_or_non_ascii_is_400() {
    assert_eq!(refuse(b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
    assert_eq!(refuse("GET /é HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes()), HeadError::BadTarget);
}

#[test]
fn asterisk_form_only_with_options() {
    let src = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(parse(src).path(src), "*");
    assert_eq!(refuse(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
}

#[test]
fn connect_is_refused() {
    assert_eq!(
        refuse(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
        HeadError::ConnectNotSupported
    );
}

#[test]
fn unsupported_version_is_400() {
    assert_eq!(refuse(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"), HeadError::BadVersion);
    assert_eq!(refuse(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"), HeadError::BadVersion);
}

#[test]
fn keep_alive_follows_version_and_connection() {
    let cases: [(&[u8], bool); 6] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false),
    ];
    for (src, ka) in cases {
        assert_eq!(parse(src).keep_alive, ka, "{:?}", String::from_utf8_lossy(src));
    }
}

#[test]
fn expect_100_continue_is_detected_and_not_forwarded() {
    let src = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
    let head = parse(src);
    assert!(head.expect_continue);
    assert!(!kept(src, &head).contains(&&b"Expect"[..]));
    let old = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    assert!(!parse(old).expect_continue, "HTTP/1.0 expectations are ignored");
}

#[test]
fn upgrade_needs_connection_upgrade_and_upgrade_header() {
    let src = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let head = parse(src);
    assert!(head.upgrade);
    assert_eq!(kept(src, &head), vec![&b"Host"[..], b"Upgrade"]);
    let no_token = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n";
    let head = parse(no_token);
    assert!(!head.upgrade);
    assert_eq!(kept(no_token, &head), vec![&b"Host"[..]], "Upgrade dropped unless upgrading");
    let old = b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert!(!parse(old).upgrade);
}

#[test]
fn hop_by_hop_and_overwritten_headers_are_dropped() {
    let src = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret, keep-alive\r\nKeep-Alive: 5\r\n\
        Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: x\r\nX-Secret: 1\r\n\
        X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\n\
        X-Real-IP: 1.1.1.1\r\nX-Forwarded-For: 9.9.9.9\r\nAccept: */*\r\n\r\n";
    let head = parse(src);
    assert_eq!(kept(src, &head), vec![&b"Host"[..], b"Accept"]);
    assert!(head.forwarded_for.contains(11));
}

#[test]
fn connection_naming_framing_headers_is_400() {
    for name in ["Content-Length", "transfer-encoding", "Host"] {
        let src = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: {name}\r\n\r\n"
        );
        assert_eq!(refuse(src.as_bytes()), HeadError::ConnectionNamesProtectedHeader);
    }
}

#[test]
fn content_length_gives_length_framing() {
    let head = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0042\r\n\r\n");
    assert_eq!(head.framing, BodyFraming::Length(42));
    assert!(head.has_body());
    let zero = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(zero.framing, BodyFraming::Length(0));
    assert!(!zero.has_body());
}

#[test]
fn identical_content_length_repeats_are_collapsed() {
    let a = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(a.framing, BodyFraming::Length(5));
    let b = parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n");
    assert_eq!(b.framing, BodyFraming::Length(5));
}

#[test]
fn smuggling_differing_content_lengths_are_400() {
    let e = refuse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    assert_eq!(e, HeadError::ConflictingContentLength);
    let e = refuse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n");
    assert_eq!(e, HeadError::ConflictingContentLength);
}

#[test]
fn smuggling_invalid_content_length_is_400() {
    for v in ["", "+5", "-1", "5 5", "0x10", "1e3", "5,", ",", "99999999999999999999", "٣"] {
        let src = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(refuse(src.as_bytes()), HeadError::BadContentLength, "{v:?}");
    }
}

#[test]
fn smuggling_content_length_and_transfer_encoding_is_400() {
    let e = refuse(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(e, HeadError::ContentLengthAndTransferEncoding);
    assert_eq!(e.status(), 400);
}

#[test]
fn chunked_transfer_encoding_gives_chunked_framing() {
    for v in ["chunked", "Chunked", " chunked ", "chunked,", ", chunked"] {
        let src = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {v}\r\n\r\n");
        assert_eq!(parse(src.as_bytes()).framing, BodyFraming::Chunked, "{v:?}");
    }
}

#[test]
fn smuggling_transfer_encoding_other_than_one_chunked_is_400() {
    let cases: [&[u8]; 7] = [
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: chunked, gzip\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: identity\r\n",
        b"Transfer-Encoding: xchunked\r\n",
        b"Transfer-Encoding: chunked;q=1\r\n",
        b"Transfer-Encoding: \r\n",
    ];
    for lines in cases {
        let mut src = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
        src.extend_from_slice(lines);
        src.extend_from_slice(b"\r\n");
        assert_eq!(
            refuse(&src),
            HeadError::UnsupportedTransferEncoding,
            "{:?}",
            String::from_utf8_lossy(lines)
        );
    }
}

#[test]
fn smuggling_transfer_encoding_in_http10_is_400() {
    let e = refuse(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(e, HeadError::TransferEncodingInHttp10);
}

#[test]
fn smuggling_bare_lf_is_400() {
    let cases: [&[u8]; 5] = [
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    for src in cases {
        assert_eq!(refuse(src), HeadError::BareLf, "{:?}", String::from_utf8_lossy(src));
    }
}

#[test]
fn smuggling_bare_cr_is_400() {
    let e = refuse(b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n");
    assert!(matches!(e, HeadError::BadHeaderValue | HeadError::BadLineEnding), "{e:?}");
    assert_eq!(refuse(b"GET / HTTP/1.1\rHost: a\r\n\r\n"), HeadError::BadLineEnding);
}

#[test]
fn smuggling_obs_fold_is_400() {
    assert_eq!(refuse(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), HeadError::ObsFold);
    assert_eq!(refuse(b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n"), HeadError::ObsFold);
}

#[test]
fn smuggling_invalid_bytes_in_names_are_400() {
    for name in [&b"X Y"[..], b"X\x00", b"X(", b"Content-Length ", b"\x7f", b"X\xc3\xa9"] {
        let mut src = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        src.extend_from_slice(name);
        src.extend_from_slice(b": v\r\n\r\n");
        assert_eq!(refuse(&src), HeadError::BadHeaderName, "{name:?}");
    }
}

#[test]
fn smuggling_invalid_bytes_in_values_are_400() {
    for value in [&b"a\x00b"[..], b"a\x7fb", b"a\x01", b"a\x1bb"] {
        let mut src = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        src.extend_from_slice(value);
        src.extend_from_slice(b"\r\n\r\n");
        assert_eq!(refuse(&src), HeadError::BadHeaderValue, "{value:?}");
    }
}

#[test]
fn head_over_64k_is_431_even_before_it_ends() {
    let mut src = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    src.resize(MAX_HEAD_BYTES + 1, b'a');
    assert_eq!(refuse(&src), HeadError::HeadTooLarge);
    assert_eq!(HeadError::HeadTooLarge.status(), 431);
    src.extend_from_slice(b"\r\n\r\n");
    assert_eq!(refuse(&src), HeadError::HeadTooLarge);
}

#[test]
fn head_of_exactly_64k_is_accepted() {
    let mut src = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    src.resize(MAX_HEAD_BYTES - 4, b'a');
    src.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse(&src).head_len, MAX_HEAD_BYTES);
}

#[test]
fn more_than_100_headers_is_431() {
    let mut src = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for _ in 0..MAX_HEADERS - 1 {
        src.extend_from_slice(b"X: y\r\n");
    }
    let mut ok = src.clone();
    ok.extend_from_slice(b"\r\n");
    assert_eq!(parse(&ok).headers().len(), MAX_HEADERS);
    src.extend_from_slice(b"X: y\r\n\r\n");
    assert_eq!(refuse(&src), HeadError::TooManyHeaders);
    assert_eq!(HeadError::TooManyHeaders.status(), 431);
}

#[test]
fn request_line_over_8k_is_414_before_the_line_ends() {
    let mut src = b"GET /".to_vec();
    src.resize(MAX_REQUEST_LINE_BYTES + 2, b'a');
    assert_eq!(refuse(&src), HeadError::RequestLineTooLong);
    assert_eq!(HeadError::RequestLineTooLong.status(), 414);
    src.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(refuse(&src), HeadError::RequestLineTooLong);
}

#[test]
fn request_line_of_exactly_8k_is_accepted() {
    let mut src = b"GET /".to_vec();
    src.resize(MAX_REQUEST_LINE_BYTES - 9, b'a');
    src.extend_from_slice(b" HTTP/1.1\r\n");
    assert_eq!(parse_request_head(&src, &HeadLimits::DEFAULT), Ok(None));
    src.extend_from_slice(b"Host: a\r\n\r\n");
    assert_eq!(parse(&src).target.len(), MAX_REQUEST_LINE_BYTES - 13);
}

#[test]
fn smaller_configured_limits_apply() {
    let limits = HeadLimits { max_head_bytes: 64, max_headers: 2, max_request_line_bytes: 20 };
    let p = |s: &[u8]| parse_request_head(s, &limits);
    assert_eq!(p(b"GET /0123456789012 HTTP/1.1\r\n"), Err(HeadError::RequestLineTooLong));
    assert_eq!(
        p(b"GET / HTTP/1.1\r\nHost: a\r\nA: b\r\nC: d\r\n\r\n"),
        Err(HeadError::TooManyHeaders)
    );
    let long = b"GET / HTTP/1.1\r\nHost: a\r\nA: 0123456789012345678901234567890123456789\r\n\r\n";
    assert_eq!(p(long), Err(HeadError::HeadTooLarge));
}

#[test]
fn idempotent_methods_are_known() {
    assert!(Method::Get.is_idempotent() && Method::Put.is_idempotent());
    assert!(!Method::Post.is_idempotent() && !Method::Patch.is_idempotent());
    let src = b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(parse(src).method_kind, Method::Other);
}

#[test]
fn malformed_method_is_400() {
    assert_eq!(refuse(b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadMethod);
    assert_eq!(refuse(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), HeadError::BadTarget);
}

#[test]
fn empty_host_is_valid_and_routes_as_no_host() {
    let src = b"GET / HTTP/1.1\r\nHost:\r\n\r\n";
    assert_eq!(parse(src).host(src), Some(""));
}

#[test]
fn smuggling_framing_lookalike_names_are_400() {
    for name in ["Content_Length", "transfer_encoding", "Transfer_Encoding"] {
        let src = format!("POST / HTTP/1.1\r\nHost: a\r\n{name}: 5\r\n\r\n");
        assert_eq!(refuse(src.as_bytes()), HeadError::FramingLookalike, "{name}");
    }
    let ok = b"GET / HTTP/1.1\r\nHost: a\r\nX_Custom_Header: 1\r\n\r\n";
    assert_eq!(parse(ok).headers().len(), 2, "other underscores pass");
}
