//! Every call into Apple's frameworks, and the only `unsafe` code of the macOS routes. Each
//! function converts its results into the plain types of [`crate::service_management`] at once.
//!
//! Soundness: the objc2 bindings are `unsafe` because the compiler cannot check Objective-C and
//! C signatures; the ones used here are called with valid, retained arguments, on any thread
//! (SMAppService and SMJobBless are thread-safe), and their results are copied out before the
//! objects are released.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::path::PathBuf;
use std::ptr;

use objc2_core_foundation::{CFError, CFRetained, CFString};
use objc2_foundation::{NSBundle, NSError, NSProcessInfo, NSString};
use objc2_security::{
    AuthorizationCopyRights, AuthorizationCreate, AuthorizationExternalForm, AuthorizationFlags,
    AuthorizationFree, AuthorizationItem, AuthorizationMakeExternalForm, AuthorizationRef,
    AuthorizationRights,
};
#[allow(deprecated)]
use objc2_service_management::{SMAppService, SMJobBless};

use crate::service_management::{ErrorDomain, OsVersion, ServiceError};

/// Name a domain, comparing with ServiceManagement's own constants first.
fn domain(name: &str) -> ErrorDomain {
    #[allow(deprecated)]
    // SAFETY: reading framework constants (immutable CFStrings/NSStrings set at load time).
    let (launchd, framework, ipc, app_service) = unsafe {
        (
            objc2_service_management::kSMErrorDomainLaunchd.map(|s| s.to_string()),
            objc2_service_management::kSMErrorDomainFramework.map(|s| s.to_string()),
            objc2_service_management::kSMErrorDomainIPC.map(|s| s.to_string()),
            objc2_service_management::SMAppServiceErrorDomain.to_string(),
        )
    };
    if launchd.as_deref() == Some(name) {
        ErrorDomain::Launchd
    } else if framework.as_deref() == Some(name) {
        ErrorDomain::Framework
    } else if ipc.as_deref() == Some(name) {
        ErrorDomain::Ipc
    } else if app_service == name {
        ErrorDomain::AppService
    } else {
        ErrorDomain::from_name(name)
    }
}

fn from_ns_error(error: &NSError) -> ServiceError {
    ServiceError {
        domain: domain(&error.domain().to_string()),
        code: error.code() as i64,
        description: error.localizedDescription().to_string(),
    }
}

