//! WebP with libwebp, alpha kept when present: lossy, or lossless on request (`exact`, so
//! even fully transparent pixels keep their colour and the pixels equal the input's).
//! `method` (0..=6) trades speed for size: 4 is libwebp's default; 0-2 are several times
//! faster. Animations go through libwebp's animation encoder, which stores each frame as the
//! smallest rectangle that changed.

use anyhow::{anyhow, Result};
use webp::{Encoder, PixelLayout, WebPConfig};

use crate::pipeline::bitmap::Bitmap;

pub fn encode(bitmap: &Bitmap, quality: u8, method: u8) -> Result<Vec<u8>> {
    with_config(bitmap, |config| {
        config.lossless = 0;
        config.quality = f32::from(quality);
        config.method = i32::from(method.min(6));
        config.alpha_compression = 1;
    })
}

pub fn encode_lossless(bitmap: &Bitmap, method: u8) -> Result<Vec<u8>> {
    with_config(bitmap, |config| {
        config.lossless = 1;
        config.exact = 1;
        // For lossless, quality is the effort spent on compression; 75 is libwebp's default.
        config.quality = 75.0;
        config.method = i32::from(method.min(6));
    })
}

fn with_config(bitmap: &Bitmap, configure: impl FnOnce(&mut WebPConfig)) -> Result<Vec<u8>> {
    let rgb;
    let bitmap = if bitmap.channels < 3 {
        rgb = bitmap.clone().into_rgb_family();
        &rgb
    } else {
        bitmap
    };
    let layout = if bitmap.channels == 4 {
        PixelLayout::Rgba
    } else {
        PixelLayout::Rgb
    };
    let mut config = WebPConfig::new().map_err(|()| anyhow!("libwebp config"))?;
    configure(&mut config);
    let encoder = Encoder::new(&bitmap.data, layout, bitmap.width, bitmap.height);
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|e| anyhow!("libwebp: {e:?}"))?;
    Ok(memory.to_vec())
}

/// An animated WebP encoded frame by frame as they come (libwebp keeps the encoded frames and
/// one canvas, not the frames given).
pub struct AnimatedWebp {
    encoder: std::ptr::NonNull<libwebp_sys::WebPAnimEncoder>,
    config: WebPConfig,
    width: u32,
    height: u32,
    timestamp_ms: i32,
}

// SAFETY: the encoder is owned by this value alone and libwebp keeps no thread-local state.
unsafe impl Send for AnimatedWebp {}

impl AnimatedWebp {
    /// `loop_count`: 0 plays forever. `lossless` keeps every pixel (for sources that were
    /// lossless); otherwise lossy at `quality`.
    pub fn new(
        width: u32,
        height: u32,
        loop_count: u16,
        quality: u8,
        lossless: bool,
        method: u8,
    ) -> Result<Self> {
        let mut config = WebPConfig::new().map_err(|()| anyhow!("libwebp config"))?;
        config.method = i32::from(method.min(6));
        if lossless {
            config.lossless = 1;
            config.quality = 75.0;
        } else {
            config.quality = f32::from(quality);
            config.alpha_compression = 1;
        }
        let abi = libwebp_sys::WebPGetMuxABIVersion();
        let mut options = std::mem::MaybeUninit::<libwebp_sys::WebPAnimEncoderOptions>::uninit();
        // SAFETY: the Init call fills every field of the options before they are read.
        let encoder = unsafe {
            if libwebp_sys::WebPAnimEncoderOptionsInitInternal(options.as_mut_ptr(), abi) == 0 {
                return Err(anyhow!("libwebp animation options"));
            }
            let mut options = options.assume_init();
            options.anim_params.loop_count = i32::from(loop_count);
            // Transparent: what browsers show under an animation's first frame.
            options.anim_params.bgcolor = 0;
            libwebp_sys::WebPAnimEncoderNewInternal(
                i32::try_from(width)?,
                i32::try_from(height)?,
                &options,
                abi,
            )
        };
        let encoder =
            std::ptr::NonNull::new(encoder).ok_or_else(|| anyhow!("libwebp animation encoder"))?;
        Ok(Self {
            encoder,
            config,
            width,
            height,
            timestamp_ms: 0,
        })
    }

    /// Adds a frame of the canvas's size (RGB or RGBA) shown for `duration_ms`.
    pub fn add(&mut self, bitmap: &Bitmap, duration_ms: u32) -> Result<()> {
        anyhow::ensure!(
            (bitmap.width, bitmap.height) == (self.width, self.height),
            "frame of another size than the canvas"
        );
        if bitmap.channels < 3 {
            return self.add(&bitmap.clone().into_rgb_family(), duration_ms);
        }
        let mut picture =
            libwebp_sys::WebPPicture::new().map_err(|()| anyhow!("libwebp picture"))?;
        picture.use_argb = 1;
        picture.width = i32::try_from(self.width)?;
        picture.height = i32::try_from(self.height)?;
        let stride = i32::try_from(bitmap.row_len())?;
        // SAFETY: `bitmap.data` holds `height` rows of `stride` bytes (Bitmap's invariant);
        // the picture owns what the import allocates and is freed below on every path.
        unsafe {
            let imported = if bitmap.channels == 4 {
                libwebp_sys::WebPPictureImportRGBA(&mut picture, bitmap.data.as_ptr(), stride)
            } else {
                libwebp_sys::WebPPictureImportRGB(&mut picture, bitmap.data.as_ptr(), stride)
            };
            let added = imported != 0
                && libwebp_sys::WebPAnimEncoderAdd(
                    self.encoder.as_ptr(),
                    &mut picture,
                    self.timestamp_ms,
                    &self.config,
                ) != 0;
            libwebp_sys::WebPPictureFree(&mut picture);
            if !added {
                return Err(anyhow!("libwebp could not add a frame: {}", self.error()));
            }
        }
        let duration = i32::try_from(duration_ms).unwrap_or(i32::MAX);
        self.timestamp_ms = self.timestamp_ms.saturating_add(duration);
        Ok(())
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        let mut data = std::mem::MaybeUninit::<libwebp_sys::WebPData>::zeroed();
        // SAFETY: the null frame marks the end at the last frame's end time (its duration);
        // the assembled data is libwebp's allocation, copied out and then released.
        unsafe {
            let encoder = self.encoder.as_ptr();
            let ended = libwebp_sys::WebPAnimEncoderAdd(
                encoder,
                std::ptr::null_mut(),
                self.timestamp_ms,
                std::ptr::null(),
            ) != 0;
            if !ended || libwebp_sys::WebPAnimEncoderAssemble(encoder, data.as_mut_ptr()) == 0 {
                return Err(anyhow!("libwebp could not assemble: {}", self.error()));
            }
            let mut data = data.assume_init();
            let bytes = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
            libwebp_sys::WebPDataClear(&mut data);
            Ok(bytes)
        }
    }

    fn error(&self) -> String {
        // SAFETY: libwebp returns a NUL-terminated string it owns, valid until the next call.
        unsafe {
            let message = libwebp_sys::WebPAnimEncoderGetError(self.encoder.as_ptr());
            if message.is_null() {
                return "unknown error".into();
            }
            std::ffi::CStr::from_ptr(message)
                .to_string_lossy()
                .into_owned()
        }
    }
}

impl Drop for AnimatedWebp {
    fn drop(&mut self) {
        // SAFETY: the encoder was created by WebPAnimEncoderNewInternal and is deleted once.
        unsafe { libwebp_sys::WebPAnimEncoderDelete(self.encoder.as_ptr()) }
    }
}
