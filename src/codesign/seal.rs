//! The resource seal of a bundle: `Contents/_CodeSignature/CodeResources` (`files`/`files2`
//! under `rules`/`rules2`), checked against what is on disk.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::verify::Problem;

/// The largest CodeResources file read.
pub const MAX_CODE_RESOURCES: u64 = 64 * 1024 * 1024;
/// How deep the bundle walk descends.
pub const MAX_WALK_DEPTH: usize = 32;
/// How many entries the walk visits before giving up.
pub const MAX_WALK_ENTRIES: usize = 200_000;

/// Directory extensions Apple treats as nested bundles under a `nested` rule.
const BUNDLE_EXTENSIONS: &[&str] = &[
    "app",
    "framework",
    "xpc",
    "appex",
    "bundle",
    "plugin",
    "kext",
    "systemextension",
    "driverext",
    "qlgenerator",
    "mdimporter",
    "saver",
    "prefPane",
];

/// One sealing rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The pattern as written.
    pub pattern: String,
    regex: regex::Regex,
    /// `weight` (default 1).
    pub weight: f64,
    /// `omit`: not sealed.
    pub omit: bool,
    /// `optional`: may be missing.
    pub optional: bool,
    /// `nested`: code found here is sealed by cdhash and requirement.
    pub nested: bool,
}

/// One sealed entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sealed {
    /// SHA-1 (`hash`, or the `files` data value).
    pub hash: Option<Vec<u8>>,
    /// SHA-256 (`hash2`).
    pub hash2: Option<Vec<u8>>,
    /// `optional`.
    pub optional: bool,
    /// `symlink` target.
    pub symlink: Option<String>,
    /// Nested code: its cdhash.
    pub cdhash: Option<Vec<u8>>,
    /// Nested code: its designated requirement text.
    pub requirement: Option<String>,
}

/// A parsed CodeResources.
#[derive(Debug, Clone)]
pub struct CodeResources {
    /// Whether the v2 (`files2`/`rules2`) seal is used.
    pub version2: bool,
    /// The rules in effect.
    pub rules: Vec<Rule>,
    /// The sealed entries by path relative to `Contents/`.
    pub files: BTreeMap<String, Sealed>,
}

/// How a path on disk relates to the seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Sealed, absent, not optional.
    Missing(String),
    /// Present, matched by a sealing rule, not sealed.
    Added(String),
    /// Sealed and present, content differs (the message says how).
    Modified(String, String),
}

fn bool_of(d: &plist::Dictionary, k: &str) -> bool {
    d.get(k).and_then(plist::Value::as_boolean).unwrap_or(false)
}

