//! The server keeps its secrets: the data directory and SQLite file it makes are its user's
//! alone, no other process of that user can read its memory or environment, secrets may come from
//! files, and neither `--help` nor an error shows one.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::helpers::{Actor, Api, Server, PASSWORD};

/// Whom the server runs as when the test is root: root may read any process, so a server of
/// root's would prove nothing.
const NOBODY: u32 = 65534;

/// On SQLite only: the file modes are SQLite's, and nothing else here depends on the backend.
#[tokio::test]
async fn a_fresh_data_dir_is_private_and_the_server_cannot_be_inspected() {
    let root = tempfile::tempdir().unwrap();
    let as_root = rustix::process::getuid().is_root();
    let uid = if as_root { NOBODY } else { rustix::process::getuid().as_raw() };
    // The built binary may sit in a directory only root can enter (CI's target dir is under
    // /root): nobody runs a copy of it from the test's own directory.
    let binary = root.path().join("pytask");
    std::fs::copy(env!("CARGO_BIN_EXE_pytask"), &binary).unwrap();
    if as_root {
        std::os::unix::fs::chown(root.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let (password_file, token_file) = (root.path().join("admin-password"), root.path().join("metrics-token"));
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    std::fs::write(&token_file, "scrape-me\n").unwrap();
    let data_dir = root.path().join("data");
    let db_url = format!("sqlite://{}", data_dir.join("pytask.db").display());
    let extra = ["--metrics-token-file", token_file.to_str().unwrap()];
    let server = Server::start_binary(&binary, &db_url, &data_dir, &extra, |command| {
        command.env_remove("PYTASK_ADMIN_PASSWORD").env("PYTASK_ADMIN_PASSWORD_FILE", &password_file);
        if as_root {
            command.uid(NOBODY).gid(NOBODY);
        }
    });
    // Signing in proves the admin's password came from its file.
    server.sign_in_admin().await;
    let metrics = server.get_as(&Actor::Token("scrape-me".into()), "/metrics").await;
    assert_eq!(metrics.status(), 200, "the metrics token came from its file");

    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(std::fs::metadata(&data_dir).unwrap().uid(), uid);
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&data_dir.join("pytask.db")), 0o600);
    for companion in ["pytask.db-wal", "pytask.db-shm"] {
        if data_dir.join(companion).exists() {
            assert_eq!(mode(&data_dir.join(companion)), 0o600, "{companion}");
        }
    }

    // A non-dumpable process's /proc entries belong to root, not to its user, and a process of
    // its user cannot read them.
    let environ = format!("/proc/{}/environ", server.child.id());
    assert_eq!(std::fs::metadata(&environ).unwrap().uid(), 0, "the server (uid {uid}) is dumpable");
    let mut cat = Command::new("cat");
    cat.arg(&environ).stdout(Stdio::null()).stderr(Stdio::null());
    if as_root {
        cat.uid(NOBODY).gid(NOBODY);
    }
    assert!(!cat.status().unwrap().success(), "a process of the server's user read its environment");
}

#[test]
fn secrets_stay_out_of_help_and_errors() {
    let data_dir = tempfile::tempdir().unwrap();
    let pytask = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pytask"));
        command
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("DATABASE_URL", "postgres://me:db-secret@127.0.0.1:1/pytask")
            .env("PYTASK_ADMIN_PASSWORD", "admin-secret")
            .env("PYTASK_METRICS_TOKEN", "token-secret");
        command
    };
    let help = pytask().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--admin-password-file"), "{help}");
    assert!(!["db-secret", "admin-secret", "token-secret"].iter().any(|secret| help.contains(secret)), "{help}");

    let both = pytask().args(["migrate", "--admin-password-file", "/nonexistent/password"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert_eq!(both.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PYTASK_ADMIN_PASSWORD / --admin-password ") && stderr.contains("PYTASK_ADMIN_PASSWORD_FILE"), "{stderr}");
    assert!(!stderr.contains("admin-secret"), "{stderr}");

    let unreadable = pytask().env_remove("DATABASE_URL").args(["migrate", "--database-url-file", "/nonexistent/url"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&unreadable.stderr);
    assert_eq!(unreadable.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/url") && stderr.contains("DATABASE_URL_FILE / --database-url-file"), "{stderr}");
}
