//! Version constraints, parsed and checked the way Masterminds/semver v3.4.0
//! `NewConstraint` / `Check` do.
//!
//! Syntax: comparisons joined by whitespace or a comma (AND) and by `||` (OR). Operators:
//! none or `=` (equal, or a tilde range when the version is partial or wildcarded), `!=`,
//! `>`, `<`, `>=`/`=>`, `<=`/`=<`, `~`/`~>` and `^`. Versions may be partial (`1.2`) or use
//! `x`, `X` or `*` wildcards, and a hyphen range `A - B` (spaces required) means `>= A, <= B`.
//!
//! A pre-release version can only satisfy an AND group in which some comparison names a
//! pre-release (`>=1.2.0-0`); that permission does not carry across `||`.
//!
//! Masterminds implements all this with regular expressions; this module reproduces their
//! exact matching behaviour (including the quirks the conformance vectors pin, such as `^*`
//! matching only `0.0.0`) with hand-written scanners.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::version::{self, InvalidVersion, Key, Version, compare, compare_prerelease};

/// A parsed version constraint (Masterminds `*semver.Constraints`).
///
/// ```
/// use pacto_ref::{Constraint, Version};
/// let c = Constraint::parse(">= 1.2, < 2 || ^4.1").unwrap();
/// assert!(c.matches(&Version::parse("1.9.0").unwrap()));
/// assert!(c.matches(&Version::parse("4.7.1").unwrap()));
/// assert!(!c.matches(&Version::parse("2.0.0").unwrap()));
/// assert!(!c.matches(&Version::parse("1.5.0-rc.1").unwrap()));
/// assert_eq!(c.to_string(), ">=1.2 <2 || ^4.1");
/// ```
#[derive(Clone, Debug)]
pub struct Constraint {
    input: String,
    groups: Vec<Group>,
}

/// Why a string is not a [`Constraint`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidConstraint {
    /// An `||`-separated segment is not a list of comparisons.
    #[error("invalid version constraint {input:?}: {}", improper_detail(segment))]
    #[non_exhaustive]
    Improper {
        /// The constraint text as given.
        input: String,
        /// The offending segment (after hyphen ranges were rewritten, as Masterminds reports it).
        segment: String,
    },
    /// A comparison is well-formed but its version is not a valid semantic version
    /// (`1x`, `1.2.3-01`, a number beyond 64 bits).
    #[error("invalid version constraint {input:?}: {comparison:?} does not name a valid version")]
    #[non_exhaustive]
    BadVersion {
        /// The constraint text as given.
        input: String,
        /// The comparison whose version failed to parse, e.g. `>=1x`.
        comparison: String,
        /// Why the (expanded) version failed to parse.
        #[source]
        source: InvalidVersion,
    },
}

fn improper_detail(segment: &str) -> String {
    if segment.trim().is_empty() {
        "an empty comparison list (write e.g. \">=1.2.0 <2.0.0\" or \"^1.2\")".to_owned()
    } else {
        format!("{segment:?} is not a list of comparisons such as \">=1.2.0 <2.0.0\" or \"^1.2\"")
    }
}

impl InvalidConstraint {
    /// The constraint text that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            Self::Improper { input, .. } | Self::BadVersion { input, .. } => input,
        }
    }

    /// The error text Masterminds/semver v3.4.0 `NewConstraint` returns for this input.
    pub fn reason(&self) -> String {
        match self {
            Self::Improper { segment, .. } => format!("improper constraint: {segment}"),
            Self::BadVersion { .. } => "constraint parser error".to_owned(),
        }
    }
}

/// One AND group.
#[derive(Clone, Debug)]
struct Group {
    items: Vec<Item>,
    /// Some comparison in the group names a pre-release: pre-release versions may match.
    contains_pre: bool,
}

