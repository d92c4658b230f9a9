//! The text side: a corpus covering every production of Apple's grammar, diagnostics with
//! line:column and a caret, nesting bounds, malformed blobs, and the `smbless req` commands.

use assert_cmd::Command;
use predicates::prelude::*;
use smbless::requirement::{self, DecodeError, Parsed};

/// One text per production (and alternative spelling) of requirements.grammar.
const CORPUS: &[&str] = &[
    "always",
    "true",
    "never",
    "false",
    "(always)",
    "! never",
    "!(never or never)",
    "always and always or never",
    "always or (never and always)",
    "anchor apple",
    "anchor apple generic",
    "anchor generic apple",
    "anchor apple appleca",
    "anchor apple \"some name\"",
    "anchor trusted",
    "cert trusted",
    "certificate trusted",
    "certificate leaf trusted",
    "cert 2 trusted",
    "certificate root trusted",
    "certificate -2 trusted",
    "anchor = H\"0123456789abcdef0123456789abcdef01234567\"",
    "anchor H\"0123456789abcdef0123456789abcdef01234567\"",
    "certificate leaf = H\"0123456789ABCDEF0123456789abcdef01234567\"",
    "certificate 1 == H\"0123456789abcdef0123456789abcdef01234567\"",
    "anchor[subject.CN] = \"Apple Root CA\"",
    "certificate leaf[subject.CN] = \"Developer ID Application: X (ABC)\"",
    "certificate leaf[subject.C] = US",
    "certificate leaf[subject.D] exists",
    "certificate leaf[subject.L] exists",
    "certificate leaf[subject.O] = \"Example Corp\"",
    "certificate leaf[\"subject.C-O\"] exists",
    "certificate leaf[subject.OU] == W38PE5Y733",
    "certificate leaf[\"subject.C-OU\"] exists",
    "certificate leaf[subject.ST] exists",
    "certificate leaf[\"subject.C-ST\"] exists",
    "certificate leaf[subject.STREET] exists",
    "certificate leaf[\"subject.C-STREET\"] exists",
    "certificate leaf[subject.UID] = ABC",
    "certificate leaf[email] = \"a@example.com\"",
    "certificate 1[field.1.2.840.113635.100.6.2.6] exists",
    "certificate 1[extension.1.2.840.113635.100.6.2.6]",
    "certificate leaf[policy.1.2.840.113635.100.5.1] exists",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] exists",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] = timestamp \"20200101000000Z\"",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] < timestamp \"20200101000000Z\"",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] > timestamp \"20200101000000Z\"",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] <= timestamp \"20200101000000Z\"",
    "certificate leaf[timestamp.1.2.840.113635.100.6.1.33] >= <2020-01-01 00:00:00 +0000>",
    "info[CFBundleVersion] exists",
    "info[CFBundleVersion] absent",
    "info[CFBundleVersion] = \"1\"",
    "info[CFBundleVersion] = \"1.0\"",
    "info[CFBundleVersion] == \"1.0\"",
    "info[CFBundleVersion] = \"1\"*",
    "info[CFBundleVersion] = *\"1\"",
    "info[CFBundleVersion] = *\"1\"*",
    "info[CFBundleVersion] ~ \"1\"",
    "info[CFBundleVersion] < \"2\"",
    "info[CFBundleVersion] > \"2\"",
    "info[CFBundleVersion] <= \"2\"",
    "info[CFBundleVersion] >= \"2\"",
    "info[\"key with spaces\"] = 0x0001ff",
    "info[a.b.c] = \"v\"",
    "entitlement[\"com.apple.security.app-sandbox\"] exists",
    "entitlement[\"com.apple.security.app-sandbox\"] absent",
    "identifier com.example.app",
    "identifier \"com.example.app\"",
    "identifier = \"com.example.app\"",
    "identifier == \"com.example.app\"",
    "identifier \"with \\\"quotes\\\" and \\\\ backslash\"",
    "cdhash H\"0123456789abcdef0123456789abcdef01234567\"",
    "cdhash = H\"0123456789abcdef0123456789abcdef01234567\"",
    "platform 1",
    "platform = 1",
    "platform == 1",
    "notarized",
    "legacy",
    "(com.example.named)",
    "(\"named code\")",
    "# shell comment\nalways",
    "// C++ comment\nalways",
    "/* C comment */ always /* and another */",
    "always;",
    "always ;;",
    "\talways\r\n",
    "designated => always",
    "host => anchor apple guest => never designated => identifier x library => notarized plugin => legacy",
    "7 => always",
    "designated => identifier a and anchor apple generic; host => anchor apple",
];

