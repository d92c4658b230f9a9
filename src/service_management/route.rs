//! Which of macOS's installers to use: SMAppService on macOS 13 and later, SMJobBless before,
//! unless the caller chooses — and only a mechanism the app actually ships.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::preflight::find_daemon_plist;
use crate::bundle::LAUNCH_SERVICES_DIR;

/// A macOS version (`kern.osproductversion`, `NSProcessInfo.operatingSystemVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OsVersion {
    /// Major (13 = Ventura).
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl OsVersion {
    /// The first version with SMAppService: macOS 13 (Ventura).
    pub const APP_SERVICE: OsVersion = OsVersion {
        major: 13,
        minor: 0,
        patch: 0,
    };

    /// Parse `13`, `13.4` or `13.4.1`; `None` for anything else.
    pub fn parse(text: &str) -> Option<OsVersion> {
        let mut parts = text.split('.');
        let mut next = |required: bool| match parts.next() {
            None if !required => Some(0),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
            _ => None,
        };
        let version = OsVersion {
            major: next(true)?,
            minor: next(false)?,
            patch: next(false)?,
        };
        parts.next().is_none().then_some(version)
    }

    /// Whether SMAppService exists on this version.
    pub fn has_app_service(self) -> bool {
        self >= OsVersion::APP_SERVICE
    }
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preference {
    /// SMAppService on macOS 13+ when the app ships a daemon plist for the label, else SMJobBless.
    #[default]
    Automatic,
    /// SMAppService only.
    AppService,
    /// SMJobBless only.
    JobBless,
}

/// The installer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Route {
    /// `SMAppService.daemon(plistName:)` + `register()`.
    #[serde(rename = "smappservice")]
    AppService,
    /// `SMJobBless(kSMDomainSystemLaunchd, …)`.
    #[serde(rename = "smjobbless")]
    JobBless,
}

impl Route {
    /// `smappservice` or `smjobbless`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::AppService => "smappservice",
            Route::JobBless => "smjobbless",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an app ships for a label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Available {
    /// The name of its SMAppService daemon plist for the label, if any.
    pub app_service_plist: Option<String>,
    /// Whether it has `Contents/Library/LaunchServices/LABEL` for SMJobBless.
    pub job_bless_helper: bool,
}

/// What `app` ships for `label`.
pub fn available(app: &Path, label: &str) -> Available {
    Available {
        app_service_plist: find_daemon_plist(app, label),
        job_bless_helper: crate::bundle::is_plain_file_name(label)
            && std::fs::symlink_metadata(app.join(LAUNCH_SERVICES_DIR).join(label)).is_ok(),
    }
}

/// The route chosen and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteChoice {
    /// The installer.
    pub route: Route,
    /// For SMAppService: the plist name to register.
    pub plist_name: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Why no route fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// SMAppService was asked for on a macOS before 13.
    #[error("SMAppService needs macOS 13 or later; this is macOS {os}: use SMJobBless (ship the helper in Contents/Library/LaunchServices)")]
    AppServiceUnavailable {
        /// The running version.
        os: OsVersion,
    },
    /// SMAppService was asked for and the app has no daemon plist for the label.
    #[error("the app ships no daemon plist with Label {label} in Contents/Library/LaunchDaemons, which SMAppService needs")]
    AppServiceNotShipped {
        /// The label.
        label: String,
    },
    /// SMJobBless was asked for and the app has no helper of that label.
    #[error("the app ships no Contents/Library/LaunchServices/{label}, which SMJobBless needs")]
    JobBlessNotShipped {
        /// The label.
        label: String,
    },
    /// The app ships neither.
    #[error("the app ships neither an SMAppService daemon plist with Label {label} (Contents/Library/LaunchDaemons) nor an SMJobBless helper Contents/Library/LaunchServices/{label}")]
    NothingShipped {
        /// The label.
        label: String,
    },
}

