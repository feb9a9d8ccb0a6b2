//! Composition onto the background colour: flattening alpha for outputs without it (JPEG),
//! and the letterbox canvas of `fit=contain`. The canvas always uses the background, for
//! every output format: predictable, and what the caller asked for.

use super::bitmap::Bitmap;
use super::Rgb;

/// `src` composited over an opaque `bg`: RGB out.
pub fn flatten(src: Bitmap, bg: Rgb) -> Bitmap {
    let src = src.into_rgb_family();
    if !src.has_alpha() {
        return src;
    }
    let data = src
        .data
        .chunks_exact(4)
        .flat_map(|p| blend(p, bg))
        .collect();
    Bitmap {
        width: src.width,
        height: src.height,
        channels: 3,
        data,
    }
}

/// `src` composited over a `canvas`-sized background at `offset`: RGB out.
pub fn letterbox(src: Bitmap, canvas: (u32, u32), offset: (u32, u32), bg: Rgb) -> Bitmap {
    let src = src.into_rgb_family();
    let mut out = Bitmap::filled(canvas.0, canvas.1, &[bg.r, bg.g, bg.b]);
    let n = src.channels as usize;
    // The plan keeps the image inside the canvas; clamp anyway so a bad plan cannot panic.
    let w = (src.width).min(canvas.0.saturating_sub(offset.0)) as usize;
    let h = (src.height).min(canvas.1.saturating_sub(offset.1)) as usize;
    if w == 0 {
        return out;
    }
    for y in 0..h {
        let s = &src.data[y * src.row_len()..][..w * n];
        let d = ((offset.1 as usize + y) * canvas.0 as usize + offset.0 as usize) * 3;
        let d = &mut out.data[d..d + w * 3];
        if n == 3 {
            d.copy_from_slice(s);
        } else {
            for (dp, sp) in d.chunks_exact_mut(3).zip(s.chunks_exact(4)) {
                dp.copy_from_slice(&blend(sp, bg));
            }
        }
    }
    out
}

fn blend(p: &[u8], bg: Rgb) -> [u8; 3] {
    let a = u32::from(p[3]);
    let mix = |c: u8, b: u8| ((u32::from(c) * a + u32::from(b) * (255 - a) + 127) / 255) as u8;
    [mix(p[0], bg.r), mix(p[1], bg.g), mix(p[2], bg.b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_blends() {
        let src = Bitmap::new(3, 1, 4, vec![10, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128]).unwrap();
        let out = flatten(
            src,
            Rgb {
                r: 255,
                g: 255,
                b: 255,
            },
        );
        assert_eq!(out.data, [10, 20, 30, 255, 255, 255, 127, 127, 127]);
    }

    #[test]
    fn letterbox_places_image() {
        let src = Bitmap::new(1, 2, 3, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let out = letterbox(src, (3, 2), (1, 0), Rgb { r: 9, g: 9, b: 9 });
        assert_eq!(
            out.data,
            [9, 9, 9, 1, 2, 3, 9, 9, 9, 9, 9, 9, 4, 5, 6, 9, 9, 9]
        );
    }
}
