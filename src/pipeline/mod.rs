//! The render pipeline: plain synchronous functions that turn source bytes into an encoded
//! variant. No actix or async types here; callers run these on the render pool. One render uses
//! one core.
//!
//! [`render`] runs the steps in this order, each in its own file:
//!
//! 1. [`sniff`](fn@sniff) the format from the magic number, or an SVG's prolog (`sniff.rs`);
//! 2. read the header (`header/`; an SVG's size from its parsed root, `svg/`) and check the
//!    source limits before anything is allocated (`limits.rs`);
//! 3. lay the render out (`layout.rs`): the crop (`crop.rs`), the rotation and flip composed
//!    with the EXIF orientation (`orient.rs`), the fit plan with its gravity or focal point
//!    (`geometry.rs`), all carried back to one region of the stored source; check the output
//!    limits (`cost.rs`);
//! 4. decode, shrinking on load where the format allows (`decode/`; an SVG is sanitised and
//!    rasterised at the scale the layout needs, `svg/`); with `trim`, at full size, find the
//!    border (`trim.rs`) and lay out again inside what it leaves;
//! 5. with `g=smart`, choose the window by content (`smart.rs`);
//! 6. resample the region *in the stored orientation* (`resize.rs`);
//! 7. convert the small result to sRGB (`color.rs`);
//! 8. turn it once: EXIF orientation, rotation, flip (`orient.rs`, from `exif.rs`);
//! 9. letterbox `contain` onto the background (`compose.rs`);
//! 10. blur, sharpen (`filter.rs`);
//! 11. pad, then flatten alpha for outputs without it (`compose.rs`);
//! 12. encode without metadata, progressive or lossless when asked (`encode/`).
//!
//! An animated GIF or WebP rendered to GIF or WebP keeps its frames (`animation.rs`): the
//! frames are composed as they show (`decode/frames.rs`), steps 4-5 are decided on the first
//! and steps 6-11 run on every frame alike, each encoded as it comes with its duration and
//! the loop count. Other outputs, and `anim=0`, take the first frame.
//!
//! In the request's terms that is the documented order: orient, trim, crop, rotate/flip,
//! resize (fit, gravity, focal point, smart), blur/sharpen, pad, flatten, encode. Orienting
//! first and resampling last are the same pixels as this order's resample-then-turn: a turn
//! moves pixels without changing them, and the region resampled is the one the order names.
//!
//! [`placeholder`] runs steps 1-11 for a 100 px render of the whole image, then computes the
//! placeholders from its pixels instead of step 12 (`placeholder.rs`).
//!
//! [`sanitize_svg`] runs steps 1-2 and then, instead of decoding, writes the SVG's allowlisted
//! text: what an SVG original is served as.
//!
//! [`assess`] runs steps 1-3 only, to estimate a render's cost before it is admitted
//! (`cost.rs`); [`probe`] runs steps 1-2 (for `/info/`), and [`outputs`] steps 1-3 for any
//! number of specs (for `/srcset/`).

pub mod geometry;
pub mod spec;

mod animation;
mod bitmap;
mod color;
mod compose;
mod cost;
mod crop;
mod decode;
mod encode;
mod exif;
mod filter;
mod header;
mod layout;
mod limits;
mod operations;
mod orient;
mod placeholder;
mod resize;
mod smart;
mod sniff;
mod svg;
mod trim;

pub use cost::RenderCost;
pub use operations::MILLION;
pub use placeholder::{placeholder, placeholder_cost, Placeholder};
pub use spec::{
    Crop, Fit, Flip, Focus, Gravity, ImageFormat, Operations, Padding, PipelineSettings,
    RenderSpec, Rendered, Rgba, Rotation, ShrinkOnLoad, Sigma, SourceInfo,
};
pub use svg::SvgSettings;

/// How many leading bytes [`sniff`](fn@sniff) looks at: enough for every binary signature and
/// for an SVG's prolog (XML declaration, comments, doctype).
pub const SNIFF_BYTES: usize = svg::SNIFF_WINDOW;

use anyhow::Context;

/// Why a render or probe failed. `Unsupported` and `TooLarge` are the client's (HTTP 422),
/// `OutputTooLarge` and `BadRequest` the request's (HTTP 400); `Internal` is ours (HTTP 500,
/// cause logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("unsupported source: {0}")]
    Unsupported(String),
    #[error("source too large: {0}")]
    TooLarge(String),
    /// The requested output is beyond a configured bound (the request's fault: HTTP 400).
    #[error("output too large: {0}")]
    OutputTooLarge(String),
    /// The request asks for something this source cannot give (a crop outside it).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The format of `bytes` by their magic number or, for SVG, their XML prolog (never by file
/// name), if it is one we decode.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    sniff::sniff(bytes)
}

/// Reads the header: format, displayed size, alpha, frames. Applies the source limits.
pub fn probe(bytes: &[u8], settings: &PipelineSettings) -> Result<SourceInfo, PipelineError> {
    Ok(outputs(bytes, settings)?.info())
}

