//! A run's output on its way to the database and the viewers: the readers of stdout and stderr,
//! the server's own `[pytask]` notes, and the collector that numbers lines, applies the output
//! cap, publishes each batch and stores it.

use std::sync::Arc;
use std::time::Duration;

use app::model::{LogLine, LogStream};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

use super::logs::{self, LineSplitter};
use super::queue;
use super::retry::retry;
use crate::env::Masker;
use crate::events::EventBus;
use crate::telemetry::metrics;

/// Most bytes of log lines stored (and published) as one batch.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Prefix of the lines the server itself writes into a run's log.
pub const SAYS: &str = "[pytask]";

/// A line on its way to the collector, stamped when it was read.
#[derive(Debug)]
pub struct Piece {
    /// `Server` for the server's own notes: those are not counted against the output cap, and
    /// are masked by the collector (a script's lines are masked by their reader, `read_stream`).
    stream: LogStream,
    line: String,
    at: DateTime<Utc>,
    /// Secrets its reader masked in it.
    masked: usize,
}

impl Piece {
    pub fn system(line: String) -> Piece {
        Piece { stream: LogStream::Server, line, at: Utc::now(), masked: 0 }
    }
}

/// Where a run's lines go: the collector, through a bounded channel (a slow database slows the
/// reading, and so the script, rather than filling memory); and the secrets they are masked for,
/// which grow once the run's environment is read.
pub struct Log {
    pub sink: mpsc::Sender<Vec<Piece>>,
    pub masks: watch::Sender<Arc<Masker>>,
}

impl Log {
    pub async fn say(&self, message: String) {
        let _ = self.sink.send(vec![Piece::system(format!("{SAYS} {message}"))]).await;
    }
}

/// Reads a stream of the script into lines, each masked for `masks`, to `sink`.
pub async fn read_stream(
    stream: Option<impl tokio::io::AsyncRead + Unpin>,
    kind: LogStream,
    sink: mpsc::Sender<Vec<Piece>>,
    masks: Arc<Masker>,
) {
    let Some(mut stream) = stream else { return };
    let mut splitter = LineSplitter::masking(masks);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let at = Utc::now();
        let mut pieces = Vec::new();
        splitter.push(&buffer[..read], &mut |line| pieces.push(Piece { stream: kind, line, at, masked: 0 }));
        if let Some(last) = pieces.last_mut() {
            last.masked = splitter.take_masked();
        }
        if !pieces.is_empty() && sink.send(pieces).await.is_err() {
            return;
        }
    }
    let mut pieces = Vec::new();
    splitter.finish(&mut |line| pieces.push(Piece { stream: kind, line, at: Utc::now(), masked: 0 }));
    if let Some(last) = pieces.last_mut() {
        last.masked = splitter.take_masked();
    }
    if !pieces.is_empty() {
        let _ = sink.send(pieces).await;
    }
}

#[derive(Debug, Default)]
pub struct Collected {
    pub memory_error: bool,
    /// Secrets masked in the lines.
    pub masked: usize,
}

/// Numbers the lines and handles them a batch at a time: published to this instance's viewers at
/// once (a line is not held back by the commit, an fsync on PostgreSQL), then stored, then
/// announced as stored. The next batch is whatever arrived while the last one was being written
/// (group commit): a quiet script's line is shown and stored at once, a chatty one's in few
/// large writes.
pub async fn collect(
    db: DatabaseConnection,
    events: EventBus,
    id: i64,
    script_id: i64,
    mut incoming: mpsc::Receiver<Vec<Piece>>,
    masks: watch::Receiver<Arc<Masker>>,
    cap: u64,
) -> Collected {
    let mut seq = 0i64;
    let mut written = 0u64;
    let mut cut = false;
    let mut collected = Collected::default();
    // The stored line count (for lists and the page) trails by at most a second while running.
    let mut counted = std::time::Instant::now();
    while let Some(first) = incoming.recv().await {
        let mut batch: Vec<LogLine> = Vec::new();
        let mut size = 0usize;
        let mut take = |pieces: Vec<Piece>, batch: &mut Vec<LogLine>, size: &mut usize| {
            for mut piece in pieces {
                collected.masked += piece.masked;
                if piece.stream == LogStream::Server {
                    collected.masked += masks.borrow().mask(&mut piece.line);
                } else {
                    if cut {
                        continue;
                    }
                    written += piece.line.len() as u64 + 1;
                    if written > cap {
                        cut = true;
                        let mib = cap / (1024 * 1024);
                        seq += 1;
                        batch.push(LogLine {
                            seq,
                            stream: LogStream::Server,
                            line: format!("{SAYS} output cut: the run wrote more than {mib} MiB (PYTASK_RUN_OUTPUT_MB); the rest is not kept, the run goes on"),
                            at: piece.at,
                        });
                        continue;
                    }
                    if piece.stream == LogStream::Stderr && piece.line.starts_with("MemoryError") {
                        collected.memory_error = true;
                    }
                }
                seq += 1;
                // What the line really holds in memory (its text and the LogLine around it),
                // so a batch of short lines is as bounded as one of long lines.
                *size += piece.line.len() + 96;
                batch.push(LogLine { seq, stream: piece.stream, line: piece.line, at: piece.at });
            }
        };
        take(first, &mut batch, &mut size);
        while size < BATCH_BYTES {
            match incoming.try_recv() {
                Ok(more) => take(more, &mut batch, &mut size),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let (first, last) = (batch[0].seq, seq);
        let batch: std::sync::Arc<[LogLine]> = batch.into();
        events.publish_lines(id, script_id, batch.clone());
        if store_batch(&db, id, &batch).await {
            events.lines_stored(id, script_id, first, last);
        }
        if counted.elapsed() >= Duration::from_secs(1) {
            counted = std::time::Instant::now();
            if let Err(err) = queue::set_log_lines(&db, id, seq).await {
                tracing::warn!(execution_id = id, %err, "updating the run's line count failed");
            }
        }
    }
    // The final count lands before the final status (the caller writes that after this returns).
    let _ = retry(id, "updating the run's line count", 20, |n| Duration::from_millis(250 * n), || queue::set_log_lines(&db, id, seq)).await;
    collected
}

/// Writes a batch (one INSERT, no transaction needed), retrying through a passing database
/// error: a log line is given up only after a minute of failures. True once stored.
async fn store_batch(db: &DatabaseConnection, id: i64, batch: &[LogLine]) -> bool {
    let begun = std::time::Instant::now();
    match retry(id, "storing log lines", 61, |_| Duration::from_secs(1), || logs::store(db, id, batch)).await {
        Ok(()) => {
            metrics::log_lines_stored(batch.len(), begun.elapsed());
            true
        }
        Err(_) => {
            tracing::error!(execution_id = id, lines = batch.len(), "log lines could not be stored and are dropped");
            false
        }
    }
}
