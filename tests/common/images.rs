//! Images made and checked by the tests, with the `image` crate: a decoder independent of the
//! server's pipeline, so a test checks what a client would see.

/// The colours the tests paint their generated images with: far apart, so a few levels of
/// tolerance tell them apart after resampling and lossy encoding.
pub const RED: [u8; 3] = [230, 20, 20];
pub const GREEN: [u8; 3] = [20, 200, 40];
pub const BLUE: [u8; 3] = [30, 40, 220];
pub const YELLOW: [u8; 3] = [240, 220, 20];
pub const WHITE: [u8; 3] = [255, 255, 255];

/// The format and size of an encoded image (AVIF, which the test's decoder cannot read, by
/// its container's `ispe` box).
pub fn decode(bytes: &[u8]) -> (String, u32, u32) {
    if bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && (&bytes[8..12] == b"avif" || &bytes[8..12] == b"avis")
    {
        let at = bytes
            .windows(4)
            .position(|w| w == b"ispe")
            .expect("an ispe box");
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        return ("avif".into(), be(at + 8), be(at + 12));
    }
    let format = image::guess_format(bytes).expect("a known image format");
    let img = image::load_from_memory(bytes).expect("a decodable image");
    let name = format!("{format:?}").to_lowercase();
    (name, img.width(), img.height())
}

pub fn decode_rgba(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes)
        .expect("a decodable image")
        .to_rgba8()
}

/// Whether `pixel` is within `tolerance` of `expected` on every channel.
pub fn near(pixel: &image::Rgba<u8>, expected: [u8; 3], tolerance: u8) -> bool {
    pixel
        .0
        .iter()
        .zip(expected)
        .all(|(a, b)| a.abs_diff(b) <= tolerance)
}

/// A solid-colour PNG.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Whether every pixel of the decoded image is within a small tolerance of `rgb`.
pub fn is_solid(bytes: &[u8], rgb: [u8; 3]) -> bool {
    decode_rgba(bytes).pixels().all(|p| near(p, rgb, 12))
}

/// Mean absolute difference per RGB channel between two equally sized images.
pub fn mean_abs_diff(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| (0..3).map(|i| u64::from(p[i].abs_diff(q[i]))).sum::<u64>())
        .sum();
    sum as f64 / (f64::from(a.width()) * f64::from(a.height()) * 3.0)
}

/// Mean colour of a `size`x`size` square centred on (x, y).
pub fn mean_rgb(img: &image::RgbaImage, x: u32, y: u32, size: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for yy in y - size / 2..y + size / 2 {
        for xx in x - size / 2..x + size / 2 {
            let p = img.get_pixel(xx, yy);
            for i in 0..3 {
                sum[i] += f64::from(p[i]);
            }
        }
    }
    sum.map(|s| s / f64::from(size * size))
}

pub fn assert_colour(actual: [f64; 3], expected: [u8; 3], tolerance: f64, what: &str) {
    for i in 0..3 {
        assert!(
            (actual[i] - f64::from(expected[i])).abs() <= tolerance,
            "{what}: {actual:?} is not {expected:?}"
        );
    }
}

/// A PNG of vertical bands, `band` px wide and `height` tall, one per colour from the left.
pub fn bands(colours: &[[u8; 3]], band: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(band * colours.len() as u32, height, |x, _| {
        image::Rgb(colours[(x / band) as usize])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}
