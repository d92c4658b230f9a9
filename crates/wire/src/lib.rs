//! The wire format of smbless helpers, shared by the helper template and `smbless::client`.
//!
//! The protocol is the one of Apple's launch-on-demand talk: every message is a 4-byte
//! big-endian length followed by that many bytes of a property list (binary `bplist00` or
//! XML). A request is a dictionary with a `command` string; a reply is a dictionary, and a
//! failed request is answered with `{error: {code, message}}`.
//!
//! The codec is pure (bytes in, bytes or values out): no I/O, no runtime, and no dependency
//! but `plist` and `thiserror`, so that a root helper links nothing else for it. No length
//! read from the wire is trusted before it has been compared with a caller-chosen cap.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::io;

/// Size of the big-endian length prefix in front of every plist.
pub const LENGTH_PREFIX: usize = 4;

/// Largest request a helper accepts unless configured otherwise (1 MiB), and the default cap
/// the client puts on replies.
pub const DEFAULT_MAX_FRAME: u32 = 1 << 20;

/// Key of a request dictionary that names the command.
pub const COMMAND_KEY: &str = "command";

/// Key of a reply dictionary that carries an error (`{error: {code, message}}`).
pub const ERROR_KEY: &str = "error";

/// Key of a request dictionary that carries an `AuthorizationExternalForm` (32 bytes of data),
/// for commands that need an Authorization Services right.
pub const AUTHORIZATION_KEY: &str = "authorization";

/// Error code of a reply to a peer that may not talk to the helper, or may not run a command.
pub const UNAUTHORIZED: &str = "unauthorized";

/// Deepest nesting of arrays and dictionaries accepted in a payload; deeper documents are
/// rejected before they are parsed, so that a hostile frame cannot exhaust the stack of any
/// recursive code that later walks the value.
pub const MAX_NESTING: usize = 64;

const BINARY_MAGIC: &[u8] = b"bplist00";

/// How a plist payload is (or is to be) encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// Apple's binary plist, `bplist00`: what the talk's daemon sends.
    Binary,
    /// The XML plist format.
    Xml,
}

impl PayloadFormat {
    /// The name used in messages: `"binary"` or `"XML"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Binary => "binary",
            PayloadFormat::Xml => "XML",
        }
    }
}

/// A frame that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more bytes than the receiver accepts.
    #[error("length prefix announces {length} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The announced payload length.
        length: u32,
        /// The receiver's cap.
        limit: u32,
    },
    /// The length prefix is zero, so there is no plist.
    #[error("length prefix is 0: a frame must carry a plist")]
    Empty,
    /// A payload to send does not fit the 4-byte length prefix or the sender's own cap.
    #[error("payload of {length} bytes is larger than the limit of {limit} bytes")]
    PayloadTooLong {
        /// The payload length.
        length: usize,
        /// The cap it exceeds.
        limit: u32,
    },
    /// The payload is neither a binary nor an XML plist.
    #[error("payload is not a binary or XML plist: {reason}")]
    NotPlist {
        /// Why it is not (the first bytes, or the parser's complaint).
        reason: String,
    },
    /// The payload nests arrays or dictionaries deeper than [`MAX_NESTING`].
    #[error("payload nests arrays/dictionaries deeper than {limit} levels (at byte {offset})")]
    TooDeep {
        /// Byte offset in the payload where the limit was crossed.
        offset: usize,
        /// The nesting limit.
        limit: usize,
    },
    /// A binary plist whose object graph, unfolded into a tree, has more nodes than the
    /// payload has bytes: shared or cyclic containers (a "billion laughs" document).
    #[error("binary plist unfolds into more than {limit} objects (shared or cyclic containers)")]
    TooManyObjects {
        /// The bound: the payload's length in bytes.
        limit: usize,
    },
    /// The plist could not be serialised.
    #[error("could not serialise the plist as {format}")]
    Encode {
        /// The format that was asked for.
        format: &'static str,
        /// The serialiser's error.
        source: plist::Error,
    },
}

