//! The URLs the page is handed: paths percent-encoded one component at a time (so names with
//! spaces, `#`, `;` or unicode survive), thumbnails the gallery loads through `/img/`, and
//! signatures when `security.signing_key` is set. Signatures go only to the admin (a request
//! with the admin token): an anonymous caller is handed only what it could fetch without the
//! studio, so with signing on its thumbnails are the originals (those need no signature unless
//! `security.sign_originals` is set; then nothing it is handed fetches an image).

use serde::Serialize;

use crate::config::{ImageSettings, Settings};
use crate::grammar::{IMG_PREFIX, INFO_PREFIX};
use crate::signing::UrlSigner;
use crate::source::RelPath;

use super::access::Caller;

/// Square thumbnail widths offered in a gallery `srcset` (a tile is about 160–240 CSS px wide,
/// so these cover 1x to 3x screens). WebP, not AVIF: its encoder is an order of magnitude faster,
/// and a gallery should fill in at once even when every thumbnail is a cache miss.
pub const THUMB_WIDTHS: [u32; 3] = [160, 320, 480];
/// Allowed widths farther from a tile's size than this are not worth a thumbnail.
const THUMB_WIDTH_RANGE: std::ops::RangeInclusive<u32> = 100..=640;
/// The preset used for thumbnails when `images.presets_only` refuses anything else.
pub const THUMB_PRESET: &str = "thumb";

/// A gallery image's `src` and `srcset` (empty when only a single size is possible).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thumbnail {
    pub src: String,
    pub srcset: String,
}

/// Builds URLs for one configuration and one caller.
pub struct Links<'a> {
    settings: &'a Settings,
    /// The signer, for the admin only.
    signer: Option<UrlSigner>,
    thumb_queries: Vec<(String, Option<u32>)>,
}

impl<'a> Links<'a> {
    pub fn new(settings: &'a Settings, caller: Caller) -> Self {
        let signer = match caller {
            Caller::Admin => settings.security.signing_key.as_ref(),
            Caller::Anonymous => None,
        }
        .map(|key| UrlSigner::new(key.expose().as_bytes()));
        // Without a signature a transform is refused when a key is set: no thumbnails then.
        let thumbs_fetchable = signer.is_some() || settings.security.signing_key.is_none();
        Self {
            settings,
            signer,
            thumb_queries: match thumbs_fetchable {
                true => thumb_queries(&settings.images),
                false => Vec::new(),
            },
        }
    }

    /// The original file's URL (signed for the admin when `security.sign_originals` asks for it).
    pub fn original(&self, path: &RelPath) -> String {
        self.finish(path.url_below(IMG_PREFIX))
    }

    /// The `/info/` URL of a file.
    pub fn info(path: &RelPath) -> String {
        path.url_below(INFO_PREFIX)
    }

    pub fn thumbnail(&self, path: &RelPath) -> Thumbnail {
        let base = path.url_below(IMG_PREFIX);
        if self.thumb_queries.is_empty() {
            return Thumbnail {
                src: self.original(path),
                srcset: String::new(),
            };
        }
        let urls: Vec<(String, Option<u32>)> = self
            .thumb_queries
            .iter()
            .map(|(query, width)| (self.finish(format!("{base}?{query}")), *width))
            .collect();
        // The middle size is a sensible default for browsers that ignore srcset.
        let src = urls[urls.len() / 2].0.clone();
        let srcset = if urls.len() > 1 {
            urls.iter()
                .filter_map(|(url, w)| w.map(|w| format!("{url} {w}w")))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        Thumbnail { src, srcset }
    }

    /// Signs `url` (a path below `/img/` with its query) if this configuration needs it and the
    /// caller is the admin; an anonymous caller's URLs stay unsigned.
    pub fn finish(&self, url: String) -> String {
        let Some(signer) = &self.signer else {
            return url;
        };
        let transforms = url
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|p| !p.is_empty() && !p.starts_with("s=")));
        if transforms || self.settings.security.sign_originals {
            signer.sign_url(&url).unwrap_or(url)
        } else {
            url
        }
    }
}

