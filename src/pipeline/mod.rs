//! The render pipeline: plain synchronous functions that turn source bytes into an encoded
//! variant. No actix or async types here; callers run these on the render pool. One render uses
//! one core.
//!
//! [`render`] runs the steps in this order, each in its own file:
//!
//! 1. [`sniff`](fn@sniff) the format from the magic number (`sniff.rs`);
//! 2. read the header (`header/`) and check the source limits before anything is allocated
//!    (`limits.rs`);
//! 3. plan the geometry on the displayed (EXIF-oriented) size (`geometry.rs`) and check the
//!    output limits (`cost.rs`);
//! 4. decode, shrinking on load where the format allows (`decode/`);
//! 5. resample the planned region *in the stored orientation* (`resize.rs`);
//! 6. convert the small result to sRGB (`color.rs`);
//! 7. orient it (`orient.rs`, from `exif.rs`);
//! 8. letterbox or flatten onto the background (`compose.rs`);
//! 9. encode without metadata (`encode/`).
//!
//! [`assess`] runs steps 1-3 only, to estimate a render's cost before it is admitted
//! (`cost.rs`); [`probe`] runs steps 1-2 (for `/info/`).

pub mod geometry;
pub mod spec;

mod bitmap;
mod color;
mod compose;
mod cost;
mod decode;
mod encode;
mod exif;
mod header;
mod limits;
mod orient;
mod resize;
mod sniff;

pub use cost::RenderCost;
pub use spec::{
    Fit, Gravity, ImageFormat, PipelineSettings, RenderSpec, Rendered, Rgb, ShrinkOnLoad,
    SourceInfo,
};

use anyhow::Context;

/// Why a render or probe failed. `Unsupported` and `TooLarge` are the client's (HTTP 422),
/// `OutputTooLarge` the request's (HTTP 400); `Internal` is ours (HTTP 500, cause logged,
/// never shown).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("unsupported source: {0}")]
    Unsupported(String),
    #[error("source too large: {0}")]
    TooLarge(String),
    /// The requested output is beyond a configured bound (the request's fault: HTTP 400).
    #[error("output too large: {0}")]
    OutputTooLarge(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The format of `bytes` by their magic number (never by file name), if it is one we decode.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    sniff::sniff(bytes)
}

/// Reads the header: format, displayed size, alpha, frames. Applies the source limits.
pub fn probe(bytes: &[u8], settings: &PipelineSettings) -> Result<SourceInfo, PipelineError> {
    let header = checked_header(bytes, settings, false)?;
    let (width, height) = header.displayed_size();
    Ok(SourceInfo {
        format: header.format,
        width,
        height,
        has_alpha: header.has_alpha,
        frames: header.frames,
    })
}

fn checked_header(
    bytes: &[u8],
    settings: &PipelineSettings,
    animate: bool,
) -> Result<header::Header, PipelineError> {
    limits::check_bytes(bytes.len(), settings)?;
    let format = sniff(bytes).ok_or_else(|| {
        PipelineError::Unsupported("not a JPEG, PNG, GIF, WebP or AVIF image".into())
    })?;
    let header = header::read(bytes, format)?;
    limits::check_header(&header, settings, animate)?;
    Ok(header)
}

