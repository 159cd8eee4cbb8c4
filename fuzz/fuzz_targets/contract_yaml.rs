//! Fuzz `pacto_contract::parse` (no panic, bounded work on any input) and
//! `validate_path` (idempotent: a normalised path is its own normal form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_contract::{parse, validate_path};

fuzz_target!(|input: &[u8]| {
    if let Ok(contract) = parse(input) {
        assert!(!contract.pacto_version.is_empty());
        assert!(!contract.service.name.is_empty());
        assert!(!contract.service.version.is_empty());
        if let Some(scaling) = &contract.scaling {
            // `replicas` is always normalised away.
            assert!(!scaling.extra.contains_key("replicas"));
        }
    }
    if let Ok(text) = std::str::from_utf8(input)
        && let Ok(path) = validate_path(text)
    {
        assert_eq!(validate_path(&path).as_deref(), Ok(path.as_str()));
        assert!(!path.starts_with('/') && !path.contains('\\'));
        assert!(
            path.split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
        );
    }
});