#[test]
fn every_production_parses_compiles_and_prints_stably() {
    for text in CORPUS {
        let parsed = requirement::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        match parsed {
            Parsed::Requirement(req) => {
                let bytes = requirement::compile(&req).unwrap();
                assert_eq!(requirement::decode(&bytes).unwrap(), req, "{text}");
                let printed = requirement::to_text(&req);
                let again = requirement::parse_requirement(&printed)
                    .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}): {e}"));
                assert_eq!(requirement::to_text(&again), printed);
                assert_eq!(requirement::compile(&again).unwrap(), bytes, "{printed}");
            }
            Parsed::Set(set) => {
                let bytes = requirement::compile_set(&set).unwrap();
                assert_eq!(requirement::decode_set(&bytes).unwrap(), set, "{text}");
                let printed = requirement::set_to_text(&set);
                let again = requirement::parse_set(&printed).unwrap();
                assert_eq!(requirement::compile_set(&again).unwrap(), bytes);
            }
        }
    }
}

#[test]
fn set_keeps_one_requirement_per_type_in_type_order() {
    let Parsed::Set(set) =
        requirement::parse("plugin => never host => always plugin => notarized").unwrap()
    else {
        panic!()
    };
    assert_eq!(
        requirement::set_to_text(&set),
        "host => always\nplugin => notarized\n"
    );
}

fn err(text: &str) -> requirement::ParseError {
    match requirement::parse(text) {
        Err(e) => e,
        Ok(p) => panic!("{text:?} parsed: {p:?}"),
    }
}

