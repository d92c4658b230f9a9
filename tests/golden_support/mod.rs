//! The golden-file switch the tests share: `SMBLESS_UPDATE_GOLDEN=1` rewrites a test's golden
//! files instead of comparing with them (review the diff before committing); any other value
//! compares; under CI the switch is refused, so a CI run always compares.

/// Whether to rewrite the golden files instead of comparing them, from the values of
/// `SMBLESS_UPDATE_GOLDEN` and `CI`: update only when the switch is exactly `1`; refused under CI
/// (`CI` set to anything but empty, `0` or `false`), where a rewrite would make the comparison
/// pass without running.
pub fn update_mode(switch: Option<&str>, ci: Option<&str>) -> Result<bool, &'static str> {
    let update = switch == Some("1");
    let under_ci = ci.is_some_and(|v| !matches!(v, "" | "0" | "false"));
    if update && under_ci {
        return Err(
            "SMBLESS_UPDATE_GOLDEN=1 is refused under CI: golden files are rewritten on a \
                    developer's machine and the diff reviewed, never by the run that compares them",
        );
    }
    Ok(update)
}

/// [`update_mode`] for this process's environment; panics when the update is refused.
pub fn update_golden() -> bool {
    let switch = std::env::var("SMBLESS_UPDATE_GOLDEN").ok();
    let ci = std::env::var("CI").ok();
    update_mode(switch.as_deref(), ci.as_deref()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn golden_update_needs_exactly_one_and_is_refused_under_ci() {
    assert_eq!(update_mode(None, None), Ok(false));
    for off in ["0", "", "true", "yes", " 1", "1 "] {
        assert_eq!(update_mode(Some(off), None), Ok(false), "{off:?}");
        assert_eq!(update_mode(Some(off), Some("true")), Ok(false), "{off:?}");
    }
    assert_eq!(update_mode(Some("1"), None), Ok(true));
    for not_ci in ["", "0", "false"] {
        assert_eq!(
            update_mode(Some("1"), Some(not_ci)),
            Ok(true),
            "CI={not_ci:?}"
        );
    }
    for ci in ["true", "1", "yes"] {
        let refused = update_mode(Some("1"), Some(ci)).unwrap_err();
        assert!(refused.contains("refused under CI"), "{refused}");
    }
}