/// The operator as written (Masterminds keeps the spelling for `String()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    None,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    GeAlt,
    Le,
    LeAlt,
    Tilde,
    TildeGt,
    Caret,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Lt => "<",
            Self::Ge => ">=",
            Self::GeAlt => "=>",
            Self::Le => "<=",
            Self::LeAlt => "=<",
            Self::Tilde => "~",
            Self::TildeGt => "~>",
            Self::Caret => "^",
        }
    }

    /// The operator at the start of `b` and its length. Masterminds' alternation
    /// `=||!=|>|<|>=|=>|<=|=<|~|~>|\^` only ever succeeds with the longest spelling here,
    /// because a version never starts with an operator character.
    fn read(b: &[u8]) -> (Self, usize) {
        let two = match b {
            [b'!', b'=', ..] => Some(Self::Ne),
            [b'>', b'=', ..] => Some(Self::Ge),
            [b'=', b'>', ..] => Some(Self::GeAlt),
            [b'<', b'=', ..] => Some(Self::Le),
            [b'=', b'<', ..] => Some(Self::LeAlt),
            [b'~', b'>', ..] => Some(Self::TildeGt),
            _ => None,
        };
        if let Some(op) = two {
            return (op, 2);
        }
        match b.first() {
            Some(b'=') => (Self::Eq, 1),
            Some(b'>') => (Self::Gt, 1),
            Some(b'<') => (Self::Lt, 1),
            Some(b'~') => (Self::Tilde, 1),
            Some(b'^') => (Self::Caret, 1),
            _ => (Self::None, 0),
        }
    }
}

/// One comparison.
#[derive(Clone, Debug)]
struct Item {
    op: Op,
    /// The version text as written (`v1.2.x`), for `String()`.
    orig: String,
    /// The version compared against, wildcards replaced by zeros.
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

impl Item {
    fn con(&self) -> Key<'_> {
        self.con.key()
    }