/// Interpret a length prefix: the payload length, once checked against `limit`.
///
/// Call this before allocating anything for the payload.
pub fn frame_length(prefix: [u8; LENGTH_PREFIX], limit: u32) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(prefix);
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > limit {
        return Err(FrameError::TooLarge { length, limit });
    }
    usize::try_from(length).map_err(|_| FrameError::TooLarge { length, limit })
}

/// Serialise `value` and put the length prefix in front of it.
///
/// `limit` is the largest payload the caller is willing to send (at most `u32::MAX`).
pub fn encode_frame(
    value: &plist::Value,
    format: PayloadFormat,
    limit: u32,
) -> Result<Vec<u8>, FrameError> {
    // Reserve the prefix and patch it once the payload is written, so that the length can
    // never disagree with what follows it.
    let mut frame = vec![0u8; LENGTH_PREFIX];
    let written = match format {
        PayloadFormat::Binary => value.to_writer_binary(&mut frame),
        PayloadFormat::Xml => value.to_writer_xml(&mut frame),
    };
    written.map_err(|source| FrameError::Encode {
        format: format.as_str(),
        source,
    })?;
    let length = frame.len().saturating_sub(LENGTH_PREFIX);
    let prefix = u32::try_from(length)
        .ok()
        .filter(|&n| n <= limit)
        .ok_or(FrameError::PayloadTooLong { length, limit })?;
    if let Some(head) = frame.get_mut(..LENGTH_PREFIX) {
        head.copy_from_slice(&prefix.to_be_bytes());
    }
    Ok(frame)
}

/// Parse a payload as a binary or XML plist (never OpenStep text), after bounding its nesting.
pub fn decode_payload(payload: &[u8]) -> Result<(plist::Value, PayloadFormat), FrameError> {
    if payload.starts_with(BINARY_MAGIC) {
        check_binary_depth(payload)?;
        let value = plist::Value::from_reader(io::Cursor::new(payload)).map_err(|e| {
            FrameError::NotPlist {
                reason: format!("binary plist: {e}"),
            }
        })?;
        return Ok((value, PayloadFormat::Binary));
    }
    let first = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| payload.get(i));
    if first != Some(&b'<') && !payload.starts_with(b"\xef\xbb\xbf<") {
        let head: Vec<u8> = payload.iter().take(8).copied().collect();
        return Err(FrameError::NotPlist {
            reason: format!("starts with {head:02x?}, expected `bplist00` or `<`"),
        });
    }
    check_xml_depth(payload)?;
    let value = plist::Value::from_reader_xml(io::Cursor::new(payload)).map_err(|e| {
        FrameError::NotPlist {
            reason: format!("XML plist: {e}"),
        }
    })?;
    Ok((value, PayloadFormat::Xml))
}

/// Count `<array>`/`<dict>` nesting without parsing: a tag opens a level unless it is
/// self-closing, a `</array>`/`</dict>` closes one. Comments, CDATA and processing
/// instructions cannot contain these tags in a plist the parser would accept anyway, and a
/// false alarm only rejects a document with over [`MAX_NESTING`] such tags in text.
fn check_xml_depth(payload: &[u8]) -> Result<(), FrameError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(rest) = payload.get(i..) {
        let Some(lt) = rest.iter().position(|&b| b == b'<') else {
            break;
        };
        let at = i.saturating_add(lt);
        let tag = payload.get(at..).unwrap_or_default();
        let opens = tag.starts_with(b"<array") || tag.starts_with(b"<dict");
        let closes = tag.starts_with(b"</array") || tag.starts_with(b"</dict");
        let end = tag.iter().position(|&b| b == b'>');
        let self_closing = end
            .and_then(|e| e.checked_sub(1))
            .and_then(|e| tag.get(e))
            .is_some_and(|&b| b == b'/');
        if opens {
            // An empty `<array/>` is a level too, as it is in the binary format.
            if depth >= MAX_NESTING {
                return Err(FrameError::TooDeep {
                    offset: at,
                    limit: MAX_NESTING,
                });
            }
            if !self_closing {
                depth = depth.saturating_add(1);
            }
        } else if closes {
            depth = depth.saturating_sub(1);
        }
        i = at.saturating_add(1);
    }
    Ok(())
}

