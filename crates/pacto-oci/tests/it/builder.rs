//! `ClientBuilder`: the `PACTO_*` settings as `Client::from_env` reads them, setters that
//! override them both ways, and the layer options it forwards.

use pacto_oci::env::{self, InvalidSetting, Settings};
use pacto_oci::{Client, ErrorKind, RetryPolicy};
use pacto_test_support::{FakeOptions, FakeRegistry, Fault, FaultProxy, TagListing, TestRegistry};
use std::ffi::OsString;
use std::time::Duration;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, InvalidSetting> {
    Settings::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| OsString::from(v))
    })
}

fn client(temp: &tempfile::TempDir, settings: Settings) -> pacto_oci::ClientBuilder {
    Client::builder().cache_dir(temp.path()).settings(settings)
}

#[test]
fn pacto_no_cache_on_and_off_words_and_no_cache_false_overrides_it() {
    let temp = tempfile::tempdir().unwrap();
    for (value, reads_disk) in [
        ("on", false),
        ("1", false),
        ("true", false),
        ("yes", false),
        ("off", true),
        ("0", true),
        ("false", true),
        ("no", true),
    ] {
        let read = settings(&[(env::NO_CACHE, value)]).expect("a switch");
        let built = client(&temp, read.clone()).build().unwrap();
        assert_eq!(
            built.cache().reads_disk(),
            reads_disk,
            "PACTO_NO_CACHE={value}"
        );
        // The setter wins over the environment, whichever way it goes.
        let built = client(&temp, read.clone()).no_cache(false).build().unwrap();
        assert!(built.cache().reads_disk(), "no_cache(false) after {value}");
        let built = client(&temp, read).no_cache(true).build().unwrap();
        assert!(!built.cache().reads_disk(), "no_cache(true) after {value}");
    }
}

#[test]
fn an_invalid_pacto_concurrency_is_an_error_not_the_default() {
    let error: pacto_oci::Error = settings(&[(env::CONCURRENCY, "lots")]).unwrap_err().into();
    assert_eq!(error.kind(), ErrorKind::Other);
    let invalid = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<InvalidSetting>())
        .expect("the setting error is the source");
    assert_eq!(invalid.name, "PACTO_CONCURRENCY");
    assert_eq!(invalid.to_string(), "invalid PACTO_CONCURRENCY");

    let temp = tempfile::tempdir().unwrap();
    let read = settings(&[(env::CONCURRENCY, "3")]).unwrap();
    let built = client(&temp, read.clone()).build().unwrap();
    assert_eq!(built.resolver().concurrency(), 3);
    let built = client(&temp, read).concurrency(5).build().unwrap();
    assert_eq!(built.resolver().concurrency(), 5, "the setter overrides it");
}

/// The user agent reaches the registry client: every request carries the one given.
#[test]
fn the_user_agent_and_timeouts_are_forwarded_to_the_registry_client() {
    let fake = FakeRegistry::start(FakeOptions {
        tags: Some(TagListing::Paginated { count: 3, page: 10 }),
        ..FakeOptions::default()
    });
    let temp = tempfile::tempdir().unwrap();
    let built = Client::builder()
        .cache_dir(temp.path())
        .plain_http(fake.host())
        .user_agent("downstream-tool/2.1")
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(2))
        .memory_budget(1024 * 1024)
        .build()
        .unwrap();
    let tags = runtime()
        .block_on(built.versions(&format!("{}/team/x", fake.host())))
        .expect("tags");
    assert_eq!(tags, ["1.0.2", "1.0.1", "1.0.0"]);
    let requests = fake.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.header("user-agent"),
            Some("downstream-tool/2.1"),
            "{} {}",
            request.method,
            request.path
        );
    }
}

/// The retry policy reaches the registry client: with none, a 503 is final after one
/// request; with one retry, the listing goes on to the registry's own answer.
#[test]
fn the_retry_policy_is_forwarded_to_the_registry_client() {
    let registry = TestRegistry::plain();
    let temp = tempfile::tempdir().unwrap();
    for (retry, kind, requests) in [
        (RetryPolicy::none(), ErrorKind::Unreachable, 1),
        (
            RetryPolicy::none()
                .with_max_retries(1)
                .with_base_delay(Duration::from_millis(10)),
            ErrorKind::NotFound,
            2,
        ),
    ] {
        let proxy = FaultProxy::in_front_of(&registry);
        proxy.inject(Fault::Status {
            code: 503,
            retry_after: None,
            times: 1,
        });
        let built = Client::builder()
            .cache_dir(temp.path())
            .plain_http(proxy.host())
            .retry(retry)
            .build()
            .unwrap();
        let error = runtime()
            .block_on(built.versions(&format!("{}/team/none", proxy.host())))
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{retry:?}: {error:?}");
        assert_eq!(proxy.requests().len(), requests, "{retry:?}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
