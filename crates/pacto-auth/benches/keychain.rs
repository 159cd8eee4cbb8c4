//! Cost of registry normalisation and of a warm keychain lookup (explicit
//! credentials plus a pacto config file read, as every pull pays it).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pacto_auth::{
    CredentialOptions, Keychain, KeychainConfig, PactoConfigFile, Secret, normalize_registry,
};

fn normalisation(c: &mut Criterion) {
    let inputs = [
        "ghcr.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
        "Registry.Example.com:5000/org/repo",
    ];
    c.bench_function("normalize_registry", |b| {
        b.iter(|| {
            for input in inputs {
                black_box(normalize_registry(black_box(input)));
            }
        });
    });
}

fn candidates(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("cannot create a temporary directory: {err}"),
    };
    let config = dir.path().join("pacto/config.json");
    let file = PactoConfigFile::at(&config);
    for i in 0..20 {
        let login = file.login(
            &format!("registry{i}.example.com"),
            "user",
            &Secret::new("pass"),
        );
        if let Err(err) = login {
            panic!("cannot write the bench config: {err}");
        }
    }
    let keychain = Keychain::with_config(
        CredentialOptions::default().with_token("token"),
        KeychainConfig::default()
            .with_pacto_config(config)
            .with_docker_config_dir(dir.path().join("docker"))
            .with_gh(false),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => panic!("cannot build a tokio runtime: {err}"),
    };
    c.bench_function("candidates (explicit + pacto login)", |b| {
        b.iter(|| runtime.block_on(keychain.candidates(black_box("registry7.example.com"))));
    });
}

criterion_group!(benches, normalisation, candidates);
criterion_main!(benches);