/// Choose the installer for `label` on macOS `os`.
pub fn choose_route(
    os: OsVersion,
    preference: Preference,
    label: &str,
    available: &Available,
) -> Result<RouteChoice, RouteError> {
    let app_service = || match &available.app_service_plist {
        _ if !os.has_app_service() => Err(RouteError::AppServiceUnavailable { os }),
        None => Err(RouteError::AppServiceNotShipped {
            label: label.to_owned(),
        }),
        Some(plist) => Ok(RouteChoice {
            route: Route::AppService,
            plist_name: Some(plist.clone()),
            reason: format!("SMAppService: macOS {os} has it and the app ships {plist}"),
        }),
    };
    let job_bless = |why: String| {
        if available.job_bless_helper {
            Ok(RouteChoice {
                route: Route::JobBless,
                plist_name: None,
                reason: why,
            })
        } else {
            Err(RouteError::JobBlessNotShipped {
                label: label.to_owned(),
            })
        }
    };
    let deprecated = if os.has_app_service() {
        " (deprecated since macOS 13, still working)"
    } else {
        ""
    };
    match preference {
        Preference::AppService => app_service(),
        Preference::JobBless => job_bless(format!("SMJobBless, as asked{deprecated}")),
        Preference::Automatic => match (os.has_app_service(), available) {
            (
                true,
                Available {
                    app_service_plist: Some(_),
                    ..
                },
            ) => app_service(),
            (
                _,
                Available {
                    job_bless_helper: true,
                    ..
                },
            ) => job_bless(if os.has_app_service() {
                format!("SMJobBless{deprecated}: the app ships no SMAppService daemon plist for {label}")
            } else {
                format!("SMJobBless: macOS {os} predates SMAppService (13)")
            }),
            (
                false,
                Available {
                    app_service_plist: Some(_),
                    ..
                },
            ) => app_service(),
            _ => Err(RouteError::NothingShipped {
                label: label.to_owned(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> OsVersion {
        OsVersion::parse(text).unwrap()
    }

    fn both() -> Available {
        Available {
            app_service_plist: Some("L.plist".into()),
            job_bless_helper: true,
        }
    }

    #[test]
    fn versions_parse_like_sw_vers() {
        assert_eq!(
            v("13"),
            OsVersion {
                major: 13,
                minor: 0,
                patch: 0
            }
        );
        assert_eq!(
            v("14.6.1"),
            OsVersion {
                major: 14,
                minor: 6,
                patch: 1
            }
        );
        for bad in ["", "13.", "13.x", "1.2.3.4", " 13", "-1", "99999999999"] {
            assert_eq!(OsVersion::parse(bad), None, "{bad:?}");
        }
        assert!(v("13.0").has_app_service());
        assert!(!v("12.7.6").has_app_service());
    }

    #[test]
    fn automatic_picks_smappservice_from_13_and_smjobbless_before() {
        let c = choose_route(v("13.0"), Preference::Automatic, "L", &both()).unwrap();
        assert_eq!(
            (c.route, c.plist_name.as_deref()),
            (Route::AppService, Some("L.plist"))
        );
        let c = choose_route(v("12.7"), Preference::Automatic, "L", &both()).unwrap();
        assert_eq!(c.route, Route::JobBless);
        assert!(c.reason.contains("predates"), "{}", c.reason);
    }

    #[test]
    fn automatic_falls_back_to_what_the_app_ships() {
        let only_helper = Available {
            app_service_plist: None,
            job_bless_helper: true,
        };
        let c = choose_route(v("15.1"), Preference::Automatic, "L", &only_helper).unwrap();
        assert_eq!(c.route, Route::JobBless);
        assert!(c.reason.contains("deprecated"));
        let only_plist = Available {
            app_service_plist: Some("L.plist".into()),
            job_bless_helper: false,
        };
        assert_eq!(
            choose_route(v("12.0"), Preference::Automatic, "L", &only_plist),
            Err(RouteError::AppServiceUnavailable { os: v("12.0") })
        );
        assert_eq!(
            choose_route(v("14"), Preference::Automatic, "L", &Available::default()),
            Err(RouteError::NothingShipped { label: "L".into() })
        );
    }

    #[test]
    fn an_explicit_choice_is_kept_or_refused_never_swapped() {
        let c = choose_route(v("14"), Preference::JobBless, "L", &both()).unwrap();
        assert_eq!(c.route, Route::JobBless);
        assert_eq!(
            choose_route(v("12.6"), Preference::AppService, "L", &both()),
            Err(RouteError::AppServiceUnavailable { os: v("12.6") })
        );
        let only_helper = Available {
            app_service_plist: None,
            job_bless_helper: true,
        };
        assert_eq!(
            choose_route(v("14"), Preference::AppService, "L", &only_helper),
            Err(RouteError::AppServiceNotShipped { label: "L".into() })
        );
        let only_plist = Available {
            app_service_plist: Some("L.plist".into()),
            job_bless_helper: false,
        };
        assert_eq!(
            choose_route(v("11"), Preference::JobBless, "L", &only_plist),
            Err(RouteError::JobBlessNotShipped { label: "L".into() })
        );
    }

    #[test]
    fn available_reads_the_bundle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let label = "com.example.smbless.helper";
        let a = available(&root.join("apps/Example.app"), label);
        assert_eq!(
            a,
            Available {
                app_service_plist: None,
                job_bless_helper: true
            }
        );
        let a = available(&root.join("contract/smappservice-layout.app"), label);
        assert_eq!(
            a.app_service_plist.as_deref(),
            Some("com.example.smbless.helper.plist")
        );
        assert!(!available(&root.join("apps/Example.app"), "../Info.plist").job_bless_helper);
    }
}
