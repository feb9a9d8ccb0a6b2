//! JPEG via `jpeg-decoder`, with shrink-on-load: the IDCT is computed at 1/2, 1/4 or 1/8
//! scale when the render needs no more pixels than that, which skips most of the decode
//! cost of a large photo. CMYK/YCCK is converted to RGB here, as it is not a layout the
//! later steps handle. (The decoder's raw, untransformed output is not used: it comes out
//! planar per line for 4 components.)

use anyhow::anyhow;
use jpeg_decoder::PixelFormat;

use super::{Decoded, Target};
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::jpeg::{read_full, JpegInfo};
use crate::pipeline::header::Header;
use crate::pipeline::{color, PipelineError};

/// The largest DCT scale denominator (1, 2, 4 or 8) that leaves the decoded crop at least
/// `margin` times its resampled size on both axes. As libvips does, a margin of 2 leaves the
/// final resample (a real Lanczos3 filter) a factor of two to work with: DCT scaling alone
/// is a crude box filter.
pub fn shrink_factor(target: &Target, margin: f64) -> u32 {
    let ratio_x = target.crop.width / f64::from(target.scaled.0.max(1));
    let ratio_y = target.crop.height / f64::from(target.scaled.1.max(1));
    let ratio = ratio_x.min(ratio_y) / margin;
    [8u32, 4, 2]
        .into_iter()
        .find(|&d| ratio >= f64::from(d))
        .unwrap_or(1)
}

/// The shrink-on-load margin: libvips' 2, for both decoders. With libjpeg-turbo that matches
/// libvips' PSNR against a full decode (it computes subsampled chroma with a larger IDCT).
/// `jpeg-decoder` box-filters chroma at the scaled IDCT and upsamples it after, which costs
/// ~3 dB of chroma PSNR on a sharp 4:2:0 photo (kleiber: 50.6 dB against libvips' 53.3;
/// luma is better than libvips'); a margin of 4 would fix that but costs 25% more time,
/// which the default build cannot afford against its speed goal.
fn margin(_info: &JpegInfo) -> f64 {
    2.0
}

pub fn decode(
    bytes: &[u8],
    header: &Header,
    target: &Target,
    memory_limit: u64,
) -> Result<Decoded, PipelineError> {
    let unsupported = |e: &dyn std::fmt::Display| PipelineError::Unsupported(format!("jpeg: {e}"));
    let (_, info) = read_full(bytes).map_err(|e| unsupported(&e))?;
    let denom = target
        .shrink
        .unwrap_or_else(|| shrink_factor(target, margin(&info)));
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

    fn target(w: f64, h: f64, scaled: (u32, u32)) -> Target {
        Target {
            crop: Rect {
                x: 0.0,
                y: 0.0,
                width: w,
                height: h,
            },
            scaled,
            shrink: None,
        }
    }

    #[test]
    fn shrink_leaves_the_margin() {
        // 4000x3000 to 400x300: a factor of 10.
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 300)), 1.0), 8);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 300)), 2.0), 4);
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 300)), 4.0), 2);
        // The tighter axis decides (a stretch to 400x1000 needs the full height).
        assert_eq!(shrink_factor(&target(4000.0, 3000.0, (400, 1000)), 1.0), 2);
        assert_eq!(shrink_factor(&target(1920.0, 1280.0, (1920, 1280)), 2.0), 1);
        assert_eq!(shrink_factor(&target(1.0, 1.0, (0, 0)), 2.0), 1);
    }
}
