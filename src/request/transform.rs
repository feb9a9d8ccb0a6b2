//! From raw parameters to the canonical transform, and from a transform plus what is known of
//! the source and the client to the exact [`RenderSpec`] and its cache key. Every spelling of
//! the same request (`jpg`/`jpeg`, `dpr=2&w=200`/`w=400`, parameter order, either grammar,
//! parameters that cannot matter) ends as the same spec and therefore the same key.

use crate::config::ImageSettings;
use crate::pipeline::{Fit, Focus, Gravity, ImageFormat, Operations, RenderSpec, Rgba};

use super::accept::Accepted;
use super::sizes::admit_size;
use super::RequestError;
use crate::grammar::{parse_query, FormatChoice, RawParams};

/// A validated request to transform an image, before the source format is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// Box in output pixels, `dpr` applied, within the configured maximum.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    /// `None`: the configured default of the output format.
    pub quality: Option<u8>,
    pub background: Rgba,
    pub enlarge: bool,
    pub format: FormatChoice,
    pub ops: Operations,
    /// Keep the frames of an animated source (`anim=0` turns it off).
    pub animate: bool,
    /// A cover box whose placement the request left open (no `g`, no `fp`): the image's own
    /// focal point, from its folder's metadata, may place it.
    pub open_placement: bool,
}

impl Transform {
    /// Applies presets, defaults, `dpr`, the allowed sizes and the size ceiling.
    pub fn from_params(
        params: RawParams,
        images: &ImageSettings,
    ) -> Result<Transform, RequestError> {
        // Sizes the client had a hand in are checked against the allowed lists; a preset's own
        // sizes are the operator's choice.
        let client_width = params.width.is_some() || params.dpr.is_some();
        let client_height = params.height.is_some() || params.dpr.is_some();
        let params = match &params.preset {
            Some(name) => {
                let query = images
                    .presets
                    .get(name)
                    .ok_or_else(|| RequestError::Invalid("unknown preset".into()))?;
                let extra = RawParams {
                    preset: None,
                    ..params.clone()
                };
                if images.presets_only && !extra.is_empty() {
                    return Err(RequestError::Invalid(
                        "only presets are allowed, without other parameters".into(),
                    ));
                }
                let preset = parse_query(query, images.max_width, images.max_height)
                    .map_err(|_| RequestError::Invalid("preset is misconfigured".into()))?;
                params.or(preset)
            }
            None => {
                if images.presets_only {
                    return Err(RequestError::Invalid("only presets are allowed".into()));
                }
                params
            }
        };
        let dpr = params.dpr.unwrap_or(1.0);
        let scale = |v: u32| ((v as f64) * dpr).round().max(1.0) as u32;
        let (mut width, mut height) = (params.width.map(scale), params.height.map(scale));
        // The size rendered is what must be allowed, so `dpr` cannot sweep around the list.
        let (w_name, h_name) = match params.dpr {
            Some(_) => ("w x dpr", "h x dpr"),
            None => ("w", "h"),
        };
        if let (Some(w), true) = (width, client_width) {
            width = Some(admit_size(
                w_name,
                w,
                &images.allowed_widths,
                images.snap_to_allowed,
            )?);
        }
        if let (Some(h), true) = (height, client_height) {
            height = Some(admit_size(
                h_name,
                h,
                &images.allowed_heights,
                images.snap_to_allowed,
            )?);
        }
        // Shrink the box uniformly so neither side exceeds the ceiling (the pipeline also clamps
        // the side it derives).
        let factor = [(width, images.max_width), (height, images.max_height)]
            .iter()
            .filter_map(|(v, max)| v.map(|v| *max as f64 / v as f64))
            .fold(1.0_f64, f64::min);
        if factor < 1.0 {
            let shrink = |v: u32| ((v as f64) * factor).round().max(1.0) as u32;
            width = width.map(shrink);
            height = height.map(shrink);
        }
        if params.focus.is_some() && params.gravity.is_some() {
            return Err(RequestError::Invalid(
                "fp and g cannot be combined: the focal point already places the crop".into(),
            ));
        }
        let format = params.format.unwrap_or(FormatChoice::Original);
        let lossless = params.lossless.unwrap_or(false);
        if lossless && format != FormatChoice::Exact(ImageFormat::Webp) {
            return Err(RequestError::Invalid(
                "lossless is for WebP only: it needs fmt=webp".into(),
            ));
        }
        let both = width.is_some() && height.is_some();
        let fit = if both {
            params.fit.unwrap_or_default()
        } else {
            Fit::default()
        };
        // Gravity only matters when something is cropped or placed.
        let gravity = if matches!(fit, Fit::Cover | Fit::Contain) && both {
            params.gravity.unwrap_or_default()
        } else {
            Gravity::default()
        };
        let cover = fit == Fit::Cover && both;
        let open_placement = cover && params.gravity.is_none() && params.focus.is_none();
        let ops = Operations {
            trim: params.trim,
            crop: params.crop,
            rotation: params.rotation.unwrap_or_default(),
            flip: params.flip.unwrap_or_default(),
            // The focal point only places the window of `cover`.
            focus: params.focus.filter(|_| cover),
            blur: params.blur,
            sharpen: params.sharpen,
            pad: params.pad.unwrap_or_default(),
            interlace: params.interlace.unwrap_or(false),
            lossless,
        };
        Ok(Transform {
            width,
            height,
            fit,
            // Smart placement is a choice of crop: elsewhere it places like the centre.
            gravity: match gravity {
                Gravity::Smart if !cover => Gravity::Center,
                g => g,
            },
            quality: params.quality,
            background: params.background.unwrap_or_default(),
            enlarge: params.enlarge.unwrap_or(false),
            format,
            ops,
            animate: params.animate.unwrap_or(true),
            open_placement,
        })
    }

