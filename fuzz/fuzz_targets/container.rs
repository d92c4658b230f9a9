//! Mach-O / ELF container parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smbless::container::Container::parse(data);
});
