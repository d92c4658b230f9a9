//! `smbless inspect PATH [--arch ARCH] [--json]`.

use std::path::PathBuf;

use clap::Args;
use smbless::inspect::{inspect_path, FileReport, InspectOptions, SliceReport};

use super::{output, Outcome};

/// Arguments of `smbless inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// A Mach-O file (thin or fat), an ELF file, or an app bundle (`X.app`).
    path: PathBuf,
    /// Show only this architecture's slice (`arm64`, `x86_64`, …).
    #[arg(long)]
    arch: Option<String>,
    /// Print the stable JSON shape documented in the README.
    #[arg(long)]
    json: bool,
}

/// Run `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<Outcome> {
    let options = InspectOptions { arch: args.arch };
    let report = inspect_path(&args.path, &options)?;
    if args.json {
        output::print_json(&report)?;
    } else {
        print_report(&report, 0);
    }
    Ok(Outcome::Success)
}

fn print_report(report: &FileReport, indent: usize) {
    let pad = " ".repeat(indent);
    if let Some(bundle) = &report.bundle {
        println!("{pad}{} (app bundle)", report.path);
        println!("{pad}  Info.plist: {}", summary(&bundle.info_plist));
        println!("{pad}  executable:");
        print_report(&bundle.executable, indent + 4);
        if bundle.helpers.is_empty() {
            println!("{pad}  helpers: none in Contents/Library/LaunchServices");
        }
        for helper in &bundle.helpers {
            println!("{pad}  helper:");
            print_report(helper, indent + 4);
        }
        return;
    }
    let count = report.slices.len();
    println!(
        "{pad}{} ({}, {count} slice{})",
        report.path,
        report.kind,
        if count == 1 { "" } else { "s" }
    );
    for slice in &report.slices {
        print_slice(slice, indent + 2);
    }
    if report.slices_disagree {
        println!("{pad}  note: the slices embed different plists");
    }
}

fn print_slice(slice: &SliceReport, indent: usize) {
    let pad = " ".repeat(indent);
    println!(
        "{pad}{}: offset {:#x}, size {}, {}",
        slice.arch, slice.offset, slice.size, slice.filetype
    );
    match &slice.info_plist {
        Some(info) => println!("{pad}  Info.plist: {}", summary(info)),
        None => println!("{pad}  Info.plist: none"),
    }
    match &slice.launchd_plist {
        Some(launchd) => println!("{pad}  launchd plist: {}", summary(launchd)),
        None => println!("{pad}  launchd plist: none"),
    }
    match &slice.code_signature {
        Some(sig) => println!(
            "{pad}  code signature: offset {:#x}, size {}",
            sig.offset, sig.size
        ),
        None => println!("{pad}  code signature: none"),
    }
}

/// The keys that identify a plist at a glance, then a count of the rest.
fn summary(dict: &serde_json::Value) -> String {
    const KEYS: &[&str] = &[
        "Label",
        "CFBundleIdentifier",
        "CFBundleVersion",
        "CFBundleExecutable",
    ];
    let Some(map) = dict.as_object() else {
        return dict.to_string();
    };
    let mut parts: Vec<String> = KEYS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| format!("{k}={}", display_value(v))))
        .collect();
    let others = map.keys().filter(|k| !KEYS.contains(&k.as_str())).count();
    if others > 0 {
        parts.push(format!(
            "+{others} other key{}",
            if others == 1 { "" } else { "s" }
        ));
    }
    parts.join(", ")
}

fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
