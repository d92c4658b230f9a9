//! The job backend: everything about the installed job that belongs to one service manager —
//! how the job file is rendered from the helper's embedded plist, where it lives and what it
//! is called, which program an installed job file runs (for listing and for recognising a
//! foreign job), and loading, unloading and asking whether it is loaded.
//!
//! launchd is the backend today: `Launchctl` on macOS (`/bin/launchctl`), and
//! [`NoServiceManager`] (launchd's file format, nothing loaded) for staging roots and other
//! systems; tests add a recording backend. A systemd or SMAppService backend is one new file:
//! implement [`JobBackend`] — `job_dir`/`job_file_name`/`render`/`program_of` for its unit
//! format (`Library/LaunchDaemons` → `etc/systemd/system`, plist → unit file) and
//! `unload`/`load`/`is_loaded` for its manager (`systemctl disable --now` / `enable --now` /
//! `is-active`); the journal swaps whatever `job_file_name` names, the planner and executor
//! do not change. The launchctl command lines are built by [`launchctl_command`], a pure
//! function tested on every OS; only running them is macOS-only.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

/// The launchctl binary. An absolute path, so a root process never resolves it through `PATH`.
pub const LAUNCHCTL: &str = "/bin/launchctl";

/// A launchctl operation on a system-domain daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchctlOp {
    /// `launchctl bootout system/LABEL`: stop and unload the job.
    Bootout {
        /// The job label.
        label: String,
    },
    /// `launchctl bootstrap system PLIST`: load the job from its plist.
    Bootstrap {
        /// The installed daemon plist (as the system sees it).
        plist: PathBuf,
    },
    /// `launchctl print system/LABEL`: exit code 0 when the job is loaded.
    Print {
        /// The job label.
        label: String,
    },
}

/// The full command line of `op`, program first.
pub fn launchctl_command(op: &LaunchctlOp) -> Vec<OsString> {
    let mut argv = vec![OsString::from(LAUNCHCTL)];
    match op {
        LaunchctlOp::Bootout { label } => {
            argv.push("bootout".into());
            argv.push(format!("system/{label}").into());
        }
        LaunchctlOp::Bootstrap { plist } => {
            argv.push("bootstrap".into());
            argv.push("system".into());
            argv.push(plist.as_os_str().to_owned());
        }
        LaunchctlOp::Print { label } => {
            argv.push("print".into());
            argv.push(format!("system/{label}").into());
        }
    }
    argv
}

/// A command line as one shell-readable string, for plans and messages.
pub fn display_command(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which service manager an install uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceManagerKind {
    /// launchd through `/bin/launchctl` (macOS).
    Launchctl,
    /// Lay files only; nothing is loaded or unloaded (packaging, other OSes).
    None,
}

impl ServiceManagerKind {
    /// `launchctl` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceManagerKind::Launchctl => "launchctl",
            ServiceManagerKind::None => "none",
        }
    }
}

impl fmt::Display for ServiceManagerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service-manager command that failed.
#[derive(Debug, Clone, Error)]
#[error("`{command}` failed: {message}")]
pub struct ServiceError {
    /// The command line.
    pub command: String,
    /// Exit status and output.
    pub message: String,
}

/// One service manager's view of an installed job (see the module documentation).
pub trait JobBackend {
    /// Which manager this is.
    fn kind(&self) -> ServiceManagerKind;

    /// The directory (relative to the root) job files live in.
    fn job_dir(&self) -> &'static str {
        super::layout::DAEMON_DIR
    }

    /// The job file's name for `label`.
    fn job_file_name(&self, label: &str) -> String {
        super::layout::plist_name(label)
    }

    /// Render the job file for the helper `label` installed at `program` (its system path)
    /// from the helper's embedded launchd plist: launchd's XML plist with `ProgramArguments`
    /// set by smbless. `Err` lists the keys that must be refused.
    fn render(
        &self,
        embedded: &plist::Dictionary,
        label: &str,
        program: &Path,
        app_id: &str,
    ) -> Result<Vec<u8>, Vec<super::Refusal>> {
        super::daemon::render(embedded, label, program, app_id)
    }

    /// The program an installed job file runs (`ProgramArguments[0]`, else `Program`);
    /// `Err` when the file is not a job this backend can read.
    fn program_of(&self, job: &[u8]) -> Result<Option<String>, String> {
        super::daemon::program_of(job)
    }

    /// The command lines this manager would run for `op` (empty for `none`), for plans.
    fn commands(&self, op: &LaunchctlOp) -> Vec<Vec<OsString>>;

    /// Stop and unload `label`. Not being loaded is not an error.
    fn bootout(&self, label: &str) -> Result<(), ServiceError>;

    /// Load the job from its file (`job`, the system path).
    fn bootstrap(&self, job: &Path) -> Result<(), ServiceError>;

    /// Whether `label` is loaded; `None` when this manager cannot tell.
    fn is_loaded(&self, label: &str) -> Option<bool>;
}

