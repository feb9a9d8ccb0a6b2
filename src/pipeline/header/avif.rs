//! AVIF (HEIF) container: just enough of ISOBMFF to find the primary item, its size (ispe),
//! its rotation/mirror (irot/imir), its alpha auxiliary item and where each item's AV1 data
//! lives (iloc). Used by the header reader and by the AVIF decoder.
//!
//! Every count in the file (items, extents, properties, associations, references) is checked
//! against the bytes that remain before anything is allocated for it, and capped: a few
//! hundred bytes that declare millions of zero-sized extents are refused, not believed.

use super::{Cursor, Header, HeaderResult};
use crate::pipeline::ImageFormat;

/// Far above what encoders write (libavif: one extent per item, a handful of items and
/// properties; a large grid has a few hundred tiles), far below what costs memory. A file
/// that declares more is refused.
const MAX_ITEMS: usize = 4096;
/// Extents over all the items of an `iloc` box.
const MAX_EXTENTS: usize = 4096;
const MAX_PROPERTIES: usize = 4096;
/// Property indices over all the `ipma` entries.
const MAX_ASSOCIATIONS: usize = 16_384;
const MAX_REFERENCES: usize = 4096;

/// Pushes `value` unless `vec` already holds `max` entries of `what`.
fn push_bounded<T>(vec: &mut Vec<T>, value: T, max: usize, what: &str) -> HeaderResult<()> {
    if vec.len() >= max {
        return Err(format!("more than {max} {what}"));
    }
    vec.push(value);
    Ok(())
}

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
                // Extents may overlap: their sum, not the file, would size the buffer.
                let total = many
                    .iter()
                    .try_fold(0usize, |sum, &(_, len)| sum.checked_add(len))
                    .filter(|&total| total <= bytes.len())
                    .ok_or("item data larger than the file")?;
                let mut v = Vec::with_capacity(total);
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
struct Property<'a> {
    kind: [u8; 4],
    ispe: Option<(u32, u32)>,
    irot: u8,
    imir: Option<u8>,
    alpha_aux: bool,
    /// Borrowed: only the profile of the items actually used is copied.
    icc: Option<&'a [u8]>,
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
    let mut associations: Vec<Association> = Vec::new();
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
                    let kind = d.take(4)?.try_into().expect("4 bytes");
                    push_bounded(&mut item_types, (id, kind), MAX_ITEMS, "items")?;
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
                    // Each reference reads its bytes first, so the loop ends with the box.
                    for _ in 0..count {
                        let to = id(&mut d)?;
                        if &k == b"auxl" {
                            push_bounded(&mut aux_refs, (from, to), MAX_REFERENCES, "references")?;
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
                            let property = parse_property(pk, pbody);
                            push_bounded(&mut properties, property, MAX_PROPERTIES, "properties")?;
                        }
                    } else if &k == b"ipma" {
                        parse_ipma(child, &mut associations)?;
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
        let icc = props.iter().find_map(|p| p.icc.map(<[u8]>::to_vec));
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

fn parse_property(kind: [u8; 4], body: &[u8]) -> Property<'_> {
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
            p.icc = Some(&body[4..]);
        }
        _ => {}
    }
    p
}

/// One item's associated property indices (1-based; 0 means none).
type Association = (u32, Vec<u16>);

