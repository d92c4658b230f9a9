//! `inspect`: a serialisable description of a Mach-O file, ELF file or app bundle — its slices,
//! embedded plists and code-signature location. The JSON shape is stable (see the README).

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::bundle::{Bundle, BundleError};
use crate::container::{Container, ContainerError, ContainerKind, Slice};
use crate::mapped::MappedFile;
use crate::plists::{self, PlistError};

/// Why a path could not be inspected. Every variant names the file.
#[derive(Debug, Error)]
#[error("{path}: {kind}", path = path.display())]
pub struct InspectError {
    /// The file (or bundle) at fault.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: InspectErrorKind,
}

/// What went wrong while inspecting one file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InspectErrorKind {
    /// The file could not be opened or mapped.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The file is not a readable Mach-O/ELF container.
    #[error("{0}")]
    Container(#[from] ContainerError),
    /// An embedded plist is malformed.
    #[error("{0}")]
    Plist(#[from] PlistError),
    /// The bundle is malformed (the error names its own file).
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// `--arch` named an architecture the file does not contain.
    #[error("no slice for architecture {wanted}; the file contains: {available}")]
    NoSuchArch {
        /// The architecture asked for.
        wanted: String,
        /// The architectures present, comma-separated.
        available: String,
    },
}

/// The report for one file, or for a bundle (then `kind` is `bundle` and `slices` is empty).
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The path as given.
    pub path: String,
    /// `macho`, `macho-fat`, `elf` or `bundle`.
    pub kind: &'static str,
    /// One entry per architecture (after `--arch` filtering).
    pub slices: Vec<SliceReport>,
    /// Whether the slices embed different Info.plists or launchd plists.
    pub slices_disagree: bool,
    /// For bundles: the bundle's Info.plist, executable and helpers.
    pub bundle: Option<Box<BundleReport>>,
}

/// One slice of a file.
#[derive(Debug, Clone, Serialize)]
pub struct SliceReport {
    /// Architecture name (`arm64`, `x86_64`, …).
    pub arch: String,
    /// Offset of the slice in the file.
    pub offset: u64,
    /// Size of the slice.
    pub size: u64,
    /// Object-file type (`execute`, `dylib`, …).
    pub filetype: String,
    /// The embedded Info.plist as JSON, if any.
    pub info_plist: Option<serde_json::Value>,
    /// The embedded launchd plist as JSON, if any.
    pub launchd_plist: Option<serde_json::Value>,
    /// Where `LC_CODE_SIGNATURE` points, if the slice has one.
    pub code_signature: Option<SignatureRange>,
}

/// The `LC_CODE_SIGNATURE` range of a slice, relative to the slice.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SignatureRange {
    /// `dataoff`.
    pub offset: u64,
    /// `datasize`.
    pub size: u64,
}

/// The bundle part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    /// `Contents/Info.plist` as JSON.
    pub info_plist: serde_json::Value,
    /// The main executable.
    pub executable: FileReport,
    /// Each entry of `Contents/Library/LaunchServices`.
    pub helpers: Vec<FileReport>,
}

/// Options for [`inspect_path`].
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Report only the slice of this architecture.
    pub arch: Option<String>,
}

/// Inspect a Mach-O file, ELF file or app bundle.
pub fn inspect_path(path: &Path, options: &InspectOptions) -> Result<FileReport, InspectError> {
    if path.is_dir() {
        inspect_bundle(path, options)
    } else {
        inspect_file(path, options)
    }
}

fn inspect_bundle(path: &Path, options: &InspectOptions) -> Result<FileReport, InspectError> {
    let bundle = Bundle::open(path).map_err(|e| InspectError {
        path: path.to_path_buf(),
        kind: e.into(),
    })?;
    let executable = inspect_file(bundle.executable(), options)?;
    let helpers = bundle
        .helpers()
        .unwrap_or_default()
        .iter()
        .map(|helper| inspect_file(helper, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FileReport {
        path: path.display().to_string(),
        kind: "bundle",
        slices: Vec::new(),
        slices_disagree: false,
        bundle: Some(Box::new(BundleReport {
            info_plist: plists::dictionary_to_json(bundle.info_plist().dictionary()),
            executable,
            helpers,
        })),
    })
}

/// Inspect one Mach-O or ELF file.
pub fn inspect_file(path: &Path, options: &InspectOptions) -> Result<FileReport, InspectError> {
    let error = |kind: InspectErrorKind| InspectError {
        path: path.to_path_buf(),
        kind,
    };
    let file = MappedFile::open(path).map_err(|e| error(InspectErrorKind::Io(e)))?;
    let container = Container::parse(file.bytes()).map_err(|e| error(e.into()))?;
    let slices = select_slices(&container, options.arch.as_deref()).map_err(error)?;

    let mut reports = Vec::with_capacity(slices.len());
    let mut embedded = Vec::with_capacity(slices.len());
    for slice in slices {
        let pair = plists::embedded_pair(slice).map_err(|e| error(e.into()))?;
        let json = |p: &Option<plists::Plist<'_>>| {
            p.as_ref()
                .map(|p| plists::dictionary_to_json(p.dictionary()))
        };
        reports.push(SliceReport {
            arch: slice.arch().name.clone(),
            offset: slice.file_offset(),
            size: slice.data().len() as u64,
            filetype: slice.filetype().to_string(),
            info_plist: json(&pair.info),
            launchd_plist: json(&pair.launchd),
            code_signature: slice.code_signature().map(|sig| SignatureRange {
                offset: sig.offset,
                size: sig.size,
            }),
        });
        embedded.push(pair);
    }
    let slices_disagree = embedded.windows(2).any(|pair| !pair[0].same_as(&pair[1]));
    Ok(FileReport {
        path: path.display().to_string(),
        kind: container.kind().as_str(),
        slices: reports,
        slices_disagree,
        bundle: None,
    })
}

/// The slices `--arch` selects: all of them without a filter, else exactly the matching one.
pub fn select_slices<'c, 'data>(
    container: &'c Container<'data>,
    arch: Option<&str>,
) -> Result<Vec<&'c Slice<'data>>, InspectErrorKind> {
    let all = container.slices();
    let Some(wanted) = arch else {
        return Ok(all.iter().collect());
    };
    let chosen: Vec<_> = all.iter().filter(|s| s.arch().matches(wanted)).collect();
    if chosen.is_empty() {
        return Err(InspectErrorKind::NoSuchArch {
            wanted: wanted.to_string(),
            available: all
                .iter()
                .map(|s| s.arch().name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(chosen)
}

impl FileReport {
    /// Whether this report is for a fat file.
    pub fn is_fat(&self) -> bool {
        self.kind == ContainerKind::MachOFat.as_str()
    }
}
