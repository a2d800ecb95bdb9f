//! The state file on disk: its header, reading it with every check, writing
//! it atomically, and the lock that keeps a second process off it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{StateError, StateErrorKind};

/// `Format` in the header line.
pub(crate) const FORMAT: &str = "tower-kms local KMS state";
/// The format version this code writes and reads.
pub(crate) const VERSION: u64 = 2;
/// `Warning` in the header line, for whoever opens the file.
const WARNING: &str = "this file holds KMS key material in plaintext: keep it private (mode 0600)";
/// The longest header line read.
const MAX_HEADER: usize = 4096;

/// The header line and the body: what the file holds.
pub(crate) fn encode(body: &[u8]) -> Zeroizing<Vec<u8>> {
    let header = json!({
        "Format": FORMAT,
        "Version": VERSION,
        "Length": body.len(),
        "Sha256": hex::encode(Sha256::digest(body)),
        "Warning": WARNING,
    });
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 256));
    out.extend_from_slice(header.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The body of a state file's bytes, after checking the header: the format,
/// the version, the length and the checksum.
pub(crate) fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8], StateError> {
    let bad = |kind, what: String| StateError::file(kind, path, what);
    if bytes.is_empty() {
        return Err(bad(
            StateErrorKind::Corrupt,
            "is empty (a state file is never written empty: it was cut or replaced)".into(),
        ));
    }
    let Some(end) = bytes.iter().take(MAX_HEADER).position(|b| *b == b'\n') else {
        return Err(bad(
            StateErrorKind::Corrupt,
            "is not a local KMS state file (no header line)".into(),
        ));
    };
    let (line, body) = (&bytes[..end], &bytes[end + 1..]);
    let header: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
    if header["Format"] != FORMAT {
        return Err(bad(
            StateErrorKind::Corrupt,
            format!("is not a local KMS state file (its first line is not a {FORMAT:?} header)"),
        ));
    }
    let version = &header["Version"];
    if version.as_u64() != Some(VERSION) {
        return Err(bad(
            StateErrorKind::Version,
            format!(
                "is in state format version {version}; this version of tower-kms reads version {VERSION} only"
            ),
        ));
    }
    let (Some(length), Some(sha256)) = (header["Length"].as_u64(), header["Sha256"].as_str())
    else {
        return Err(bad(
            StateErrorKind::Corrupt,
            "has a header without Length or Sha256".into(),
        ));
    };
    let actual = body.len() as u64;
    if actual < length {
        return Err(bad(
            StateErrorKind::Corrupt,
            format!(
                "is truncated: its header announces {length} bytes of state, it holds {actual} (a half-written or cut file)"
            ),
        ));
    }
    if actual > length {
        return Err(bad(
            StateErrorKind::Corrupt,
            format!(
                "has {} bytes after the {length} bytes of state its header announces",
                actual - length
            ),
        ));
    }
    if hex::encode(Sha256::digest(body)) != sha256 {
        return Err(bad(
            StateErrorKind::Corrupt,
            "is corrupt: the SHA-256 of its state does not match its header".into(),
        ));
    }
    Ok(body)
}

/// The bytes of the state file at `path`, `None` when there is none yet.
///
/// Refuses a symbolic link (the atomic replacement would replace the link,
/// not its target), anything but a regular file, and (on Unix) a file that
/// its group or others may read or write.
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, StateError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io(path, "cannot be examined", e)),
    };
    if meta.file_type().is_symlink() {
        return Err(StateError::file(
            StateErrorKind::Permissions,
            path,
            "is a symbolic link; give the path of the file itself (it is replaced on every write)"
                .into(),
        ));
    }
    if !meta.is_file() {
        return Err(StateError::file(
            StateErrorKind::Corrupt,
            path,
            "is not a regular file".into(),
        ));
    }
    check_private(path, &meta)?;
    read_examined(path, &meta).map(Some)
}

/// Opens and reads the file at `path` that was examined as `examined` (with
/// `symlink_metadata`), refusing it when the file opened is another one: a
/// file swapped for a symbolic link or another file between the two steps.
/// (`O_NOFOLLOW` would close that window at `open`, but needs `libc`, which
/// this crate does not depend on; comparing the opened file's device and
/// inode with the examined one refuses the same swaps.)
fn read_examined(path: &Path, examined: &fs::Metadata) -> Result<Zeroizing<Vec<u8>>, StateError> {
    let mut file = File::open(path).map_err(|e| StateError::io(path, "cannot be read", e))?;
    let opened = file
        .metadata()
        .map_err(|e| StateError::io(path, "cannot be examined", e))?;
    if !same_file(examined, &opened) {
        return Err(StateError::file(
            StateErrorKind::Permissions,
            path,
            "was replaced while it was being opened (by a symbolic link or another file)".into(),
        ));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    io::Read::read_to_end(&mut file, &mut bytes)
        .map_err(|e| StateError::io(path, "cannot be read", e))?;
    Ok(bytes)
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.is_file() == b.is_file() && a.len() == b.len()
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), StateError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StateError::file(
            StateErrorKind::Permissions,
            path,
            format!(
                "may be read or written by other users (mode {mode:04o}), and it holds key material in plaintext: make it private (chmod 600) after checking who read it"
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), StateError> {
    Ok(())
}

/// A new file only the owner may read and write (mode 0600 on Unix).
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `dir/.NAME.SUFFIX` for the state file `dir/NAME`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    directory(path).join(format!(".{name}.{suffix}"))
}

/// Replaces the file at `path` with `bytes` so that a crash at any moment
/// leaves either the old file or the new one, whole: the bytes go to a new
/// private temporary file in the same directory, which is flushed to disk
/// (`fsync`), renamed over `path` (atomic on POSIX file systems), and the
/// directory is flushed so the rename itself is durable.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = sibling(path, "tmp");
    // A temporary file left by a crash is removed first: `create_new` then
    // guarantees the new one has this process's owner and mode.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::io(&tmp, "cannot be removed", e)),
    }
    let written = create_private(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::io(&tmp, "cannot be written", e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::io(path, "cannot be replaced", e));
    }
    sync_directory(directory(path))
        .map_err(|e| StateError::io(directory(path), "cannot be flushed to disk", e))
}