    /// Places an open cover box on `focus` (the image's focal point from its metadata); a
    /// request that chose its placement keeps it.
    pub fn with_default_focus(mut self, focus: Option<Focus>) -> Self {
        if self.open_placement {
            self.ops.focus = self.ops.focus.or(focus);
        }
        self
    }

    /// Whether the output format depends on the `Accept` header (so responses `Vary` on it).
    pub fn negotiates(&self) -> bool {
        self.format == FormatChoice::Auto
    }

    /// The exact render, once the source's format and the client's `Accept` are known.
    pub fn render_spec(
        &self,
        source: ImageFormat,
        accepted: Accepted,
        images: &ImageSettings,
    ) -> RenderSpec {
        let format = match self.format {
            FormatChoice::Exact(f) => f,
            FormatChoice::Original => source.as_output(),
            FormatChoice::Auto if accepted.avif => ImageFormat::Avif,
            FormatChoice::Auto if accepted.webp => ImageFormat::Webp,
            FormatChoice::Auto => source_family(source),
        };
        let lossless = matches!(format, ImageFormat::Png | ImageFormat::Gif) || self.ops.lossless;
        let letterboxed = self.fit == Fit::Contain && self.width.is_some() && self.height.is_some();
        let canvas = letterboxed || !self.ops.pad.is_none();
        let ops = Operations {
            interlace: self.ops.interlace && matches!(format, ImageFormat::Jpeg | ImageFormat::Png),
            ..self.ops
        };
        RenderSpec {
            width: self.width,
            height: self.height,
            fit: self.fit,
            gravity: self.gravity,
            enlarge: self.enlarge,
            // The background shows only in letterboxes and padding, and when alpha is flattened
            // for JPEG (which has no alpha of its own to give it).
            background: if !format.supports_alpha() {
                self.background.opaque()
            } else if canvas {
                self.background
            } else {
                Rgba::default()
            },
            format,
            quality: if lossless {
                images.default_quality
            } else {
                self.quality.unwrap_or_else(|| images.quality_for(format))
            },
            // Only GIF and WebP carry frames; a negotiated format is marked too, as its key
            // must differ from `anim=0`'s: an animated source gets [`Self::animated_spec`].
            animate: self.animate && (format.can_animate() || self.format == FormatChoice::Auto),
            ops,
        }
    }

