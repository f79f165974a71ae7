//! The start gate: a run's Python is started before its run is marked `running` (and, for a
//! run started by hand on PostgreSQL, before it is even stored; for a warm interpreter, before
//! the run exists at all), so the interpreter's start-up (~10–15 ms) overlaps those commits or
//! is done already, but no line of the script runs until the server opens the gate.
//!
//! The gate is a one-line `.pth` file in the venv's site-packages. `site` runs it while Python
//! starts, after the interpreter is up and before the script is even opened. When `PYTASK_GATE`
//! is in the environment (only the worker's own launch sets it, and the line removes it, so the
//! script and its children never see it) it reads stdin, a pipe from the server, to its end:
//! `1` and then the run's own variables (`NAME=value`, each ending in a NUL) go on with those
//! variables set; anything else (the server closed it: the run was stopped or could not be
//! stored, or the server is gone) exits at once with `EXIT_REFUSED`. Then stdin becomes
//! `/dev/null`, as it is for an ungated run. Any other Python started from the venv (uv's, a
//! user's) passes straight through.
//!
//! The same line gives a run its command-line arguments: `PYTASK_ARGV` (a JSON list, given at
//! the spawn or through the gate) becomes `sys.argv[1:]` and leaves the environment.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;

/// The variable that asks the `.pth` line to wait.
pub const ENV: &str = "PYTASK_GATE";
/// The exit code of a Python whose gate was closed without the byte that lets it go on.
pub const EXIT_REFUSED: i32 = 75;

const FILE: &str = "_pytask_gate.pth";
const LINE: &str = concat!(
    "import os; \"PYTASK_GATE\" in os.environ and (lambda said: (os.environ.pop(\"PYTASK_GATE\"), ",
    "said[:1] == b\"1\" or os._exit(75), ",
    "os.environ.update(v.split(\"=\", 1) for v in said[1:].decode(\"utf-8\", \"surrogateescape\").split(\"\\0\") if v), ",
    "(lambda null: (os.dup2(null, 0), os.close(null)))(os.open(os.devnull, os.O_RDONLY))))",
    "(b\"\".join(iter(lambda: os.read(0, 65536), b\"\"))); ",
    // Then, gated or not, a run's argv (`executions::inputs`), taken out of the environment.
    "\"PYTASK_ARGV\" in os.environ and __import__(\"sys\").argv.__setitem__(slice(1, None), ",
    "__import__(\"json\").loads(os.environ.pop(\"PYTASK_ARGV\")))\n",
);

/// Puts the gate into the venv unless it is there already (venvs made before it existed, or
/// remade since). Err: the run must not start its Python before it is marked `running`.
pub fn ensure(venv: &Path) -> std::io::Result<()> {
    let site_packages = site_packages(venv)?;
    let path = site_packages.join(FILE);
    // The venv's packages were installed by code of their own: what stands at the name is read
    // without following a link or waiting on a FIFO.
    let found = crate::sandbox::untrusted::read_file(&path, LINE.len() as u64);
    if found.is_ok_and(|found| found == crate::sandbox::untrusted::Found::Read(LINE.as_bytes().to_vec())) {
        return Ok(());
    }
    // Anything else at the name (a socket cannot even be opened; a directory cannot be renamed
    // over) goes, or every run of the script would fail until its venv is made again.
    if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir()) {
        std::fs::remove_dir_all(&path)?;
    }
    // Written aside and renamed: a Python starting meanwhile sees the whole line or none.
    let partial = site_packages.join(format!(".{FILE}.{}", uuid::Uuid::new_v4()));
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(LINE.as_bytes())?;
    drop(file);
    std::fs::rename(&partial, &path)
}

/// `lib/pythonX.Y/site-packages`, whichever Python made the venv. A link at any of those names
/// (a package's install could leave one) is passed over: the gate is written only inside the venv.
pub fn site_packages(venv: &Path) -> std::io::Result<PathBuf> {
    let real_dir = |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir());
    let lib = venv.join("lib");
    if !real_dir(&lib) {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} is not a directory", lib.display())));
    }
    for entry in std::fs::read_dir(&lib)? {
        let python = entry?.path();
        let dir = python.join("site-packages");
        if real_dir(&python) && real_dir(&dir) {
            return Ok(dir);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} holds no site-packages", lib.display())))
}

