//! The first run of a GUI app that needs a privileged helper, through macOS's own installers.
//!
//! An app calls one function on first run (and whenever its helper does not answer):
//! `smbless::macos::install(app, label, Preference::Automatic)`. On macOS 13+ with a daemon
//! plist in `Contents/Library/LaunchDaemons`, that registers it with SMAppService; before 13
//! (or for an app shipping only `Contents/Library/LaunchServices/LABEL`) it calls SMJobBless.
//! The outcome decides the screen the app shows — [`Screen`] below.
//!
//! A Swift app calls the same flow through the small C ABI at the bottom of this file
//! (`smbless_first_run`, `smbless_open_login_items`, `smbless_last_error`); build it into a
//! `staticlib` crate of your own and link it (see README, "The GUI first-run flow").
//!
//! Run it:
//! - on macOS, from a binary inside the app (`X.app/Contents/MacOS/`), so that its main bundle
//!   is the app: `first_run LABEL [auto|smappservice|smjobbless]`;
//! - anywhere, to see what it would do: `cargo run --example first_run -- --plan APP LABEL
//!   [OS_VERSION] [--testing-treat-as-apple-root PEM]`, e.g.
//!   `cargo run --example first_run -- --plan fixtures/contract/smappservice-layout.app
//!   com.example.smbless.helper 14.5 --testing-treat-as-apple-root fixtures/src/pki/root.pem`.

use std::path::Path;
use std::process::ExitCode;

use smbless::codesign::trust::{AnchorKind, Anchors};
use smbless::codesign::VerifyOptions;
use smbless::service_management::{
    available, check_daemon, choose_route, AuthorizationOutcome, DaemonStatus, InstallerError,
    OsVersion, Preference, PreflightOptions, Route,
};

/// What the app shows after the first-run call.
#[derive(Debug, PartialEq, Eq)]
pub enum Screen {
    /// The helper is installed and running: carry on, connect to it.
    Ready,
    /// Registered, but the user must allow it: show the text and an "Open System Settings"
    /// button that calls `open_login_items_settings()`; check `daemon_status` again when the
    /// app becomes active.
    NeedsApproval(String),
    /// The user cancelled the administrator prompt: say nothing alarming, offer "Try Again".
    Cancelled,
    /// Something is wrong with the app itself (a build or signing problem): say the app is
    /// damaged and should be reinstalled; log `details` (finding ids) for the developer.
    Broken {
        /// For the user.
        message: String,
        /// For the log and the bug report.
        details: String,
    },
}

/// The screen for a failed install.
pub fn screen_for_error(app_name: &str, error: &InstallerError) -> Screen {
    match error {
        InstallerError::Authorization(AuthorizationOutcome::Canceled) => Screen::Cancelled,
        InstallerError::Authorization(outcome) => Screen::Broken {
            message: format!("{app_name} could not get permission to install its helper."),
            details: outcome.message(),
        },
        other => Screen::Broken {
            message: format!(
                "{app_name} could not install its helper. Reinstall {app_name} from its original download."
            ),
            details: other.to_string(),
        },
    }
}

/// The screen for an SMAppService status (also what to show on later launches).
pub fn screen_for_status(app_name: &str, status: DaemonStatus) -> Screen {
    match status {
        DaemonStatus::Enabled => Screen::Ready,
        DaemonStatus::RequiresApproval => Screen::NeedsApproval(status.message(app_name)),
        other => Screen::Broken {
            message: other.message(app_name),
            details: format!("SMAppService status {}", other.as_str()),
        },
    }
}

fn show(screen: &Screen) {
    match screen {
        Screen::Ready => println!("[screen] ready: connecting to the helper"),
        Screen::NeedsApproval(text) => {
            println!("[screen] {text}\n[button] Open System Settings")
        }
        Screen::Cancelled => println!("[screen] The helper was not installed. [button] Try Again"),
        Screen::Broken { message, details } => println!("[screen] {message}\n[log] {details}"),
    }
}

