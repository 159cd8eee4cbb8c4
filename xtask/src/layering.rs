//! `cargo xtask layering`: the dependency-direction invariant.
//!
//! Every workspace crate has a layer; a crate may depend (normal, build or dev) only on
//! crates in strictly lower layers. `pacto-test-support` sits below everything, may be
//! used only as a dev-dependency, and depends on no pacto crate itself.

use crate::{Result, cargo};
use serde_json::Value;

/// Bottom to top. The index is the layer.
pub(crate) const LAYERS: &[&str] = &[
    "pacto-test-support",
    "pacto-ref",
    "pacto-contract",
    "pacto-fs",
    "pacto-archive",
    "pacto-artifact",
    "pacto-auth",
    "pacto-registry",
    "pacto-cache",
    "pacto-resolver",
    "pacto-oci",
    "pacto-oci-cli",
    "pacto-e2e",
];

/// Workspace members outside the layering (automation only, never depended on).
const UNLAYERED: &[&str] = &["xtask"];

/// Crates that may only ever be dev-dependencies.
const DEV_ONLY: &[&str] = &["pacto-test-support"];

/// One dependency edge between workspace crates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) from: String,
    pub(crate) to: String,
    /// `normal`, `dev` or `build`.
    pub(crate) kind: String,
}

pub(crate) fn task() -> Result {
    let out = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
    let (members, edges) = workspace_edges(&meta)?;
    let violations = check(&members, &edges);
    if violations.is_empty() {
        eprintln!(
            "xtask: layering ok ({} crates, {} internal edges)",
            members.len(),
            edges.len()
        );
        Ok(())
    } else {
        Err(format!(
            "dependency layering violated:\n  {}\n(the layers, bottom to top: {})",
            violations.join("\n  "),
            LAYERS.join(" -> ")
        ))
    }
}

/// The workspace members and every dependency edge between them.
fn workspace_edges(meta: &Value) -> Result<(Vec<String>, Vec<Edge>)> {
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata has no packages")?;
    let members: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = Vec::new();
    for package in packages {
        let from = package["name"].as_str().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let to = dep["name"].as_str().unwrap_or_default();
            if members.iter().any(|m| m == to) {
                edges.push(Edge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    kind: dep["kind"].as_str().unwrap_or("normal").to_owned(),
                });
            }
        }
    }
    Ok((members, edges))
}

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

/// Every rule broken by `edges`, one message per offending edge or crate.
pub(crate) fn check(members: &[String], edges: &[Edge]) -> Vec<String> {
    let mut violations = Vec::new();
    for member in members {
        if layer(member).is_none() && !UNLAYERED.contains(&member.as_str()) {
            violations.push(format!(
                "crate `{member}` has no layer: add it to LAYERS in xtask/src/layering.rs"
            ));
        }
    }
    for edge in edges {
        let Edge { from, to, kind } = edge;
        if UNLAYERED.contains(&to.as_str()) {
            violations.push(format!(
                "`{from}` depends on `{to}`, which is automation only"
            ));
            continue;
        }
        if DEV_ONLY.contains(&to.as_str()) && kind != "dev" {
            violations.push(format!(
                "`{from}` -> `{to}` ({kind}): `{to}` may only be a dev-dependency"
            ));
        }
        if UNLAYERED.contains(&from.as_str()) {
            continue;
        }
        match (layer(from), layer(to)) {
            (Some(f), Some(t)) if t >= f => violations.push(format!(
                "`{from}` (layer {f}) -> `{to}` (layer {t}, {kind}-dependency): \
                 a crate may depend only on crates below it"
            )),
            _ => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, to: &str, kind: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind: kind.into(),
        }
    }

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn downward_edges_pass() {
        let m = members(&[
            "pacto-ref",
            "pacto-contract",
            "pacto-archive",
            "pacto-test-support",
        ]);
        let e = [
            edge("pacto-contract", "pacto-ref", "normal"),
            edge("pacto-archive", "pacto-contract", "normal"),
            edge("pacto-archive", "pacto-test-support", "dev"),
        ];
        assert_eq!(check(&m, &e), Vec::<String>::new());
    }

    #[test]
    fn upward_dev_edge_is_named() {
        let m = members(&["pacto-ref", "pacto-archive"]);
        let v = check(&m, &[edge("pacto-ref", "pacto-archive", "dev")]);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].contains("`pacto-ref` (layer 1) -> `pacto-archive`"),
            "{v:?}"
        );
    }

    #[test]
    fn same_layer_edge_is_refused() {
        let m = members(&["pacto-ref"]);
        let v = check(&m, &[edge("pacto-ref", "pacto-ref", "normal")]);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn test_support_only_as_dev_dependency() {
        let m = members(&["pacto-registry", "pacto-test-support", "pacto-ref"]);
        let v = check(
            &m,
            &[
                edge("pacto-registry", "pacto-test-support", "normal"),
                edge("pacto-test-support", "pacto-ref", "normal"),
            ],
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("may only be a dev-dependency"));
        assert!(v[1].contains("`pacto-test-support` (layer 0) -> `pacto-ref`"));
    }

    #[test]
    fn unknown_crate_must_be_placed() {
        let v = check(&members(&["pacto-new"]), &[]);
        assert!(v[0].contains("`pacto-new` has no layer"));
    }

    #[test]
    fn the_real_workspace_is_layered() {
        // Same check as `cargo xtask layering`, so `cargo test` alone also catches a wrong arrow.
        task().expect("workspace layering");
    }
}
