//! A git repository as the source: files are read from the object database at the *published*
//! commit, never from the working tree. Publishing a new commit swaps one pointer, so each
//! lookup sees the old or the new commit whole, and a file found by a lookup is read from its
//! blob id (which is also its content identity), so its bytes can never change under a request.
//! A blob's size comes from its object header (`read_header`, which inflates nothing), so a
//! blob over the size limit is refused before it is inflated.
//!
//! Links (mode 120000 blobs) follow the same rules as [`DirTree`](super::DirTree): followed only
//! when the target, resolved textually inside the tree, stays inside and names nothing hidden.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use git2::{ObjectType, Oid, Repository};

use super::metadata::METADATA_FILE;
use super::{
    check_component, Entry, FileHandle, FileRef, ListEntry, MetadataRef, Opened, RelPath,
    SourceError, SourceTree,
};

/// Symlink hops allowed while resolving one path (loops end here).
const MAX_LINK_HOPS: usize = 16;
/// A link target longer than this is not a path anyone means.
const MAX_LINK_TARGET_BYTES: usize = 4096;
/// Repository handles kept open between reads (libgit2 handles are not shareable across
/// threads, so each concurrent read borrows its own).
const MAX_IDLE_HANDLES: usize = 16;

/// The commit being served and its root tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub commit: Oid,
    pub tree: Oid,
}

pub struct GitTree {
    git_dir: PathBuf,
    /// Canonical working tree, so absolute link targets inside it can be honoured; `None` for a
    /// bare repository (absolute targets are then always refused).
    workdir: Option<PathBuf>,
    published: RwLock<Option<Published>>,
    idle: Mutex<Vec<(u64, Repository)>>,
    /// Bumped on every publish: handles opened before it are dropped instead of reused, so
    /// packs written by a sync are always visible.
    generation: AtomicU64,
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

impl GitTree {
    /// A tree over the repository at `git_dir` serving `published` (nothing until a commit is
    /// published when `None`).
    pub fn new(git_dir: &Path, workdir: Option<&Path>, published: Option<Published>) -> Self {
        // libgit2 re-hashes every object it reads by default: for a 700 KB image that is more
        // than half of the read. Objects were hashed when they entered the repository (the
        // indexer checks every fetched object), so reads skip it. Process-wide, and only ever
        // set to this value.
        git2::opts::strict_hash_verification(false);
        Self {
            git_dir: git_dir.to_path_buf(),
            workdir: workdir.and_then(|w| w.canonicalize().ok()),
            published: RwLock::new(published),
            idle: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The commit being served.
    pub fn published(&self) -> Option<Published> {
        *self.published.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `next` from now on: every lookup that starts after this returns sees it.
    pub fn publish(&self, next: Published) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = Some(next);
    }

    /// Runs `f` with a repository handle borrowed from the pool (or freshly opened).
    fn with_repo<R>(
        &self,
        f: impl FnOnce(&Repository) -> Result<R, SourceError>,
    ) -> Result<R, SourceError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let repo = match pooled {
            Some((g, repo)) if g == generation => repo,
            _ => Repository::open(&self.git_dir).map_err(|e| io_error(e, "cannot open"))?,
        };
        let result = f(&repo);
        if self.generation.load(Ordering::SeqCst) == generation {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_HANDLES {
                idle.push((generation, repo));
            }
        }
        result
    }

    /// Follows `path` from the root tree `root`; `None` when missing. With the node, the tree
    /// that holds it and its name there (`None` for the root).
    fn walk(
        &self,
        repo: &Repository,
        root: Oid,
        path: &RelPath,
    ) -> Result<Option<Found>, SourceError> {
        let mut pending: VecDeque<String> = path.components().map(String::from).collect();
        let mut done: Vec<String> = Vec::new();
        let mut node = Node::Tree(root);
        let mut holder = None;
        let mut hops = 0;
        while let Some(component) = pending.pop_front() {
            let Node::Tree(tree_id) = node else {
                return Ok(None);
            };
            let tree = repo
                .find_tree(tree_id)
                .map_err(|e| io_error(e, "cannot read a tree"))?;
            let Some(entry) = tree.get_name(&component) else {
                return Ok(None);
            };
            node = match (entry.kind(), entry.filemode()) {
                (Some(ObjectType::Tree), _) => Node::Tree(entry.id()),
                (Some(ObjectType::Blob), LINK_MODE) => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(SourceError::Refused);
                    }
                    let target = link_target(repo, entry.id())?;
                    let Some(resolved) = resolve_link(&done, &target, self.workdir.as_deref())
                    else {
                        tracing::debug!(
                            "refused a symlink leaving the source root or naming a hidden file"
                        );
                        return Err(SourceError::Refused);
                    };
                    pending = resolved.into_iter().chain(pending).collect();
                    done.clear();
                    node = Node::Tree(root);
                    holder = None;
                    continue;
                }
                (Some(ObjectType::Blob), _) => Node::Blob(entry.id()),
                // Submodules (gitlinks) are not part of this repository's content.
                _ => return Ok(None),
            };
            holder = Some((tree_id, component.clone()));
            done.push(component);
        }
        Ok(Some(Found { node, holder }))
    }