    /// Masterminds' per-operator check functions (v3.4.0), `include_pre` decided per group.
    fn check(&self, v: Key<'_>, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = self.con();
        match self.op {
            Op::None | Op::Eq => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    compare(v, c) == Ordering::Equal
                }
            }
            Op::Ne => self.not_equal(v),
            Op::Gt => self.greater(v),
            Op::Lt => compare(v, c) == Ordering::Less,
            Op::Ge | Op::GeAlt => compare(v, c) != Ordering::Less,
            Op::Le | Op::LeAlt => {
                if !self.dirty {
                    return compare(v, c) != Ordering::Greater;
                }
                if v.major > c.major {
                    return false;
                }
                !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde | Op::TildeGt => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: Key<'_>) -> bool {
        let c = self.con();
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(v.pre, c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        compare(v, c) != Ordering::Equal
    }

    fn greater(&self, v: Key<'_>) -> bool {
        let c = self.con();
        if !self.dirty {
            return compare(v, c) == Ordering::Greater;
        }
        if v.major > c.major {
            true
        } else if v.major < c.major || self.minor_dirty {
            false
        } else if self.patch_dirty {
            v.minor > c.minor
        } else {
            compare(v, c) == Ordering::Greater
        }
    }

    fn tilde(&self, v: Key<'_>) -> bool {
        let c = self.con();
        if compare(v, c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: Key<'_>) -> bool {
        let c = self.con();
        if compare(v, c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// Go RE2 `\s`: `[\t\n\f\r ]`.
fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// The "digit" class of Masterminds' constraint version regex, `[0-9|x|X|\*]` (which, being a
/// character class, also admits `|`).
fn is_c(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'|' | b'x' | b'X' | b'*')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

fn c_run_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_c(b[i]) {
        i += 1;
    }
    i
}

/// The numeric head of a constraint version, `v?C+(\.C+)?(\.C+)?`, anchored at `start`:
/// the byte ranges of major, minor and patch (empty when absent) and the end index.
#[derive(Clone, Copy, Debug)]
struct Head {
    major: (usize, usize),
    minor: (usize, usize),
    patch: (usize, usize),
    end: usize,
}

fn head(b: &[u8], start: usize, limit: usize) -> Option<Head> {
    let b = &b[..limit];
    let mut i = start + usize::from(b.get(start) == Some(&b'v'));
    let major = (i, c_run_end(b, i));
    if major.0 == major.1 {
        return None;
    }
    i = major.1;
    let mut parts = [(i, i), (i, i)];
    for part in &mut parts {
        if i < b.len() && b[i] == b'.' {
            let end = c_run_end(b, i + 1);
            if end == i + 1 {
                // `(\.C+)?` cannot match; the caller sees a stray '.'.
                break;
            }
            *part = (i + 1, end);
            i = end;
        } else {
            break;
        }
    }
    Some(Head {
        major,
        minor: parts[0],
        patch: parts[1],
        end: i,
    })
}

/// The anchored constraint version regex (`cvRegex` between `^` and `$`) over `b[start..end]`:
/// the head, then `(-ids)?(\+ids)?`, consuming everything. Returns the head and the byte
/// range of the `-PRE` part including its dash (Masterminds' `m[6]`).
fn cv_full(b: &[u8], start: usize, end: usize) -> Option<(Head, (usize, usize))> {
    let h = head(b, start, end)?;
    let b = &b[..end];
    let mut i = h.end;
    let mut pre = (i, i);
    if i < end && b[i] == b'-' {
        let e = version::identifiers_end(b, i + 1)?;
        pre = (i, e);
        i = e;
    }
    if i < end && b[i] == b'+' {
        i = version::identifiers_end(b, i + 1)?;
    }
    (i == end).then_some((h, pre))
}

/// The unanchored, greedy constraint version regex starting at `start` (how Masterminds'
/// range regex matches the version after ` - `): the end of the match.
fn cv_greedy(b: &[u8], start: usize) -> Option<usize> {
    let h = head(b, start, b.len())?;
    let mut i = h.end;
    for sep in [b'-', b'+'] {
        if i + 1 < b.len() && b[i] == sep && version::is_ident_byte(b[i + 1]) {
            i = greedy_identifiers(b, i + 1);
        }
    }
    Some(i)
}

fn greedy_identifiers(b: &[u8], mut i: usize) -> usize {
    loop {
        while i < b.len() && version::is_ident_byte(b[i]) {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'.' && version::is_ident_byte(b[i + 1]) {
            i += 1;
        } else {
            return i;
        }
    }
}

/// Which suffixes of `b[start..end]` are valid `ids` and `ids(\+ids)?` lists, computed right
/// to left so that finding the leftmost valid version in a long run stays linear.
struct Suffixes {
    start: usize,
    ids: Vec<bool>,
    pre_tail: Vec<bool>,
}

impl Suffixes {
    fn new(b: &[u8], start: usize, end: usize) -> Self {
        let len = end - start;
        let mut ids = vec![false; len + 2];
        let mut pre_tail = vec![false; len + 2];
        for j in (0..len).rev() {
            let at = |k: usize| b.get(start + k).copied();
            if !version::is_ident_byte(b[start + j]) {
                continue;
            }
            let next = at(j + 1).filter(|_| j + 1 < len);
            ids[j] = match next {
                None => true,
                Some(c) if version::is_ident_byte(c) => ids[j + 1],
                Some(b'.') => ids[j + 2],
                Some(_) => false,
            };
            pre_tail[j] = match next {
                None => true,
                Some(c) if version::is_ident_byte(c) => pre_tail[j + 1],
                Some(b'.') => pre_tail[j + 2],
                Some(b'+') => ids[j + 2],
                Some(_) => false,
            };
        }
        Self {
            start,
            ids,
            pre_tail,
        }
    }

    /// Whether `b[i..end]` (with `i` at the end of a version head) completes a full version.
    fn completes(&self, b: &[u8], i: usize, end: usize) -> bool {
        if i == end {
            return true;
        }
        let k = i - self.start + 1;
        match b[i] {
            b'-' => self.pre_tail[k],
            b'+' => self.ids[k],
            _ => false,
        }
    }
}

/// One match of Masterminds' `constraintRangeRegex` (`\s*(CV)\s+-\s+(CV)\s*`).
#[derive(Clone, Copy, Debug)]
struct RangeMatch {
    start: usize,
    end: usize,
    low: (usize, usize),
    high: (usize, usize),
}

/// Leftmost range match at or after `p`, as Go's leftmost-first regexp finds it.
fn find_range(b: &[u8], mut p: usize) -> Option<RangeMatch> {
    let n = b.len();
    while p < n {
        let q = skip_ws(b, p);
        if q == n {
            return None;
        }
        let e = (q..n).find(|&i| is_ws(b[i])).unwrap_or(n);
        // Everything after the first version is independent of where it starts in the run.
        let Some((high, end)) = range_tail(b, e) else {
            p = e;
            continue;
        };
        let suffixes = Suffixes::new(b, q, e);
        for j in q..e {
            let candidate =
                b[j] == b'v' || (is_c(b[j]) && (j == q || (!is_c(b[j - 1]) && b[j - 1] != b'v')));
            if !candidate {
                continue;
            }
            if let Some(h) = head(b, j, e)
                && suffixes.completes(b, h.end, e)
            {
                let start = if j == q { p } else { j };
                return Some(RangeMatch {
                    start,
                    end,
                    low: (j, e),
                    high,
                });
            }
        }
        p = e;
    }
    None
}

/// `\s+-\s+(CV)\s*` after the first version: the second version's range and the match end.
fn range_tail(b: &[u8], e: usize) -> Option<((usize, usize), usize)> {
    let w1 = skip_ws(b, e);
    if w1 == e || b.get(w1) != Some(&b'-') {
        return None;
    }
    let k = w1 + 1;
    let w2 = skip_ws(b, k);
    if w2 == k {
        return None;
    }
    let high_end = cv_greedy(b, w2)?;
    Some(((w2, high_end), skip_ws(b, high_end)))
}

/// Masterminds `rewriteRange`: every `A - B` becomes `>= A, <= B `, replacing the first
/// occurrence of each matched text in turn (Go `strings.Replace(o, match, t, 1)`).
fn rewrite_range(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut matches = Vec::new();
    let mut p = 0;
    while let Some(m) = find_range(b, p) {
        p = m.end;
        matches.push(m);
    }
    if matches.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = s.to_owned();
    for m in matches {
        let text = &s[m.start..m.end];
        let replacement = format!(
            ">= {}, <= {} ",
            &s[m.low.0..m.low.1],
            &s[m.high.0..m.high.1]
        );
        out = out.replacen(text, &replacement, 1);
    }
    Cow::Owned(out)
}

/// Splits one `||` segment into comparisons, or `None` when Masterminds'
/// `validConstraintRegex` rejects it: `\s*OP\s*CV\s*` items separated by whitespace or by a
/// comma with optional surrounding whitespace.
fn tokenize(segment: &str) -> Option<Vec<(Op, &str)>> {
    let b = segment.as_bytes();
    let n = b.len();
    let mut items = Vec::new();
    let mut i = skip_ws(b, 0);
    loop {
        let (op, len) = Op::read(&b[i..]);
        i = skip_ws(b, i + len);
        let start = i;
        while i < n && !is_ws(b[i]) && b[i] != b',' {
            i += 1;
        }
        if i == start {
            return None;
        }
        cv_full(b, start, i)?;
        items.push((op, &segment[start..i]));
        i = skip_ws(b, i);
        if i == n {
            return Some(items);
        }
        if b[i] == b',' {
            i = skip_ws(b, i + 1);
        }
    }
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

/// Masterminds `parseConstraint` for one already-validated comparison.
fn parse_item(op: Op, cv: &str) -> Result<Item, InvalidVersion> {
    let b = cv.as_bytes();
    let (h, pre) = cv_full(b, 0, b.len()).ok_or_else(|| InvalidVersion::Malformed {
        input: cv.to_owned(),
    })?;
    let text = |r: (usize, usize)| &cv[r.0..r.1];
    let (major, minor, patch, pre) = (text(h.major), text(h.minor), text(h.patch), text(pre));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let expanded: Cow<'_, str> = if is_x(major) {
        dirty = true;
        Cow::Owned(format!("0.0.0{pre}"))
    } else if minor.is_empty() || is_x(minor) {
        dirty = true;
        minor_dirty = true;
        Cow::Owned(format!("{major}.0.0{pre}"))
    } else if patch.is_empty() || is_x(patch) {
        dirty = true;
        patch_dirty = true;
        Cow::Owned(format!("{major}.{minor}.0{pre}"))
    } else {
        Cow::Borrowed(cv)
    };
    let con = Version::parse(&expanded)?;
    Ok(Item {
        op,
        orig: cv.to_owned(),
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    /// Parses a constraint as Masterminds `NewConstraint` does (see the [module docs](self)).
    ///
    /// An empty or whitespace-only string is an error here, as in Masterminds; "no
    /// constraint" is expressed by not calling this (see [`best_tag`](crate::best_tag)).
    pub fn parse(input: &str) -> Result<Self, InvalidConstraint> {
        let rewritten = rewrite_range(input);
        let mut groups = Vec::new();
        for segment in rewritten.split("||") {
            let tokens = tokenize(segment).ok_or_else(|| InvalidConstraint::Improper {
                input: input.to_owned(),
                segment: segment.to_owned(),
            })?;
            let mut items = Vec::with_capacity(tokens.len());
            for (op, cv) in tokens {
                let item = parse_item(op, cv).map_err(|source| InvalidConstraint::BadVersion {
                    input: input.to_owned(),
                    comparison: format!("{}{cv}", op.as_str()),
                    source,
                })?;
                items.push(item);
            }
            let contains_pre = items.iter().any(|i| !i.con.prerelease().is_empty());
            groups.push(Group {
                items,
                contains_pre,
            });
        }
        Ok(Self {
            input: input.to_owned(),
            groups,
        })
    }

    /// The text this constraint was parsed from.
    pub fn as_str(&self) -> &str {
        &self.input
    }

    /// Whether `version` satisfies the constraint (Masterminds `Check`).
    pub fn matches(&self, version: &Version) -> bool {
        self.matches_key(version.key())
    }

    pub(crate) fn matches_key(&self, v: Key<'_>) -> bool {
        self.groups
            .iter()
            .any(|g| g.items.iter().all(|i| i.check(v, g.contains_pre)))
    }
}

impl fmt::Display for Constraint {
    /// Masterminds `String()`: comparisons as written, without inner spaces, joined by a
    /// space within a group and by ` || ` between groups.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (gi, group) in self.groups.iter().enumerate() {
            if gi > 0 {
                f.write_str(" || ")?;
            }
            for (ii, item) in group.items.iter().enumerate() {
                if ii > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{}{}", item.op.as_str(), item.orig)?;
            }
        }
        Ok(())
    }
}

impl FromStr for Constraint {
    type Err = InvalidConstraint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward (quadratic) reading of the range regex, to check the linear scanner.
    fn find_range_naive(b: &[u8], p0: usize) -> Option<(usize, usize)> {
        for p in p0..b.len() {
            let q = skip_ws(b, p);
            if q == b.len() {
                return None;
            }
            let e = (q..b.len()).find(|&i| is_ws(b[i])).unwrap_or(b.len());
            if cv_full(b, q, e).is_some()
                && let Some((_, end)) = range_tail(b, e)
            {
                return Some((p, end));
            }
        }
        None
    }

    #[test]
    fn linear_range_scanner_agrees_with_naive_reading() {
        let cases = [
            "1.2 - 2.3",
            ">=1.0 - 2.0",
            "a1.0 - 2",
            "1.2.3.4 - 5",
            "xv1.0 - 2",
            "1v2 - 3",
            "1-a.b+c - 2",
            "1-a..b - 2 3 - 4",
            "  1 - 1 - 1 - 1",
            "1.x - v2.*-rc.1+m",
            "1 -2 - 3",
            "1- - 2",
            "1+a.b - 2 ||3 - 4",
            "99x.1 - 1",
        ];
        for case in cases {
            let b = case.as_bytes();
            let mut p = 0;
            loop {
                let fast = find_range(b, p).map(|m| (m.start, m.end));
                assert_eq!(fast, find_range_naive(b, p), "{case:?} from {p}");
                match fast {
                    Some((_, end)) => p = end,
                    None => break,
                }
            }
        }
    }

    #[test]
    fn range_rewrite_matches_go_replace_first_semantics() {
        assert_eq!(rewrite_range("1.2 - 2.3"), ">= 1.2, <= 2.3 ");
        // Go replaces the first occurrence of each match text, which for repeated ranges is
        // not necessarily where the regex found it.
        assert_eq!(rewrite_range("1 - 1 - 1 - 1"), ">= 1, <=>= 1, <= 1  - 1");
        assert_eq!(rewrite_range("1 - 2||3"), ">= 1, <= 2||3 ");
        assert_eq!(rewrite_range("1.2 -2.3"), "1.2 -2.3");
    }

    #[test]
    fn pipes_inside_versions_behave_like_masterminds() {
        // `[0-9|x|X|\*]` admits '|', so "1 - 2||3" rewrites to ">= 1, <= 2||3 ", which then
        // splits into two groups.
        let c = Constraint::parse("1 - 2||3").unwrap();
        assert_eq!(c.to_string(), ">=1 <=2 || 3");
        let err = Constraint::parse("1|2").unwrap_err();
        assert_eq!(err.reason(), "constraint parser error");
    }
}
