//! PNG via the `png` crate: every colour type and depth normalised to 8 bits (16-bit
//! truncated, palette and tRNS expanded to RGB(A)). An APNG yields its default image.
//! RGBA whose alpha is all 255 (common: focal.png) becomes RGB, which makes the resize
//! three times cheaper (no premultiplication, a quarter less data).

use std::io::Cursor;

use anyhow::{Context, Result};

use super::Decoded;
use crate::pipeline::bitmap::Bitmap;

pub fn decode(bytes: &[u8], memory_limit: u64) -> Result<Decoded> {
    let limits = png::Limits {
        bytes: usize::try_from(memory_limit).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().context("reading PNG header")?;
    let size = reader.output_buffer_size().context("PNG too large")?;
    let mut data = vec![0; size];
    let frame = reader.next_frame(&mut data).context("decoding PNG")?;
    data.truncate(frame.buffer_size());
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => anyhow::bail!("palette not expanded"),
    };
    let icc = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let channels = if channels == 4 && drop_opaque_alpha(&mut data) {
        3
    } else {
        channels
    };
    let bitmap = Bitmap::new(frame.width, frame.height, channels, data)?;
    Ok(Decoded { bitmap, icc })
}

/// Compacts RGBA to RGB in place if every alpha is 255 and returns true; otherwise leaves
/// `data` as it was and returns false. One pass for opaque images; a translucent one stops
/// at its first translucent pixel and restores the part already compacted.
fn drop_opaque_alpha(data: &mut Vec<u8>) -> bool {
    let pixels = data.len() / 4;
    for i in 0..pixels {
        let s = i * 4;
        if data[s + 3] != 255 {
            // Undo: expand pixels i-1..0 back from RGB, last first, so nothing is overwritten.
            for j in (0..i).rev() {
                let (d, s) = (j * 4, j * 3);
                data.copy_within(s..s + 3, d);
                data[d + 3] = 255;
            }
            return false;
        }
        data.copy_within(s..s + 3, i * 3);
    }
    data.truncate(pixels * 3);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_alpha_is_dropped() {
        let mut v = vec![1, 2, 3, 255, 4, 5, 6, 255];
        assert!(drop_opaque_alpha(&mut v));
        assert_eq!(v, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn translucent_images_are_left_alone() {
        for translucent_at in 0..4 {
            let mut v: Vec<u8> = (0..16)
                .map(|i| if i % 4 == 3 { 255 } else { i as u8 })
                .collect();
            v[translucent_at * 4 + 3] = 7;
            let before = v.clone();
            assert!(!drop_opaque_alpha(&mut v));
            assert_eq!(v, before, "translucent pixel {translucent_at}");
        }
    }
}
