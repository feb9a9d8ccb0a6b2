//! What a render will cost, estimated from the header and the plan before any pixel is decoded
//! (so the render pool can tell heavy renders from light ones before admitting them), and the
//! bound on the output area of AVIF, whose encoder costs tens of times more per pixel than the
//! others.
//!
//! The estimate is single-core CPU time: decoded pixels (after shrink-on-load; all of them for
//! `trim`) times the decoder's price, resampled pixels times the resampler's, the scans of
//! `trim` and `g=smart` over the decoded pixels, blur and sharpen by their kernel over the
//! output, and output pixels (padding included) times the encoder's at its configured effort. The prices are the release build's on one core of the
//! 2-core development machine (benches/README.md); they are an order of magnitude, good
//! enough to tell a thumbnail from a large AVIF, not a prediction (the test profile runs several
//! times slower).

use std::time::Duration;

use super::decode::{scaled_len, Target};
use super::filter::EXACT_UP_TO;
use super::header::Header;
use super::layout::Layout;
use super::{ImageFormat, PipelineError, PipelineSettings, RenderSpec};

/// A render's estimated size and single-core CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderCost {
    /// Pixels the decoder produces (after shrink-on-load).
    pub decoded_pixels: u64,
    /// Pixels encoded (the output canvas).
    pub output_pixels: u64,
    /// Estimated time on one core.
    pub cpu: Duration,
}

impl RenderCost {
    /// The cost of `frames` frames of this one (an animation renders each whole).
    pub fn times(self, frames: u32) -> Self {
        let n = u64::from(frames.max(1));
        Self {
            decoded_pixels: self.decoded_pixels.saturating_mul(n),
            output_pixels: self.output_pixels.saturating_mul(n),
            cpu: self.cpu.saturating_mul(frames.max(1)),
        }
    }
}

/// Refuses outputs beyond the configured area of their format (AVIF only).
pub fn check_output(
    format: ImageFormat,
    (width, height): (u32, u32),
    settings: &PipelineSettings,
) -> Result<(), PipelineError> {
    let area = u64::from(width) * u64::from(height);
    if format == ImageFormat::Avif && area > settings.max_avif_pixels {
        return Err(PipelineError::OutputTooLarge(format!(
            "an AVIF output of {width}x{height} is {area} pixels, more than \
             images.max_avif_pixels ({}) allows; ask for a smaller size or another format",
            settings.max_avif_pixels
        )));
    }
    Ok(())
}

pub fn estimate(
    header: &Header,
    target: &Target,
    layout: &Layout,
    spec: &RenderSpec,
    settings: &PipelineSettings,
) -> RenderCost {
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    let source_pixels = u64::from(header.width) * u64::from(header.height);
    let decoded_pixels = decoded_pixels(header, target, settings);
    let resampled = area(target.scaled);
    let output_pixels = area(layout.canvas);
    let (per_source, per_decoded) = decode_picos(header.format);
    let scans = u64::from(spec.ops.trim.is_some()) + u64::from(layout.smart_region.is_some());
    let filters: u64 = [spec.ops.blur, spec.ops.sharpen]
        .into_iter()
        .flatten()
        .map(|sigma| filter_picos(sigma.pixels()))
        .sum();
    let picos = source_pixels.saturating_mul(per_source)
        + decoded_pixels.saturating_mul(per_decoded)
        + (decoded_pixels + resampled).saturating_mul(RESAMPLE_PICOS)
        + decoded_pixels.saturating_mul(scans * SCAN_PICOS)
        + area(layout.plan.canvas).saturating_mul(filters)
        + output_pixels.saturating_mul(encode_picos(spec.format, settings));
    RenderCost {
        decoded_pixels,
        output_pixels,
        cpu: Duration::from_nanos(picos / 1000),
    }
}