impl CodeResources {
    /// Parse CodeResources bytes.
    pub fn parse(bytes: &[u8]) -> Result<CodeResources, String> {
        let v = plist::Value::from_reader(std::io::Cursor::new(bytes))
            .map_err(|e| format!("not a property list: {e}"))?;
        let d = v
            .as_dictionary()
            .ok_or("the top level is not a dictionary")?;
        let version2 = d.contains_key("files2");
        let (fkey, rkey) = if version2 {
            ("files2", "rules2")
        } else {
            ("files", "rules")
        };
        let mut rules = Vec::new();
        if let Some(r) = d.get(rkey) {
            let r = r
                .as_dictionary()
                .ok_or_else(|| format!("`{rkey}` is not a dictionary"))?;
            for (pattern, spec) in r {
                let (weight, omit, optional, nested) = match spec {
                    plist::Value::Boolean(_) => (1.0, false, false, false),
                    plist::Value::Dictionary(s) => (
                        s.get("weight")
                            .and_then(|w| {
                                w.as_real()
                                    .or_else(|| w.as_signed_integer().map(|i| i as f64))
                            })
                            .unwrap_or(1.0),
                        bool_of(s, "omit"),
                        bool_of(s, "optional"),
                        bool_of(s, "nested"),
                    ),
                    _ => {
                        return Err(format!(
                            "`{rkey}` entry {pattern:?} is neither a boolean nor a dictionary"
                        ))
                    }
                };
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        format!(
                            "`{rkey}` pattern {pattern:?} is not a valid regular expression: {e}"
                        )
                    })?;
                rules.push(Rule {
                    pattern: pattern.clone(),
                    regex,
                    weight,
                    omit,
                    optional,
                    nested,
                });
            }
        }
        let mut files = BTreeMap::new();
        if let Some(f) = d.get(fkey) {
            let f = f
                .as_dictionary()
                .ok_or_else(|| format!("`{fkey}` is not a dictionary"))?;
            for (path, spec) in f {
                let sealed = match spec {
                    plist::Value::Data(h) => Sealed {
                        hash: Some(h.clone()),
                        ..Sealed::default()
                    },
                    plist::Value::Dictionary(s) => Sealed {
                        hash: s
                            .get("hash")
                            .and_then(plist::Value::as_data)
                            .map(<[u8]>::to_vec),
                        hash2: s
                            .get("hash2")
                            .and_then(plist::Value::as_data)
                            .map(<[u8]>::to_vec),
                        optional: bool_of(s, "optional"),
                        symlink: s
                            .get("symlink")
                            .and_then(plist::Value::as_string)
                            .map(str::to_owned),
                        cdhash: s
                            .get("cdhash")
                            .and_then(plist::Value::as_data)
                            .map(<[u8]>::to_vec),
                        requirement: s
                            .get("requirement")
                            .and_then(plist::Value::as_string)
                            .map(str::to_owned),
                    },
                    _ => {
                        return Err(format!(
                            "`{fkey}` entry {path:?} is neither data nor a dictionary"
                        ))
                    }
                };
                files.insert(path.clone(), sealed);
            }
        }
        Ok(CodeResources {
            version2,
            rules,
            files,
        })
    }

    /// The rule governing `path`: the matching rule of highest weight; among equals an `omit`
    /// rule, then a `nested` one, wins.
    pub fn rule_for(&self, path: &str) -> Option<&Rule> {
        let mut best: Option<&Rule> = None;
        for r in &self.rules {
            if !r.regex.is_match(path) {
                continue;
            }
            best = match best {
                None => Some(r),
                Some(b) if r.weight > b.weight => Some(r),
                Some(b)
                    if r.weight == b.weight
                        && ((r.omit && !b.omit) || (r.nested && !b.nested && !b.omit)) =>
                {
                    Some(r)
                }
                keep => keep,
            };
        }
        best
    }
}

/// Nested code found while walking a bundle, to be verified by the caller.
#[derive(Debug, Clone)]
pub struct NestedCode {
    /// Path relative to `Contents/`.
    pub relative: String,
    /// Where it is.
    pub path: PathBuf,
    /// What the seal says about it.
    pub sealed: Sealed,
}

/// The result of comparing a bundle with its seal.
#[derive(Debug, Clone, Default)]
pub struct SealCheck {
    /// Missing, added and modified files.
    pub findings: Vec<Finding>,
    /// Nested code the seal names by cdhash: the caller verifies it and compares cdhashes.
    pub nested: Vec<NestedCode>,
    /// Problems walking the tree (unreadable files, limits).
    pub problems: Vec<Problem>,
}

fn hash_file(path: &Path, sha256: bool) -> std::io::Result<Vec<u8>> {
    let mut f = crate::mapped::open_regular(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut h1 = sha1::Sha1::new();
    let mut h2 = sha2::Sha256::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        if sha256 {
            h2.update(chunk);
        } else {
            h1.update(chunk);
        }
    }
    Ok(if sha256 {
        h2.finalize().to_vec()
    } else {
        h1.finalize().to_vec()
    })
}

fn is_bundle_dir(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| BUNDLE_EXTENSIONS.contains(&e))
}