/// Lets the script run, with `env` added to its environment (the run's own variables, which a
/// warm interpreter started before the run existed could not be given). A Python that died
/// before it reached the gate makes this a no-op: its exit is what the worker sees next.
pub async fn open<'a>(mut stdin: ChildStdin, env: impl IntoIterator<Item = (&'a str, &'a OsStr)>) {
    // It may hold secrets: zeroed once sent.
    let mut word = zeroize::Zeroizing::new(b"1".to_vec());
    for (name, value) in env {
        word.extend_from_slice(name.as_bytes());
        word.push(b'=');
        word.extend_from_slice(value.as_bytes());
        word.push(0);
    }
    let _ = stdin.write_all(&word).await;
    // The line reads to the end: closing the pipe is what lets it go on.
    drop(stdin);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_writes_the_gate_once_and_mends_a_changed_one() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(&site).unwrap();
        ensure(venv.path()).unwrap();
        assert_eq!(std::fs::read_to_string(site.join(FILE)).unwrap(), LINE);
        std::fs::write(site.join(FILE), "import os\n").unwrap();
        ensure(venv.path()).unwrap();
        assert_eq!(std::fs::read_to_string(site.join(FILE)).unwrap(), LINE);
        // Nothing is left beside it.
        assert_eq!(std::fs::read_dir(&site).unwrap().count(), 1);
        // A FIFO a package's install left at the name is replaced, not waited on.
        std::fs::remove_file(site.join(FILE)).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(site.join(FILE)).status().unwrap().success());
        ensure(venv.path()).unwrap();
        assert_eq!(std::fs::read_to_string(site.join(FILE)).unwrap(), LINE);
    }

    #[test]
    fn a_linked_site_packages_is_not_written_through() {
        let venv = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(venv.path().join("lib/python3.11")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), venv.path().join("lib/python3.11/site-packages")).unwrap();
        assert!(ensure(venv.path()).is_err());
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_line_speaks_the_constants() {
        assert!(LINE.contains(&format!("\"{ENV}\"")));
        assert!(LINE.contains(&format!("os._exit({EXIT_REFUSED})")));
        assert_eq!(LINE.lines().count(), 1, "site runs a .pth line by line");
    }

    /// A real venv (the standard library's, no pip) holding the gate, and a script beside it that
    /// writes a marker file and what it sees of its environment and stdin.
    fn venv_and_script() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let made = std::process::Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).status().unwrap();
        assert!(made.success());
        ensure(&venv).unwrap();
        let script = dir.path().join("script.py");
        std::fs::write(&script, "import os, sys\nopen('ran', 'w').write(repr((os.environ.get('PYTASK_GATE'), sys.stdin.read(), os.environ.get('PYTASK_EXECUTION_ID'))))\n").unwrap();
        (dir, venv, script)
    }

    async fn launch(dir: &Path, venv: &Path, script: &Path, gated: bool) -> tokio::process::Child {
        let python = venv.join("bin/python");
        let limits = crate::executions::process::Limits { memory_bytes: 1 << 30, cpu_seconds: 10, open_files: 256, processes: 64 };
        let env = vec![("PATH", "/usr/bin:/bin".into())];
        crate::executions::process::spawn(crate::executions::process::Launch {
            isolation: None,
            python: &python,
            script,
            workdir: dir,
            env,
            user_env: &[],
            limits,
            gated,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_script_runs_only_once_the_gate_opens_and_sees_nothing_of_it() {
        let (dir, venv, script) = venv_and_script();
        let mut child = launch(dir.path(), &venv, &script, true).await;
        // Long enough for the interpreter to be up and waiting.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!dir.path().join("ran").exists(), "the script ran before the gate opened");
        open(child.stdin.take().unwrap(), [("PYTASK_EXECUTION_ID", OsStr::new("7 = é"))]).await;
        assert!(child.wait().await.unwrap().success());
        assert_eq!(std::fs::read_to_string(dir.path().join("ran")).unwrap(), "(None, '', '7 = é')");
    }

    #[tokio::test]
    async fn a_gate_closed_without_a_word_ends_python_before_the_script() {
        let (dir, venv, script) = venv_and_script();
        let mut child = launch(dir.path(), &venv, &script, true).await;
        drop(child.stdin.take());
        assert_eq!(child.wait().await.unwrap().code(), Some(EXIT_REFUSED));
        assert!(!dir.path().join("ran").exists());
    }

    #[tokio::test]
    async fn an_ungated_python_of_the_venv_passes_straight_through() {
        let (dir, venv, script) = venv_and_script();
        let mut child = launch(dir.path(), &venv, &script, false).await;
        assert!(child.wait().await.unwrap().success());
        assert_eq!(std::fs::read_to_string(dir.path().join("ran")).unwrap(), "(None, '', None)");
    }

    #[test]
    fn a_venv_without_site_packages_is_an_error() {
        let venv = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(venv.path().join("lib")).unwrap();
        assert!(ensure(venv.path()).is_err());
    }
}