/// What the decoder outputs: JPEG shrinks on load by its DCT scale (the same rule the JPEG
/// decoder applies: the tighter axis decides), the other formats decode at full size.
fn decoded_pixels(header: &Header, target: &Target, settings: &PipelineSettings) -> u64 {
    if header.format == ImageFormat::Svg {
        let (w, h) = super::svg::raster_size(header, target, settings);
        return u64::from(w) * u64::from(h);
    }
    if header.format != ImageFormat::Jpeg {
        return u64::from(header.width) * u64::from(header.height);
    }
    let eighths = target.jpeg_eighths();
    u64::from(scaled_len(header.width, eighths)) * u64::from(scaled_len(header.height, eighths))
}

// Prices per pixel in picoseconds (1000 = 1 ns) of one core, from the release-build figures in
// benches/README.md (400x300 outputs of 2.5-12 MP sources; rounded up).

/// Lanczos3 over the decoded and the resampled pixels.
const RESAMPLE_PICOS: u64 = 1_500;

/// Trim's border search and smart crop's small copy, per decoded pixel.
const SCAN_PICOS: u64 = 1_000;

/// Blur or sharpen, per output pixel: the exact kernel's two passes of `6 sigma + 1` taps at
/// 0.1 ns a tap, or the three boxes' constant price beyond [`EXACT_UP_TO`] (400x300 RGB:
/// sigma 2 0.36 ms, sigma 8 1.16 ms, sigma 20 and 100 0.9 ms; benches/README.md).
fn filter_picos(sigma: f64) -> u64 {
    if sigma <= EXACT_UP_TO {
        ((2.0 * (6.0 * sigma).ceil() + 2.0) * 100.0) as u64
    } else {
        7_500
    }
}

/// Per source pixel (what is read whatever the scale: JPEG's entropy decoding) and per decoded
/// pixel.
fn decode_picos(format: ImageFormat) -> (u64, u64) {
    match format {
        ImageFormat::Jpeg => (3_000, 2_000),
        ImageFormat::Png => (0, 8_000),
        ImageFormat::Gif => (0, 5_000),
        ImageFormat::Webp => (0, 10_000),
        ImageFormat::Avif => (0, 30_000),
        // Rasterising: an order of magnitude for filled shapes (text and filters cost more).
        ImageFormat::Svg => (0, 20_000),
    }
}

