//! What serving from git costs on the request path: finding a file three folders deep and
//! reading its bytes, from the object database at the published commit (`GitTree`) versus a
//! plain folder (`DirTree`), with the same 1920x1280 JPEG.
//!
//! `cargo bench --bench source_lookup`

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use imgserver::source::{DirTree, Entry, GitTree, Published, RelPath, SourceTree};

const IMAGE: &str = "tests/fixtures/storm.jpg";
const PATH: &str = "photos/2024/june/storm.jpg";

fn dir_tree(root: &Path) -> DirTree {
    let folder = root.join("photos/2024/june");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(IMAGE, folder.join("storm.jpg")).unwrap();
    DirTree::open(root).unwrap()
}

fn git_tree(root: &Path) -> GitTree {
    let repo = git2::Repository::init(root).unwrap();
    let blob = repo.blob(&std::fs::read(IMAGE).unwrap()).unwrap();
    let mut tree = None;
    for (i, name) in PATH.rsplit('/').enumerate() {
        let mut builder = repo.treebuilder(None).unwrap();
        match tree {
            None if i == 0 => builder.insert(name, blob, 0o100644).unwrap(),
            _ => builder.insert(name, tree.unwrap(), 0o040000).unwrap(),
        };
        // Siblings, so each folder is searched among several entries.
        for sibling in 0..20 {
            builder
                .insert(format!("other-{sibling}.jpg"), blob, 0o100644)
                .unwrap();
        }
        tree = Some(builder.write().unwrap());
    }
    let tree = tree.unwrap();
    let sig = git2::Signature::now("bench", "bench@example.com").unwrap();
    let commit = repo
        .commit(
            None,
            &sig,
            &sig,
            "bench",
            &repo.find_tree(tree).unwrap(),
            &[],
        )
        .unwrap();
    GitTree::new(
        repo.path(),
        repo.workdir(),
        Some(Published { commit, tree }),
    )
}

fn bench(c: &mut Criterion, name: &str, tree: &dyn SourceTree) {
    let path = RelPath::parse(PATH).unwrap();
    let lookup = || match tree.lookup(&path).unwrap() {
        Some(Entry::File(file)) => file,
        _ => panic!("not found"),
    };
    c.bench_function(&format!("{name}/lookup"), |b| b.iter(lookup));
    let file = lookup();
    c.bench_function(&format!("{name}/read"), |b| {
        b.iter(|| tree.read(&file, u64::MAX).unwrap())
    });
    c.bench_function(&format!("{name}/sniff"), |b| {
        b.iter(|| tree.read_prefix(&file, 64, u64::MAX).unwrap())
    });
}

fn sources(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let git = tempfile::tempdir().unwrap();
    bench(c, "dir", &dir_tree(dir.path()));
    bench(c, "git", &git_tree(git.path()));
}

criterion_group!(benches, sources);
criterion_main!(benches);