#[cfg(unix)]
fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals the rename.
    Ok(())
}

/// Takes the lock `dir/.NAME.lock` of the state file `dir/NAME` (an
/// exclusive advisory lock, released when the returned file is closed,
/// which the operating system does for a killed process too).
pub(crate) fn lock(path: &Path) -> Result<File, StateError> {
    let lock_path = sibling(path, "lock");
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(&lock_path)
        .map_err(|e| StateError::io(&lock_path, "cannot be opened", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StateError::file(
            StateErrorKind::InUse,
            path,
            format!(
                "is in use by another local KMS (it holds the lock {})",
                lock_path.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(StateError::io(&lock_path, "cannot be locked", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tower-kms-state-file-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn header_round_trip_and_every_refusal() {
        let path = Path::new("/x/kms.state");
        let file = encode(b"{\"a\":1}");
        assert_eq!(decode(path, &file).unwrap(), b"{\"a\":1}");
        let text = String::from_utf8(file.to_vec()).unwrap();
        assert!(text.contains("plaintext"), "{text}");

        let refused = |bytes: &[u8]| decode(path, bytes).unwrap_err();
        let e = refused(b"");
        assert_eq!(e.kind(), StateErrorKind::Corrupt);
        assert_eq!(
            e.to_string(),
            "state file /x/kms.state is empty (a state file is never written empty: it was cut or replaced)"
        );
        assert!(
            refused(b"no newline")
                .to_string()
                .contains("no header line")
        );
        assert!(
            refused(b"{\"Format\":\"other\"}\n{}")
                .to_string()
                .contains("is not a local KMS state file")
        );
        // Version 1 (before the data plane, never released) is refused.
        let v1 = text.replacen("\"Version\":2", "\"Version\":1", 1);
        let e = refused(v1.as_bytes());
        assert_eq!(e.kind(), StateErrorKind::Version);
        assert_eq!(
            e.to_string(),
            "state file /x/kms.state is in state format version 1; this version of tower-kms reads version 2 only"
        );
        let e = refused(&file[..file.len() - 2]);
        assert_eq!(
            e.to_string(),
            "state file /x/kms.state is truncated: its header announces 7 bytes of state, it holds 5 (a half-written or cut file)"
        );
        let mut longer = file.to_vec();
        longer.push(b' ');
        assert!(refused(&longer).to_string().contains("has 1 bytes after"));
        let mut flipped = file.to_vec();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        let e = refused(&flipped);
        assert_eq!(e.kind(), StateErrorKind::Corrupt);
        assert!(
            e.to_string()
                .ends_with("is corrupt: the SHA-256 of its state does not match its header")
        );
        let no_length = text.replacen("\"Length\"", "\"Len\"", 1);
        assert!(
            refused(no_length.as_bytes())
                .to_string()
                .contains("without Length")
        );
    }

    #[test]
    fn atomic_writes_are_private_and_replace_the_file() {
        let dir = temp_dir("write");
        let path = dir.join("kms.state");
        assert!(read(&path).unwrap().is_none());
        // A temporary file left by a crash, readable by everyone, is not reused.
        let tmp = dir.join(".kms.state.tmp");
        fs::write(&tmp, b"junk").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
        }
        write_atomically(&path, b"one").unwrap();
        assert!(!tmp.exists());
        assert_eq!(&read(&path).unwrap().unwrap()[..], b"one");
        write_atomically(&path, b"two").unwrap();
        assert_eq!(&read(&path).unwrap().unwrap()[..], b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            let e = read(&path).unwrap_err();
            assert_eq!(e.kind(), StateErrorKind::Permissions);
            assert!(e.to_string().contains("(mode 0640)"), "{e}");
            std::os::unix::fs::symlink(&path, dir.join("link")).unwrap();
            let e = read(&dir.join("link")).unwrap_err();
            assert!(e.to_string().contains("is a symbolic link"), "{e}");
        }
        let e = read(&dir).unwrap_err();
        assert!(e.to_string().contains("is not a regular file"), "{e}");
        // The file opened must be the file examined: one swapped in between
        // (here: examined another file) is refused.
        let other = dir.join("other");
        fs::write(&other, b"x").unwrap();
        let examined = fs::symlink_metadata(&other).unwrap();
        let e = read_examined(&path, &examined).unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::Permissions);
        assert!(
            e.to_string()
                .contains("was replaced while it was being opened"),
            "{e}"
        );
        let examined = fs::symlink_metadata(&path).unwrap();
        assert_eq!(&read_examined(&path, &examined).unwrap()[..], b"two");
        // A directory that does not exist: an I/O error naming the file.
        let e = write_atomically(&dir.join("missing/kms.state"), b"x").unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::Io);
        assert!(e.to_string().contains("missing/.kms.state.tmp"), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_lock_holder_at_a_time() {
        let dir = temp_dir("lock");
        let path = dir.join("kms.state");
        let held = lock(&path).unwrap();
        let e = lock(&path).unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::InUse);
        assert!(
            e.to_string().contains("is in use by another local KMS"),
            "{e}"
        );
        drop(held);
        lock(&path).unwrap();
        let _ = fs::remove_dir_all(&dir);
    }
}
