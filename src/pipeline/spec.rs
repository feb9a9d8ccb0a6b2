//! The vocabulary shared by the request parser and the pipeline: formats, fit modes, gravity,
//! colours, and the fully resolved [`RenderSpec`] a render works from.

use std::fmt;
use std::str::FromStr;

pub use super::operations::{Crop, Flip, Focus, Operations, Padding, Rotation, Sigma};

/// An image encoding the service can read, and (all but SVG) write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
    Avif,
    Gif,
    /// A source only: served sanitised as it is, rasterised by any transform (`svg/`). Never an
    /// output: it is not in [`ALL`](Self::ALL) and `fmt=svg` does not parse.
    Svg,
}

impl ImageFormat {
    /// The output formats (what `fmt=` names).
    pub const ALL: [ImageFormat; 5] = [Self::Jpeg, Self::Png, Self::Webp, Self::Avif, Self::Gif];

    /// The canonical lower-case name, as used in URLs and cache keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Gif => "gif",
            Self::Svg => "svg",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
            Self::Gif => "image/gif",
            Self::Svg => "image/svg+xml",
        }
    }

    /// The output format `fmt=original` means for a transformed source of this format: itself,
    /// except SVG, whose rasters are PNG (lossless, with the transparency SVGs usually have).
    pub fn as_output(self) -> ImageFormat {
        match self {
            Self::Svg => Self::Png,
            other => other,
        }
    }

    /// Whether the encoding can carry an animation (GIF and WebP; an animated PNG or AVIF
    /// source renders its first frame).
    pub fn can_animate(self) -> bool {
        matches!(self, Self::Gif | Self::Webp)
    }

    /// Whether the encoding can carry an alpha channel.
    pub fn supports_alpha(self) -> bool {
        !matches!(self, Self::Jpeg)
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImageFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            "avif" => Ok(Self::Avif),
            "gif" => Ok(Self::Gif),
            _ => Err(()),
        }
    }
}

/// How the source is fitted into a box given by both a width and a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Fit {
    /// Fill the box, cropping the overflow (by gravity).
    #[default]
    Cover,
    /// Fit inside the box and letterbox the rest with the background colour; output is the box.
    Contain,
    /// Stretch to the box, ignoring the aspect ratio.
    Fill,
    /// Fit inside the box, never crop; output is the scaled image (at most the box).
    Inside,
    /// Cover the box, never crop; output is the scaled image (at least the box).
    Outside,
}

impl Fit {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cover => "cover",
            Self::Contain => "contain",
            Self::Fill => "fill",
            Self::Inside => "inside",
            Self::Outside => "outside",
        }
    }
}

impl FromStr for Fit {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "cover" => Ok(Self::Cover),
            "contain" => Ok(Self::Contain),
            "fill" => Ok(Self::Fill),
            "inside" => Ok(Self::Inside),
            "outside" => Ok(Self::Outside),
            _ => Err(()),
        }
    }
}

/// Which part of the image `cover` keeps (and where `contain` places the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gravity {
    #[default]
    Center,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
    /// `cover` picks its window by content (`smart.rs`); placed like `Center` elsewhere.
    Smart,
}

impl Gravity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Center => "center",
            Self::North => "north",
            Self::South => "south",
            Self::East => "east",
            Self::West => "west",
            Self::NorthEast => "northeast",
            Self::NorthWest => "northwest",
            Self::SouthEast => "southeast",
            Self::SouthWest => "southwest",
            Self::Smart => "smart",
        }
    }

    /// Horizontal and vertical anchor, each 0 (left/top), 1 (centre) or 2 (right/bottom).
    pub fn anchors(self) -> (u8, u8) {
        match self {
            Self::Center | Self::Smart => (1, 1),
            Self::North => (1, 0),
            Self::South => (1, 2),
            Self::East => (2, 1),
            Self::West => (0, 1),
            Self::NorthEast => (2, 0),
            Self::NorthWest => (0, 0),
            Self::SouthEast => (2, 2),
            Self::SouthWest => (0, 2),
        }
    }
}

