//! JPEG via `jpeg-decoder`, with shrink-on-load: the IDCT is computed at 1/2, 1/4 or 1/8
//! scale when the render needs no more pixels than that, which skips most of the decode
//! cost of a large photo. CMYK/YCCK is converted to RGB here, as it is not a layout the
//! later steps handle. (The decoder's raw, untransformed output is not used: it comes out
//! planar per line for 4 components.)

use anyhow::anyhow;
use jpeg_decoder::PixelFormat;

use super::{Decoded, Target};
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::jpeg::read_full;
use crate::pipeline::header::Header;
use crate::pipeline::{color, PipelineError};

/// The DCT scale denominator (1, 2, 4 or 8) for this render: the tighter axis decides, and
/// `target.shrink_on_load` says how much of the downscale the (box-filtering) DCT scaling may
/// do. In `quality` mode `jpeg-decoder` still trails libvips on sharp 4:2:0 photos: it
/// box-filters chroma at the scaled IDCT and upsamples it after (kleiber: 50.6 dB against
/// libvips' 53.3; luma is better than libvips'); libjpeg-turbo matches libvips.
pub fn shrink_factor(target: &Target) -> u32 {
    let ratio_x = target.crop.width / f64::from(target.scaled.0.max(1));
    let ratio_y = target.crop.height / f64::from(target.scaled.1.max(1));
    target.shrink_on_load.denominator(ratio_x.min(ratio_y))
}

pub fn decode(
    bytes: &[u8],
    header: &Header,
    target: &Target,
    memory_limit: u64,
) -> Result<Decoded, PipelineError> {
    let unsupported = |e: &dyn std::fmt::Display| PipelineError::Unsupported(format!("jpeg: {e}"));
    let (_, info) = read_full(bytes).map_err(|e| unsupported(&e))?;
    let denom = target.shrink.unwrap_or_else(|| shrink_factor(target));
    #[cfg(feature = "turbo")]
    if matches!(info.components, 1 | 3) && info.precision == 8 {
        let bitmap = super::jpeg_turbo::decode(bytes, denom, info.components)
            .map_err(|e| unsupported(&format!("{e:#}")))?;
        return Ok(Decoded {
            bitmap,
            icc: info.icc,
        });
    }
    if info.arithmetic {
        return Err(unsupported(
            &"arithmetic-coded JPEG needs the `turbo` build",
        ));
    }
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(usize::try_from(memory_limit).unwrap_or(usize::MAX));
    decoder.read_info().map_err(|e| unsupported(&e))?;
    if denom > 1 {
        let scaled = |len: u32| len.div_ceil(denom) as u16;
        decoder
            .scale(scaled(header.width), scaled(header.height))
            .map_err(|e| unsupported(&e))?;
    }
    let data = decoder.decode().map_err(|e| unsupported(&e))?;
    let out = decoder
        .info()
        .ok_or_else(|| anyhow!("no info after decode"))?;
    let (w, h) = (u32::from(out.width), u32::from(out.height));
    let icc = info.icc;
    let bitmap = match out.pixel_format {
        PixelFormat::L8 => Bitmap::new(w, h, 1, data)?,
        PixelFormat::L16 => {
            let data = data.chunks_exact(2).map(|p| p[0]).collect();
            Bitmap::new(w, h, 1, data)?
        }
        PixelFormat::RGB24 => Bitmap::new(w, h, 3, data)?,
        PixelFormat::CMYK32 => {
            let cmyk = Bitmap::new(w, h, 4, data)?;
            let bitmap = color::cmyk_to_rgb(cmyk, icc.as_deref())?;
            return Ok(Decoded { bitmap, icc: None });
        }
    };
    Ok(Decoded { bitmap, icc })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::geometry::Rect;
    use crate::pipeline::ShrinkOnLoad;

    fn target(w: f64, h: f64, scaled: (u32, u32), mode: ShrinkOnLoad) -> Target {
        Target {
            crop: Rect {
                x: 0.0,
                y: 0.0,
                width: w,
                height: h,
            },
            scaled,
            shrink: None,
            shrink_on_load: mode,
        }
    }

    #[test]
    fn quality_leaves_the_resample_a_factor_of_two() {
        let q = ShrinkOnLoad::Quality;
        // 4000x3000 to 400x300: a factor of 10.
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 300), q)), 4);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (1000, 750), q)), 2);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (1001, 750), q)), 1);
        // The tighter axis decides (a stretch to 400x1000 needs the full height).
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 1000), q)), 1);
        assert_eq!(shrink_factor(&target(1920.0, 1280.0, (1920, 1280), q)), 1);
        assert_eq!(shrink_factor(&target(1.0, 1.0, (0, 0), q)), 1);
    }

    #[test]
    fn fast_shrinks_like_sharp() {
        let f = ShrinkOnLoad::Fast;
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 300), f)), 8);
        // A scale landing on (or just above) the target is skipped, as sharp does.
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (500, 375), f)), 4);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (800, 600), f)), 4);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (1000, 750), f)), 2);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (1299, 975), f)), 2);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (1500, 1125), f)), 1);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 1000), f)), 2);
    }
}
