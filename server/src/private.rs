//! What keeps the server's secrets (the database URL, the admin password, the metrics token, the
//! data) from the other processes and users of its host: the process is not dumpable, and the
//! data directory and the SQLite file it creates are its owner's alone.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Makes the process non-dumpable (`PR_SET_DUMPABLE=0`): another process of the same user can no
/// longer ptrace it or read its `/proc/<pid>/environ`, `mem`, `maps` or `fd` (only root can), and
/// no core dump is written. The scripts, being other programs, start dumpable again at exec, so
/// this costs them nothing; it costs the operator `gdb`/`strace` on the server without root.
#[cfg(target_os = "linux")]
pub fn forbid_inspection() -> io::Result<()> {
    use rustix::process::{set_dumpable_behavior, DumpableBehavior};
    set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
pub fn forbid_inspection() -> io::Result<()> {
    Ok(())
}

/// Creates the directory (and missing parents) for its owner only. One already there is the
/// operator's and left as it is.
pub fn create_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// The data directory, made like [`create_dir`], with a warning when others may look into it.
pub fn create_data_dir(path: &Path) -> io::Result<()> {
    create_dir(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "the data directory is open to its group or others, who may read the database, venvs and run files: chmod 700 it"
        );
    }
    Ok(())
}

/// Creates an empty SQLite database file readable by its owner only, so SQLite, which would make
/// it 0644, opens this one instead (and gives its `-wal` and `-shm` files the same mode). A file
/// already there is left as it is.
pub fn create_sqlite_file(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_private_and_existing_ones_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        create_data_dir(&dir).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&dir)), (0o700, 0o700));
        let db = dir.join("pytask.db");
        create_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_data_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o755, "an operator's directory keeps its mode");
        std::fs::write(open.join("pytask.db"), b"kept").unwrap();
        std::fs::set_permissions(open.join("pytask.db"), std::fs::Permissions::from_mode(0o640)).unwrap();
        create_sqlite_file(&open.join("pytask.db")).unwrap();
        assert_eq!((mode(&open.join("pytask.db")), std::fs::read(open.join("pytask.db")).unwrap()), (0o640, b"kept".to_vec()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_is_not_dumpable() {
        use rustix::process::{dumpable_behavior, DumpableBehavior};
        forbid_inspection().unwrap();
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
    }
}
