//! Fuzz the reference parsers: remote (ggcr rules), layout and `ArtifactRef`. Whatever
//! parses must print back to a string that parses to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_ref::{ArtifactRef, LayoutReference, ParseOptions, Reference, has_explicit_tag};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = has_explicit_tag(s);
    for opts in [ParseOptions::default(), ParseOptions::untagged()] {
        if let Ok(r) = Reference::parse_with(s, &opts) {
            assert_eq!(Reference::parse_with(&r.to_string(), &opts), Ok(r));
        }
        if let Ok(a) = ArtifactRef::parse(s, &opts) {
            assert_eq!(ArtifactRef::parse(&a.to_string(), &opts), Ok(a));
        }
    }
    if let Ok(l) = LayoutReference::parse(s) {
        assert_eq!(LayoutReference::parse(&l.to_string()), Ok(l));
    }
});
