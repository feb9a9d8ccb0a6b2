//! Property-based fuzzing of what parses client input before any image work: the query parser
//! and the transform built from it (presets, allowed sizes, ceilings), the signature check, and
//! the `X-Forwarded-For` reader. Nothing may panic; what is accepted must respect the limits.

use std::collections::BTreeMap;
use std::net::IpAddr;

use imgserver::config::{ImageSettings, LoadOptions, Settings};
use imgserver::limits::client_ip;
use imgserver::pipeline::ImageFormat;
use imgserver::request::{parse_query, Accepted, Transform, MAX_QUERY_PARAMS};
use imgserver::signing::{message, UrlSigner};
use ipnet::IpNet;
use proptest::prelude::*;

fn images(allowed: Vec<u32>, snap: bool, presets_only: bool) -> ImageSettings {
    let dir = std::env::temp_dir();
    let mut images = Settings::load(&LoadOptions::with_overrides([(
        "source.dir",
        dir.to_str().unwrap(),
    )]))
    .unwrap()
    .images;
    images.allowed_widths = allowed.clone();
    images.allowed_heights = allowed;
    images.snap_to_allowed = snap;
    images.presets_only = presets_only;
    images.presets = BTreeMap::from([
        ("thumb".to_string(), "w=200&h=200&fmt=webp".to_string()),
        ("big".to_string(), "w=4096&dpr=4".to_string()),
    ]);
    images
}

/// Values that sit on the edges of what the parser checks.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,12}",
        "[0-9]{1,3}\\.[0-9]{0,6}",
        "-?[0-9]{1,5}",
        Just("thumb".to_string()),
        Just("big".to_string()),
        Just("auto".to_string()),
        Just("webp".to_string()),
        Just("cover".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e3".to_string()),
        "[0-9]{1,4},[0-9]{1,4},[0-9]{1,4},[0-9]{1,4}",
        "0?\\.[0-9]{1,7},0?\\.[0-9]{1,7}(,0?\\.[0-9]{1,7},1\\.0)?",
        Just("hv".to_string()),
        "%[0-9A-Fa-f]{2}",
        "\\PC{0,12}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "w",
            "h",
            "fit",
            "g",
            "gravity",
            "fmt",
            "format",
            "q",
            "dpr",
            "bg",
            "enlarge",
            "anim",
            "preset",
            "s",
            "crop",
            "fp",
            "trim",
            "rot",
            "flip",
            "blur",
            "sharpen",
            "pad",
            "interlace",
            "lossless",
        ])
        .prop_map(String::from),
        "\\PC{0,6}",
    ]
}

fn structured_query() -> impl Strategy<Value = String> {
    prop::collection::vec((name(), value(), any::<bool>()), 0..40).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v, eq)| if eq { format!("{n}={v}") } else { n })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn any_query() -> impl Strategy<Value = String> {
    prop_oneof![structured_query(), "\\PC{0,200}", ".{0,200}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_query_path_never_panics_and_respects_the_limits(
        query in any_query(),
        allowed in prop::collection::vec(1u32..=4096, 0..5),
        snap in any::<bool>(),
        presets_only in any::<bool>(),
    ) {
        let mut allowed = allowed;
        allowed.sort_unstable();
        allowed.dedup();
        let images = images(allowed.clone(), snap, presets_only);
        let Ok(params) = parse_query(&query, images.max_width, images.max_height) else {
            return Ok(());
        };
        prop_assert!(query.split('&').count() <= MAX_QUERY_PARAMS || query.split('&').any(str::is_empty));
        let Ok(t) = Transform::from_params(params.clone(), &images) else {
            return Ok(());
        };
        for side in [t.width, t.height].into_iter().flatten() {
            prop_assert!((1..=4096).contains(&side));
            let from_preset = params.preset.is_some()
                && params.width.is_none()
                && params.height.is_none()
                && params.dpr.is_none();
            if !allowed.is_empty() && !from_preset {
                prop_assert!(allowed.contains(&side), "{side} not in {allowed:?}");
            }
        }
        if presets_only {
            prop_assert!(params.preset.is_some());
        }
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif] {
            let spec = t.render_spec(format, Accepted { avif: true, webp: true }, &images);
            prop_assert!((1..=100).contains(&spec.quality));
        }
    }

    #[test]
    fn signatures_never_panic_and_only_the_right_one_passes(
        path in "/img/[\\PC/%]{0,40}",
        query in any_query(),
    ) {
        let signer = UrlSigner::new(b"key");
        let _ = message(&path, &query);
        let _ = signer.verify(&path, &query);
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && p.split('=').next() != Some("s"))
            .collect();
        let kept = kept.join("&");
        let s = signer.signature(&path, &kept);
        let signed = if kept.is_empty() { format!("s={s}") } else { format!("{kept}&s={s}") };
        prop_assert_eq!(signer.verify(&path, &signed), Ok(()));
        let other = format!("{path}x");
        prop_assert!(signer.verify(&other, &signed).is_err());
    }

    #[test]
    fn forwarded_for_never_panics_and_names_a_listed_address(
        entries in prop::collection::vec(
            prop_oneof![
                any::<[u8; 4]>().prop_map(|o| IpAddr::from(o).to_string()),
                any::<[u16; 8]>().prop_map(|o| IpAddr::from(o).to_string()),
                Just("127.0.0.1".to_string()),
                Just("10.1.2.3:8080".to_string()),
                "\\PC{0,20}",
            ],
            0..8,
        ),
        peer in prop_oneof![Just([127u8, 0, 0, 1]), any::<[u8; 4]>()],
    ) {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let header = entries.join(", ");
        let peer = IpAddr::from(peer);
        let client = client_ip::resolve(peer, [header.as_str()], &trusted);
        if client != peer {
            prop_assert!(trusted.iter().any(|n| n.contains(&peer)), "an untrusted peer's header was believed");
            prop_assert!(header.contains(&client.to_string()) || header.contains("::ffff:"));
        }
        let _ = client_ip::rate_key(client);
    }
}