fn preference(arg: Option<&str>) -> Result<Preference, String> {
    match arg {
        None | Some("auto") => Ok(Preference::Automatic),
        Some("smappservice") => Ok(Preference::AppService),
        Some("smjobbless") => Ok(Preference::JobBless),
        Some(other) => Err(format!(
            "{other:?}: expected auto, smappservice or smjobbless"
        )),
    }
}

/// `--plan APP LABEL [OS_VERSION] [--testing-treat-as-apple-root PEM]`: the route and the
/// pre-flight check, on any OS.
fn plan(args: &[String]) -> Result<ExitCode, String> {
    let (app, label) = match args {
        [app, label, ..] => (Path::new(app), label.as_str()),
        _ => {
            return Err("--plan APP LABEL [OS_VERSION] [--testing-treat-as-apple-root PEM]".into())
        }
    };
    let os = match args.get(2).filter(|a| !a.starts_with("--")) {
        Some(v) => OsVersion::parse(v).ok_or_else(|| format!("{v:?}: expected a macOS version"))?,
        None => OsVersion::APP_SERVICE,
    };
    let mut anchors = Anchors::apple().map_err(|e| e.to_string())?;
    if let Some(i) = args
        .iter()
        .position(|a| a == "--testing-treat-as-apple-root")
    {
        let pem_path = args.get(i + 1).ok_or("--testing-treat-as-apple-root PEM")?;
        let pem = std::fs::read(pem_path).map_err(|e| format!("{pem_path}: {e}"))?;
        anchors
            .add_pem(&pem, AnchorKind::TestApple, pem_path)
            .map_err(|e| e.to_string())?;
    }
    let shipped = available(app, label);
    let choice = match choose_route(os, Preference::Automatic, label, &shipped) {
        Ok(choice) => choice,
        Err(e) => {
            println!("macOS {os}: no route: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("macOS {os}: {} — {}", choice.route, choice.reason);
    let Some(plist) = choice
        .plist_name
        .as_deref()
        .filter(|_| choice.route == Route::AppService)
    else {
        println!("SMJobBless: the app checks its contract first (`smbless verify APP --label {label} --root /`), then shows the administrator prompt");
        return Ok(ExitCode::SUCCESS);
    };
    let options = PreflightOptions {
        signature: VerifyOptions {
            anchors,
            at: None,
            threads: 0,
        },
        label: Some(label.to_owned()),
    };
    let preflight = check_daemon(app, plist, &options);
    if preflight.ok() {
        println!("pre-flight: ok; register() would now ask the system, and the user may have to approve:");
        show(&screen_for_status(
            "The app",
            DaemonStatus::RequiresApproval,
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        show(&screen_for_error(
            "The app",
            &InstallerError::Preflight(Box::new(preflight)),
        ));
        Ok(ExitCode::from(1))
    }
}

#[cfg(target_os = "macos")]
fn first_run(label: &str, preference: Preference) -> Screen {
    use smbless::macos::{self, InstallOutcome};
    let app = macos::main_bundle();
    let name = app.file_stem().map_or_else(
        || "The app".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    match macos::install(&app, label, preference) {
        Ok(done) => match done.outcome {
            InstallOutcome::AppService(reg) => screen_for_status(&name, reg.status),
            InstallOutcome::JobBless(_) => Screen::Ready,
        },
        Err(error) => screen_for_error(&name, &error),
    }
}

#[cfg(not(target_os = "macos"))]
fn first_run(_label: &str, _preference: Preference) -> Screen {
    Screen::Broken {
        message: "SMAppService and SMJobBless exist only on macOS.".to_owned(),
        details: "run with --plan APP LABEL [OS_VERSION] to see what would happen".to_owned(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--plan") => plan(&args[1..]),
        Some(label) => preference(args.get(1).map(String::as_str)).map(|pref| {
            let screen = first_run(label, pref);
            show(&screen);
            ExitCode::from(u8::from(!matches!(
                screen,
                Screen::Ready | Screen::NeedsApproval(_)
            )))
        }),
        None => Err(
            "usage: first_run LABEL [auto|smappservice|smjobbless] | --plan APP LABEL [OS_VERSION]"
                .into(),
        ),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// The C ABI a Swift app calls (put these in a `staticlib` crate of your own; the header is in
/// README, "The GUI first-run flow").
pub mod c_abi {
    use std::cell::RefCell;
    use std::ffi::{c_char, CStr, CString};

    use super::{first_run, Preference, Screen};

    thread_local! {
        static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    }

    /// `smbless_first_run` results.
    pub const SMBLESS_READY: i32 = 0;
    /// The user must approve the helper in System Settings (call `smbless_open_login_items`).
    pub const SMBLESS_NEEDS_APPROVAL: i32 = 1;
    /// The user cancelled the administrator prompt.
    pub const SMBLESS_CANCELLED: i32 = 2;
    /// The app is broken or the install failed; `smbless_last_error` says why.
    pub const SMBLESS_FAILED: i32 = 3;

    /// Install or register the helper `label` of the running app. `label` is a NUL-terminated
    /// UTF-8 string; returns one of the `SMBLESS_*` codes.
    ///
    /// # Safety
    /// `label` must be null or point at a NUL-terminated string that stays valid for the call.
    #[no_mangle]
    pub unsafe extern "C" fn smbless_first_run(label: *const c_char) -> i32 {
        if label.is_null() {
            return fail("label is null".to_owned());
        }
        // SAFETY: the caller promises a valid NUL-terminated string.
        let label = match unsafe { CStr::from_ptr(label) }.to_str() {
            Ok(label) => label,
            Err(_) => return fail("label is not UTF-8".to_owned()),
        };
        match first_run(label, Preference::Automatic) {
            Screen::Ready => SMBLESS_READY,
            Screen::NeedsApproval(text) => {
                set_error(text);
                SMBLESS_NEEDS_APPROVAL
            }
            Screen::Cancelled => SMBLESS_CANCELLED,
            Screen::Broken { message, details } => fail(format!("{message}\n{details}")),
        }
    }

    /// Open System Settings › General › Login Items.
    #[no_mangle]
    pub extern "C" fn smbless_open_login_items() {
        #[cfg(target_os = "macos")]
        smbless::macos::open_login_items_settings();
    }

    /// The text of the last result of this thread (approval message or error), or null. The
    /// pointer stays valid until the next call of `smbless_first_run` on this thread.
    #[no_mangle]
    pub extern "C" fn smbless_last_error() -> *const c_char {
        LAST_ERROR.with(|e| e.borrow().as_ref().map_or(std::ptr::null(), |s| s.as_ptr()))
    }

    fn set_error(text: String) {
        let text = CString::new(text.replace('\0', " ")).ok();
        LAST_ERROR.with(|e| *e.borrow_mut() = text);
    }

    fn fail(text: String) -> i32 {
        set_error(text);
        SMBLESS_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_the_prompt_is_not_an_error_screen() {
        let e = InstallerError::Authorization(AuthorizationOutcome::Canceled);
        assert_eq!(screen_for_error("X", &e), Screen::Cancelled);
        let e = InstallerError::Authorization(AuthorizationOutcome::Denied);
        assert!(matches!(screen_for_error("X", &e), Screen::Broken { .. }));
    }

    #[test]
    fn statuses_map_to_screens() {
        assert_eq!(screen_for_status("X", DaemonStatus::Enabled), Screen::Ready);
        assert!(
            matches!(screen_for_status("X", DaemonStatus::RequiresApproval), Screen::NeedsApproval(t) if t.contains("Login Items"))
        );
        assert!(matches!(
            screen_for_status("X", DaemonStatus::NotFound),
            Screen::Broken { .. }
        ));
    }

    #[test]
    fn the_c_abi_refuses_a_null_label() {
        // SAFETY: null is allowed.
        let code = unsafe { c_abi::smbless_first_run(std::ptr::null()) };
        assert_eq!(code, c_abi::SMBLESS_FAILED);
        let text = c_abi::smbless_last_error();
        assert!(!text.is_null());
        // SAFETY: a pointer from smbless_last_error, used before the next call.
        let text = unsafe { std::ffi::CStr::from_ptr(text) }.to_str().unwrap();
        assert_eq!(text, "label is null");
    }
}
