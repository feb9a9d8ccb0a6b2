//! JPEG via `jpeg-decoder`, with shrink-on-load: the IDCT is computed at 1/2, 1/4 or 1/8
//! scale when the render needs no more pixels than that, which skips most of the decode
//! cost of a large photo. CMYK/YCCK is converted to RGB here, as it is not a layout the
//! later steps handle.

use anyhow::anyhow;
use jpeg_decoder::{ColorTransform, PixelFormat};

use super::{Decoded, Target};
use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::header::{jpeg::read_full, Header};
use crate::pipeline::{color, PipelineError, PipelineSettings};

/// The largest DCT scale denominator (1, 2, 4 or 8) that still leaves the decoded crop at
/// least as large as its resampled size on both axes, so the final resample only shrinks.
pub fn shrink_factor(target: &Target) -> u32 {
    let ratio_x = target.crop.width / f64::from(target.scaled.0.max(1));
    let ratio_y = target.crop.height / f64::from(target.scaled.1.max(1));
    let ratio = ratio_x.min(ratio_y);
    [8u32, 4, 2].into_iter().find(|&d| ratio >= f64::from(d)).unwrap_or(1)
}

pub fn decode(
    bytes: &[u8],
    header: &Header,
    target: &Target,
    settings: &PipelineSettings,
    memory_limit: u64,
) -> Result<Decoded, PipelineError> {
    let unsupported = |e: &dyn std::fmt::Display| PipelineError::Unsupported(format!("jpeg: {e}"));
    let (_, info) = read_full(bytes).map_err(|e| unsupported(&e))?;
    if info.arithmetic {
        return Err(unsupported(&"arithmetic-coded JPEG cannot be decoded by this build"));
    }
    let _ = settings;
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(usize::try_from(memory_limit).unwrap_or(usize::MAX));
    if info.components == 4 {
        // Raw components: the Adobe inversion and YCCK are handled in `color::cmyk_to_rgb`.
        decoder.set_color_transform(ColorTransform::None);
    }
    decoder.read_info().map_err(|e| unsupported(&e))?;
    let denom = shrink_factor(target);
    if denom > 1 {
        let scaled = |len: u32| ((len + denom - 1) / denom) as u16;
        decoder
            .scale(scaled(header.width), scaled(header.height))
            .map_err(|e| unsupported(&e))?;
    }
    let data = decoder.decode().map_err(|e| unsupported(&e))?;
    let out = decoder.info().ok_or_else(|| anyhow!("no info after decode"))?;
    let (w, h) = (u32::from(out.width), u32::from(out.height));
    let icc = decoder.icc_profile();
    let bitmap = match out.pixel_format {
        PixelFormat::L8 => Bitmap::new(w, h, 1, data)?,
        PixelFormat::L16 => {
            let data = data.chunks_exact(2).map(|p| p[0]).collect();
            Bitmap::new(w, h, 1, data)?
        }
        PixelFormat::RGB24 => Bitmap::new(w, h, 3, data)?,
        PixelFormat::CMYK32 => {
            let cmyk = Bitmap::new(w, h, 4, data)?;
            let bitmap = color::cmyk_to_rgb(cmyk, info.adobe_transform, icc.as_deref())?;
            return Ok(Decoded { bitmap, icc: None });
        }
    };
    Ok(Decoded { bitmap, icc })
}
