//! smbless: what Apple's `SMJobBless` does, done openly and portably.
//!
//! A macOS app that needs root work ships a helper tool in
//! `Contents/Library/LaunchServices/<label>`; app and helper name each other with code-signing
//! requirements (`SMPrivilegedExecutables` in the app, `SMAuthorizedClients` in the helper), and
//! blessing installs the helper as a root launchd daemon. This library reads every part of that
//! exactly — on Linux as well as on a Mac — checks it, explains what is wrong, and installs.
//! The `smbless` command-line tool is a thin layer over it.
//!
//! # Modules
//!
//! The library is layered; each layer imports only the ones below it:
//!
//! 1. [`container`]: Mach-O (thin, fat, fat64) and ELF files, slices, sections, the location of
//!    the code signature. Zero-copy, bounds-checked, every error carries a file offset. Files
//!    are read through [`mapped`] (read-only memory maps).
//! 2. [`plists`]: the Info.plist and launchd plist embedded in a binary (`__TEXT,__info_plist`,
//!    `__TEXT,__launchd_plist`, or ELF `.info_plist` / `.launchd_plist`) and bundle plists;
//!    [`version`]: `CFBundleVersion` as SMJobBless compares it.
//! 3. [`bundle`]: an app bundle's layout (`Contents/Info.plist`, the main executable, the helpers
//!    in `Contents/Library/LaunchServices`).
//! 4. [`inspect`]: a serialisable report of all of the above for one path.
//! 5. [`requirement`]: Apple's requirement language — parse, compile to and decode from the
//!    binary form, print as `codesign` does, evaluate with an explanation tree.
//! 6. [`codesign`]: code signatures read and verified as macOS does (CodeDirectories, CMS,
//!    certificate chains, bundle resource seals), offline.
//! 7. [`contract`]: the whole app↔helper contract ([`contract::verify`]), every problem a
//!    [`contract::Finding`] with a fix; [`launchd_policy`]: what each key of a helper's launchd
//!    plist would do as root.
//! 8. `install` (Unix): bless, remove and status under any root directory, crash-safely; the
//!    decision itself is the pure planner `install::plan::plan`.
//! 9. `service_management` (Unix): the decisions behind SMAppService and SMJobBless as plain
//!    functions; `macos` (macOS only) makes the framework calls.
//!
//! Beside the layers, `client` (Unix) speaks a launch-on-demand helper's wire protocol (a 4-byte
//! length and a plist), shared with `helper-template/` through the `smbless-wire` crate.
//!
//! No function in this library panics on malformed input or allocates from an unchecked
//! length field.
//!
//! # Verify an app
//!
//! Check the whole SMJobBless contract of an app and its helpers — signatures, requirements in
//! both directions, the plists, versions — as `smbless verify` does. The bundled example app is
//! signed by a test PKI shaped like Apple's, so its root is registered as an Apple root for
//! testing (real apps need only [`codesign::VerifyOptions::apple`]):
//!
//! ```
//! use std::path::Path;
//! use smbless::codesign::{trust::AnchorKind, VerifyOptions};
//! use smbless::contract;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
//! let mut signature = VerifyOptions::apple()?;
//! let test_root = std::fs::read(fixtures.join("src/pki/root.pem"))?;
//! signature.anchors.add_pem(&test_root, AnchorKind::TestApple, "root.pem")?;
//!
//! let options = contract::VerifyOptions { label: None, signature, strict: false };
//! let report = contract::verify(&fixtures.join("apps/Example.app"), &options)?;
//! assert!(report.ok, "{:#?}", report.findings);
//! assert_eq!(report.helpers[0].label, "com.example.smbless.helper");
//! for finding in &report.findings {
//!     println!("{}[{}]: {} (hint: {})", finding.severity, finding.id, finding.message, finding.hint);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Evaluate a requirement
//!
//! Examine signed code once, then evaluate requirements against each slice; the
//! [`requirement::Evaluation`] says whether it holds and why, clause by clause:
//!
//! ```
//! use std::path::Path;
//! use smbless::codesign::{self, trust::AnchorKind, ExamineOptions, VerifyOptions};
//! use smbless::requirement;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
//! let helper = fixtures.join("apps/Example.app/Contents/Library/LaunchServices/com.example.smbless.helper");
//! let mut verify = VerifyOptions::apple()?;
//! verify.anchors.add_pem(&std::fs::read(fixtures.join("src/pki/root.pem"))?, AnchorKind::TestApple, "root.pem")?;
//! let examined = codesign::examine(&helper, &ExamineOptions { verify, integrity: true, arch: None })?;
//!
//! let ours = requirement::parse_requirement(
//!     r#"anchor apple generic and identifier "com.example.smbless.helper" and certificate leaf[subject.OU] = EXAMPLE123"#,
//! )?;
//! let theirs = requirement::parse_requirement(r#"certificate leaf[subject.OU] = OTHERTEAM1"#)?;
//! for slice in &examined.slices {
//!     assert!(slice.is_valid(), "{}: {:?}", slice.arch, slice.problems);
//!     assert!(requirement::evaluate(&ours, slice).satisfied);
//!     let no = requirement::evaluate(&theirs, slice);
//!     assert!(!no.satisfied);
//!     println!("{}: {:#?}", slice.arch, no.explanation);
//! }
//! // The same requirement in Apple's binary form (what `csreq -b` writes) and back.
//! let blob = requirement::compile(&ours)?;
//! assert_eq!(requirement::to_text(&requirement::decode(&blob)?), requirement::to_text(&ours));
//! # Ok(())
//! # }
//! ```
//!
//! # Plan a bless
//!
//! A bless is one decision over one examination: [`install::plan::plan`] weighs the facts
//! (gathered by `install::bless` from the app and the installed state) and answers install,
//! upgrade, no change, or refuse with every reason. It is pure, so it can be asked directly:
//!
//! ```
//! # #[cfg(unix)] {
//! use smbless::install::plan::{plan, Action, Decision, Facts, Installed};
//! use smbless::install::{RefusalId, Verdict};
//! use smbless::version::BundleVersion;
//!
//! // What is installed: a valid helper of this version whose SMAuthorizedClients give `clients`.
//! let installed = |version: &str, clients: Verdict| Installed::Helper {
//!     path: "/Library/PrivilegedHelperTools/com.example.helper".into(),
//!     version: BundleVersion::parse(version).expect("a bundle version"),
//!     signature: Verdict::Pass,
//!     clients,
//! };
//! let mut facts = Facts {
//!     label: "com.example.helper".into(),
//!     app: "/Applications/Example.app".into(),
//!     contract: Verdict::Pass,
//!     app_id: Some("com.example.app".into()),
//!     requirement: Some(r#"anchor apple generic and identifier "com.example.helper""#.into()),
//!     bundled: BundleVersion::parse("1.2").map_err(|e| e.to_string()),
//!     policy: Vec::new(),
//!     installer: None,
//!     job: Vec::new(),
//!     installed: installed("1.1", Verdict::Pass),
//! };
//! let decision = plan(&facts);
//! assert_eq!(decision.action(), Some(&Action::Upgrade { from: "1.1".into(), to: "1.2".into() }));
//! assert_eq!(decision.describe(), "upgrade from 1.1 to 1.2");
//!
//! // Never downgrade: an installed 1.3 stays.
//! facts.installed = installed("1.3", Verdict::Pass);
//! assert_eq!(plan(&facts).describe(), "no change: installed 1.3 ≥ bundled 1.2");
//!
//! // A helper the installed one's SMAuthorizedClients does not admit may not replace it.
//! facts.installed = installed("1.1", Verdict::Fail(vec!["team differs".into()]));
//! match plan(&facts) {
//!     Decision::Refuse { refusals } => {
//!         assert_eq!(refusals[0].id, RefusalId::InstalledClientRequirementUnsatisfied)
//!     }
//!     other => panic!("expected a refusal, got {}", other.describe()),
//! }
//! # }
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(unix)]
pub mod audit;
pub mod bundle;
#[cfg(unix)]
pub mod client;
pub mod codesign;
pub mod container;
pub mod contract;
pub mod inspect;
#[cfg(unix)]
pub mod install;
pub mod launchd_policy;
pub mod mapped;
pub mod plists;
pub mod requirement;
#[cfg(unix)]
pub mod service_management;
pub mod version;

#[cfg(target_os = "macos")]
pub mod macos;
