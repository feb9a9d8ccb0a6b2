//! GIF header: logical screen size, then a walk over the block structure (without LZW
//! decoding) to count frames and find transparency, so animation limits are cheap to check.

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

/// Counting stops here: enough to refuse any animation limit a service would configure,
/// without walking a hostile file of millions of 1-pixel frames.
const MAX_COUNTED_FRAMES: u32 = 100_000;

pub fn read(bytes: &[u8]) -> HeaderResult<Header> {
    let mut c = Cursor::new(bytes);
    c.skip(6)?;
    let width = u32::from(c.le16()?);
    let height = u32::from(c.le16()?);
    let flags = c.u8()?;
    c.skip(2)?;
    if flags & 0x80 != 0 {
        c.skip(3 << ((flags & 7) + 1))?;
    }
    let mut frames = 0u32;
    let mut has_alpha = false;
    while let Ok(introducer) = c.u8() {
        match introducer {
            0x21 => {
                let label = c.u8()?;
                let first = skip_sub_blocks(&mut c)?;
                // Graphic control extension: bit 0 of its packed byte is "transparent colour".
                if label == 0xF9 && first.first().is_some_and(|p| p & 1 == 1) {
                    has_alpha = true;
                }
            }
            0x2C => {
                let left = c.le16()?;
                let top = c.le16()?;
                let w = c.le16()?;
                let h = c.le16()?;
                // A first frame that does not cover the screen leaves transparent pixels.
                if frames == 0
                    && (left > 0 || top > 0 || u32::from(w) < width || u32::from(h) < height)
                {
                    has_alpha = true;
                }
                let f = c.u8()?;
                if f & 0x80 != 0 {
                    c.skip(3 << ((f & 7) + 1))?;
                }
                c.skip(1)?; // LZW minimum code size
                skip_sub_blocks(&mut c)?;
                frames += 1;
                if frames >= MAX_COUNTED_FRAMES {
                    break;
                }
            }
            0x3B => break,
            _ => break,
        }
    }
    if frames == 0 {
        return Err("no image in GIF".into());
    }
    Ok(Header {
        format: ImageFormat::Gif,
        width,
        height,
        orientation: 1,
        has_alpha,
        frames,
    })
}

/// Skips a chain of data sub-blocks; returns the first one (extensions keep their fields there).
fn skip_sub_blocks<'a>(c: &mut Cursor<'a>) -> HeaderResult<&'a [u8]> {
    let mut first = None;
    loop {
        let n = c.u8()? as usize;
        if n == 0 {
            return Ok(first.unwrap_or(&[]));
        }
        let block = c.take(n)?;
        first.get_or_insert(block);
    }
}
