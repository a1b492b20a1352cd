//! The graph's vocabulary: users, relations and edge changes, and the two
//! text forms edge changes come in (NDJSON over HTTP, CSV or NDJSON files).

use std::collections::HashMap;

use serde::Deserialize;

pub use crate::ids::UserId;

/// A relation from one user to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// `from` follows `to`: `to`'s activities reach `from`'s feed.
    Follow,
    /// `from` blocks `to`: neither's activities reach the other.
    Block,
    /// `from` mutes `to`: `to`'s activities do not reach `from`.
    Mute,
}

impl Relation {
    /// Every relation.
    pub const ALL: [Relation; 3] = [Relation::Follow, Relation::Block, Relation::Mute];
}

/// One edge change: a relation set (`on`) or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeChange {
    /// Which relation.
    pub relation: Relation,
    /// Set (`follow`, `block`, `mute`) or removed (`unfollow`, …).
    pub on: bool,
    /// Who holds the relation.
    pub from: UserId,
    /// Whom it is held toward.
    pub to: UserId,
}

impl EdgeChange {
    /// Parses the operation name and the two ids of one change.
    pub fn new(op: &str, from: &str, to: &str) -> Result<Self, String> {
        let (relation, on) = match op {
            "follow" => (Relation::Follow, true),
            "unfollow" => (Relation::Follow, false),
            "block" => (Relation::Block, true),
            "unblock" => (Relation::Block, false),
            "mute" => (Relation::Mute, true),
            "unmute" => (Relation::Mute, false),
            _ => {
                return Err(format!(
                    "op {op:?} is not follow, unfollow, block, unblock, mute or unmute"
                ));
            }
        };
        let from = UserId::parse(from).map_err(|e| format!("from {e}"))?;
        let to = UserId::parse(to).map_err(|e| format!("to {e}"))?;
        if from == to {
            return Err("from and to must be different users".into());
        }
        Ok(Self {
            relation,
            on,
            from,
            to,
        })
    }
}

/// The text form of a graph file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeFormat {
    /// One JSON object a line: `{"op": "follow", "from": "u1", "to": "u2"}`.
    Ndjson,
    /// `op,from,to` a line, optionally under that header; ids unquoted.
    Csv,
}

/// A line that is not an edge change: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// The line's number, counting from 1.
    pub line: u64,
    /// What is wrong with it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine<'a> {
    #[serde(borrow)]
    op: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    from: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    to: std::borrow::Cow<'a, str>,
}

/// Reads edge changes line by line, counting lines and refusing more than
/// a most number of them.
#[derive(Debug)]
pub struct EdgeReader {
    format: EdgeFormat,
    max_lines: u64,
    lines: u64,
}

impl EdgeReader {
    /// A reader of `format` that refuses more than `max_lines` lines.
    pub fn new(format: EdgeFormat, max_lines: u64) -> Self {
        Self {
            format,
            max_lines,
            lines: 0,
        }
    }

