//! The apps of the audited system: their bundle identifiers (to find a job's owner), their
//! team (to compare with the job's program), and the jobs they carry (SMAppService plists in
//! `Contents/Library/LaunchDaemons|LaunchAgents`, SMJobBless helpers in
//! `Contents/Library/LaunchServices`). Everything is read through directory handles.

use std::collections::BTreeMap;

use plist::{Dictionary, Value};

use super::program::{self, Judging};
use super::walk::{self, Owner, MAX_PLIST_SIZE};
use crate::install::dir::Dir;

/// One app found.
pub struct App {
    /// Its path as the audited system sees it (`/Applications/X.app`).
    pub path: String,
    /// `CFBundleIdentifier`.
    pub identifier: Option<String>,
    /// `CFBundleExecutable`.
    pub executable: Option<String>,
    /// The open `Contents` directory.
    pub contents: Dir,
}

/// The apps found, by identifier.
#[derive(Default)]
pub struct AppIndex {
    /// Every app, in the order found.
    pub apps: Vec<App>,
    /// What could not be read completely (see [`super::AuditReport::incomplete`]).
    pub cut: Vec<String>,
    by_id: BTreeMap<String, usize>,
    teams: BTreeMap<usize, Option<String>>,
}

impl AppIndex {
    /// Index the apps in each of `dirs` (system paths) under `root`, and in their subfolders
    /// one level down (`/Applications/Utilities`).
    pub fn scan(root: &Dir, dirs: &[String]) -> AppIndex {
        let mut index = AppIndex::default();
        for sys in dirs {
            let Some(rel) = sys.strip_prefix('/').filter(|r| !r.is_empty()) else {
                continue;
            };
            let Some(dir) = walk::job_dir(root, rel, sys, &mut index.cut) else {
                continue;
            };
            index.scan_dir(&dir, sys, true);
        }
        index
    }

    fn scan_dir(&mut self, dir: &Dir, sys: &str, descend: bool) {
        for name in walk::names(dir, sys, &mut self.cut) {
            let Some(sub) = walk::subdir(dir, &name) else {
                continue;
            };
            let shown = format!("{}/{name}", sys.trim_end_matches('/'));
            if name.ends_with(".app") {
                if let Some(app) = open_app(&sub, shown) {
                    if let Some(id) = &app.identifier {
                        self.by_id.entry(id.clone()).or_insert(self.apps.len());
                    }
                    self.apps.push(app);
                }
            } else if descend {
                self.scan_dir(&sub, &shown, false);
            }
        }
    }

    /// The index of the app whose identifier is one of `ids`.
    pub fn find(&self, ids: &[String]) -> Option<usize> {
        ids.iter().find_map(|id| self.by_id.get(id).copied())
    }

    /// The team of app `i`'s main executable (read once, signature not hashed).
    pub fn team(&mut self, i: usize, judging: &Judging<'_>) -> Option<String> {
        if let Some(team) = self.teams.get(&i) {
            return team.clone();
        }
        let team = self.apps.get(i).and_then(|app| {
            let exe = app.executable.as_deref()?;
            let macos = walk::subdir(&app.contents, "MacOS")?;
            let shown = format!("{}/Contents/MacOS/{exe}", app.path);
            let cheap = Judging {
                verify: judging.verify,
                deep: false,
            };
            program::read(&macos, exe, &shown, &cheap).ok()?.team()
        });
        self.teams.insert(i, team.clone());
        team
    }
}

fn open_app(bundle: &Dir, path: String) -> Option<App> {
    let contents = walk::subdir(bundle, "Contents")?;
    let info = walk::read(&contents, "Info.plist", MAX_PLIST_SIZE)
        .ok()
        .and_then(|f| plist::from_bytes::<Value>(&f.bytes).ok())
        .and_then(Value::into_dictionary)
        .unwrap_or_default();
    let string = |key: &str| info.get(key).and_then(Value::as_string).map(str::to_string);
    Some(App {
        path,
        identifier: string("CFBundleIdentifier"),
        executable: string("CFBundleExecutable"),
        contents,
    })
}

/// A plist read from a directory: its parsed dictionary or why not, and its owner.
pub struct PlistFile {
    /// The file name.
    pub name: String,
    /// The path as the audited system sees it.
    pub shown: String,
    /// The dictionary, or why it could not be read.
    pub dict: Result<Dictionary, String>,
    /// Owner and mode, when the file could be opened.
    pub owner: Option<Owner>,
}

/// Read every `*.plist` in `dir` (shown as `sys`).
pub fn plists_in(dir: &Dir, sys: &str, cut: &mut Vec<String>) -> Vec<PlistFile> {
    walk::names(dir, sys, cut)
        .into_iter()
        .filter(|n| n.ends_with(".plist"))
        .map(|name| {
            let shown = format!("{sys}/{name}");
            match walk::read(dir, &name, MAX_PLIST_SIZE) {
                Ok(file) => PlistFile {
                    dict: parse_dict(&file.bytes),
                    owner: Some(file.owner),
                    name,
                    shown,
                },
                Err(why) => PlistFile {
                    dict: Err(why),
                    owner: None,
                    name,
                    shown,
                },
            }
        })
        .collect()
}

/// Parse `bytes` as a property-list dictionary.
pub fn parse_dict(bytes: &[u8]) -> Result<Dictionary, String> {
    match plist::from_bytes::<Value>(bytes) {
        Ok(Value::Dictionary(d)) => Ok(d),
        Ok(other) => Err(format!(
            "is a property list whose top level is {}; expected a dictionary",
            crate::plists::type_name(&other)
        )),
        Err(e) => Err(format!("is not a property list: {e}")),
    }
}
