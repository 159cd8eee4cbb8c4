//! Every line of the oracle files produced by the Go libraries (Masterminds/semver v3.4.0,
//! go-containerregistry v0.21.9 `pkg/name`) runs as a case. The files are read at test
//! time; a line in a format this test does not understand fails the test, so new vectors
//! are never skipped silently.

use std::collections::BTreeMap;

use pacto_ref::{
    Constraint, Digest, ParseOptions, Reference, Registry, SelectError, Version, best_tag,
    filter_semver_tags, new_repository,
};

const REFS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/refs-public.txt");
const SEMVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/semver-public.txt");

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read conformance file {path}: {e}"))
}

/// The file's lines without the line terminator; trailing spaces are significant.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Parses a Go `%q` string at the start of `s`; returns it and the rest.
fn go_quoted(s: &str) -> (String, &str) {
    let body = s
        .strip_prefix('"')
        .unwrap_or_else(|| panic!("expected a quoted string at {s:?}"));
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &body[i + 1..]),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'n')) => out.push('\n'),
                other => panic!("unsupported escape {other:?} in {s:?}"),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated quoted string {s:?}")
}

/// `key="quoted" key=bare ...` into a map.
fn fields(mut s: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    loop {
        s = s.trim_start_matches(' ');
        if s.is_empty() {
            return map;
        }
        let (key, rest) = s
            .split_once('=')
            .unwrap_or_else(|| panic!("expected key=value at {s:?}"));
        let (value, rest) = if rest.starts_with('"') {
            go_quoted(rest)
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (rest[..end].to_owned(), &rest[end..])
        };
        assert!(
            map.insert(key.to_owned(), value).is_none(),
            "duplicate field {key}"
        );
        s = rest;
    }
}

/// Counts cases per section and checks every section ran some.
struct Sections {
    counts: Vec<(String, usize)>,
}

impl Sections {
    fn new(first: &str) -> Self {
        Self {
            counts: vec![(first.to_owned(), 0)],
        }
    }

    fn start(&mut self, name: &str) {
        self.counts.push((name.to_owned(), 0));
    }

    fn case(&mut self) {
        if let Some(last) = self.counts.last_mut() {
            last.1 += 1;
        }
    }

    fn assert_all_ran(&self, file: &str) {
        for (name, count) in &self.counts {
            assert!(*count > 0, "{file}: section {name:?} ran no cases");
        }
    }
}

// ---------------------------------------------------------------------------------------
// go-containerregistry
// ---------------------------------------------------------------------------------------

/// `could not parse reference: X || tag: T || digest: D`
fn split_reference_error(msg: &str) -> (&str, &str, &str) {
    let mut parts = msg.splitn(3, " || ");
    let (Some(top), Some(tag), Some(digest)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("unexpected reference error format {msg:?}");
    };
    let tag = tag
        .strip_prefix("tag: ")
        .unwrap_or_else(|| panic!("expected `tag: ` in {msg:?}"));
    let digest = digest
        .strip_prefix("digest: ")
        .unwrap_or_else(|| panic!("expected `digest: ` in {msg:?}"));
    (top, tag, digest)
}

fn options_for(prefix: &str) -> ParseOptions {
    match prefix {
        "W" => ParseOptions::default(),
        "S" => ParseOptions::default().with_strict(true),
        "I" => ParseOptions::default().with_insecure(true),
        _ => {
            let inner = prefix
                .strip_prefix("D[")
                .and_then(|p| p.strip_suffix(']'))
                .unwrap_or_else(|| panic!("unknown reference line prefix {prefix:?}"));
            if let Some(arg) = inner
                .strip_prefix("WithDefaultRegistry(")
                .and_then(|a| a.strip_suffix(')'))
            {
                ParseOptions::default().with_default_registry(go_quoted(arg).0)
            } else if let Some(arg) = inner
                .strip_prefix("WithDefaultTag(")
                .and_then(|a| a.strip_suffix(')'))
            {
                ParseOptions::default().with_default_tag(go_quoted(arg).0)
            } else {
                panic!("unknown option {inner:?}")
            }
        }
    }
}

