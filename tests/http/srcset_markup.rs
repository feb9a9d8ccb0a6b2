//! `/srcset/{path}` through the real server over a plain folder: the JSON and the `<picture>`
//! element (read back with a real HTML parser), every candidate fetched and decoded at the
//! width it states, the ladder capped at the source and snapped to the allowed widths, signed
//! candidates behind the admin token, hostile text escaped, and bad requests refused.

use scraper::{Html, Selector};
use serde_json::Value;

use crate::common::{
    app::TestApp,
    client::{client_from, error_of},
    images::{bands, decode, BLUE, GREEN, RED, YELLOW},
};

const KEY: &str = "correct horse battery staple";
const ADMIN_TOKEN: &str = "srcset-admin-token-0123456789";

/// The app with a 900x600 PNG `wide.png` at its root.
async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    let picture = bands(&[RED, GREEN, BLUE, YELLOW], 225, 600);
    std::fs::write(app.root.path().join("wide.png"), picture).unwrap();
    app
}

/// `(url, width)` of each candidate of a `srcset` attribute.
fn candidates(srcset: &str) -> Vec<(String, u32)> {
    srcset
        .split(", ")
        .map(|candidate| {
            let (url, width) = candidate.rsplit_once(' ').expect("url and descriptor");
            let width = width.strip_suffix('w').expect("a width descriptor");
            (url.to_string(), width.parse().expect("a number"))
        })
        .collect()
}

fn widths(srcset: &str) -> Vec<u32> {
    candidates(srcset).into_iter().map(|(_, w)| w).collect()
}