/// Appends the entries of one `ipma` box to `out`.
fn parse_ipma(body: &[u8], out: &mut Vec<Association>) -> HeaderResult<()> {
    let mut c = Cursor::new(body);
    let version = c.u8()?;
    let flags = c.take(3)?[2];
    let count = c.be32()? as usize;
    let id_len = if version < 1 { 2 } else { 4 };
    let index_len = if flags & 1 == 1 { 2 } else { 1 };
    // An entry is at least its id and its index count.
    if count > c.remaining() / (id_len + 1) {
        return Err("ipma declares more entries than it holds".into());
    }
    let mut indices = out.iter().map(|(_, idx)| idx.len()).sum::<usize>();
    for _ in 0..count {
        let id = if version < 1 {
            u32::from(c.be16()?)
        } else {
            c.be32()?
        };
        let n = usize::from(c.u8()?);
        if n * index_len > c.remaining() {
            return Err("truncated ipma entry".into());
        }
        indices += n;
        if indices > MAX_ASSOCIATIONS {
            return Err(format!(
                "more than {MAX_ASSOCIATIONS} property associations"
            ));
        }
        let mut idx = Vec::with_capacity(n);
        for _ in 0..n {
            idx.push(if index_len == 2 {
                c.be16()? & 0x7FFF
            } else {
                u16::from(c.u8()? & 0x7F)
            });
        }
        push_bounded(out, (id, idx), MAX_ITEMS, "ipma entries")?;
    }
    Ok(())
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
    if [offset_size, length_size, base_size, index_size]
        .iter()
        .any(|s| !matches!(s, 0 | 4 | 8))
    {
        return Err("bad iloc field size".into());
    }
    let id_len = if version < 2 { 2 } else { 4 };
    let count = if version < 2 {
        usize::from(c.be16()?)
    } else {
        c.be32()? as usize
    };
    // An item is at least its id, construction method, data reference, base and extent count.
    let item_len = id_len + if version >= 1 { 2 } else { 0 } + 2 + usize::from(base_size) + 2;
    if count > c.remaining() / item_len {
        return Err("iloc declares more items than it holds".into());
    }
    if count > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} items"));
    }
    let extent_len = usize::from(index_size) + usize::from(offset_size) + usize::from(length_size);
    let sized = |c: &mut Cursor, n: u8| -> HeaderResult<u64> {
        Ok(match n {
            4 => u64::from(c.be32()?),
            8 => c.be64()?,
            _ => 0,
        })
    };
    let mut out = Vec::with_capacity(count);
    let mut total_extents = 0usize;
    for _ in 0..count {
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
        let extents = usize::from(c.be16()?);
        if extents * extent_len > c.remaining() {
            return Err("iloc declares more extents than it holds".into());
        }
        // Zero-sized fields make extents free to declare: the total is what bounds them.
        total_extents += extents;
        if total_extents > MAX_EXTENTS {
            return Err(format!("more than {MAX_EXTENTS} iloc extents"));
        }
        let mut v = Vec::with_capacity(extents);
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ISOBMFF box.
    pub(crate) fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = (8 + body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A version-0 `iloc` body: `items` items, each with `extents` extents whose offset and
    /// length fields are zero bytes long (so they cost nothing to declare).
    pub(crate) fn zero_field_iloc(items: u16, extents: u16) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0, 0x00, 0x00];
        body.extend_from_slice(&items.to_be_bytes());
        for id in 1..=items {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(&extents.to_be_bytes());
        }
        body
    }

    /// A whole AVIF file (no AV1 data) whose meta box holds `iloc`: primary item 1, 64x48.
    pub(crate) fn avif_with_iloc(iloc: &[u8]) -> Vec<u8> {
        let mut ispe = vec![0; 4];
        ispe.extend_from_slice(&64u32.to_be_bytes());
        ispe.extend_from_slice(&48u32.to_be_bytes());
        let ipco = bx(b"ipco", &bx(b"ispe", &ispe));
        let ipma = bx(b"ipma", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0x81]);
        let mut iprp = ipco;
        iprp.extend(ipma);
        let mut meta = vec![0, 0, 0, 0];
        meta.extend(bx(b"pitm", &[0, 0, 0, 0, 0, 1]));
        meta.extend(bx(b"iloc", iloc));
        meta.extend(bx(b"iprp", &iprp));
        let mut file = bx(b"ftyp", b"avif\0\0\0\0avifmif1");
        file.extend(bx(b"meta", &meta));
        file
    }

    #[test]
    fn a_small_file_parses() {
        let mut iloc = vec![0, 0, 0, 0, 0x44, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        iloc.extend_from_slice(&100u32.to_be_bytes());
        iloc.extend_from_slice(&7u32.to_be_bytes());
        let file = parse(&avif_with_iloc(&iloc)).unwrap();
        assert_eq!((file.primary.width, file.primary.height), (64, 48));
        assert_eq!(file.primary.extents, [(100, 7)]);
    }

    #[test]
    fn zero_sized_extents_are_bounded_not_believed() {
        // 1024 items x 65535 extents in 6 KiB: believed, that is 1 GiB of (offset, length).
        let iloc = zero_field_iloc(1024, 65_535);
        assert!(iloc.len() < 8 * 1024);
        let err = parse_iloc(&mut Cursor::new(&iloc)).unwrap_err();
        assert!(err.contains("extents"), "{err}");
        assert!(parse(&avif_with_iloc(&iloc)).is_err());
        // 65535 items: over the item cap before any extent is read.
        let err = parse_iloc(&mut Cursor::new(&zero_field_iloc(65_535, 65_535))).unwrap_err();
        assert!(err.contains("items"), "{err}");
    }

    #[test]
    fn what_is_kept_stays_within_the_caps() {
        // Right at the caps: accepted, and what is held is what the caps allow.
        let items = zero_field_iloc(1024, 4);
        let locations = parse_iloc(&mut Cursor::new(&items)).unwrap();
        assert_eq!(locations.len(), 1024);
        let held: usize = locations.iter().map(|(_, e)| e.capacity()).sum();
        assert_eq!(held, MAX_EXTENTS);
    }

    #[test]
    fn counts_beyond_the_bytes_are_refused() {
        // 4000 items declared, one present.
        let mut iloc = zero_field_iloc(1, 1);
        iloc[6..8].copy_from_slice(&4000u16.to_be_bytes());
        let err = parse_iloc(&mut Cursor::new(&iloc)).unwrap_err();
        assert!(err.contains("more items than it holds"), "{err}");
        // 2^32-1 ipma entries declared in a 20-byte box.
        let ipma = [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 1, 0x81];
        let mut out = Vec::new();
        assert!(parse_ipma(&ipma, &mut out).is_err());
        assert!(out.capacity() <= 1);
    }

    #[test]
    fn overlapping_extents_cannot_multiply_the_file() {
        let bytes = vec![0u8; 1000];
        let item = Item {
            extents: vec![(0, 1000); 50],
            ..Item::default()
        };
        assert!(AvifFile::default().data(&bytes, &item).is_err());
        let item = Item {
            extents: vec![(0, 500), (500, 500)],
            ..Item::default()
        };
        assert_eq!(AvifFile::default().data(&bytes, &item).unwrap().len(), 1000);
    }
}
