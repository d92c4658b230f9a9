//! Who may talk to the helper and what they may run, decided from kernel-attested identity.
//!
//! On accept, before anything the peer sends is read:
//! - Linux: `SO_PEERCRED`; the peer is served if its uid is 0 or an `--allow-uid`, or its
//!   primary gid an `--allow-gid`. ELF code carries no signature to check, so uids are the
//!   policy.
//! - macOS: `LOCAL_PEERTOKEN`; the code of the process that token names must satisfy one of
//!   the client requirements (`--client-requirement`, or the embedded Info.plist's, see
//!   `embedded::client_requirements`). Never a pid.
//! - TCP peers carry no identity: refused unless `--insecure-tcp`.
//!
//! Per command: [`Need::Client`] is any peer that passed the above; [`Need::Right`] is an
//! Authorization Services right, checked on macOS from the `AuthorizationExternalForm` the
//! client sends (as Apple's EvenBetterAuthorizationSample does), and on Linux mapped to a rule:
//! uid 0 or an `--admin-uid`, or primary gid an `--admin-gid`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::Access;

/// A peer that passed the accept-time check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its uid and primary gid; `None` for a TCP peer let in by `--insecure-tcp`.
    pub ids: Option<(u32, u32)>,
}

/// What a command needs beyond an authenticated peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any peer that passed the accept-time check.
    Client,
    /// An Authorization Services right, by name (e.g. `com.example.smbless-helper.stop`).
    Right(&'static str),
}

/// The access policy, resolved once at start-up.
#[derive(Debug)]
pub struct Policy {
    access: Access,
    #[cfg(target_os = "macos")]
    requirements: Vec<smbless_peer::macos::Requirement>,
}

/// Why a peer is refused; the text goes back to the peer, so it names only what the peer
/// already knows about itself.
pub type Refusal = String;

impl Policy {
    /// Resolve the policy: on macOS, compile the client requirements (an error if none
    /// compiles: a helper that cannot authenticate anyone must not start).
    pub fn new(access: &Access) -> Result<Policy, String> {
        #[cfg(target_os = "macos")]
        {
            let texts = match &access.client_requirement {
                Some(text) => vec![text.clone()],
                None => crate::embedded::client_requirements()?,
            };
            let requirements = texts
                .iter()
                .map(|t| smbless_peer::macos::Requirement::parse(t).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Policy {
                access: access.clone(),
                requirements,
            })
        }
        #[cfg(not(target_os = "macos"))]
        Ok(Policy {
            access: access.clone(),
        })
    }

    /// Start-up notes for stderr: what is loosened.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.access.insecure_tcp {
            out.push("--insecure-tcp: TCP peers are served WITHOUT authentication".to_owned());
        }
        #[cfg(target_os = "macos")]
        if !(self.access.allow_uids.is_empty()
            && self.access.allow_gids.is_empty()
            && self.access.admin_uids.is_empty()
            && self.access.admin_gids.is_empty())
        {
            out.push(
                "--allow-*/--admin-* apply on Linux only; here the client requirement and \
                 Authorization Services decide"
                    .to_owned(),
            );
        }
        #[cfg(not(target_os = "macos"))]
        if self.access.client_requirement.is_some() {
            out.push("--client-requirement is checked on macOS only; here uids decide".to_owned());
        }
        out
    }

    /// The accept-time check of a Unix-domain peer: its credentials, and on Linux the uid/gid
    /// rule. (On macOS the code check follows, see [`Policy::check_code`].)
    pub fn identify_unix(&self, socket: impl std::os::fd::AsFd) -> Result<Peer, Refusal> {
        let creds = smbless_peer::credentials(socket)
            .map_err(|e| format!("cannot identify the peer: {e}"))?;
        let peer = Peer {
            ids: Some((creds.uid, creds.gid)),
        };
        #[cfg(not(target_os = "macos"))]
        if !self.uid_rule(peer, &self.access.allow_uids, &self.access.allow_gids) {
            return Err(format!("uid {} may not use this helper", creds.uid));
        }
        Ok(peer)
    }

    /// The accept-time check of a TCP peer: refused unless `--insecure-tcp`.
    pub fn identify_tcp(&self) -> Result<Peer, Refusal> {
        if self.access.insecure_tcp {
            Ok(Peer { ids: None })
        } else {
            Err("TCP connections carry no peer identity; use the helper's Unix socket".to_owned())
        }
    }

    /// macOS: does the process named by `token` satisfy a client requirement? Blocking (it
    /// asks the Security framework); run it off the I/O thread.
    #[cfg(target_os = "macos")]
    pub fn check_code(&self, token: &[u8]) -> Result<(), Refusal> {
        let mut last = None;
        for requirement in &self.requirements {
            match smbless_peer::macos::check_token(token, requirement) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => format!("client code is not authorized: {e}"),
            None => "no client requirement configured".to_owned(),
        })
    }

    /// Is the peer allowed what `need` declares? `authorization` is the request's
    /// `authorization` data. macOS: a right is checked from it (an `AuthorizationExternalForm`)
    /// with Authorization Services, which may ask the user to authenticate, so this can block.
    /// Linux: a right maps to the admin rule (uid 0, `--admin-uid`, `--admin-gid`).
    // macOS decides from `authorization`, Linux from `peer`: each leaves one unused.
    #[allow(unused_variables)]
    pub fn authorize(
        &self,
        need: Need,
        peer: Peer,
        authorization: Option<&[u8]>,
    ) -> Result<(), Refusal> {
        let Need::Right(right) = need else {
            return Ok(());
        };
        #[cfg(target_os = "macos")]
        {
            let form = authorization.ok_or_else(|| {
                format!(
                    "right `{right}` needs `{}`: an AuthorizationExternalForm (32 bytes)",
                    smbless_wire::AUTHORIZATION_KEY
                )
            })?;
            smbless_peer::macos::check_right(form, right, true).map_err(|e| e.to_string())
        }
        #[cfg(not(target_os = "macos"))]
        if self.uid_rule(peer, &self.access.admin_uids, &self.access.admin_gids) {
            Ok(())
        } else {
            Err(format!(
                "right `{right}` not granted: on this system it needs uid 0, an --admin-uid or \
                 an --admin-gid"
            ))
        }
    }

    #[cfg(not(target_os = "macos"))]
    fn uid_rule(&self, peer: Peer, uids: &[u32], gids: &[u32]) -> bool {
        match peer.ids {
            Some((uid, gid)) => uid == 0 || uids.contains(&uid) || gids.contains(&gid),
            // An unauthenticated TCP peer (--insecure-tcp) gets no rights.
            None => false,
        }
    }
}

