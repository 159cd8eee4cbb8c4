//! `parse`: the contract model, required fields, errors with positions, and bounds.

use pacto_contract::{
    ALIAS_REPLAY_BUDGET, Contract, ContractError, Owner, Scaling, Service, parse,
};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const FULL: &str = r#"pactoVersion: "1.0"
service:
  name: orders
  version: 3.4.1
  owner: team/fulfilment
  image:
    ref: registry.example.com/shop/orders:3.4.1
    private: true
interfaces:
  - name: public-api
    type: http
    port: 8443
    visibility: public
    contract: api/openapi.yaml
  - name: order-events
    type: event
    visibility: internal
    contract: api/events.yaml
configuration:
  schema: config/schema.json
dependencies:
  - ref: registry.example.com/shop/payments@sha256:0123
    required: true
    compatibility: "^2.0.0"
  - ref: registry.example.com/shop/mailer:1.0.0
    compatibility: "~1.0.0"
runtime:
  workload: service
  state:
    type: stateful
    persistence:
      scope: shared
      durability: persistent
    dataCriticality: high
  lifecycle:
    upgradeStrategy: rolling
    gracefulShutdownSeconds: 20
  health:
    interface: public-api
    path: /healthz
    initialDelaySeconds: 5
scaling:
  min: 2
  max: 8
metadata:
  tier: gold
  labels: [a, b]
"#;

fn minimal(extra: &str) -> String {
    format!("pactoVersion: '1.0'\nservice:\n  name: svc\n  version: 1.0.0\n{extra}")
}

#[test]
fn full_v1_contract_parses_into_the_model() {
    let c = parse(FULL.as_bytes()).unwrap();
    assert_eq!(c.pacto_version, "1.0");
    assert_eq!(c.service.name, "orders");
    assert_eq!(c.service.version, "3.4.1");
    assert_eq!(c.service.owner, Some(Owner::Name("team/fulfilment".into())));
    let image = c.service.image.as_ref().unwrap();
    assert_eq!(image.reference, "registry.example.com/shop/orders:3.4.1");
    assert!(image.private);
    assert_eq!(c.interfaces.len(), 2);
    assert_eq!(c.interfaces[0].name, "public-api");
    assert_eq!(c.interfaces[0].kind, "http");
    assert_eq!(c.interfaces[0].port, Some(8443));
    assert_eq!(c.interfaces[0].visibility.as_deref(), Some("public"));
    assert_eq!(
        c.interfaces[0].contract.as_deref(),
        Some("api/openapi.yaml")
    );
    assert_eq!(c.interfaces[1].port, None);
    assert_eq!(
        c.configuration.as_ref().unwrap().schema,
        "config/schema.json"
    );
    assert_eq!(c.dependencies.len(), 2);
    assert!(c.dependencies[0].required);
    assert!(!c.dependencies[1].required);
    assert_eq!(c.dependencies[1].compatibility, "~1.0.0");
    let runtime = c.runtime.as_ref().unwrap();
    assert_eq!(runtime.workload, "service");
    let state = runtime.state.as_ref().unwrap();
    assert_eq!(state.kind, "stateful");
    assert_eq!(state.data_criticality, "high");
    assert_eq!(state.persistence.as_ref().unwrap().durability, "persistent");
    let lifecycle = runtime.lifecycle.as_ref().unwrap();
    assert_eq!(lifecycle.upgrade_strategy.as_deref(), Some("rolling"));
    assert_eq!(lifecycle.graceful_shutdown_seconds, Some(20));
    let health = runtime.health.as_ref().unwrap();
    assert_eq!(health.interface, "public-api");
    assert_eq!(health.initial_delay_seconds, Some(5));
    let scaling = c.scaling.as_ref().unwrap();
    assert_eq!((scaling.min, scaling.max), (2, 8));
    let metadata = c.metadata.as_ref().unwrap();
    assert_eq!(metadata["tier"], "gold");
    assert_eq!(metadata["labels"], serde_json::json!(["a", "b"]));
    assert!(c.extra.is_empty());
    assert_eq!(Contract::parse(FULL.as_bytes()).unwrap(), c);
}

#[test]
fn minimal_contract_has_empty_optional_sections() {
    let c = parse(minimal("").as_bytes()).unwrap();
    let expected = Contract {
        pacto_version: "1.0".into(),
        service: Service {
            name: "svc".into(),
            version: "1.0.0".into(),
            ..Service::default()
        },
        ..Contract::default()
    };
    assert_eq!(c, expected);
}

