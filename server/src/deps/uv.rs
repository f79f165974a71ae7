//! `uv`, run as a child process with an argv (never a shell), a clean environment and one cache
//! shared by every script's venv, so a package downloaded once is linked, not fetched again.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use app::model::InstalledPackage;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::requirement::{normalize, Requirement};
use crate::sandbox::{launcher, Sandbox, View};

/// An install's private `/tmp`: builds of sdists may unpack there.
const INSTALL_TMP_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UvError {
    #[error("cannot start `{program}` ({source}); install uv with scripts/setup or point PYTASK_UV at it")]
    Missing { program: String, source: std::io::Error },
    /// uv's own words, which name the package that failed.
    #[error("{0}")]
    Failed(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct Uv {
    pub program: PathBuf,
    pub python: PathBuf,
    pub cache_dir: PathBuf,
    /// What uv runs in, and how long an install may take.
    pub sandbox: Arc<Sandbox>,
    pub timeout: Duration,
}

/// Lines of uv's output kept for an error message and handed on as progress; past them, one
/// line says the rest was cut (an sdist's build can write without end).
const OUTPUT_LINES: usize = 2000;
const LINE_BYTES: usize = 4096;

impl Uv {
    /// uv, in a sandbox of its own that can write only `venv` and the cache (and reach the
    /// network), unless `--sandbox off`.
    fn command(&self, venv: &Path) -> Result<Command, UvError> {
        let sandboxed = self.sandbox.required().map_err(|problem| UvError::Failed(format!("no install can run: {problem}")))?;
        let mut command = if sandboxed {
            let program = self.sandbox.resolve(&self.program).ok_or_else(|| UvError::Missing {
                program: self.program.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
            self.sandbox
                .prepare_writable(&[venv, &self.cache_dir])
                .map_err(|source| UvError::Io { context: "giving the venv and the uv cache to the install's user".into(), source })?;
            let home = self.sandbox.interpreter_home();
            let mut read_only: Vec<&Path> = vec![&program];
            read_only.extend(home.as_deref());
            let view = View { read_only, writable: vec![venv, &self.cache_dir], chdir: venv, network: true, tmp_bytes: INSTALL_TMP_BYTES };
            let mut command = Command::new(self.sandbox.bwrap());
            command.args(self.sandbox.view_arguments(&view)).arg(&program);
            command
        } else {
            Command::new(&self.program)
        };
        command.env_clear().env("UV_CACHE_DIR", &self.cache_dir).env("UV_NO_CONFIG", "1").env("UV_PYTHON_DOWNLOADS", "never");
        if sandboxed {
            // Copies, not links into the cache: an install that can write the cache must not
            // reach the files of venvs made before it.
            command.env("UV_LINK_MODE", "copy").env("HOME", "/tmp").env("PATH", "/usr/local/bin:/usr/bin:/bin");
        }
        // What uv needs of the server's environment to reach an index: nothing else leaks in.
        for key in [
            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "UV_INDEX_URL", "UV_DEFAULT_INDEX",
        ] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        if !sandboxed {
            for key in ["PATH", "HOME"] {
                if let Some(value) = std::env::var_os(key) {
                    command.env(key, value);
                }
            }
        }
        command.stdin(Stdio::null()).kill_on_drop(true);
        Ok(command)
    }

    /// The interpreter uv makes venvs from: inside a sandbox, the one `--python` names resolved
    /// where it really is (a pyenv shim would not run there).
    fn python(&self) -> &std::ffi::OsStr {
        match self.sandbox.required() {
            Ok(true) => self.sandbox.interpreter().map_or(self.python.as_os_str(), Path::as_os_str),
            _ => self.python.as_os_str(),
        }
    }

    /// Runs uv, handing each line it writes to `progress`; gives back its stdout and its stderr
    /// lines. On failure the error holds uv's message.
    async fn run(
        &self,
        venv: &Path,
        args: &[&std::ffi::OsStr],
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<(String, Vec<String>), UvError> {
        let mut command = self.command(venv)?;
        command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child =
            launcher::spawn(command).map_err(|source| UvError::Missing { program: self.program.display().to_string(), source })?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let reader = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(stdout), &mut text).await;
            text
        });
        let mut said = Vec::new();
        let read = async {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut line = line.trim_end().to_string();
                if line.is_empty() || said.len() > OUTPUT_LINES {
                    continue;
                }
                if said.len() == OUTPUT_LINES {
                    line = format!("… uv's output past {OUTPUT_LINES} lines is not kept");
                } else if line.len() > LINE_BYTES {
                    let mut end = LINE_BYTES;
                    while !line.is_char_boundary(end) {
                        end -= 1;
                    }
                    line.truncate(end);
                    line.push('…');
                }
                progress(line.clone());
                said.push(line);
            }
            child.wait().await
        };
        let status = match tokio::time::timeout(self.timeout, read).await {
            Ok(status) => status.map_err(|source| UvError::Io { context: "waiting for uv".into(), source })?,
            Err(_) => {
                // Killing bubblewrap ends its whole PID namespace: an sdist's build goes with it.
                let _ = child.kill().await;
                return Err(UvError::Failed(format!(
                    "the install took longer than {} s (PYTASK_INSTALL_TIMEOUT_SECONDS) and was ended",
                    self.timeout.as_secs()
                )));
            }
        };
        let stdout = reader.await.unwrap_or_default();
        if status.success() {
            Ok((stdout, said))
        } else {
            Err(UvError::Failed(failure_message(&said, status)))
        }
    }

    /// A new venv at `dir` (replacing anything there), made from the configured Python.
    pub async fn create_venv(&self, dir: &Path, progress: &mut (dyn FnMut(String) + Send)) -> Result<(), UvError> {
        // Relocatable: it is built beside the live one and then renamed into place.
        let args = [os("venv"), os("--relocatable"), os("--no-project"), os("--python"), self.python(), dir.as_os_str()];
        // Made before uv runs: a sandboxed uv is given this directory, and only it, to write.
        std::fs::create_dir_all(dir).map_err(|source| UvError::Io { context: format!("making {}", dir.display()), source })?;
        self.run(dir, &args, progress).await.map(drop)
    }

    /// Installs into the venv; gives back what uv says it installed (` + name==version`), which
    /// for a new venv is everything in it.
    pub async fn install(
        &self,
        venv: &Path,
        requirements: &[Requirement],
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<Vec<InstalledPackage>, UvError> {
        if requirements.is_empty() {
            return Ok(Vec::new());
        }
        let python = venv_python(venv);
        let mut args = vec![os("pip"), os("install"), os("--python"), python.as_os_str()];
        let wanted: Vec<String> = requirements.iter().map(Requirement::to_arg).collect();
        args.extend(wanted.iter().map(|w| std::ffi::OsStr::new(w.as_str())));
        let (_, lines) = self.run(venv, &args, progress).await?;
        Ok(lines.iter().filter_map(|line| installed_line(line)).collect())
    }

    pub async fn uninstall(&self, venv: &Path, name: &str, progress: &mut (dyn FnMut(String) + Send)) -> Result<(), UvError> {
        let python = venv_python(venv);
        self.run(venv, &[os("pip"), os("uninstall"), os("--python"), python.as_os_str(), os(name)], progress).await.map(drop)
    }

    /// What is installed in the venv, names normalised.
    pub async fn list(&self, venv: &Path) -> Result<Vec<InstalledPackage>, UvError> {
        let python = venv_python(venv);
        let (out, _) =
            self.run(venv, &[os("pip"), os("list"), os("--python"), python.as_os_str(), os("--format"), os("json")], &mut |_| {}).await?;
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
            version: String,
        }
        let rows: Vec<Row> =
            serde_json::from_str(out.trim()).map_err(|err| UvError::Failed(format!("unreadable `uv pip list` output: {err}")))?;
        Ok(rows.into_iter().map(|r| InstalledPackage { name: normalize(&r.name), version: r.version }).collect())
    }
}

/// ` + six==1.17.0` → six 1.17.0.
fn installed_line(line: &str) -> Option<InstalledPackage> {
    let (name, version) = line.trim_start().strip_prefix("+ ")?.split_once("==")?;
    Some(InstalledPackage { name: normalize(name.trim()), version: version.trim().to_string() })
}

pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn os(text: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(text)
}

/// uv's error lines (from the first `error:` on), or its last words.
fn failure_message(lines: &[String], status: std::process::ExitStatus) -> String {
    let from =
        lines.iter().position(|l| l.trim_start().starts_with("error") || l.starts_with("×")).unwrap_or(lines.len().saturating_sub(6));
    let text = lines[from..].iter().map(|l| l.trim_end()).collect::<Vec<_>>().join("\n");
    if text.trim().is_empty() {
        format!("uv failed ({status}) without a message")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::installed_line;

    #[test]
    fn reads_what_uv_installed() {
        let p = installed_line(" + Typing_Extensions==4.12.2").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("typing-extensions", "4.12.2"));
        assert!(installed_line("Resolved 1 package in 3ms").is_none());
        assert!(installed_line(" - six==1.16.0").is_none());
    }
}