/// Per output pixel, at the configured effort.
fn encode_picos(format: ImageFormat, settings: &PipelineSettings) -> u64 {
    match format {
        ImageFormat::Jpeg => 7_000,
        ImageFormat::Png => 7_000,
        ImageFormat::Gif => 130_000,
        // Never an output (`fmt=original` of an SVG is PNG).
        ImageFormat::Svg => 7_000,
        // method 0: 21 ns, 2: 31, 4: 72, 6: 150.
        ImageFormat::Webp => match settings.webp_method {
            0 => 21_000,
            1 | 2 => 31_000,
            3 | 4 => 72_000,
            _ => 150_000,
        },
        // speed 10: 1.0 us, 8: 2.5, 6: 3.0; below 6 each step costs about half as much again
        // (speed 4 measured at about 3x speed 6).
        ImageFormat::Avif => match settings.avif_speed {
            10 => 1_000_000,
            9 => 1_800_000,
            8 => 2_500_000,
            7 => 2_800_000,
            6 => 3_000_000,
            5 => 5_000_000,
            4 => 9_000_000,
            3 => 15_000_000,
            2 => 25_000_000,
            _ => 40_000_000,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::layout::layout;
    use crate::pipeline::{Fit, Operations, Padding, ShrinkOnLoad, Sigma};

    fn header(format: ImageFormat, width: u32, height: u32) -> Header {
        Header {
            format,
            width,
            height,
            orientation: 1,
            has_alpha: false,
            frames: 1,
        }
    }

    fn cost(source: (ImageFormat, u32, u32), out: (ImageFormat, u32, u32)) -> RenderCost {
        cost_with(source, out, Operations::default())
    }

    fn cost_with(
        source: (ImageFormat, u32, u32),
        out: (ImageFormat, u32, u32),
        ops: Operations,
    ) -> RenderCost {
        let (format, sw, sh) = source;
        let (out_format, w, h) = out;
        let spec = RenderSpec {
            fit: Fit::Fill,
            enlarge: true,
            ops,
            ..RenderSpec::resize(Some(w), Some(h), out_format)
        };
        let settings = PipelineSettings::default();
        let header = header(format, sw, sh);
        let layout = layout(&header, None, &spec, &settings).unwrap();
        let target = Target {
            crop: layout.stored,
            scaled: layout.scaled,
            eighths: ops.trim.map(|_| 8),
            shrink_on_load: ShrinkOnLoad::Quality,
        };
        estimate(&header, &target, &layout, &spec, &settings)
    }

    #[test]
    fn the_operations_are_counted() {
        use ImageFormat::*;
        let plain = cost((Jpeg, 4000, 3000), (Jpeg, 400, 300));
        let trim = Operations {
            trim: Some(10),
            ..Operations::default()
        };
        let trimmed = cost_with((Jpeg, 4000, 3000), (Jpeg, 400, 300), trim);
        assert_eq!(
            trimmed.decoded_pixels, 12_000_000,
            "trim decodes every pixel"
        );
        assert!(trimmed.cpu > plain.cpu * 2);
        let blur = |sigma: u32| {
            let ops = Operations {
                blur: Some(Sigma(sigma)),
                ..Operations::default()
            };
            cost_with((Jpeg, 4000, 3000), (Jpeg, 400, 300), ops).cpu
        };
        assert!(blur(200) > plain.cpu && blur(800) > blur(200));
        // Beyond the exact kernel the cost stops growing with sigma.
        assert_eq!(blur(5_000), blur(10_000));
        let padded = Operations {
            pad: Padding {
                top: 100,
                right: 0,
                bottom: 100,
                left: 0,
            },
            ..Operations::default()
        };
        let padded = cost_with((Jpeg, 4000, 3000), (Jpeg, 400, 300), padded);
        assert_eq!(padded.output_pixels, 400 * 500);
    }

    #[test]
    fn thumbnails_are_cheap_and_large_avif_is_not() {
        use ImageFormat::*;
        let thumb = cost((Jpeg, 4000, 3000), (Jpeg, 400, 300));
        assert_eq!(thumb.decoded_pixels, 1000 * 750, "shrunk on load by 4");
        assert!(thumb.cpu < Duration::from_millis(100), "{thumb:?}");
        let avif_thumb = cost((Jpeg, 4000, 3000), (Avif, 400, 300));
        assert!(
            avif_thumb.cpu < Duration::from_millis(500),
            "{avif_thumb:?}"
        );
        let big_avif = cost((Jpeg, 4000, 3000), (Avif, 1000, 800));
        assert!(big_avif.cpu > Duration::from_millis(1500), "{big_avif:?}");
        let big_jpeg = cost((Jpeg, 4000, 3000), (Jpeg, 4000, 3000));
        assert_eq!(big_jpeg.decoded_pixels, 12_000_000);
        assert!(big_jpeg.cpu < big_avif.cpu);
    }

    #[test]
    fn avif_area_is_bounded_by_the_setting() {
        let settings = PipelineSettings {
            max_avif_pixels: 100,
            ..PipelineSettings::default()
        };
        assert!(check_output(ImageFormat::Avif, (10, 10), &settings).is_ok());
        let refused = check_output(ImageFormat::Avif, (10, 11), &settings).unwrap_err();
        assert!(
            matches!(&refused, PipelineError::OutputTooLarge(m) if m.contains("images.max_avif_pixels"))
        );
        assert!(check_output(ImageFormat::Webp, (1000, 1000), &settings).is_ok());
    }
}