async fn json(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// Fetches every candidate of `srcset` and checks its format and its width, and its height
/// against the aspect ratio `ratio` (width / height).
async fn assert_candidates(app: &TestApp, srcset: &str, format: &str, ratio: f64) {
    for (url, width) in candidates(srcset) {
        let res = app.get(&url).await;
        assert_eq!(res.status(), 200, "{url}");
        let (got, w, h) = decode(&res.bytes().await.unwrap());
        assert_eq!((got.as_str(), w), (format, width), "{url}");
        let expected = f64::from(w) / ratio;
        assert!((f64::from(h) - expected).abs() <= 1.0, "{url}: {w}x{h}");
    }
}

#[tokio::test]
async fn the_json_lists_every_candidate_at_the_width_it_states() {
    let app = app_with(&[]).await;
    let res = app.get("/srcset/wide.png?widths=200,400,800,1600").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["vary"], "Accept");
    let reply: Value = res.json().await.unwrap();
    // 1600 would upscale the 900 px source: the source's own width ends the ladder.
    assert_eq!(
        widths(reply["srcset"].as_str().unwrap()),
        [200, 400, 800, 900]
    );
    assert_eq!(
        (reply["width"].as_u64(), reply["height"].as_u64()),
        (Some(900), Some(600))
    );
    assert_eq!(reply["sizes"], "100vw");
    assert_eq!(reply["alt"], Value::Null);
    // The documented shape is whole: the placeholder is there, null unless asked for.
    assert_eq!(reply.get("placeholder"), Some(&Value::Null), "{reply}");
    assert_eq!(reply["src"], "/img/wide.png?w=800", "the middle candidate");
    let types: Vec<&str> = reply["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["image/avif", "image/webp"]);

    assert_candidates(&app, reply["srcset"].as_str().unwrap(), "png", 1.5).await;
    for (source, format) in reply["sources"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["avif", "webp"])
    {
        let srcset = source["srcset"].as_str().unwrap();
        assert_eq!(widths(srcset), [200, 400, 800, 900]);
        assert_candidates(&app, srcset, format, 1.5).await;
    }
}

#[tokio::test]
async fn an_aspect_ratio_holds_in_every_candidate_and_the_height_caps_the_ladder() {
    let app = app_with(&[]).await;
    let reply = json(&app, "/srcset/wide.png?w=400&h=400&fmt=webp").await;
    // Square crops of a 900x600 source are at most 600 wide; default ladder 320, 480, 640...
    assert_eq!(widths(reply["srcset"].as_str().unwrap()), [320, 480, 600]);
    assert_eq!(
        (reply["width"].as_u64(), reply["height"].as_u64()),
        (Some(600), Some(600))
    );
    // An explicit format is the `<img>`'s only one: no `<source>` to negotiate.
    assert_eq!(reply["sources"], serde_json::json!([]));
    assert_candidates(&app, reply["srcset"].as_str().unwrap(), "webp", 1.0).await;

    // A JPEG source's `<img>` keeps JPEG; `h` alone has no width to scale.
    let reply = json(&app, "/srcset/storm.jpg?w=300&h=100&widths=150,300").await;
    assert_eq!(reply["src"], "/img/storm.jpg?w=300&h=100");
    assert_candidates(&app, reply["srcset"].as_str().unwrap(), "jpeg", 3.0).await;
    let res = app.get("/srcset/storm.jpg?h=100").await;
    assert_eq!(res.status(), 400);

    // The transform's own rotation caps the ladder: turned, the source is 600 wide.
    let reply = json(&app, "/srcset/wide.png?rot=90&fmt=png").await;
    assert_eq!(widths(reply["srcset"].as_str().unwrap()), [320, 480, 600]);
    assert_candidates(
        &app,
        reply["srcset"].as_str().unwrap(),
        "png",
        600.0 / 900.0,
    )
    .await;
}

#[tokio::test]
async fn a_small_source_ends_on_its_own_width_and_allowed_widths_snap_the_ladder() {
    let app = app_with(&[]).await;
    // kitten.png is 480 px wide: the default ladder stops there, never above.
    let reply = json(&app, "/srcset/cats/kitten.png").await;
    assert_eq!(widths(reply["srcset"].as_str().unwrap()), [320, 480]);
    let reply = json(&app, "/srcset/cats/kitten.png?widths=100,2000").await;
    assert_eq!(widths(reply["srcset"].as_str().unwrap()), [100, 480]);

    let app = app_with(&[("images.allowed_widths", "100, 300, 500, 700, 1000")]).await;
    // Without `widths`, the allowed widths are the ladder, up to the source's width.
    let reply = json(&app, "/srcset/wide.png").await;
    let srcset = reply["srcset"].as_str().unwrap();
    assert_eq!(widths(srcset), [100, 300, 500, 700]);
    assert_candidates(&app, srcset, "png", 1.5).await;
    // Requested widths snap up to allowed ones; the cap is the largest allowed within it.
    let reply = json(&app, "/srcset/wide.png?widths=250,260,640,2000").await;
    assert_eq!(widths(reply["srcset"].as_str().unwrap()), [300, 700]);
    assert_eq!(reply["width"], 700);
    // Every candidate is a URL the server accepts under the same rule.
    for source in reply["sources"].as_array().unwrap() {
        assert_eq!(widths(source["srcset"].as_str().unwrap()), [300, 700]);
    }
    assert_candidates(&app, reply["srcset"].as_str().unwrap(), "png", 1.5).await;
}

#[tokio::test]
async fn the_picture_element_parses_with_every_attribute_and_hostile_text_escaped() {
    let app = app_with(&[]).await;
    let hostile_name = "a\"><img src=x onerror=alert(1)> & b.png";
    std::fs::copy(
        app.root.path().join("wide.png"),
        app.root.path().join(hostile_name),
    )
    .unwrap();
    let hostile_alt = "Bands \"><img src=x onerror=alert(1)> & <b>more</b>";
    std::fs::write(
        app.root.path().join(".imgserver.toml"),
        format!("[{:?}]\nalt = {:?}\n", hostile_name, hostile_alt),
    )
    .unwrap();
    let sizes = "(max-width: 600px) 100vw, \"><script>x</script>";
    let encoded_path = "a%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%20%26%20b.png";
    let query = format!(
        "widths=200,400&sizes={}",
        "(max-width:%20600px)%20100vw,%20%22%3E%3Cscript%3Ex%3C/script%3E"
    );

    let data = json(&app, &format!("/srcset/{encoded_path}?{query}")).await;
    assert_eq!(data["alt"], hostile_alt);
    assert_eq!(data["sizes"], sizes);

    // Asked by `Accept` (as a browser asks) and by `format=html`: the same element.
    let res = app
        .get_with(
            &format!("/srcset/{encoded_path}?{query}"),
            &[("accept", "text/html,application/xhtml+xml;q=0.9")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let by_accept = res.text().await.unwrap();
    let res = app
        .get(&format!("/srcset/{encoded_path}?{query}&format=html"))
        .await;
    assert!(
        res.headers().get("vary").is_none(),
        "format= names the form"
    );
    let html = res.text().await.unwrap();
    assert_eq!(html, by_accept);
    // `format=json` names the form too, whatever `Accept` says.
    let res = app
        .get_with(
            &format!("/srcset/{encoded_path}?{query}&format=json"),
            &[("accept", "text/html")],
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), data);

    let doc = Html::parse_fragment(&html);
    let select = |s: &str| Selector::parse(s).unwrap();
    assert_eq!(doc.select(&select("script")).count(), 0, "{html}");
    assert_eq!(doc.select(&select("picture")).count(), 1, "{html}");
    assert_eq!(doc.select(&select("img")).count(), 1, "one <img>: {html}");
    let sources: Vec<_> = doc.select(&select("picture > source")).collect();
    assert_eq!(sources.len(), 2);
    for (source, json_source) in sources.iter().zip(data["sources"].as_array().unwrap()) {
        assert_eq!(source.attr("type"), json_source["type"].as_str());
        assert_eq!(source.attr("srcset"), json_source["srcset"].as_str());
        assert_eq!(source.attr("sizes"), Some(sizes));
    }
    let img = doc.select(&select("picture > img")).next().unwrap();
    let attr = |name: &str| img.attr(name).unwrap_or_else(|| panic!("{name}: {html}"));
    assert_eq!(attr("alt"), hostile_alt);
    assert_eq!(attr("sizes"), sizes);
    assert_eq!(attr("src"), data["src"].as_str().unwrap());
    assert_eq!(attr("srcset"), data["srcset"].as_str().unwrap());
    assert_eq!(attr("width"), "400", "the largest candidate's size");
    assert_eq!(attr("height"), "267");
    assert_eq!(attr("loading"), "lazy");
    assert_eq!(attr("decoding"), "async");
    assert_eq!(
        img.value().attrs().count(),
        8,
        "no attribute injected: {html}"
    );
    // The URLs in the markup fetch the hostile-named file itself.
    assert_candidates(&app, attr("srcset"), "png", 1.5).await;
}

#[tokio::test]
async fn with_signing_on_srcset_takes_the_admin_token_and_mints_valid_urls() {
    // Signing on and no admin token: nobody may mint signatures, so the endpoint is absent.
    let app = app_with(&[("security.signing_key", KEY)]).await;
    let res = app.get("/srcset/wide.png").await;
    assert_eq!(res.status(), 404);

    crate::common::audit::audit_lines();
    let app = app_with(&[("security.signing_key", KEY), ("admin.token", ADMIN_TOKEN)]).await;
    let client = client_from([127, 0, 0, 71]);
    let send = |auth: Option<String>| {
        let mut req = client.get(app.url("/srcset/wide.png?widths=300,600"));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.send()
    };
    assert_eq!(send(None).await.unwrap().status(), 401);
    assert_eq!(
        send(Some("Bearer wrong".into())).await.unwrap().status(),
        401
    );
    let res = send(Some(format!("Bearer {ADMIN_TOKEN}"))).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let reply: Value = res.json().await.unwrap();

    let mut sets = vec![reply["srcset"].as_str().unwrap().to_string()];
    for source in reply["sources"].as_array().unwrap() {
        sets.push(source["srcset"].as_str().unwrap().to_string());
    }
    assert_eq!(sets.len(), 3);
    for (set, format) in sets.iter().zip(["png", "avif", "webp"]) {
        assert_candidates(&app, set, format, 1.5).await;
        for (url, _) in candidates(set) {
            // The signature is what lets the URL through: without it, 403.
            let (unsigned, signature) = url.rsplit_once("&s=").expect("signed");
            assert!(!signature.is_empty());
            let res = app.get(unsigned).await;
            assert_eq!(res.status(), 403, "{unsigned}");
        }
    }
    assert!(reply["src"].as_str().unwrap().contains("&s="));

    let audited: Vec<(String, u64)> = crate::common::audit::audit_lines()
        .into_iter()
        .filter(|l| l["fields"]["client_ip"] == "127.0.0.71")
        .map(|l| {
            let f = &l["fields"];
            (
                f["action"].as_str().unwrap().into(),
                f["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        audited,
        [
            ("srcset".into(), 401),
            ("srcset".into(), 401),
            ("srcset".into(), 200)
        ]
    );
}

#[tokio::test]
async fn without_signing_srcset_is_public_under_the_hit_rate_limit() {
    let app = app_with(&[("limits.hit_per_ip_per_second", "2")]).await;
    let client = client_from([127, 0, 0, 72]);
    let mut codes = Vec::new();
    for _ in 0..6 {
        let res = client
            .get(app.url("/srcset/wide.png"))
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
    }
    assert_eq!(&codes[..2], &[200, 200], "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_nothing_outside_the_images_is_reachable() {
    let app = app_with(&[]).await;
    // Traversal is a malformed path (400, as on `/img/`); what exists but is never served,
    // or does not exist, is a 404.
    for path in [
        "/srcset/../etc/passwd",
        "/srcset/%2e%2e/etc/passwd",
        "/srcset/cats/..%2f..%2fetc%2fpasswd",
        "/srcset/storm.jpg%00.png",
    ] {
        let res = app.raw_get(path).await;
        assert_eq!(res.status, 400, "{path}");
        let (_, message) = error_of(&res.body);
        assert!(!message.contains("passwd"), "no path echoed: {message}");
    }
    for path in [
        "/srcset/.git/leak.jpg",
        "/srcset/.imgserver.toml",
        "/srcset/cats/.imgserver.toml",
        "/srcset/escape.jpg",
        "/srcset/to-git.jpg",
        "/srcset/missing.jpg",
        "/srcset/",
        "/srcset",
    ] {
        let res = app.raw_get(path).await;
        assert_eq!(res.status, 404, "{path}");
        let (code, message) = error_of(&res.body);
        assert_eq!(code, "not_found", "{path}");
        assert!(!message.contains('/'), "no path leaked: {message}");
    }
    for query in [
        "widths=0",
        "widths=abc",
        "widths=100,,200",
        "widths=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
        "widths=99999",
        "widths=100&widths=200",
        "dpr=2",
        "format=xml",
        "sizes=%0A",
        "w=0",
        "fit=sideways",
    ] {
        let res = app.raw_get(&format!("/srcset/wide.png?{query}")).await;
        assert_eq!(res.status, 400, "{query}");
        assert_eq!(error_of(&res.body).0, "invalid_parameter", "{query}");
    }
    let long_sizes = format!("/srcset/wide.png?sizes={}", "1".repeat(2000));
    assert_eq!(app.raw_get(&long_sizes).await.status, 400);
    let res = app.raw_get("/srcset/not-an-image.jpg").await;
    assert!((400..500).contains(&res.status), "{}", res.status);
}
