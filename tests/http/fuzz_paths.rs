//! Property-based fuzzing of the path resolver: URL paths built from hostile pieces (dot
//! segments in every encoding, separators, NUL, hidden names, symlinks that leave the root) are
//! decoded and resolved against a real folder. Nothing may panic, and whatever resolves is a
//! regular file inside the root, reached through no hidden name, never the secret outside it.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use imgserver::request::is_path_param;
use imgserver::source::{decode_url_segments, resolve, DirTree, FileHandle};
use proptest::prelude::*;
use tempfile::TempDir;

const SECRET: &[u8] = b"outside the root";

struct Tree {
    root: TempDir,
    _outside: TempDir,
    tree: DirTree,
    canonical_root: PathBuf,
}

/// A root with images, a hidden folder, and symlinks in and out; built once.
fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(outside.path().join("secret.jpg"), SECRET).unwrap();
        for dir in ["cats", "cats/deep", ".git", "a b", "ü"] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
        }
        for file in [
            "a.jpg",
            "cats/default.jpg",
            "cats/deep/x.png",
            ".git/config",
            ".hidden.jpg",
            "a b/c d.jpg",
            "ü/é.jpg",
            "a..b.jpg",
        ] {
            std::fs::write(r.join(file), b"\xff\xd8\xff image").unwrap();
        }
        symlink(outside.path().join("secret.jpg"), r.join("escape.jpg")).unwrap();
        symlink(outside.path(), r.join("out")).unwrap();
        symlink("../../a.jpg", r.join("cats/deep/up.jpg")).unwrap();
        symlink(".git/config", r.join("to-git.jpg")).unwrap();
        symlink("../..", r.join("cats/climb")).unwrap();
        let tree = DirTree::open(r).unwrap();
        let canonical_root = r.canonicalize().unwrap();
        Tree {
            root,
            _outside: outside,
            tree,
            canonical_root,
        }
    })
}

fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "..",
        ".",
        "%2e",
        "%2E",
        "%2e%2e",
        ".%2e",
        "%252e%252e",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "%00",
        "%0a",
        "/",
        "//",
        ".git",
        "%2egit",
        "config",
        ".hidden.jpg",
        "a.jpg",
        "cats",
        "deep",
        "x.png",
        "default",
        "escape.jpg",
        "out",
        "secret.jpg",
        "up.jpg",
        "to-git.jpg",
        "climb",
        "a%20b",
        "c%20d.jpg",
        "%C3%BC",
        "%C3%A9.jpg",
        "%ff",
        "a..b.jpg",
        "400",
        "800x600",
        "q90",
        "webp",
        "%",
        "%%",
        "~",
        ";",
        "#",
    ])
    .prop_map(String::from)
}

/// Real paths (and the symlinks' ways out), so that many cases get past decoding.
fn known() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a.jpg",
        "cats",
        "cats/default.jpg",
        "cats/deep/x.png",
        "cats/deep/x",
        "cats/deep/up.jpg",
        "cats/climb/a.jpg",
        "cats/climb/cats/deep/x.png",
        "a%20b/c%20d.jpg",
        "%C3%BC/%C3%A9.jpg",
        "escape.jpg",
        "out/secret.jpg",
        "to-git.jpg",
        ".git/config",
        "a..b.jpg",
    ])
    .prop_map(String::from)
}

/// A real path with hostile pieces inserted at random places.
fn mutated() -> impl Strategy<Value = String> {
    (
        known(),
        prop::collection::vec((piece(), any::<prop::sample::Index>()), 0..3),
    )
        .prop_map(|(path, inserts)| {
            let mut parts: Vec<String> = path.split('/').map(String::from).collect();
            for (piece, at) in inserts {
                let at = at.index(parts.len() + 1);
                parts.insert(at, piece);
            }
            parts.join("/")
        })
}

fn raw_path() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mutated(),
        1 => known(),
        2 => prop::collection::vec(piece(), 0..8).prop_map(|p| p.join("/")),
        1 => prop::collection::vec(piece(), 0..8).prop_map(|p| p.concat()),
        1 => "\\PC{0,60}",
    ]
}

fn inside(canonical_root: &Path, file: &Path) -> bool {
    file.canonicalize()
        .is_ok_and(|real| real.starts_with(canonical_root))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn resolution_never_panics_nor_leaves_the_root(raw in raw_path()) {
        let t = tree();
        let Ok(segments) = decode_url_segments(&raw) else {
            return Ok(());
        };
        let Ok(found) = resolve(&t.tree, &segments, is_path_param) else {
            return Ok(());
        };
        let FileHandle::Fs(path) = &found.file.handle else {
            return Err(TestCaseError::fail("a folder tree hands out files"));
        };
        prop_assert!(inside(&t.canonical_root, path), "{raw:?} resolved to {path:?}");
        prop_assert!(path.is_file());
        prop_assert!(std::fs::read(path).unwrap() != SECRET);
        prop_assert!(found.file.path.components().all(|c| !c.starts_with('.')), "{raw:?}");
        let real = path.canonicalize().unwrap();
        let rel = real.strip_prefix(&t.canonical_root).unwrap();
        prop_assert!(
            rel.components().all(|c| !c.as_os_str().to_string_lossy().starts_with('.')),
            "{raw:?} reached a hidden file {rel:?}"
        );
        prop_assert!(t.root.path().exists());
    }
}