/// Walk a binary plist's object graph from the top object, counting container depth. Only
/// the trailer, offset table and container headers are read; every offset is checked. Errors
/// other than excessive depth are left for the real parser to report.
fn check_binary_depth(payload: &[u8]) -> Result<(), FrameError> {
    let Some(trailer) = payload
        .len()
        .checked_sub(32)
        .and_then(|start| payload.get(start..))
    else {
        return Ok(());
    };
    let field = |range: std::ops::Range<usize>| -> Option<u64> {
        let bytes = trailer.get(range)?;
        Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    let (Some(offset_size), Some(ref_size), Some(count), Some(top), Some(table)) = (
        field(6..7),
        field(7..8),
        field(8..16),
        field(16..24),
        field(24..32),
    ) else {
        return Ok(());
    };
    let reader = BinaryGraph {
        payload,
        offset_size: offset_size as usize,
        ref_size: ref_size as usize,
        count,
        table,
    };
    if !(1..=8).contains(&reader.offset_size) || !(1..=8).contains(&reader.ref_size) {
        return Ok(());
    }
    // Iterative walk with an explicit stack of (object, depth). Every node of the unfolded
    // tree is pushed once; a tree (or a graph sharing only leaves, as CoreFoundation writes
    // them) has at most one node per reference, so at most one per payload byte. More means
    // shared or cyclic containers, which the parser would unfold without bound.
    let mut stack = vec![(top, 1usize)];
    let mut pushed = 1usize;
    while let Some((object, depth)) = stack.pop() {
        let Some(children) = reader.children(object) else {
            continue;
        };
        if children.is_empty() {
            continue;
        }
        if depth >= MAX_NESTING {
            return Err(FrameError::TooDeep {
                offset: reader.offset_of(object).unwrap_or(0),
                limit: MAX_NESTING,
            });
        }
        pushed = pushed.saturating_add(children.len());
        if pushed > payload.len() {
            return Err(FrameError::TooManyObjects {
                limit: payload.len(),
            });
        }
        stack.extend(children.into_iter().map(|c| (c, depth.saturating_add(1))));
    }
    Ok(())
}

struct BinaryGraph<'a> {
    payload: &'a [u8],
    offset_size: usize,
    ref_size: usize,
    count: u64,
    table: u64,
}

impl BinaryGraph<'_> {
    fn uint(&self, at: usize, size: usize) -> Option<u64> {
        let bytes = self.payload.get(at..at.checked_add(size)?)?;
        Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn offset_of(&self, object: u64) -> Option<usize> {
        if object >= self.count {
            return None;
        }
        let entry = usize::try_from(object)
            .ok()?
            .checked_mul(self.offset_size)?
            .checked_add(usize::try_from(self.table).ok()?)?;
        usize::try_from(self.uint(entry, self.offset_size)?).ok()
    }

    /// The object references of an array, set or dictionary (values only for a dictionary:
    /// keys are strings), or `None` for anything else or an unreadable header.
    fn children(&self, object: u64) -> Option<Vec<u64>> {
        let at = self.offset_of(object)?;
        let marker = *self.payload.get(at)?;
        let (kind, low) = (marker >> 4, usize::from(marker & 0x0f));
        if !matches!(kind, 0xa | 0xc | 0xd) {
            return None;
        }
        let (count, refs_at) = if low == 0x0f {
            let int_marker = *self.payload.get(at.checked_add(1)?)?;
            if int_marker >> 4 != 1 {
                return None;
            }
            let size = 1usize.checked_shl(u32::from(int_marker & 0x0f))?;
            if size > 8 {
                return None;
            }
            let n = self.uint(at.checked_add(2)?, size)?;
            (
                usize::try_from(n).ok()?,
                at.checked_add(2)?.checked_add(size)?,
            )
        } else {
            (low, at.checked_add(1)?)
        };
        let (skip, take) = if kind == 0xd {
            (count, count)
        } else {
            (0, count)
        };
        let first = refs_at.checked_add(skip.checked_mul(self.ref_size)?)?;
        let end = first.checked_add(take.checked_mul(self.ref_size)?)?;
        if end > self.payload.len() {
            return None;
        }
        (0..take)
            .map(|i| {
                self.uint(
                    first.checked_add(i.checked_mul(self.ref_size)?)?,
                    self.ref_size,
                )
            })
            .collect()
    }
}

