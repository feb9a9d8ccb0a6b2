//! Where the test inputs are: `tests/fixtures/` (the tree test servers serve), its `samples/`
//! (copies of the reference samples the pipeline tests and benches read, never served by the
//! in-process app), and the 20 MP JPEG that is generated rather than stored.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder the servers under test serve (a copy of it, for the in-process app).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The reference samples (`tests/fixtures/samples/`, laid out as the samples' own folder), or
/// `$IMGSERVER_SAMPLES` when set, to run the same tests over another copy.
pub fn samples_dir() -> PathBuf {
    match std::env::var_os("IMGSERVER_SAMPLES") {
        Some(dir) => dir.into(),
        None => fixtures_dir().join("samples"),
    }
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = samples_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Copies `src` into `dst` (made writable: the copies are changed and deleted by tests).
pub fn copy_dir(src: &Path, dst: &Path) {
    copy_dir_except(src, dst, &[]);
}

/// The fixtures as the servers see them: everything but `samples/`, which only the pipeline
/// tests read (15 MB that no HTTP test needs in each of its temp roots), and `LICENSES/`.
pub fn copy_served_fixtures(dst: &Path) {
    copy_dir_except(&fixtures_dir(), dst, &["samples", "LICENSES"]);
}

fn copy_dir_except(src: &Path, dst: &Path, skip: &[&str]) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let target = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// Size of the big JPEG: the 20.4 MP of the photo it stands in for (`kleiber-20mp.jpg` of the
/// reference samples), under the default 50 MP source limit, over a 20 MP one.
pub const BIG_JPEG_SIZE: (u32, u32) = (6028, 3391);

/// A 20 MP baseline JPEG whose large renders take a second or more: gradients under noise, so
/// that it neither compresses to nothing nor decodes faster than a photo. Made once per target
/// folder (deterministic, so a copy made by another test binary is the same file).
pub fn big_jpeg() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("big-20mp-v1.jpg");
        if !path.is_file() {
            let partial = path.with_extension(format!("{}.partial", std::process::id()));
            std::fs::write(&partial, encode_big_jpeg()).unwrap();
            std::fs::rename(&partial, &path).unwrap();
        }
        path
    })
}

fn encode_big_jpeg() -> Vec<u8> {
    let (width, height) = BIG_JPEG_SIZE;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    let mut seed: u32 = 0x9E37_79B9;
    for y in 0..height {
        for x in 0..width {
            // xorshift32: cheap, deterministic noise.
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed & 0x3f) as i32 - 32;
            let r = (x * 255 / width) as i32;
            let g = (y * 255 / height) as i32;
            let b = ((x + y) % 512) as i32 / 2;
            for c in [r, g, b] {
                pixels.push((c + noise).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 88)
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("the big JPEG encodes");
    out
}
