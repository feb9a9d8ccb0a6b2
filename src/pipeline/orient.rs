//! EXIF orientation, and the request's rotation and flip composed with it. The render resamples in the *stored* orientation (so a full-size image is
//! never rotated) and orients the small result; this module maps rectangles from displayed to
//! stored coordinates and applies the orientation to pixels. Outputs carry no EXIF, so the
//! pixels must be upright.

use super::bitmap::Bitmap;
use super::exif;
use super::geometry::Rect;

/// How orientation `o` (an EXIF code, 1-8) moves a point, as a matrix on coordinates centred
/// on the image (`x' = m[0] x + m[1] y`, `y' = m[2] x + m[3] y`, y pointing down).
fn matrix(o: u8) -> [i8; 4] {
    match o {
        2 => [-1, 0, 0, 1],
        3 => [-1, 0, 0, -1],
        4 => [1, 0, 0, -1],
        5 => [0, 1, 1, 0],
        6 => [0, -1, 1, 0],
        7 => [0, -1, -1, 0],
        8 => [0, 1, -1, 0],
        _ => [1, 0, 0, 1],
    }
}

fn code(m: [i8; 4]) -> u8 {
    (1..=8).find(|&o| matrix(o) == m).unwrap_or(1)
}

/// Orientation `first`, then `then`, as one orientation (the rotation and flip of a request
/// compose with the EXIF orientation into the one turn applied to the small result).
pub fn compose(first: u8, then: u8) -> u8 {
    let (a, b) = (matrix(then), matrix(first));
    code([
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ])
}

/// The orientation that undoes `o`.
pub fn inverse(o: u8) -> u8 {
    let m = matrix(o);
    code([m[0], m[2], m[1], m[3]])
}

/// The size of a `(w, h)` image once `o` is applied.
pub fn turned_size(o: u8, (w, h): (u32, u32)) -> (u32, u32) {
    if exif::swaps_axes(o) {
        (h, w)
    } else {
        (w, h)
    }
}

/// Where rectangle `r` of a `w`x`h` image lands once `o` is applied (continuous coordinates,
/// edges included).
pub fn map_rect(r: Rect, o: u8, (w, h): (f64, f64)) -> Rect {
    let m = matrix(o).map(f64::from);
    let (tw, th) = if exif::swaps_axes(o) { (h, w) } else { (w, h) };
    let point = |x: f64, y: f64| {
        let (cx, cy) = (x - w / 2.0, y - h / 2.0);
        (
            m[0] * cx + m[1] * cy + tw / 2.0,
            m[2] * cx + m[3] * cy + th / 2.0,
        )
    };
    let (x0, y0) = point(r.x, r.y);
    let (x1, y1) = point(r.x + r.width, r.y + r.height);
    Rect {
        x: x0.min(x1),
        y: y0.min(y1),
        width: (x1 - x0).abs(),
        height: (y1 - y0).abs(),
    }
}

/// The stored-coordinates rectangle showing as `r` once oriented; `sw`x`sh` is the stored size.
pub fn rect_to_stored(r: Rect, orientation: u8, sw: f64, sh: f64) -> Rect {
    let displayed = if exif::swaps_axes(orientation) {
        (sh, sw)
    } else {
        (sw, sh)
    };
    map_rect(r, inverse(orientation), displayed)
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

    /// Pixel (2,0) of [`upright`], which holds the value 3.
    const PIXEL_OF_3: Rect = Rect {
        x: 2.0,
        y: 0.0,
        width: 1.0,
        height: 1.0,
    };

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
        let r = PIXEL_OF_3;
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

    #[test]
    fn composition_matches_applying_twice() {
        let img = upright();
        for a in 1..=8 {
            assert_eq!(
                apply(apply(img.clone(), a), inverse(a)),
                img,
                "inverse of {a}"
            );
            for b in 1..=8 {
                let twice = apply(apply(img.clone(), a), b);
                assert_eq!(apply(img.clone(), compose(a, b)), twice, "{a} then {b}");
            }
        }
        // A quarter turn clockwise is EXIF 6; twice is 180 degrees; a mirror then 180 is a
        // vertical mirror.
        assert_eq!(compose(6, 6), 3);
        assert_eq!(compose(2, 3), 4);
    }

    #[test]
    fn rects_follow_the_pixels_through_any_turn() {
        let img = upright();
        // Wherever a turn puts the value 3, map_rect must put the rect of its pixel.
        let r = PIXEL_OF_3;
        for o in 1..=8 {
            let out = apply(img.clone(), o);
            let m = map_rect(r, o, (3.0, 2.0));
            let i = (m.y as u32 * out.width + m.x as u32) as usize;
            assert_eq!(out.data[i], 3, "orientation {o}");
        }
    }
}