/// Build a request dictionary: `{command: COMMAND, key: value, …}`.
pub fn request(
    command: &str,
    arguments: impl IntoIterator<Item = (String, plist::Value)>,
) -> plist::Value {
    let mut dict = plist::Dictionary::new();
    dict.insert(
        COMMAND_KEY.to_owned(),
        plist::Value::String(command.to_owned()),
    );
    for (key, value) in arguments {
        dict.insert(key, value);
    }
    plist::Value::Dictionary(dict)
}

/// Build an error reply: `{error: {code: CODE, message: MESSAGE}}`.
pub fn error_reply(code: &str, message: &str) -> plist::Value {
    let mut error = plist::Dictionary::new();
    error.insert("code".to_owned(), plist::Value::String(code.to_owned()));
    error.insert(
        "message".to_owned(),
        plist::Value::String(message.to_owned()),
    );
    let mut reply = plist::Dictionary::new();
    reply.insert(ERROR_KEY.to_owned(), plist::Value::Dictionary(error));
    plist::Value::Dictionary(reply)
}

/// The `(code, message)` of an error reply, or `None` when `reply` is not one.
pub fn reply_error(reply: &plist::Value) -> Option<(&str, &str)> {
    let error = reply.as_dictionary()?.get(ERROR_KEY)?.as_dictionary()?;
    let code = error.get("code").and_then(plist::Value::as_string)?;
    let message = error
        .get("message")
        .and_then(plist::Value::as_string)
        .unwrap_or("");
    Some((code, message))
}