    /// What `fmt=auto` renders instead when the source turns out to be animated and the
    /// negotiated format cannot carry frames: WebP when the client accepts it, else GIF.
    /// `None` when the spec already keeps the animation, or the request did not negotiate.
    /// `negotiated` is this transform's [`Self::render_spec`] for the same source and client.
    pub fn animated_spec(
        &self,
        negotiated: &RenderSpec,
        source: ImageFormat,
        accepted: Accepted,
        images: &ImageSettings,
    ) -> Option<RenderSpec> {
        if !negotiated.animate || negotiated.format.can_animate() {
            return None;
        }
        let format = if accepted.webp {
            ImageFormat::Webp
        } else {
            ImageFormat::Gif
        };
        let exact = Transform {
            format: FormatChoice::Exact(format),
            ..self.clone()
        };
        Some(exact.render_spec(source, accepted, images))
    }
}

/// The format `fmt=auto` falls back to for clients that accept neither AVIF nor WebP.
pub(super) fn source_family(source: ImageFormat) -> ImageFormat {
    match source {
        ImageFormat::Png | ImageFormat::Svg => ImageFormat::Png,
        ImageFormat::Gif => ImageFormat::Gif,
        ImageFormat::Jpeg | ImageFormat::Webp | ImageFormat::Avif => ImageFormat::Jpeg,
    }
}

