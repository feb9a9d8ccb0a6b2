//! A YCbCr JPEG decoded through libjpeg's raw data output, converted to RGB here: libjpeg's
//! own conversion (`ycc_rgb_convert`) is scalar C in the default build, a tenth of a cold
//! render's CPU; this one is the same fixed-point arithmetic, vectorised, so the pixels are
//! libjpeg's (the default build's renders are 3-5 % cheaper; `turbo`, whose libjpeg-turbo
//! converts with SIMD, keeps its own path). It takes the files where chroma comes out of the
//! IDCT at the luma's size or at half its width (4:4:4 at any scale, 4:2:0 below 8/8, where libjpeg upsamples chroma
//! by scaling its IDCT, and 4:2:2, whose rows are upsampled here as libjpeg would), band by
//! band so only one band of planes is held. Others (grey, CMYK, RGB-coded, 4:2:0 at 8/8,
//! whose chroma needs upsampling across rows) go through `jpeg.rs`'s path, on `None`.

use std::os::raw::{c_int, c_ulong};
use std::panic;

use anyhow::{bail, ensure, Context, Result};
use mozjpeg_sys as ffi;

use crate::pipeline::bitmap::Bitmap;
use crate::pipeline::PipelineError;

/// Decodes `bytes` at `eighths`/8 to RGB, or `None` when this path does not take the file
/// (see the module's doc).
pub fn decode(bytes: &[u8], eighths: u32) -> Result<Option<Bitmap>, PipelineError> {
    // `error_exit` below unwinds; the session's drop releases libjpeg's memory on the way out.
    super::jpeg::catch_libjpeg(|| decode_raw(bytes, eighths.clamp(1, 8)))?
        .map_err(|e| PipelineError::Unsupported(format!("jpeg: {e:#}")))
}

/// One libjpeg decompressor; boxed so the pointers libjpeg keeps stay valid.
struct Session {
    cinfo: Box<ffi::jpeg_decompress_struct>,
    _err: Box<ffi::jpeg_error_mgr>,
}

