//! AVIF with `ravif` (rav1e), on the calling thread only: ravif is built without its
//! `threading` feature and told to use one thread, so rav1e's tile work never lands in a rayon
//! pool (the render pool's included) where it would queue ahead of other renders, and one
//! render costs one core like every other format. `speed` 1..=10: 6-8 cost ~200 ms for a 400 px
//! image on one core, 10 about 30 ms; `images.max_avif_pixels` bounds the area.

use anyhow::Result;
use ravif::{AlphaColorMode, Encoder, Img};
use rgb::FromSlice;

use crate::pipeline::bitmap::Bitmap;

pub fn encode(bitmap: &Bitmap, quality: u8, speed: u8) -> Result<Vec<u8>> {
    let rgb;
    let bitmap = if bitmap.channels < 3 {
        rgb = bitmap.clone().into_rgb_family();
        &rgb
    } else {
        bitmap
    };
    let (w, h) = (bitmap.width as usize, bitmap.height as usize);
    let encoder = Encoder::new()
        .with_quality(f32::from(quality))
        .with_speed(speed.clamp(1, 10))
        // One tile, one thread: without `threading`, a thread count only sets the tiling.
        .with_num_threads(Some(1))
        .with_alpha_color_mode(AlphaColorMode::UnassociatedClean);
    let encoded = if bitmap.channels == 4 {
        encoder.encode_rgba(Img::new(bitmap.data.as_rgba(), w, h))?
    } else {
        encoder.encode_rgb(Img::new(bitmap.data.as_rgb(), w, h))?
    };
    Ok(encoded.avif_file)
}
