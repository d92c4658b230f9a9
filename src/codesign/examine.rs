//! Examine a file or an app bundle: every slice's signature read, and (when asked) verified,
//! with the bundle's resource seal and nested code.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use x509_certificate::CapturedX509Certificate;

use super::hash::HashType;
use super::reader::hex;
use super::seal::{self, CodeResources, Finding};
use super::signature::SliceSignature;
use super::trust::{AnchorKind, Trust};
use super::verify::{verify_slice, Kind, Problem, SealContext, VerifyOptions};
use crate::bundle::{Bundle, BundleError};
use crate::container::{Container, ContainerError};
use crate::mapped::MappedFile;
use crate::plists::{self, EmbeddedKind};

/// How deep nested code is followed.
pub const MAX_NESTING: usize = 8;

/// The path could not be examined at all (as opposed to examined and found wanting).
#[derive(Debug, thiserror::Error)]
pub enum ExamineError {
    /// The file could not be opened or mapped.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a Mach-O or ELF container.
    #[error("{path}: not a readable Mach-O or ELF file")]
    Container {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ContainerError,
    },
    /// The bundle's layout or Info.plist could not be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// `--arch` named an architecture the file does not have.
    #[error("{path}: no slice for architecture {arch} (has: {available})")]
    NoSuchArch {
        /// The file.
        path: PathBuf,
        /// The architecture asked for.
        arch: String,
        /// What there is.
        available: String,
    },
}

/// What to do.
#[derive(Clone)]
pub struct ExamineOptions {
    /// Trust and time settings.
    pub verify: VerifyOptions,
    /// Hash pages, special slots and resources (verification). Without it only the CMS
    /// binding and chain are judged (cheap), for `show`.
    pub integrity: bool,
    /// Only this architecture (`arm64`, `x86_64`, …).
    pub arch: Option<String>,
}

/// One slice's signature, owned: what `show` prints, what `verify` judged, and what the
/// requirement engine evaluates against.
#[derive(Clone)]
pub struct SignedSlice {
    /// Architecture name.
    pub arch: String,
    /// How it is signed.
    pub kind: Kind,
    /// The strongest CodeDirectory's identifier.
    pub identifier: Option<String>,
    /// Its team identifier.
    pub team_id: Option<String>,
    /// The cdhash (20 bytes) of the strongest CodeDirectory, as macOS reports it.
    pub cdhash: Option<Vec<u8>>,
    /// Every CodeDirectory's (hash type, cdhash), primary first.
    pub cdhashes: Vec<(HashType, Vec<u8>)>,
    /// The strongest CodeDirectory's flags.
    pub flags: u32,
    /// Its version.
    pub code_directory_version: Option<u32>,
    /// Its page size in bytes (`None` = one page).
    pub page_size: Option<u64>,
    /// Its `platform` byte.
    pub platform: u8,
    /// The CMS signing time.
    pub signing_time: Option<DateTime<Utc>>,
    /// The verified time-stamp time.
    pub timestamp: Option<DateTime<Utc>>,
    /// The certificate chain, leaf first (the CMS bag when no chain could be built).
    pub certificates: Vec<CapturedX509Certificate>,
    /// How many of `certificates` form the chain as built (the rest are extra bag entries).
    pub chain_length: usize,
    /// The trusted anchor the chain reached.
    pub anchor: Option<AnchorKind>,
    /// What the chain ends at (Apple root, user anchor, implicit self-signed anchor, nothing):
    /// reported beside `kind` so that nobody mistakes valid for trusted.
    pub trust: Trust,
    /// The entitlements (XML blob, else DER blob).
    pub entitlements: Option<plist::Value>,
    /// The Info.plist bound to this code (bundle Info.plist or `__info_plist`).
    pub info_plist: Option<plist::Dictionary>,
    /// The requirement set blob, raw (`0xfade0c01`).
    pub requirements: Option<Vec<u8>>,
    /// Launch-constraint blobs (slot, raw bytes).
    pub launch_constraints: Vec<(u32, Vec<u8>)>,
    /// What is known about its notarization (offline: see [`super::notarization`]).
    pub notarization: crate::requirement::Notarization,
    /// The strongest CodeDirectory seals a resource directory (special slot -3 is present and
    /// not empty).
    pub seals_resources: bool,
    /// Problems found (only meaningful when integrity was checked).
    pub problems: Vec<Problem>,
}

