//! The files a contract references must be in the bundle (for validate, pack and push).

use bytes::Bytes;
use pacto_contract::{Bundle, FileReference, check_references, parse};
use std::collections::BTreeMap;

const YAML: &str = "pactoVersion: \"1.0\"
service:
  name: payments
  version: 1.0.0
interfaces:
  - name: api
    type: http
    contract: ./api/openapi.yaml
  - name: events
    type: event
    contract: api/events.yaml
  - name: metrics
    type: http
configuration:
  schema: config/schema.json
";

#[test]
fn references_are_the_interface_contracts_and_the_configuration_schema() {
    let contract = parse(YAML.as_bytes()).unwrap();
    let fields: Vec<(String, String)> = contract
        .file_references()
        .into_iter()
        .map(|r| (r.field, r.path))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "interfaces[0].contract".to_owned(),
                "./api/openapi.yaml".to_owned()
            ),
            (
                "interfaces[1].contract".to_owned(),
                "api/events.yaml".to_owned()
            ),
            (
                "configuration.schema".to_owned(),
                "config/schema.json".to_owned()
            ),
        ]
    );
}

#[test]
fn every_missing_file_is_named_with_its_field() {
    let mut files: BTreeMap<String, Bytes> = BTreeMap::new();
    files.insert("pacto.yaml".into(), Bytes::from(YAML));
    files.insert("api/openapi.yaml".into(), Bytes::from("openapi: 3.0.0\n"));
    let bundle = Bundle::from_files(files.clone()).unwrap();
    let error = bundle.check_references().unwrap_err();
    let missing: Vec<(&str, &str)> = error
        .missing
        .iter()
        .map(|r: &FileReference| (r.field.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        missing,
        [
            ("interfaces[1].contract", "api/events.yaml"),
            ("configuration.schema", "config/schema.json"),
        ]
    );
    assert_eq!(
        error.to_string(),
        "pacto.yaml references 2 files the bundle does not hold: api/events.yaml \
         (interfaces[1].contract), config/schema.json (configuration.schema)"
    );

    files.insert("api/events.yaml".into(), Bytes::from("asyncapi: 2.6.0\n"));
    files.insert("config/schema.json".into(), Bytes::from("{}"));
    let bundle = Bundle::from_files(files).unwrap();
    assert_eq!(bundle.check_references(), Ok(()));
    let contract = parse(YAML.as_bytes()).unwrap();
    assert!(check_references(&contract, ["pacto.yaml"]).is_err());
}
