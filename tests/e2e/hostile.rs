//! Hostile artifacts, placed in a real registry by raw HTTP (nothing of pacto's shapes
//! them), pulled by the real binary.
//!
//! Every case must end in exit code 6 (`invalid_bundle`) with a message naming the rule, write
//! no file anywhere (the output directory absent, nothing else in the sandbox), and leave no
//! cache entry for the reference. The table is [`cases`]; [`hostile_artifacts_are_refused`]
//! runs every case and reports all failures at once.

use crate::common::{FakeServer, Kind, Reply, Run, Sandbox};
use flate2::Compression;
use flate2::write::GzEncoder;
use pacto_test_support::{TestRegistry, digest, push_raw};
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

/// OCI image manifest media type.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.pacto.bundle.layer.v1.tar+gzip";
const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Archives built byte by byte.

/// One piece of an archive: literal bytes, or a run of zero bytes (a whole number of MiB,
/// compressed once and repeated as gzip members, so a gigabyte costs kilobytes to build).
enum Part {
    Bytes(Vec<u8>),
    ZeroMib(u64),
}

/// A tar stream written header by header: any name, type, size and extension, exactly as
/// given (no sanitising: that is the point).
pub(crate) struct Tar {
    parts: Vec<Part>,
}

/// Octal field of `width` bytes: digits, then NUL.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    assert!(
        text.len() <= width,
        "{value} does not fit a {width}-digit field"
    );
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
}

/// A ustar header block.
fn header(name: &[u8], typeflag: u8, size: u64, linkname: &[u8]) -> [u8; 512] {
    let mut block = [0u8; 512];
    assert!(name.len() <= 100, "use a PAX or GNU name for long names");
    block[..name.len()].copy_from_slice(name);
    let mode = if typeflag == b'5' { 0o755 } else { 0o644 };
    octal(&mut block[100..108], mode);
    octal(&mut block[108..116], 0);
    octal(&mut block[116..124], 0);
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], 0);
    block[156] = typeflag;
    block[157..157 + linkname.len()].copy_from_slice(linkname);
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    octal(&mut block[329..337], 0);
    octal(&mut block[337..345], 0);
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(text.as_bytes());
    block
}

/// PAX extended header records: `"%d key=value\n"`, the length counting itself.
fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}").len() + body.len() != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len}{body}").as_bytes());
    }
    out
}

impl Tar {
    pub(crate) fn new() -> Tar {
        Tar { parts: Vec::new() }
    }

    fn push(&mut self, bytes: &[u8]) {
        match self.parts.last_mut() {
            Some(Part::Bytes(last)) => last.extend_from_slice(bytes),
            _ => self.parts.push(Part::Bytes(bytes.to_vec())),
        }
    }

    /// Data padded to the next 512-byte block.
    fn data(&mut self, data: &[u8]) {
        self.push(data);
        let pad = (512 - data.len() % 512) % 512;
        self.push(&vec![0; pad]);
    }

    /// An entry with any name bytes, type flag, header size and link name, then `data`
    /// (which may disagree with the header size: the caller decides).
    pub(crate) fn raw(&mut self, name: &[u8], typeflag: u8, size: u64, link: &[u8], data: &[u8]) {
        self.push(&header(name, typeflag, size, link));
        if !data.is_empty() {
            self.data(data);
        }
    }