/// The sanitised text of an SVG source (what `/img/a.svg` serves), within the source limits
/// and `settings.svg`'s: only allowlisted elements and attributes, no script, event handler,
/// external reference, `foreignObject` or entity (`svg/sanitize.rs`).
pub fn sanitize_svg(bytes: &[u8], settings: &PipelineSettings) -> Result<Vec<u8>, PipelineError> {
    // The source limits apply as to any original: a 100000 px wide SVG is refused here too.
    let header = checked_header(bytes, settings, false)?;
    if header.format != ImageFormat::Svg {
        return Err(PipelineError::Unsupported("not an SVG document".into()));
    }
    Ok(svg::sanitize(bytes, &settings.svg)?.into_bytes())
}

/// What sanitising `bytes` costs, for the render pool: linear in the text.
pub fn sanitize_svg_cost(bytes: &[u8]) -> RenderCost {
    RenderCost {
        decoded_pixels: 0,
        output_pixels: 0,
        // Parsing, filtering and writing run at tens of MB/s; 100 ns a byte is generous.
        cpu: std::time::Duration::from_nanos(bytes.len() as u64 * 100),
    }
}

/// Reads the header once (the source limits applied), to lay out several renders of it without
/// a pixel decoded: what `/srcset` needs to state each candidate's true size.
pub fn outputs(bytes: &[u8], settings: &PipelineSettings) -> Result<Outputs, PipelineError> {
    Ok(Outputs {
        header: checked_header(bytes, settings, false)?,
    })
}

/// A checked header, from [`outputs`].
#[derive(Debug, Clone)]
pub struct Outputs {
    header: header::Header,
}

impl Outputs {
    pub fn info(&self) -> SourceInfo {
        let (width, height) = self.header.displayed_size();
        SourceInfo {
            format: self.header.format,
            width,
            height,
            has_alpha: self.header.has_alpha,
            frames: self.header.frames,
            animated: self.header.animated(),
        }
    }

    /// The size of the image `spec` renders (padding included), its output limits checked.
    /// With `trim` it is an upper bound: the border trim removes is known only from pixels.
    pub fn size_of(
        &self,
        spec: &RenderSpec,
        settings: &PipelineSettings,
    ) -> Result<(u32, u32), PipelineError> {
        let layout = layout::layout(&self.header, None, spec, settings)?;
        cost::check_output(spec.format, layout.canvas, settings)?;
        Ok(layout.canvas)
    }
}

fn checked_header(
    bytes: &[u8],
    settings: &PipelineSettings,
    animate: bool,
) -> Result<header::Header, PipelineError> {
    limits::check_bytes(bytes.len(), settings)?;
    let format = sniff(bytes).ok_or_else(|| {
        PipelineError::Unsupported("not a JPEG, PNG, GIF, WebP, AVIF or SVG image".into())
    })?;
    let header = match format {
        // An SVG's size needs the whole document, parsed within its own limits.
        ImageFormat::Svg => svg::header(bytes, &settings.svg)?,
        _ => header::read(bytes, format)?,
    };
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
    let one = cost::estimate(
        &planned.header,
        &planned.target,
        &planned.layout,
        spec,
        settings,
    );
    Ok(one.times(planned.frames))
}

/// A render decided on but not started: the checked header, the layout, the decode target,
/// and how many frames it will encode (1 for a still, or a still output of an animation).
struct Planned {
    header: header::Header,
    layout: layout::Layout,
    target: decode::Target,
    frames: u32,
}

