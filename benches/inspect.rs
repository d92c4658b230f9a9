//! inspect must not read the whole file: the in-process cost of `inspect_file` on a small
//! fixture against the same helper padded into a ≥ 300 MB universal file.
//!
//! Run: `cargo bench --bench inspect`. The process-level figures (wall time and peak RSS of the
//! CLI on a real lld-linked 300 MB helper) come from `scripts/bench-inspect`.

use std::io::Write;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use smbless::inspect::{inspect_file, InspectOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A fat file whose two slices are the thin fixtures followed by `pad` zero bytes each, so the
/// headers and plists are real and the file is large.
fn padded_fat(dir: &Path, pad: u64) -> PathBuf {
    let slices = [
        std::fs::read(fixture("macho/helper-x86_64")).expect("x86_64 fixture"),
        std::fs::read(fixture("macho/helper-arm64")).expect("arm64 fixture"),
    ];
    let cputypes = [0x0100_0007u32, 0x0100_000c];
    let align = 1u64 << 14;
    let mut header = Vec::new();
    header.extend_from_slice(&0xcafe_babfu32.to_be_bytes());
    header.extend_from_slice(&2u32.to_be_bytes());
    let mut offset = align;
    let mut layout = Vec::new();
    for (data, cputype) in slices.iter().zip(cputypes) {
        let size = data.len() as u64 + pad;
        header.extend_from_slice(&cputype.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
        header.extend_from_slice(&offset.to_be_bytes());
        header.extend_from_slice(&size.to_be_bytes());
        header.extend_from_slice(&14u32.to_be_bytes());
        header.extend_from_slice(&0u32.to_be_bytes());
        layout.push(offset);
        offset = (offset + size).div_ceil(align) * align;
    }
    let path = dir.join("big-fat");
    let mut file = std::fs::File::create(&path).expect("create big file");
    file.write_all(&header).expect("write header");
    for (data, at) in slices.iter().zip(layout) {
        file.set_len(at).expect("pad");
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(at)).expect("seek");
        file.write_all(data).expect("write slice");
    }
    file.set_len(offset).expect("final size");
    path
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = fixture("macho/helper-fat");
    let big = padded_fat(dir.path(), 160 << 20);
    let size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    assert!(size >= 300 << 20, "big file is only {size} bytes");
    let options = InspectOptions::default();
    let mut group = c.benchmark_group("inspect");
    group.bench_function("small fat fixture", |b| {
        b.iter(|| inspect_file(&small, &options).expect("inspect small"))
    });
    group.bench_function("320 MB fat file", |b| {
        b.iter(|| inspect_file(&big, &options).expect("inspect big"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
