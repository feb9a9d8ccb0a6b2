//! EXIF orientation. The render resamples in the *stored* orientation (so a full-size image is
//! never rotated) and orients the small result; this module maps rectangles from displayed to
//! stored coordinates and applies the orientation to pixels. Outputs carry no EXIF, so the
//! pixels must be upright.

use super::bitmap::Bitmap;
use super::geometry::Rect;

/// Maps a displayed-coordinates point to stored coordinates (continuous, edges included).
fn point_to_stored(x: f64, y: f64, orientation: u8, sw: f64, sh: f64) -> (f64, f64) {
    match orientation {
        2 => (sw - x, y),
        3 => (sw - x, sh - y),
        4 => (x, sh - y),
        5 => (y, x),
        6 => (y, sh - x),
        7 => (sw - y, sh - x),
        8 => (sw - y, x),
        _ => (x, y),
    }
}

/// The stored-coordinates rectangle showing as `r` once oriented; `sw`x`sh` is the stored size.
pub fn rect_to_stored(r: Rect, orientation: u8, sw: f64, sh: f64) -> Rect {
    let (x0, y0) = point_to_stored(r.x, r.y, orientation, sw, sh);
    let (x1, y1) = point_to_stored(r.x + r.width, r.y + r.height, orientation, sw, sh);
    Rect {
        x: x0.min(x1),
        y: y0.min(y1),
        width: (x1 - x0).abs(),
        height: (y1 - y0).abs(),
    }
}

/// Turns a stored-orientation bitmap upright.
pub fn apply(src: Bitmap, orientation: u8) -> Bitmap {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (sw, sh) = (src.width as usize, src.height as usize);
    let (dw, dh) = if orientation >= 5 { (sh, sw) } else { (sw, sh) };
    let n = src.channels as usize;
    let mut data = vec![0u8; src.data.len()];
    for dy in 0..dh {
        for dx in 0..dw {
            let (sx, sy) = match orientation {
                2 => (sw - 1 - dx, dy),
                3 => (sw - 1 - dx, sh - 1 - dy),
                4 => (dx, sh - 1 - dy),
                5 => (dy, dx),
                6 => (dy, sh - 1 - dx),
                7 => (sw - 1 - dy, sh - 1 - dx),
                _ => (sw - 1 - dy, dx),
            };
            let s = (sy * sw + sx) * n;
            let d = (dy * dw + dx) * n;
            data[d..d + n].copy_from_slice(&src.data[s..s + n]);
        }
    }
    Bitmap {
        width: dw as u32,
        height: dh as u32,
        channels: src.channels,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 upright grey image with distinct values, and how each orientation stores it.
    fn upright() -> Bitmap {
        Bitmap::new(3, 2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap()
    }

    fn stored(orientation: u8) -> Bitmap {
        // Inverse transforms of `upright`, written out by hand.
        let (w, h, d): (u32, u32, Vec<u8>) = match orientation {
            1 => (3, 2, vec![1, 2, 3, 4, 5, 6]),
            2 => (3, 2, vec![3, 2, 1, 6, 5, 4]),
            3 => (3, 2, vec![6, 5, 4, 3, 2, 1]),
            4 => (3, 2, vec![4, 5, 6, 1, 2, 3]),
            5 => (2, 3, vec![1, 4, 2, 5, 3, 6]),
            // Stored rotated 90° counter-clockwise; displayed rotated clockwise.
            6 => (2, 3, vec![3, 6, 2, 5, 1, 4]),
            7 => (2, 3, vec![6, 3, 5, 2, 4, 1]),
            _ => (2, 3, vec![4, 1, 5, 2, 6, 3]),
        };
        Bitmap::new(w, h, 1, d).unwrap()
    }

    #[test]
    fn every_orientation_comes_out_upright() {
        for o in 1..=8 {
            assert_eq!(apply(stored(o), o), upright(), "orientation {o}");
        }
    }

    #[test]
    fn rects_map_to_the_pixels_that_show_there() {
        // Displayed pixel (2,0) (value 3) must map to where 3 is stored.
        let r = Rect {
            x: 2.0,
            y: 0.0,
            width: 1.0,
            height: 1.0,
        };
        for o in 1..=8 {
            let s = stored(o);
            let m = rect_to_stored(r, o, f64::from(s.width), f64::from(s.height));
            let i = (m.y as u32 * s.width + m.x as u32) as usize;
            assert_eq!(
                (s.data[i], m.width, m.height),
                (3, 1.0, 1.0),
                "orientation {o}"
            );
        }
    }
}
