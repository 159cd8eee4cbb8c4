//! `best_tag` over 10,000 mixed registry tags with a compound constraint.
//!
//! Target: well under 1 ms per 1,000 tags (criterion reports tags/second).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A deterministic mix of what registries hold: plain and `v`-prefixed versions, partial
/// versions, pre-releases, Helm-style build metadata and non-version tags.
fn mixed_tags(count: usize) -> Vec<String> {
    let mut tags = Vec::with_capacity(count);
    let mut i = 0usize;
    while tags.len() < count {
        let (major, minor, patch) = (i % 7, (i / 7) % 13, (i / 91) % 17);
        let tag = match i % 10 {
            0 => format!("{major}.{minor}.{patch}"),
            1 => format!("v{major}.{minor}.{patch}"),
            2 => format!("{major}.{minor}.{patch}-rc.{}", i % 5),
            3 => format!("v{major}.{minor}.{patch}-alpha.beta.{}", i % 3),
            4 => format!("{major}.{minor}"),
            5 => format!("{major}.{minor}.{patch}_build.{i}"),
            6 => "latest".to_owned(),
            7 => "main".to_owned(),
            8 => format!("sha-{i:07x}"),
            _ => format!("v{major}"),
        };
        tags.push(tag);
        i += 1;
    }
    tags
}

fn bench_best_tag(c: &mut Criterion) {
    let tags = mixed_tags(10_000);
    let constraint = ">=1.2.0 <3.0.0 || ^4.1";
    let mut group = c.benchmark_group("best_tag");
    group.throughput(Throughput::Elements(tags.len() as u64));
    group.bench_function("10k_mixed_compound_constraint", |b| {
        b.iter(|| pacto_ref::best_tag(black_box(&tags), black_box(constraint)))
    });
    group.bench_function("10k_mixed_no_constraint", |b| {
        b.iter(|| pacto_ref::best_tag(black_box(&tags), black_box("")))
    });
    group.bench_function("10k_mixed_filter_semver_tags", |b| {
        b.iter(|| pacto_ref::filter_semver_tags(black_box(&tags)))
    });
    group.finish();
}

criterion_group!(benches, bench_best_tag);
criterion_main!(benches);