    /// A regular file.
    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        self.raw(name.as_bytes(), b'0', data.len() as u64, b"", data);
        self
    }

    /// A directory.
    pub(crate) fn dir(&mut self, name: &str) -> &mut Tar {
        self.raw(name.as_bytes(), b'5', 0, b"", b"");
        self
    }

    /// A link-like entry (symlink `2`, hard link `1`) or a special file (`3`, `4`, `6`).
    pub(crate) fn special(&mut self, name: &str, typeflag: u8, link: &str) -> &mut Tar {
        self.raw(name.as_bytes(), typeflag, 0, link.as_bytes(), b"");
        self
    }

    /// A regular file of `mib` MiB of zeros plus `extra` more zero bytes.
    pub(crate) fn zero_file(&mut self, name: &str, mib: u64, extra: u64) -> &mut Tar {
        let size = mib * MIB + extra;
        self.push(&header(name.as_bytes(), b'0', size, b""));
        self.parts.push(Part::ZeroMib(mib));
        if extra > 0 {
            let extra = usize::try_from(extra).expect("small extra");
            self.data(&vec![0; extra]);
        }
        self
    }

    /// A PAX header (`x` per entry, `g` global) with `records`.
    pub(crate) fn pax(&mut self, typeflag: u8, records: &[(&str, &str)]) -> &mut Tar {
        let body = pax_records(records);
        self.raw(b"PaxHeaders/entry", typeflag, body.len() as u64, b"", &body);
        self
    }

    /// The two zero blocks that end an archive.
    pub(crate) fn end(&mut self) -> &mut Tar {
        self.push(&[0; 1024]);
        self
    }

    /// The uncompressed tar (zero runs expanded: only for small archives).
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => out.extend_from_slice(bytes),
                Part::ZeroMib(mib) => {
                    out.resize(out.len() + usize::try_from(mib * MIB).expect("fits"), 0);
                }
            }
        }
        out
    }

    /// The archive as gzip: one member per literal part, and one precompressed member per
    /// MiB of zeros (concatenated members are one valid gzip stream).
    pub(crate) fn gzip(&self) -> Vec<u8> {
        static ZERO_MIB: OnceLock<Vec<u8>> = OnceLock::new();
        let zero = ZERO_MIB.get_or_init(|| gzip(&vec![0; MIB as usize]));
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => out.extend_from_slice(&gzip(bytes)),
                Part::ZeroMib(mib) => {
                    for _ in 0..*mib {
                        out.extend_from_slice(zero);
                    }
                }
            }
        }
        out
    }
}

/// One gzip member of `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// A valid `pacto.yaml` for service `name`.
pub(crate) fn contract(name: &str) -> String {
    format!("pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: 1.0.0\n")
}

/// A tar starting with a valid `pacto.yaml` for `name`.
pub(crate) fn bundle_tar(name: &str) -> Tar {
    let mut tar = Tar::new();
    tar.file("pacto.yaml", contract(name).as_bytes());
    tar
}

// ---------------------------------------------------------------------------------------
// Manifests.

/// `{"mediaType","digest","size"}`.
fn descriptor(media_type: &str, digest: &str, size: u64) -> serde_json::Value {
    serde_json::json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// A config blob naming `name`.
pub(crate) fn config(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "config": {"Labels": {"io.pacto.name": name, "io.pacto.version": "1.0.0"}},
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .expect("json")
}

/// An OCI image manifest with a config and these layer descriptors (digest, size).
pub(crate) fn manifest(config: &[u8], layers: &[(String, u64)]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|(digest, size)| descriptor(LAYER, digest, *size))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &digest(config), config.len() as u64),
        "layers": layers,
    }))
    .expect("json")
}

// ---------------------------------------------------------------------------------------
// The cases.

/// Where a case places its artifact.
pub(crate) struct Ctx<'a> {
    pub(crate) registry: &'a TestRegistry,
    pub(crate) sandbox: &'a Sandbox,
    pub(crate) name: String,
}

