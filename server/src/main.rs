//! `pytask`: parse the command line once, set up logging, run the chosen command, pick the exit code.

use std::process::ExitCode;

use server::config::{Cli, Command};

fn main() -> ExitCode {
    tune_malloc();
    // First: the environment already holds secrets, and parsing reads the `_FILE` ones into memory.
    let inspection_forbidden = server::private::forbid_inspection();
    let cli = Cli::parse_or_exit();
    server::telemetry::init(&cli.config.log);
    if let Err(err) = inspection_forbidden {
        tracing::warn!(error = %err, "cannot make the process non-dumpable (PR_SET_DUMPABLE): other processes of this user may read its memory");
    }
    raise_open_files_limit(u64::from(cli.config.max_websockets));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("pytask: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::serve(cli.config).await.map_err(|err| err.to_string()),
            Command::Migrate => server::migrate(cli.config).await.map_err(|err| err.to_string()),
            Command::User { action } => server::cli::run(cli.config, action).await.map_err(|err| err.to_string()),
            Command::Secrets { action } => server::cli::secrets(cli.config, action).await.map_err(|err| err.to_string()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "pytask stopped");
            eprintln!("pytask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives threads that allocate at once arenas of their own (up to 8 per core) and keeps
/// what they free for reuse: after a million log lines had passed through the database
/// connection threads, the server's RSS stayed ~40 MB higher for good (bench/runs.py: 44 → 86
/// MB; with two arenas 43 → 54 MB). Set before any thread exists, so every thread shares them.
///
/// And big blocks go straight back to the system: glibc otherwise raises its mmap threshold
/// to the size of the first big block freed, after which blocks of that size come from the
/// heap and stay there. Each password hash takes 19 MiB: 88 hashes left the server 600 MB
/// larger for good; with the threshold fixed at 4 MiB it is back where it started (see
/// `tests/api/hardening.rs`, the flood of guesses).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // An operator's own settings (glibc reads them itself) win.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: as above.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// Every WebSocket viewer, connection and run (its pipes) holds descriptors, and systemd and most
/// shells start a process with a soft limit of 1024 open files: viewers would fail with EMFILE
/// before `--max-websockets` (1000) could answer them clearly. The hard limit is there to be
/// taken; runs get their own limit (`--run-open-files`) when they start.
fn raise_open_files_limit(max_websockets: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let Rlimit { current: Some(soft), maximum } = getrlimit(Resource::Nofile) else { return };
    let wanted = maximum.unwrap_or(u64::MAX).min(1 << 20);
    let soft = if soft < wanted && setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum }).is_ok() { wanted } else { soft };
    // Room for the viewers plus the database pool, runs and ordinary requests.
    let needed = max_websockets.saturating_add(256);
    if soft < needed {
        tracing::warn!(open_files = soft, max_websockets, "the open-files limit is below --max-websockets + 256: raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower --max-websockets");
    }
}
