//! A repository of the size a site's images reach: 2 000 images in 200 folders and 50 commits,
//! cloned at start; a pull that changes 10 files drops exactly those files' variants and keeps
//! every other variant warm. (The time of such pulls is measured in `benches/git_pull.rs`.)

use crate::common::git::*;
use crate::common::images::png;

/// A distinct 4x4 image for `(folder, file, version)`.
fn image(folder: usize, file: usize, version: usize) -> Vec<u8> {
    png(4, 4, [folder as u8, (file * 20) as u8, (version * 5) as u8])
}

fn path(folder: usize, file: usize) -> String {
    format!("f{folder:03}/img{file}.png")
}

/// 200 folders of 10 images, then 49 commits each changing two of them.
fn big_remote() -> Remote {
    let remote = Remote::new();
    let files: Vec<(String, Vec<u8>)> = (0..200)
        .flat_map(|folder| (0..10).map(move |file| (path(folder, file), image(folder, file, 0))))
        .collect();
    let changes: Vec<Change> = files
        .iter()
        .map(|(p, bytes)| Change::Put(p, bytes.clone()))
        .collect();
    remote.commit(&changes);
    for version in 1..50 {
        let a = (path(version, 0), image(version, 0, version));
        let b = (path(version + 100, 1), image(version + 100, 1, version));
        remote.commit(&[Change::Put(&a.0, a.1), Change::Put(&b.0, b.1)]);
    }
    remote
}

#[tokio::test]
async fn a_ten_file_pull_in_a_2000_image_repository_drops_exactly_their_variants() {
    let remote = big_remote();
    let url = remote.url();
    let app = spawn(
        tempfile::tempdir().unwrap(),
        &[("source.git.remote", url.as_str())],
    )
    .await;
    let changed: Vec<String> = (0..10).map(|i| path(150 + i, 5)).collect();
    let unchanged: Vec<String> = (0..10).map(|i| path(150 + i, 6)).collect();
    for p in changed.iter().chain(&unchanged) {
        assert_eq!(fetch(&app, &format!("/img/{p}?w=2")).await.0, "miss");
    }
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["updated"], false, "{report}");

    // Distinct new contents: equal blobs would share their variants (content-addressed).
    let new: Vec<(String, Vec<u8>)> = changed
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), png(4, 4, [1, 2, i as u8])))
        .collect();
    let changes: Vec<Change> = new.iter().map(|(p, b)| Change::Put(p, b.clone())).collect();
    remote.commit(&changes);
    let (code, report) = pull(&app).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["changed_total"], 10, "{report}");
    assert_eq!(
        report["invalidated"], 10,
        "exactly the changed files' variants: {report}"
    );
    for p in &unchanged {
        assert_eq!(
            fetch(&app, &format!("/img/{p}?w=2")).await.0,
            "hit-memory",
            "{p}"
        );
    }
    for p in &changed {
        assert_eq!(fetch(&app, &format!("/img/{p}?w=2")).await.0, "miss", "{p}");
    }
}
