//! Fuzz `pacto_contract::parse` (no panic, bounded work on any input) and
//! `BundlePath::parse` (idempotent: a normalised path is its own normal form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_contract::{BundlePath, parse};

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
        && let Ok(path) = BundlePath::parse(text)
    {
        assert_eq!(BundlePath::parse(path.as_str()).as_ref(), Ok(&path));
        assert!(!path.as_str().starts_with('/') && !path.as_str().contains('\\'));
        assert!(path.components().all(|c| !c.is_empty() && c != "." && c != ".."));
        assert_eq!(path.depth(), path.components().count() as u64);
    }
});
