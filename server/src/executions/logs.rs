//! A run's log: bytes from the process cut into lines, and lines stored as chunks.
//!
//! A chunk is a row holding the consecutive lines `first_seq..=last_seq` as JSON
//! (`[[stream, at_micros, line], …]`; the seq of each is implied by its place). Replay "after N"
//! reads the chunks whose `last_seq > N` in order and skips the lines ≤ N of the first one, so it
//! is exact from any seq while a million lines cost a few hundred inserts, not a million.

use std::sync::Arc;

use app::model::{LogLine, LogStream};
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::{Expr, Func, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::db::entities::execution_log_chunk;
use crate::env::Masker;

/// Longest piece of a line stored as one log line; a longer line continues in the next ones.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Cuts a byte stream into lines: at `\n` (a `\r\n` loses its `\r`), or at `MAX_LINE_BYTES`
/// on a character boundary. Invalid UTF-8 becomes U+FFFD.
///
/// With a `Masker`, the run's secrets are replaced in each line before it is handed on, and a
/// line cut at the limit is masked whole first, then cut so that the part kept back holds any
/// secret the cut could split: a secret is never divided between two log lines.
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    masker: Option<Arc<Masker>>,
    masked: usize,
}

impl LineSplitter {
    pub fn masking(masker: Arc<Masker>) -> LineSplitter {
        let masker = (!masker.is_empty()).then_some(masker);
        LineSplitter { masker, ..LineSplitter::default() }
    }

    /// How many secrets it has masked since last asked.
    pub fn take_masked(&mut self) -> usize {
        std::mem::take(&mut self.masked)
    }

    /// Feeds bytes read from the stream; hands every complete line to `emit`.
    pub fn push(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(String)) {
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - self.pending.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.pending.extend_from_slice(&window[..end]);
                    if self.pending.last() == Some(&b'\r') {
                        self.pending.pop();
                    }
                    let mut line = std::mem::take(&mut self.pending);
                    self.mask(&mut line);
                    emit(decode(line));
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.pending.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.pending.len() >= MAX_LINE_BYTES {
                        let mut pending = std::mem::take(&mut self.pending);
                        self.mask(&mut pending);
                        // What could be the start of a secret that goes on in bytes not read yet.
                        let hold = self.masker.as_ref().map_or(0, |m| m.longest().saturating_sub(1)).min(MAX_LINE_BYTES / 2);
                        if pending.len() < MAX_LINE_BYTES {
                            // Masking shortened it: there is room again.
                            self.pending = pending;
                            continue;
                        }
                        let cut = char_boundary(&pending[..pending.len() - hold]);
                        self.pending = pending.split_off(cut);
                        emit(decode(pending));
                    }
                }
            }
        }
    }

    /// The stream ended: what is left is the last line (without a newline).
    pub fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            self.mask(&mut line);
            emit(decode(line));
        }
    }

    fn mask(&mut self, line: &mut Vec<u8>) {
        if let Some(masker) = &self.masker {
            self.masked += masker.mask_bytes(line);
        }
    }
}

/// Where to cut a full buffer so a multi-byte character is not split in two: before an
/// incomplete sequence at its very end, else at its end.
fn char_boundary(buffer: &[u8]) -> usize {
    match std::str::from_utf8(buffer) {
        Err(err) if err.error_len().is_none() && err.valid_up_to() > 0 => err.valid_up_to(),
        _ => buffer.len(),
    }
}

fn decode(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

type Row<'a> = (LogStream, i64, &'a str);

/// The JSON body of a chunk of lines.
pub fn encode(lines: &[LogLine]) -> String {
    let rows: Vec<Row> = lines.iter().map(|l| (l.stream, l.at.timestamp_micros(), l.line.as_str())).collect();
    serde_json::to_string(&rows).expect("log rows always serialise")
}

fn decode_chunk(chunk: &execution_log_chunk::Model) -> Result<Vec<LogLine>, sea_orm::DbErr> {
    let rows: Vec<(LogStream, i64, String)> = serde_json::from_str(&chunk.body)
        .map_err(|err| sea_orm::DbErr::Custom(format!("log chunk {}/{} is unreadable: {err}", chunk.execution_id, chunk.first_seq)))?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (stream, micros, line))| LogLine { seq: chunk.first_seq + i as i64, stream, line, at: from_micros(micros) })
        .collect())
}

