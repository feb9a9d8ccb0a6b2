//! Animated GIF and WebP sources made by the tests (with disposal, partial and blended frames,
//! durations and a loop count), and animations decoded back with decoders independent of the
//! server: the `image` crate composes a GIF's frames, libwebp's animation decoder (the one
//! browsers use) a WebP's; `gif` reads a GIF's loop count.

use image::AnimationDecoder;

/// A frame of a test animation: a `width` x `height` rectangle at `(left, top)` of one colour
/// (`None`: transparent), shown for `ms`.
#[derive(Debug, Clone, Copy)]
pub struct Patch {
    pub left: u16,
    pub top: u16,
    pub width: u16,
    pub height: u16,
    pub colour: Option<[u8; 3]>,
    pub ms: u16,
    pub dispose: Dispose,
}

/// What happens to a frame's area once it has been shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispose {
    Keep,
    /// Cleared to transparent.
    Background,
    /// Restored to what it was before (GIF only).
    Previous,
}

/// A GIF of a `width` x `height` screen playing `patches` in order, `loop_count` as written
/// in the loop extension (`None`: no extension, `Some(0)`: forever).
pub fn gif(width: u16, height: u16, patches: &[Patch], loop_count: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, width, height, &[]).unwrap();
        match loop_count {
            None => {}
            Some(0) => encoder.set_repeat(gif::Repeat::Infinite).unwrap(),
            Some(n) => encoder.set_repeat(gif::Repeat::Finite(n)).unwrap(),
        }
        for p in patches {
            // Palette: the colour at 0, 1 transparent.
            let rgb = p.colour.unwrap_or([0, 0, 0]);
            let index = if p.colour.is_some() { 0 } else { 1 };
            let frame = gif::Frame {
                left: p.left,
                top: p.top,
                width: p.width,
                height: p.height,
                delay: p.ms / 10,
                dispose: match p.dispose {
                    Dispose::Keep => gif::DisposalMethod::Keep,
                    Dispose::Background => gif::DisposalMethod::Background,
                    Dispose::Previous => gif::DisposalMethod::Previous,
                },
                transparent: Some(1),
                palette: Some(vec![rgb[0], rgb[1], rgb[2], 0, 0, 0]),
                buffer: vec![index; usize::from(p.width) * usize::from(p.height)].into(),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

/// An animated WebP built chunk by chunk (VP8X, ANIM, one ANMF per patch holding a lossless
/// VP8L frame): partial frames at even offsets, alpha blending unless `blend` is false.
pub fn webp(width: u32, height: u32, patches: &[(Patch, bool)], loop_count: u16) -> Vec<u8> {
    let le24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let chunk = |name: &[u8], data: &[u8]| {
        let mut c = name.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut vp8x = vec![0x10 | 0x02, 0, 0, 0]; // alpha, animation
    vp8x.extend(le24(width - 1));
    vp8x.extend(le24(height - 1));
    let mut anim = vec![0, 0, 0, 0];
    anim.extend_from_slice(&loop_count.to_le_bytes());
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(chunk(b"ANIM", &anim));
    for (p, blend) in patches {
        assert!(
            p.left % 2 == 0 && p.top % 2 == 0,
            "WebP frame offsets are even"
        );
        assert!(
            p.dispose != Dispose::Previous,
            "WebP has no disposal to previous"
        );
        let pixel = p.colour.map_or([0, 0, 0, 0], |[r, g, b]| [r, g, b, 255]);
        let rgba = pixel.repeat(usize::from(p.width) * usize::from(p.height));
        let still = webp::Encoder::from_rgba(&rgba, u32::from(p.width), u32::from(p.height))
            .encode_lossless();
        // A simple lossless file: RIFF, size, WEBP, then the one VP8L chunk.
        assert_eq!(&still[12..16], b"VP8L");
        let mut anmf = le24(u32::from(p.left) / 2);
        anmf.extend(le24(u32::from(p.top) / 2));
        anmf.extend(le24(u32::from(p.width) - 1));
        anmf.extend(le24(u32::from(p.height) - 1));
        anmf.extend(le24(u32::from(p.ms)));
        let flags = u8::from(!blend) << 1 | u8::from(p.dispose == Dispose::Background);
        anmf.push(flags);
        anmf.extend_from_slice(&still[12..]);
        body.extend(chunk(b"ANMF", &anmf));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// The composed frames of an animated GIF or WebP and their durations in ms.
pub fn frames(bytes: &[u8]) -> Vec<(image::RgbaImage, u32)> {
    if !bytes.starts_with(b"GIF") {
        let animation = webp::AnimDecoder::new(bytes).decode().expect("a WebP");
        let mut shown = 0;
        return (&animation)
            .into_iter()
            .map(|frame| {
                // libwebp gives each frame's end time.
                let end = frame.get_time_ms();
                let duration = (end - shown) as u32;
                shown = end;
                let image = image::RgbaImage::from_raw(
                    frame.width(),
                    frame.height(),
                    frame.get_image().to_vec(),
                )
                .expect("RGBA frames");
                (image, duration)
            })
            .collect();
    }
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    decoder
        .into_frames()
        .collect_frames()
        .expect("decodable frames")
        .into_iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), n / d)
        })
        .collect()
}

/// How many frames an encoded GIF or WebP holds (1 for a still WebP).
pub fn frame_count(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"GIF") {
        return frames(bytes).len();
    }
    let decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    if decoder.is_animated() {
        decoder.num_frames() as usize
    } else {
        1
    }
}

/// The loop count an animation declares: `None` for a GIF without the extension, `Some(0)`
/// for forever.
pub fn loop_count(bytes: &[u8]) -> Option<u16> {
    if bytes.starts_with(b"GIF") {
        let mut decoder = gif::DecodeOptions::new().read_info(bytes).unwrap();
        decoder.read_next_frame().unwrap();
        return match decoder.repeat() {
            gif::Repeat::Infinite => Some(0),
            gif::Repeat::Finite(0) => None,
            gif::Repeat::Finite(n) => Some(n),
        };
    }
    let animation = webp::AnimDecoder::new(bytes).decode().expect("a WebP");
    assert!(animation.has_animation(), "an animated WebP");
    Some(u16::try_from(animation.loop_count).unwrap())
}
