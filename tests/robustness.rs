//! Thousands of random mutations and truncations of every binary fixture: the container reader
//! and the embedded-plist reader must return `Ok` or a typed error, never panic, and never
//! report a range outside the input.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use smbless::container::{looks_like_container, Container};
use smbless::plists::{self, EmbeddedKind};

fn fixture_binaries() -> Vec<Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut paths,
    );
    paths.sort();
    let binaries: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|data| looks_like_container(data) && data.len() < 4 << 20)
        .collect();
    assert!(
        binaries.len() >= 4,
        "expected the Mach-O and ELF fixtures under fixtures/; found {}",
        binaries.len()
    );
    binaries
}

/// Parse everything a caller of `inspect` would touch, checking that what comes back lies
/// inside the input.
fn exercise(data: &[u8]) {
    let Ok(container) = Container::parse(data) else {
        return;
    };
    for slice in container.slices() {
        let start = slice.file_offset() as usize;
        assert!(start + slice.data().len() <= data.len());
        if let Some(sig) = slice.code_signature() {
            assert_eq!(sig.data.len() as u64, sig.size);
        }
        for kind in [EmbeddedKind::Info, EmbeddedKind::Launchd] {
            if let Ok(Some(plist)) = plists::embedded(slice, kind) {
                assert!(plist.raw().len() <= slice.data().len());
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Set one byte.
    Byte(usize, u8),
    /// Overwrite an aligned 32-bit word with a value chosen to hit edge cases.
    Word(usize, u32),
    /// Cut the file short.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0u32),
        Just(1),
        Just(8),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0xffff_ffff),
        Just(0xffff_fff0),
        any::<u32>()
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Byte(at, b)),
        (any::<usize>(), interesting, any::<bool>())
            .prop_map(|(at, v, le)| { Mutation::Word(at, if le { v } else { v.swap_bytes() }) }),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::Byte(at, b) => {
            let at = at % data.len().max(1);
            if let Some(slot) = data.get_mut(at) {
                *slot = b;
            }
        }
        Mutation::Word(at, v) => {
            // Headers and load commands live in the first few KiB: aim there most of the time.
            let window = data.len().min(if at % 4 == 0 { 4096 } else { usize::MAX });
            let at = (at % window.max(1)) & !3;
            if let Some(slot) = data.get_mut(at..at + 4) {
                slot.copy_from_slice(&v.to_le_bytes());
            }
        }
        Mutation::Truncate(len) => {
            let len = len % (data.len() + 1);
            data.truncate(len);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        thread_local! {
            static FIXTURES: Vec<Vec<u8>> = fixture_binaries();
        }
        FIXTURES.with(|fixtures| {
            let mut data = fixtures[index % fixtures.len()].clone();
            for m in &mutations {
                apply(&mut data, m);
            }
            exercise(&data);
        });
    }
}

#[test]
fn every_prefix_of_every_fixture_is_handled() {
    for data in fixture_binaries() {
        // Every length up to the end of the load commands, then a stride through the rest.
        let dense = data.len().min(8192);
        for len in (0..dense).chain((dense..data.len()).step_by(97)) {
            exercise(&data[..len]);
        }
    }
}