fn from_cf_error(error: &CFError) -> ServiceError {
    ServiceError {
        domain: domain(&error.domain().map(|d| d.to_string()).unwrap_or_default()),
        code: error.code() as i64,
        description: error
            .description()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

fn daemon(plist_name: &str) -> objc2::rc::Retained<SMAppService> {
    let name = NSString::from_str(plist_name);
    // SAFETY: `name` is a valid NSString; the method only builds a service object.
    unsafe { SMAppService::daemonServiceWithPlistName(&name) }
}

/// `SMAppService.daemon(plistName:).register()`.
pub(super) fn daemon_register(plist_name: &str) -> Result<(), ServiceError> {
    let service = daemon(plist_name);
    // SAFETY: a valid service object; the error out-parameter is handled by objc2.
    unsafe { service.registerAndReturnError() }.map_err(|e| from_ns_error(&e))
}

/// `SMAppService.daemon(plistName:).unregister()`.
pub(super) fn daemon_unregister(plist_name: &str) -> Result<(), ServiceError> {
    let service = daemon(plist_name);
    // SAFETY: as for `daemon_register`.
    unsafe { service.unregisterAndReturnError() }.map_err(|e| from_ns_error(&e))
}

/// `SMAppService.daemon(plistName:).status`, raw.
pub(super) fn daemon_status(plist_name: &str) -> i64 {
    let service = daemon(plist_name);
    // SAFETY: a valid service object; `status` is a plain getter.
    unsafe { service.status() }.0 as i64
}

/// `SMAppService.openSystemSettingsLoginItems()`.
pub(super) fn open_login_items() {
    // SAFETY: a class method without arguments.
    unsafe { SMAppService::openSystemSettingsLoginItems() }
}

/// An authorization holding a right; freed (and its rights destroyed) on drop.
pub(crate) struct Authorization(AuthorizationRef);

impl Authorization {
    /// `AuthorizationCreate` with no rights and no environment (no prompt). The error is the
    /// `OSStatus`.
    fn create() -> Result<Authorization, i32> {
        let mut reference: AuthorizationRef = ptr::null();
        // SAFETY: no rights or environment; `reference` is a valid out-pointer.
        let status = unsafe {
            AuthorizationCreate(
                ptr::null(),
                ptr::null(),
                AuthorizationFlags::Defaults,
                &mut reference,
            )
        };
        if status != 0 || reference.is_null() {
            return Err(if status != 0 { status } else { -60008 });
        }
        Ok(Authorization(reference))
    }
}

impl Drop for Authorization {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from a successful AuthorizationCreate and is freed once.
        unsafe {
            AuthorizationFree(self.0, AuthorizationFlags::DestroyRights);
        }
    }
}

/// An empty authorization (no rights yet, no prompt) and its 32-byte external form, to lend a
/// helper that asks for a right in this process's name. The error is the `OSStatus`.
pub(crate) fn lendable_authorization() -> Result<(Authorization, Vec<u8>), i32> {
    let auth = Authorization::create()?;
    let mut form = AuthorizationExternalForm { bytes: [0; 32] };
    // SAFETY: `auth.0` is a live authorization; `form` is a valid out-pointer.
    let status = unsafe { AuthorizationMakeExternalForm(auth.0, ptr::NonNull::from(&mut form)) };
    if status != 0 {
        return Err(status);
    }
    Ok((auth, form.bytes.iter().map(|&b| b as u8).collect()))
}

/// Obtain `right` with the administrator prompt (`AuthorizationCreate` +
/// `AuthorizationCopyRights`, interaction allowed, rights extended). The error is the
/// `OSStatus`.
pub(super) fn authorize(right: &str) -> Result<Authorization, i32> {
    let name = CString::new(right).map_err(|_| -60001)?;
    let auth = Authorization::create()?;
    let mut item = AuthorizationItem {
        name: name.as_ptr(),
        valueLength: 0,
        value: ptr::null_mut(),
        flags: 0,
    };
    let mut rights = AuthorizationRights {
        count: 1,
        items: &mut item,
    };
    let flags = AuthorizationFlags::InteractionAllowed
        | AuthorizationFlags::ExtendRights
        | AuthorizationFlags::PreAuthorize;
    // SAFETY: `auth.0` is valid, `rights` points at one item whose name outlives the call; no
    // copy of the granted rights is requested.
    let status = unsafe {
        AuthorizationCopyRights(
            auth.0,
            ptr::NonNull::from(&mut rights),
            ptr::null(),
            flags,
            ptr::null_mut(),
        )
    };
    if status == 0 {
        Ok(auth)
    } else {
        Err(status)
    }
}

/// `SMJobBless(kSMDomainSystemLaunchd, label, auth, &error)`.
pub(super) fn job_bless(label: &str, auth: &Authorization) -> Result<(), ServiceError> {
    let label = CFString::from_str(label);
    let mut error: *mut CFError = ptr::null_mut();
    // SAFETY: the system domain constant, a valid label, a live authorization holding the bless
    // right, and a valid out-pointer for the error (owned by us afterwards, "create rule").
    let ok = unsafe {
        #[allow(deprecated)]
        let domain = objc2_service_management::kSMDomainSystemLaunchd;
        #[allow(deprecated)]
        SMJobBless(domain, Some(&label), auth.0, &mut error)
    };
    // SAFETY: a non-null error is a +1 CFError ("create rule"); CFRetained releases it.
    let error = ptr::NonNull::new(error).map(|e| unsafe { CFRetained::from_raw(e) });
    match (ok, error) {
        (true, _) => Ok(()),
        (false, Some(error)) => Err(from_cf_error(&error)),
        (false, None) => Err(ServiceError {
            domain: ErrorDomain::Launchd,
            code: 2,
            description: "SMJobBless failed without an error object".to_owned(),
        }),
    }
}

/// `NSBundle.mainBundle.bundlePath`.
pub(super) fn main_bundle_path() -> PathBuf {
    PathBuf::from(NSBundle::mainBundle().bundlePath().to_string())
}

/// `NSProcessInfo.processInfo.operatingSystemVersion`.
pub(super) fn os_version() -> OsVersion {
    let v = NSProcessInfo::processInfo().operatingSystemVersion();
    let part = |n: isize| u32::try_from(n).unwrap_or(0);
    OsVersion {
        major: part(v.majorVersion),
        minor: part(v.minorVersion),
        patch: part(v.patchVersion),
    }
}
