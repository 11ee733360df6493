//! Server-Sent Events encoding (WHATWG HTML, "event stream" format).
//!
//! Buffered responses put a whole stream (notifications emitted by a
//! handler, then the JSON-RPC response) into one body; live streams
//! ([`super::streams`]) encode each batch of new events with it.

use alloc::vec::Vec;
use core::fmt::Write as _;

/// An SSE comment line: clients ignore it, and the bytes keep an idle
/// stream open through proxies that close silent connections.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Builds an SSE body.
#[derive(Debug, Default, Clone)]
pub struct SseWriter {
    buf: Vec<u8>,
}

impl SseWriter {
    /// An empty stream.
    pub fn new() -> SseWriter {
        SseWriter::default()
    }

    /// A `retry:` field (reconnection delay hint in milliseconds), as its own
    /// event.
    pub fn retry(&mut self, millis: u32) -> &mut SseWriter {
        let mut s = heapless::String::<24>::new();
        // A u32 always fits in 24 bytes with the prefix.
        let _ = writeln!(s, "retry: {millis}");
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(b'\n');
        self
    }

    /// An event with an optional id and `data`. Line breaks in `data` become
    /// separate `data:` lines (so the client reassembles the same text);
    /// CR and LF in `id` are dropped (they would end the field).
    pub fn event(&mut self, id: Option<&str>, data: &str) -> &mut SseWriter {
        if let Some(id) = id {
            self.buf.extend_from_slice(b"id: ");
            self.buf
                .extend(id.bytes().filter(|b| *b != b'\n' && *b != b'\r' && *b != 0));
            self.buf.push(b'\n');
        }
        let mut any = false;
        for line in data.split(['\n']) {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.buf.extend_from_slice(b"data: ");
            self.buf.extend_from_slice(line.as_bytes());
            self.buf.push(b'\n');
            any = true;
        }
        if !any {
            self.buf.extend_from_slice(b"data: \n");
        }
        self.buf.push(b'\n');
        self
    }

    /// A comment line (keep-alive).
    pub fn comment(&mut self, text: &str) -> &mut SseWriter {
        self.buf.push(b':');
        self.buf
            .extend(text.bytes().filter(|b| *b != b'\n' && *b != b'\r'));
        self.buf.extend_from_slice(b"\n\n");
        self
    }

    /// The encoded stream.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_events() {
        let mut w = SseWriter::new();
        w.retry(3000)
            .event(Some("1"), "{\"a\":1}")
            .event(None, "x\ny");
        w.comment("ka");
        let out = w.finish();
        assert_eq!(
            core::str::from_utf8(&out).ok(),
            Some("retry: 3000\n\nid: 1\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n:ka\n\n")
        );
    }
}
