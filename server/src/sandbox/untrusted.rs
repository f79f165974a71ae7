//! Reading a file a run's process could have written. Such a file may be a symbolic link the
//! script left to read a host file through the server (a key, another team's run), a FIFO to
//! hang the reader, a hard link, or huge: each is refused, never followed or waited on. And
//! writing where such a process could have left something under the name.

use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// What was found at the path.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Missing,
    /// A link, FIFO, device, directory or a file with other names: not read.
    NotAFile,
    /// Larger than the cap: not read.
    TooLarge,
    Read(Vec<u8>),
}

/// Reads `path` only if its last component is a regular file of one name, at most `max` bytes.
/// The checks are made on the opened file, not the name, so a swap between check and read
/// cannot pass one file off as another. The parent directories are the server's own.
pub fn read_file(path: &Path, max: u64) -> io::Result<Found> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: opening a FIFO with no writer would block; regular files ignore it.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        // O_NOFOLLOW on a symbolic link.
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => return Ok(Found::NotAFile),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.nlink() != 1 {
        return Ok(Found::NotAFile);
    }
    if meta.len() > max {
        return Ok(Found::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // It may still grow while read (a process left behind): never past the cap.
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Ok(Found::TooLarge);
    }
    Ok(Found::Read(bytes))
}

/// Writes `bytes` as a new file at `path`, whatever stood there (a link, a FIFO) removed first and
/// never written through: if something takes the name again in between, this fails rather than
/// follow it.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    match std::fs::remove_file(path) {
        Err(err) if err.kind() == io::ErrorKind::IsADirectory || std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) => {
            std::fs::remove_dir_all(path)?
        }
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_plain_file_and_refuses_links_fifos_directories_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(read_file(&path, 10).unwrap(), Found::Missing);
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read_file(&path, 10).unwrap(), Found::Read(b"hello".to_vec()));
        assert_eq!(read_file(&path, 4).unwrap(), Found::TooLarge);

        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"key").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(read_file(&link, 10).unwrap(), Found::NotAFile);
        let hard = dir.path().join("hard");
        std::fs::hard_link(&secret, &hard).unwrap();
        assert_eq!(read_file(&hard, 10).unwrap(), Found::NotAFile);

        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Would block for ever without O_NONBLOCK: no writer ever opens it.
        assert_eq!(read_file(&fifo, 10).unwrap(), Found::NotAFile);

        assert_eq!(read_file(dir.path(), 10).unwrap(), Found::NotAFile);
    }

    #[test]
    fn writing_replaces_a_link_or_fifo_and_never_writes_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host-file");
        std::fs::write(&host, b"keep me").unwrap();
        let path = dir.path().join("script.py");
        std::os::unix::fs::symlink(&host, &path).unwrap();
        write_new(&path, b"print(1)").unwrap();
        assert_eq!(std::fs::read(&host).unwrap(), b"keep me");
        assert_eq!(read_file(&path, 100).unwrap(), Found::Read(b"print(1)".to_vec()));
        std::fs::remove_file(&path).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        write_new(&path, b"print(2)").unwrap();
        assert_eq!(read_file(&path, 100).unwrap(), Found::Read(b"print(2)".to_vec()));
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(path.join("deep")).unwrap();
        write_new(&path, b"print(3)").unwrap();
        assert_eq!(read_file(&path, 100).unwrap(), Found::Read(b"print(3)".to_vec()));
    }
}
