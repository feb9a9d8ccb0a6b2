//! AVIF (HEIF) container: just enough of ISOBMFF to find the primary item, its size (ispe),
//! its rotation/mirror (irot/imir), its alpha auxiliary item and where each item's AV1 data
//! lives (iloc). Used by the header reader and by the AVIF decoder.

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

/// One image item of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    pub id: u32,
    pub width: u32,
    pub height: u32,
    /// Byte ranges of the item's data in the file, in order.
    pub extents: Vec<(usize, usize)>,
    pub icc: Option<Vec<u8>>,
}

/// The parts of an AVIF file the pipeline uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvifFile {
    pub primary: Item,
    pub alpha: Option<Item>,
    /// irot/imir mapped to the EXIF orientation with the same effect.
    pub orientation: u8,
}

impl AvifFile {
    /// The item's data, gathered from its extents.
    #[cfg_attr(not(feature = "avif-decode"), allow(dead_code))]
    pub fn data<'a>(
        &self,
        bytes: &'a [u8],
        item: &Item,
    ) -> HeaderResult<std::borrow::Cow<'a, [u8]>> {
        let slice = |&(off, len): &(usize, usize)| {
            off.checked_add(len)
                .and_then(|end| bytes.get(off..end))
                .ok_or_else(|| "item data out of bounds".to_string())
        };
        match item.extents.as_slice() {
            [one] => Ok(std::borrow::Cow::Borrowed(slice(one)?)),
            many => {
                let mut v = Vec::new();
                for e in many {
                    v.extend_from_slice(slice(e)?);
                }
                Ok(std::borrow::Cow::Owned(v))
            }
        }
    }
}

pub fn read(bytes: &[u8]) -> HeaderResult<Header> {
    let file = parse(bytes)?;
    Ok(Header {
        format: ImageFormat::Avif,
        width: file.primary.width,
        height: file.primary.height,
        orientation: file.orientation,
        has_alpha: file.alpha.is_some(),
        frames: 1,
    })
}

/// Iterates over the boxes in `bytes`: (type, body).
fn boxes(bytes: &[u8]) -> impl Iterator<Item = HeaderResult<([u8; 4], &[u8])>> {
    let mut c = Cursor::new(bytes);
    std::iter::from_fn(move || {
        if c.remaining() < 8 {
            return None;
        }
        let r = (|| {
            let start = c.pos;
            let size = c.be32()? as u64;
            let kind: [u8; 4] = c.take(4)?.try_into().expect("4 bytes");
            let size = match size {
                0 => (c.bytes.len() - start) as u64,
                1 => c.be64()?,
                s => s,
            };
            let header_len = (c.pos - start) as u64;
            let body_len = size.checked_sub(header_len).ok_or("bad box size")?;
            let body = c.take(usize::try_from(body_len).map_err(|_| "bad box size")?)?;
            Ok((kind, body))
        })();
        if r.is_err() {
            c.pos = c.bytes.len();
        }
        Some(r)
    })
}

#[derive(Default)]
struct Property {
    kind: [u8; 4],
    ispe: Option<(u32, u32)>,
    irot: u8,
    imir: Option<u8>,
    alpha_aux: bool,
    icc: Option<Vec<u8>>,
}

