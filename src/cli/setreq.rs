//! `smbless setreq`: write `SMPrivilegedExecutables` and `SMAuthorizedClients`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use smbless::contract::setreq::{self, ContractRequirements};

use super::signature::TrustArgs;
use super::{output, Outcome};

/// Arguments of `smbless setreq`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["app", "team_id"])))]
pub struct SetreqArgs {
    /// A built, signed app bundle: copy its and its helpers' designated requirements.
    app: Option<PathBuf>,
    /// Before building: the Developer ID team that signs the app and helpers.
    #[arg(long, requires_all = ["app_id", "helper_id"], conflicts_with = "app")]
    team_id: Option<String>,
    /// The app's bundle identifier (with --team-id).
    #[arg(long)]
    app_id: Option<String>,
    /// A helper's label (with --team-id). Repeatable.
    #[arg(long)]
    helper_id: Vec<String>,
    /// With --team-id: only app versions ≥ this may install the helpers (downgrade protection).
    #[arg(long, value_name = "VERSION", requires = "team_id")]
    min_client_version: Option<String>,
    /// Write the app's Info.plist (first) and the helpers' Info.plists (matched by
    /// CFBundleIdentifier). Without it, only print.
    #[arg(long, num_args = 2.., value_names = ["APP_PLIST", "HELPER_PLIST"])]
    write: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Run `setreq`.
pub fn run(args: SetreqArgs) -> anyhow::Result<Outcome> {
    let reqs = match (&args.app, &args.team_id, &args.app_id) {
        (Some(app), _, _) => setreq::from_products(app, &args.trust.options()?)?,
        (None, Some(team), Some(app_id)) => setreq::from_team(
            team,
            app_id,
            &args.helper_id,
            args.min_client_version.as_deref(),
        )?,
        _ => anyhow::bail!("give a signed APP, or --team-id with --app-id and --helper-id"),
    };
    let outcomes = match args.write.split_first() {
        Some((app_plist, helpers)) => setreq::write(&reqs, app_plist, helpers)?,
        None => Vec::new(),
    };
    if args.json {
        output::print_json(&json!({
            "SMPrivilegedExecutables": reqs
                .privileged_executables
                .iter()
                .map(|(label, req)| (label.clone(), json!(req)))
                .collect::<serde_json::Map<_, _>>(),
            "SMAuthorizedClients": reqs.authorized_clients,
            "written": outcomes,
        }))?;
    } else {
        print_human(&reqs);
        for outcome in &outcomes {
            println!("{}: {}", outcome.path, outcome.status);
        }
    }
    Ok(Outcome::Success)
}

fn print_human(reqs: &ContractRequirements) {
    println!("app Info.plist, SMPrivilegedExecutables:");
    for (label, req) in &reqs.privileged_executables {
        println!("  {label} => {req}");
    }
    println!("helper Info.plist, SMAuthorizedClients:");
    for req in &reqs.authorized_clients {
        println!("  {req}");
    }
}
