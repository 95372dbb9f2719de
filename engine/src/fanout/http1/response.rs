//! Reading one answer off a connection: its head parsed with `httparse`, then its body consumed
//! and dropped as it arrives, whatever its framing, so that no object is ever held whole.

/// Headers in an answer at most.
const MAX_HEADERS: usize = 64;

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    /// Not HTTP/1.x, or a broken head.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// How an answer's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (`HEAD`, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the node closes the connection.
    UntilClose,
}

/// What the head of an answer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// An HTTP/1.0 answer: the node must not be sent pipelined requests.
    pub http10: bool,
    /// The node closes the connection after this answer.
    pub closes: bool,
    /// `Age`, when present and a number.
    pub age: Option<u64>,
    /// How the body is delimited.
    pub framing: Framing,
}

impl Head {
    /// An interim answer (`100 Continue`, …): the real one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses an answer's head from the start of `buf`: `None` while it is incomplete, else the
/// head and its length. `no_body` is set for answers to `HEAD`.
pub fn parse_head(buf: &[u8], no_body: bool) -> Result<Option<(Head, usize)>, ResponseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ResponseError::Malformed("too many headers"))
        }
        Err(_) => return Err(ResponseError::Malformed("invalid head")),
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let (mut close, mut keep_alive, mut chunked, mut content_length, mut age) =
        (false, false, false, None, None);
    for header in response.headers.iter() {
        let value = header.value;
        if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only counts as the last coding; anything else is read until close.
            chunked = value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                content_length = None;
                close = true;
            }
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(ResponseError::Malformed("invalid Content-Length"))?;
            if content_length.is_some_and(|known| known != parsed) {
                return Err(ResponseError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(parsed);
        } else if header.name.eq_ignore_ascii_case("age") {
            age = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        }
    }
    let framing = if no_body || matches!(status, 100..=199 | 204 | 304) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = content_length {
        if length == 0 {
            Framing::Empty
        } else {
            Framing::Length(length)
        }
    } else {
        Framing::UntilClose
    };
    let closes = close || (http10 && !keep_alive) || framing == Framing::UntilClose;
    Ok(Some((
        Head {
            status,
            http10,
            closes,
            age,
            framing,
        },
        length,
    )))
}

/// Where a body being read stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// This many bytes are left.
    Length(u64),
    /// A chunk-size line is next.
    ChunkSize,
    /// This many bytes of the current chunk are left.
    ChunkData(u64),
    /// The CRLF after a chunk's data is next.
    ChunkEnd,
    /// Trailer lines, up to an empty one, after the last chunk.
    Trailers,
    /// Everything up to the connection's end.
    UntilClose,
    /// The body is over.
    Done,
}