#[test]
fn unquoted_numbers_in_string_fields_keep_their_spelling() {
    let c = parse(b"pactoVersion: 1.0\nservice:\n  name: 42\n  version: 2.10\n").unwrap();
    assert_eq!(c.pacto_version, "1.0");
    assert_eq!(c.service.name, "42");
    assert_eq!(c.service.version, "2.10");
}

#[test]
fn required_fields_are_reported_by_path() {
    let table = [
        ("service:\n  name: a\n  version: 1.0.0\n", "pactoVersion"),
        (
            "pactoVersion: ''\nservice:\n  name: a\n  version: 1.0.0\n",
            "pactoVersion",
        ),
        (
            "pactoVersion: ~\nservice:\n  name: a\n  version: 1.0.0\n",
            "pactoVersion",
        ),
        ("pactoVersion: '1.0'\n", "service.name"),
        ("pactoVersion: '1.0'\nservice: ~\n", "service.name"),
        (
            "pactoVersion: '1.0'\nservice:\n  version: 1.0.0\n",
            "service.name",
        ),
        (
            "pactoVersion: '1.0'\nservice:\n  name: null\n  version: 1.0.0\n",
            "service.name",
        ),
        (
            "pactoVersion: '1.0'\nservice:\n  name: a\n",
            "service.version",
        ),
        (
            "pactoVersion: '1.0'\nservice:\n  name: a\n  version: ''\n",
            "service.version",
        ),
        ("{}", "pactoVersion"),
    ];
    for (yaml, path) in table {
        let err = parse(yaml.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, ContractError::MissingField { path: p, .. } if p == path),
            "yaml {yaml:?}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("parse error at {path}: {path} is required")
        );
    }
}

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let yaml = "pactoVersion: '1.0'\nservice:\n  name: a\n  version: 1.0.0\nmetadata: {a: 1\n";
    match parse(yaml.as_bytes()).unwrap_err() {
        ContractError::Syntax {
            line,
            column,
            message,
            ..
        } => {
            assert_eq!((line, column), (5, 11), "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let bad_indent = "pactoVersion: '1.0'\nservice:\n  name: a\n version: 1.0.0\n";
    match parse(bad_indent.as_bytes()).unwrap_err() {
        ContractError::Syntax { line, .. } => assert_eq!(line, 4),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn structural_problems_are_syntax_errors() {
    let table = [
        "- a\n- b\n",
        "just a string\n",
        "pactoVersion: '1'\npactoVersion: '2'\nservice: {name: a, version: b}\n",
        "pactoVersion: '1'\nservice: {name: a, version: b}\n---\npactoVersion: '2'\n",
        "pactoVersion: *nowhere\n",
    ];
    for yaml in table {
        let err = parse(yaml.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ContractError::Syntax { line, .. } if line >= 1),
            "yaml {yaml:?}: {err:?}"
        );
    }
}

#[test]
fn wrong_types_name_the_field_and_position() {
    let yaml = minimal("interfaces:\n  - name: api\n    port: eighty\n");
    match parse(yaml.as_bytes()).unwrap_err() {
        ContractError::InvalidField {
            path, line, column, ..
        } => {
            assert_eq!(path, "interfaces[0].port");
            assert_eq!(line, 7);
            assert_eq!(column, 11);
        }
        other => panic!("expected an invalid field, got {other:?}"),
    }
    let yaml = minimal("metadata: [not, a, mapping]\n");
    assert!(matches!(
        parse(yaml.as_bytes()).unwrap_err(),
        ContractError::InvalidField { path, line: 5, .. } if path == "metadata"
    ));
    let yaml = minimal("scaling:\n  min: -1\n  max: 2\n");
    assert!(matches!(
        parse(yaml.as_bytes()).unwrap_err(),
        ContractError::InvalidField { path, .. } if path == "scaling.min"
    ));
}

#[test]
fn not_utf8_is_refused_with_its_offset() {
    let mut bytes = minimal("").into_bytes();
    bytes.extend_from_slice(b"metadata: {k: \xff}\n");
    let offset = bytes.iter().position(|b| *b == 0xff).unwrap();
    assert!(matches!(
        parse(&bytes).unwrap_err(),
        ContractError::NotUtf8 { offset: at, .. } if at == offset
    ));
}

#[test]
fn unknown_fields_are_kept_at_every_level() {
    let yaml = minimal(
        "futureSection:\n  enabled: true\nservice2: x\ninterfaces:\n  - name: api\n    type: http\n    ref: api.yaml\nscaling:\n  replicas: 2\n  autoscaler: hpa\n",
    )
    .replace("  version: 1.0.0\n", "  version: 1.0.0\n  tier: gold\n");
    let c = parse(yaml.as_bytes()).unwrap();
    assert_eq!(
        c.extra["futureSection"],
        serde_json::json!({"enabled": true})
    );
    assert_eq!(c.extra["service2"], "x");
    assert_eq!(c.service.extra["tier"], "gold");
    assert_eq!(c.interfaces[0].extra["ref"], "api.yaml");
    assert_eq!(c.scaling.as_ref().unwrap().extra["autoscaler"], "hpa");
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["futureSection"]["enabled"], true);
    assert_eq!(json["service"]["tier"], "gold");
    assert_eq!(
        json["scaling"],
        serde_json::json!({"min": 2, "max": 2, "autoscaler": "hpa"})
    );
    let back: Contract = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn structured_owner_of_newer_versions_is_kept() {
    let yaml = minimal("").replace(
        "  version: 1.0.0\n",
        "  version: 1.0.0\n  owner:\n    team: foundations\n    dri: someone\n",
    );
    let c = parse(yaml.as_bytes()).unwrap();
    let owner = c.service.owner.unwrap();
    assert_eq!(owner.as_str(), None);
    match owner {
        Owner::Structured(map) => assert_eq!(map["team"], "foundations"),
        Owner::Name(name) => panic!("expected the structured form, got {name}"),
    }
}

#[test]
fn scaling_replicas_is_normalised() {
    type Expected = Result<(u32, u32), &'static str>;
    let table: [(&str, Expected); 6] = [
        ("replicas: 3", Ok((3, 3))),
        ("min: 1\n  max: 4", Ok((1, 4))),
        ("replicas: 2\n  min: 2\n  max: 2", Ok((2, 2))),
        ("replicas: 2\n  max: 5", Err("replicas (2) disagrees")),
        ("min: 1", Err("needs replicas, or both min and max")),
        ("{}", Err("needs replicas, or both min and max")),
    ];
    for (body, expected) in table {
        let yaml = minimal(&format!("scaling:\n  {body}\n"));
        match (parse(yaml.as_bytes()), expected) {
            (Ok(c), Ok((min, max))) => {
                let Scaling {
                    min: got_min,
                    max: got_max,
                    ..
                } = c.scaling.unwrap();
                assert_eq!((got_min, got_max), (min, max), "{body}");
            }
            (Err(ContractError::InvalidField { path, message, .. }), Err(fragment)) => {
                assert_eq!(path, "scaling", "{body}");
                assert!(message.contains(fragment), "{body}: {message}");
            }
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut yaml =
        minimal("metadata:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let prev = level - 1;
        let refs = vec![format!("*l{prev}"); 10].join(", ");
        writeln!(yaml, "  l{level}: &l{level} [{refs}]").unwrap();
    }
    let started = Instant::now();
    let err = parse(yaml.as_bytes()).unwrap_err();
    assert!(matches!(err, ContractError::TooComplex { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn moderate_alias_use_is_fine() {
    // One anchor reused 500 times: within the replay budget, and no ratio heuristic.
    let mut yaml = minimal("metadata:\n  base: &base {cpu: 1, memory: 2Gi}\n  uses:\n");
    for _ in 0..500 {
        yaml.push_str("    - *base\n");
    }
    let c = parse(yaml.as_bytes()).unwrap();
    assert_eq!(c.metadata.unwrap()["uses"].as_array().unwrap().len(), 500);
    const { assert!(500 * 5 < ALIAS_REPLAY_BUDGET) };
}

#[test]
fn deep_nesting_is_refused() {
    let depth = 200;
    let yaml = minimal(&format!(
        "deep: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    ));
    let err = parse(yaml.as_bytes()).unwrap_err();
    assert!(matches!(err, ContractError::TooComplex { .. }), "{err:?}");
}

#[test]
fn huge_but_legal_contract_parses() {
    // About 9 MiB (under the 10 MiB per-file limit of bundles), 600k nodes: more than
    // the YAML crate's default node budget, which therefore has to grow with the input.
    let mut yaml = minimal("metadata:\n");
    let mut i = 0u32;
    while yaml.len() < 9 * 1024 * 1024 {
        writeln!(yaml, "  key-{i:07}: value number {i:07}").unwrap();
        i += 1;
    }
    let c = parse(yaml.as_bytes()).unwrap();
    assert_eq!(c.metadata.unwrap().len(), i as usize);
    assert!(i > 250_000, "{i} keys");
}