fn from_micros(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// Stores consecutive lines (non-empty, seqs in order) as one chunk.
pub async fn store(db: &impl ConnectionTrait, execution_id: i64, lines: &[LogLine]) -> Result<(), sea_orm::DbErr> {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else { return Ok(()) };
    execution_log_chunk::Entity::insert(execution_log_chunk::ActiveModel {
        execution_id: Set(execution_id),
        first_seq: Set(first.seq),
        last_seq: Set(last.seq),
        body: Set(encode(lines)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The most line text one page of the log API holds: 10,000 lines of the longest kind would
/// otherwise make a single answer of 160 MiB.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Up to `limit` lines with seq > `after`, in order. Reads only the chunks that hold them (a
/// page of a huge log costs one or two chunks, not the run's), so a caller paging through a
/// million lines holds one page at a time and reads each chunk about once.
pub async fn read_after(db: &impl ConnectionTrait, execution_id: i64, after: i64, limit: usize) -> Result<Vec<LogLine>, sea_orm::DbErr> {
    Ok(read_page(db, execution_id, after, limit, usize::MAX).await?.0)
}

/// Like `read_after`, and with at most `max_bytes` of line text (one line at least, so that
/// paging always moves on): the lines, and whether the byte budget ended the page early.
pub async fn read_page(
    db: &impl ConnectionTrait,
    execution_id: i64,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> Result<(Vec<LogLine>, bool), sea_orm::DbErr> {
    let mut lines = Vec::new();
    let mut from = after;
    let mut bytes = 0usize;
    let mut cut = false;
    while lines.len() < limit && !cut {
        let upto = from.saturating_add(i64::try_from(limit - lines.len()).unwrap_or(i64::MAX));
        let mut chunks = covering(db, execution_id, from, upto).await?;
        if chunks.is_empty() {
            // Nothing stored right after `from`: a batch that could not be stored left a gap,
            // or the log ends here. The next stored chunk, if there is one.
            chunks = chunks_after(execution_id, from).limit(1).all(db).await?;
            if chunks.is_empty() {
                break;
            }
        }
        'chunks: for chunk in &chunks {
            for line in decode_chunk(chunk)? {
                if line.seq > from && lines.len() < limit {
                    if !lines.is_empty() && bytes.saturating_add(line.line.len()) > max_bytes {
                        cut = true;
                        break 'chunks;
                    }
                    bytes += line.line.len();
                    from = line.seq;
                    lines.push(line);
                }
            }
        }
    }
    Ok((lines, cut))
}

/// The chunks after `from` in order.
fn chunks_after(execution_id: i64, from: i64) -> sea_orm::Select<execution_log_chunk::Entity> {
    execution_log_chunk::Entity::find()
        .filter(execution_log_chunk::Column::ExecutionId.eq(execution_id))
        .filter(execution_log_chunk::Column::LastSeq.gt(from))
        .order_by_asc(execution_log_chunk::Column::FirstSeq)
}

/// The chunks that hold lines `from + 1 ..= upto`: from the one where `from + 1` lies (the last
/// to begin at or before it, found in the primary key) to the last that begins by `upto`.
async fn covering(
    db: &impl ConnectionTrait,
    execution_id: i64,
    from: i64,
    upto: i64,
) -> Result<Vec<execution_log_chunk::Model>, sea_orm::DbErr> {
    use execution_log_chunk::Column;
    let start = Query::select()
        .expr(Expr::col(Column::FirstSeq).max())
        .from(execution_log_chunk::Entity)
        .and_where(Column::ExecutionId.eq(execution_id))
        .and_where(Column::FirstSeq.lte(from.saturating_add(1)))
        .to_owned();
    let start = Func::coalesce([SimpleExpr::SubQuery(None, Box::new(start.into_sub_query_statement())), Expr::val(i64::MIN).into()]);
    chunks_after(execution_id, from).filter(Expr::col(Column::FirstSeq).gte(start)).filter(Column::FirstSeq.lte(upto)).all(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(parts: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for part in parts {
            splitter.push(part, &mut |line| out.push(line));
        }
        splitter.finish(&mut |line| out.push(line));
        out
    }

    #[test]
    fn lines_across_reads() {
        assert_eq!(split(&[b"a\nb", b"c\r\n", b"\nlast"]), ["a", "bc", "", "last"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(split(&[b"ok \xff\xfe end\n"]), ["ok \u{fffd}\u{fffd} end"]);
    }

    /// A secret written one byte at a time, or across the point where a long line is cut, is
    /// masked whole: never half of it in one log line and half in the next.
    #[test]
    fn secrets_are_masked_across_reads_and_cuts() {
        let secret = "tok3n-secret-value";
        for offset in (MAX_LINE_BYTES - 40)..(MAX_LINE_BYTES + 5) {
            let mut splitter = LineSplitter::masking(Arc::new(Masker::new([secret])));
            let text = format!("{}{secret}{}\nafter {secret}\n", "a".repeat(offset), "b".repeat(10));
            let mut out = Vec::new();
            for byte in text.as_bytes().chunks(7) {
                splitter.push(byte, &mut |line| out.push(line));
            }
            splitter.finish(&mut |line| out.push(line));
            let joined = out.join("|");
            assert!(!joined.contains("tok3n") && !joined.contains("value"), "offset {offset}: a piece of the secret is left");
            assert_eq!(splitter.take_masked(), 2, "offset {offset}");
            assert_eq!(out.last().unwrap(), "after ***");
            assert!(out.iter().all(|line| line.len() <= MAX_LINE_BYTES));
        }
    }

    #[test]
    fn a_long_line_is_split_not_dropped() {
        let line = "x".repeat(MAX_LINE_BYTES * 2 + 5);
        let out = split(&[line.as_bytes(), b"\n"]);
        assert_eq!(out.len(), 3);
        assert_eq!(out.concat(), line);
    }

    #[test]
    fn a_split_never_cuts_a_character() {
        // 'é' is two bytes; an odd offset puts one across the limit.
        let line = format!("a{}", "é".repeat(MAX_LINE_BYTES));
        let out = split(&[line.as_bytes()]);
        assert!(out.iter().all(|piece| !piece.contains('\u{fffd}')), "a character was cut");
        assert_eq!(out.concat(), line);
    }

    #[test]
    fn chunk_round_trip() {
        let at = from_micros(1_764_061_234_123_456);
        let lines = vec![
            LogLine { seq: 7, stream: LogStream::Stdout, line: "one \"quoted\"".into(), at },
            LogLine { seq: 8, stream: LogStream::Stderr, line: String::new(), at },
        ];
        let chunk = execution_log_chunk::Model { execution_id: 1, first_seq: 7, last_seq: 8, body: encode(&lines) };
        assert_eq!(decode_chunk(&chunk).unwrap(), lines);
    }
}
