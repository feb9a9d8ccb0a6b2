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
    // The default build's libjpeg converts colour in scalar C, slower than the planes' path;
    // `turbo`'s converts with SIMD, a hair faster than it (benches/README.md).
    if !cfg!(feature = "turbo") {
        if let Some(bitmap) = super::jpeg_planes::decode(bytes, eighths)? {
            return Ok(Decoded {
                bitmap,
                icc: info.icc,
            });
        }
    }
    let decoded = catch_libjpeg(|| decode_scaled(bytes, eighths, info))?;
    decoded.map_err(|e| unsupported(&format!("{e:#}")))
}

/// Runs `decode` with libjpeg's fatal errors caught. libjpeg reports them by unwinding out of
/// its error handler (`mozjpeg`'s design, with the C code built to unwind through, and the
/// planes' path's own handler); caught here, a corrupt file is a client error, not a panic at
/// the request barrier.
pub(super) fn catch_libjpeg<T>(decode: impl FnOnce() -> T) -> Result<T, PipelineError> {
    panic::catch_unwind(AssertUnwindSafe(decode)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map_or("libjpeg failed", String::as_str)
            .trim_start_matches("libjpeg fatal error: ");
        PipelineError::Unsupported(format!("jpeg: {message}"))
    })
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
    use super::read_full;
    use crate::pipeline::bitmap::Bitmap;
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

    fn sample(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/samples/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    /// libjpeg's own RGB output, the path the planes replace.
    fn libjpeg_rgb(bytes: &[u8], eighths: u32) -> Bitmap {
        let (_, info) = read_full(bytes).unwrap();
        super::decode_scaled(bytes, eighths, info).unwrap().bitmap
    }

    fn jpeg(width: u32, height: u32, sampling: jpeg_encoder::SamplingFactor) -> Vec<u8> {
        let pixels: Vec<u8> = (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                [
                    (x * 7 % 256) as u8,
                    (y * 5 % 256) as u8,
                    ((x ^ y) % 256) as u8,
                ]
            })
            .collect();
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(sampling);
        let (w, h) = (width as u16, height as u16);
        encoder
            .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn the_planes_give_libjpegs_pixels() {
        use jpeg_encoder::SamplingFactor::{F_1_1, F_2_1, F_2_2};
        let cases = [
            // 4:2:0 baseline and progressive, every scale below whole.
            (sample("kleiber-12mp.jpg"), (1..=7).collect::<Vec<_>>()),
            (sample("elephants-12mp-progressive.jpg"), vec![2, 5]),
            // 4:2:2, chroma upsampled along rows here, at every scale.
            (sample("storm.jpg"), (1..=8).collect()),
            // Odd sizes (partial blocks and MCUs): 4:2:0, 4:2:2 and 4:4:4.
            (jpeg(101, 77, F_2_2), (1..=7).collect()),
            (jpeg(93, 41, F_2_1), (1..=8).collect()),
            (jpeg(61, 45, F_1_1), (1..=8).collect()),
        ];
        for (bytes, scales) in cases {
            for eighths in scales {
                let planes = super::super::jpeg_planes::decode(&bytes, eighths)
                    .unwrap()
                    .unwrap_or_else(|| panic!("not taken at {eighths}/8"));
                let libjpeg = libjpeg_rgb(&bytes, eighths);
                assert_eq!(
                    (planes.width, planes.height),
                    (libjpeg.width, libjpeg.height),
                    "at {eighths}/8"
                );
                // libjpeg-turbo's SIMD conversion (`turbo`) may round a hair differently.
                let worst = planes
                    .data
                    .iter()
                    .zip(&libjpeg.data)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap();
                let allowed = if cfg!(feature = "turbo") { 1 } else { 0 };
                assert!(worst <= allowed, "at {eighths}/8: off by {worst}");
            }
        }
    }

    #[test]
    fn the_planes_leave_other_files_to_libjpeg() {
        use jpeg_encoder::SamplingFactor::{F_2_1, F_2_2};
        // 4:2:0 at 8/8 needs chroma upsampled across rows; libjpeg replicates chroma rows of
        // under three samples; grey and CMYK have no such planes.
        let none = |bytes: &[u8], eighths| {
            super::super::jpeg_planes::decode(bytes, eighths)
                .unwrap()
                .is_none()
        };
        assert!(none(&jpeg(64, 48, F_2_2), 8));
        assert!(none(&jpeg(24, 8, F_2_1), 1));
        assert!(none(&sample("formats/storm-gray.jpg"), 4));
        assert!(none(&sample("formats/storm-cmyk.jpg"), 4));
    }

    #[test]
    fn a_cut_file_is_an_error_not_a_panic() {
        let bytes = sample("kleiber-12mp.jpg");
        let cut = &bytes[..bytes.len() / 3];
        // libjpeg pads a truncated scan with grey (a warning, not an error); a cut header is
        // an error.
        assert!(super::super::jpeg_planes::decode(cut, 2).is_ok());
        assert!(super::super::jpeg_planes::decode(&bytes[..300], 2).is_err());
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