impl Ctx<'_> {
    fn repo(&self) -> String {
        format!("hostile/{}", self.name)
    }

    /// `HOST/hostile/NAME:1.0.0`.
    pub(crate) fn reference(&self) -> String {
        format!("{}/{}:1.0.0", self.registry.host(), self.repo())
    }

    /// Pushes `manifest` (as `media_type`) and `blobs` as tag `1.0.0`; returns the reference.
    fn push(&self, manifest: &[u8], media_type: &str, blobs: &[&[u8]]) -> String {
        push_raw(
            self.registry,
            &self.repo(),
            "1.0.0",
            media_type,
            manifest,
            blobs,
            None,
        );
        self.reference()
    }

    /// Pushes `layer` as the one layer of an otherwise valid artifact.
    pub(crate) fn push_layer(&self, layer: &[u8]) -> String {
        let config = config(&self.name);
        let manifest = manifest(&config, &[(digest(layer), layer.len() as u64)]);
        self.push(&manifest, OCI_MANIFEST, &[&config, layer])
    }

    /// Pushes the gzip of `tar` (ended) as the layer.
    fn push_tar(&self, tar: &mut Tar) -> String {
        self.push_layer(&tar.end().gzip())
    }

    /// A valid layer of this case's own bundle (unique bytes per case).
    fn valid_layer(&self) -> Vec<u8> {
        bundle_tar(&self.name)
            .file("api/openapi.yaml", b"openapi: 3.0.0\n")
            .end()
            .gzip()
    }
}

/// One hostile artifact: a name, the text the error message must contain (the rule), and
/// how to place it.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) rule: &'static str,
    pub(crate) place: fn(&Ctx<'_>) -> String,
}

macro_rules! case {
    ($name:literal, $rule:literal, $place:expr) => {
        Case {
            name: $name,
            rule: $rule,
            place: $place,
        }
    };
}

