//! Rule-by-rule tests of the container reader over byte images built here, so each malformed
//! shape is exact and documented. Real-toolchain fixtures are exercised in `tests/inspect.rs`.

use super::*;

const CPU_ARM64: u32 = 0x0100_000c;
const CPU_X86_64: u32 = 0x0100_0007;

/// Little-endian or big-endian field writer.
struct Writer {
    out: Vec<u8>,
    le: bool,
}

impl Writer {
    fn new(le: bool) -> Self {
        Writer {
            out: Vec::new(),
            le,
        }
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        let bytes = if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.out.extend_from_slice(&bytes);
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        let bytes = if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.out.extend_from_slice(&bytes);
        self
    }
    fn name(&mut self, n: &str) -> &mut Self {
        let mut raw = [0u8; 16];
        raw[..n.len()].copy_from_slice(n.as_bytes());
        self.out.extend_from_slice(&raw);
        self
    }
}

/// An `LC_SEGMENT_64` for `__TEXT` with one section `sect` at `offset`/`size`.
fn segment64(
    le: bool,
    fileoff: u64,
    filesize: u64,
    sect: &str,
    offset: u32,
    size: u64,
    flags: u32,
) -> Vec<u8> {
    let mut w = Writer::new(le);
    w.u32(0x19).u32(72 + 80).name("__TEXT");
    w.u64(0x1_0000_0000)
        .u64(filesize)
        .u64(fileoff)
        .u64(filesize);
    w.u32(5).u32(5).u32(1).u32(0);
    w.name(sect)
        .name("__TEXT")
        .u64(0x1_0000_0000 + u64::from(offset))
        .u64(size);
    w.u32(offset)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(flags)
        .u32(0)
        .u32(0)
        .u32(0);
    w.out
}

fn code_signature(le: bool, dataoff: u32, datasize: u32) -> Vec<u8> {
    let mut w = Writer::new(le);
    w.u32(0x1d).u32(16).u32(dataoff).u32(datasize);
    w.out
}

/// A 64-bit thin Mach-O with these load commands, padded with `tail` zero bytes.
fn thin64(le: bool, cputype: u32, cmds: &[Vec<u8>], tail: usize) -> Vec<u8> {
    let sizeofcmds: usize = cmds.iter().map(Vec::len).sum();
    let mut w = Writer::new(le);
    w.out.extend_from_slice(&if le {
        [0xcf, 0xfa, 0xed, 0xfe]
    } else {
        [0xfe, 0xed, 0xfa, 0xcf]
    });
    w.u32(cputype)
        .u32(0)
        .u32(2)
        .u32(cmds.len() as u32)
        .u32(sizeofcmds as u32)
        .u32(0)
        .u32(0);
    for c in cmds {
        w.out.extend_from_slice(c);
    }
    w.out.resize(w.out.len() + tail, 0);
    w.out
}

fn valid_thin(cputype: u32) -> Vec<u8> {
    // Section at 0x200, 16 bytes; signature at 0x300, 32 bytes; file is 0x400 bytes.
    let cmds = vec![
        segment64(true, 0, 0x400, "__info_plist", 0x200, 16, 0),
        code_signature(true, 0x300, 32),
    ];
    let mut image = thin64(true, cputype, &cmds, 0);
    image.resize(0x400, 0);
    image[0x200..0x210].copy_from_slice(b"0123456789abcdef");
    image
}

fn fat(is_64: bool, slices: &[(u32, u64, &[u8])], file_size: usize) -> Vec<u8> {
    let mut w = Writer::new(false);
    w.u32(if is_64 { 0xcafe_babf } else { 0xcafe_babe })
        .u32(slices.len() as u32);
    for (cputype, offset, data) in slices {
        w.u32(*cputype).u32(0);
        if is_64 {
            w.u64(*offset).u64(data.len() as u64).u32(14).u32(0);
        } else {
            w.u32(*offset as u32).u32(data.len() as u32).u32(14);
        }
    }
    let mut out = w.out;
    out.resize(file_size, 0);
    for (_, offset, data) in slices {
        let at = *offset as usize;
        if at + data.len() <= out.len() {
            out[at..at + data.len()].copy_from_slice(data);
        }
    }
    out
}

fn kind_of(data: &[u8]) -> ContainerErrorKind {
    Container::parse(data).unwrap_err().kind
}

#[test]
fn thin_image_sections_and_signature() {
    let image = valid_thin(CPU_ARM64);
    let c = Container::parse(&image).unwrap();
    assert_eq!(c.kind(), ContainerKind::MachO);
    let s = &c.slices()[0];
    assert_eq!(s.arch().name, "arm64");
    assert_eq!(s.filetype().to_string(), "execute");
    let sect = s.section("__TEXT", "__info_plist").unwrap();
    assert_eq!((sect.offset, sect.data), (0x200, &b"0123456789abcdef"[..]));
    assert!(s.section("__DATA", "__info_plist").is_none());
    let sig = s.code_signature().unwrap();
    assert_eq!((sig.offset, sig.size, sig.data.len()), (0x300, 32, 32));
    assert_eq!(s.segment("__TEXT").unwrap().filesize, 0x400);
}