    fn entry(
        &self,
        repo: &Repository,
        root: Oid,
        path: &RelPath,
    ) -> Result<Option<Entry>, SourceError> {
        match self.walk(repo, root, path)? {
            None => Ok(None),
            Some(Found {
                node: Node::Tree(_),
                ..
            }) => Ok(Some(Entry::Dir)),
            Some(Found {
                node: Node::Blob(oid),
                holder,
            }) => {
                let odb = repo.odb().map_err(|e| io_error(e, "cannot open the odb"))?;
                let (size, _) = odb.read_header(oid).map_err(not_found_or_io)?;
                let metadata = match holder {
                    Some((tree, name)) => folder_metadata(repo, &odb, tree, name)?,
                    None => None,
                };
                Ok(Some(Entry::File(FileRef {
                    path: path.clone(),
                    content_id: oid.to_string(),
                    size: size as u64,
                    handle: FileHandle::Blob(oid),
                    inode: None,
                    metadata,
                })))
            }
        }
    }
}

const LINK_MODE: i32 = 0o120000;

/// The metadata file of the tree `folder` (a plain blob, never a link), for its file `name`.
fn folder_metadata(
    repo: &Repository,
    odb: &git2::Odb<'_>,
    folder: Oid,
    name: String,
) -> Result<Option<Box<MetadataRef>>, SourceError> {
    let tree = repo
        .find_tree(folder)
        .map_err(|e| io_error(e, "cannot read a tree"))?;
    let Some(entry) = tree.get_name(METADATA_FILE) else {
        return Ok(None);
    };
    if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == LINK_MODE {
        return Ok(None);
    }
    let (size, _) = odb.read_header(entry.id()).map_err(not_found_or_io)?;
    Ok(Some(Box::new(MetadataRef {
        content_id: entry.id().to_string(),
        name,
        size: size as u64,
        handle: FileHandle::Blob(entry.id()),
        inode: None,
    })))
}

/// Where a walk ended: the node, and the tree holding it with its name there (`None` for the
/// root).
struct Found {
    node: Node,
    holder: Option<(Oid, String)>,
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Tree(Oid),
    Blob(Oid),
}

fn link_target(repo: &Repository, oid: Oid) -> Result<String, SourceError> {
    let blob = repo.find_blob(oid).map_err(not_found_or_io)?;
    let bytes = blob.content();
    if bytes.len() > MAX_LINK_TARGET_BYTES {
        return Err(SourceError::Refused);
    }
    std::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| SourceError::Refused)
}

/// The components (from the root) a link in folder `dir` pointing to `target` names, if that
/// stays inside the tree and every component is a legal, visible name.
fn resolve_link(dir: &[String], target: &str, workdir: Option<&Path>) -> Option<Vec<String>> {
    if target.starts_with('/') {
        let inside = Path::new(target).strip_prefix(workdir?).ok()?;
        return normalize(Vec::new(), inside.to_str()?);
    }
    normalize(dir.to_vec(), target)
}

/// Applies `rel`'s components to `base`, refusing to climb above the root or to name hidden or
/// malformed components.
fn normalize(mut base: Vec<String>, rel: &str) -> Option<Vec<String>> {
    for component in rel.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                base.pop()?;
            }
            name => {
                check_component(name).ok()?;
                base.push(name.to_string());
            }
        }
    }
    Some(base)
}

fn io_error(e: git2::Error, what: &str) -> SourceError {
    SourceError::Io(anyhow::anyhow!("{what}: {}", e.message()))
}

fn not_found_or_io(e: git2::Error) -> SourceError {
    if e.code() == git2::ErrorCode::NotFound {
        SourceError::NotFound
    } else {
        io_error(e, "cannot read an object")
    }
}

fn blob_of(file: &FileRef) -> Result<Oid, SourceError> {
    match file.handle {
        FileHandle::Blob(oid) => Ok(oid),
        FileHandle::Fs(_) => Err(anyhow::anyhow!("a git source cannot read a plain file").into()),
    }
}