/// The canonical text of a render: equal specs, equal text; it is hashed into cache keys and
/// ETags together with the source's content identity.
pub fn canonical_key(spec: &RenderSpec) -> String {
    let side = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    format!(
        "w={}&h={}&fit={}&g={}&q={}&bg={}&enlarge={}&fmt={}{}{}",
        side(spec.width),
        side(spec.height),
        spec.fit.name(),
        spec.gravity.name(),
        spec.quality,
        spec.background.hex(),
        u8::from(spec.enlarge),
        spec.format.name(),
        if spec.animate { "&anim=1" } else { "" },
        spec.ops.canonical()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, Settings};
    use crate::grammar::apply_path_params;

    fn images() -> ImageSettings {
        let dir = std::env::temp_dir();
        Settings::load(&LoadOptions::with_overrides([(
            "source.dir",
            dir.to_str().unwrap(),
        )]))
        .unwrap()
        .images
    }

    fn key(query: &str, path: &[&str], source: ImageFormat) -> String {
        let images = images();
        let mut params = parse_query(query, images.max_width, images.max_height).unwrap();
        let segments: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        apply_path_params(&mut params, &segments, images.max_width, images.max_height).unwrap();
        let t = Transform::from_params(params, &images).unwrap();
        canonical_key(&t.render_spec(source, Accepted::default(), &images))
    }

    #[test]
    fn spellings_share_one_key() {
        let j = ImageFormat::Jpeg;
        assert_eq!(key("w=400", &[], j), key("", &["400"], j));
        assert_eq!(
            key("w=800&h=600&fmt=webp&q=90", &[], j),
            key("", &["800x600", "webp", "q90"], j)
        );
        assert_eq!(key("fmt=jpg&w=10", &[], j), key("w=10&fmt=jpeg", &[], j));
        assert_eq!(key("w=400", &[], j), key("w=200&dpr=2", &[], j));
        assert_eq!(key("w=400&q=80", &[], j), key("w=400", &[], j));
        assert_eq!(
            key("w=400&fmt=original", &[], j),
            key("w=400&fmt=jpeg", &[], j)
        );
        assert_eq!(key("w=400&fit=fill&g=north", &[], j), key("w=400", &[], j));
        assert_eq!(
            key("w=400&fmt=png&q=10", &[], j),
            key("w=400&fmt=png", &[], j)
        );
        assert_ne!(
            key("w=400&h=300&fit=contain", &[], j),
            key("w=400&h=300", &[], j)
        );
    }

    #[test]
    fn operations_are_part_of_the_key_in_one_spelling() {
        let j = ImageFormat::Jpeg;
        let plain = key("w=400", &[], j);
        for q in [
            "w=400&crop=1,2,30,40",
            "w=400&crop=0.1,0.2,0.5,0.5",
            "w=400&trim=10",
            "w=400&rot=90",
            "w=400&flip=h",
            "w=400&blur=2",
            "w=400&sharpen=1",
            "w=400&pad=4",
            "w=400&interlace=1",
            "w=400&h=400&fp=0.2,0.3",
            "w=400&h=400&g=smart",
        ] {
            assert_ne!(key(q, &[], j), plain, "{q}");
        }
        assert_eq!(key("w=400&rot=180", &[], j), key("w=400&flip=hv", &[], j));
        assert_eq!(key("w=400&rot=0", &[], j), plain);
        assert_eq!(
            key("w=400&blur=2.50", &[], j),
            key("w=400&blur=2.5", &[], j)
        );
        assert_eq!(key("w=400&pad=3", &[], j), key("w=400&pad=3,3,3,3", &[], j));
        // What cannot matter is dropped: fp without a cover box, interlace for WebP, the
        // alpha of the background for JPEG, smart placement under contain.
        assert_eq!(key("w=400&fp=0.2,0.3", &[], j), plain);
        assert_eq!(
            key("w=400&fmt=webp&interlace=1", &[], j),
            key("w=400&fmt=webp", &[], j)
        );
        assert_eq!(
            key("w=400&pad=2&bg=00000080", &[], j),
            key("w=400&pad=2&bg=000000", &[], j)
        );
        assert_ne!(
            key("w=400&pad=2&bg=00000080&fmt=png", &[], j),
            key("w=400&pad=2&bg=000000&fmt=png", &[], j)
        );
        assert_eq!(
            key("w=400&h=300&fit=contain&g=smart", &[], j),
            key("w=400&h=300&fit=contain", &[], j)
        );
    }

    #[test]
    fn conflicting_operations_are_refused() {
        let images = images();
        let refused = |q: &str| transform(q, &images).unwrap_err().to_string();
        assert!(refused("w=4&h=4&fp=0.5,0.5&g=north").starts_with("fp and g cannot be combined"));
        assert!(refused("w=4&lossless=1").contains("fmt=webp"));
        assert!(refused("w=4&lossless=1&fmt=png").contains("fmt=webp"));
        assert!(transform("w=4&lossless=1&fmt=webp", &images).is_ok());
    }

    #[test]
    fn each_format_takes_its_configured_quality() {
        let mut images = images();
        images.quality.jpeg = 71;
        images.quality.webp = 72;
        images.quality.avif = 55;
        let t = transform("w=10", &images).unwrap();
        let q = |f: ImageFormat| t.render_spec(f, Accepted::default(), &images).quality;
        assert_eq!(
            (
                q(ImageFormat::Jpeg),
                q(ImageFormat::Webp),
                q(ImageFormat::Avif)
            ),
            (71, 72, 55)
        );
        let t = transform("w=10&q=90", &images).unwrap();
        assert_eq!(
            t.render_spec(ImageFormat::Webp, Accepted::default(), &images)
                .quality,
            90
        );
    }

    fn transform(query: &str, images: &ImageSettings) -> Result<Transform, RequestError> {
        Transform::from_params(parse_query(query, 4096, 4096).unwrap(), images)
    }

    #[test]
    fn presets_fill_in_under_explicit_values() {
        let mut images = images();
        images
            .presets
            .insert("thumb".into(), "w=200&h=100&fit=contain&fmt=webp".into());
        let t = transform("preset=thumb", &images).unwrap();
        assert_eq!(
            (t.width, t.height, t.fit),
            (Some(200), Some(100), Fit::Contain)
        );
        assert_eq!(t.format, FormatChoice::Exact(ImageFormat::Webp));
        let t = transform("preset=thumb&w=50", &images).unwrap();
        assert_eq!((t.width, t.height), (Some(50), Some(100)));
        assert_eq!(
            transform("preset=nope", &images),
            Err(RequestError::Invalid("unknown preset".into()))
        );
    }

    #[test]
    fn presets_only_refuses_everything_else() {
        let mut images = images();
        images.presets.insert("thumb".into(), "w=200".into());
        images.presets_only = true;
        assert!(transform("preset=thumb", &images).is_ok());
        assert!(transform("preset=thumb&s=abc", &images).is_ok());
        assert!(transform("w=200", &images).is_err());
        assert!(transform("preset=thumb&w=201", &images).is_err());
        assert!(transform("preset=thumb&dpr=2", &images).is_err());
    }

    #[test]
    fn allowed_sizes_apply_to_the_rendered_size() {
        let mut images = images();
        images.allowed_widths = vec![320, 640];
        images.allowed_heights = vec![100];
        images.presets.insert("odd".into(), "w=333".into());
        assert_eq!(transform("w=320", &images).unwrap().width, Some(320));
        assert_eq!(transform("w=320&dpr=2", &images).unwrap().width, Some(640));
        assert_eq!(
            transform("w=320&dpr=1.5", &images),
            Err(RequestError::Invalid(
                "w x dpr must be one of 320, 640".into()
            ))
        );
        assert!(transform("w=321", &images).is_err());
        assert!(transform("h=99", &images).is_err());
        assert_eq!(
            transform("preset=odd", &images).unwrap().width,
            Some(333),
            "a preset's own size is the operator's choice"
        );
        assert!(transform("preset=odd&dpr=2", &images).is_err());
        images.snap_to_allowed = true;
        assert_eq!(transform("w=321", &images).unwrap().width, Some(640));
        assert_eq!(transform("w=4000", &images).unwrap().width, Some(640));
        assert_eq!(
            transform("w=300&dpr=1.5", &images).unwrap().width,
            Some(640)
        );
        assert_eq!(transform("h=7", &images).unwrap().height, Some(100));
    }

    #[test]
    fn dpr_never_exceeds_the_ceiling() {
        let images = images();
        let p = parse_query("w=4000&h=1000&dpr=4", 4096, 4096).unwrap();
        let t = Transform::from_params(p, &images).unwrap();
        assert_eq!((t.width, t.height), (Some(4096), Some(1024)));
    }

    #[test]
    fn auto_prefers_avif_then_webp_then_family() {
        let images = images();
        let t = Transform::from_params(parse_query("fmt=auto&w=10", 4096, 4096).unwrap(), &images)
            .unwrap();
        let both = Accepted {
            avif: true,
            webp: true,
        };
        assert_eq!(
            t.render_spec(ImageFormat::Jpeg, both, &images).format,
            ImageFormat::Avif
        );
        let webp = Accepted {
            avif: false,
            webp: true,
        };
        assert_eq!(
            t.render_spec(ImageFormat::Jpeg, webp, &images).format,
            ImageFormat::Webp
        );
        assert_eq!(
            t.render_spec(ImageFormat::Png, Accepted::default(), &images)
                .format,
            ImageFormat::Png
        );
        assert_eq!(
            t.render_spec(ImageFormat::Webp, Accepted::default(), &images)
                .format,
            ImageFormat::Jpeg
        );
        assert!(t.negotiates());
    }
}

