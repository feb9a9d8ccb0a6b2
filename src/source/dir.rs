//! A plain folder as the source. Paths are walked one component at a time with `lstat`, so a
//! symlink is seen before it is followed: it is followed only when its target, resolved
//! textually against the root, stays inside the root and names nothing hidden. A file is opened
//! once per read, without following a link and without blocking (a FIFO swapped in never holds
//! a worker), and the opened file's device and inode must be the ones the walk checked.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::metadata::METADATA_FILE;
use super::{
    check_component, Entry, FileHandle, FileRef, ListEntry, MetadataRef, Opened, RelPath,
    SourceError, SourceTree,
};

/// Symlink hops allowed while resolving one path (loops end here).
const MAX_LINK_HOPS: usize = 16;

#[derive(Debug)]
pub struct DirTree {
    /// Canonical, so absolute symlink targets can be compared against it.
    root: PathBuf,
}

impl DirTree {
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot open source folder {}", root.display()))?;
        anyhow::ensure!(root.is_dir(), "source {} is not a folder", root.display());
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Follows `path` inside the root; returns the real location (inside the root) and its
    /// metadata, or `None` when missing or refused.
    fn walk(&self, path: &RelPath) -> Result<Option<(PathBuf, fs::Metadata)>, SourceError> {
        let mut pending: VecDeque<String> = path.components().map(String::from).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        // `None` stands for the root, a folder since `open` canonicalised it: not stat-ing it on
        // every request saves a system call on the hot path of cache hits.
        let mut meta: Option<fs::Metadata> = None;
        while let Some(component) = pending.pop_front() {
            if meta.as_ref().is_some_and(|m| !m.is_dir()) {
                return Ok(None);
            }
            let real = self.real(&done).join(&component);
            let found = match fs::symlink_metadata(&real) {
                Ok(m) => m,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("cannot stat a source path")
                        .into())
                }
            };
            if found.file_type().is_symlink() {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(SourceError::Refused);
                }
                let target = fs::read_link(&real).map_err(|_| SourceError::Refused)?;
                let Some(resolved) = self.link_target(&done, &target) else {
                    tracing::debug!(
                        "refused a symlink leaving the source root or naming a hidden file"
                    );
                    return Err(SourceError::Refused);
                };
                for c in resolved.into_iter().rev() {
                    pending.push_front(c);
                }
                done.clear();
                meta = None;
                continue;
            }
            meta = Some(found);
            done.push(component);
        }
        let meta = match meta {
            Some(m) => m,
            None => match fs::metadata(&self.root) {
                Ok(m) => m,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context("cannot read the source root")
                        .into())
                }
            },
        };
        Ok(Some((self.real(&done), meta)))
    }

    /// Opens the file the walk found, checked as opened: not through a link swapped in since
    /// (`O_NOFOLLOW`), never waiting for a writer (`O_NONBLOCK`: a FIFO opens at once and is
    /// then refused), a regular file, and the same device and inode the walk saw.
    fn open_checked(&self, file: &FileRef) -> Result<(fs::File, fs::Metadata), SourceError> {
        let FileHandle::Fs(real) = &file.handle else {
            return Err(anyhow::anyhow!("a folder source cannot read a git blob").into());
        };
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(real);
        let f = match opened {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Err(SourceError::NotFound),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(SourceError::Refused),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("cannot open a source file")
                    .into())
            }
        };
        let meta = f.metadata().context("cannot stat an opened source file")?;
        if !meta.is_file() {
            tracing::debug!("refused a source that is not a regular file once opened");
            return Err(SourceError::NotFound);
        }
        if file
            .inode
            .is_some_and(|checked| checked != (meta.dev(), meta.ino()))
        {
            tracing::debug!("refused a source file replaced since it was looked up");
            return Err(SourceError::NotFound);
        }
        Ok((f, meta))
    }

    fn real(&self, components: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(components);
        p
    }

    /// The components (from the root) a link at `dir/…` pointing to `target` names, if that
    /// stays inside the root and every component is a legal, visible name.
    fn link_target(&self, dir: &[String], target: &Path) -> Option<Vec<String>> {
        let mut out: Vec<String> = if target.is_absolute() {
            let inside = target.strip_prefix(&self.root).ok()?;
            return normalize(Vec::new(), inside);
        } else {
            dir.to_vec()
        };
        out = normalize(out, target)?;
        Some(out)
    }
}