impl SourceTree for GitTree {
    fn lookup(&self, path: &RelPath) -> Result<Option<Entry>, SourceError> {
        let Some(published) = self.published() else {
            return Ok(None);
        };
        self.with_repo(|repo| self.entry(repo, published.tree, path))
    }

    /// Inflates the whole blob: libgit2 streams only loose objects, and a served repository's
    /// objects are mostly packed. `file.size` is the object header's, so nothing over
    /// `max_bytes` is ever inflated.
    fn open(&self, file: &FileRef, max_bytes: u64) -> Result<Opened, SourceError> {
        let oid = blob_of(file)?;
        if file.size > max_bytes {
            return Err(SourceError::TooLarge { limit: max_bytes });
        }
        self.with_repo(|repo| {
            let blob = repo.find_blob(oid).map_err(not_found_or_io)?;
            let bytes = blob.content();
            if bytes.len() as u64 > max_bytes {
                return Err(SourceError::TooLarge { limit: max_bytes });
            }
            Ok(Opened::Memory(bytes::Bytes::copy_from_slice(bytes)))
        })
    }

    fn list(&self, dir: &RelPath) -> Result<Vec<ListEntry>, SourceError> {
        let Some(published) = self.published() else {
            return Err(SourceError::NotFound);
        };
        self.with_repo(|repo| {
            let Some(Found {
                node: Node::Tree(tree_id),
                ..
            }) = self.walk(repo, published.tree, dir)?
            else {
                return Err(SourceError::NotFound);
            };
            let tree = repo
                .find_tree(tree_id)
                .map_err(|e| io_error(e, "cannot read a tree"))?;
            let mut entries = Vec::new();
            for item in tree.iter() {
                let Ok(name) = item.name().map(String::from) else {
                    continue;
                };
                let Ok(path) = dir.join(&name) else { continue };
                let entry = match self.entry(repo, published.tree, &path) {
                    Err(SourceError::Refused) => continue,
                    other => other?,
                };
                entries.extend(ListEntry::from_entry(name, &path, entry));
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(entries)
        })
    }

    fn is_readable(&self) -> bool {
        let Some(published) = self.published() else {
            return false;
        };
        self.with_repo(|repo| Ok(repo.find_tree(published.tree).is_ok()))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file to commit: path components, mode, content.
    type Spec<'a> = (Vec<&'a str>, i32, &'a [u8]);

    /// Builds a commit from `(path, mode, content)` triples (paths with `/` make folders).
    fn commit(repo: &Repository, files: &[(&str, i32, &[u8])]) -> Published {
        fn build(repo: &Repository, files: &[Spec]) -> Oid {
            let mut builder = repo.treebuilder(None).unwrap();
            let mut dirs: std::collections::BTreeMap<&str, Vec<Spec>> = Default::default();
            for (parts, mode, content) in files {
                if parts.len() == 1 {
                    let blob = repo.blob(content).unwrap();
                    builder.insert(parts[0], blob, *mode).unwrap();
                } else {
                    dirs.entry(parts[0])
                        .or_default()
                        .push((parts[1..].to_vec(), *mode, content));
                }
            }
            for (name, children) in dirs {
                let sub = build(repo, &children);
                builder.insert(name, sub, 0o040000).unwrap();
            }
            builder.write().unwrap()
        }
        let split: Vec<Spec> = files
            .iter()
            .map(|(p, m, c)| (p.split('/').collect(), *m, *c))
            .collect();
        let tree = build(repo, &split);
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree_obj = repo.find_tree(tree).unwrap();
        let commit = repo
            .commit(None, &sig, &sig, "test", &tree_obj, &[])
            .unwrap();
        Published { commit, tree }
    }

    fn fixture() -> (tempfile::TempDir, GitTree, Published) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let abs_inside = format!(
            "{}/cats/a.jpg",
            dir.path().canonicalize().unwrap().display()
        );
        let published = commit(
            &repo,
            &[
                ("cats/a.jpg", 0o100644, b"a"),
                ("cats/x.jpg", 0o100755, b"x"),
                ("cats/inside.jpg", LINK_MODE, b"a.jpg"),
                ("cats/sub/up.jpg", LINK_MODE, b"../a.jpg"),
                ("dirlink", LINK_MODE, b"cats"),
                ("abs-out.jpg", LINK_MODE, b"/etc/passwd"),
                ("abs-in.jpg", LINK_MODE, abs_inside.as_bytes()),
                ("rel-out.jpg", LINK_MODE, b"../../../etc/passwd"),
                ("to-hidden.jpg", LINK_MODE, b".hidden/a.jpg"),
                (".hidden/a.jpg", 0o100644, b"h"),
                ("loop.jpg", LINK_MODE, b"loop.jpg"),
            ],
        );
        let tree = GitTree::new(repo.path(), repo.workdir(), Some(published));
        (dir, tree, published)
    }

    fn lookup(t: &GitTree, p: &str) -> Result<Option<Entry>, SourceError> {
        t.lookup(&RelPath::parse(p).unwrap())
    }

    fn is_file(t: &GitTree, p: &str) -> bool {
        matches!(lookup(t, p), Ok(Some(Entry::File(_))))
    }

    fn is_refused(t: &GitTree, p: &str) -> bool {
        matches!(lookup(t, p), Err(SourceError::Refused))
    }

    #[test]
    fn links_inside_are_followed_and_escapes_refused() {
        let (_d, t, _) = fixture();
        assert!(is_file(&t, "cats/a.jpg"));
        assert!(is_file(&t, "cats/x.jpg"));
        assert!(is_file(&t, "cats/inside.jpg"));
        assert!(is_file(&t, "cats/sub/up.jpg"));
        assert!(is_file(&t, "dirlink/a.jpg"));
        assert!(is_file(&t, "abs-in.jpg"));
        assert!(matches!(lookup(&t, "dirlink"), Ok(Some(Entry::Dir))));
        assert!(is_refused(&t, "abs-out.jpg"));
        assert!(is_refused(&t, "rel-out.jpg"));
        assert!(is_refused(&t, "to-hidden.jpg"));
        assert!(is_refused(&t, "loop.jpg"));
        assert!(lookup(&t, "cats/a.jpg/x").unwrap().is_none());
        assert!(lookup(&t, "missing.jpg").unwrap().is_none());
    }

    #[test]
    fn a_link_reads_its_targets_bytes_and_identity() {
        let (_d, t, _) = fixture();
        let Ok(Some(Entry::File(direct))) = lookup(&t, "cats/a.jpg") else {
            panic!()
        };
        let Ok(Some(Entry::File(linked))) = lookup(&t, "cats/inside.jpg") else {
            panic!()
        };
        assert_eq!(direct.content_id, linked.content_id);
        assert_eq!(&t.read(&linked, 10).unwrap()[..], b"a");
        assert_eq!(linked.path.as_str(), "cats/inside.jpg");
    }

    #[test]
    fn publishing_swaps_the_whole_tree() {
        let (dir, t, first) = fixture();
        let repo = Repository::open(dir.path()).unwrap();
        let Ok(Some(Entry::File(old))) = lookup(&t, "cats/a.jpg") else {
            panic!()
        };
        let second = commit(
            &repo,
            &[("cats/a.jpg", 0o100644, b"new"), ("b.jpg", 0o100644, b"b")],
        );
        assert_eq!(t.published(), Some(first));
        t.publish(second);
        let Ok(Some(Entry::File(new))) = lookup(&t, "cats/a.jpg") else {
            panic!()
        };
        assert_ne!(old.content_id, new.content_id);
        assert_eq!(&t.read(&new, 10).unwrap()[..], b"new");
        // A file found before the swap still reads its own version.
        assert_eq!(&t.read(&old, 10).unwrap()[..], b"a");
        assert!(is_file(&t, "b.jpg"));
        assert!(!is_file(&t, "cats/x.jpg"));
    }

    #[test]
    fn listing_hides_dotfiles_and_escaping_links() {
        let (_d, t, _) = fixture();
        let names: Vec<String> = t
            .list(&RelPath::root())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["abs-in.jpg", "cats", "dirlink"]);
    }

    #[test]
    fn reads_are_bounded_and_an_empty_repository_serves_nothing() {
        let (_d, t, _) = fixture();
        let Ok(Some(Entry::File(f))) = lookup(&t, "cats/a.jpg") else {
            panic!()
        };
        assert!(matches!(t.read(&f, 0), Err(SourceError::TooLarge { .. })));
        assert_eq!(&t.read_prefix(&f, 100, 10).unwrap()[..], b"a");
        assert!(matches!(
            t.read_prefix(&f, 100, 0),
            Err(SourceError::TooLarge { .. })
        ));
        assert!(t.is_readable());

        let empty = tempfile::tempdir().unwrap();
        let repo = Repository::init(empty.path()).unwrap();
        let t = GitTree::new(repo.path(), repo.workdir(), None);
        assert!(!t.is_readable());
        assert!(lookup(&t, "a.jpg").unwrap().is_none());
    }
}