/// Every hostile case.
pub(crate) fn cases() -> Vec<Case> {
    vec![
        // Paths.
        case!("traversal-parent", "'..' path component", |c| {
            c.push_tar(bundle_tar(&c.name).file("../escape.txt", b"owned"))
        }),
        case!("traversal-nested", "'..' path component", |c| {
            c.push_tar(bundle_tar(&c.name).file("a/../../escape.txt", b"owned"))
        }),
        case!("traversal-dot-prefix", "'..' path component", |c| {
            c.push_tar(bundle_tar(&c.name).file("./../escape.txt", b"owned"))
        }),
        case!("traversal-directory", "'..' path component", |c| {
            c.push_tar(bundle_tar(&c.name).dir("../escape-dir"))
        }),
        case!("absolute-path", "absolute path", |c| {
            let target = c.sandbox.path("outside/absolute.txt");
            let name = target.to_str().expect("utf-8 temp path").to_owned();
            c.push_tar(bundle_tar(&c.name).file(&name, b"owned"))
        }),
        case!("backslash-traversal", "backslash", |c| {
            c.push_tar(bundle_tar(&c.name).file("..\\escape.txt", b"owned"))
        }),
        case!("backslash-separator", "backslash", |c| {
            c.push_tar(bundle_tar(&c.name).file("api\\openapi.yaml", b"openapi"))
        }),
        case!("non-utf8-name", "not UTF-8", |c| {
            let mut tar = bundle_tar(&c.name);
            tar.raw(b"caf\xe9-\xff.txt", b'0', 2, b"", b"hi");
            c.push_tar(&mut tar)
        }),
        // Links and special files.
        case!("symlink", "is a symlink", |c| {
            c.push_tar(bundle_tar(&c.name).special("passwd", b'2', "/etc/passwd"))
        }),
        case!("symlink-then-file-through-it", "is a symlink", |c| {
            let outside = c.sandbox.path("outside");
            let link = outside.to_str().expect("utf-8 temp path").to_owned();
            c.push_tar(
                bundle_tar(&c.name)
                    .special("link", b'2', &link)
                    .file("link/escape.txt", b"owned"),
            )
        }),
        case!("symlink-relative-parent", "is a symlink", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .special("up", b'2', "../..")
                    .file("up/escape.txt", b"owned"),
            )
        }),
        case!("hardlink", "is a hard link", |c| {
            c.push_tar(bundle_tar(&c.name).special("hard", b'1', "pacto.yaml"))
        }),
        case!("hardlink-outside", "is a hard link", |c| {
            c.push_tar(bundle_tar(&c.name).special("hard", b'1', "/etc/passwd"))
        }),
        case!("character-device", "is a character device", |c| {
            c.push_tar(bundle_tar(&c.name).special("null", b'3', ""))
        }),
        case!("block-device", "is a block device", |c| {
            c.push_tar(bundle_tar(&c.name).special("disk", b'4', ""))
        }),
        case!("fifo", "is a fifo", |c| {
            c.push_tar(bundle_tar(&c.name).special("pipe", b'6', ""))
        }),
        // Limits.
        case!(
            "file-over-10mib",
            "over the 10485760-byte file limit",
            |c| { c.push_tar(bundle_tar(&c.name).zero_file("big.bin", 10, 1)) }
        ),
        case!(
            "total-over-50mib",
            "over its 52428800-byte total size limit",
            |c| {
                let mut tar = bundle_tar(&c.name);
                for i in 0..6 {
                    tar.zero_file(&format!("part-{i}.bin"), 9, 0);
                }
                c.push_tar(&mut tar)
            }
        ),
        case!("too-many-entries", "more than 10000 entries", |c| {
            let mut tar = bundle_tar(&c.name);
            for i in 0..10_001 {
                tar.file(&format!("f/{i}"), b"");
            }
            c.push_tar(&mut tar)
        }),
        case!("gzip-bomb-1gib", "total size limit", |c| {
            // 1 GiB of zeros in about 1 MiB of gzip: refused after at most the 50 MiB limit.
            let mut tar = bundle_tar(&c.name);
            for i in 0..100 {
                tar.zero_file(&format!("bomb-{i}.bin"), 10, 0);
            }
            c.push_tar(&mut tar)
        }),
        case!("duplicate-path", "two entries for \"api.yaml\"", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .file("api.yaml", b"first")
                    .file("api.yaml", b"second"),
            )
        }),
        case!(
            "duplicate-contract",
            "two entries for \"pacto.yaml\"",
            |c| {
                let mut tar = bundle_tar(&c.name);
                tar.file("pacto.yaml", contract("other-service").as_bytes());
                c.push_tar(&mut tar)
            }
        ),
        case!("file-then-directory", "is below", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .file("api", b"a file")
                    .file("api/openapi.yaml", b"openapi"),
            )
        }),
        // Extensions (TARmageddon class).
        case!("pax-path-traversal", "overrides", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .pax(b'x', &[("path", "../escape.txt")])
                    .file("innocent.txt", b"owned"),
            )
        }),
        case!("pax-path-rename", "overrides", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .pax(b'x', &[("path", "pacto.yaml")])
                    .file("innocent.txt", b"pactoVersion: smuggled\n"),
            )
        }),
        case!(
            "pax-size-hides-entry",
            "PAX size of 0 bytes but a header size",
            |c| {
                // A reader honouring the PAX size sees an empty file and then, in its data, a
                // smuggled entry; one honouring the header sees one file.
                let mut smuggled = header(b"smuggled.txt", b'0', 5, b"").to_vec();
                smuggled.extend_from_slice(b"owned");
                smuggled.resize(1024, 0);
                let mut tar = bundle_tar(&c.name);
                tar.pax(b'x', &[("size", "0")]);
                tar.raw(b"cover.txt", b'0', smuggled.len() as u64, b"", &smuggled);
                c.push_tar(&mut tar)
            }
        ),
        case!(
            "pax-size-larger",
            "PAX size of 4096 bytes but a header size",
            |c| {
                let mut tar = bundle_tar(&c.name);
                tar.pax(b'x', &[("size", "4096")]);
                tar.file("short.txt", b"short");
                tar.file("swallowed.txt", b"swallowed by the PAX size");
                c.push_tar(&mut tar)
            }
        ),
        case!("pax-global-path", "PAX record \"path\"", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .pax(b'g', &[("path", "../escape.txt")])
                    .file("x.txt", b"x"),
            )
        }),
        case!("pax-sparse", "GNU.sparse", |c| {
            c.push_tar(
                bundle_tar(&c.name)
                    .pax(
                        b'x',
                        &[("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0")],
                    )
                    .file("sparse.bin", b"data"),
            )
        }),
        case!("gnu-long-name-traversal", "overrides", |c| {
            let mut tar = bundle_tar(&c.name);
            let long = b"../escape.txt\0";
            tar.raw(b"././@LongLink", b'L', long.len() as u64, b"", long);
            tar.file("innocent.txt", b"owned");
            c.push_tar(&mut tar)
        }),
        // Streams.
        case!("truncated-gzip", "truncated", |c| {
            let layer = c.valid_layer();
            c.push_layer(&layer[..layer.len() / 2])
        }),
        case!("corrupt-gzip", "not a valid tar+gzip stream", |c| {
            let mut layer = c.valid_layer();
            let middle = layer.len() / 2;
            for byte in &mut layer[middle..middle + 8] {
                *byte ^= 0x5a;
            }
            c.push_layer(&layer)
        }),
        case!("not-gzip", "not a valid tar+gzip stream", |c| {
            let tar = bundle_tar(&c.name).end().bytes();
            c.push_layer(&tar)
        }),
        case!("trailing-garbage", "trailing data", |c| {
            let mut layer = c.valid_layer();
            layer.extend_from_slice(b"garbage after the gzip stream");
            c.push_layer(&layer)
        }),
        case!("missing-end-of-archive", "end-of-archive marker", |c| {
            c.push_layer(&gzip(&bundle_tar(&c.name).file("a.txt", b"a").bytes()))
        }),
        case!("truncated-entry", "truncated", |c| {
            let mut tar = bundle_tar(&c.name);
            tar.raw(b"cut.txt", b'0', 4096, b"", b"only a little");
            c.push_layer(&gzip(&tar.bytes()))
        }),
        // The contract.
        case!("no-pacto-yaml", "no pacto.yaml", |c| {
            let mut tar = Tar::new();
            tar.file("README.md", c.name.as_bytes());
            c.push_tar(&mut tar)
        }),
        case!("pacto-yaml-not-yaml", "not a valid Pacto contract", |c| {
            let mut tar = Tar::new();
            tar.file(
                "pacto.yaml",
                format!("{}: [: {{ ]\n\t- :", c.name).as_bytes(),
            );
            c.push_tar(&mut tar)
        }),
        case!("pacto-yaml-binary", "not a valid Pacto contract", |c| {
            let mut tar = Tar::new();
            let mut bytes = c.name.as_bytes().to_vec();
            bytes.extend_from_slice(b"\xff\xfe\x00\x01binary");
            tar.file("pacto.yaml", &bytes);
            c.push_tar(&mut tar)
        }),
        case!("pacto-yaml-missing-name", "service.name is required", |c| {
            let mut tar = Tar::new();
            let yaml = format!(
                "pactoVersion: \"1.0\"\nservice:\n  version: 1.0.0\n# {}\n",
                c.name
            );
            tar.file("pacto.yaml", yaml.as_bytes());
            c.push_tar(&mut tar)
        }),
        case!("yaml-billion-laughs", "not a valid Pacto contract", |c| {
            let mut yaml = format!(
                "# {}\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
                c.name
            );
            let mut previous = 'a';
            for level in 'b'..='j' {
                yaml.push_str(&format!(
                    "{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
                ));
                previous = level;
            }
            yaml.push_str("pactoVersion: \"1.0\"\nservice:\n  name: *j\n  version: 1.0.0\n");
            let mut tar = Tar::new();
            tar.file("pacto.yaml", yaml.as_bytes());
            c.push_tar(&mut tar)
        }),
        case!("yaml-deep-nesting", "not a valid Pacto contract", |c| {
            let depth = 100_000;
            let yaml = format!(
                "# {}\npactoVersion: \"1.0\"\nservice:\n  name: deep\n  version: 1.0.0\nmetadata:\n  x: {}{}\n",
                c.name,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let mut tar = Tar::new();
            tar.file("pacto.yaml", yaml.as_bytes());
            c.push_tar(&mut tar)
        }),
        case!(
            "huge-pacto-yaml-invalid",
            "service.version is required",
            |c| {
                // 9 MiB of pacto.yaml (under the 10 MiB file limit) that parses but is no contract.
                let yaml = format!(
                    "pactoVersion: \"1.0\"\nservice:\n  name: {}\n{}",
                    c.name,
                    huge_metadata()
                );
                let mut tar = Tar::new();
                tar.file("pacto.yaml", yaml.as_bytes());
                c.push_tar(&mut tar)
            }
        ),
        // Manifests and blobs.
        case!("layer-digest-mismatch", "layer digest mismatch", |c| {
            let layer = c.valid_layer();
            let reference = c.push_layer(&layer);
            // Same length, other bytes: only the digest check can tell.
            let mut corrupt = layer.clone();
            let middle = corrupt.len() / 2;
            corrupt[middle] ^= 0xff;
            std::fs::write(c.registry.blob_path(&digest(&layer)), corrupt)
                .expect("corrupt the blob in the registry's storage");
            reference
        }),
        case!(
            "layer-larger-than-descriptor",
            "larger than its descriptor",
            |c| {
                let layer = c.valid_layer();
                let config = config(&c.name);
                let manifest = manifest(&config, &[(digest(&layer), layer.len() as u64 - 16)]);
                c.push(&manifest, OCI_MANIFEST, &[&config, &layer])
            }
        ),
        case!(
            "layer-smaller-than-descriptor",
            "its descriptor says",
            |c| {
                let layer = c.valid_layer();
                let config = config(&c.name);
                let manifest = manifest(&config, &[(digest(&layer), layer.len() as u64 + 4096)]);
                c.push(&manifest, OCI_MANIFEST, &[&config, &layer])
            }
        ),
        case!("layer-descriptor-over-limit", "over the", |c| {
            let layer = c.valid_layer();
            let config = config(&c.name);
            let manifest = manifest(&config, &[(digest(&layer), 1 << 40)]);
            c.push(&manifest, OCI_MANIFEST, &[&config, &layer])
        }),
        case!("manifest-over-4mib", "over the 4194304-byte limit", |c| {
            big_manifest_server(false, &c.name)
        }),
        case!(
            "manifest-over-4mib-chunked",
            "over the 4194304-byte limit",
            |c| { big_manifest_server(true, &c.name) }
        ),
        case!(
            "manifest-tampered-in-storage",
            "manifest digest mismatch",
            |c| {
                // The registry serves the stored bytes under the digest the tag names.
                let layer = c.valid_layer();
                let config = config(&c.name);
                let small = manifest(&config, &[(digest(&layer), layer.len() as u64)]);
                let reference = c.push(&small, OCI_MANIFEST, &[&config, &layer]);
                let mut grown = small.clone();
                grown.extend_from_slice(b"    ");
                std::fs::write(c.registry.blob_path(&digest(&small)), grown)
                    .expect("tamper with the manifest in the registry's storage");
                reference
            }
        ),
        case!("config-over-4mib", "config", |c| {
            let layer = c.valid_layer();
            let mut config = config(&c.name);
            config.resize(4 * MIB as usize + 1, b' ');
            let manifest = manifest(&config, &[(digest(&layer), layer.len() as u64)]);
            c.push(&manifest, OCI_MANIFEST, &[&config, &layer])
        }),
        case!("zero-layers", "no layers", |c| {
            let config = config(&c.name);
            let manifest = manifest(&config, &[]);
            c.push(&manifest, OCI_MANIFEST, &[&config])
        }),
        case!("two-layers", "2 layers", |c| {
            let layer = c.valid_layer();
            let other = bundle_tar("second-layer").end().gzip();
            let config = config(&c.name);
            let manifest = manifest(
                &config,
                &[
                    (digest(&layer), layer.len() as u64),
                    (digest(&other), other.len() as u64),
                ],
            );
            c.push(&manifest, OCI_MANIFEST, &[&config, &layer, &other])
        }),
        case!("oci-index", "image index", |c| index_case(c, OCI_INDEX)),
        case!("docker-manifest-list", "image index", |c| index_case(
            c,
            DOCKER_LIST
        )),
    ]
}