impl Session {
    fn new(bytes: &[u8]) -> Result<Self> {
        let len = c_ulong::try_from(bytes.len()).context("file too large")?;
        // SAFETY: both structs are plain C data for which all-zero is the documented starting
        // state; `jpeg_std_error` fills the manager before libjpeg can call into it, and the
        // boxes keep the addresses libjpeg stores. A zeroed struct that `jpeg_CreateDecompress`
        // never reached is safe to destroy (its memory manager is null).
        unsafe {
            let mut err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
            ffi::jpeg_std_error(&mut err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(ignore_message);
            let mut session = Session {
                cinfo: Box::new(std::mem::zeroed()),
                _err: err,
            };
            session.cinfo.common.err = &mut *session._err;
            ffi::jpeg_create_decompress(&mut *session.cinfo);
            // `bytes` outlives the session: it is dropped at the end of `decode_raw`.
            ffi::jpeg_mem_src(&mut session.cinfo, bytes.as_ptr(), len);
            Ok(session)
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the struct was created (or zeroed, see `new`) and is not used afterwards.
        unsafe { ffi::jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    let mut buffer = [0u8; 80];
    // SAFETY: `err` is the manager `Session::new` installed; `format_message` writes at most
    // JMSG_LENGTH_MAX (80) bytes, NUL-terminated. The binding declares the buffer `&` though
    // the C function writes it, so the pointer's type says `&mut` (same ABI: a pointer).
    let message = unsafe {
        match (*cinfo.err).format_message {
            Some(format) => {
                let format = std::mem::transmute::<
                    unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, &[u8; 80]),
                    unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, &mut [u8; 80]),
                >(format);
                format(cinfo, &mut buffer);
                let text = buffer.split(|&b| b == 0).next().unwrap_or_default();
                String::from_utf8_lossy(text).into_owned()
            }
            None => format!("error {}", (*cinfo.err).msg_code),
        }
    };
    // resume_unwind: a corrupt file is not a bug, so no panic hook or backtrace.
    panic::resume_unwind(Box::new(message));
}

extern "C-unwind" fn ignore_message(_cinfo: &mut ffi::jpeg_common_struct, _level: c_int) {}

/// One component's band of rows, as libjpeg writes it per iMCU row: whole blocks.
struct Band {
    stride: usize,
    rows: usize,
    data: Vec<u8>,
}

impl Band {
    fn row(&self, row: usize, len: usize) -> &[u8] {
        &self.data[row * self.stride..row * self.stride + len]
    }
}

fn decode_raw(bytes: &[u8], eighths: u32) -> Result<Option<Bitmap>> {
    let mut session = Session::new(bytes)?;
    let cinfo = &mut *session.cinfo;
    // SAFETY (every libjpeg call below): `cinfo` is a created decompressor with a memory
    // source; libjpeg checks its own state and reports misuse through `error_exit`.
    unsafe { ffi::jpeg_read_header(cinfo, 1) };
    if cinfo.num_components != 3 || cinfo.jpeg_color_space != ffi::J_COLOR_SPACE::JCS_YCbCr {
        return Ok(None);
    }
    let scale = eighths as usize;
    let (max_h, max_v) = (cinfo.max_h_samp_factor, cinfo.max_v_samp_factor);
    // SAFETY: after the header, `comp_info` points at `num_components` (3) entries.
    let comps = unsafe { std::slice::from_raw_parts(cinfo.comp_info, 3) };
    let sampling = |i: usize| (comps[i].h_samp_factor, comps[i].v_samp_factor);
    let luma_first = (1..=2).contains(&max_h)
        && (1..=2).contains(&max_v)
        && sampling(0) == (max_h, max_v)
        && sampling(1) == (1, 1)
        && sampling(2) == (1, 1);
    // Chroma at the luma's height, and at its width or half of it (4:2:2, and 4:2:0 where
    // its IDCT scale makes up for the vertical subsampling only): what this path upsamples.
    let chroma_block = scaled_block(scale, (max_h, max_v), (1, 1));
    let half_wide = chroma_block * 2 == max_h as usize * scale;
    let chroma_width = (cinfo.image_width as usize * chroma_block).div_ceil(max_h as usize * 8);
    if !luma_first
        || chroma_block != max_v as usize * scale
        || !(half_wide || chroma_block == max_h as usize * scale)
        // libjpeg replicates instead of interpolating under three samples.
        || (half_wide && chroma_width < 3)
    {
        return Ok(None);
    }
    cinfo.scale_num = eighths;
    cinfo.scale_denom = 8;
    cinfo.raw_data_out = 1;
    unsafe { ffi::jpeg_start_decompress(cinfo) };

    let (width, height) = (cinfo.output_width as usize, cinfo.output_height as usize);
    ensure!(
        width == (cinfo.image_width as usize * scale).div_ceil(8)
            && height == (cinfo.image_height as usize * scale).div_ceil(8),
        "unexpected scaled size"
    );
    // Rows per iMCU row: the same for every component, as each is at the luma's size.
    let band_rows = max_v as usize * scale;
    // SAFETY: the component array is unchanged by starting the decompressor.
    let comps = unsafe { std::slice::from_raw_parts(cinfo.comp_info, 3) };
    let mut bands: Vec<Band> = comps
        .iter()
        .map(|c| {
            let block = if c.h_samp_factor == max_h {
                scale
            } else {
                chroma_block
            };
            let stride = c.width_in_blocks as usize * block;
            Band {
                stride,
                rows: c.v_samp_factor as usize * block,
                data: vec![0; stride * c.v_samp_factor as usize * block],
            }
        })
        .collect();
    ensure!(
        bands.iter().all(|b| b.rows == band_rows)
            && bands[0].stride >= width
            && bands[1..].iter().all(|b| b.stride >= chroma_width),
        "unexpected band"
    );
    // Filled row by row through a scratch row, so the large buffer is written once (no
    // zeroing pass over it first).
    let mut rgb = Vec::with_capacity(width * height * 3);
    let mut rgb_row = vec![0u8; width * 3];
    let convert = row_converter();
    let mut upsampled = [vec![0u8; 2 * chroma_width], vec![0u8; 2 * chroma_width]];
    // The bands are never reallocated, so their row pointers hold for every iMCU row.
    let mut pointers: Vec<Vec<*mut u8>> = bands
        .iter_mut()
        .map(|band| {
            (0..band.rows)
                // SAFETY: `row < band.rows`, so the row lies inside the band's data.
                .map(|row| unsafe { band.data.as_mut_ptr().add(row * band.stride) })
                .collect()
        })
        .collect();
    let mut components: Vec<*mut *mut u8> = pointers.iter_mut().map(|p| p.as_mut_ptr()).collect();
    let mut first_row = 0;
    while first_row < height {
        // SAFETY: each component gets `rows` row pointers of `stride` samples, the band
        // libjpeg writes per iMCU row (`width_in_blocks` blocks of its scaled block size).
        let got =
            unsafe { ffi::jpeg_read_raw_data(cinfo, components.as_mut_ptr(), band_rows as u32) };
        if got as usize != band_rows {
            bail!("libjpeg returned {got} rows, expected {band_rows}");
        }
        let rows = band_rows.min(height - first_row);
        for row in 0..rows {
            let y = bands[0].row(row, width);
            if half_wide {
                for (c, wide) in upsampled.iter_mut().enumerate() {
                    let narrow = bands[c + 1].row(row, chroma_width);
                    // libjpeg interpolates only above 1/8 (`jdsample.c`).
                    if scale > 1 {
                        fancy_upsample_h2v1(narrow, wide);
                    } else {
                        replicate_h2v1(narrow, wide);
                    }
                }
                convert(y, &upsampled[0], &upsampled[1], &mut rgb_row);
            } else {
                convert(
                    y,
                    bands[1].row(row, width),
                    bands[2].row(row, width),
                    &mut rgb_row,
                );
            }
            rgb.extend_from_slice(&rgb_row);
        }
        first_row += rows;
    }
    unsafe { ffi::jpeg_finish_decompress(cinfo) };
    Ok(Some(Bitmap::new(
        u32::try_from(width)?,
        u32::try_from(height)?,
        3,
        rgb,
    )?))
}

/// libjpeg's "fancy" horizontal 2x upsampling (`h2v1_fancy_upsample` in `jdsample.c`):
/// each output sample is 3/4 of the nearer input and 1/4 of the further, rounded alternately
/// up and down, the ends copied. `input` has at least three samples.
fn fancy_upsample_h2v1(input: &[u8], output: &mut [u8]) {
    let n = input.len();
    let v = |i: usize| u16::from(input[i]);
    output[0] = input[0];
    output[1] = ((v(0) * 3 + v(1) + 2) >> 2) as u8;
    for i in 1..n - 1 {
        let near = v(i) * 3;
        output[2 * i] = ((near + v(i - 1) + 1) >> 2) as u8;
        output[2 * i + 1] = ((near + v(i + 1) + 2) >> 2) as u8;
    }
    output[2 * n - 2] = ((v(n - 1) * 3 + v(n - 2) + 1) >> 2) as u8;
    output[2 * n - 1] = input[n - 1];
}

/// Each sample twice (`h2v1_upsample`).
fn replicate_h2v1(input: &[u8], output: &mut [u8]) {
    for (pair, &v) in output.chunks_exact_mut(2).zip(input) {
        pair.fill(v);
    }
}

type RowConverter = fn(&[u8], &[u8], &[u8], &mut [u8]);

/// The row conversion for this CPU: compiled for AVX2 where it has it (checked once per
/// decode, a cached CPUID), else for the baseline.
fn row_converter() -> RowConverter {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return |y, cb, cr, out| {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { ycc_to_rgb_avx2(y, cb, cr, out) }
        };
    }
    ycc_to_rgb
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn ycc_to_rgb_avx2(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    ycc_to_rgb(y, cb, cr, out);
}

/// JFIF's full-range YCbCr to RGB in libjpeg's 16-bit fixed point (`jdcolor.c`: the same
/// constants and rounding, so the same pixels).
#[inline(always)]
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    const R_CR: i32 = 91_881; // FIX(1.40200)
    const G_CB: i32 = 22_554; // FIX(0.34414)
    const G_CR: i32 = 46_802; // FIX(0.71414)
    const B_CB: i32 = 116_130; // FIX(1.77200)
    const HALF: i32 = 1 << 15;
    for (((rgb, &l), &b), &r) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let (l, b, r) = (i32::from(l), i32::from(b) - 128, i32::from(r) - 128);
        rgb[0] = (l + ((R_CR * r + HALF) >> 16)).clamp(0, 255) as u8;
        rgb[1] = (l + ((-G_CB * b - G_CR * r + HALF) >> 16)).clamp(0, 255) as u8;
        rgb[2] = (l + ((B_CB * b + HALF) >> 16)).clamp(0, 255) as u8;
    }
}