pub fn parse(bytes: &[u8]) -> HeaderResult<AvifFile> {
    let mut meta = None;
    for b in boxes(bytes) {
        let (kind, body) = b?;
        if &kind == b"meta" {
            meta = Some(body.get(4..).ok_or("short meta")?);
            break;
        }
    }
    let meta = meta.ok_or("no meta box")?;

    let mut primary_id = None;
    let mut locations: Vec<(u32, Vec<(usize, usize)>)> = Vec::new();
    let mut properties: Vec<Property> = Vec::new();
    let mut associations: Vec<(u32, Vec<u16>)> = Vec::new();
    let mut aux_refs: Vec<(u32, u32)> = Vec::new(); // (aux item, main item)
    let mut item_types: Vec<(u32, [u8; 4])> = Vec::new();

    for b in boxes(meta) {
        let (kind, body) = b?;
        let mut c = Cursor::new(body);
        match &kind {
            b"pitm" => {
                let version = c.u8()?;
                c.skip(3)?;
                primary_id = Some(if version == 0 {
                    u32::from(c.be16()?)
                } else {
                    c.be32()?
                });
            }
            b"iinf" => {
                let version = c.u8()?;
                c.skip(3)?;
                c.skip(if version == 0 { 2 } else { 4 })?;
                for infe in boxes(&body[c.pos..]) {
                    let (k, infe) = infe?;
                    if &k != b"infe" {
                        continue;
                    }
                    let mut d = Cursor::new(infe);
                    let v = d.u8()?;
                    d.skip(3)?;
                    if v < 2 {
                        continue;
                    }
                    let id = if v == 2 {
                        u32::from(d.be16()?)
                    } else {
                        d.be32()?
                    };
                    d.skip(2)?;
                    item_types.push((id, d.take(4)?.try_into().expect("4 bytes")));
                }
            }
            b"iloc" => locations = parse_iloc(&mut c)?,
            b"iref" => {
                let version = c.u8()?;
                c.skip(3)?;
                for r in boxes(&body[4..]) {
                    let (k, r) = r?;
                    let mut d = Cursor::new(r);
                    let id = |d: &mut Cursor| -> HeaderResult<u32> {
                        Ok(if version == 0 {
                            u32::from(d.be16()?)
                        } else {
                            d.be32()?
                        })
                    };
                    let from = id(&mut d)?;
                    let count = d.be16()?;
                    for _ in 0..count {
                        let to = id(&mut d)?;
                        if &k == b"auxl" {
                            aux_refs.push((from, to));
                        }
                    }
                }
            }
            b"iprp" => {
                for child in boxes(body) {
                    let (k, child) = child?;
                    if &k == b"ipco" {
                        for p in boxes(child) {
                            let (pk, pbody) = p?;
                            properties.push(parse_property(pk, pbody));
                        }
                    } else if &k == b"ipma" {
                        associations.extend(parse_ipma(child)?);
                    }
                }
            }
            _ => {}
        }
    }

    let primary_id = primary_id.ok_or("no primary item")?;
    if let Some((_, t)) = item_types.iter().find(|(id, _)| *id == primary_id) {
        if t != b"av01" {
            return Err(format!(
                "primary item is {}, not AV1",
                String::from_utf8_lossy(t)
            ));
        }
    }
    let props_of = |id: u32| -> Vec<&Property> {
        associations
            .iter()
            .filter(|(i, _)| *i == id)
            .flat_map(|(_, idx)| idx.iter())
            .filter_map(|&i| properties.get(usize::from(i).checked_sub(1)?))
            .collect()
    };
    let item = |id: u32| -> HeaderResult<Item> {
        let props = props_of(id);
        let (width, height) = props
            .iter()
            .find_map(|p| p.ispe)
            .ok_or("item without ispe")?;
        let extents = locations
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, e)| e.clone())
            .ok_or("item without location")?;
        let icc = props.iter().find_map(|p| p.icc.clone());
        Ok(Item {
            id,
            width,
            height,
            extents,
            icc,
        })
    };
    let primary = item(primary_id)?;
    let alpha = aux_refs
        .iter()
        .filter(|(_, main)| *main == primary_id)
        .find(|(aux, _)| props_of(*aux).iter().any(|p| p.alpha_aux))
        .map(|(aux, _)| item(*aux))
        .transpose()?;

    // Transformative properties apply in the order listed: rotation, then mirror.
    let props = props_of(primary_id);
    let rot = props
        .iter()
        .find(|p| &p.kind == b"irot")
        .map_or(0, |p| p.irot);
    let mir = props.iter().find_map(|p| p.imir);
    let orientation = match (rot, mir) {
        (0, None) => 1,
        (1, None) => 8,
        (2, None) => 3,
        (3, None) => 6,
        (0, Some(0)) => 2,
        (1, Some(0)) => 7,
        (2, Some(0)) => 4,
        (3, Some(0)) => 5,
        (0, Some(_)) => 4,
        (1, Some(_)) => 5,
        (2, Some(_)) => 2,
        (_, Some(_)) => 7,
        _ => 1,
    };
    Ok(AvifFile {
        primary,
        alpha,
        orientation,
    })
}

