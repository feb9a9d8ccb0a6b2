//! Resampling with `fast_image_resize` (SIMD convolution, Lanczos3). Alpha is premultiplied
//! for the convolution and divided out afterwards, so transparent pixels' colours do not
//! bleed into the edges.

use anyhow::{Context, Result};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::bitmap::Bitmap;
use super::geometry::Rect;

/// Resamples the `crop` region of `src` (in `src` pixels) to `width`x`height`.
/// Returns `src` untouched when there is nothing to do.
pub fn resize(src: Bitmap, crop: Rect, width: u32, height: u32) -> Result<Bitmap> {
    let (x, y, cw, ch) = inside(&src, crop);
    let whole = |v: f64| (v - v.round()).abs() < 1e-6;
    let same = |a: f64, b: u32| (a - f64::from(b)).abs() < 1e-6;
    if whole(x) && whole(y) && same(cw, width) && same(ch, height) {
        return Ok(copy_region(
            src,
            x.round() as u32,
            y.round() as u32,
            width,
            height,
        ));
    }
    convolve(&src, (x, y, cw, ch), width, height, FilterType::Lanczos3)
}

/// Resamples the whole of `src` to `width`x`height`.
pub fn resize_whole(src: Bitmap, width: u32, height: u32) -> Result<Bitmap> {
    let crop = Rect {
        x: 0.0,
        y: 0.0,
        width: f64::from(src.width),
        height: f64::from(src.height),
    };
    resize(src, crop, width, height)
}

/// A small copy of `crop` of `src` for analysis (smart crop): a box filter, cheap and enough
/// to judge where the detail is.
pub fn thumbnail(src: &Bitmap, crop: Rect, width: u32, height: u32) -> Result<Bitmap> {
    convolve(src, inside(src, crop), width, height, FilterType::Box)
}

/// `crop` clamped into `src`: it was computed in header pixels and scaled, and rounding may
/// overshoot a hair.
fn inside(src: &Bitmap, crop: Rect) -> (f64, f64, f64, f64) {
    let (sw, sh) = (f64::from(src.width), f64::from(src.height));
    let x = crop.x.clamp(0.0, sw - 1.0);
    let y = crop.y.clamp(0.0, sh - 1.0);
    (
        x,
        y,
        crop.width.clamp(1.0, sw - x),
        crop.height.clamp(1.0, sh - y),
    )
}

fn convolve(
    src: &Bitmap,
    (x, y, cw, ch): (f64, f64, f64, f64),
    width: u32,
    height: u32,
    filter: FilterType,
) -> Result<Bitmap> {
    let pixel_type = match src.channels {
        1 => PixelType::U8,
        2 => PixelType::U8x2,
        3 => PixelType::U8x3,
        _ => PixelType::U8x4,
    };
    let src_image =
        ImageRef::new(src.width, src.height, &src.data, pixel_type).context("resize source")?;
    let mut dst = Image::new(width, height, pixel_type);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter))
        .crop(x, y, cw, ch)
        .use_alpha(src.has_alpha());
    Resizer::new()
        .resize(&src_image, &mut dst, &options)
        .context("resize")?;
    Bitmap::new(width, height, src.channels, dst.into_vec())
}

/// An exact pixel-aligned crop (no resampling); the whole image is returned without a copy.
fn copy_region(src: Bitmap, x: u32, y: u32, width: u32, height: u32) -> Bitmap {
    if x == 0 && y == 0 && width == src.width && height == src.height {
        return src;
    }
    let n = src.channels as usize;
    let row = width as usize * n;
    let mut data = Vec::with_capacity(row * height as usize);
    for r in y..y + height {
        let start = (r as usize * src.width as usize + x as usize) * n;
        data.extend_from_slice(&src.data[start..start + row]);
    }
    Bitmap {
        width,
        height,
        channels: src.channels,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_op_and_crop() {
        let data: Vec<u8> = (0..4 * 3 * 3).map(|v| v as u8).collect();
        let src = Bitmap::new(4, 3, 3, data.clone()).unwrap();
        let full = Rect {
            x: 0.0,
            y: 0.0,
            width: 4.0,
            height: 3.0,
        };
        assert_eq!(resize(src.clone(), full, 4, 3).unwrap().data, data);
        let crop = Rect {
            x: 1.0,
            y: 1.0,
            width: 2.0,
            height: 2.0,
        };
        let out = resize(src, crop, 2, 2).unwrap();
        assert_eq!(out.data, [15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
    }

    #[test]
    fn transparent_pixels_do_not_bleed() {
        // Left half opaque red, right half fully transparent *green*: after a downscale no
        // pixel may turn greenish, which it would without premultiplication.
        let mut data = Vec::new();
        for _y in 0..8 {
            for x in 0..8 {
                data.extend_from_slice(if x < 4 {
                    &[255, 0, 0, 255]
                } else {
                    &[0, 255, 0, 0]
                });
            }
        }
        let src = Bitmap::new(8, 8, 4, data).unwrap();
        let out = resize(
            src,
            Rect {
                x: 0.0,
                y: 0.0,
                width: 8.0,
                height: 8.0,
            },
            3,
            3,
        )
        .unwrap();
        for p in out.data.chunks_exact(4).filter(|p| p[3] > 16) {
            assert!(p[1] < 8 && p[0] > 240, "{p:?}");
        }
    }
}
