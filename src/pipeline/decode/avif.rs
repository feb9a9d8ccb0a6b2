//! AVIF input, with the `avif-decode` feature only: through `rav1d` (the Rust port of dav1d;
//! pure Rust without its `asm` feature, so it builds with nothing but cargo) via its
//! dav1d-compatible API. The container is read by `header::avif`; the primary item's AV1 frame
//! is decoded on this thread only, converted from YUV (any layout, 8-12 bits, limited or full
//! range) to RGB, and the alpha item, if any, becomes the alpha channel. The ICC profile from
//! `colr` goes on to the colour step; nclx primaries other than BT.709 are not converted.
//!
//! Why not by default: corrupt AV1 data can make rav1d panic inside its `extern "C"`
//! functions, which aborts the whole process (a panic cannot unwind out of them), so one
//! hostile file would take the server down. Without the feature, AVIF sources are
//! `Unsupported` (422) with a message saying so.

#[cfg(not(feature = "avif-decode"))]
pub fn decode(
    _bytes: &[u8],
    _header: &crate::pipeline::header::Header,
) -> Result<super::Decoded, crate::pipeline::PipelineError> {
    Err(crate::pipeline::PipelineError::Unsupported(
        "avif: AVIF sources cannot be decoded by this build (the `avif-decode` feature is off)"
            .into(),
    ))
}

#[cfg(feature = "avif-decode")]
pub use with_rav1d::decode;

#[cfg(feature = "avif-decode")]
mod with_rav1d {
    use std::ffi::c_int;
    use std::mem::MaybeUninit;
    use std::ptr::NonNull;

    use anyhow::{bail, Context, Result};
    use rav1d::include::dav1d::data::Dav1dData;
    use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
    use rav1d::include::dav1d::headers::{
        DAV1D_MC_BT2020_NCL, DAV1D_MC_BT709, DAV1D_MC_IDENTITY, DAV1D_PIXEL_LAYOUT_I400,
        DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
    };
    use rav1d::include::dav1d::picture::Dav1dPicture;
    use rav1d::src::lib::{
        dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings,
        dav1d_get_picture, dav1d_open, dav1d_picture_unref, dav1d_send_data,
    };

    use super::super::Decoded;
    use crate::pipeline::bitmap::Bitmap;
    use crate::pipeline::header::avif::parse;
    use crate::pipeline::header::Header;
    use crate::pipeline::PipelineError;

    /// dav1d's "try again" (-EAGAIN).
    const EAGAIN: c_int = -11;

    pub fn decode(bytes: &[u8], header: &Header) -> Result<Decoded, PipelineError> {
        decode_inner(bytes, header).map_err(|e| PipelineError::Unsupported(format!("avif: {e:#}")))
    }

    fn decode_inner(bytes: &[u8], header: &Header) -> Result<Decoded> {
        let file = parse(bytes).map_err(anyhow::Error::msg)?;
        // The AV1 sequence header may claim more than ispe (already limit-checked) does.
        let limit = header.width.saturating_mul(header.height);
        let color = decode_frame(
            &file
                .data(bytes, &file.primary)
                .map_err(anyhow::Error::msg)?,
            limit,
        )?;
        if (color.width, color.height) != (header.width, header.height) {
            bail!(
                "AV1 frame is {}x{}, ispe says {}x{}",
                color.width,
                color.height,
                header.width,
                header.height
            );
        }
        let mut bitmap = color.to_rgb();
        if let Some(alpha_item) = &file.alpha {
            let alpha = decode_frame(
                &file.data(bytes, alpha_item).map_err(anyhow::Error::msg)?,
                limit,
            )?;
            if (alpha.width, alpha.height) == (bitmap.width, bitmap.height) {
                let a = alpha.luma_8bit();
                let data = bitmap
                    .data
                    .chunks_exact(3)
                    .zip(a)
                    .flat_map(|(p, a)| [p[0], p[1], p[2], a])
                    .collect();
                bitmap = Bitmap::new(bitmap.width, bitmap.height, 4, data)?;
            }
        }
        Ok(Decoded {
            bitmap,
            icc: file.primary.icc.clone(),
        })
    }

    /// A decoded frame's planes, copied out of dav1d's picture.
    struct Frame {
        width: u32,
        height: u32,
        /// Bits per component: 8, 10 or 12 (samples above 8 bits are `u16`, stored here as such).
        bits: u32,
        layout: u32,
        full_range: bool,
        matrix: u32,
        /// Y, U, V as 16-bit samples (U and V empty for monochrome).
        planes: [Vec<u16>; 3],
        chroma_width: usize,
    }