/// The identity of one variant of one source version: what the cache stores it under and what
/// its strong ETag is made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantKey(String);

impl VariantKey {
    /// The variant `spec` of the source whose content identity is `content_id`; `instead`, for a
    /// negotiated request, what it may render once the source is read (an AVIF over its area
    /// limit, a still format for an animation).
    pub fn for_render(content_id: &str, spec: &RenderSpec, instead: &[&RenderSpec]) -> Self {
        let mut canonical = canonical_key(spec);
        for other in instead {
            canonical.push_str("|or|");
            canonical.push_str(&canonical_key(other));
        }
        Self::digest(content_id, &canonical)
    }

    /// The untouched original of the source whose content identity is `content_id`.
    pub fn for_original(content_id: &str) -> Self {
        Self::digest(content_id, "original")
    }

    /// The placeholders of the source whose content identity is `content_id` (the version in
    /// the name: a change of how they are computed must not serve the old ones from disk).
    pub fn for_placeholder(content_id: &str) -> Self {
        Self::digest(content_id, "placeholder/1")
    }

    /// The sanitised text of an SVG original (versioned like placeholders: a stricter
    /// sanitiser must not serve what an older one let through).
    pub fn for_sanitized_svg(content_id: &str) -> Self {
        Self::digest(content_id, "svg-sanitized/1")
    }

    fn digest(content_id: &str, canonical: &str) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(content_id.as_bytes());
        h.update([0]);
        h.update(canonical.as_bytes());
        VariantKey(hex::encode(&h.finalize()[..20]))
    }

    /// Lower-case hex, safe as a file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The strong ETag (quoted).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.0)
    }
}
