//! CPU types and subtypes, named the way Apple's tools (`lipo`, `codesign`) name them.

use std::fmt;

/// Mask of the capability bits in a Mach-O `cpusubtype` (for example `CPU_SUBTYPE_LIB64`, or
/// the pointer-authentication ABI bits of arm64e); they say nothing about the architecture.
pub const CPU_SUBTYPE_MASK: u32 = 0xff00_0000;

const CPU_ARCH_ABI64: u32 = 0x0100_0000;
const CPU_ARCH_ABI64_32: u32 = 0x0200_0000;
const CPU_TYPE_X86: u32 = 7;
const CPU_TYPE_ARM: u32 = 12;
const CPU_TYPE_POWERPC: u32 = 18;

/// The architecture of one slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arch {
    /// Mach-O `cputype` (for ELF: the `e_machine` value).
    pub cputype: u32,
    /// Mach-O `cpusubtype` with the capability bits masked off (0 for ELF).
    pub cpusubtype: u32,
    /// The conventional name: `x86_64`, `x86_64h`, `arm64`, `arm64e`, `i386`, …
    pub name: String,
}

impl Arch {
    /// The architecture of a Mach-O `cputype`/`cpusubtype` pair; the subtype may still carry its
    /// capability bits.
    pub fn from_macho(cputype: u32, cpusubtype: u32) -> Arch {
        let cpusubtype = cpusubtype & !CPU_SUBTYPE_MASK;
        Arch {
            cputype,
            cpusubtype,
            name: macho_arch_name(cputype, cpusubtype),
        }
    }

    /// The architecture of an ELF file, named as Rust target triples name it.
    pub fn from_elf(machine: u16, name: &str) -> Arch {
        Arch {
            cputype: u32::from(machine),
            cpusubtype: 0,
            name: name.to_string(),
        }
    }

    /// Whether `name` selects this architecture (`--arch`); `aarch64` is accepted for `arm64`.
    pub fn matches(&self, name: &str) -> bool {
        self.name == name
            || (name == "aarch64" && self.name == "arm64")
            || (name == "arm64" && self.name == "aarch64")
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn macho_arch_name(cputype: u32, cpusubtype: u32) -> String {
    let known = match (cputype, cpusubtype) {
        (CPU_TYPE_X86, _) => Some("i386"),
        (t, 8) if t == CPU_TYPE_X86 | CPU_ARCH_ABI64 => Some("x86_64h"),
        (t, _) if t == CPU_TYPE_X86 | CPU_ARCH_ABI64 => Some("x86_64"),
        (t, 2) if t == CPU_TYPE_ARM | CPU_ARCH_ABI64 => Some("arm64e"),
        (t, 1) if t == CPU_TYPE_ARM | CPU_ARCH_ABI64 => Some("arm64v8"),
        (t, _) if t == CPU_TYPE_ARM | CPU_ARCH_ABI64 => Some("arm64"),
        (t, _) if t == CPU_TYPE_ARM | CPU_ARCH_ABI64_32 => Some("arm64_32"),
        (CPU_TYPE_ARM, 6) => Some("armv6"),
        (CPU_TYPE_ARM, 9) => Some("armv7"),
        (CPU_TYPE_ARM, 11) => Some("armv7s"),
        (CPU_TYPE_ARM, 12) => Some("armv7k"),
        (CPU_TYPE_ARM, 14) => Some("armv6m"),
        (CPU_TYPE_ARM, 15) => Some("armv7m"),
        (CPU_TYPE_ARM, 16) => Some("armv7em"),
        (CPU_TYPE_ARM, _) => Some("arm"),
        (CPU_TYPE_POWERPC, _) => Some("ppc"),
        (t, _) if t == CPU_TYPE_POWERPC | CPU_ARCH_ABI64 => Some("ppc64"),
        _ => None,
    };
    match known {
        Some(name) => name.to_string(),
        None => format!("cputype {cputype:#x} subtype {cpusubtype:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_bits_are_masked() {
        // arm64e as ld64 writes it: subtype 2 with the PtrAuth ABI bits set.
        let arch = Arch::from_macho(0x0100_000c, 0x8000_0002);
        assert_eq!(arch.cpusubtype, 2);
        assert_eq!(arch.name, "arm64e");
        // x86_64 with CPU_SUBTYPE_LIB64.
        assert_eq!(Arch::from_macho(0x0100_0007, 0x8000_0003).name, "x86_64");
    }

    #[test]
    fn haswell_and_unknown_names() {
        assert_eq!(Arch::from_macho(0x0100_0007, 8).name, "x86_64h");
        assert_eq!(Arch::from_macho(7, 3).name, "i386");
        assert_eq!(Arch::from_macho(99, 1).name, "cputype 0x63 subtype 0x1");
    }

    #[test]
    fn aarch64_selects_arm64() {
        assert!(Arch::from_macho(0x0100_000c, 0).matches("aarch64"));
        assert!(!Arch::from_macho(0x0100_000c, 2).matches("arm64"));
    }
}
