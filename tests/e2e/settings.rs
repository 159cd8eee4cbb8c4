//! The `PACTO_*` variables mean to the binary what they mean to `Client::from_env` (both
//! read them through `pacto_oci::env::Settings`): switch words, usage errors naming the
//! variable, flags that replace it.

use crate::common::{Run, Sandbox, write_bundle};
use pacto_test_support::TestRegistry;

fn run_env(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = sandbox.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    sandbox.run_with(cmd)
}

/// With the registry gone, a cached tag resolves only while the disk cache is read: every
/// "on" word of `PACTO_NO_CACHE` stops that, every "off" word keeps it.
#[test]
fn pacto_no_cache_takes_on_and_off_words() {
    let mut registry = TestRegistry::plain();
    let sandbox = Sandbox::new();
    let source = write_bundle(&sandbox.path("bundles"), "switches", "1.0.0", &[]);
    let reference = format!("{}/team/switches:1.0.0", registry.host());
    sandbox
        .run(&["push", source.to_str().expect("utf-8"), &reference, "-q"])
        .expect(0);
    let out = sandbox.work().join("pulled");
    sandbox
        .run(&["pull", &reference, "-o", out.to_str().expect("utf-8"), "-q"])
        .expect(0);
    registry.stop();

    for off in ["off", "0", "false", "no", "OFF", ""] {
        let run = run_env(
            &sandbox,
            &["resolve", &reference, "--json"],
            &[("PACTO_NO_CACHE", off)],
        )
        .expect(0);
        assert!(
            run.json()["ref"]
                .as_str()
                .unwrap_or_default()
                .ends_with(":1.0.0"),
            "PACTO_NO_CACHE={off:?}: {}",
            run.stdout
        );
    }
    // (Each of these waits out the retries against the stopped registry: two words, the
    // library's tests cover the whole table.)
    for on in ["on", "Yes"] {
        run_env(
            &sandbox,
            &["resolve", &reference, "--json"],
            &[("PACTO_NO_CACHE", on)],
        )
        .expect_error(5, "unreachable");
    }
    let run = run_env(
        &sandbox,
        &["resolve", &reference, "--json"],
        &[("PACTO_NO_CACHE", "maybe")],
    )
    .expect(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    assert_eq!(
        run.json()["error"]["message"],
        "invalid PACTO_NO_CACHE: \"maybe\" is not on or off (1, true, yes, on; 0, false, no, off)"
    );
    // The flag replaces the variable: it is not read, so its value does not matter.
    run_env(
        &sandbox,
        &["resolve", &reference, "--no-cache", "--json"],
        &[("PACTO_NO_CACHE", "maybe")],
    )
    .expect_error(5, "unreachable");
}

#[test]
fn an_invalid_pacto_concurrency_is_a_usage_error_naming_it() {
    let sandbox = Sandbox::new();
    for value in ["lots", "-1", "2.5", "0"] {
        let run = run_env(
            &sandbox,
            &["fetch-all", "127.0.0.1:9/settings/x", "--json"],
            &[("PACTO_CONCURRENCY", value)],
        )
        .expect(2);
        assert_eq!(run.json()["error"]["kind"], "usage");
        assert_eq!(
            run.json()["error"]["message"],
            format!(
                "invalid PACTO_CONCURRENCY: {value:?} is not a number of parallel transfers \
                 (a whole number of at least 1, such as 8)"
            )
        );
        assert!(
            run.stderr.contains("invalid PACTO_CONCURRENCY"),
            "{}",
            run.stderr
        );
    }
    // A flag replaces the variable; an empty variable is unset.
    let layout = format!("oci-layout:{}", sandbox.work().join("empty").display());
    for (args, env) in [
        (vec!["--concurrency", "2"], ("PACTO_CONCURRENCY", "lots")),
        (vec![], ("PACTO_CONCURRENCY", " ")),
    ] {
        let mut all = args.clone();
        all.extend(["ref", "parse", &layout, "--json"]);
        run_env(&sandbox, &all, &[env]).expect(0);
    }
}

/// `--offline` reads only the cache and `PACTO_NO_CACHE` forbids reading it: whichever way
/// no-cache is asked for, the pair is a usage error, for every command that takes
/// `--offline`.
#[test]
fn offline_with_pacto_no_cache_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let layout = format!("oci-layout:{}", sandbox.path("layout").display());
    for command in ["pull", "resolve", "inspect"] {
        let run = run_env(
            &sandbox,
            &[command, &layout, "--offline", "--json"],
            &[("PACTO_NO_CACHE", "on")],
        )
        .expect_error(2, "usage");
        assert!(
            run.message().contains("PACTO_NO_CACHE"),
            "{}",
            run.message()
        );
    }
}
