//! Every public async function's future is `Send`, so a downstream crate can spawn it or
//! await it in an axum handler. The functions below are never called: compiling them is the
//! test.

#![allow(
    dead_code,
    reason = "compiled, never run: the type check is the assertion"
)]

use pacto_oci::archive::Limits;
use pacto_oci::auth::Keychain;
use pacto_oci::cache::CachedStore;
use pacto_oci::refs::{ArtifactRef, Registry, TagLister};
use pacto_oci::registry::{AnyStore, BundleStore, LayoutStore, PushOptions, RegistryClient};
use pacto_oci::resolver::Resolver;
use pacto_oci::{Bundle, Client, ResolveMode, Secret};
use std::path::Path;

fn assert_send<T: Send>(_: T) {}

fn facade(client: &Client, bundle: &Bundle, packed: &pacto_oci::PackedBundle, password: &Secret) {
    assert_send(client.push("r", bundle, false));
    assert_send(client.push_dir(Path::new("d"), "r", false));
    assert_send(client.pack_dir(Path::new("d"), |_| {}));
    assert_send(client.pull("r", "^1", ResolveMode::RemoteAllowed));
    assert_send(client.resolve("r", "^1", ResolveMode::RemoteAllowed));
    assert_send(client.versions("r"));
    assert_send(client.fetch_all("r"));
    assert_send(client.login("r", "u", password));
    assert_send(client.push_packed("r", packed, false));
}

fn resolver(resolver: &Resolver<AnyStore>, reference: &ArtifactRef) {
    assert_send(resolver.resolve("r", ResolveMode::LocalOnly));
    assert_send(resolver.resolve_constrained("r", "^1", ResolveMode::LocalOnly));
    assert_send(resolver.resolve_pinned("r", "^1", ResolveMode::LocalOnly));
    assert_send(resolver.resolve_ref(reference, "^1", ResolveMode::LocalOnly));
    assert_send(resolver.locate("r", "^1", ResolveMode::RemoteAllowed));
    assert_send(resolver.list_versions("r"));
    assert_send(resolver.fetch_all_versions("r"));
}

fn cache(cache: &CachedStore<AnyStore>, reference: &ArtifactRef) {
    assert_send(cache.pull_local(reference));
    assert_send(cache.local_tags(reference));
    assert_send(cache.entries());
    assert_send(cache.verify());
    assert_send(cache.prune(0));
    assert_send(cache.clear());
    assert_send(cache.scratch_dir("push-"));
    store(cache, reference);
}

fn store<S: BundleStore>(store: &S, reference: &ArtifactRef) {
    let bundle: Option<&Bundle> = None;
    if let Some(bundle) = bundle {
        assert_send(store.push(reference, bundle, PushOptions::default()));
    }
    let layer: Option<&pacto_oci::registry::PackedLayerFile> = None;
    if let Some(layer) = layer {
        assert_send(store.push_layer_file(reference, layer, PushOptions::default()));
    }
    assert_send(store.pull_pinned(reference));
    assert_send(store.pull(reference));
    assert_send(store.resolve(reference));
    assert_send(store.list_tags(reference));
}

fn stores(
    registry: &RegistryClient,
    layout: &LayoutStore,
    any: &AnyStore,
    host: &Registry,
    reference: &ArtifactRef,
) {
    assert_send(registry.check_credentials(host, pacto_oci::auth::Credential::basic("u", "p")));
    store(registry, reference);
    store(layout, reference);
    store(any, reference);
}

fn refs<L: TagLister>(lister: &L, reference: &ArtifactRef) {
    assert_send(pacto_oci::refs::resolve_ref(lister, reference, "^1"));
}

fn auth(keychain: &Keychain) {
    assert_send(keychain.candidates("ghcr.io"));
}

fn archive(bundle: &Bundle, bytes: &[u8], limits: &Limits, path: &Path) {
    assert_send(pacto_oci::archive::pack(bundle, limits));
    assert_send(pacto_oci::archive::pack_to_file(bundle, path, limits));
    assert_send(pacto_oci::archive::pack_to_file_with_progress(
        bundle,
        path,
        limits,
        |_| {},
    ));
    assert_send(pacto_oci::archive::pack_to_writer(
        bundle,
        Vec::new(),
        limits,
    ));
    assert_send(pacto_oci::archive::pack_dir_to_file(
        path,
        path,
        limits,
        |_| {},
    ));
    assert_send(pacto_oci::archive::unpack(bytes, limits));
    assert_send(pacto_oci::archive::unpack_bytes(bytes, limits));
}
