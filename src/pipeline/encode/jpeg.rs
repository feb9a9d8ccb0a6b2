//! JPEG: `jpeg-encoder` (SIMD) by default, about 3x faster than `image`'s encoder and with
//! smaller output; libjpeg-turbo's encoder with its NASM SIMD in the `turbo` build (faster
//! still). Baseline, 4:2:0, no optimised Huffman tables (a second pass for ~3%); progressive
//! when the request says `interlace=1` (each encoder's standard scan script).

use anyhow::{bail, Result};

use crate::pipeline::bitmap::Bitmap;

#[cfg(not(feature = "turbo"))]
pub fn encode(bitmap: &Bitmap, quality: u8, progressive: bool) -> Result<Vec<u8>> {
    use jpeg_encoder::{ColorType, Encoder};
    let color = match bitmap.channels {
        1 => ColorType::Luma,
        3 => ColorType::Rgb,
        n => bail!("JPEG encoder given {n} channels"),
    };
    let mut out = Vec::with_capacity(bitmap.data.len() / 8);
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_progressive(progressive);
    encoder.encode(
        &bitmap.data,
        u16::try_from(bitmap.width)?,
        u16::try_from(bitmap.height)?,
        color,
    )?;
    Ok(out)
}

/// libjpeg-turbo's encoder with libjpeg-turbo's own settings (mozjpeg's "fastest" profile:
/// no trellis quantisation, no progressive scans).
#[cfg(feature = "turbo")]
pub fn encode(bitmap: &Bitmap, quality: u8, progressive: bool) -> Result<Vec<u8>> {
    use mozjpeg::{ColorSpace, Compress};
    use std::panic::{self, AssertUnwindSafe};
    let space = match bitmap.channels {
        1 => ColorSpace::JCS_GRAYSCALE,
        3 => ColorSpace::JCS_RGB,
        n => bail!("JPEG encoder given {n} channels"),
    };
    // libjpeg reports errors by unwinding out of its error handler (see decode/jpeg.rs).
    panic::catch_unwind(AssertUnwindSafe(|| -> Result<Vec<u8>> {
        let mut compress = Compress::new(space);
        compress.set_fastest_defaults();
        compress.set_size(bitmap.width as usize, bitmap.height as usize);
        compress.set_quality(f32::from(quality));
        if progressive {
            compress.set_progressive_mode();
        }
        let mut started = compress.start_compress(Vec::with_capacity(bitmap.data.len() / 8))?;
        started.write_scanlines(&bitmap.data)?;
        Ok(started.finish()?)
    }))
    .unwrap_or_else(|_| bail!("libjpeg could not encode"))
}