/// Applies `rel`'s components to `base`, refusing to climb above the root or to name hidden
/// or malformed components.
fn normalize(mut base: Vec<String>, rel: &Path) -> Option<Vec<String>> {
    for component in rel.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                base.pop()?;
            }
            Component::Normal(name) => {
                let name = name.to_str()?;
                check_component(name).ok()?;
                base.push(name.to_string());
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(base)
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || e.raw_os_error() == Some(20)
}

/// Device, inode, size and nanosecond timestamps: any write or replacement changes it.
fn content_id(meta: &fs::Metadata) -> String {
    let mut h = Sha256::new();
    for n in [meta.dev(), meta.ino(), meta.size()] {
        h.update(n.to_le_bytes());
    }
    for n in [
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    ] {
        h.update(n.to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// The metadata file beside `real` (a file inside the root, so its folder is too): a regular
/// file only, never a link.
fn folder_metadata(real: &Path) -> Result<Option<Box<MetadataRef>>, SourceError> {
    let (Some(folder), Some(name)) = (real.parent(), real.file_name().and_then(|n| n.to_str()))
    else {
        return Ok(None);
    };
    let at = folder.join(METADATA_FILE);
    match fs::symlink_metadata(&at) {
        Ok(m) if m.is_file() => Ok(Some(Box::new(MetadataRef {
            content_id: content_id(&m),
            name: name.to_string(),
            size: m.size(),
            handle: FileHandle::Fs(at),
            inode: Some((m.dev(), m.ino())),
        }))),
        Ok(_) => Ok(None),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(anyhow::Error::new(e)
            .context("cannot stat a folder's metadata file")
            .into()),
    }
}

impl SourceTree for DirTree {
    fn lookup(&self, path: &RelPath) -> Result<Option<Entry>, SourceError> {
        let Some((real, meta)) = self.walk(path)? else {
            return Ok(None);
        };
        if meta.is_dir() {
            return Ok(Some(Entry::Dir));
        }
        if !meta.is_file() {
            return Ok(None);
        }
        let metadata = folder_metadata(&real)?;
        Ok(Some(Entry::File(FileRef {
            path: path.clone(),
            content_id: content_id(&meta),
            size: meta.size(),
            handle: FileHandle::Fs(real),
            inode: Some((meta.dev(), meta.ino())),
            metadata,
        })))
    }

    fn open(&self, file: &FileRef, max_bytes: u64) -> Result<Opened, SourceError> {
        let (f, meta) = self.open_checked(file)?;
        if meta.size() > max_bytes {
            return Err(SourceError::TooLarge { limit: max_bytes });
        }
        Ok(Opened::File {
            file: Arc::new(f),
            size: meta.size(),
        })
    }

    fn list(&self, dir: &RelPath) -> Result<Vec<ListEntry>, SourceError> {
        let Some((real, meta)) = self.walk(dir)? else {
            return Err(SourceError::NotFound);
        };
        if !meta.is_dir() {
            return Err(SourceError::NotFound);
        }
        let mut entries = Vec::new();
        for item in fs::read_dir(&real).context("cannot list a source folder")? {
            let item = item.context("cannot list a source folder")?;
            let Some(name) = item.file_name().to_str().map(String::from) else {
                continue;
            };
            let Ok(path) = dir.join(&name) else { continue };
            let entry = match self.lookup(&path) {
                Err(SourceError::Refused) => continue,
                other => other?,
            };
            entries.extend(ListEntry::from_entry(name, &path, entry));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn is_readable(&self) -> bool {
        fs::read_dir(&self.root).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, tempfile::TempDir, DirTree) {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.jpg"), b"outside").unwrap();
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("cats/sub")).unwrap();
        fs::create_dir_all(root.path().join(".git")).unwrap();
        fs::write(root.path().join(".git/config"), b"x").unwrap();
        fs::write(root.path().join("cats/a.jpg"), b"a").unwrap();
        symlink("a.jpg", root.path().join("cats/inside.jpg")).unwrap();
        symlink("../a.jpg", root.path().join("cats/sub/up.jpg")).unwrap();
        symlink(
            outside.path().join("secret.jpg"),
            root.path().join("abs-out.jpg"),
        )
        .unwrap();
        symlink(
            "../../../../../../../../etc/passwd",
            root.path().join("rel-out.jpg"),
        )
        .unwrap();
        symlink(".git/config", root.path().join("to-git.jpg")).unwrap();
        symlink("loop.jpg", root.path().join("loop.jpg")).unwrap();
        symlink(
            root.path().join("cats/a.jpg"),
            root.path().join("abs-in.jpg"),
        )
        .unwrap();
        let t = DirTree::open(root.path()).unwrap();
        (root, outside, t)
    }

    fn is_file(t: &DirTree, p: &str) -> bool {
        matches!(
            t.lookup(&RelPath::parse(p).unwrap()),
            Ok(Some(Entry::File(_)))
        )
    }

    fn is_refused(t: &DirTree, p: &str) -> bool {
        matches!(
            t.lookup(&RelPath::parse(p).unwrap()),
            Err(SourceError::Refused)
        )
    }

    #[test]
    fn symlinks_inside_are_followed_and_escapes_refused() {
        let (_r, _o, t) = tree();
        assert!(is_file(&t, "cats/a.jpg"));
        assert!(is_file(&t, "cats/inside.jpg"));
        assert!(is_file(&t, "cats/sub/up.jpg"));
        assert!(is_file(&t, "abs-in.jpg"));
        assert!(is_refused(&t, "abs-out.jpg"));
        assert!(is_refused(&t, "rel-out.jpg"));
        assert!(is_refused(&t, "to-git.jpg"));
        assert!(is_refused(&t, "loop.jpg"));
        assert!(!is_file(&t, "cats/a.jpg.missing"));
        assert!(t
            .lookup(&RelPath::parse("cats/a.jpg/x").unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn content_id_changes_when_the_file_does() {
        let (root, _o, t) = tree();
        let id = |t: &DirTree| match t.lookup(&RelPath::parse("cats/a.jpg").unwrap()).unwrap() {
            Some(Entry::File(f)) => f.content_id,
            _ => panic!(),
        };
        let before = id(&t);
        assert_eq!(before, id(&t));
        fs::write(root.path().join("cats/a.jpg"), b"b").unwrap();
        assert_ne!(before, id(&t));
    }

    #[test]
    fn listing_hides_dotfiles_and_escaping_links() {
        let (_r, _o, t) = tree();
        let names: Vec<String> = t
            .list(&RelPath::root())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["abs-in.jpg", "cats"]);
    }

    #[test]
    fn reads_are_bounded() {
        let (_r, _o, t) = tree();
        let Some(Entry::File(f)) = t.lookup(&RelPath::parse("cats/a.jpg").unwrap()).unwrap() else {
            panic!()
        };
        assert_eq!(&t.read(&f, 10).unwrap()[..], b"a");
        assert!(matches!(t.read(&f, 0), Err(SourceError::TooLarge { .. })));
    }

    fn found(t: &DirTree, p: &str) -> FileRef {
        let Some(Entry::File(f)) = t.lookup(&RelPath::parse(p).unwrap()).unwrap() else {
            panic!("{p} is not a file")
        };
        f
    }

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn a_fifo_is_no_file_and_one_swapped_in_never_blocks_a_read() {
        let (root, _o, t) = tree();
        mkfifo(&root.path().join("cats/pipe.jpg"));
        assert!(t
            .lookup(&RelPath::parse("cats/pipe.jpg").unwrap())
            .unwrap()
            .is_none());
        // Checked as a regular file, then replaced by a FIFO before the read: the read must
        // refuse it at once, never wait for a writer that will not come.
        let f = found(&t, "cats/a.jpg");
        fs::rename(
            root.path().join("cats/pipe.jpg"),
            root.path().join("cats/a.jpg"),
        )
        .unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = t.read(&f, 10).map(|_| ());
            let _ = done_tx.send(result);
        });
        let result = done_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading a FIFO blocked");
        assert!(matches!(result, Err(SourceError::NotFound)));
    }

    #[test]
    fn a_file_replaced_after_its_lookup_is_not_read() {
        let (root, _o, t) = tree();
        let f = found(&t, "cats/a.jpg");
        fs::write(root.path().join("cats/new.jpg"), b"other").unwrap();
        fs::rename(
            root.path().join("cats/new.jpg"),
            root.path().join("cats/a.jpg"),
        )
        .unwrap();
        assert!(matches!(t.read(&f, 10), Err(SourceError::NotFound)));
        // A link swapped in for the checked file is not followed either.
        let f = found(&t, "cats/a.jpg");
        fs::remove_file(root.path().join("cats/a.jpg")).unwrap();
        symlink("/etc/passwd", root.path().join("cats/a.jpg")).unwrap();
        assert!(matches!(t.read(&f, 10_000), Err(SourceError::Refused)));
    }
}
