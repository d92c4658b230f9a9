//! Page-hash verification throughput: one CodeDirectory over 64 MiB, 1 and 2 threads, SHA-256
//! and SHA-1, 4 KiB and 16 KiB pages. The whole-binary comparison against `openssl dgst` and
//! `rcodesign verify` on a >= 300 MB signed file is `scripts/bench-codesign`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smbless::codesign::pages::check_pages;
use smbless::codesign::{CodeDirectory, HashType};

/// A version 0x20400 CodeDirectory sealing `code` in pages of `1 << page_log2`.
fn code_directory(ht: HashType, code: &[u8], page_log2: u8) -> Vec<u8> {
    let header = 88usize;
    let ident = b"bench\0";
    let hash_off = header + ident.len();
    let pages: Vec<&[u8]> = code.chunks(1 << page_log2).collect();
    let hs = ht.size();
    let total = hash_off + pages.len() * hs;
    let mut cd = vec![0u8; total];
    let mut put = |at: usize, v: u32| cd[at..at + 4].copy_from_slice(&v.to_be_bytes());
    put(0, 0xfade_0c02);
    put(4, total as u32);
    put(8, 0x20400);
    put(16, hash_off as u32);
    put(20, header as u32);
    put(28, pages.len() as u32);
    put(32, code.len() as u32);
    cd[36] = hs as u8;
    cd[37] = ht.code();
    cd[39] = page_log2;
    cd[header..header + ident.len()].copy_from_slice(ident);
    for (i, p) in pages.iter().enumerate() {
        let at = hash_off + i * hs;
        cd[at..at + hs].copy_from_slice(&ht.digest(p));
    }
    cd
}

fn bench(c: &mut Criterion) {
    let size = 64usize << 20;
    let code: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut g = c.benchmark_group("check_pages");
    g.throughput(Throughput::Bytes(size as u64));
    g.sample_size(10);
    for (ht, name) in [(HashType::Sha256, "sha256"), (HashType::Sha1, "sha1")] {
        for page_log2 in [12u8, 14] {
            let raw = code_directory(ht, &code, page_log2);
            let cd = match CodeDirectory::parse(&raw, 0, 0) {
                Ok(cd) => cd,
                Err(e) => panic!("bench CodeDirectory does not parse: {e}"),
            };
            for threads in [1usize, 2] {
                let id = format!("{name}/{}k/{threads}t", (1usize << page_log2) / 1024);
                g.bench_function(id, |b| {
                    b.iter(|| {
                        let m = check_pages(&cd, &code, threads);
                        assert_eq!(m.count, 0);
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
