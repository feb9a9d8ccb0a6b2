//! GIF: one frame, quantised to a 256-colour palette with NeuQuant (`gif`'s own quantiser).
//! GIF has 1-bit transparency: fully transparent pixels become the transparent index and
//! any other alpha is treated as opaque (`gif`'s own rule).

use anyhow::Result;

use crate::pipeline::bitmap::Bitmap;

/// NeuQuant sampling: 1 is best and slowest, 30 fastest; 10 is gif's recommended balance.
const QUANTIZE_SPEED: i32 = 10;

pub fn encode(bitmap: &Bitmap) -> Result<Vec<u8>> {
    let (w, h) = (u16::try_from(bitmap.width)?, u16::try_from(bitmap.height)?);
    let frame = match bitmap.channels {
        4 => gif::Frame::from_rgba_speed(w, h, &mut bitmap.data.clone(), QUANTIZE_SPEED),
        3 => gif::Frame::from_rgb_speed(w, h, &bitmap.data, QUANTIZE_SPEED),
        _ => {
            let rgb = bitmap.clone().into_rgb_family();
            return encode(&rgb);
        }
    };
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w, h, &[])?;
        encoder.write_frame(&frame)?;
    }
    Ok(out)
}