fn check_reference_line(n: usize, line: &str) {
    let (prefix, rest) = line.split_at(line.find(" \"").expect("reference line input"));
    let opts = options_for(prefix);
    let (input, rest) = go_quoted(&rest[1..]);
    let expected = rest
        .strip_prefix(" -> ")
        .unwrap_or_else(|| panic!("line {n}: expected ` -> ` in {line:?}"));
    let parsed = Reference::parse_with(&input, &opts);
    if let Some(msg) = expected.strip_prefix("ERROR ") {
        let err = parsed.expect_err(&format!("line {n}: {input:?} should not parse"));
        let (top, tag, digest) = split_reference_error(msg);
        assert_eq!(err.input(), input, "line {n}");
        assert_eq!(err.reason(), top, "line {n}: {input:?}");
        assert_eq!(err.tag_form_reason(), Some(tag), "line {n}: {input:?}");
        assert_eq!(
            err.digest_form_reason(),
            Some(digest),
            "line {n}: {input:?}"
        );
        return;
    }
    let f = fields(expected);
    let r = parsed.unwrap_or_else(|e| panic!("line {n}: {input:?} should parse: {e}"));
    assert_eq!(r.registry().name(), f["reg"], "line {n}: registry");
    assert_eq!(r.repository(), f["repo"], "line {n}: repository");
    match (f.get("tag"), f.get("digest")) {
        (Some(tag), None) => {
            assert_eq!(r.tag(), Some(tag.as_str()), "line {n}: tag");
            assert_eq!(r.digest(), None, "line {n}: digest");
        }
        (None, Some(digest)) => {
            assert_eq!(
                r.digest().map(Digest::as_str),
                Some(digest.as_str()),
                "line {n}: digest"
            );
            assert_eq!(r.tag(), None, "line {n}: tag");
        }
        other => panic!("line {n}: expected exactly one of tag/digest, got {other:?}"),
    }
    assert_eq!(r.scheme().as_str(), f["scheme"], "line {n}: scheme");
    assert_eq!(r.to_string(), f["name"], "line {n}: name");
    let known: Vec<&str> = f.keys().map(String::as_str).collect();
    for key in &known {
        assert!(
            ["reg", "repo", "tag", "digest", "scheme", "name"].contains(key),
            "line {n}: unknown field {key}"
        );
    }
    let again = Reference::parse_with(&r.to_string(), &opts)
        .unwrap_or_else(|e| panic!("line {n}: name {r} should parse again: {e}"));
    assert_eq!(again, r, "line {n}: name round trip");
}

fn check_new_repository_line(n: usize, line: &str) {
    let arg = line.strip_prefix("NewRepository(").expect("prefix");
    let (input, rest) = go_quoted(arg);
    let rest = rest.strip_prefix(") -> ").expect("` -> `");
    let (reg, rest) = go_quoted(rest);
    let (repo, rest) = go_quoted(rest.strip_prefix(' ').expect("space"));
    let err = rest.strip_prefix(" err=").expect("err=");
    let result = new_repository(&input, &ParseOptions::default());
    if err == "<nil>" {
        let (registry, repository) =
            result.unwrap_or_else(|e| panic!("line {n}: {input:?} should parse: {e}"));
        assert_eq!(
            (registry.name(), repository.as_str()),
            (reg.as_str(), repo.as_str()),
            "line {n}"
        );
    } else {
        assert_eq!((reg.as_str(), repo.as_str()), ("", ""), "line {n}: format");
        let e = result.expect_err(&format!("line {n}: {input:?} should fail"));
        assert_eq!(e.reason(), err, "line {n}");
    }
}

fn check_new_registry_line(n: usize, line: &str) {
    let arg = line.strip_prefix("NewRegistry(").expect("prefix");
    let (input, rest) = go_quoted(arg);
    let rest = rest.strip_prefix(") -> ").expect("` -> `");
    let (name, rest) = go_quoted(rest);
    let rest = rest.strip_prefix(" scheme=").expect("scheme=");
    let (scheme, err) = rest.split_once(" err=").expect("err=");
    let result = Registry::parse(&input, &ParseOptions::default());
    if err == "<nil>" {
        let r = result.unwrap_or_else(|e| panic!("line {n}: {input:?} should parse: {e}"));
        assert_eq!(r.name(), name, "line {n}");
        assert_eq!(r.scheme().as_str(), scheme, "line {n}: scheme");
    } else {
        // Go prints the zero Registry on error: no name, https.
        assert_eq!((name.as_str(), scheme), ("", "https"), "line {n}: format");
        let e = result.expect_err(&format!("line {n}: {input:?} should fail"));
        assert_eq!(e.reason(), err, "line {n}");
    }
}