/// distribution refuses to store or serve a manifest over 4 MiB (`http: request body too
/// large`, `storage: read exceeds limit`), so a tampered registry or mirror is played by a
/// loopback server serving one: 4 MiB of JSON whitespace after a valid manifest, announced
/// with `Content-Length` or sent chunked without it.
fn big_manifest_server(chunked: bool, name: &str) -> String {
    static SERVERS: OnceLock<std::sync::Mutex<Vec<FakeServer>>> = OnceLock::new();
    let layer = bundle_tar(name).end().gzip();
    let config = config(name);
    let mut body = manifest(&config, &[(digest(&layer), layer.len() as u64)]);
    body.resize(body.len() + 4 * MIB as usize, b' ');
    let server = FakeServer::start(move |request| {
        if request.target.contains("/manifests/") {
            Reply::new(200)
                .header("Content-Type", OCI_MANIFEST)
                .header("Docker-Content-Digest", &digest(&body))
                .body(body.clone(), chunked)
        } else if request.target == "/v2/" {
            Reply::new(200)
        } else {
            Reply::new(404)
        }
    });
    let reference = format!("{}/hostile/{name}:1.0.0", server.host());
    SERVERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(server);
    reference
}

/// An index (of `media_type`) whose one entry is a valid bundle manifest.
fn index_case(c: &Ctx<'_>, media_type: &str) -> String {
    let layer = c.valid_layer();
    let config = config(&c.name);
    let inner = manifest(&config, &[(digest(&layer), layer.len() as u64)]);
    let inner_digest = push_raw(
        c.registry,
        &c.repo(),
        &digest_tag(&inner),
        OCI_MANIFEST,
        &inner,
        &[&config, &layer],
        None,
    );
    let entry_type = if media_type == OCI_INDEX {
        OCI_MANIFEST
    } else {
        "application/vnd.docker.distribution.manifest.v2+json"
    };
    let mut entry = descriptor(entry_type, &inner_digest, inner.len() as u64);
    entry["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [entry],
    }))
    .expect("json");
    c.push(&index, media_type, &[])
}

