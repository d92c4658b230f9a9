//! Code-page hashing: every page of every CodeDirectory, straight from the memory map, split
//! across cores with scoped threads.

use sha2::digest::Digest;

use super::directory::CodeDirectory;
use super::hash::HashType;

/// At most this many mismatching pages are listed by index; the count is always exact.
pub const MAX_LISTED_PAGES: usize = 16;

/// Pages whose hash did not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMismatches {
    /// How many pages mismatched.
    pub count: u64,
    /// The first [`MAX_LISTED_PAGES`] of them, ascending.
    pub pages: Vec<u64>,
}

/// The number of worker threads to use when the caller says 0 ("as many as there are cores").
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Hash every code page of `cd` over `code` (the slice bytes up to the code limit) and compare
/// with the stored slot hashes. `threads` of 0 means one per core.
///
/// The caller must have checked that `code.len()` equals the code limit and that the slot count
/// matches; pages beyond the stored slots are counted as mismatches.
pub fn check_pages(cd: &CodeDirectory<'_>, code: &[u8], threads: usize) -> PageMismatches {
    check_pages_releasing(cd, code, threads, None)
}

/// Receives each run of code bytes once hashed (see [`check_pages_releasing`]).
pub type Release<'a> = &'a (dyn Fn(&[u8]) + Sync);

/// Bytes each worker hashes before handing them to `release`: the resident memory page hashing
/// needs is about this much per worker, whatever the file size.
pub const WINDOW: usize = 2 << 20;

/// [`check_pages`], handing every [`WINDOW`] of hashed code to `release` (in order, per
/// worker) so a memory-mapped file's pages can leave memory as soon as they are hashed.
pub fn check_pages_releasing(
    cd: &CodeDirectory<'_>,
    code: &[u8],
    threads: usize,
    release: Option<Release<'_>>,
) -> PageMismatches {
    let threads = if threads == 0 {
        default_threads()
    } else {
        threads
    };
    match cd.hash_type {
        HashType::Sha1 => run::<sha1::Sha1>(cd, code, threads, release),
        HashType::Sha256 | HashType::Sha256Truncated => {
            run::<sha2::Sha256>(cd, code, threads, release)
        }
        HashType::Sha384 => run::<sha2::Sha384>(cd, code, threads, release),
    }
}

fn run<D: Digest>(
    cd: &CodeDirectory<'_>,
    code: &[u8],
    threads: usize,
    release: Option<Release<'_>>,
) -> PageMismatches {
    let page = cd.page_size().map_or(code.len().max(1), |p| {
        usize::try_from(p).unwrap_or(usize::MAX)
    });
    // Page i is code[i * page ..][..page], the last one possibly short.
    let n = code.len().div_ceil(page);
    let page_at = |i: usize| {
        let start = i.checked_mul(page)?;
        code.get(start..start.saturating_add(page).min(code.len()))
    };
    let hashes = cd.code_hashes();
    let hs = cd.hash_type.size();
    let threads = threads.clamp(1, n.max(1));
    // Small inputs are not worth a thread.
    let threads = if code.len() < (1 << 20) { 1 } else { threads };
    let per = n.div_ceil(threads);
    let per_window = (WINDOW / page).max(1);
    let release_pages = |from: usize, to: usize| {
        if let (Some(r), Some(first)) = (release, from.checked_mul(page)) {
            let last = to.saturating_mul(page).min(code.len());
            if let Some(part) = code.get(first..last) {
                r(part);
            }
        }
    };
    let check_range = |start: usize, end: usize| -> PageMismatches {
        let mut out = PageMismatches::default();
        let mut window_start = start;
        for i in start..end {
            if i - window_start == per_window {
                release_pages(window_start, i);
                window_start = i;
            }
            let ok = match (
                page_at(i),
                i.checked_mul(hs)
                    .and_then(|o| hashes.get(o..o.checked_add(hs)?)),
            ) {
                (Some(p), Some(stored)) => {
                    let d = D::digest(p);
                    d.get(..hs) == Some(stored)
                }
                _ => false,
            };
            if !ok {
                out.count += 1;
                if out.pages.len() < MAX_LISTED_PAGES {
                    out.pages.push(i as u64);
                }
            }
        }
        release_pages(window_start, end);
        out
    };
    if threads <= 1 {
        return check_range(0, n);
    }
    let results: Vec<PageMismatches> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * per).min(n);
                let end = ((t + 1) * per).min(n);
                let f = &check_range;
                s.spawn(move || f(start, end))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(PageMismatches {
                    count: 1,
                    pages: Vec::new(),
                })
            })
            .collect()
    });
    let mut total = PageMismatches::default();
    for r in results {
        total.count += r.count;
        for p in r.pages {
            if total.pages.len() < MAX_LISTED_PAGES {
                total.pages.push(p);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codesign::directory::tests::build;

    #[test]
    fn finds_the_modified_page_with_one_and_many_threads() {
        let mut code = vec![0u8; 3 << 20];
        for (i, b) in code.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        for ht in [
            HashType::Sha1,
            HashType::Sha256,
            HashType::Sha256Truncated,
            HashType::Sha384,
        ] {
            let raw = build(0x20400, ht, "x", None, &code, 12, &[]);
            let cd = CodeDirectory::parse(&raw, 0, 0).unwrap();
            for t in [1, 2, 3] {
                assert_eq!(check_pages(&cd, &code, t).count, 0);
            }
            let mut bad = code.clone();
            bad[5 * 4096 + 7] ^= 1;
            bad[700 * 4096] ^= 1;
            for t in [1, 2, 3] {
                let m = check_pages(&cd, &bad, t);
                assert_eq!(
                    m,
                    PageMismatches {
                        count: 2,
                        pages: vec![5, 700]
                    },
                    "{ht} threads {t}"
                );
            }
        }
    }

    #[test]
    fn hashed_code_is_released_in_bounded_windows_covering_everything() {
        let code: Vec<u8> = (0..(9 << 20)).map(|i| (i % 253) as u8).collect();
        let raw = build(0x20400, HashType::Sha256, "x", None, &code, 12, &[]);
        let cd = CodeDirectory::parse(&raw, 0, 0).unwrap();
        for threads in [1, 2, 3] {
            let seen = std::sync::Mutex::new(Vec::new());
            let base = code.as_ptr() as usize;
            let record = |part: &[u8]| {
                let start = part.as_ptr() as usize - base;
                seen.lock().unwrap().push((start, start + part.len()));
            };
            let m = check_pages_releasing(&cd, &code, threads, Some(&record));
            assert_eq!(m.count, 0);
            let mut ranges = seen.into_inner().unwrap();
            assert!(ranges.iter().all(|(a, b)| b - a <= WINDOW), "{ranges:?}");
            ranges.sort();
            // Contiguous, no overlap, from the first byte to the last.
            assert_eq!(ranges.first().map(|r| r.0), Some(0));
            assert_eq!(ranges.last().map(|r| r.1), Some(code.len()));
            assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
        }
    }
}