fn parse_property(kind: [u8; 4], body: &[u8]) -> Property {
    let mut p = Property {
        kind,
        ..Default::default()
    };
    let mut c = Cursor::new(body);
    match &kind {
        b"ispe" => {
            p.ispe = (|| Ok::<_, String>((c.skip(4)?, c.be32()?, c.be32()?)))()
                .ok()
                .map(|(_, w, h)| (w, h));
        }
        b"irot" => p.irot = body.first().map_or(0, |a| a & 3),
        b"imir" => p.imir = body.first().map(|a| a & 1),
        b"auxC" => {
            let name = body.get(4..).unwrap_or(&[]);
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            p.alpha_aux = name == b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
                || name == b"urn:mpeg:hevc:2015:auxid:1";
        }
        b"colr" if body.len() > 4 && (&body[..4] == b"prof" || &body[..4] == b"rICC") => {
            p.icc = Some(body[4..].to_vec());
        }
        _ => {}
    }
    p
}

fn parse_ipma(body: &[u8]) -> HeaderResult<Vec<(u32, Vec<u16>)>> {
    let mut c = Cursor::new(body);
    let version = c.u8()?;
    let flags = c.take(3)?[2];
    let count = c.be32()?;
    let mut out = Vec::new();
    for _ in 0..count.min(65_536) {
        let id = if version < 1 {
            u32::from(c.be16()?)
        } else {
            c.be32()?
        };
        let n = c.u8()?;
        let mut idx = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            idx.push(if flags & 1 == 1 {
                c.be16()? & 0x7FFF
            } else {
                u16::from(c.u8()? & 0x7F)
            });
        }
        out.push((id, idx));
    }
    Ok(out)
}

/// An item id and its extents (offset, length) in the file.
type ItemLocation = (u32, Vec<(usize, usize)>);

fn parse_iloc(c: &mut Cursor) -> HeaderResult<Vec<ItemLocation>> {
    let version = c.u8()?;
    c.skip(3)?;
    let a = c.u8()?;
    let b = c.u8()?;
    let (offset_size, length_size, base_size) = (a >> 4, a & 15, b >> 4);
    let index_size = if version >= 1 { b & 15 } else { 0 };
    let count = if version < 2 {
        u32::from(c.be16()?)
    } else {
        c.be32()?
    };
    let sized = |c: &mut Cursor, n: u8| -> HeaderResult<u64> {
        Ok(match n {
            0 => 0,
            4 => u64::from(c.be32()?),
            8 => c.be64()?,
            _ => return Err("bad iloc field size".into()),
        })
    };
    let mut out = Vec::new();
    for _ in 0..count.min(65_536) {
        let id = if version < 2 {
            u32::from(c.be16()?)
        } else {
            c.be32()?
        };
        if version >= 1 {
            let method = c.be16()? & 15;
            if method != 0 {
                return Err("iloc construction method other than file offset".into());
            }
        }
        c.skip(2)?; // data reference index
        let base = sized(c, base_size)?;
        let extents = c.be16()?;
        let mut v = Vec::new();
        for _ in 0..extents {
            sized(c, index_size)?;
            let off = base
                .checked_add(sized(c, offset_size)?)
                .ok_or("iloc overflow")?;
            let len = sized(c, length_size)?;
            let off = usize::try_from(off).map_err(|_| "iloc overflow")?;
            let len = usize::try_from(len).map_err(|_| "iloc overflow")?;
            v.push((off, len));
        }
        out.push((id, v));
    }
    Ok(out)
}
