//! The vocabulary of the operations beyond resize and convert: trim, crop, rotate and flip, the
//! focal point, blur and sharpen, padding, and the encoder options. Every value is an integer
//! (fractions in millionths, sigmas in hundredths), so a spec stays exactly comparable and
//! hashable and two spellings of one value (`0.5`, `0.50`) are one value.

/// Millionths: the unit of fractions (crop regions and focal points).
pub const MILLION: u32 = 1_000_000;

/// A region of the (trimmed) displayed source, cut before anything else happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crop {
    /// Whole pixels, clipped to the image.
    Pixels {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    /// Fractions of the image's size, in millionths.
    Fractions {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
}

impl Crop {
    /// The canonical text: `px:x,y,w,h` or `fr:x,y,w,h` (millionths).
    pub fn canonical(self) -> String {
        match self {
            Crop::Pixels {
                x,
                y,
                width,
                height,
            } => format!("px:{x},{y},{width},{height}"),
            Crop::Fractions {
                x,
                y,
                width,
                height,
            } => format!("fr:{x},{y},{width},{height}"),
        }
    }
}

/// A focal point in millionths of the displayed source's width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Focus {
    pub x: u32,
    pub y: u32,
}

/// A clockwise rotation applied after the EXIF orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    #[default]
    None,
    Quarter,
    Half,
    ThreeQuarters,
}

impl Rotation {
    pub fn from_degrees(degrees: u32) -> Option<Rotation> {
        match degrees {
            0 => Some(Rotation::None),
            90 => Some(Rotation::Quarter),
            180 => Some(Rotation::Half),
            270 => Some(Rotation::ThreeQuarters),
            _ => None,
        }
    }

    /// The EXIF orientation code that turns an image the same way.
    pub fn orientation(self) -> u8 {
        match self {
            Rotation::None => 1,
            Rotation::Quarter => 6,
            Rotation::Half => 3,
            Rotation::ThreeQuarters => 8,
        }
    }
}

/// Mirroring after the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flip {
    pub horizontal: bool,
    pub vertical: bool,
}

impl Flip {
    /// The EXIF orientation code that mirrors an image the same way.
    pub fn orientation(self) -> u8 {
        match (self.horizontal, self.vertical) {
            (false, false) => 1,
            (true, false) => 2,
            (false, true) => 4,
            (true, true) => 3,
        }
    }
}

/// A Gaussian sigma in hundredths of a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sigma(pub u32);

impl Sigma {
    pub fn pixels(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// Pixels added around the finished image, filled with the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Padding {
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
    pub left: u32,
}

impl Padding {
    /// `pixels` on every side.
    pub fn uniform(pixels: u32) -> Self {
        Padding {
            top: pixels,
            right: pixels,
            bottom: pixels,
            left: pixels,
        }
    }

    pub fn is_none(self) -> bool {
        self == Padding::default()
    }

    /// The size of a `width`x`height` image once padded.
    pub fn around(self, (width, height): (u32, u32)) -> (u32, u32) {
        (
            width.saturating_add(self.left).saturating_add(self.right),
            height.saturating_add(self.top).saturating_add(self.bottom),
        )
    }
}

/// Everything a render does besides resize, place and convert. The default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Operations {
    /// Tolerance (1-255) of the border trimmed off: pixels within it of the top-left pixel.
    pub trim: Option<u8>,
    pub crop: Option<Crop>,
    pub rotation: Rotation,
    pub flip: Flip,
    /// Where `fit=cover` centres its window (instead of the gravity).
    pub focus: Option<Focus>,
    pub blur: Option<Sigma>,
    pub sharpen: Option<Sigma>,
    pub pad: Padding,
    /// Progressive JPEG, Adam7-interlaced PNG.
    pub interlace: bool,
    /// Lossless WebP.
    pub lossless: bool,
}

impl Operations {
    /// The rotation and flip together, as one EXIF orientation code (rotate first).
    pub fn turn(&self) -> u8 {
        super::orient::compose(self.rotation.orientation(), self.flip.orientation())
    }

    /// The canonical text of the operations that are set (empty when none is), appended to
    /// the render's cache key. Rotation and flip appear as their composition, so `rot=180`
    /// and `flip=hv` are one key.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        let mut piece = |name: &str, value: String| {
            out.push('&');
            out.push_str(name);
            out.push('=');
            out.push_str(&value);
        };
        if let Some(t) = self.trim {
            piece("trim", t.to_string());
        }
        if let Some(c) = self.crop {
            piece("crop", c.canonical());
        }
        let turn = self.turn();
        if turn != 1 {
            piece("turn", turn.to_string());
        }
        if let Some(f) = self.focus {
            piece("fp", format!("{},{}", f.x, f.y));
        }
        if let Some(s) = self.blur {
            piece("blur", s.0.to_string());
        }
        if let Some(s) = self.sharpen {
            piece("sharpen", s.0.to_string());
        }
        if !self.pad.is_none() {
            let p = self.pad;
            piece(
                "pad",
                format!("{},{},{},{}", p.top, p.right, p.bottom, p.left),
            );
        }
        if self.interlace {
            piece("interlace", "1".into());
        }
        if self.lossless {
            piece("lossless", "1".into());
        }
        out
    }
}
