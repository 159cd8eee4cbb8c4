//! Fuzz the Masterminds-compatible constraint and version parsers and tag selection. A
//! parsed constraint must print back to text that parses to the same constraint.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pacto_ref::{Constraint, Version, best_tag, filter_semver_tags};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Version::parse(s);
    let _ = Version::parse_tag(s);
    if let Ok(c) = Constraint::parse(s) {
        let printed = c.to_string();
        let again = Constraint::parse(&printed).expect("a printed constraint parses again");
        assert_eq!(again.to_string(), printed);
    }
    // The input split at newlines doubles as a tag list; its first line as a constraint.
    let tags: Vec<&str> = s.split('\n').collect();
    let _ = best_tag(&tags, tags.first().copied().unwrap_or_default());
    let _ = filter_semver_tags(&tags);
});