impl SignedSlice {
    /// No problems.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The result of examining a path.
#[derive(Clone)]
pub struct Examination {
    /// The path given.
    pub path: PathBuf,
    /// The bundle judged: `path` itself when it is one, or the bundle whose main executable
    /// `path` is.
    pub bundle: Option<PathBuf>,
    /// The main executable when a bundle was judged.
    pub executable: Option<PathBuf>,
    /// One entry per slice examined.
    pub slices: Vec<SignedSlice>,
    /// Problems of the bundle as a whole (resource seal, nested code).
    pub problems: Vec<Problem>,
    /// Whether integrity was checked.
    pub verified: bool,
}

impl Examination {
    /// Valid: every slice valid, no bundle-level problem.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty() && self.slices.iter().all(SignedSlice::is_valid)
    }

    /// All problems, slice problems prefixed with their architecture.
    pub fn all_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        for s in &self.slices {
            for p in &s.problems {
                out.push(format!("{}: {p}", s.arch));
            }
        }
        out
    }
}

fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let f = crate::mapped::open_regular(path)?;
    let mut v = Vec::new();
    f.take(max.saturating_add(1)).read_to_end(&mut v)?;
    if v.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(v)
}

/// Examine `path` as macOS does: a bundle (a directory with `Contents/`, or a versioned
/// framework), or a single Mach-O/ELF file — except that a file which is the main executable of
/// a bundle stands for that bundle ([`super::resolve::enclosing_bundle`]), whose Info.plist,
/// resources and nested code are judged with it. [`Examination::bundle`] says which bundle.
pub fn examine(path: &Path, opts: &ExamineOptions) -> Result<Examination, ExamineError> {
    match super::resolve::enclosing_bundle(path) {
        Some(bundle) => {
            let mut ex = examine_at(&bundle, opts, 0)?;
            ex.path = path.to_path_buf();
            Ok(ex)
        }
        None => examine_at(path, opts, 0),
    }
}

/// Examine `path` without resolving a main executable to its bundle: the file is judged alone
/// (its special slots against what the file itself holds), as `--file-only` asks.
pub fn examine_file_only(path: &Path, opts: &ExamineOptions) -> Result<Examination, ExamineError> {
    examine_at(path, opts, 0)
}

fn examine_at(
    path: &Path,
    opts: &ExamineOptions,
    depth: usize,
) -> Result<Examination, ExamineError> {
    if Bundle::is_bundle(path) {
        let bundle = Bundle::open(path)?;
        let layout = Layout {
            root: path.to_path_buf(),
            base: path.join("Contents"),
            info_plist_raw: bundle.info_plist().raw().to_vec(),
            info_plist: bundle.info_plist().dictionary().clone(),
            info_plist_source: "Contents/Info.plist",
            base_label: "Contents",
            executable: bundle.executable().to_path_buf(),
        };
        examine_bundle(layout, opts, depth)
    } else if path.is_dir() && path.join("Versions").is_dir() {
        examine_bundle(framework_layout(path)?, opts, depth)
    } else {
        let mut ex = examine_file(path, opts, None)?;
        ex.path = path.to_path_buf();
        Ok(ex)
    }
}

struct BundleContext {
    ticket: Option<super::notarization::StapledTicket>,
    info_plist_raw: Vec<u8>,
    info_plist_source: &'static str,
    info_plist: plist::Dictionary,
    code_resources: Option<Vec<u8>>,
}