/// Connections held per peer uid (TCP peers under `--insecure-tcp` share one count).
#[derive(Debug)]
pub struct UidSlots {
    limit: usize,
    held: Mutex<HashMap<Option<u32>, usize>>,
}

/// One connection's place in its uid's count; released on drop.
#[derive(Debug)]
pub struct UidSlot {
    slots: Arc<UidSlots>,
    uid: Option<u32>,
}

impl UidSlots {
    /// At most `limit` connections per uid.
    pub fn new(limit: usize) -> Arc<UidSlots> {
        Arc::new(UidSlots {
            limit,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// Take a place for `peer`, or `None` when its uid already holds `limit` connections.
    pub fn try_take(self: &Arc<Self>, peer: Peer) -> Option<UidSlot> {
        let uid = peer.ids.map(|(uid, _)| uid);
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(uid).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count = count.saturating_add(1);
        Some(UidSlot {
            slots: Arc::clone(self),
            uid,
        })
    }

    /// The limit, for messages.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Drop for UidSlot {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.uid) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer {
            ids: Some((uid, gid)),
        }
    }

    #[test]
    fn per_uid_slots_are_counted_and_released() {
        let slots = UidSlots::new(2);
        let a = slots.try_take(peer(7, 7)).unwrap();
        let _b = slots.try_take(peer(7, 8)).unwrap();
        assert!(slots.try_take(peer(7, 7)).is_none(), "third for uid 7");
        let _other = slots.try_take(peer(8, 7)).expect("uid 8 is counted apart");
        drop(a);
        assert!(slots.try_take(peer(7, 7)).is_some(), "freed on drop");
        assert_eq!(slots.held.lock().unwrap().get(&Some(8)), Some(&1));
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn linux_rules_default_to_root_only_and_map_rights_to_admin_ids() {
        let default = Policy::new(&Access::default()).unwrap();
        assert!(default.uid_rule(peer(0, 0), &[], &[]));
        assert!(!default.uid_rule(peer(65534, 65534), &[], &[]));
        let access = Access {
            allow_uids: vec![65534],
            admin_gids: vec![80],
            ..Access::default()
        };
        let policy = Policy::new(&access).unwrap();
        let nobody = peer(65534, 65534);
        assert!(policy.authorize(Need::Client, nobody, None).is_ok());
        let err = policy
            .authorize(Need::Right("x.y"), nobody, None)
            .unwrap_err();
        assert!(err.contains("`x.y` not granted"), "{err}");
        assert!(policy
            .authorize(Need::Right("x.y"), peer(501, 80), None)
            .is_ok());
        assert!(policy
            .authorize(Need::Right("x.y"), peer(0, 0), None)
            .is_ok());
        assert!(policy
            .authorize(Need::Right("x.y"), Peer { ids: None }, None)
            .is_err());
        assert!(default.identify_tcp().is_err());
    }
}