/// Compare the bundle rooted at `contents` (the `Contents` directory) with `seal`.
/// `main_executable` (relative to `Contents/`, e.g. `MacOS/Example`) is sealed by the
/// CodeDirectory itself and skipped here, as are `_CodeSignature/` and a stapled ticket at
/// `CodeResources`.
pub fn check(contents: &Path, seal: &CodeResources, main_executable: &str) -> SealCheck {
    let mut out = SealCheck::default();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut visited = 0usize;
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(contents.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        if depth > MAX_WALK_DEPTH {
            out.problems.push(Problem::new(
                "resource-walk",
                format!("{rel_dir}: nested deeper than {MAX_WALK_DEPTH} directories; not examined"),
            ));
            continue;
        }
        let mut entries: Vec<_> = match fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(Result::ok).collect(),
            Err(e) => {
                out.problems.push(Problem::new(
                    "resource-walk",
                    format!("{}: cannot list: {e}", dir.display()),
                ));
                continue;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            visited += 1;
            if visited > MAX_WALK_ENTRIES {
                out.problems.push(Problem::new(
                    "resource-walk",
                    format!("more than {MAX_WALK_ENTRIES} files; the rest were not examined"),
                ));
                return out;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                out.problems.push(Problem::new(
                    "resource-walk",
                    format!("{}: file name is not UTF-8", entry.path().display()),
                ));
                continue;
            };
            let rel = if rel_dir.is_empty() {
                name.clone()
            } else {
                format!("{rel_dir}/{name}")
            };
            if rel == "_CodeSignature" || rel == "CodeResources" || rel == main_executable {
                continue;
            }
            let ft = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    out.problems
                        .push(Problem::new("resource-walk", format!("{rel}: {e}")));
                    continue;
                }
            };
            if ft.is_dir() {
                let rule = seal.rule_for(&rel);
                if rule.is_some_and(|r| r.nested)
                    && is_bundle_dir(&name)
                    && !rule.is_some_and(|r| r.omit)
                {
                    seen.insert(rel.clone(), ());
                    compare(&entry.path(), &rel, seal, &mut out, true);
                } else {
                    stack.push((entry.path(), rel, depth + 1));
                }
                continue;
            }
            let Some(rule) = seal.rule_for(&rel) else {
                continue;
            };
            if rule.omit {
                continue;
            }
            seen.insert(rel.clone(), ());
            compare(&entry.path(), &rel, seal, &mut out, false);
        }
    }
    for (path, sealed) in &seal.files {
        if !seen.contains_key(path) && !sealed.optional {
            // A sealed path may legitimately sit under an omitted or unmatched rule only if the
            // sealer was buggy; it is still missing from the bundle as sealed.
            out.findings.push(Finding::Missing(path.clone()));
        }
    }
    out
}

