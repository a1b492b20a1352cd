//! Edge changes read from a byte stream (a request body, a file), one line
//! at a time with a cap on a line's length, so no input holds more memory
//! than one line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::graph::{EdgeChange, EdgeReader, LineError};

/// Longest line accepted, in bytes: two 128-byte ids and the JSON around them.
const MAX_LINE: usize = 4096;

/// Why edge changes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A line is not an edge change.
    #[error(transparent)]
    Line(#[from] LineError),
    /// The stream broke off.
    #[error("reading failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Edge changes from a buffered byte stream.
#[derive(Debug)]
pub struct EdgeLines<R> {
    source: R,
    reader: EdgeReader,
    line: Vec<u8>,
    bytes: u64,
}

impl<R: AsyncBufRead + Unpin> EdgeLines<R> {
    /// Reads `source` with `reader`'s format and limits.
    pub fn new(source: R, reader: EdgeReader) -> Self {
        Self {
            source,
            reader,
            line: Vec::new(),
            bytes: 0,
        }
    }

    /// The next edge change, or `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<EdgeChange>, ReadError> {
        loop {
            self.line.clear();
            let mut ended = true;
            loop {
                let buf = self.source.fill_buf().await?;
                if buf.is_empty() {
                    break;
                }
                ended = false;
                let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if self.line.len() + take > MAX_LINE + 1 {
                    let line = self.reader.lines() + 1;
                    let message = format!("longer than {MAX_LINE} bytes");
                    return Err(LineError { line, message }.into());
                }
                self.line.extend_from_slice(&buf[..take]);
                self.source.consume(take);
                self.bytes += take as u64;
                if done {
                    break;
                }
            }
            if ended {
                return Ok(None);
            }
            let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            if let Some(change) = self.reader.read(text)? {
                return Ok(Some(change));
            }
        }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.reader.lines()
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::EdgeFormat;

    #[tokio::test]
    async fn lines_are_read_across_buffer_edges_and_capped() {
        let text = "follow,a,b\n\nmute,c,d";
        let source = tokio::io::BufReader::with_capacity(3, text.as_bytes());
        let mut lines = EdgeLines::new(source, EdgeReader::new(EdgeFormat::Csv, 10));
        assert_eq!(lines.next().await.unwrap().unwrap().to.as_str(), "b");
        assert_eq!(lines.next().await.unwrap().unwrap().to.as_str(), "d");
        assert!(lines.next().await.unwrap().is_none());
        assert_eq!(lines.lines(), 3);
        let long = format!("follow,a,b\nfollow,a,{}\n", "x".repeat(MAX_LINE));
        let mut lines = EdgeLines::new(long.as_bytes(), EdgeReader::new(EdgeFormat::Csv, 10));
        assert!(lines.next().await.unwrap().is_some());
        match lines.next().await {
            Err(ReadError::Line(e)) => assert_eq!(e.line, 2),
            other => panic!("{other:?}"),
        }
    }
}
