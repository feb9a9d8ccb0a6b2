//! Variant control through real HTTP: allowed widths and heights (refused or snapped), named
//! presets, and `presets_only`.

use crate::common::{app::TestApp, client::error_of, images::decode};

async fn size_of(app: &TestApp, path: &str) -> (String, u32, u32) {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    decode(&res.bytes().await.unwrap())
}

async fn refused(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), 400, "{path}");
    let (code, message) = error_of(&res.bytes().await.unwrap());
    assert_eq!(code, "invalid_parameter");
    message
}

#[tokio::test]
async fn only_allowed_sizes_are_rendered() {
    let app = TestApp::spawn_with(&[
        ("images.allowed_widths", "40, 80"),
        ("images.allowed_heights", "30"),
    ])
    .await;
    assert_eq!(size_of(&app, "/img/storm.jpg?w=80").await.1, 80);
    assert_eq!(size_of(&app, "/img/storm.jpg/40").await.1, 40);
    assert_eq!(size_of(&app, "/img/storm.jpg?w=40&dpr=2").await.1, 80);
    let before = app.renders();
    assert_eq!(
        refused(&app, "/img/storm.jpg?w=81").await,
        "w must be one of 40, 80"
    );
    refused(&app, "/img/storm.jpg/41").await;
    refused(&app, "/img/storm.jpg?w=40&dpr=1.5").await;
    refused(&app, "/img/storm.jpg?h=31").await;
    assert_eq!(app.renders(), before, "refused sizes never render");
    // Originals are not sizes.
    assert_eq!(app.get("/img/storm.jpg").await.status(), 200);
}

#[tokio::test]
async fn snapping_rounds_up_to_the_next_allowed_size() {
    let app = TestApp::spawn_with(&[
        ("images.allowed_widths", "40, 80"),
        ("images.snap_to_allowed", "true"),
    ])
    .await;
    assert_eq!(size_of(&app, "/img/storm.jpg?w=41").await.1, 80);
    assert_eq!(size_of(&app, "/img/storm.jpg?w=3").await.1, 40);
    assert_eq!(size_of(&app, "/img/storm.jpg?w=999").await.1, 80);
    // A sweep over many widths makes at most as many renders as there are allowed sizes.
    let before = app.renders();
    for w in 20..60 {
        assert_eq!(
            app.get(&format!("/img/storm.jpg?w={w}")).await.status(),
            200
        );
    }
    assert!(app.renders() - before <= 2);
}

#[tokio::test]
async fn presets_name_parameter_sets() {
    let app = TestApp::spawn_with(&[
        ("images.presets.thumb", "w=60&h=60&fit=cover&fmt=webp"),
        ("images.presets.wide", "w=120"),
    ])
    .await;
    assert_eq!(
        size_of(&app, "/img/storm.jpg?preset=thumb").await,
        ("webp".to_string(), 60, 60)
    );
    // Explicit parameters win over the preset's.
    assert_eq!(
        size_of(&app, "/img/storm.jpg?preset=thumb&fmt=png").await,
        ("png".to_string(), 60, 60)
    );
    assert_eq!(size_of(&app, "/img/storm.jpg?preset=wide").await.1, 120);
    assert_eq!(
        refused(&app, "/img/storm.jpg?preset=huge").await,
        "unknown preset"
    );
    // Both spellings of the same variant share one render.
    let before = app.renders();
    assert_eq!(size_of(&app, "/img/storm.jpg?w=120").await.1, 120);
    assert_eq!(app.renders(), before);
}

#[tokio::test]
async fn presets_only_refuses_everything_else() {
    let app = TestApp::spawn_with(&[
        ("images.presets.thumb", "w=60&h=60&fmt=webp"),
        ("images.presets_only", "true"),
    ])
    .await;
    assert_eq!(size_of(&app, "/img/storm.jpg?preset=thumb").await.1, 60);
    assert_eq!(
        refused(&app, "/img/storm.jpg?w=60").await,
        "only presets are allowed"
    );
    refused(&app, "/img/storm.jpg/60").await;
    refused(&app, "/img/storm.jpg?preset=thumb&w=61").await;
    refused(&app, "/img/storm.jpg?preset=thumb&q=5").await;
    // The untouched original is still served.
    assert_eq!(app.get("/img/storm.jpg").await.status(), 200);
}

#[test]
fn a_broken_preset_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let load = |query: &str| {
        imgserver::config::Settings::load(&imgserver::config::LoadOptions::with_overrides([
            ("source.dir", dir.path().to_str().unwrap()),
            ("images.presets.bad", query),
        ]))
    };
    for query in ["w=abc", "zoom=2", "preset=bad", "w=10&s=xyz"] {
        match load(query) {
            Err(imgserver::config::ConfigError::Invalid(problems)) => assert!(
                problems.iter().any(|p| p.contains("preset \"bad\"")),
                "{query}: {problems:?}"
            ),
            other => panic!("{query}: {other:?}"),
        }
    }
    assert!(load("w=10&fmt=webp").is_ok());
}
