//! A helper's `SMAuthorizedClients`: how weak its requirements are (the contract lints in
//! [`crate::contract::lint`]) and which app identifiers they name (the helper's owner).

use plist::{Dictionary, Value};

use super::findings::{AuditFinding, AuditRule};
use crate::contract::lint;
use crate::requirement::{parse_requirement, Expr, Requirement};

/// The `SMAuthorizedClients` strings of an embedded Info.plist (non-strings skipped).
pub fn authorized_clients(info: Option<&Dictionary>) -> Vec<String> {
    info.and_then(|d| d.get("SMAuthorizedClients"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_string)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every `identifier "X"` a requirement names outside negations.
pub fn identifiers(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::And { left, right } | Expr::Or { left, right } => {
            identifiers(left, out);
            identifiers(right, out);
        }
        Expr::Ident { value } => {
            if let Ok(s) = std::str::from_utf8(value.as_bytes()) {
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
        }
        Expr::Unknown {
            next: Some(next), ..
        } => identifiers(next, out),
        _ => {}
    }
}

/// Judge the client requirements `texts` of the program at `path`; the parsed requirements
/// come back for the owner lookup.
pub fn judge(path: &str, texts: &[String], out: &mut Vec<AuditFinding>) -> Vec<Requirement> {
    let mut parsed = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let what = format!("SMAuthorizedClients[{i}]");
        match parse_requirement(text) {
            Ok(req) => {
                lint_one(path, &what, &req, out);
                parsed.push(req);
            }
            Err(e) => out.push(AuditFinding::new(
                AuditRule::ClientRequirementSyntax,
                path,
                format!("{what} does not compile: {e}"),
                "write the client requirement in Apple's requirement language \
                 (`smbless setreq` writes one)",
            )),
        }
    }
    if !parsed.is_empty()
        && !parsed
            .iter()
            .any(|r| lint::has_downgrade_protection(&r.expr))
    {
        out.push(AuditFinding::new(
            AuditRule::ClientRequirementNoMinimumVersion,
            path,
            "no SMAuthorizedClients entry requires a minimum app version: an old, vulnerable \
             build of the app can still install over the helper",
            "add `and info[CFBundleVersion] >= \"N\"` for the oldest app version the helper \
             still trusts (`smbless setreq` writes it)",
        ));
    }
    if texts.len() > 1 {
        out.push(AuditFinding::new(
            AuditRule::ClientRequirementSeveral,
            path,
            format!(
                "SMAuthorizedClients has {} entries; code satisfying any one of them can \
                 replace the helper",
                texts.len()
            ),
            "keep one entry: the app's designated requirement",
        ));
    }
    parsed
}

fn lint_one(path: &str, what: &str, req: &Requirement, out: &mut Vec<AuditFinding>) {
    if !lint::pins_anchor(&req.expr) {
        out.push(AuditFinding::new(
            AuditRule::ClientRequirementNoAnchor,
            path,
            format!(
                "{what} names no anchor: any code with the identifier it names, even ad-hoc \
                 signed, satisfies it and can install over this root helper"
            ),
            "require `anchor apple generic` and your team (`certificate leaf[subject.OU] = \
             TEAMID`); `smbless setreq` writes it",
        ));
    } else if lint::lacks_team_pinning(&req.expr) {
        out.push(AuditFinding::new(
            AuditRule::ClientRequirementNoTeam,
            path,
            format!("{what} accepts any Apple-issued developer certificate (no team pinning)"),
            "add `and certificate leaf[subject.OU] = TEAMID`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_outside_negations() {
        let req = parse_requirement(
            "identifier \"a\" and (identifier \"b\" or !identifier \"c\") and anchor apple",
        )
        .unwrap();
        let mut ids = Vec::new();
        identifiers(&req.expr, &mut ids);
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn weak_requirements() {
        let mut out = Vec::new();
        judge(
            "/x",
            &[
                "identifier \"a\"".into(),
                "anchor apple generic and identifier \"a\"".into(),
            ],
            &mut out,
        );
        let ids: Vec<String> = out.iter().map(|f| f.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "client-requirement-no-anchor",
                "client-requirement-no-team",
                "client-requirement-no-minimum-version",
                "client-requirement-several"
            ]
        );
    }
}
