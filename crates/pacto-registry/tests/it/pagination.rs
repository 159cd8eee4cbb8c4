//! `Link` pagination of tag lists. distribution 2.8 (our real test registry) never paginates
//! tags, so this one test talks to a tiny loopback server that answers like ECR or GHCR do:
//! pages of at most `n` tags with a `Link: <...>; rel="next"` header.

use crate::common::{assert_kind, client, reference, runtime};
use pacto_ref::{ArtifactRef, ParseOptions};
use pacto_registry::{BundleStore, ErrorKind, StoreError};
use pacto_test_support::{FakeOptions, FakeRegistry, TagListing};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Serves `pages` in order (then the last one forever); records every request line.
fn serve(
    pages: Vec<(Vec<&'static str>, Option<&'static str>)>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let host = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut served = 0;
        for stream in listener.incoming().take(2000) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            // The client first tries https on a loopback port: that handshake is not a page.
            if !line.starts_with("GET ") {
                continue;
            }
            log.lock().unwrap().push(line.trim().to_owned());
            let (tags, next) = &pages[served.min(pages.len() - 1)];
            served += 1;
            let body = format!(
                r#"{{"name":"team/many","tags":[{}]}}"#,
                tags.iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let link = next
                .map(|n| format!("Link: <{n}>; rel=\"next\"\r\n"))
                .unwrap_or_default();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (host, seen)
}

#[test]
fn follows_link_headers_to_the_last_page() {
    let (host, seen) = serve(vec![
        (
            vec!["1.0.0", "1.1.0"],
            Some("/v2/team/many/tags/list?last=1.1.0&n=1000"),
        ),
        (
            vec!["2.0.0"],
            Some("/v2/team/many/tags/list?last=2.0.0&n=1000"),
        ),
        (vec!["3.0.0"], None),
    ]);
    let tags = runtime()
        .block_on(client().list_tags(&reference(&format!("{host}/team/many"))))
        .expect("tags");
    assert_eq!(tags, vec!["1.0.0", "1.1.0", "2.0.0", "3.0.0"]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            "GET /v2/team/many/tags/list?n=1000 HTTP/1.1",
            "GET /v2/team/many/tags/list?last=1.1.0&n=1000 HTTP/1.1",
            "GET /v2/team/many/tags/list?last=2.0.0&n=1000 HTTP/1.1",
        ]
    );
}

#[test]
fn a_link_loop_is_refused_at_its_first_repeat() {
    let (host, seen) = serve(vec![(
        vec!["1.0.0"],
        Some("/v2/team/many/tags/list?last=1.0.0&n=1000"),
    )]);
    let error = assert_kind(
        runtime().block_on(client().list_tags(&reference(&format!("{host}/team/many")))),
        ErrorKind::Other,
    );
    assert!(
        matches!(error, StoreError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "registry {host} sent an unusable answer for {host}/team/many: its tag list loops: \
             the Link header leads back to /v2/team/many/tags/list?last=1.0.0&n=1000, a page \
             already read"
        )
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the repeated page is not fetched"
    );
}

/// A `--plain-http`-style client for a fake registry (no https probe).
fn listing(host: &str) -> Result<Vec<String>, StoreError> {
    let options = ParseOptions::untagged().with_insecure_hosts([host]);
    let repository = ArtifactRef::parse(&format!("{host}/team/many"), &options).expect("reference");
    runtime().block_on(client().list_tags(&repository))
}

#[test]
fn a_chain_of_big_pages_that_never_ends_stops_at_the_byte_bound() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Endless {
            page_bytes: 3 << 20,
            repeat: false,
        }),
        ..FakeOptions::default()
    });
    let error = assert_kind(listing(&fake.host()), ErrorKind::Other);
    assert!(
        error
            .to_string()
            .contains("its tag list is over 16 MiB in all"),
        "{error}"
    );
    // 16 MiB of 3 MiB pages: the sixth page crosses the bound, nothing after it is asked for.
    assert_eq!(fake.requests().len(), 6);
}

#[test]
fn the_tag_count_is_bounded_across_pages() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Paginated {
            count: 100_000,
            page: 1000,
        }),
        ..FakeOptions::default()
    });
    let tags = listing(&fake.host()).expect("100000 tags are fine");
    assert_eq!(tags.len(), 100_000);
    assert_eq!(
        (tags[0].as_str(), tags[99_999].as_str()),
        ("1.0.0", "1.0.99999")
    );
    assert_eq!(fake.requests().len(), 100);

    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Paginated {
            count: 100_001,
            page: 1000,
        }),
        ..FakeOptions::default()
    });
    let error = assert_kind(listing(&fake.host()), ErrorKind::Other);
    assert!(
        error
            .to_string()
            .contains("its tag list has more than 100000 tags"),
        "{error}"
    );
    assert_eq!(fake.requests().len(), 101);
}