#[test]
fn diagnostics_point_at_the_problem() {
    let e = err("anchor apple generic and\n  identifier and always");
    assert_eq!((e.line, e.column), (2, 14));
    assert!(
        e.message
            .starts_with("expected a quoted string after `identifier`, found `and`"),
        "{}",
        e.message
    );
    assert_eq!(
        e.snippet,
        "  |\n2 |   identifier and always\n  |              ^^^"
    );
    assert!(e.to_string().starts_with("2:14: expected a quoted string"));

    let e = err("identifier \"unterminated");
    assert!(e.message.contains("unterminated string"), "{}", e.message);
    assert_eq!((e.line, e.column), (1, 12));

    let e = err("certificate leaf[subject.OU = X");
    assert!(e.message.contains("`]`"), "{}", e.message);

    let e = err("certificate leaf[foo.bar] exists");
    assert!(
        e.message.contains("unrecognized certificate field"),
        "{}",
        e.message
    );

    let e = err("certificate leaf[field.1.2.x] exists");
    assert!(e.message.contains("not a valid OID"), "{}", e.message);

    let e = err("cdhash H\"abc\"");
    assert!(
        e.message.contains("odd number of hex digits"),
        "{}",
        e.message
    );

    let e = err("cdhash H\"abcd\"");
    assert!(e.message.contains("a cdhash is 20 bytes"), "{}", e.message);

    let e = err("certificate leaf = H\"abcd\"");
    assert!(e.message.contains("20 bytes"), "{}", e.message);

    let e = err("always always");
    assert!(e.message.contains("`and`, `or`"), "{}", e.message);

    let e = err("(always");
    assert!(e.message.starts_with("expected `)`"), "{}", e.message);

    let e = err("always @");
    assert!(e.message.contains("unexpected character"), "{}", e.message);

    let e = err("/* never closed");
    assert!(e.message.contains("unterminated"), "{}", e.message);

    let e = err("platform = 99999999999");
    assert!(e.message.contains("out of range"), "{}", e.message);

    let e = err("identifier \"a\\q\"");
    assert!(e.message.contains("escape"), "{}", e.message);

    let e = err("designated => always host");
    assert!(e.message.contains("=>"), "{}", e.message);

    let e = err("");
    assert!(e.message.contains("end of input"), "{}", e.message);

    let e = err("info[X] = timestamp \"2020\"");
    assert!(e.message.contains("GeneralizedTime"), "{}", e.message);
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let deep_parens = format!("{}always{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(err(&deep_parens).message.contains("nested deeper"));
    let deep_not = format!("{}always", "!".repeat(100_000));
    assert!(err(&deep_not).message.contains("nested deeper"));
    // A chain is parsed iteratively, but its tree is as deep as it is long.
    let chain = vec!["always"; 5000].join(" and ");
    assert!(err(&chain).message.contains("nested deeper than 256"));
    let ok = vec!["always"; 250].join(" or ");
    let req = requirement::parse_requirement(&ok).unwrap();
    let bytes = requirement::compile(&req).unwrap();
    assert_eq!(requirement::decode(&bytes).unwrap(), req);
    assert!(requirement::evaluate(&req, &requirement::StaticIdentity::default()).satisfied);

    // A blob of 100 000 nested `!`s is refused at the depth limit, naming the offset.
    let mut blob = Vec::new();
    let n = 100_000u32;
    blob.extend_from_slice(&0xfade0c00u32.to_be_bytes());
    blob.extend_from_slice(&(12 + 4 * (n + 1)).to_be_bytes());
    blob.extend_from_slice(&1u32.to_be_bytes());
    for _ in 0..n {
        blob.extend_from_slice(&9u32.to_be_bytes());
    }
    blob.extend_from_slice(&1u32.to_be_bytes());
    match requirement::decode(&blob) {
        Err(DecodeError::TooDeep { offset, limit: 256 }) => assert_eq!(offset, 12 + 4 * 256),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_blobs_are_typed_errors() {
    let good = requirement::compile(
        &requirement::parse_requirement("identifier \"com.example\" and anchor apple generic")
            .unwrap(),
    )
    .unwrap();
    // Every truncation: an error, never a panic (the length field is patched to fit).
    for n in 0..good.len() {
        let mut cut = good[..n].to_vec();
        if n >= 8 {
            cut[4..8].copy_from_slice(&(n as u32).to_be_bytes());
        }
        assert!(requirement::decode(&cut).is_err(), "prefix {n}");
    }
    // Length field larger than the data.
    let mut long = good.clone();
    long[4..8].copy_from_slice(&1000u32.to_be_bytes());
    assert!(matches!(
        requirement::decode(&long),
        Err(DecodeError::BadLength { .. })
    ));
    // Wrong magic.
    let mut magic = good.clone();
    magic[3] = 0x02;
    assert!(matches!(
        requirement::decode(&magic),
        Err(DecodeError::BadMagic {
            found: 0xfade0c02,
            ..
        })
    ));
    // A datum length past the end names the field and offset.
    let mut datum = good.clone();
    datum[20..24].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
    let e = requirement::decode(&datum).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Truncated {
                field: "identifier",
                offset: 24,
                ..
            }
        ),
        "{e:?}"
    );
    // A set whose count cannot fit is refused before any allocation.
    let mut set = Vec::new();
    for w in [0xfade0c01u32, 20, 0xffff_ffff, 3, 12] {
        set.extend_from_slice(&w.to_be_bytes());
    }
    let e = requirement::decode_set(&set).unwrap_err();
    assert!(e.to_string().contains("requirement set count"), "{e}");
    // A set entry pointing into its own header.
    let mut set = Vec::new();
    for w in [0xfade0c01u32, 20, 1, 3, 4] {
        set.extend_from_slice(&w.to_be_bytes());
    }
    assert!(requirement::decode_set(&set).is_err());
}

fn smbless() -> Command {
    Command::cargo_bin("smbless").unwrap()
}

const DR: &str = "identifier \"com.example.tool\" and anchor apple generic and certificate leaf[subject.OU] = W38PE5Y733";

#[test]
fn cli_compile_decompile_parse() {
    let out = smbless()
        .args(["req", "compile", DR, "--hex"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let hex = String::from_utf8(out).unwrap().trim().to_owned();
    assert!(hex.starts_with("fade0c00"), "{hex}");
    smbless()
        .args(["req", "decompile", "--hex", &hex])
        .assert()
        .success()
        .stdout(format!("{DR}\n"));

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("dr.txt");
    let bin = dir.path().join("dr.bin");
    std::fs::write(&src, format!("# designated requirement\n{DR}\n")).unwrap();
    smbless()
        .args(["req", "compile", "-f"])
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .assert()
        .success()
        .stdout("");
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(
        bytes,
        requirement::compile(&requirement::parse_requirement(DR).unwrap()).unwrap()
    );
    smbless()
        .args(["req", "decompile"])
        .arg(&bin)
        .assert()
        .success()
        .stdout(format!("{DR}\n"));
    smbless()
        .args(["req", "decompile", "--json"])
        .arg(&bin)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"kind\": \"and\""));

    let out = smbless()
        .args(["req", "parse", DR, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["form"], "requirement");
    assert_eq!(json["expr"]["kind"], "and");
    assert_eq!(json["expr"]["right"]["kind"], "cert_field");
    assert_eq!(json["expr"]["right"]["match"]["op"], "equal");
    assert_eq!(json["expr"]["right"]["match"]["value"], "W38PE5Y733");

    smbless()
        .args([
            "req",
            "compile",
            "designated => anchor apple host => always",
            "--json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"hex\": \"fade0c01"));
}

#[test]
fn cli_bad_input_exits_2_with_a_caret() {
    smbless()
        .args(["req", "compile", "identifier"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "1:11: expected a quoted string after `identifier`",
        ))
        .stderr(predicate::str::contains("^"));
    smbless()
        .args([
            "req",
            "decompile",
            "--hex",
            "fade0c00000000100000000200000001",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("lightweight"));
    smbless()
        .args(["req", "decompile", "--hex", "xyz"])
        .assert()
        .code(2);
}
