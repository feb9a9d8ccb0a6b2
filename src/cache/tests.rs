use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::FutureExt;

use super::*;
use crate::error::ErrorCode;
use crate::source::RelPath;

fn key(n: u32) -> VariantKey {
    VariantKey::for_original(&format!("content-{n}"))
}

fn variant(path: &str) -> Variant {
    Variant {
        bytes: Bytes::from_static(b"rendered bytes"),
        content_type: "image/webp".into(),
        etag: "\"e\"".into(),
        origin: Origin {
            path: RelPath::parse(path).unwrap(),
            content_id: format!("id-{path}"),
        },
    }
}

/// A render that counts its calls and takes `ms` milliseconds.
fn slow_render(
    calls: &Arc<AtomicU64>,
    ms: u64,
) -> impl FnOnce() -> futures_util::future::BoxFuture<'static, Result<Variant, AppError>> {
    let calls = calls.clone();
    move || {
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(variant("a.jpg"))
        }
        .boxed()
    }
}

async fn wait_for_disk(cache: &VariantCache, entries: u64) {
    for _ in 0..500 {
        let s = cache.stats();
        if s.disk.entries >= entries && s.disk_writes_pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the disk tier never got {entries} entries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_share_one_render() {
    let cache = Arc::new(VariantCache::new(1 << 20));
    let calls = Arc::new(AtomicU64::new(0));
    let lookups: Vec<_> = (0..50)
        .map(|_| {
            let (cache, render) = (cache.clone(), slow_render(&calls, 100));
            tokio::spawn(async move { cache.get_or_render(&key(1), render).await })
        })
        .collect();
    for lookup in lookups {
        let lookup = lookup.await.unwrap().unwrap();
        assert_eq!(lookup.status, CacheStatus::Miss);
        assert!(lookup.render_time.unwrap() >= Duration::from_millis(100));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.renders(), 1);
    let again = cache
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    assert_eq!(again.status, CacheStatus::HitMemory);
    let s = cache.stats();
    assert_eq!((s.memory.hits, s.memory.misses, s.renders), (1, 50, 1));
}

#[tokio::test]
async fn waiting_is_bounded_and_the_render_still_lands() {
    let cache = VariantCache::with_tiers(1 << 20, None, Duration::from_millis(100));
    let calls = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let err = cache
        .get_or_render(&key(1), slow_render(&calls, 400))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RenderTimeout);
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(cache.stats().renders_in_flight, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = cache
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    assert_eq!(later.status, CacheStatus::HitMemory);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().renders_in_flight, 0);
}

#[tokio::test]
async fn failures_are_shared_but_not_kept() {
    let cache = VariantCache::new(1 << 20);
    let err = cache
        .get_or_render(&key(1), || async {
            Err::<Variant, _>(AppError::invalid("nope"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameter);
    let calls = Arc::new(AtomicU64::new(0));
    let ok = cache
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    assert_eq!(ok.status, CacheStatus::Miss);
    assert_eq!(cache.renders(), 2);
}

#[tokio::test]
async fn a_panicking_render_does_not_wedge_its_key() {
    let cache = VariantCache::new(1 << 20);
    let err = cache
        .get_or_render(&key(1), || async { panic!("render bug") })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    let calls = Arc::new(AtomicU64::new(0));
    let ok = cache.get_or_render(&key(1), slow_render(&calls, 0)).await;
    assert_eq!(ok.unwrap().status, CacheStatus::Miss);
    assert_eq!(cache.stats().renders_in_flight, 0);
}

#[tokio::test]
async fn the_disk_answers_a_fresh_cache_and_promotes_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let first = VariantCache::with_tiers(
        1 << 20,
        Some((dir.path(), DiskBudget::for_dir(dir.path(), 1 << 20, 1000))),
        DEFAULT_WAIT,
    );
    first
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    wait_for_disk(&first, 1).await;
    drop(first);

    let second = VariantCache::with_tiers(
        1 << 20,
        Some((dir.path(), DiskBudget::for_dir(dir.path(), 1 << 20, 1000))),
        DEFAULT_WAIT,
    );
    let from_disk = second
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    assert_eq!(from_disk.status, CacheStatus::HitDisk);
    assert_eq!(&from_disk.variant.bytes[..], b"rendered bytes");
    assert_eq!(from_disk.variant.origin.path.as_str(), "a.jpg");
    let promoted = second
        .get_or_render(&key(1), slow_render(&calls, 0))
        .await
        .unwrap();
    assert_eq!(promoted.status, CacheStatus::HitMemory);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = second.stats();
    assert_eq!((s.disk.hits, s.disk.misses, s.memory.hits), (1, 0, 1));
    assert_eq!(s.hit_ratio, 1.0);
}

#[tokio::test]
async fn clears_count_each_variant_once_across_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = VariantCache::with_tiers(
        1 << 20,
        Some((dir.path(), DiskBudget::for_dir(dir.path(), 1 << 20, 1000))),
        DEFAULT_WAIT,
    );
    for (n, path) in [(1, "cats/a.jpg"), (2, "cats/b.jpg"), (3, "dogs/c.jpg")] {
        let v = variant(path);
        cache
            .get_or_render(&key(n), move || async move { Ok(v) })
            .await
            .unwrap();
    }
    wait_for_disk(&cache, 3).await;
    let cats = ClearScope::Prefix(RelPath::parse("cats").unwrap());
    let outcome = cache.clear(&cats).await;
    assert_eq!(outcome.removed_entries, 2);
    assert!(outcome.freed_bytes > 2 * 14);
    let ids: HashSet<String> = ["id-dogs/c.jpg".to_string()].into();
    assert_eq!(cache.forget_contents(&ids).await.removed_entries, 1);
    let s = cache.stats();
    assert_eq!((s.memory.entries, s.disk.entries), (0, 0));
    assert_eq!(cache.clear(&ClearScope::All).await, ClearOutcome::default());
}
