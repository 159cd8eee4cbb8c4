//! The shared vocabulary as a downstream crate names it through the facade: `Digest`
//! (parsed, inspected, serialised, refused with a typed error) and Go's `PactoConfigDir`.

use pacto_oci::refs::{Digest, DigestAlgorithm, InvalidDigest};

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn a_digest_parses_shows_its_parts_and_round_trips_through_serde() {
    let digest: Digest = EMPTY.parse().expect("a valid digest");
    assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
    assert_eq!(digest.hex(), &EMPTY["sha256:".len()..]);
    assert_eq!(digest.to_string(), EMPTY);
    let json = serde_json::to_string(&digest).expect("serialises");
    assert_eq!(json, format!("\"{EMPTY}\""));
    let back: Digest = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, digest);
    // What a pushed manifest's digest is, computed by the layer that hashes.
    assert_eq!(pacto_oci::fs::sha256(b""), digest);
}

#[test]
fn a_malformed_digest_is_a_typed_error_also_when_deserialised() {
    for bad in [
        "e3b0c442",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0",
    ] {
        let error: InvalidDigest = bad.parse::<Digest>().expect_err(bad);
        assert!(error.to_string().contains(bad), "{error}");
        assert!(serde_json::from_str::<Digest>(&format!("\"{bad}\"")).is_err());
    }
}

#[test]
fn the_pacto_config_dir_is_where_go_pacto_keeps_its_config() {
    let dir = pacto_oci::auth::pacto_config_dir().expect("a home directory");
    assert_eq!(
        pacto_oci::auth::pacto_config_path().expect("a home directory"),
        dir.join("config.json")
    );
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute());
    let expected = match xdg {
        Some(config_home) => config_home.join("pacto"),
        None => {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".config/pacto")
        }
    };
    assert_eq!(dir, expected);
}
