//! WebP with libwebp, alpha kept when present: lossy, or lossless on request (`exact`, so
//! even fully transparent pixels keep their colour and the pixels equal the input's).
//! `method` (0..=6) trades speed for size: 4 is libwebp's default; 0-2 are several times
//! faster.

use anyhow::{anyhow, Result};
use webp::{Encoder, PixelLayout, WebPConfig};

use crate::pipeline::bitmap::Bitmap;

pub fn encode(bitmap: &Bitmap, quality: u8, method: u8) -> Result<Vec<u8>> {
    with_config(bitmap, |config| {
        config.lossless = 0;
        config.quality = f32::from(quality);
        config.method = i32::from(method.min(6));
        config.alpha_compression = 1;
    })
}

pub fn encode_lossless(bitmap: &Bitmap, method: u8) -> Result<Vec<u8>> {
    with_config(bitmap, |config| {
        config.lossless = 1;
        config.exact = 1;
        // For lossless, quality is the effort spent on compression; 75 is libwebp's default.
        config.quality = 75.0;
        config.method = i32::from(method.min(6));
    })
}

fn with_config(bitmap: &Bitmap, configure: impl FnOnce(&mut WebPConfig)) -> Result<Vec<u8>> {
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
    configure(&mut config);
    let encoder = Encoder::new(&bitmap.data, layout, bitmap.width, bitmap.height);
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|e| anyhow!("libwebp: {e:?}"))?;
    Ok(memory.to_vec())
}