fn compare(path: &Path, rel: &str, seal: &CodeResources, out: &mut SealCheck, is_dir: bool) {
    let Some(sealed) = seal.files.get(rel) else {
        out.findings.push(Finding::Added(rel.to_owned()));
        return;
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.findings.push(Finding::Modified(
                rel.to_owned(),
                format!("cannot be read: {e}"),
            ));
            return;
        }
    };
    if let Some(target) = &sealed.symlink {
        match fs::read_link(path) {
            Ok(t) if t.to_str() == Some(target.as_str()) => {}
            Ok(t) => out.findings.push(Finding::Modified(
                rel.to_owned(),
                format!("symlink points to {:?}, sealed as {target:?}", t),
            )),
            Err(_) => out.findings.push(Finding::Modified(
                rel.to_owned(),
                format!("is not a symlink; sealed as a symlink to {target:?}"),
            )),
        }
        return;
    }
    if meta.file_type().is_symlink() {
        out.findings.push(Finding::Modified(
            rel.to_owned(),
            "is a symlink; sealed as a file".into(),
        ));
        return;
    }
    if sealed.cdhash.is_some() {
        out.nested.push(NestedCode {
            relative: rel.to_owned(),
            path: path.to_path_buf(),
            sealed: sealed.clone(),
        });
        return;
    }
    if is_dir {
        out.findings.push(Finding::Modified(
            rel.to_owned(),
            "is a directory; sealed as a file".into(),
        ));
        return;
    }
    let (want, sha256) = match (&sealed.hash2, &sealed.hash) {
        (Some(h), _) => (h, true),
        (None, Some(h)) => (h, false),
        (None, None) => {
            out.findings.push(Finding::Modified(
                rel.to_owned(),
                "the seal records no hash for it".into(),
            ));
            return;
        }
    };
    match hash_file(path, sha256) {
        Ok(got) if &got == want => {}
        Ok(_) => out.findings.push(Finding::Modified(
            rel.to_owned(),
            format!(
                "contents do not match the sealed {}",
                if sha256 { "SHA-256" } else { "SHA-1" }
            ),
        )),
        Err(e) => out.findings.push(Finding::Modified(
            rel.to_owned(),
            format!("cannot be read: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>files2</key><dict>
 <key>Resources/a.txt</key><dict><key>hash2</key><data>__A__</data></dict>
 <key>Resources/en.lproj/x.strings</key><dict><key>hash2</key><data>__A__</data><key>optional</key><true/></dict>
</dict>
<key>rules2</key><dict>
 <key>^.*</key><true/>
 <key>^Info\.plist$</key><dict><key>omit</key><true/><key>weight</key><real>20</real></dict>
 <key>^Resources/</key><dict><key>weight</key><real>20</real></dict>
 <key>^Resources/.*\.lproj/</key><dict><key>optional</key><true/><key>weight</key><real>1000</real></dict>
 <key>^(.*/)?\.DS_Store$</key><dict><key>omit</key><true/><key>weight</key><real>2000</real></dict>
</dict></dict></plist>"#;

    fn setup() -> (tempfile::TempDir, CodeResources) {
        use base64::Engine;
        let h = sha2::Sha256::digest(b"hello");
        let b64 = base64::engine::general_purpose::STANDARD.encode(h);
        let cr = CodeResources::parse(RULES.replace("__A__", &b64).as_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("Contents");
        fs::create_dir_all(c.join("Resources")).unwrap();
        fs::create_dir_all(c.join("MacOS")).unwrap();
        fs::write(c.join("Resources/a.txt"), b"hello").unwrap();
        fs::write(c.join("Info.plist"), b"x").unwrap();
        fs::write(c.join("MacOS/Main"), b"exe").unwrap();
        fs::write(c.join("Resources/.DS_Store"), b"junk").unwrap();
        (dir, cr)
    }

    #[test]
    fn intact_bundle_has_no_findings() {
        let (dir, cr) = setup();
        let r = check(&dir.path().join("Contents"), &cr, "MacOS/Main");
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(cr.rule_for("Info.plist").map(|r| r.omit), Some(true));
        assert_eq!(
            cr.rule_for("Resources/fr.lproj/a").map(|r| r.optional),
            Some(true)
        );
    }

    #[test]
    fn modified_added_and_missing_are_named() {
        let (dir, cr) = setup();
        let c = dir.path().join("Contents");
        fs::write(c.join("Resources/a.txt"), b"hellO").unwrap();
        fs::write(c.join("Resources/new.txt"), b"n").unwrap();
        let r = check(&c, &cr, "MacOS/Main");
        assert!(
            r.findings
                .contains(&Finding::Added("Resources/new.txt".into())),
            "{:?}",
            r.findings
        );
        assert!(r
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Modified(p, _) if p == "Resources/a.txt")));
        fs::remove_file(c.join("Resources/a.txt")).unwrap();
        let r = check(&c, &cr, "MacOS/Main");
        assert!(
            r.findings
                .contains(&Finding::Missing("Resources/a.txt".into())),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn version_one_seal_uses_sha1_files_and_rules() {
        use base64::Engine;
        let h = sha1::Sha1::digest(b"hello");
        let b64 = base64::engine::general_purpose::STANDARD.encode(h);
        let text = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>files</key><dict><key>Resources/a.txt</key><data>{b64}</data></dict>
<key>rules</key><dict><key>^Resources/</key><true/></dict>
</dict></plist>"#
        );
        let cr = CodeResources::parse(text.as_bytes()).unwrap();
        assert!(!cr.version2);
        let (dir, _) = setup();
        let c = dir.path().join("Contents");
        let r = check(&c, &cr, "MacOS/Main");
        // Info.plist and MacOS/ are outside every v1 rule here; .DS_Store matches ^Resources/.
        assert_eq!(r.findings, [Finding::Added("Resources/.DS_Store".into())]);
    }
}
