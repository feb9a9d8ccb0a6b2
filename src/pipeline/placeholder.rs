//! What a page shows while the real image loads, from one small render of the source: a
//! ThumbHash and a BlurHash (the `thumbhash` and `blurhash` crates' encoders), the dominant
//! colour, and a tiny WebP as a `data:` URL (LQIP).
//!
//! The pixels come from the render steps themselves ([`render_pixels`](super::render_pixels)):
//! the same orientation, colour conversion and shrink-on-load as any variant, at 100 px on the
//! long side (ThumbHash's limit), decoded with the `fast` shrink-on-load rule since a preview
//! needs no more detail than its own size.

use anyhow::Context;
use base64::Engine;

use super::bitmap::Bitmap;
use super::spec::{Fit, ImageFormat, PipelineSettings, RenderSpec, ShrinkOnLoad};
use super::{encode, render_pixels, resize, PipelineError, RenderCost};

/// The long side of the pixels the hashes and the colour are computed from.
const HASH_SIDE: u32 = 100;
/// The long side of the LQIP.
pub const LQIP_SIDE: u32 = 32;
/// The LQIP is re-encoded at lower qualities until it fits (a `data:` URL inlined in a page).
pub const LQIP_MAX_BYTES: usize = 1024;
const LQIP_QUALITIES: [u8; 4] = [50, 35, 20, 5];
/// BlurHash components across and down: the usual 4x3 of the reference implementation.
const BLURHASH_COMPONENTS: (u32, u32) = (4, 3);

/// A source's placeholders, as `/info/{path}?placeholder=1` reports them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placeholder {
    /// Standard base64 of the ThumbHash bytes.
    pub thumbhash: String,
    pub blurhash: String,
    /// `#rrggbb`: the centre of the most populated colour bin, alpha-weighted.
    pub dominant_color: String,
    /// `data:image/webp;base64,...`, at most [`LQIP_SIDE`] px on the long side.
    pub lqip: String,
}

/// The render placeholders are computed from: the whole image inside 100x100, never enlarged,
/// alpha kept.
fn spec() -> RenderSpec {
    RenderSpec {
        fit: Fit::Inside,
        ..RenderSpec::resize(Some(HASH_SIDE), Some(HASH_SIDE), ImageFormat::Webp)
    }
}

/// The settings of that render: the service's, with the `fast` shrink-on-load rule.
fn render_settings(settings: &PipelineSettings) -> PipelineSettings {
    PipelineSettings {
        shrink_on_load: ShrinkOnLoad::Fast,
        ..settings.clone()
    }
}

/// The estimated cost of [`placeholder`], from the header alone, as any render's is estimated.
pub fn placeholder_cost(
    bytes: &[u8],
    settings: &PipelineSettings,
) -> Result<RenderCost, PipelineError> {
    super::assess(bytes, &spec(), &render_settings(settings))
}

/// Computes the placeholders of `bytes` (the source limits of `settings` apply).
pub fn placeholder(
    bytes: &[u8],
    settings: &PipelineSettings,
) -> Result<Placeholder, PipelineError> {
    let settings = render_settings(settings);
    let small = render_pixels(bytes, &spec(), &settings)?;
    let rgba = rgba(small.clone());
    let (w, h) = (small.width, small.height);
    let thumbhash = thumbhash::rgba_to_thumb_hash(w as usize, h as usize, &rgba);
    let (cx, cy) = BLURHASH_COMPONENTS;
    let blurhash = blurhash::encode(cx, cy, w, h, &rgba).context("blurhash")?;
    Ok(Placeholder {
        thumbhash: base64::engine::general_purpose::STANDARD.encode(thumbhash),
        blurhash,
        dominant_color: dominant_color(&rgba),
        lqip: lqip(small, &settings)?,
    })
}

/// RGBA bytes of any bitmap (grey expanded, opaque alpha added).
fn rgba(bitmap: Bitmap) -> Vec<u8> {
    let bitmap = bitmap.into_rgb_family();
    match bitmap.channels {
        4 => bitmap.data,
        _ => bitmap
            .data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
    }
}

/// The colour most of the image is: pixels binned by their top 4 bits per channel, each weighed
/// by its alpha; the mean colour of the heaviest bin. Unlike the mean of all pixels, a photo of
/// a red car on grey tarmac comes out grey or red, never a brown that is in neither.
fn dominant_color(rgba: &[u8]) -> String {
    const BINS: usize = 16 * 16 * 16;
    let mut weight = vec![0u64; BINS];
    let mut sums = vec![[0u64; 3]; BINS];
    for p in rgba.chunks_exact(4) {
        let bin =
            (usize::from(p[0] >> 4) << 8) | (usize::from(p[1] >> 4) << 4) | usize::from(p[2] >> 4);
        let a = u64::from(p[3]);
        weight[bin] += a;
        for (sum, &v) in sums[bin].iter_mut().zip(p) {
            *sum += a * u64::from(v);
        }
    }
    let (best, &w) = weight
        .iter()
        .enumerate()
        .max_by_key(|&(_, w)| *w)
        .expect("4096 bins");
    if w == 0 {
        // Fully transparent: there is no colour to speak of.
        return "#000000".to_string();
    }
    let [r, g, b] = sums[best].map(|s| ((s + w / 2) / w) as u8);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The tiny WebP, lowered in quality until it fits in [`LQIP_MAX_BYTES`].
fn lqip(small: Bitmap, settings: &PipelineSettings) -> Result<String, PipelineError> {
    let long = small.width.max(small.height);
    let scale = f64::from(LQIP_SIDE.min(long)) / f64::from(long);
    let w = ((f64::from(small.width) * scale).round() as u32).max(1);
    let h = ((f64::from(small.height) * scale).round() as u32).max(1);
    let tiny = resize::resize_whole(small, w, h)?;
    let mut webp = Vec::new();
    for quality in LQIP_QUALITIES {
        webp = encode::encode(
            &tiny,
            ImageFormat::Webp,
            encode::Options::lossy(quality),
            settings,
        )
        .context("encoding the LQIP")?;
        if webp.len() <= LQIP_MAX_BYTES {
            break;
        }
    }
    Ok(format!(
        "data:image/webp;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(webp)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(rgba: [u8; 4], n: usize) -> Vec<u8> {
        rgba.repeat(n)
    }

    #[test]
    fn the_dominant_colour_is_the_largest_area_not_the_mean() {
        // 70 % grey tarmac, 30 % red car: the mean (a brown) is in neither.
        let mut pixels = solid([120, 120, 120, 255], 70);
        pixels.extend(solid([220, 20, 30, 255], 30));
        assert_eq!(dominant_color(&pixels), "#787878");
    }

    #[test]
    fn transparent_pixels_do_not_count() {
        let mut pixels = solid([0, 0, 255, 0], 90);
        pixels.extend(solid([10, 200, 10, 255], 10));
        assert_eq!(dominant_color(&pixels), "#0ac80a");
        assert_eq!(dominant_color(&solid([5, 5, 5, 0], 4)), "#000000");
    }
}
