use super::*;
use crate::source::RelPath;

const KEY_A: &str = "aa00000000000000000000000000000000000001";
const KEY_B: &str = "bb00000000000000000000000000000000000002";
const KEY_C: &str = "cc00000000000000000000000000000000000003";

fn variant(path: &str, len: usize) -> Variant {
    Variant {
        bytes: Bytes::from(vec![7u8; len]),
        content_type: "image/webp".into(),
        etag: "\"e\"".into(),
        origin: Origin {
            path: RelPath::parse(path).unwrap(),
            content_id: format!("id-{path}"),
        },
    }
}

/// Four-KiB blocks, as on the usual filesystems: a 1000-byte variant occupies 4096 bytes.
const BLOCK: u64 = 4096;
/// Room for two 1000-byte entries, not three.
const TWO_ENTRIES: u64 = 2 * BLOCK + BLOCK / 2;

fn open(dir: &Path, budget: u64) -> Arc<DiskTier> {
    open_with(dir, DiskBudget::with_block(budget, 1000, BLOCK))
}

fn open_with(dir: &Path, budget: DiskBudget) -> Arc<DiskTier> {
    let tier = DiskTier::open(dir, budget);
    tier.wait_until_indexed();
    tier
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for shard in fs::read_dir(dir).unwrap().flatten() {
        if shard.path().is_dir() {
            for f in fs::read_dir(shard.path()).unwrap().flatten() {
                names.push(f.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names
}

#[test]
fn writes_read_back_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    assert!(tier.read(KEY_A).is_none());
    tier.write(KEY_A, &variant("a.jpg", 1000));
    let back = tier.read(KEY_A).unwrap();
    assert_eq!(back.bytes.len(), 1000);
    assert_eq!(back.origin.path.as_str(), "a.jpg");
    assert!(dir.path().join("CACHEDIR.TAG").exists());
    drop(tier);

    let again = open(dir.path(), 1 << 20);
    let (stats, health) = again.stats();
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes > 1000);
    assert!(health.index_ready);
    assert_eq!(again.read(KEY_A).unwrap().bytes.len(), 1000);
}

#[test]
fn stays_within_its_budget_evicting_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), TWO_ENTRIES);
    tier.write(KEY_A, &variant("a.jpg", 1000));
    tier.write(KEY_B, &variant("b.jpg", 1000));
    assert!(tier.read(KEY_A).is_some()); // a is now more recent than b
    tier.write(KEY_C, &variant("c.jpg", 1000));
    let (stats, _) = tier.stats();
    assert!(stats.bytes <= TWO_ENTRIES);
    assert_eq!((stats.entries, stats.evictions), (2, 1));
    assert!(tier.read(KEY_B).is_none());
    assert_eq!(files_in(dir.path()), [KEY_A, KEY_C]);
    // Something that could never fit is not written at all.
    tier.write(KEY_B, &variant("b.jpg", 3 * BLOCK as usize));
    assert_eq!(files_in(dir.path()), [KEY_A, KEY_C]);
}

#[test]
fn tiny_entries_cost_whole_blocks_and_their_number_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open_with(dir.path(), DiskBudget::with_block(1 << 20, 2, BLOCK));
    for key in [KEY_A, KEY_B, KEY_C] {
        tier.write(key, &variant("x.jpg", 10));
    }
    let (stats, _) = tier.stats();
    assert_eq!((stats.entries, stats.evictions), (2, 1));
    assert_eq!(
        stats.bytes,
        2 * BLOCK,
        "10 bytes of image still take a block each"
    );
    assert_eq!(files_in(dir.path()), [KEY_B, KEY_C]);

    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), TWO_ENTRIES);
    for key in [KEY_A, KEY_B, KEY_C] {
        tier.write(key, &variant("x.jpg", 10));
    }
    assert_eq!(
        tier.stats().0.entries,
        2,
        "three blocks do not fit in two and a half"
    );
}

#[test]
fn a_reopen_applies_a_smaller_budget_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    for key in [KEY_A, KEY_B, KEY_C] {
        tier.write(key, &variant("x.jpg", 1000));
        // Modification times order the entries after a restart.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(tier);
    let small = open(dir.path(), TWO_ENTRIES);
    assert_eq!(files_in(dir.path()), [KEY_B, KEY_C]);
    assert_eq!(small.stats().0.evictions, 1);
}