/// Lays files only: nothing is loaded, unloading is a no-op, "loaded" is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoServiceManager;

impl JobBackend for NoServiceManager {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::None
    }

    fn commands(&self, _op: &LaunchctlOp) -> Vec<Vec<OsString>> {
        Vec::new()
    }

    fn bootout(&self, _label: &str) -> Result<(), ServiceError> {
        Ok(())
    }

    fn bootstrap(&self, _plist: &Path) -> Result<(), ServiceError> {
        Ok(())
    }

    fn is_loaded(&self, _label: &str) -> Option<bool> {
        None
    }
}

/// launchd through `/bin/launchctl`, system domain.
#[cfg(target_os = "macos")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Launchctl;

#[cfg(target_os = "macos")]
impl Launchctl {
    fn run(op: &LaunchctlOp) -> Result<std::process::Output, ServiceError> {
        let argv = launchctl_command(op);
        let command = display_command(&argv);
        let (program, args) = argv.split_first().ok_or_else(|| ServiceError {
            command: command.clone(),
            message: "empty command line".into(),
        })?;
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ServiceError {
                command,
                message: e.to_string(),
            })
    }

    fn check(op: &LaunchctlOp) -> Result<(), ServiceError> {
        let out = Launchctl::run(op)?;
        if out.status.success() {
            return Ok(());
        }
        Err(ServiceError {
            command: display_command(&launchctl_command(op)),
            message: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

#[cfg(target_os = "macos")]
impl JobBackend for Launchctl {
    fn kind(&self) -> ServiceManagerKind {
        ServiceManagerKind::Launchctl
    }

    fn commands(&self, op: &LaunchctlOp) -> Vec<Vec<OsString>> {
        vec![launchctl_command(op)]
    }

    fn bootout(&self, label: &str) -> Result<(), ServiceError> {
        // bootout of a job that is not loaded fails; that is the state we want, so ask first.
        if self.is_loaded(label) == Some(false) {
            return Ok(());
        }
        Launchctl::check(&LaunchctlOp::Bootout {
            label: label.to_owned(),
        })
    }

    fn bootstrap(&self, plist: &Path) -> Result<(), ServiceError> {
        Launchctl::check(&LaunchctlOp::Bootstrap {
            plist: plist.to_path_buf(),
        })
    }

    fn is_loaded(&self, label: &str) -> Option<bool> {
        Launchctl::run(&LaunchctlOp::Print {
            label: label.to_owned(),
        })
        .ok()
        .map(|out| out.status.success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(argv: Vec<OsString>) -> Vec<String> {
        argv.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn bootout_targets_the_system_domain_label() {
        let argv = launchctl_command(&LaunchctlOp::Bootout {
            label: "com.example.helper".into(),
        });
        assert_eq!(
            strings(argv),
            ["/bin/launchctl", "bootout", "system/com.example.helper"]
        );
    }

    #[test]
    fn bootstrap_names_the_domain_and_the_plist_separately() {
        let argv = launchctl_command(&LaunchctlOp::Bootstrap {
            plist: "/Library/LaunchDaemons/com.example.helper.plist".into(),
        });
        assert_eq!(
            strings(argv),
            [
                "/bin/launchctl",
                "bootstrap",
                "system",
                "/Library/LaunchDaemons/com.example.helper.plist"
            ]
        );
    }

    #[test]
    fn print_asks_about_the_system_domain_label() {
        let argv = launchctl_command(&LaunchctlOp::Print {
            label: "com.example.helper".into(),
        });
        assert_eq!(
            strings(argv),
            ["/bin/launchctl", "print", "system/com.example.helper"]
        );
    }

    #[test]
    fn a_path_with_spaces_stays_one_argument() {
        let argv = launchctl_command(&LaunchctlOp::Bootstrap {
            plist: "/tmp/stage root/Library/LaunchDaemons/x.plist".into(),
        });
        assert_eq!(argv.len(), 4);
        assert_eq!(
            display_command(&argv),
            "/bin/launchctl bootstrap system '/tmp/stage root/Library/LaunchDaemons/x.plist'"
        );
    }

    #[test]
    fn none_runs_nothing_and_knows_nothing() {
        let none = NoServiceManager;
        assert!(none
            .commands(&LaunchctlOp::Print { label: "x".into() })
            .is_empty());
        assert_eq!(none.is_loaded("x"), None);
        assert!(none.bootout("x").is_ok());
        assert!(none.bootstrap(Path::new("/nonexistent")).is_ok());
    }
}
