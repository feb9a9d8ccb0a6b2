//! Composition onto the background colour: the letterbox canvas of `fit=contain`, the `pad`
//! border (step 8 of the order) and flattening alpha for outputs without it (JPEG, step 9).
//! The canvas always uses the background, for every output format: predictable, and what the
//! caller asked for. An opaque background gives an opaque canvas (the image's transparency
//! blended onto it); a translucent one, which the request only keeps for formats with alpha,
//! gives a canvas with alpha and the image's pixels as they are.

use super::bitmap::Bitmap;
use super::{Padding, Rgba};

/// `src` composited over an opaque `bg`: RGB out.
pub fn flatten(src: Bitmap, bg: Rgba) -> Bitmap {
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

/// `src` framed by `padding` pixels of the background.
pub fn pad(src: Bitmap, padding: Padding, bg: Rgba) -> Bitmap {
    let canvas = padding.around((src.width, src.height));
    letterbox(src, canvas, (padding.left, padding.top), bg)
}

/// `src` placed on a `canvas`-sized background at `offset`: RGB out for an opaque background,
/// RGBA for a translucent one.
pub fn letterbox(src: Bitmap, canvas: (u32, u32), offset: (u32, u32), bg: Rgba) -> Bitmap {
    let src = src.into_rgb_family();
    if !bg.is_opaque() {
        return place_with_alpha(src, canvas, offset, bg);
    }
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

fn place_with_alpha(src: Bitmap, canvas: (u32, u32), offset: (u32, u32), bg: Rgba) -> Bitmap {
    let mut out = Bitmap::filled(canvas.0, canvas.1, &[bg.r, bg.g, bg.b, bg.a]);
    let n = src.channels as usize;
    let w = (src.width).min(canvas.0.saturating_sub(offset.0)) as usize;
    let h = (src.height).min(canvas.1.saturating_sub(offset.1)) as usize;
    for y in 0..h {
        let s = &src.data[y * src.row_len()..][..w * n];
        let d = ((offset.1 as usize + y) * canvas.0 as usize + offset.0 as usize) * 4;
        let d = &mut out.data[d..d + w * 4];
        for (dp, sp) in d.chunks_exact_mut(4).zip(s.chunks_exact(n)) {
            dp[..3].copy_from_slice(&sp[..3]);
            dp[3] = if n == 4 { sp[3] } else { 255 };
        }
    }
    out
}

fn blend(p: &[u8], bg: Rgba) -> [u8; 3] {
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
            Rgba {
                r: 255,
                g: 255,
                b: 255,
                a: 255,
            },
        );
        assert_eq!(out.data, [10, 20, 30, 255, 255, 255, 127, 127, 127]);
    }

    #[test]
    fn letterbox_places_image() {
        let src = Bitmap::new(1, 2, 3, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let out = letterbox(
            src,
            (3, 2),
            (1, 0),
            Rgba {
                r: 9,
                g: 9,
                b: 9,
                a: 255,
            },
        );
        assert_eq!(
            out.data,
            [9, 9, 9, 1, 2, 3, 9, 9, 9, 9, 9, 9, 4, 5, 6, 9, 9, 9]
        );
    }

    #[test]
    fn translucent_background_keeps_alpha() {
        let src = Bitmap::new(1, 1, 3, vec![1, 2, 3]).unwrap();
        let clear = Rgba {
            r: 9,
            g: 9,
            b: 9,
            a: 0,
        };
        let padding = Padding {
            top: 1,
            right: 0,
            bottom: 0,
            left: 1,
        };
        let out = pad(src, padding, clear);
        assert_eq!((out.width, out.height, out.channels), (2, 2, 4));
        assert_eq!(out.data, [9, 9, 9, 0, 9, 9, 9, 0, 9, 9, 9, 0, 1, 2, 3, 255]);
    }
}