#[test]
fn go_containerregistry_vectors() {
    let text = read(REFS);
    let mut sections = Sections::new("weak");
    for (n, line) in lines(&text) {
        if let Some(name) = line.strip_prefix("---- ") {
            sections.start(name);
            continue;
        }
        sections.case();
        if line.starts_with("NewRepository(") {
            check_new_repository_line(n, line);
        } else if line.starts_with("NewRegistry(") {
            check_new_registry_line(n, line);
        } else if let Some(msg) = line.strip_prefix("strict empty reg  ") {
            let opts = ParseOptions::default().with_strict(true);
            let e = Registry::parse("", &opts).expect_err("strict empty registry");
            assert_eq!(e.reason(), msg, "line {n}");
        } else if ["W \"", "S \"", "I \"", "D["]
            .iter()
            .any(|p| line.starts_with(p))
        {
            check_reference_line(n, line);
        } else {
            panic!("{REFS}:{n}: line format not understood by this test: {line:?}");
        }
    }
    sections.assert_all_ran(REFS);
}

// ---------------------------------------------------------------------------------------
// Masterminds/semver
// ---------------------------------------------------------------------------------------

fn check_new_version_line(n: usize, line: &str) {
    let (input, rest) = go_quoted(line.strip_prefix("NewVersion(").expect("prefix"));
    let expected = rest.strip_prefix(") -> ").expect("` -> `");
    let parsed = Version::parse(&input);
    if let Some(msg) = expected.strip_prefix("error: ") {
        let e = parsed.expect_err(&format!("line {n}: {input:?} should fail"));
        assert_eq!(e.reason(), msg, "line {n}: {input:?}");
        assert_eq!(e.input(), input, "line {n}");
        return;
    }
    let f = fields(expected);
    let v = parsed.unwrap_or_else(|e| panic!("line {n}: {input:?} should parse: {e}"));
    assert_eq!(v.to_string(), f["String"], "line {n}: String()");
    assert_eq!(v.original(), f["Original"], "line {n}: Original()");
    assert_eq!(v.prerelease(), f["pre"], "line {n}: Prerelease()");
    assert_eq!(v.metadata(), f["meta"], "line {n}: Metadata()");
    assert_eq!(f.len(), 4, "line {n}: unknown fields in {line:?}");
}

fn check_new_constraint_line(n: usize, line: &str) {
    let (input, rest) = go_quoted(line.strip_prefix("NewConstraint(").expect("prefix"));
    let expected = rest.strip_prefix(") -> ").expect("` -> `");
    let parsed = Constraint::parse(&input);
    if let Some(msg) = expected.strip_prefix("error: ") {
        let e = parsed.expect_err(&format!("line {n}: {input:?} should fail"));
        assert_eq!(e.reason(), msg, "line {n}: {input:?}");
        assert_eq!(e.input(), input, "line {n}");
    } else if let Some(s) = expected.strip_prefix("String()=") {
        let (want, rest) = go_quoted(s);
        assert!(rest.is_empty(), "line {n}: trailing text {rest:?}");
        let c = parsed.unwrap_or_else(|e| panic!("line {n}: {input:?} should parse: {e}"));
        assert_eq!(c.to_string(), want, "line {n}: String()");
        assert_eq!(c.as_str(), input, "line {n}");
    } else {
        panic!("line {n}: unknown NewConstraint result {expected:?}");
    }
}

/// The precedence of a version: what `Compare` looks at.
fn precedence(v: &Version) -> (u64, u64, u64, String) {
    (v.major(), v.minor(), v.patch(), v.prerelease().to_owned())
}