impl Body {
    /// The start of a body framed so.
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::Empty => Self::Done,
            Framing::Length(length) => Self::Length(length),
            Framing::Chunked => Self::ChunkSize,
            Framing::UntilClose => Self::UntilClose,
        }
    }

    /// Whether the body is over.
    pub fn is_done(&self) -> bool {
        *self == Self::Done
    }

    /// Consumes what it can of `buf` (the bytes received after what was consumed before) and
    /// says how many bytes of it belonged to the body. Stops at the body's end.
    pub fn consume(&mut self, buf: &[u8]) -> Result<usize, ResponseError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match *self {
                Self::Done => return Ok(used),
                Self::UntilClose => return Ok(buf.len()),
                Self::Length(left) | Self::ChunkData(left) => {
                    let take = left.min(rest.len() as u64);
                    used += take as usize;
                    let left = left - take;
                    *self = match (*self, left) {
                        (Self::Length(_), 0) => Self::Done,
                        (Self::Length(_), _) => Self::Length(left),
                        (_, 0) => Self::ChunkEnd,
                        _ => Self::ChunkData(left),
                    };
                    if left > 0 {
                        return Ok(used);
                    }
                }
                Self::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((length, 0))) => {
                        used += length;
                        *self = Self::Trailers;
                    }
                    Ok(httparse::Status::Complete((length, size))) => {
                        used += length;
                        *self = Self::ChunkData(size);
                    }
                    Ok(httparse::Status::Partial) => return Ok(used),
                    Err(_) => return Err(ResponseError::Malformed("invalid chunk size")),
                },
                Self::ChunkEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        used += 2;
                        *self = Self::ChunkSize;
                    }
                    [] | [b'\r'] => return Ok(used),
                    _ => return Err(ResponseError::Malformed("no CRLF after a chunk")),
                },
                Self::Trailers => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        used += 2;
                        *self = Self::Done;
                    }
                    Some(line) => used += line + 2,
                    None => return Ok(used),
                },
            }
        }
    }

    /// The connection ended: whether the body was complete.
    pub fn ends_at_close(&mut self) -> bool {
        if *self == Self::UntilClose {
            *self = Self::Done;
        }
        self.is_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes(), false).unwrap().unwrap().0
    }

    /// Feeds `body` to a reader in pieces of `step` bytes, keeping what it did not consume, as a
    /// connection does; returns the bytes left after the body.
    fn read_in_steps(framing: Framing, body: &[u8], step: usize) -> Vec<u8> {
        let mut reader = Body::new(framing);
        let mut pending: Vec<u8> = Vec::new();
        for piece in body.chunks(step) {
            pending.extend_from_slice(piece);
            if !reader.is_done() {
                let used = reader.consume(&pending).unwrap();
                pending.drain(..used);
            }
        }
        assert!(reader.is_done(), "{reader:?}");
        pending
    }

    #[test]
    fn heads_give_status_framing_closing_and_age() {
        let ok = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nAge: 7\r\n\r\n");
        assert_eq!(
            ok,
            Head {
                status: 200,
                http10: false,
                closes: false,
                age: Some(7),
                framing: Framing::Length(12)
            }
        );
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(chunked.framing, Framing::Chunked);
        let close =
            head("HTTP/1.1 404 Not in cache\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            (close.status, close.closes, close.framing),
            (404, true, Framing::Empty)
        );
        let old = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert!(old.http10 && old.closes);
        let kept = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n");
        assert!(kept.http10 && !kept.closes);
        let until_close = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            (until_close.framing, until_close.closes),
            (Framing::UntilClose, true)
        );
        assert!(head("HTTP/1.1 100 Continue\r\n\r\n").is_interim());
    }

    #[test]
    fn head_204_and_304_answers_have_no_body_whatever_they_say() {
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
        let (answer, _) = parse_head(text, true).unwrap().unwrap();
        assert_eq!(answer.framing, Framing::Empty);
        for status in ["204 No Content", "304 Not Modified"] {
            let text = format!("HTTP/1.1 {status}\r\nContent-Length: 500\r\n\r\n");
            assert_eq!(head(&text).framing, Framing::Empty);
        }
    }

    #[test]
    fn incomplete_and_broken_heads() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false),
            Ok(None)
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(parse_head(many.as_bytes(), false).is_err());
    }

    #[test]
    fn bodies_are_read_to_their_end_in_any_pieces() {
        let next = b"HTTP/1.1 200 OK\r\n";
        for step in [1, 2, 3, 7, 1000] {
            let mut plain = b"hello world!".to_vec();
            plain.extend_from_slice(next);
            assert_eq!(read_in_steps(Framing::Length(12), &plain, step), next);
            let mut chunked =
                b"5\r\nhello\r\n7;ext=1\r\n world!\r\n0\r\nX-Trailer: 1\r\n\r\n".to_vec();
            chunked.extend_from_slice(next);
            assert_eq!(read_in_steps(Framing::Chunked, &chunked, step), next);
        }
        let mut broken = Body::new(Framing::Chunked);
        assert!(broken.consume(b"zz\r\n").is_err());
        let mut short = Body::new(Framing::Length(10));
        assert_eq!(short.consume(b"abc"), Ok(3));
        assert!(!short.ends_at_close());
        let mut until_close = Body::new(Framing::UntilClose);
        assert_eq!(until_close.consume(b"abc"), Ok(3));
        assert!(until_close.ends_at_close());
    }
}
