//! Python source checked and formatted without being run: `compile()` in the real interpreter
//! for syntax errors and warnings, `ruff format` for formatting. Both are short-lived child
//! processes fed on stdin, bounded in number and time so typing in many editors cannot swamp
//! the machine, and each confined as a run is (`child`).

mod child;
pub mod pep723;
#[cfg(test)]
mod reader_tests;
pub mod routes;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use app::model::{CheckReport, InputsReport, Problem};
use tokio::io::AsyncWriteExt;

pub use self::child::MEMORY_BYTES;
use self::child::{Confinement, Ended, NotStarted};
use crate::bounded::Slots;
use crate::executions::process::Limits;
use crate::http::error::ApiError;
use crate::sandbox::Sandbox;

/// How long one check or format may take; far above what a 512 KiB script needs.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the source on stdin, compiles it without running it and prints what Python said as
/// JSON. Warnings are recorded too, but only those about the script itself.
const CHECK_PROGRAM: &str = r#"
import json, sys, warnings
source = sys.stdin.buffer.read()
problems = []
def problem(severity, line, column, end_line, end_column, message):
    problems.append({"severity": severity, "line": max(line or 1, 1), "column": max(column or 1, 1),
                     "end_line": end_line, "end_column": end_column, "message": message})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        compile(source, "<script>", "exec", dont_inherit=True)
    except SyntaxError as err:
        end_line = getattr(err, "end_lineno", None)
        end_column = getattr(err, "end_offset", None)
        # Python may give an end it does not know as -1 (an unexpected indent before odd text).
        if end_line is None or end_column is None or end_line < 1 or end_column < 1: end_line, end_column = None, None
        problem("error", err.lineno, err.offset, end_line, end_column, f"{type(err).__name__}: {err.msg}")
    except (ValueError, RecursionError, MemoryError) as err:
        problem("error", 1, 1, None, None, f"{type(err).__name__}: {err}")
for w in caught:
    if w.filename == "<script>":
        problem("warning", w.lineno, 1, None, None, f"{w.category.__name__}: {w.message}")
json.dump(problems, sys.stdout)
"#;

/// Reads the source on stdin and prints the inputs it takes (`app::model::inputs`), found in
/// its syntax tree: nothing of it is compiled to bytecode or run.
const INPUTS_PROGRAM: &str = include_str!("inputs.py");

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("cannot start `{program}` ({source}); install it with scripts/setup or point {variable} at it")]
    Missing { program: String, variable: &'static str, source: std::io::Error },
    #[error("`{0}` took longer than {secs} s on this source", secs = TOOL_TIMEOUT.as_secs())]
    TimedOut(String),
    /// Killed by a signal or crashed: on this source, as the tools are bounded, most likely by
    /// going past the memory or CPU time they may use.
    #[error("`{program}` gave up on this source ({detail}); a check or format may use {mib} MiB of memory and {secs} s of CPU time", secs = TOOL_TIMEOUT.as_secs())]
    Crashed { program: String, detail: String, mib: u64 },
    #[error("the code cannot be checked or formatted: {0}")]
    Refused(String),
    #[error("the code cannot be formatted because it does not parse: {0}")]
    Unparsable(String),
    #[error("`{program}` failed: {detail}")]
    Failed { program: String, detail: String },
    #[error("the code tools are busy with other sources: try again in a few seconds")]
    Busy,
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
}

impl From<CodeError> for ApiError {
    fn from(err: CodeError) -> Self {
        match err {
            CodeError::Missing { .. } | CodeError::Refused(_) | CodeError::Busy => ApiError::Unavailable(err.to_string()),
            CodeError::TimedOut(_) | CodeError::Unparsable(_) | CodeError::Crashed { .. } => ApiError::invalid("content", err.to_string()),
            CodeError::Invalid(invalid) => invalid.into(),
            CodeError::Failed { .. } => ApiError::Internal(Box::new(err)),
        }
    }
}

/// The two programs, how they are confined, and a bound on how many of them run at once.
pub struct CodeTools {
    python: PathBuf,
    ruff: PathBuf,
    confinement: Confinement,
    /// Two tools a core; requests waiting for one hold their source, so they are bounded too.
    slots: Slots,
}

/// Requests that may wait for a tool at once, and for how long.
const MAX_WAITING: usize = 32;
const MAX_WAIT: Duration = Duration::from_secs(10);

impl CodeTools {
    /// `runs`: the runs' limits, which the tools never exceed.
    pub fn new(python: &Path, ruff: PathBuf, sandbox: Arc<Sandbox>, runs: Limits) -> CodeTools {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let confinement = Confinement::new(sandbox, runs, TOOL_TIMEOUT.as_secs());
        CodeTools { python: confinement.python(python), ruff, confinement, slots: Slots::new(cores * 2, MAX_WAITING, MAX_WAIT) }
    }