fn check_sort_line(n: usize, line: &str) {
    let chain: Vec<&str> = line.split(" < ").collect();
    assert!(chain.len() > 1, "line {n}: not a chain");
    let versions: Vec<Version> = chain
        .iter()
        .map(|s| Version::parse(s).unwrap_or_else(|e| panic!("line {n}: {s:?}: {e}")))
        .collect();
    for pair in versions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if precedence(a) == precedence(b) {
            assert_eq!(a, b, "line {n}: {} and {} tie", a.original(), b.original());
        } else {
            assert!(a < b, "line {n}: {} < {}", a.original(), b.original());
        }
    }
    // A stable sort of the reversed chain yields the same precedence sequence.
    let mut reversed = versions.clone();
    reversed.reverse();
    reversed.sort();
    let keys = |vs: &[Version]| vs.iter().map(precedence).collect::<Vec<_>>();
    assert_eq!(keys(&reversed), keys(&versions), "line {n}");
    // FilterSemverTags: newest first, ties in input order.
    let filtered = filter_semver_tags(&chain);
    let mut expected: Vec<&str> = Vec::new();
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for (s, v) in chain.iter().zip(&versions) {
        match groups.last_mut() {
            Some(g) if Version::parse(g[0]).is_ok_and(|first| first == *v) => g.push(s),
            _ => groups.push(vec![s]),
        }
    }
    for g in groups.iter().rev() {
        expected.extend(g);
    }
    assert_eq!(filtered, expected, "line {n}: filter_semver_tags");
}

fn check_best_line(n: usize, line: &str) {
    let list = line
        .strip_prefix('[')
        .and_then(|l| l.split_once("] | "))
        .unwrap_or_else(|| panic!("line {n}: bad best line {line:?}"));
    let tags: Vec<&str> = list.0.split(' ').collect();
    let (constraint, rest) = go_quoted(list.1);
    let expected = rest.strip_prefix(" -> ").expect("` -> `");
    let got = best_tag(&tags, &constraint);
    if expected == "NO MATCH" {
        assert!(
            matches!(
                &got,
                Err(SelectError::NoMatchingVersion { constraint: c, .. }) if *c == constraint
            ),
            "line {n}: {constraint:?}: {got:?}"
        );
    } else if let Some(msg) = expected
        .strip_prefix("ERROR(")
        .and_then(|m| m.strip_suffix(')'))
    {
        let e = Constraint::parse(&constraint).expect_err("Masterminds rejects it");
        assert_eq!(e.reason(), msg, "line {n}: {constraint:?}");
        if constraint.is_empty() {
            // Pacto's BestTag: an empty constraint is no constraint (highest tag overall).
            let highest = filter_semver_tags(&tags).into_iter().next();
            assert_eq!(got.ok(), highest, "line {n}: empty constraint");
        } else {
            assert_eq!(got, Err(SelectError::InvalidConstraint(e)), "line {n}");
        }
    } else {
        assert!(
            !expected.contains(' '),
            "line {n}: unknown best result {expected:?}"
        );
        assert_eq!(got.as_deref(), Ok(expected), "line {n}: {constraint:?}");
    }
}

#[test]
fn masterminds_semver_vectors() {
    let text = read(SEMVER);
    let mut sections = Sections::new("NewVersion");
    for (n, line) in lines(&text) {
        if let Some(name) = line.strip_prefix("---- ") {
            sections.start(name);
            continue;
        }
        sections.case();
        if line.starts_with("NewVersion(") {
            check_new_version_line(n, line);
        } else if line.starts_with("NewConstraint(") {
            check_new_constraint_line(n, line);
        } else if line.starts_with('[') {
            check_best_line(n, line);
        } else if line.contains(" < ") && !line.contains("->") {
            check_sort_line(n, line);
        } else {
            panic!("{SEMVER}:{n}: line format not understood by this test: {line:?}");
        }
    }
    sections.assert_all_ran(SEMVER);
}

#[test]
fn the_header_example_empty_constraint_is_the_highest_tag() {
    // semver-public.txt's header: pacto's answer for `""` on the first list is v2.1.0.
    let tags = [
        "v1.0.0",
        "v1.1.0",
        "v1.2.3",
        "v1.2.10",
        "v1.3.0-rc.1",
        "v1.3.0",
        "v2.0.0-alpha",
        "v2.0.0",
        "v2.1.0",
        "latest",
    ];
    assert_eq!(best_tag(&tags, "").as_deref(), Ok("v2.1.0"));
    assert!(matches!(
        best_tag(&tags, " "),
        Err(SelectError::InvalidConstraint(_))
    ));
}