/// Estimates what rendering `bytes` according to `spec` costs, from the header alone (no pixel
/// is decoded), and applies the output limits ([`PipelineError::OutputTooLarge`]).
pub fn assess(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<RenderCost, PipelineError> {
    let planned = plan_render(bytes, spec, settings)?;
    Ok(cost::estimate(
        &planned.header,
        &planned.target,
        planned.plan.canvas,
        spec,
        settings,
    ))
}

/// A render decided on but not started: the checked header, the geometry, the decode target.
struct Planned {
    header: header::Header,
    plan: geometry::Plan,
    target: decode::Target,
}

fn plan_render(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Planned, PipelineError> {
    let header = checked_header(bytes, settings, spec.animate)?;
    let (dw, dh) = header.displayed_size();
    let plan = geometry::plan(
        dw,
        dh,
        &geometry::Request {
            width: spec.width,
            height: spec.height,
            fit: spec.fit,
            gravity: spec.gravity,
            enlarge: spec.enlarge,
            max_width: settings.max_width,
            max_height: settings.max_height,
        },
    );
    cost::check_output(spec.format, plan.canvas, settings)?;

    // Work in the stored orientation until the image is small.
    let (sw, sh) = (f64::from(header.width), f64::from(header.height));
    let crop = orient::rect_to_stored(plan.crop, header.orientation, sw, sh);
    let scaled = if exif::swaps_axes(header.orientation) {
        (plan.scaled.1, plan.scaled.0)
    } else {
        plan.scaled
    };
    let target = decode::Target {
        crop,
        scaled,
        eighths: None,
        shrink_on_load: settings.shrink_on_load,
    };
    Ok(Planned {
        header,
        plan,
        target,
    })
}

/// Renders `bytes` according to `spec`.
pub fn render(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Rendered, PipelineError> {
    let Planned {
        header,
        plan,
        target,
    } = plan_render(bytes, spec, settings)?;
    let (crop, scaled) = (target.crop, target.scaled);
    let (sw, sh) = (f64::from(header.width), f64::from(header.height));
    let decoded = decode::decode(bytes, &header, &target, settings)?;

    // The decoder may have shrunk on load: bring the crop into decoded pixels.
    let bitmap = decoded.bitmap;
    let (fx, fy) = (f64::from(bitmap.width) / sw, f64::from(bitmap.height) / sh);
    let crop = geometry::Rect {
        x: crop.x * fx,
        y: crop.y * fy,
        width: crop.width * fx,
        height: crop.height * fy,
    };
    let mut image = resize::resize(bitmap, crop, scaled.0, scaled.1)?;
    if let Some(icc) = &decoded.icc {
        image = color::to_srgb(image, icc);
    }
    image = orient::apply(image, header.orientation);

    if plan.letterboxed() {
        image = compose::letterbox(image, plan.canvas, plan.offset, spec.background);
    }
    if image.has_alpha() && (!spec.format.supports_alpha() || image.is_opaque()) {
        // Opaque alpha is dropped too: smaller, faster output with the same pixels.
        image = compose::flatten(image, spec.background);
    }
    let bytes = encode::encode(&image, spec.format, spec.quality, settings)
        .with_context(|| format!("encoding {}x{} {}", image.width, image.height, spec.format))?;
    Ok(Rendered {
        bytes,
        format: spec.format,
        width: image.width,
        height: image.height,
    })
}

/// The individual steps, public only so that `benches/` can time each one. Not an API.
#[doc(hidden)]
pub mod steps {
    pub use super::bitmap::Bitmap;
    use super::*;

    /// Decodes at `eighths`/8 of the source's size (1 to 8; JPEG only, others decode whole).
    pub fn decode(bytes: &[u8], eighths: u32) -> Result<Bitmap, PipelineError> {
        let settings = PipelineSettings::default();
        let header = checked_header(bytes, &settings, false)?;
        let (w, h) = (f64::from(header.width), f64::from(header.height));
        let crop = geometry::Rect {
            x: 0.0,
            y: 0.0,
            width: w,
            height: h,
        };
        let target = decode::Target {
            crop,
            scaled: (1, 1),
            eighths: Some(eighths),
            shrink_on_load: settings.shrink_on_load,
        };
        Ok(decode::decode(bytes, &header, &target, &settings)?.bitmap)
    }

    /// Lanczos3 resample of the whole bitmap.
    pub fn resize(bitmap: Bitmap, width: u32, height: u32) -> Bitmap {
        let (w, h) = (f64::from(bitmap.width), f64::from(bitmap.height));
        let crop = geometry::Rect {
            x: 0.0,
            y: 0.0,
            width: w,
            height: h,
        };
        resize::resize(bitmap, crop, width, height).expect("resize")
    }

    pub fn encode(bitmap: &Bitmap, format: ImageFormat, settings: &PipelineSettings) -> Vec<u8> {
        encode::encode(bitmap, format, 80, settings).expect("encode")
    }

    /// ICC conversion of an RGB bitmap with the profile `icc`.
    pub fn to_srgb(bitmap: Bitmap, icc: &[u8]) -> Bitmap {
        color::to_srgb(bitmap, icc)
    }
}