#[test]
fn reads_count_as_uses_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    for key in [KEY_A, KEY_B, KEY_C] {
        tier.write(key, &variant("x.jpg", 1000));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(tier.read(KEY_A).is_some());
    drop(tier);
    let small = open(dir.path(), TWO_ENTRIES);
    assert_eq!(files_in(dir.path()), [KEY_A, KEY_C]);
    assert_eq!(small.stats().0.evictions, 1);
}

#[test]
fn uses_noted_from_memory_protect_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), TWO_ENTRIES);
    tier.write(KEY_A, &variant("a.jpg", 1000));
    tier.write(KEY_B, &variant("b.jpg", 1000));
    tier.note_use(KEY_A);
    tier.write(KEY_C, &variant("c.jpg", 1000));
    assert_eq!(files_in(dir.path()), [KEY_A, KEY_C]);
}

#[test]
fn leftovers_of_a_crash_are_removed_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    tier.write(KEY_A, &variant("a.jpg", 1000));
    tier.write(KEY_B, &variant("b.jpg", 1000));
    tier.write(KEY_C, &variant("c.jpg", 1000));
    drop(tier);
    let path = |k: &str| dir.path().join(&k[..2]).join(k);
    // A write cut off before its rename, an entry cut off mid-body, one damaged in place.
    fs::write(
        dir.path().join("aa/.tmp-0123456789abcdef-7"),
        b"IMGSVAR1 half",
    )
    .unwrap();
    let full = fs::read(path(KEY_B)).unwrap();
    fs::write(path(KEY_B), &full[..full.len() / 2]).unwrap();
    let mut damaged = fs::read(path(KEY_C)).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    fs::write(path(KEY_C), &damaged).unwrap();
    // Not ours: left alone.
    fs::write(dir.path().join("aa/notes.txt"), b"hello").unwrap();

    let tier = open(dir.path(), 1 << 20);
    assert_eq!(files_in(dir.path()), [KEY_A, KEY_C, "notes.txt"]);
    assert_eq!(tier.stats().1.bad_entries, 1);
    // The damaged body has the right length, so only reading it finds the checksum wrong.
    assert!(tier.read(KEY_C).is_none());
    assert!(!path(KEY_C).exists());
    assert_eq!(tier.stats().1.bad_entries, 2);
    assert!(tier.read(KEY_B).is_none());
    assert!(tier.read(KEY_A).is_some());
}

#[test]
fn an_entry_under_the_wrong_name_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    tier.write(KEY_A, &variant("a.jpg", 10));
    let wrong = dir
        .path()
        .join("aa")
        .join("aa00000000000000000000000000000000000009");
    fs::copy(dir.path().join("aa").join(KEY_A), &wrong).unwrap();
    drop(tier);
    let tier = open(dir.path(), 1 << 20);
    assert!(!wrong.exists());
    assert!(tier
        .read("aa00000000000000000000000000000000000009")
        .is_none());
}

#[test]
fn clears_remove_by_origin() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    tier.write(KEY_A, &variant("cats/a.jpg", 10));
    tier.write(KEY_B, &variant("cats/b.jpg", 10));
    tier.write(KEY_C, &variant("dogs/c.jpg", 10));
    let cats = RelPath::parse("cats").unwrap();
    let mut gone = tier.remove_where(&|o: &Origin| o.path.starts_with(&cats));
    gone.sort();
    assert_eq!(gone.len(), 2);
    assert_eq!(gone[0].0, KEY_A);
    assert_eq!(files_in(dir.path()), [KEY_C]);
    assert_eq!(tier.stats().0.entries, 1);
}

#[test]
fn an_unusable_folder_fails_writes_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("file");
    fs::write(&blocked, b"a file where the cache folder should be").unwrap();
    let tier = open(&blocked, 1 << 20);
    tier.write(KEY_A, &variant("a.jpg", 10));
    assert!(tier.read(KEY_A).is_none());
    assert_eq!(tier.stats().1.write_errors, 1);
}

#[test]
fn a_write_scheduled_before_a_clear_does_not_land_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let tier = open(dir.path(), 1 << 20);
    let before_clear = tier.clears.load(Ordering::SeqCst);
    tier.remove_where(&|_| true);
    tier.write_unless_cleared(KEY_A, &variant("a.jpg", 1000), before_clear);
    assert!(tier.read(KEY_A).is_none(), "the cleared variant reappeared");
    assert!(files_in(dir.path())
        .iter()
        .all(|f| f == "CACHEDIR.TAG" || !f.starts_with(KEY_A)));
    // A write scheduled after the clear lands.
    tier.write(KEY_A, &variant("a.jpg", 1000));
    assert!(tier.read(KEY_A).is_some());
}