#[test]
fn big_endian_images_are_read() {
    let cmds = vec![segment64(false, 0, 0x300, "__info_plist", 0x100, 4, 0)];
    let mut image = thin64(false, 0x0100_0012, &cmds, 0);
    image.resize(0x300, 0);
    let c = Container::parse(&image).unwrap();
    let s = &c.slices()[0];
    assert_eq!(s.arch().name, "ppc64");
    assert!(!s.is_little_endian());
    assert_eq!(s.section("__TEXT", "__info_plist").unwrap().data.len(), 4);
}

#[test]
fn zero_fill_sections_have_no_file_bytes() {
    // S_ZEROFILL with an offset far past the end is legal: it occupies no file bytes.
    let cmds = vec![segment64(
        true,
        0,
        0x100,
        "__info_plist",
        0xffff_0000,
        64,
        1,
    )];
    let mut image = thin64(true, CPU_ARM64, &cmds, 0);
    image.resize(0x100, 0);
    let c = Container::parse(&image).unwrap();
    assert!(c.slices()[0]
        .section("__TEXT", "__info_plist")
        .unwrap()
        .data
        .is_empty());
}

#[test]
fn unknown_magic_and_short_files() {
    assert!(matches!(
        kind_of(b"#!/bin/sh\n"),
        ContainerErrorKind::UnknownMagic { magic: 0x2321_2f62 }
    ));
    assert!(matches!(
        kind_of(b"\xcf\xfa"),
        ContainerErrorKind::Truncated { .. }
    ));
    let header = &valid_thin(CPU_ARM64)[..20];
    let err = Container::parse(header).unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(
        matches!(
            err.kind,
            ContainerErrorKind::Truncated {
                what: "Mach-O header",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn sizeofcmds_past_the_end() {
    let mut image = valid_thin(CPU_ARM64);
    image.truncate(100);
    let err = Container::parse(&image).unwrap_err();
    assert_eq!(err.offset, 20);
    assert!(matches!(
        err.kind,
        ContainerErrorKind::LoadCommandsPastEnd { .. }
    ));
}

#[test]
fn load_command_of_size_zero() {
    let mut w = Writer::new(true);
    w.u32(0x2).u32(0);
    let image = thin64(true, CPU_ARM64, &[w.out.clone()], 64);
    let err = Container::parse(&image).unwrap_err();
    assert_eq!(err.offset, 32);
    assert_eq!(
        err.to_string(),
        "at offset 0x20: load command 0 (cmd 0x2) has size 0; expected at least 8"
    );
}

#[test]
fn load_command_past_sizeofcmds() {
    let mut w = Writer::new(true);
    w.u32(0x2).u32(64);
    // sizeofcmds says 8, the command claims 64.
    let image = thin64(true, CPU_ARM64, &[w.out.clone()], 64);
    assert!(matches!(
        kind_of(&image),
        ContainerErrorKind::LoadCommandPastEnd {
            index: 0,
            cmdsize: 64,
            sizeofcmds: 8,
            ..
        }
    ));
    // More commands announced than fit.
    let mut image = thin64(true, CPU_ARM64, &[code_signature(true, 0, 0)], 16);
    image[16] = 2; // ncmds = 2
    assert!(matches!(
        kind_of(&image),
        ContainerErrorKind::LoadCommandPastEnd { index: 1, .. }
    ));
}

#[test]
fn segment_with_more_sections_than_its_size() {
    let mut cmd = segment64(true, 0, 0x100, "__info_plist", 0x80, 4, 0);
    cmd[64] = 9; // nsects = 9 in a command sized for one
    let image = thin64(true, CPU_ARM64, &[cmd], 0x100);
    assert!(matches!(
        kind_of(&image),
        ContainerErrorKind::LoadCommandTooSmall { minimum: 792, .. }
    ));
}

#[test]
fn section_and_segment_past_eof() {
    let cmds = vec![segment64(true, 0, 0x100, "__info_plist", 0x1000, 16, 0)];
    let image = thin64(true, CPU_ARM64, &cmds, 0x100 - 32 - 152);
    let err = Container::parse(&image).unwrap_err();
    assert!(
        matches!(&err.kind, ContainerErrorKind::SectionPastEof { section, .. } if section == "__info_plist"),
        "{err}"
    );
    assert_eq!(err.offset, 32 + 72);

    let cmds = vec![segment64(true, 0, 0x10_0000, "__text", 0x40, 4, 0)];
    let image = thin64(true, CPU_ARM64, &cmds, 0x100);
    assert!(matches!(
        kind_of(&image),
        ContainerErrorKind::SegmentPastEof { .. }
    ));
}

#[test]
fn code_signature_past_eof_and_duplicated() {
    let image = thin64(
        true,
        CPU_ARM64,
        &[code_signature(true, 0x80, 0x1000)],
        0x100,
    );
    assert!(matches!(
        kind_of(&image),
        ContainerErrorKind::CodeSignaturePastEof { .. }
    ));
    let cs = code_signature(true, 0x40, 8);
    let image = thin64(true, CPU_ARM64, &[cs.clone(), cs], 0x100);
    assert_eq!(kind_of(&image), ContainerErrorKind::DuplicateCodeSignature);
}

#[test]
fn fat_and_fat64_files() {
    let a = valid_thin(CPU_X86_64);
    let b = valid_thin(CPU_ARM64);
    for is_64 in [false, true] {
        let file = fat(
            is_64,
            &[(CPU_X86_64, 0x1000, &a), (CPU_ARM64, 0x2000, &b)],
            0x2400,
        );
        let c = Container::parse(&file).unwrap();
        assert_eq!(c.kind(), ContainerKind::MachOFat);
        let names: Vec<_> = c.slices().iter().map(|s| s.arch().name.as_str()).collect();
        assert_eq!(names, ["x86_64", "arm64"]);
        assert_eq!(c.slices()[1].file_offset(), 0x2000);
        let sect = c.slices()[1].section("__TEXT", "__info_plist").unwrap();
        assert_eq!(sect.data, b"0123456789abcdef");
    }
}

#[test]
fn fat_errors() {
    let a = valid_thin(CPU_X86_64);
    let b = valid_thin(CPU_ARM64);
    let empty = fat(false, &[], 64);
    assert_eq!(kind_of(&empty), ContainerErrorKind::FatEmpty);

    let mut java = fat(false, &[], 64);
    java[4..8].copy_from_slice(&52u32.to_be_bytes());
    assert!(matches!(
        kind_of(&java),
        ContainerErrorKind::FatTooManyArches { count: 52, .. }
    ));

    let mut short_table = fat(false, &[(CPU_ARM64, 0x1000, &b)], 0x1400);
    short_table[4..8].copy_from_slice(&20u32.to_be_bytes());
    short_table.truncate(100);
    assert!(matches!(
        kind_of(&short_table),
        ContainerErrorKind::Truncated { .. }
    ));

    let past_eof = fat(false, &[(CPU_ARM64, 0x1000, &b)], 0x1200);
    let err = Container::parse(&past_eof).unwrap_err();
    assert_eq!(err.offset, 8);
    assert!(
        matches!(
            err.kind,
            ContainerErrorKind::FatSliceOutOfBounds { index: 0, .. }
        ),
        "{err}"
    );

    let overlap = fat(
        false,
        &[(CPU_X86_64, 0x1000, &a), (CPU_ARM64, 0x1200, &b)],
        0x2000,
    );
    assert_eq!(
        kind_of(&overlap),
        ContainerErrorKind::FatSlicesOverlap {
            first: 0,
            second: 1
        }
    );

    let not_macho = fat(
        false,
        &[(CPU_ARM64, 0x1000, b"not a mach-o file at all")],
        0x1100,
    );
    assert!(matches!(
        kind_of(&not_macho),
        ContainerErrorKind::FatSliceNotMachO { index: 0, .. }
    ));

    let mismatch = fat(false, &[(CPU_X86_64, 0x1000, &b)], 0x1400);
    assert!(matches!(
        kind_of(&mismatch),
        ContainerErrorKind::FatArchMismatch { .. }
    ));

    let nested = fat(
        false,
        &[(
            CPU_ARM64,
            0x1000,
            &fat(false, &[(CPU_ARM64, 0x1000, &b)], 0x1400),
        )],
        0x2800,
    );
    assert!(matches!(
        kind_of(&nested),
        ContainerErrorKind::FatSliceNotMachO {
            magic: 0xcafe_babe,
            ..
        }
    ));
}

#[test]
fn errors_inside_fat_slices_carry_absolute_offsets() {
    let mut b = valid_thin(CPU_ARM64);
    b.truncate(100); // sizeofcmds now runs past the slice end
    let file = fat(false, &[(CPU_ARM64, 0x1000, &b)], 0x1000 + 100);
    let err = Container::parse(&file).unwrap_err();
    assert_eq!(err.offset, 0x1000 + 20);
}

#[test]
fn thirty_two_bit_images_are_read() {
    // i386: 28-byte header, LC_SEGMENT (56) with one 68-byte section.
    let mut w = Writer::new(true);
    w.out.extend_from_slice(&[0xce, 0xfa, 0xed, 0xfe]);
    w.u32(7).u32(3).u32(2).u32(1).u32(56 + 68).u32(0);
    w.u32(0x1).u32(56 + 68).name("__TEXT");
    w.u32(0x1000)
        .u32(0x200)
        .u32(0)
        .u32(0x200)
        .u32(5)
        .u32(5)
        .u32(1)
        .u32(0);
    w.name("__launchd_plist").name("__TEXT").u32(0x1100).u32(8);
    w.u32(0x100).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
    let mut image = w.out;
    image.resize(0x200, 0);
    let c = Container::parse(&image).unwrap();
    let s = &c.slices()[0];
    assert_eq!(s.arch().name, "i386");
    assert!(!s.is_64());
    let sect = s.section("__TEXT", "__launchd_plist").unwrap();
    assert_eq!((sect.offset, sect.data.len()), (0x100, 8));
}