fn examine_file(
    path: &Path,
    opts: &ExamineOptions,
    bundle: Option<&BundleContext>,
) -> Result<Examination, ExamineError> {
    let map = MappedFile::open(path).map_err(|source| ExamineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let release = |part: &[u8]| map.release(part);
    examine_slices(path, map.bytes(), Some(&release), opts, bundle)
}

/// Examine a single Mach-O/ELF file already in memory: `bytes`, read from `path` (named in
/// messages only). An installer uses it on bytes it read once, e.g. a copy read back from its
/// own file descriptor.
pub fn examine_bytes(
    path: &Path,
    bytes: &[u8],
    opts: &ExamineOptions,
) -> Result<Examination, ExamineError> {
    examine_slices(path, bytes, None, opts, None)
}

/// `release`, when the bytes are a memory map, gives hashed pages back (bounded memory).
fn examine_slices(
    path: &Path,
    bytes: &[u8],
    release: Option<super::pages::Release<'_>>,
    opts: &ExamineOptions,
    bundle: Option<&BundleContext>,
) -> Result<Examination, ExamineError> {
    let container = Container::parse(bytes).map_err(|source| ExamineError::Container {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(a) = &opts.arch {
        if !container.slices().iter().any(|s| &s.arch().name == a) {
            return Err(ExamineError::NoSuchArch {
                path: path.to_path_buf(),
                arch: a.clone(),
                available: container
                    .slices()
                    .iter()
                    .map(|s| s.arch().name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let mut slices = Vec::new();
    for slice in container.slices() {
        if opts.arch.as_ref().is_some_and(|a| a != &slice.arch().name) {
            continue;
        }
        let arch = slice.arch().name.clone();
        let mut out = SignedSlice {
            arch: arch.clone(),
            kind: Kind::Unsigned,
            identifier: None,
            team_id: None,
            cdhash: None,
            cdhashes: Vec::new(),
            flags: 0,
            code_directory_version: None,
            page_size: None,
            platform: 0,
            signing_time: None,
            timestamp: None,
            certificates: Vec::new(),
            chain_length: 0,
            anchor: None,
            trust: Trust::None,
            entitlements: None,
            info_plist: None,
            requirements: None,
            launch_constraints: Vec::new(),
            seals_resources: false,
            notarization: crate::requirement::Notarization::NotNotarized(
                "the code is unsigned".into(),
            ),
            problems: Vec::new(),
        };
        let embedded_info = plists::embedded(slice, EmbeddedKind::Info);
        out.info_plist = match bundle {
            Some(b) => Some(b.info_plist.clone()),
            None => embedded_info
                .as_ref()
                .ok()
                .and_then(|p| p.as_ref().map(|p| p.dictionary().clone())),
        };
        let sig = match SliceSignature::read(slice) {
            Ok(Some(sig)) => sig,
            Ok(None) => {
                out.problems.push(Problem::new(
                    "unsigned",
                    "there is no code signature (LC_CODE_SIGNATURE)",
                ));
                slices.push(out);
                continue;
            }
            Err(e) => {
                out.kind = Kind::Untrusted;
                out.problems
                    .push(Problem::new("signature-unreadable", e.to_string()));
                slices.push(out);
                continue;
            }
        };
        // macOS describes code by its strongest CodeDirectory (`bestHashOf`), not the
        // primary one; the CMS binds the primary, which `verify` checks separately.
        let cd = sig.best();
        out.identifier = Some(cd.identifier.clone());
        out.team_id = cd.team_id.clone();
        out.cdhash = Some(cd.cdhash());
        out.cdhashes = sig
            .code_directories()
            .map(|c| (c.hash_type, c.cdhash()))
            .collect();
        out.flags = cd.flags;
        out.code_directory_version = Some(cd.version);
        out.page_size = cd.page_size();
        out.platform = cd.platform;
        out.seals_resources = cd
            .special_slot_hash(super::blob::slot::RESOURCEDIR)
            .is_some_and(|h| h.iter().any(|&b| b != 0));
        out.requirements = sig.requirements.map(|b| b.data.to_vec());
        out.launch_constraints = sig
            .launch_constraints
            .iter()
            .map(|b| (b.slot, b.data.to_vec()))
            .collect();
        let mut parse_problems = Vec::new();
        out.entitlements = match (&sig.entitlements, &sig.der_entitlements) {
            (Some(Ok(v)), _) => Some(v.clone()),
            (_, Some(Ok(v))) => Some(v.clone()),
            _ => None,
        };
        for e in [&sig.entitlements, &sig.der_entitlements]
            .into_iter()
            .flatten()
        {
            if let Err(e) = e {
                parse_problems.push(Problem::new("entitlements-unreadable", e.to_string()));
            }
        }
        if let Some(cms) = sig.cms() {
            out.signing_time = cms.signing_time;
            out.certificates = cms.certificates.clone();
        }
        let section_bytes = slice
            .section(
                if slice.is_macho() { "__TEXT" } else { "" },
                if slice.is_macho() {
                    "__info_plist"
                } else {
                    ".info_plist"
                },
            )
            .map(|s| s.data);
        let ctx = match bundle {
            Some(b) => SealContext {
                info_plist: Some(&b.info_plist_raw),
                info_plist_source: b.info_plist_source,
                code_resources: b.code_resources.as_deref(),
                release,
            },
            None => SealContext {
                info_plist: section_bytes,
                info_plist_source: "__TEXT,__info_plist",
                code_resources: None,
                release,
            },
        };
        let mut vopts = opts.verify.clone();
        if !opts.integrity {
            // `show`: the chain and CMS binding are cheap; page hashes are not computed.
            vopts.threads = 1;
        }
        let verdict = if opts.integrity {
            verify_slice(slice, &sig, &ctx, &vopts)
        } else {
            super::verify::verify_signature_only(&sig, &vopts)
        };
        out.kind = verdict.kind;
        out.timestamp = verdict.timestamp;
        if let Some(chain) = &verdict.chain {
            out.anchor = chain.anchor;
            out.trust = chain.trust();
            out.chain_length = chain.certs.len();
            // Leaf first, then the rest of the bag in chain order.
            let mut certs = chain.certs.clone();
            for c in &out.certificates {
                if !certs
                    .iter()
                    .any(|x| x.constructed_data() == c.constructed_data())
                {
                    certs.push(c.clone());
                }
            }
            out.certificates = certs;
        }
        out.notarization =
            super::notarization::judge(out.kind, out.trust, bundle.and_then(|b| b.ticket.as_ref()));
        out.problems = parse_problems;
        // An embedded Info.plist that is not a readable plist is the contract's concern: the
        // signature seals its bytes, whatever they are, and macOS judges only the hash.
        out.problems.extend(verdict.problems);
        slices.push(out);
    }
    Ok(Examination {
        path: path.to_path_buf(),
        bundle: None,
        executable: None,
        slices,
        problems: Vec::new(),
        verified: opts.integrity,
    })
}

/// Where a bundle keeps its parts: `X.app/Contents/…` or `X.framework/Versions/A/…`.
struct Layout {
    root: PathBuf,
    /// The directory CodeResources paths are relative to.
    base: PathBuf,
    info_plist_raw: Vec<u8>,
    info_plist: plist::Dictionary,
    info_plist_source: &'static str,
    /// How paths inside `base` are named in messages (`Contents`, `Versions/Current`).
    base_label: &'static str,
    executable: PathBuf,
}

/// The main executable of the versioned framework at `root`, if it is one.
pub(super) fn framework_executable(root: &Path) -> Option<PathBuf> {
    if !root.join("Versions").is_dir() {
        return None;
    }
    framework_layout(root).ok().map(|l| l.executable)
}

/// A versioned framework: the signed version is `Versions/Current` (a symlink that must stay
/// inside the framework), its Info.plist `Resources/Info.plist`.
fn framework_layout(root: &Path) -> Result<Layout, ExamineError> {
    let io = |path: PathBuf| move |source| ExamineError::Io { path, source };
    let current = root.join("Versions/Current");
    let base = fs::canonicalize(&current).map_err(io(current.clone()))?;
    let canonical_root = fs::canonicalize(root).map_err(io(root.to_path_buf()))?;
    if !base.starts_with(&canonical_root) {
        return Err(ExamineError::Io {
            path: current,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "Versions/Current points outside the framework",
            ),
        });
    }
    let plist_path = base.join("Resources/Info.plist");
    let plist = crate::bundle::read_plist_file(&plist_path)?;
    let name = plist
        .string("CFBundleExecutable")
        .map_err(BundleError::from)?
        .ok_or_else(|| BundleError::ExecutableKeyMissing {
            path: plist_path.clone(),
        })?;
    if !crate::bundle::is_plain_file_name(name) {
        return Err(BundleError::ExecutableNameInvalid {
            path: plist_path,
            name: name.to_owned(),
        }
        .into());
    }
    let executable = base.join(name);
    Ok(Layout {
        root: root.to_path_buf(),
        base,
        info_plist_raw: plist.raw().to_vec(),
        info_plist: plist.dictionary().clone(),
        info_plist_source: "Resources/Info.plist",
        base_label: "Versions/Current",
        executable,
    })
}

fn examine_bundle(
    layout: Layout,
    opts: &ExamineOptions,
    depth: usize,
) -> Result<Examination, ExamineError> {
    let root = layout.root.as_path();
    let contents = layout.base.clone();
    let label = layout.base_label;
    let cr_path = contents.join("_CodeSignature/CodeResources");
    let code_resources = match read_capped(&cr_path, seal::MAX_CODE_RESOURCES) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ExamineError::Io {
                path: cr_path,
                source,
            })
        }
    };
    let ctx = BundleContext {
        ticket: super::notarization::stapled_ticket(&contents),
        info_plist_raw: layout.info_plist_raw,
        info_plist: layout.info_plist,
        info_plist_source: layout.info_plist_source,
        code_resources: code_resources.clone(),
    };
    let exe = layout.executable;
    let mut ex = examine_file(&exe, opts, Some(&ctx))?;
    ex.path = root.to_path_buf();
    ex.bundle = Some(root.to_path_buf());
    ex.executable = Some(exe.clone());
    if !opts.integrity {
        return Ok(ex);
    }
    let signed = ex.slices.iter().any(|s| s.kind != Kind::Unsigned);
    // SecStaticCode::validateResources: a bundle always has a resource base (its support
    // directory), so its signature must seal resources (special slot -3), and a seal must
    // find its CodeResources; either failure is errSecCSResourcesNotFound.
    let sealed = ex.slices.iter().any(|s| s.seals_resources);
    match &code_resources {
        _ if !signed => {}
        _ if !sealed => ex.problems.push(Problem::new(
            "resources-not-sealed",
            format!(
                "{}: the bundle has resources ({label}/) but its signature seals none (no CodeResources hash in special slot -3), which macOS refuses",
                root.display()
            ),
        )),
        None => ex.problems.push(Problem::new(
            "resources-missing",
            format!(
                "{}: missing, but the signature seals resources (special slot -3)",
                cr_path.display()
            ),
        )),
        Some(bytes) => match CodeResources::parse(bytes) {
            Err(m) => ex.problems.push(Problem::new(
                "resources-unreadable",
                format!("{}: {m}", cr_path.display()),
            )),
            Ok(cr) => {
                let main_rel = exe
                    .strip_prefix(&contents)
                    .ok()
                    .and_then(|p| p.to_str())
                    .unwrap_or("")
                    .to_owned();
                let check = seal::check(&contents, &cr, &main_rel);
                ex.problems.extend(check.problems);
                for f in check.findings {
                    ex.problems.push(match f {
                        Finding::Missing(p) => Problem::new(
                            "resource-missing",
                            format!("{label}/{p}: sealed but missing"),
                        ),
                        Finding::Added(p) => Problem::new(
                            "resource-added",
                            format!("{label}/{p}: present but not sealed"),
                        ),
                        Finding::Modified(p, why) => {
                            Problem::new("resource-modified", format!("{label}/{p}: {why}"))
                        }
                    });
                }
                for n in check.nested {
                    if depth + 1 > MAX_NESTING {
                        ex.problems.push(Problem::new(
                            "nested-code",
                            format!(
                                "{label}/{}: nested deeper than {MAX_NESTING} levels",
                                n.relative
                            ),
                        ));
                        continue;
                    }
                    let mut nopts = opts.clone();
                    nopts.arch = None;
                    match examine_at(&n.path, &nopts, depth + 1) {
                        Err(e) => ex.problems.push(Problem::new(
                            "nested-code",
                            format!("{label}/{}: {e}", n.relative),
                        )),
                        Ok(nested) => {
                            for p in nested.all_problems() {
                                ex.problems.push(Problem::new(
                                    "nested-code",
                                    format!("{label}/{}: {p}", n.relative),
                                ));
                            }
                            let want = n.sealed.cdhash.clone().unwrap_or_default();
                            let matches = nested.slices.iter().any(|s| {
                                s.cdhashes
                                    .iter()
                                    .any(|(_, h)| h.as_slice() == want.as_slice())
                            });
                            if !matches {
                                ex.problems.push(Problem::new(
                                    "nested-code",
                                    format!(
                                        "{label}/{}: sealed cdhash {} matches none of its CodeDirectories",
                                        n.relative,
                                        hex(&want)
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        },
    }
    Ok(ex)
}