/// A tag for pushing a manifest by content (`inner-<first hex digits>`).
fn digest_tag(bytes: &[u8]) -> String {
    let digest = digest(bytes);
    format!("inner-{}", &digest["sha256:".len().."sha256:".len() + 12])
}

/// About 9 MiB of `metadata` (under the 10 MiB file limit): 20,000 keys, then one 8 MiB
/// string.
fn huge_metadata() -> String {
    let mut yaml = String::from("metadata:\n");
    for i in 0..20_000 {
        yaml.push_str(&format!("  key{i}: [value, {i}, {{nested: true}}]\n"));
    }
    yaml.push_str("  blob: ");
    yaml.push_str(&"x".repeat(8 * MIB as usize));
    yaml.push('\n');
    yaml
}

/// The shared registry of the hostile suite.
fn registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(TestRegistry::plain)
}

/// Runs one case; `Err` says what was wrong.
fn check(case: &Case) -> Result<(), String> {
    let registry = registry();
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("outside")).map_err(|e| e.to_string())?;
    let before = sandbox.snapshot();
    let ctx = Ctx {
        registry,
        sandbox: &sandbox,
        name: format!("e2e-{}", case.name),
    };
    let reference = (case.place)(&ctx);
    let out = sandbox.work().join("out");
    let out_arg = out.to_str().ok_or("temp path is not UTF-8")?;
    // With -o, then into the default directory (./<service name>).
    let runs: Vec<Run> = vec![
        sandbox.run(&["pull", &reference, "-o", out_arg, "--json"]),
        sandbox.run(&["pull", &reference, "--json"]),
    ];
    let mut problems = Vec::new();
    for run in &runs {
        if run.code != 6 {
            problems.push(format!(
                "exit code {} instead of 6\nstdout: {}\nstderr: {}",
                run.code, run.stdout, run.stderr
            ));
            continue;
        }
        let document = run.json();
        if document["error"]["kind"] != "invalid_bundle" {
            problems.push(format!("error kind is not invalid_bundle: {document}"));
        }
        let message = run.message();
        if !message.contains(case.rule) {
            problems.push(format!(
                "the message does not name the rule ({:?}): {message}",
                case.rule
            ));
        }
        if !run.stderr.starts_with("error: ") || run.stderr.trim_end().lines().count() != 1 {
            problems.push(format!("not one `error:` line on stderr: {}", run.stderr));
        }
        if run.elapsed > Duration::from_secs(60) {
            problems.push(format!("took {:?}: not bounded", run.elapsed));
        }
    }
    // Nothing written: no new regular file, link or special file anywhere in the sandbox,
    // no new directory outside the cache root.
    let cache_prefix = "cache/";
    for (path, kind) in sandbox.new_paths(&before) {
        let allowed = kind == Kind::Dir && path.starts_with(cache_prefix);
        if !allowed {
            problems.push(format!("{path} ({kind:?}) was written"));
        }
    }
    // No cache entry.
    let listed = sandbox.run(&["cache", "ls", "--json"]);
    if listed.code != 0 || listed.json() != serde_json::json!([]) {
        problems.push(format!("cache ls: {} {}", listed.code, listed.stdout));
    }
    let offline = sandbox.run(&["resolve", &reference, "--offline", "--json"]);
    if offline.code != 3 {
        problems.push(format!(
            "resolve --offline found something: exit {} {}",
            offline.code, offline.stdout
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn hostile_artifacts_are_refused() {
    let cases = cases();
    assert!(cases.len() >= 25, "the issue asks for at least 25 cases");
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(problem) = check(case) {
            failures.push(format!("{}:\n  {problem}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The control for the limits: a bundle right at them (a 10 MiB file, a 9 MiB
/// `pacto.yaml`) pulls, within a bounded time.
#[test]
fn a_bundle_at_the_limits_pulls() {
    let registry = registry();
    let sandbox = Sandbox::new();
    let name = "e2e-at-the-limits";
    let yaml = format!(
        "pactoVersion: \"1.0\"\nservice:\n  name: {name}\n  version: 1.0.0\n{}",
        huge_metadata()
    );
    let mut tar = Tar::new();
    tar.file("pacto.yaml", yaml.as_bytes())
        .zero_file("exactly-10mib.bin", 10, 0);
    let ctx = Ctx {
        registry,
        sandbox: &sandbox,
        name: name.to_owned(),
    };
    let reference = ctx.push_tar(&mut tar);
    let out = sandbox.work().join("out");
    let run = sandbox
        .run(&[
            "pull",
            &reference,
            "-o",
            out.to_str().expect("utf-8"),
            "--json",
        ])
        .expect(0);
    assert!(
        run.elapsed < Duration::from_secs(60),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(
        run.json()["files"],
        serde_json::json!(["exactly-10mib.bin", "pacto.yaml"])
    );
    assert_eq!(
        std::fs::metadata(out.join("exactly-10mib.bin"))
            .expect("written")
            .len(),
        10 * MIB
    );
    let cached = sandbox.run(&["cache", "ls", "--json"]).expect(0).json();
    assert_eq!(cached.as_array().map(Vec::len), Some(1), "{cached}");
}
