//! Lossy WebP with libwebp, alpha kept when present. `method` (0..=6) trades speed for size:
//! 4 is libwebp's default; 0-2 are several times faster.

use anyhow::{anyhow, Result};
use webp::{Encoder, PixelLayout, WebPConfig};

use crate::pipeline::bitmap::Bitmap;

pub fn encode(bitmap: &Bitmap, quality: u8, method: u8) -> Result<Vec<u8>> {
    let rgb;
    let bitmap = if bitmap.channels < 3 {
        rgb = bitmap.clone().into_rgb_family();
        &rgb
    } else {
        bitmap
    };
    let layout = if bitmap.channels == 4 {
        PixelLayout::Rgba
    } else {
        PixelLayout::Rgb
    };
    let mut config = WebPConfig::new().map_err(|()| anyhow!("libwebp config"))?;
    config.lossless = 0;
    config.quality = f32::from(quality);
    config.method = i32::from(method.min(6));
    config.alpha_compression = 1;
    let encoder = Encoder::new(&bitmap.data, layout, bitmap.width, bitmap.height);
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|e| anyhow!("libwebp: {e:?}"))?;
    Ok(memory.to_vec())
}
