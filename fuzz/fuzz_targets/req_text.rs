//! Requirement text: parsing never panics; whatever parses compiles, decodes back to the same
//! tree, and its canonical text is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbless::requirement::{self, Parsed};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Paths would make the parser read files; keep the fuzzer off the file system.
    if text.contains('/') && !text.contains("/*") {
        return;
    }
    let Ok(parsed) = requirement::parse(text) else {
        return;
    };
    match parsed {
        Parsed::Requirement(req) => {
            let bytes = requirement::compile(&req).expect("a parsed requirement compiles");
            let back = requirement::decode(&bytes).expect("compiled bytes decode");
            assert_eq!(back, req);
            let canonical = requirement::to_text(&req);
            let again = requirement::parse_requirement(&canonical)
                .unwrap_or_else(|e| panic!("canonical text {canonical:?} does not parse: {e}"));
            // Text is stable; bytes too unless the text nested a chain to the right with
            // parentheses the dumper (like Apple's) leaves out.
            assert_eq!(requirement::to_text(&again), canonical);
            let flat = |e: &requirement::Expr| format!("{:?}", e.flatten(true));
            assert_eq!(flat(&again.expr).len(), flat(&req.expr).len());
            let _ = requirement::evaluate(&req, &requirement::StaticIdentity::default());
        }
        Parsed::Set(set) => {
            let bytes = requirement::compile_set(&set).expect("a parsed set compiles");
            assert_eq!(requirement::decode_set(&bytes).expect("decodes"), set);
        }
    }
});
