//! PNG with the `png` crate at `Compression::Fast` (fdeflate): slow compression levels cost
//! seconds on large images and have no place on the request path. `png` writes no interlaced
//! image data, so for `interlace=1` the Adam7 passes are laid out here (each row with the Sub
//! filter) and compressed with the same fdeflate, inside `png`'s own header and chunks.

use anyhow::Result;

use crate::pipeline::bitmap::Bitmap;

/// The seven Adam7 passes: first column, first row, column step, row step.
const ADAM7: [(usize, usize, usize, usize); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

pub fn encode(bitmap: &Bitmap, interlace: bool) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut info = png::Info::with_size(bitmap.width, bitmap.height);
    info.color_type = match bitmap.channels {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    };
    info.bit_depth = png::BitDepth::Eight;
    info.interlaced = interlace;
    let mut encoder = png::Encoder::with_info(&mut out, info)?;
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    if interlace {
        writer.write_chunk(png::chunk::IDAT, &fdeflate::compress_to_vec(&adam7(bitmap)))?;
    } else {
        writer.write_image_data(&bitmap.data)?;
    }
    writer.finish()?;
    Ok(out)
}

/// The filtered scanlines of the seven passes, one after the other.
fn adam7(bitmap: &Bitmap) -> Vec<u8> {
    let (w, h, n) = (
        bitmap.width as usize,
        bitmap.height as usize,
        bitmap.channels as usize,
    );
    let mut out = Vec::with_capacity(bitmap.data.len() + h * 2);
    let mut row = Vec::with_capacity(w * n);
    for (x0, y0, dx, dy) in ADAM7 {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy) {
            row.clear();
            for x in (x0..w).step_by(dx) {
                row.extend_from_slice(&bitmap.data[(y * w + x) * n..][..n]);
            }
            out.push(1); // Sub: each byte less the same channel of the pixel before it.
            out.extend((0..row.len()).map(|i| {
                let before = if i >= n { row[i - n] } else { 0 };
                row[i].wrapping_sub(before)
            }));
        }
    }
    out
}