/// How a plist value is named in messages: "a dictionary", "an integer", …
pub fn type_name(value: &plist::Value) -> &'static str {
    match value {
        plist::Value::Array(_) => "an array",
        plist::Value::Dictionary(_) => "a dictionary",
        plist::Value::Boolean(_) => "a boolean",
        plist::Value::Data(_) => "data",
        plist::Value::Date(_) => "a date",
        plist::Value::Real(_) => "a real number",
        plist::Value::Integer(_) => "an integer",
        plist::Value::String(_) => "a string",
        plist::Value::Uid(_) => "a UID",
        _ => "an unknown plist type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(value: &plist::Value) -> &plist::Dictionary {
        value.as_dictionary().unwrap()
    }

    #[test]
    fn frame_round_trips_in_both_formats() {
        let req = request(
            "echo",
            [("msg".to_owned(), plist::Value::String("héllo".into()))],
        );
        for format in [PayloadFormat::Binary, PayloadFormat::Xml] {
            let frame = encode_frame(&req, format, DEFAULT_MAX_FRAME).unwrap();
            let prefix: [u8; 4] = frame[..4].try_into().unwrap();
            let len = frame_length(prefix, DEFAULT_MAX_FRAME).unwrap();
            assert_eq!(len, frame.len() - 4, "prefix must equal payload length");
            let (back, seen) = decode_payload(&frame[4..]).unwrap();
            assert_eq!(seen, format);
            assert_eq!(back, req);
        }
        let binary = encode_frame(&req, PayloadFormat::Binary, DEFAULT_MAX_FRAME).unwrap();
        assert!(binary[4..].starts_with(b"bplist00"));
    }

    #[test]
    fn length_prefix_is_big_endian_and_capped() {
        assert_eq!(frame_length([0, 0, 1, 0], 1 << 20).unwrap(), 256);
        assert!(matches!(
            frame_length([0, 0, 0, 0], 10),
            Err(FrameError::Empty)
        ));
        match frame_length([0, 0x10, 0, 1], 1 << 20) {
            Err(FrameError::TooLarge { length, limit }) => {
                assert_eq!(length, (1 << 20) + 1);
                assert_eq!(limit, 1 << 20);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(frame_length([0xff; 4], u32::MAX).is_ok());
    }

    #[test]
    fn encoder_refuses_payloads_over_its_limit() {
        let big = request("echo", [("x".into(), plist::Value::Data(vec![7; 200]))]);
        assert!(matches!(
            encode_frame(&big, PayloadFormat::Binary, 100),
            Err(FrameError::PayloadTooLong { limit: 100, .. })
        ));
    }

    #[test]
    fn openstep_text_and_garbage_are_not_plists() {
        assert!(matches!(
            decode_payload(b"{ command = ping; }"),
            Err(FrameError::NotPlist { .. })
        ));
        assert!(matches!(
            decode_payload(b"bplist00 junk"),
            Err(FrameError::NotPlist { .. })
        ));
        assert!(matches!(
            decode_payload(b"<plist><dict><key>a</key>"),
            Err(FrameError::NotPlist { .. })
        ));
    }

    fn nested(depth: usize) -> plist::Value {
        let mut v = plist::Value::Array(vec![]);
        for _ in 1..depth {
            v = plist::Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn nesting_is_bounded_in_xml_and_binary() {
        for format in [PayloadFormat::Xml, PayloadFormat::Binary] {
            let ok = encode_frame(&nested(MAX_NESTING), format, u32::MAX).unwrap();
            assert!(decode_payload(&ok[4..]).is_ok(), "{format:?} at the limit");
            let deep = encode_frame(&nested(MAX_NESTING + 1), format, u32::MAX).unwrap();
            assert!(
                matches!(
                    decode_payload(&deep[4..]),
                    Err(FrameError::TooDeep {
                        limit: MAX_NESTING,
                        ..
                    })
                ),
                "{format:?} over the limit"
            );
        }
        // A hostile XML document far deeper than any stack: rejected, not parsed.
        let mut xml = b"<plist>".to_vec();
        for _ in 0..200_000 {
            xml.extend_from_slice(b"<array>");
        }
        assert!(matches!(
            decode_payload(&xml),
            Err(FrameError::TooDeep { .. })
        ));
    }

    /// A binary plist whose object `i` is the array `[i+1, i+1]`: 2^n leaves from 3n bytes.
    fn laughs(n: u8) -> Vec<u8> {
        let mut out = b"bplist00".to_vec();
        let mut offsets = vec![];
        for i in 0..n {
            offsets.push(out.len() as u8);
            out.extend_from_slice(&[0xa2, i + 1, i + 1]);
        }
        offsets.push(out.len() as u8);
        out.push(0xa0);
        let table = out.len() as u64;
        out.extend_from_slice(&offsets);
        let mut trailer = [0u8; 32];
        trailer[6] = 1;
        trailer[7] = 1;
        trailer[8..16].copy_from_slice(&(u64::from(n) + 1).to_be_bytes());
        trailer[24..32].copy_from_slice(&table.to_be_bytes());
        out.extend_from_slice(&trailer);
        out
    }

    #[test]
    fn shared_containers_cannot_unfold_without_bound() {
        // Small sharing is legitimate and parses.
        let (small, _) = decode_payload(&laughs(3)).unwrap();
        assert_eq!(small, nested_pairs(3));
        assert!(matches!(
            decode_payload(&laughs(40)),
            Err(FrameError::TooManyObjects { .. })
        ));
    }

    fn nested_pairs(n: u8) -> plist::Value {
        let mut v = plist::Value::Array(vec![]);
        for _ in 0..n {
            v = plist::Value::Array(vec![v.clone(), v]);
        }
        v
    }

    #[test]
    fn error_replies_have_code_and_message() {
        let reply = error_reply("too-large", "request of 5 bytes");
        assert_eq!(
            reply_error(&reply),
            Some(("too-large", "request of 5 bytes"))
        );
        let inner = dict(&dict(&reply)["error"]);
        let keys: Vec<&str> = inner.keys().map(String::as_str).collect();
        assert_eq!(keys, ["code", "message"]);
        assert_eq!(reply_error(&request("ping", [])), None);
    }
}