impl FromStr for Gravity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "center" | "centre" => Ok(Self::Center),
            "north" => Ok(Self::North),
            "south" => Ok(Self::South),
            "east" => Ok(Self::East),
            "west" => Ok(Self::West),
            "northeast" => Ok(Self::NorthEast),
            "northwest" => Ok(Self::NorthWest),
            "southeast" => Ok(Self::SouthEast),
            "southwest" => Ok(Self::SouthWest),
            "smart" => Ok(Self::Smart),
            _ => Err(()),
        }
    }
}

/// An sRGB colour with straight alpha: the letterbox of `contain`, the `pad` border, and what
/// transparency is flattened onto for outputs without alpha (JPEG, which ignores `a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub const WHITE: Rgba = Rgba {
        r: 255,
        g: 255,
        b: 255,
        a: 255,
    };

    pub fn is_opaque(self) -> bool {
        self.a == 255
    }

    /// The same colour, fully opaque.
    pub fn opaque(self) -> Rgba {
        Rgba { a: 255, ..self }
    }

    /// Lower-case hex, the canonical spelling: six digits when opaque, eight otherwise.
    pub fn hex(self) -> String {
        let rgb = format!("{:02x}{:02x}{:02x}", self.r, self.g, self.b);
        if self.is_opaque() {
            rgb
        } else {
            format!("{rgb}{:02x}", self.a)
        }
    }
}

impl Default for Rgba {
    fn default() -> Self {
        Self::WHITE
    }
}

impl FromStr for Rgba {
    type Err = ();
    /// Accepts `fff`, `ffffff` or `ffffffaa` (case-insensitive, optional leading `#`).
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.strip_prefix('#').unwrap_or(s);
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        let digit = |i: usize| u8::from_str_radix(&s[i..i + 1], 16).map_err(|_| ());
        let byte = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| ());
        match s.len() {
            3 => Ok(Rgba {
                r: digit(0)? * 17,
                g: digit(1)? * 17,
                b: digit(2)? * 17,
                a: 255,
            }),
            6 | 8 => Ok(Rgba {
                r: byte(0)?,
                g: byte(2)?,
                b: byte(4)?,
                a: if s.len() == 8 { byte(6)? } else { 255 },
            }),
            _ => Err(()),
        }
    }
}

/// A fully resolved render: every default filled in, `dpr` already applied to the box,
/// the output format decided. Two equal specs on the same source give the same image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderSpec {
    /// Box width in output pixels; `None` derives it from the height and the aspect ratio.
    pub width: Option<u32>,
    /// Box height in output pixels; `None` derives it from the width and the aspect ratio.
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    /// Allow output larger than the source (otherwise the box shrinks until no pixel is upscaled).
    pub enlarge: bool,
    pub background: Rgba,
    pub format: ImageFormat,
    /// Encoder quality 1..=100 (ignored by lossless encoders).
    pub quality: u8,
    /// Keep all frames of an animated source (within the frame limit) instead of the first one.
    pub animate: bool,
    /// Trim, crop, rotate/flip, focal point, effects, padding and encoder options
    /// (`operations.rs`); the default does none of them.
    pub ops: Operations,
}

impl RenderSpec {
    /// A plain resize to the `width` x `height` box in `format`: cover, centred, no upscaling,
    /// white background, quality 80, one frame, no other operation. The base that benches,
    /// tests and the fuzzers adjust with struct update syntax.
    pub fn resize(width: Option<u32>, height: Option<u32>, format: ImageFormat) -> Self {
        Self {
            width,
            height,
            fit: Fit::Cover,
            gravity: Gravity::Center,
            enlarge: false,
            background: Rgba::WHITE,
            format,
            quality: 80,
            animate: false,
            ops: Operations::default(),
        }
    }
}