    /// Reads the next line (without its end); `None` for a line that holds
    /// nothing (blank, or the CSV header).
    pub fn read(&mut self, line: &[u8]) -> Result<Option<EdgeChange>, LineError> {
        self.lines += 1;
        let fail = |message: String| LineError {
            line: self.lines,
            message,
        };
        if self.lines > self.max_lines {
            return Err(fail(format!("more than {} lines", self.max_lines)));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let change = match self.format {
            EdgeFormat::Ndjson => {
                let parsed: JsonLine<'_> = serde_json::from_slice(line)
                    .map_err(|e| fail(format!("not an edge change: {e}")))?;
                EdgeChange::new(&parsed.op, &parsed.from, &parsed.to).map_err(fail)?
            }
            EdgeFormat::Csv => {
                let text = std::str::from_utf8(line)
                    .map_err(|_| fail("not UTF-8".into()))?
                    .trim();
                if self.lines == 1 && text == "op,from,to" {
                    return Ok(None);
                }
                if text.contains('"') {
                    return Err(fail("quoted fields are not supported".into()));
                }
                let fields: Vec<&str> = text.split(',').collect();
                let [op, from, to] = fields[..] else {
                    return Err(fail("expected op,from,to".into()));
                };
                EdgeChange::new(op.trim(), from.trim(), to.trim()).map_err(fail)?
            }
        };
        Ok(Some(change))
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

/// Edge changes kept in the order they were read.
#[derive(Debug, Default)]
pub struct EdgeChanges {
    changes: Vec<EdgeChange>,
}

impl EdgeChanges {
    /// Adds the next change.
    pub fn push(&mut self, change: EdgeChange) {
        self.changes.push(change);
    }

    /// Adds the next changes.
    pub fn extend(&mut self, changes: impl IntoIterator<Item = EdgeChange>) {
        self.changes.extend(changes);
    }

    /// Changes read so far.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether no change was read.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// What applying the changes in order leaves: per relation and pair, the
    /// last change wins. Returns the edges to set and the edges to remove.
    pub fn net(&self) -> NetChanges<'_> {
        let mut last: HashMap<(Relation, &UserId, &UserId), bool> =
            HashMap::with_capacity(self.changes.len());
        for c in &self.changes {
            last.insert((c.relation, &c.from, &c.to), c.on);
        }
        let mut net = NetChanges::default();
        for ((relation, from, to), on) in last {
            let side = if on { &mut net.set } else { &mut net.removed };
            side.push((relation, from, to));
        }
        net
    }
}

/// The edges a set of changes sets and removes, each pair once.
#[derive(Debug, Default)]
pub struct NetChanges<'a> {
    /// Edges that hold afterwards.
    pub set: Vec<(Relation, &'a UserId, &'a UserId)>,
    /// Edges that do not hold afterwards.
    pub removed: Vec<(Relation, &'a UserId, &'a UserId)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: EdgeFormat, text: &str) -> Result<(u64, EdgeChanges), LineError> {
        let mut reader = EdgeReader::new(format, 10);
        let mut changes = EdgeChanges::default();
        for line in text.split('\n') {
            if let Some(change) = reader.read(line.as_bytes())? {
                changes.push(change);
            }
        }
        Ok((reader.lines(), changes))
    }

    #[test]
    fn the_last_change_of_a_pair_wins() {
        let text = r#"{"op":"follow","from":"a","to":"b"}
{"op":"unfollow","from":"a","to":"b"}
{"op":"block","from":"a","to":"b"}

{"op":"follow","from":"c","to":"b"}
{"op":"unfollow","from":"c","to":"b"}
{"op":"follow","from":"c","to":"b"}"#;
        let (lines, changes) = read(EdgeFormat::Ndjson, text).unwrap();
        assert_eq!((lines, changes.len()), (7, 6));
        let net = changes.net();
        let mut set: Vec<String> = net
            .set
            .iter()
            .map(|(r, f, t)| format!("{r:?} {f} {t}"))
            .collect();
        set.sort();
        assert_eq!(set, ["Block a b", "Follow c b"]);
        let removed: Vec<String> = net
            .removed
            .iter()
            .map(|(r, f, t)| format!("{r:?} {f} {t}"))
            .collect();
        assert_eq!(removed, ["Follow a b"]);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let cases = [
            (
                "{\"op\":\"follow\",\"from\":\"a\",\"to\":\"b\"}\n{\"op\":\"like\",\"from\":\"a\",\"to\":\"b\"}",
                2,
            ),
            ("{\"op\":\"follow\",\"from\":\"a\",\"to\":\"a\"}", 1),
            ("\n\n{\"op\":\"follow\",\"from\":\"\",\"to\":\"b\"}", 3),
            ("{\"op\":\"follow\",\"from\":\"a\",\"to\":\"b\",\"x\":1}", 1),
            ("{\"op\":\"follow\",\"from\":\"a\"", 1),
            ("[1,2]", 1),
        ];
        for (text, line) in cases {
            let err = read(EdgeFormat::Ndjson, text).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err}");
        }
        let long = format!(
            "{{\"op\":\"follow\",\"from\":\"{}\",\"to\":\"b\"}}",
            "x".repeat(129)
        );
        assert!(read(EdgeFormat::Ndjson, &long).is_err());
        let too_many = "{\"op\":\"follow\",\"from\":\"a\",\"to\":\"b\"}\n".repeat(11);
        assert_eq!(read(EdgeFormat::Ndjson, &too_many).unwrap_err().line, 11);
    }

    #[test]
    fn csv_takes_an_optional_header_and_refuses_quotes() {
        let (_, changes) = read(
            EdgeFormat::Csv,
            "op,from,to\r\nfollow,a,b\r\nmute, a , c\r\n",
        )
        .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes.changes[1].to.as_str(), "c");
        assert_eq!(
            read(EdgeFormat::Csv, "follow,a,b\n\"follow\",a,c")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(read(EdgeFormat::Csv, "follow,a").unwrap_err().line, 1);
    }
}