    impl Frame {
        fn luma_8bit(&self) -> impl Iterator<Item = u8> + '_ {
            let shift = self.bits - 8;
            let (lo, scale) = self.range(false);
            self.planes[0].iter().map(move |&y| {
                let v = f32::from(y >> shift);
                ((v - lo) * scale).round().clamp(0.0, 255.0) as u8
            })
        }

        /// Offset and scale taking a sample (in 8-bit units) to 0..255.
        fn range(&self, chroma: bool) -> (f32, f32) {
            match (self.full_range, chroma) {
                (true, _) => (0.0, 1.0),
                (false, false) => (16.0, 255.0 / 219.0),
                (false, true) => (128.0, 255.0 / 224.0),
            }
        }

        fn to_rgb(&self) -> Bitmap {
            let (w, h) = (self.width as usize, self.height as usize);
            if self.layout == DAV1D_PIXEL_LAYOUT_I400 {
                let data = self.luma_8bit().flat_map(|v| [v, v, v]).collect();
                return Bitmap {
                    width: self.width,
                    height: self.height,
                    channels: 3,
                    data,
                };
            }
            let (kr, kb) = match self.matrix {
                DAV1D_MC_BT709 => (0.2126, 0.0722),
                DAV1D_MC_BT2020_NCL => (0.2627, 0.0593),
                // BT.601 and unspecified, as libavif does.
                _ => (0.299, 0.114),
            };
            let kg = 1.0 - kr - kb;
            let (ylo, yscale) = self.range(false);
            let (_, cscale) = self.range(true);
            let div = (1u32 << (self.bits - 8)) as f32;
            let (sx, sy) = match self.layout {
                DAV1D_PIXEL_LAYOUT_I420 => (1, 1),
                DAV1D_PIXEL_LAYOUT_I422 => (1, 0),
                _ => (0, 0),
            };
            let mut data = Vec::with_capacity(w * h * 3);
            let to8 = |v: f32| v.round().clamp(0.0, 255.0) as u8;
            for y in 0..h {
                let crow = (y >> sy) * self.chroma_width;
                for x in 0..w {
                    let yy = (f32::from(self.planes[0][y * w + x]) / div - ylo) * yscale;
                    let ci = crow + (x >> sx);
                    let cb = (f32::from(self.planes[1][ci]) / div - 128.0) * cscale;
                    let cr = (f32::from(self.planes[2][ci]) / div - 128.0) * cscale;
                    if self.matrix == DAV1D_MC_IDENTITY {
                        // GBR stored as Y=G, U=B, V=R.
                        data.extend_from_slice(&[to8(cr + 128.0), to8(yy), to8(cb + 128.0)]);
                        continue;
                    }
                    let r = yy + 2.0 * (1.0 - kr) * cr;
                    let b = yy + 2.0 * (1.0 - kb) * cb;
                    let g = (yy - kr * r - kb * b) / kg;
                    data.extend_from_slice(&[to8(r), to8(g), to8(b)]);
                }
            }
            Bitmap {
                width: self.width,
                height: self.height,
                channels: 3,
                data,
            }
        }
    }

    /// Owns a dav1d context; closes it on drop.
    struct Decoder(Option<Dav1dContext>);

    impl Drop for Decoder {
        fn drop(&mut self) {
            // SAFETY: the context came from dav1d_open and is closed once, here.
            unsafe { dav1d_close(NonNull::new(&mut self.0)) };
        }
    }

    /// Owns a dav1d picture; unrefs it on drop.
    struct Picture(Dav1dPicture);

    impl Drop for Picture {
        fn drop(&mut self) {
            // SAFETY: the picture was filled by dav1d_get_picture and is released once, here.
            unsafe { dav1d_picture_unref(NonNull::new(&mut self.0)) };
        }
    }

    /// Decodes one AV1 still; frames over `max_pixels` are refused by dav1d before allocation.
    fn decode_frame(obus: &[u8], max_pixels: u32) -> Result<Frame> {
        if obus.is_empty() {
            bail!("empty AV1 item");
        }
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: dav1d_default_settings writes a whole Dav1dSettings.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new(settings.as_mut_ptr()).context("settings")?);
            settings.assume_init()
        };
        // One render, one core: no frame or tile threads.
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        settings.frame_size_limit = max_pixels.max(1);
        let mut context = Decoder(None);
        // SAFETY: both pointers are valid for the call.
        let rc = unsafe { dav1d_open(NonNull::new(&mut context.0), NonNull::new(&mut settings)) };
        if rc.0 != 0 || context.0.is_none() {
            bail!("dav1d_open failed ({})", rc.0);
        }

        let mut data = Dav1dData::default();
        // SAFETY: dav1d_data_create allocates `obus.len()` bytes owned by `data`, which are
        // written before being read, and released by dav1d_send_data / dav1d_data_unref.
        unsafe {
            let buf = dav1d_data_create(NonNull::new(&mut data), obus.len());
            if buf.is_null() {
                bail!("dav1d_data_create failed");
            }
            std::ptr::copy_nonoverlapping(obus.as_ptr(), buf, obus.len());
        }
        let mut picture = Picture(Dav1dPicture::default());
        let mut got = false;
        // Feed everything, then drain: a still image is a single temporal unit.
        for _ in 0..1000 {
            if data.sz > 0 {
                // SAFETY: context is open; data is a valid Dav1dData.
                let rc = unsafe { dav1d_send_data(context.0, NonNull::new(&mut data)) };
                if rc.0 != 0 && rc.0 != EAGAIN {
                    // SAFETY: data is released once.
                    unsafe { dav1d_data_unref(NonNull::new(&mut data)) };
                    bail!("AV1 data rejected ({})", rc.0);
                }
            }
            // SAFETY: context is open; picture is a valid, empty Dav1dPicture.
            let rc = unsafe { dav1d_get_picture(context.0, NonNull::new(&mut picture.0)) };
            if rc.0 == 0 {
                got = true;
                break;
            }
            if rc.0 != EAGAIN {
                break;
            }
            if data.sz == 0 {
                // Nothing left to send and nothing ready: one more drain attempt, then give up.
                // SAFETY: as above.
                let rc = unsafe { dav1d_get_picture(context.0, NonNull::new(&mut picture.0)) };
                got = rc.0 == 0;
                break;
            }
        }
        if data.sz > 0 {
            // SAFETY: data is released once.
            unsafe { dav1d_data_unref(NonNull::new(&mut data)) };
        }
        if !got {
            bail!("no picture decoded");
        }
        copy_planes(&picture.0)
    }

    fn copy_planes(p: &Dav1dPicture) -> Result<Frame> {
        let (w, h) = (usize::try_from(p.p.w)?, usize::try_from(p.p.h)?);
        let bits = u32::try_from(p.p.bpc)?;
        if w == 0 || h == 0 || !(8..=12).contains(&bits) {
            bail!("unexpected picture {w}x{h} at {bits} bits");
        }
        let layout = p.p.layout;
        // SAFETY: seq_hdr is set on every output picture and lives as long as the picture.
        let seq = unsafe { p.seq_hdr.context("no sequence header")?.as_ref() };
        let (cw, ch) = match layout {
            DAV1D_PIXEL_LAYOUT_I400 => (0, 0),
            DAV1D_PIXEL_LAYOUT_I420 => (w.div_ceil(2), h.div_ceil(2)),
            DAV1D_PIXEL_LAYOUT_I422 => (w.div_ceil(2), h),
            _ => (w, h),
        };
        let read = |plane: usize, pw: usize, ph: usize, stride: isize| -> Result<Vec<u16>> {
            let base = p.data[plane].context("missing plane")?.as_ptr() as *const u8;
            let mut out = Vec::with_capacity(pw * ph);
            for y in 0..ph {
                // SAFETY: dav1d guarantees `ph` rows of `stride` bytes holding `pw` samples each.
                unsafe {
                    let row = base.offset(y as isize * stride);
                    if bits == 8 {
                        out.extend(
                            std::slice::from_raw_parts(row, pw)
                                .iter()
                                .map(|&v| u16::from(v)),
                        );
                    } else {
                        out.extend_from_slice(std::slice::from_raw_parts(row as *const u16, pw));
                    }
                }
            }
            Ok(out)
        };
        let luma = read(0, w, h, p.stride[0])?;
        let (u, v) = if layout == DAV1D_PIXEL_LAYOUT_I400 {
            (Vec::new(), Vec::new())
        } else {
            (read(1, cw, ch, p.stride[1])?, read(2, cw, ch, p.stride[1])?)
        };
        Ok(Frame {
            width: w as u32,
            height: h as u32,
            bits,
            layout,
            full_range: seq.color_range != 0,
            matrix: seq.mtrx,
            planes: [luma, u, v],
            chroma_width: cw,
        })
    }
}