/// Service-wide knobs of the pipeline, taken from the `images` config section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSettings {
    /// No output is ever wider or taller than these, whatever the spec asks.
    pub max_width: u32,
    pub max_height: u32,
    /// Sources with more pixels (read from the header, before decoding) are refused.
    pub max_source_pixels: u64,
    /// Sources with more bytes are refused.
    pub max_source_bytes: u64,
    /// Animated sources with more frames are refused when animation is kept.
    pub max_frames: u32,
    /// Animations whose frames times output area is larger are refused (the work and the
    /// output grow with both).
    pub max_animation_pixels: u64,
    /// libwebp effort, 0 (fastest) ..= 6 (smallest).
    pub webp_method: u8,
    /// ravif speed, 1 (smallest) ..= 10 (fastest).
    pub avif_speed: u8,
    /// AVIF outputs with a larger area (canvas width x height) are refused: AVIF costs tens of
    /// times more CPU per pixel than JPEG.
    pub max_avif_pixels: u64,
    /// How far JPEG decoding may shrink before the resample.
    pub shrink_on_load: ShrinkOnLoad,
    /// The limits and fonts of SVG sources.
    pub svg: super::svg::SvgSettings,
}

/// How much of the downscale a JPEG's DCT scaling (by eighths) may do before the real
/// Lanczos3 resample does the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShrinkOnLoad {
    /// libvips' `thumbnail`: leave the resample at least a factor of two. Matches libvips'
    /// quality against a full decode.
    #[default]
    Quality,
    /// sharp's and imgproxy's default: decode to the smallest scale still at least as large
    /// as the target (sharp's rule, so a scale landing just on the target is avoided).
    /// A quarter of the decode work for many sizes, softer and more aliased results.
    Fast,
}

impl ShrinkOnLoad {
    /// The DCT scale, in eighths of the source (1 to 8; libjpeg scales by any eighth), for a
    /// downscale by `ratio`.
    pub fn eighths(self, ratio: f64) -> u32 {
        match self {
            // The smallest scale that still leaves the resample a factor of two.
            Self::Quality if ratio >= 2.0 => {
                fastest_scale_from((16.0 / ratio).ceil().clamp(1.0, 8.0) as u32)
            }
            Self::Quality => 8,
            Self::Fast => {
                let fits = |d: u32| ratio >= f64::from(d) + 1.0;
                8 / [8u32, 4, 2].into_iter().find(|&d| fits(d)).unwrap_or(1)
            }
        }
    }
}

/// The fastest DCT scale that decodes at least `eighths`/8. The `turbo` build's libjpeg-turbo
/// has SIMD IDCTs for 8/8, 4/8 and 2/8 only, so some scales between cost more than a larger one:
/// a 12 MP photo decodes at 3/8 in 31 ms and at 4/8 in 27, at 6/8 in 64 and 7/8 in 77 but at
/// 8/8 in 53 (5/8: 50; benches/README.md). That build takes the larger scale, which only adds
/// detail. In the default build every IDCT is scalar and the smallest scale is the fastest.
fn fastest_scale_from(eighths: u32) -> u32 {
    if !cfg!(feature = "turbo") {
        return eighths;
    }
    match eighths {
        3 => 4,
        6 | 7 => 8,
        other => other,
    }
}

/// `images.max_avif_pixels` by default: about 2 s of one core at the default speed (8), which
/// costs ~2.5 us per pixel in the release build (benches/README.md: 295 ms for 400x300).
pub const DEFAULT_MAX_AVIF_PIXELS: u64 = 800_000;

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            max_width: 4096,
            max_height: 4096,
            max_source_pixels: 50_000_000,
            max_source_bytes: 64 * 1024 * 1024,
            max_frames: 500,
            max_animation_pixels: 150_000_000,
            webp_method: 4,
            avif_speed: 8,
            max_avif_pixels: DEFAULT_MAX_AVIF_PIXELS,
            shrink_on_load: ShrinkOnLoad::Quality,
            svg: super::svg::SvgSettings::default(),
        }
    }
}

/// What a source is, read from its header without decoding the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub format: ImageFormat,
    /// Displayed width, i.e. after the EXIF orientation is applied.
    pub width: u32,
    /// Displayed height, i.e. after the EXIF orientation is applied.
    pub height: u32,
    pub has_alpha: bool,
    pub frames: u32,
    /// An animation rendered frame by frame when the output can carry one (GIF and WebP
    /// sources of several frames; an animated PNG renders its first frame).
    pub animated: bool,
}

/// An encoded output image.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}
