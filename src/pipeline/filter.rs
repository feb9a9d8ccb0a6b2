//! Step 7 of the order, `blur` and `sharpen`, on the output-size image (so their cost follows
//! the output, not the source): libblur's Gaussian on one thread. Sigmas up to
//! [`EXACT_UP_TO`] use the true kernel; larger ones the three-box approximation, whose cost
//! does not grow with sigma, so `blur=100` on a 4096 px output costs what `blur=9` does.
//! Sharpen is an unsharp mask: the image plus its difference from its blur. Alpha is
//! premultiplied around the blur, so transparent pixels' colours do not bleed in.

use anyhow::{anyhow, Result};
use libblur::{
    BlurImage, BlurImageMut, CLTParameters, ConvolutionMode, EdgeMode, EdgeMode2D,
    FastBlurChannels, GaussianBlurParams, ThreadingPolicy,
};

use super::bitmap::Bitmap;

/// The largest sigma blurred with the exact kernel (`6 sigma + 1` taps a pass).
pub const EXACT_UP_TO: f64 = 8.0;

/// How strongly sharpen adds back the detail its blur removed (sharp's and libvips' default
/// gain for flat areas is of this order).
const SHARPEN_AMOUNT: i32 = 1;

/// `image` blurred with a Gaussian of `sigma` pixels.
pub fn blur(image: Bitmap, sigma: f64) -> Result<Bitmap> {
    let image = blurrable(image);
    if image.channels == 3 || image.channels == 1 {
        return gaussian(&image, sigma);
    }
    let blurred = gaussian(&premultiplied(image), sigma)?;
    Ok(unpremultiplied(blurred))
}

/// `image` sharpened with an unsharp mask of `sigma` pixels.
pub fn sharpen(image: Bitmap, sigma: f64) -> Result<Bitmap> {
    let image = blurrable(image);
    let blurred = gaussian(&image, sigma)?;
    let n = image.channels as usize;
    let colour = if image.has_alpha() { n - 1 } else { n };
    let mut out = image;
    for (p, b) in out
        .data
        .chunks_exact_mut(n)
        .zip(blurred.data.chunks_exact(n))
    {
        for c in 0..colour {
            let (v, soft) = (i32::from(p[c]), i32::from(b[c]));
            p[c] = (v + SHARPEN_AMOUNT * (v - soft)).clamp(0, 255) as u8;
        }
    }
    Ok(out)
}

/// libblur has no grey+alpha layout: that one becomes RGBA, the others stay as they are.
fn blurrable(image: Bitmap) -> Bitmap {
    if image.channels == 2 {
        image.into_rgb_family()
    } else {
        image
    }
}

fn gaussian(image: &Bitmap, sigma: f64) -> Result<Bitmap> {
    let channels = match image.channels {
        1 => FastBlurChannels::Plane,
        3 => FastBlurChannels::Channels3,
        4 => FastBlurChannels::Channels4,
        n => return Err(anyhow!("blur given {n} channels")),
    };
    let src = BlurImage::borrow(&image.data, image.width, image.height, channels);
    let mut data = vec![0u8; image.data.len()];
    let mut dst = BlurImageMut::borrow(&mut data, image.width, image.height, channels);
    let result = if sigma <= EXACT_UP_TO {
        libblur::gaussian_blur(
            &src,
            &mut dst,
            GaussianBlurParams::new_from_sigma(sigma),
            EdgeMode2D::new(EdgeMode::Clamp),
            ThreadingPolicy::Single,
            ConvolutionMode::FixedPoint,
        )
    } else {
        libblur::gaussian_box_blur(
            &src,
            &mut dst,
            CLTParameters::new(sigma as f32),
            ThreadingPolicy::Single,
        )
    };
    result.map_err(|e| anyhow!("blur: {e:?}"))?;
    drop(dst);
    Bitmap::new(image.width, image.height, image.channels, data)
}

fn premultiplied(mut image: Bitmap) -> Bitmap {
    for p in image.data.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        for c in &mut p[..3] {
            *c = ((u32::from(*c) * a + 127) / 255) as u8;
        }
    }
    image
}

fn unpremultiplied(mut image: Bitmap) -> Bitmap {
    for p in image.data.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        if a == 0 {
            continue;
        }
        for c in &mut p[..3] {
            *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sum of absolute differences between horizontal neighbours: how much edge there is.
    fn edges(b: &Bitmap) -> u64 {
        b.data
            .chunks_exact(b.row_len())
            .flat_map(|row| row.windows(2).map(|w| u64::from(w[0].abs_diff(w[1]))))
            .sum()
    }

    fn stripes() -> Bitmap {
        let data = (0..64 * 16)
            .map(|i| if i % 64 / 8 % 2 == 0 { 40 } else { 200 })
            .collect();
        Bitmap::new(64, 16, 1, data).unwrap()
    }

    #[test]
    fn blur_softens_and_sharpen_hardens() {
        let plain = edges(&stripes());
        for sigma in [0.3, 2.0, EXACT_UP_TO + 1.0, 100.0] {
            let soft = blur(stripes(), sigma).unwrap();
            assert_eq!((soft.width, soft.height, soft.channels), (64, 16, 1));
            assert!(edges(&soft) < plain, "blur {sigma}");
        }
        let smooth = blur(stripes(), 1.5).unwrap();
        assert!(edges(&sharpen(smooth.clone(), 1.0).unwrap()) > edges(&smooth));
    }

    #[test]
    fn transparent_colour_does_not_bleed() {
        // Opaque red beside transparent green: blurred, no visible pixel turns green.
        let data = (0..32 * 4)
            .flat_map(|i| {
                if i % 32 < 16 {
                    [255, 0, 0, 255]
                } else {
                    [0, 255, 0, 0]
                }
            })
            .collect();
        let out = blur(Bitmap::new(32, 4, 4, data).unwrap(), 3.0).unwrap();
        for p in out.data.chunks_exact(4).filter(|p| p[3] > 16) {
            assert!(p[1] < 16, "{p:?}");
        }
    }

    #[test]
    fn tiny_images_take_any_sigma() {
        // Kernels far wider than the image (a 1x1 output, sigma 100) must neither panic nor fail.
        for (w, h) in [(1, 1), (1, 7), (5, 1), (3, 2)] {
            for channels in [1u8, 2, 3, 4] {
                let data = (0..w * h * u32::from(channels))
                    .map(|v| (v * 37) as u8)
                    .collect();
                let b = Bitmap::new(w, h, channels, data).unwrap();
                for sigma in [0.3, 2.0, EXACT_UP_TO, EXACT_UP_TO + 0.01, 100.0] {
                    let out = blur(b.clone(), sigma).unwrap();
                    assert_eq!((out.width, out.height), (w, h));
                    let out = sharpen(b.clone(), sigma.min(10.0)).unwrap();
                    assert_eq!((out.width, out.height), (w, h));
                }
            }
        }
    }
}