/// The thumbnail queries this configuration accepts, each with its width for `srcset`.
fn thumb_queries(images: &ImageSettings) -> Vec<(String, Option<u32>)> {
    if images.presets_only {
        return match images.presets.contains_key(THUMB_PRESET) {
            true => vec![(format!("preset={THUMB_PRESET}"), None)],
            false => Vec::new(),
        };
    }
    let widths: Vec<u32> = if images.allowed_widths.is_empty() {
        THUMB_WIDTHS.to_vec()
    } else {
        let near: Vec<u32> = images
            .allowed_widths
            .iter()
            .copied()
            .filter(|w| THUMB_WIDTH_RANGE.contains(w))
            .collect();
        match near.len() {
            0 => images.allowed_widths.first().copied().into_iter().collect(),
            1..=3 => near,
            n => vec![near[0], near[n / 2], near[n - 1]],
        }
    };
    widths
        .into_iter()
        .filter(|&w| w <= images.max_width)
        .map(|w| {
            let square = w <= images.max_height
                && (images.allowed_heights.is_empty() || images.allowed_heights.contains(&w));
            let query = match square {
                true => format!("w={w}&h={w}&fit=cover&fmt=webp"),
                false => format!("w={w}&fmt=webp"),
            };
            (query, Some(w))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadOptions;

    const KEY: &str = "a-signing-key-of-32-bytes-length";

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::load(&LoadOptions::with_overrides(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn thumbnails_are_square_webp_in_three_widths() {
        let s = settings(&[]);
        let t = Links::new(&s, Caller::Admin).thumbnail(&RelPath::parse("cats/a.jpg").unwrap());
        assert_eq!(t.src, "/img/cats/a.jpg?w=320&h=320&fit=cover&fmt=webp");
        assert_eq!(
            t.srcset,
            "/img/cats/a.jpg?w=160&h=160&fit=cover&fmt=webp 160w, \
             /img/cats/a.jpg?w=320&h=320&fit=cover&fmt=webp 320w, \
             /img/cats/a.jpg?w=480&h=480&fit=cover&fmt=webp 480w"
        );
    }

    #[test]
    fn thumbnails_respect_allowed_sizes_and_presets_only() {
        let s = settings(&[("images.allowed_widths", "50,300,1000")]);
        let t = Links::new(&s, Caller::Admin).thumbnail(&RelPath::parse("a.jpg").unwrap());
        assert_eq!(t.src, "/img/a.jpg?w=300&h=300&fit=cover&fmt=webp");
        assert_eq!(t.srcset, "", "one size needs no srcset");
        let s = settings(&[
            ("images.allowed_widths", "50,300,1000"),
            ("images.allowed_heights", "50,100"),
        ]);
        let t = Links::new(&s, Caller::Admin).thumbnail(&RelPath::parse("a.jpg").unwrap());
        assert_eq!(
            t.src, "/img/a.jpg?w=300&fmt=webp",
            "no square without an allowed height"
        );

        let s = settings(&[("images.presets_only", "true")]);
        let t = Links::new(&s, Caller::Admin).thumbnail(&RelPath::parse("a.jpg").unwrap());
        assert_eq!(t.src, "/img/a.jpg", "no thumb preset: the original");
    }

    #[test]
    fn signing_covers_variants_and_originals_only_when_asked() {
        let s = settings(&[("security.signing_key", KEY)]);
        let links = Links::new(&s, Caller::Admin);
        let path = RelPath::parse("a.jpg").unwrap();
        assert_eq!(links.original(&path), "/img/a.jpg");
        assert!(links.thumbnail(&path).src.contains("&s="));
        let s = settings(&[
            ("security.signing_key", KEY),
            ("security.sign_originals", "true"),
        ]);
        assert!(Links::new(&s, Caller::Admin)
            .original(&path)
            .starts_with("/img/a.jpg?s="));
    }

    #[test]
    fn an_anonymous_caller_gets_no_signature() {
        let path = RelPath::parse("a.jpg").unwrap();
        let s = settings(&[("security.signing_key", KEY)]);
        let links = Links::new(&s, Caller::Anonymous);
        assert_eq!(links.original(&path), "/img/a.jpg");
        let thumb = links.thumbnail(&path);
        assert_eq!(
            (thumb.src.as_str(), thumb.srcset.as_str()),
            ("/img/a.jpg", ""),
            "transforms need a signature: the original, which needs none"
        );
        assert_eq!(links.finish("/img/a.jpg?w=10".into()), "/img/a.jpg?w=10");
        let s = settings(&[
            ("security.signing_key", KEY),
            ("security.sign_originals", "true"),
        ]);
        let links = Links::new(&s, Caller::Anonymous);
        assert_eq!(links.original(&path), "/img/a.jpg");
        assert!(!links.thumbnail(&path).src.contains("s="));
        // Without a key nothing is signed for anyone, and thumbnails are transforms.
        let s = settings(&[]);
        let thumb = Links::new(&s, Caller::Anonymous).thumbnail(&path);
        assert!(thumb.src.contains("w=320"), "{}", thumb.src);
    }
}