    /// What Python says of the source: nothing, one syntax error, and any warnings.
    pub async fn check(&self, content: &str) -> Result<CheckReport, CodeError> {
        app::validate::content(content)?;
        let python = Tool { program: &self.python, variable: "PYTASK_PYTHON" };
        // -I: ignore the environment and user site; -S: skip `site` (faster start); -B: no .pyc.
        let output = self.run(python, &["-I", "-S", "-B", "-c", CHECK_PROGRAM], content).await?;
        if !output.status.success() {
            return Err(self.failed(python, &output));
        }
        let problems: Vec<Problem> = serde_json::from_slice(&output.stdout)
            .map_err(|err| CodeError::Failed { program: python.name(), detail: format!("unreadable report: {err}") })?;
        Ok(CheckReport { problems })
    }

    /// The inputs the source takes, read from its syntax tree without running it.
    pub async fn inputs(&self, content: &str) -> Result<InputsReport, CodeError> {
        app::validate::content(content)?;
        let python = Tool { program: &self.python, variable: "PYTASK_PYTHON" };
        let output = self.run(python, &["-I", "-S", "-B", "-c", INPUTS_PROGRAM], content).await?;
        if !output.status.success() {
            return Err(self.failed(python, &output));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|err| CodeError::Failed { program: python.name(), detail: format!("unreadable inputs: {err}") })
    }

    /// The source as `ruff format` writes it (its defaults, no configuration files read).
    pub async fn format(&self, content: &str) -> Result<String, CodeError> {
        app::validate::content(content)?;
        let ruff = Tool { program: &self.ruff, variable: "PYTASK_RUFF" };
        let args = ["format", "--isolated", "--no-cache", "--stdin-filename", "script.py", "-"];
        let output = self.run(ruff, &args, content).await?;
        match output.status.code() {
            Some(0) => String::from_utf8(output.stdout)
                .map_err(|_| CodeError::Failed { program: ruff.name(), detail: "wrote invalid UTF-8".into() }),
            // ruff's exit code 2 is "could not format", which for stdin means the source does not parse.
            Some(2) => Err(CodeError::Unparsable(ruff_message(&output.stderr))),
            // A Rust program's panic: how ruff ends when an allocation is refused it (or on a
            // bug of its own, which this source set off either way).
            Some(101) => Err(self.crashed(ruff, "it crashed".into())),
            _ => Err(self.failed(ruff, &output)),
        }
    }

    async fn run(&self, tool: Tool<'_>, args: &[&str], stdin: &str) -> Result<Ended, CodeError> {
        let _slot = self.slots.take().await.ok_or(CodeError::Busy)?;
        let mut started = self.confinement.start(tool.program, args).map_err(|err| match err {
            NotStarted::Refused(problem) => CodeError::Refused(problem),
            NotStarted::Io(source) => CodeError::Missing { program: tool.name(), variable: tool.variable, source },
        })?;
        let mut input = started.child.stdin.take().expect("`start` pipes stdin");
        let source = stdin.as_bytes().to_vec();
        // Written from its own task: a child that fills its stdout pipe before reading all of
        // stdin would otherwise deadlock against us.
        let writer = tokio::spawn(async move {
            let _ = input.write_all(&source).await;
        });
        let output = tokio::time::timeout(TOOL_TIMEOUT, started.wait())
            .await
            .map_err(|_| CodeError::TimedOut(tool.name()))?
            .map_err(|err| CodeError::Failed { program: tool.name(), detail: err.to_string() })?;
        writer.abort();
        if output.stdout_cut {
            return Err(CodeError::Failed { program: tool.name(), detail: "wrote far more than the source it was given".into() });
        }
        Ok(output)
    }

    /// A tool that did not do its job. Killed by a signal, it most likely went past its limits
    /// on this source (the source's doing, told to its author); anything else is ours to look into.
    fn failed(&self, tool: Tool<'_>, output: &Ended) -> CodeError {
        if let Some(signal) = output.status.signal() {
            let name = nix::sys::signal::Signal::try_from(signal).map_or("an unknown signal", |s| s.as_str());
            return self.crashed(tool, format!("ended by {name}"));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        CodeError::Failed { program: tool.name(), detail: format!("{}: {}", output.status, stderr.trim()) }
    }

    fn crashed(&self, tool: Tool<'_>, detail: String) -> CodeError {
        CodeError::Crashed { program: tool.name(), detail, mib: self.confinement.memory_bytes() / (1024 * 1024) }
    }
}

#[derive(Clone, Copy)]
struct Tool<'a> {
    program: &'a std::path::Path,
    variable: &'static str,
}

impl Tool<'_> {
    fn name(&self) -> String {
        self.program.display().to_string()
    }
}

/// ruff's error without its `error: Failed to parse script.py:` preamble, which names a file
/// the user never saw.
fn ruff_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("ruff could not parse the source").trim();
    let line = line.strip_prefix("error:").map(str::trim).unwrap_or(line);
    let line = line.strip_prefix("Failed to parse").map(str::trim).unwrap_or(line);
    match line.strip_prefix("script.py:") {
        Some(rest) => format!("line {rest}"),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::ruff_message;

    #[test]
    fn ruff_errors_lose_the_file_name() {
        assert_eq!(ruff_message(b"error: Failed to parse script.py:2:5: Expected an expression\n"), "line 2:5: Expected an expression");
        assert_eq!(ruff_message(b""), "ruff could not parse the source");
    }
}
