//! Requirement blobs: reading never panics; whatever reads re-encodes to bytes that read back
//! to the same tree, prints, and evaluates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smbless::requirement::{self, Decoded};

fuzz_target!(|data: &[u8]| {
    match requirement::decode_any(data) {
        Ok(Decoded::Requirement(req)) => {
            let text = requirement::to_text(&req);
            let bytes = requirement::compile(&req).expect("a decoded requirement re-encodes");
            assert_eq!(
                requirement::decode(&bytes).expect("re-encoded bytes decode"),
                req
            );
            let _ = requirement::parse_requirement(&text);
            let _ = requirement::evaluate(&req, &requirement::StaticIdentity::default());
        }
        Ok(Decoded::Set(set)) => {
            let _ = requirement::set_to_text(&set);
            let bytes = requirement::compile_set(&set).expect("a decoded set re-encodes");
            let _ = requirement::decode_set(&bytes).expect("re-encoded set decodes");
        }
        Err(_) => {}
    }
});
