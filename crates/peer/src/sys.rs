//! The system calls: the crate's only `unsafe` code. Each function passes pointers to local,
//! correctly sized values and checks the length the kernel reports back.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::Credentials;

/// `SO_PEERCRED`: uid, gid and pid recorded at connect (or listen) time.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn credentials(fd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>())
        .map_err(|_| io::Error::other("struct ucred does not fit socklen_t"))?;
    // SAFETY: `cred` is a valid, writable `struct ucred` of `len` bytes for the whole call, and
    // `fd` is an open descriptor borrowed for the call's duration.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if usize::try_from(len).ok() != Some(std::mem::size_of::<libc::ucred>()) {
        return Err(io::Error::other(
            "SO_PEERCRED returned a short struct ucred",
        ));
    }
    // Sockets without credentials (TCP, or a socketpair end of an exited process) report the
    // overflow ids and no pid: nothing there to trust.
    if cred.pid == 0 && cred.uid == u32::MAX {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the socket carries no peer credentials (not a Unix-domain connection)",
        ));
    }
    Ok(Credentials {
        uid: cred.uid,
        gid: cred.gid,
        pid: (cred.pid > 0).then_some(cred.pid),
    })
}

/// `getpeereid`: effective uid and gid recorded at connect time; the pid from
/// `LOCAL_PEERPID` where available, for logs.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn credentials(fd: BorrowedFd<'_>) -> io::Result<Credentials> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: both out-pointers are valid for the call; `fd` is open for its duration.
    if unsafe { libc::getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[cfg(target_os = "macos")]
    let pid = {
        let mut pid: libc::pid_t = 0;
        let mut len = std::mem::size_of::<libc::pid_t>() as libc::socklen_t;
        // SAFETY: `pid` is a writable pid_t of `len` bytes; `fd` is open.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_LOCAL,
                libc::LOCAL_PEERPID,
                std::ptr::addr_of_mut!(pid).cast(),
                &mut len,
            )
        };
        (rc == 0 && pid > 0).then_some(pid)
    };
    #[cfg(not(target_os = "macos"))]
    let pid = None;
    Ok(Credentials { uid, gid, pid })
}

/// Size of a macOS `audit_token_t` (eight 32-bit words).
#[cfg(target_os = "macos")]
pub const AUDIT_TOKEN_LEN: usize = 32;

/// `LOCAL_PEERTOKEN`: the peer's audit token, which names one process instance (pid and pid
/// version), so it cannot be confused with a later process that reuses the pid.
#[cfg(target_os = "macos")]
pub fn audit_token(fd: BorrowedFd<'_>) -> io::Result<[u8; AUDIT_TOKEN_LEN]> {
    let mut token = [0u32; 8];
    let mut len = AUDIT_TOKEN_LEN as libc::socklen_t;
    // SAFETY: `token` is 32 writable bytes (an audit_token_t) and `len` says so; `fd` is open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_LOCAL,
            libc::LOCAL_PEERTOKEN,
            token.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != AUDIT_TOKEN_LEN {
        return Err(io::Error::other(
            "LOCAL_PEERTOKEN returned a short audit token",
        ));
    }
    let mut out = [0u8; AUDIT_TOKEN_LEN];
    for (chunk, word) in out.chunks_exact_mut(4).zip(token) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Ok(out)
}

/// `AuthorizationCreateFromExternalForm` then `AuthorizationCopyRights` for one right, with
/// `kAuthorizationFlagExtendRights` (and `InteractionAllowed` when `interactive`), as Apple's
/// EvenBetterAuthorizationSample does in its helper. Returns the OSStatus (0 = granted).
#[cfg(target_os = "macos")]
pub fn copy_right(external_form: &[u8; 32], right: &std::ffi::CStr, interactive: bool) -> i32 {
    use security_framework_sys::authorization as auth;

    let mut form = auth::AuthorizationExternalForm { bytes: [0; 32] };
    for (dst, &src) in form.bytes.iter_mut().zip(external_form) {
        *dst = src as std::os::raw::c_char;
    }
    let mut handle: auth::AuthorizationRef = std::ptr::null_mut();
    // SAFETY: `form` is a valid external form value and `handle` a valid out-pointer.
    let status = unsafe { auth::AuthorizationCreateFromExternalForm(&form, &mut handle) };
    if status != auth::errAuthorizationSuccess {
        return status;
    }
    let mut item = auth::AuthorizationItem {
        name: right.as_ptr(),
        valueLength: 0,
        value: std::ptr::null_mut(),
        flags: 0,
    };
    let rights = auth::AuthorizationItemSet {
        count: 1,
        items: &mut item,
    };
    let mut flags = auth::kAuthorizationFlagExtendRights;
    if interactive {
        flags |= auth::kAuthorizationFlagInteractionAllowed;
    }
    // SAFETY: `handle` came from a successful create; `rights` points at one item whose name
    // is a NUL-terminated string living for the call; no environment and no copied-out set.
    let status = unsafe {
        auth::AuthorizationCopyRights(
            handle,
            &rights,
            std::ptr::null(),
            flags,
            std::ptr::null_mut(),
        )
    };
    // SAFETY: `handle` is ours and freed once; the default flags leave shared rights alone.
    unsafe { auth::AuthorizationFree(handle, auth::kAuthorizationFlagDefaults) };
    status
}
