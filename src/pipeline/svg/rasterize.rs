//! Rasterising with resvg, from the sanitised document, at the scale the render needs: the
//! region the layout resamples comes out at (about) its output size, so a 24 px icon asked for
//! at 1000 px is drawn at 1000 px, not enlarged from 24. Nothing outside the document is read:
//! usvg's image resolvers are replaced by ones that load nothing, and fonts come from memory.

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, ImageHrefResolver};

use super::{fonts, sanitize};
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::decode::Target;
use crate::pipeline::header::Header;
use crate::pipeline::{PipelineError, PipelineSettings};

/// The raster's size for `target`: each axis scaled so the crop region spans its resampled
/// size, within `images.max_source_pixels` (beyond it the raster shrinks and the resample
/// enlarges the rest).
pub fn raster_size(header: &Header, target: &Target, settings: &PipelineSettings) -> (u32, u32) {
    let axis = |side: u32, crop: f64, scaled: u32| {
        let scale = f64::from(scaled.max(1)) / crop.max(f64::MIN_POSITIVE);
        (f64::from(side) * scale)
            .round()
            .clamp(1.0, f64::from(u32::MAX))
    };
    let mut w = axis(header.width, target.crop.width, target.scaled.0);
    let mut h = axis(header.height, target.crop.height, target.scaled.1);
    let cap = settings.max_source_pixels.max(1) as f64;
    if w * h > cap {
        let shrink = (cap / (w * h)).sqrt();
        w = (w * shrink).floor().max(1.0);
        h = (h * shrink).floor().max(1.0);
    }
    (w as u32, h as u32)
}

/// Draws `bytes` (an SVG whose header is `header`) at [`raster_size`], as straight RGBA.
pub fn rasterize(
    bytes: &[u8],
    header: &Header,
    target: &Target,
    settings: &PipelineSettings,
) -> Result<Bitmap, PipelineError> {
    let clean = sanitize(bytes, &settings.svg)?;
    let options = usvg::Options {
        resources_dir: None,
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        fontdb: fonts::database(settings.svg.fonts_dir.as_deref()),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(&clean, &options)
        .map_err(|e| PipelineError::Unsupported(format!("svg: {e}")))?;
    let (width, height) = raster_size(header, target, settings);
    let mut pixmap = Pixmap::new(width, height).ok_or_else(|| {
        PipelineError::Internal(anyhow::anyhow!("no {width}x{height} pixmap for an SVG"))
    })?;
    // The whole canvas onto the whole raster: the header's size is the canvas's, rounded.
    let size = tree.size();
    let transform =
        Transform::from_scale(width as f32 / size.width(), height as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    let mut data = pixmap.take();
    unpremultiply(&mut data);
    Bitmap::new(width, height, 4, data).map_err(PipelineError::Internal)
}

/// tiny-skia's pixels are premultiplied; the pipeline's are straight.
fn unpremultiply(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
}
