//! Registry host rules: go-containerregistry's `checkRegistry` (Go `net/url` authority
//! parsing) and `Registry.Scheme()`.

use std::net::Ipv6Addr;

/// Go `url.Parse("//" + name)` succeeds and its `Host` equals `name` (ggcr `checkRegistry`).
///
/// Reproduces Go's `net/url` (1.26 semantics, which accept `0::1`-style hosts for scheme-less
/// URLs): no control bytes, nothing that would end the authority (`/ ? #`), no userinfo
/// (`@`), no `%`-escapes (they would decode, so `Host` would differ), a bracketed host must
/// be an IPv6 address with an optional numeric port, otherwise only reg-name characters and
/// an optional numeric port after the last `:`.
pub(crate) fn valid_authority(name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    if name
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || matches!(b, b'/' | b'?' | b'#' | b'@' | b'%'))
    {
        return false;
    }
    match name.rfind('[') {
        Some(0) => {
            let Some(close) = name.rfind(']') else {
                return false;
            };
            let address = &name[1..close];
            valid_optional_port(&name[close + 1..])
                && address.parse::<Ipv6Addr>().is_ok()
                && address.bytes().all(host_byte_allowed)
        }
        Some(_) => false,
        None => {
            if let Some(last) = name.rfind(':')
                && !valid_optional_port(&name[last..])
            {
                return false;
            }
            name.bytes().all(host_byte_allowed)
        }
    }
}

/// Go `validOptionalPort`: empty, or `:` followed by ASCII digits (possibly none).
fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Bytes Go's `unescape(host, encodeHost)` lets through unchanged: non-ASCII, alphanumerics,
/// unreserved marks and the sub-delimiters (plus `:[]<>"`) Go allows in hosts.
fn host_byte_allowed(b: u8) -> bool {
    !b.is_ascii()
        || b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
}

/// Go `net.ParseIP` for a string without `:`: dotted-decimal IPv4, four fields of 1-3
/// digits, each at most 255, no leading zeros.
fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut fields = s.split('.');
    for slot in &mut out {
        let field = fields.next()?;
        if field.is_empty()
            || field.len() > 3
            || !field.bytes().all(|b| b.is_ascii_digit())
            || (field.len() > 1 && field.starts_with('0'))
        {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    fields.next().is_none().then_some(out)
}

/// ggcr `isRFC1918`: the part before the first `:` is an IPv4 address in 10/8, 172.16/12 or
/// 192.168/16.
fn is_rfc1918(name: &str) -> bool {
    let host = name.split(':').next().unwrap_or_default();
    match parse_ipv4(host) {
        Some([10, ..]) => true,
        Some([172, second, ..]) => (16..=31).contains(&second),
        Some([192, 168, ..]) => true,
        _ => false,
    }
}

/// `(?::\d{1,5})?$` after the given prefix.
fn optional_short_port(rest: &str) -> bool {
    match rest.strip_prefix(':') {
        None => rest.is_empty(),
        Some(digits) => {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

/// ggcr `Registry.Scheme()` without the insecure flag: whether the name alone makes ggcr
/// choose plain `http` (loopback with a port, RFC 1918, `*.localhost`, `127.0.0.1`, `::1`).
pub(crate) fn ggcr_says_http(name: &str) -> bool {
    if is_rfc1918(name) || name.starts_with("localhost:") {
        return true;
    }
    // reLocal: `.*\.localhost(?::\d{1,5})?$`
    if let Some(i) = name.rfind(".localhost")
        && optional_short_port(&name[i + ".localhost".len()..])
    {
        return true;
    }
    // reLoopback: `^127\.0\.0\.1(?::\d{1,5})?$`
    if let Some(rest) = name.strip_prefix("127.0.0.1")
        && optional_short_port(rest)
    {
        return true;
    }
    // reipv6Loopback: `^(::1|\[::1\](?::\d{1,5})?)$`
    if name == "::1" {
        return true;
    }
    name.strip_prefix("[::1]").is_some_and(optional_short_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_follow_go_net_url() {
        for ok in [
            "",
            "gcr.io",
            "host:",
            "host:5000",
            "0::1",
            "::1",
            "[::1]",
            "[::1]:",
            "[::ffff:1.2.3.4]:80",
            "a]b",
            "h\u{e9}llo.example",
            "a_b!$&'()*+,;=<>\"~.io",
        ] {
            assert!(valid_authority(ok), "{ok:?} should be valid");
        }
        for bad in [
            "foo/bar",
            "host:port",
            "user:pass@host",
            "a b",
            "a\tb",
            "host?x",
            "host#x",
            "a%41",
            "[::1",
            "x[::1]",
            "[1.2.3.4]",
            "[::1]:x",
            "[zz]",
            "a{b",
            "a|b",
            "a\\b",
            "/x",
        ] {
            assert!(!valid_authority(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn ipv4_parsing_rejects_what_go_rejects() {
        assert_eq!(parse_ipv4("10.0.0.1"), Some([10, 0, 0, 1]));
        for bad in [
            "010.0.0.1",
            "10.0.0",
            "10.0.0.1.2",
            "256.0.0.1",
            "1..2.3",
            "a.b.c.d",
            "",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad:?}");
        }
        assert!(is_rfc1918("172.31.255.255"));
        assert!(!is_rfc1918("172.32.0.1"));
        assert!(is_rfc1918("192.168.1.1:443"));
        assert!(!is_rfc1918("192.169.1.1"));
    }

    #[test]
    fn http_hosts_follow_ggcr_scheme_rules() {
        for http in [
            "localhost:5000",
            "localhost:",
            "foo.localhost",
            "foo.localhost:12345",
            "127.0.0.1",
            "127.0.0.1:5000",
            "::1",
            "[::1]",
            "[::1]:5000",
            "10.1.2.3",
        ] {
            assert!(ggcr_says_http(http), "{http:?} should be http");
        }
        for https in [
            "localhost",
            "foo.localhost:123456",
            "foo.localhost.com",
            "127.0.0.2",
            "127.0.0.1.nip.io",
            "0::1",
            "[::1]:123456",
            "my.local",
            "gcr.io",
        ] {
            assert!(!ggcr_says_http(https), "{https:?} should be https");
        }
    }
}