/// The DCT scale libjpeg gives a component (`jpeg_calc_output_dimensions`): the luma scale,
/// doubled for subsampled chroma while that lands exactly on the luma grid and stays under
/// a whole block, so that chroma comes out upsampled by the IDCT.
fn scaled_block(scale: usize, (max_h, max_v): (c_int, c_int), (h, v): (c_int, c_int)) -> usize {
    let (max_h, max_v, h, v) = (max_h as usize, max_v as usize, h as usize, v as usize);
    let mut size = scale;
    while size < 8 && (max_h * scale) % (h * size * 2) == 0 && (max_v * scale) % (v * size * 2) == 0
    {
        size *= 2;
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroma_is_upsampled_by_the_idct_where_libjpeg_does() {
        // 4:2:0 chroma at 2/8: 4x4 blocks (twice the luma's 2x2); at 5/8: 10x10; at 8/8
        // the block is whole and chroma stays at half size.
        assert_eq!(scaled_block(2, (2, 2), (1, 1)), 4);
        assert_eq!(scaled_block(5, (2, 2), (1, 1)), 10);
        assert_eq!(scaled_block(8, (2, 2), (1, 1)), 8);
        assert_eq!(scaled_block(3, (2, 2), (2, 2)), 3);
        // 4:4:4 never doubles, nor 4:2:2: one block size serves both axes, and the vertical
        // one is not subsampled.
        assert_eq!(scaled_block(4, (1, 1), (1, 1)), 4);
        assert_eq!(scaled_block(4, (2, 1), (1, 1)), 4);
    }

    #[test]
    fn converts_like_libjpeg() {
        let convert = |y: u8, cb: u8, cr: u8| {
            let mut out = [0u8; 3];
            row_converter()(&[y], &[cb], &[cr], &mut out);
            out
        };
        // Grey stays grey; chroma offsets give libjpeg's values for these primaries.
        assert_eq!(convert(100, 128, 128), [100, 100, 100]);
        assert_eq!(convert(76, 85, 255), [254, 0, 0]);
        assert_eq!(convert(29, 255, 107), [0, 0, 254]);
    }
}