fn plan_render(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Planned, PipelineError> {
    let animate = spec.animate && spec.format.can_animate();
    let header = checked_header(bytes, settings, animate)?;
    let animate = animate && header.animated();
    let layout = layout::layout(&header, None, spec, settings)?;
    cost::check_output(spec.format, layout.canvas, settings)?;
    let frames = if animate { header.frames } else { 1 };
    if frames > 1 {
        limits::check_animation(frames, layout.canvas, settings)?;
    }
    let target = decode::Target {
        crop: layout.stored,
        scaled: layout.scaled,
        // Trim needs every pixel: the region it leaves, and so the scale, is not known yet.
        eighths: spec.ops.trim.map(|_| 8),
        shrink_on_load: settings.shrink_on_load,
    };
    Ok(Planned {
        header,
        layout,
        target,
        frames,
    })
}

/// Renders `bytes` according to `spec`: every frame of an animated source when `spec` keeps
/// the animation and its format carries frames (`animation.rs`), else one image.
pub fn render(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<Rendered, PipelineError> {
    let planned = plan_render(bytes, spec, settings)?;
    let options = encode_options(spec);
    let (bytes, width, height) = if planned.frames > 1 {
        animation::render(bytes, planned, spec, options, settings)?
    } else {
        let image = still_pixels(bytes, planned, spec, settings)?;
        let encoded =
            encode::encode(&image, spec.format, options, settings).with_context(|| {
                format!("encoding {}x{} {}", image.width, image.height, spec.format)
            })?;
        (encoded, image.width, image.height)
    };
    Ok(Rendered {
        bytes,
        format: spec.format,
        width,
        height,
    })
}

fn encode_options(spec: &RenderSpec) -> encode::Options {
    encode::Options {
        quality: spec.quality,
        interlace: spec.ops.interlace,
        lossless: spec.ops.lossless,
    }
}

/// Steps 1 to 11 of a still: the pixels `spec` asks for, ready for its encoder.
fn render_pixels(
    bytes: &[u8],
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<bitmap::Bitmap, PipelineError> {
    let planned = plan_render(bytes, spec, settings)?;
    still_pixels(bytes, planned, spec, settings)
}

fn still_pixels(
    bytes: &[u8],
    planned: Planned,
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> Result<bitmap::Bitmap, PipelineError> {
    let decoded = decode::decode(bytes, &planned.header, &planned.target, settings)?;
    let window = Window::of(
        &decoded.bitmap,
        &planned.header,
        planned.layout,
        spec,
        settings,
    )?;
    window.finish(decoded.bitmap, decoded.icc.as_deref(), spec)
}

/// Where a decoded image is cut and how it is laid out: steps 4 (trim) and 5 (smart crop),
/// decided on one bitmap (an animation's first frame) and applied to every frame alike.
struct Window {
    layout: layout::Layout,
    /// The region to resample, in decoded pixels.
    crop: geometry::Rect,
}

impl Window {
    fn of(
        bitmap: &bitmap::Bitmap,
        header: &header::Header,
        mut layout: layout::Layout,
        spec: &RenderSpec,
        settings: &PipelineSettings,
    ) -> Result<Self, PipelineError> {
        if let Some(tolerance) = spec.ops.trim {
            let kept = trim::trimmed(bitmap, header.orientation, tolerance);
            layout = layout::layout(header, Some(kept), spec, settings)?;
            cost::check_output(spec.format, layout.canvas, settings)?;
        }
        // The decoder may have shrunk on load: bring the regions into decoded pixels.
        let (sw, sh) = (f64::from(header.width), f64::from(header.height));
        let (fx, fy) = (f64::from(bitmap.width) / sw, f64::from(bitmap.height) / sh);
        let decoded_rect = |r: geometry::Rect| geometry::Rect {
            x: r.x * fx,
            y: r.y * fy,
            width: r.width * fx,
            height: r.height * fy,
        };
        let mut crop = decoded_rect(layout.stored);
        if let Some(region) = layout.smart_region {
            crop = smart::window(bitmap, decoded_rect(region), (crop.width, crop.height))?;
        }
        Ok(Self { layout, crop })
    }

    /// Steps 6 to 11 on one decoded image (a still, or a frame of an animation).
    fn finish(
        &self,
        bitmap: bitmap::Bitmap,
        icc: Option<&[u8]>,
        spec: &RenderSpec,
    ) -> Result<bitmap::Bitmap, PipelineError> {
        let layout = &self.layout;
        let (width, height) = layout.scaled;
        let mut image = resize::resize(bitmap, self.crop, width, height)?;
        if let Some(icc) = icc {
            image = color::to_srgb(image, icc);
        }
        image = orient::apply(image, layout.orientation);

        let plan = layout.plan;
        if plan.letterboxed() {
            image = compose::letterbox(image, plan.canvas, plan.offset, spec.background);
        }
        if let Some(sigma) = spec.ops.blur {
            image = filter::blur(image, sigma.pixels())?;
        }
        if let Some(sigma) = spec.ops.sharpen {
            image = filter::sharpen(image, sigma.pixels())?;
        }
        if !spec.ops.pad.is_none() {
            image = compose::pad(image, spec.ops.pad, spec.background);
        }
        if image.has_alpha() && (!spec.format.supports_alpha() || image.is_opaque()) {
            // Opaque alpha is dropped too: smaller, faster output with the same pixels.
            image = compose::flatten(image, spec.background);
        }
        Ok(image)
    }
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
        resize::resize_whole(bitmap, width, height).expect("resize")
    }

    pub fn encode(bitmap: &Bitmap, format: ImageFormat, settings: &PipelineSettings) -> Vec<u8> {
        encode::encode(bitmap, format, encode::Options::lossy(80), settings).expect("encode")
    }

    /// Gaussian blur of `sigma` pixels.
    pub fn blur(bitmap: Bitmap, sigma: f64) -> Bitmap {
        filter::blur(bitmap, sigma).expect("blur")
    }

    /// Unsharp mask of `sigma` pixels.
    pub fn sharpen(bitmap: Bitmap, sigma: f64) -> Bitmap {
        filter::sharpen(bitmap, sigma).expect("sharpen")
    }

    /// ICC conversion of an RGB bitmap with the profile `icc`.
    pub fn to_srgb(bitmap: Bitmap, icc: &[u8]) -> Bitmap {
        color::to_srgb(bitmap, icc)
    }
}
