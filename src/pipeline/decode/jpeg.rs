//! JPEG through libjpeg-turbo's decoder (as vendored and built by `mozjpeg-sys` with the C
//! compiler alone; the `turbo` build adds its NASM SIMD), with shrink-on-load: the IDCT runs
//! at the smallest scale in eighths that the render allows (any of 8/8 down to 1/8; `turbo`
//! takes a larger one where its SIMD makes that faster), which skips most of the IDCT,
//! upsampling, colour-conversion and resampling work of a large photo. libjpeg upsamples 4:2:0
//! chroma before it scales, so shrunk renders keep libvips' chroma quality.
//! Arithmetic coding is decoded too. CMYK and YCCK come out as ink amounts converted here,
//! as no later step handles four colour channels.

use std::panic::{self, AssertUnwindSafe};

use anyhow::{Context, Result};
use mozjpeg::decompress::{DecompressStarted, Format};

use super::{Decoded, Target};
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::jpeg::{read_full, JpegInfo};
use crate::pipeline::{color, PipelineError};

pub fn decode(bytes: &[u8], target: &Target) -> Result<Decoded, PipelineError> {
    let unsupported = |e: &dyn std::fmt::Display| PipelineError::Unsupported(format!("jpeg: {e}"));
    let (_, info) = read_full(bytes).map_err(|e| unsupported(&e))?;
    let eighths = target.jpeg_eighths();
    // libjpeg reports a fatal error by unwinding out of its error handler (`mozjpeg`'s
    // design, with the C code built to unwind through); it is caught here so a corrupt file
    // is a client error, not a panic at the request barrier.
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| decode_scaled(bytes, eighths, info)))
        .map_err(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .map_or("libjpeg failed", String::as_str)
                .trim_start_matches("libjpeg fatal error: ")
                .to_owned();
            unsupported(&message)
        })?;
    decoded.map_err(|e| unsupported(&format!("{e:#}")))
}

fn decode_scaled(bytes: &[u8], eighths: u32, info: JpegInfo) -> Result<Decoded> {
    let mut decompress = mozjpeg::Decompress::new_mem(bytes).context("reading the header")?;
    decompress.scale(u8::try_from(eighths.clamp(1, 8)).unwrap_or(8));
    let icc = info.icc;
    match decompress.image().context("starting the decode")? {
        Format::RGB(started) => Ok(Decoded {
            bitmap: read_all(started, 3)?,
            icc,
        }),
        Format::Gray(started) => Ok(Decoded {
            bitmap: read_all(started, 1)?,
            icc,
        }),
        Format::CMYK(started) => {
            let mut cmyk = read_all(started, 4)?;
            // Adobe's files (nearly all CMYK JPEGs) store the inks inverted.
            if info.adobe_transform.is_some() {
                cmyk.data.iter_mut().for_each(|v| *v = 255 - *v);
            }
            let bitmap = color::cmyk_to_rgb(cmyk, icc.as_deref())?;
            Ok(Decoded { bitmap, icc: None })
        }
    }
}

fn read_all(mut started: DecompressStarted<&[u8]>, channels: u8) -> Result<Bitmap> {
    let (width, height) = (started.width(), started.height());
    let data = started.read_scanlines::<u8>().context("decoding")?;
    started.finish().context("finishing the decode")?;
    Bitmap::new(
        u32::try_from(width)?,
        u32::try_from(height)?,
        channels,
        data,
    )
}

#[cfg(test)]
mod tests {
    use crate::pipeline::decode::Target;
    use crate::pipeline::geometry::Rect;
    use crate::pipeline::ShrinkOnLoad;

    fn eighths(w: f64, h: f64, scaled: (u32, u32), mode: ShrinkOnLoad) -> u32 {
        let target = Target {
            crop: Rect {
                x: 0.0,
                y: 0.0,
                width: w,
                height: h,
            },
            scaled,
            eighths: None,
            shrink_on_load: mode,
        };
        target.jpeg_eighths()
    }

    #[test]
    fn quality_leaves_the_resample_a_factor_of_two() {
        let q = ShrinkOnLoad::Quality;
        // `turbo` decodes at 8/8 where 6/8 would do: it is faster there (spec.rs).
        let six = if cfg!(feature = "turbo") { 8 } else { 6 };
        // 4000x3000 to 400x300, a factor of 10: 2/8 (1000x750).
        assert_eq!(eighths(4000.0, 3000.0, (400, 300), q), 2);
        assert_eq!(eighths(4000.0, 3000.0, (1000, 750), q), 4);
        // Just over 1000: 5/8 (2500 px), not the whole 4000.
        assert_eq!(eighths(4000.0, 3000.0, (1001, 750), q), 5);
        assert_eq!(eighths(4000.0, 3000.0, (1299, 975), q), six);
        assert_eq!(eighths(4000.0, 3000.0, (2000, 1500), q), 8);
        // The tighter axis decides (a stretch to 400x1000 is a factor of 3 in height).
        assert_eq!(eighths(4000.0, 3000.0, (400, 1000), q), six);
        assert_eq!(eighths(1920.0, 1280.0, (1920, 1280), q), 8);
        assert_eq!(eighths(1.0, 1.0, (0, 0), q), 8);
        assert_eq!(eighths(40000.0, 30000.0, (10, 10), q), 1);
    }

    #[test]
    fn fast_shrinks_like_sharp() {
        let f = ShrinkOnLoad::Fast;
        assert_eq!(eighths(4000.0, 3000.0, (400, 300), f), 1);
        // A scale landing on (or just above) the target is skipped, as sharp does.
        assert_eq!(eighths(4000.0, 3000.0, (500, 375), f), 2);
        assert_eq!(eighths(4000.0, 3000.0, (800, 600), f), 2);
        assert_eq!(eighths(4000.0, 3000.0, (1000, 750), f), 4);
        assert_eq!(eighths(4000.0, 3000.0, (1299, 975), f), 4);
        assert_eq!(eighths(4000.0, 3000.0, (1500, 1125), f), 8);
        assert_eq!(eighths(4000.0, 3000.0, (400, 1000), f), 4);
    }
}
