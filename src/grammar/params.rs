//! The two URL grammars, parsed into one set of raw parameters: the query string
//! (`?w=400&fmt=webp`) and goimgserver's path segments (`/800x600/webp/q90`). Every value is
//! checked here; unknown names, malformed numbers and out-of-range values are 400s.

use crate::pipeline::{
    Crop, Fit, Flip, Focus, Gravity, ImageFormat, Padding, Rgba, Rotation, Sigma,
};

use super::operations;
use super::RequestError;

/// More query parameters than this is a 400 (nobody needs it; parsers should not pay for it).
pub const MAX_QUERY_PARAMS: usize = 32;

/// What the client asked for the output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatChoice {
    /// The source's own format (the default).
    Original,
    /// The best the client's `Accept` allows: AVIF, then WebP, then the source's family.
    Auto,
    Exact(ImageFormat),
}

/// Parameters as given, each validated on its own; combining them is `request::Transform`'s job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawParams {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Option<Fit>,
    pub gravity: Option<Gravity>,
    pub format: Option<FormatChoice>,
    pub quality: Option<u8>,
    pub dpr: Option<f64>,
    pub background: Option<Rgba>,
    pub enlarge: Option<bool>,
    pub crop: Option<Crop>,
    pub focus: Option<Focus>,
    pub trim: Option<u8>,
    pub rotation: Option<Rotation>,
    pub flip: Option<Flip>,
    pub blur: Option<Sigma>,
    pub sharpen: Option<Sigma>,
    pub pad: Option<Padding>,
    pub interlace: Option<bool>,
    pub lossless: Option<bool>,
    /// `anim=0`: the first frame of an animated source, whatever the output format.
    pub animate: Option<bool>,
    pub preset: Option<String>,
    /// The URL signature (`s`), checked by the signing layer, not part of the variant.
    pub signature: Option<String>,
}

impl RawParams {
    /// True when nothing at all was asked (the original is served untouched).
    pub fn is_empty(&self) -> bool {
        RawParams {
            signature: None,
            ..self.clone()
        } == RawParams::default()
    }

    /// Fills every field unset in `self` from `other` (a preset's values under explicit ones).
    pub fn or(self, other: RawParams) -> RawParams {
        RawParams {
            width: self.width.or(other.width),
            height: self.height.or(other.height),
            fit: self.fit.or(other.fit),
            gravity: self.gravity.or(other.gravity),
            format: self.format.or(other.format),
            quality: self.quality.or(other.quality),
            dpr: self.dpr.or(other.dpr),
            background: self.background.or(other.background),
            enlarge: self.enlarge.or(other.enlarge),
            crop: self.crop.or(other.crop),
            focus: self.focus.or(other.focus),
            trim: self.trim.or(other.trim),
            rotation: self.rotation.or(other.rotation),
            flip: self.flip.or(other.flip),
            blur: self.blur.or(other.blur),
            sharpen: self.sharpen.or(other.sharpen),
            pad: self.pad.or(other.pad),
            interlace: self.interlace.or(other.interlace),
            lossless: self.lossless.or(other.lossless),
            animate: self.animate.or(other.animate),
            preset: self.preset,
            signature: self.signature,
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(RequestError::Invalid(format!(
            "{name} is given more than once"
        )));
    }
    *slot = Some(value);
    Ok(())
}

fn dimension(name: &str, value: &str, max: u32) -> Result<u32, RequestError> {
    let bad = || RequestError::Invalid(format!("{name} must be between 1 and {max}"));
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = value.parse().map_err(|_| bad())?;
    if n == 0 || n > max {
        return Err(bad());
    }
    Ok(n)
}

fn quality(value: &str) -> Result<u8, RequestError> {
    let bad = || RequestError::Invalid("q must be between 1 and 100".into());
    if value.is_empty() || value.len() > 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match value.parse::<u8>() {
        Ok(q) if (1..=100).contains(&q) => Ok(q),
        _ => Err(bad()),
    }
}

fn flag(name: &str, value: &str) -> Result<bool, RequestError> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(RequestError::Invalid(format!("{name} must be 0 or 1"))),
    }
}

fn format_choice(value: &str) -> Result<FormatChoice, RequestError> {
    match value {
        "auto" => Ok(FormatChoice::Auto),
        "original" => Ok(FormatChoice::Original),
        other => other
            .parse::<ImageFormat>()
            .map(FormatChoice::Exact)
            .map_err(|_| {
                RequestError::Invalid(
                    "fmt must be one of jpeg, jpg, png, webp, avif, gif, auto, original".into(),
                )
            }),
    }
}

/// A parameter name safe to repeat in an error message.
fn shown_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 24
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        format!("unknown parameter '{name}'")
    } else {
        "unknown parameter".to_string()
    }
}

/// Parses a raw (still percent-encoded) query string.
pub fn parse_query(
    query: &str,
    max_width: u32,
    max_height: u32,
) -> Result<RawParams, RequestError> {
    let mut params = RawParams::default();
    if form_urlencoded::parse(query.as_bytes()).count() > MAX_QUERY_PARAMS {
        return Err(RequestError::Invalid(format!(
            "at most {MAX_QUERY_PARAMS} query parameters are allowed"
        )));
    }
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let v = value.as_ref();
        match name.as_ref() {
            "w" => set_once(&mut params.width, "w", dimension("w", v, max_width)?)?,
            "h" => set_once(&mut params.height, "h", dimension("h", v, max_height)?)?,
            "fit" => set_once(
                &mut params.fit,
                "fit",
                v.parse().map_err(|_| RequestError::Invalid("fit must be one of cover, contain, fill, inside, outside".into()))?,
            )?,
            "g" | "gravity" => set_once(
                &mut params.gravity,
                "g",
                v.parse().map_err(|_| {
                    RequestError::Invalid(
                        "g must be one of center, north, south, east, west, northeast, northwest, southeast, southwest, smart".into(),
                    )
                })?,
            )?,
            "fmt" | "format" => set_once(&mut params.format, "fmt", format_choice(v)?)?,
            "q" => set_once(&mut params.quality, "q", quality(v)?)?,
            "dpr" => {
                let bad = || RequestError::Invalid("dpr must be between 1 and 4".into());
                if v.is_empty() || v.len() > 8 || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                    return Err(bad());
                }
                let dpr: f64 = v.parse().map_err(|_| bad())?;
                if !(1.0..=4.0).contains(&dpr) {
                    return Err(bad());
                }
                set_once(&mut params.dpr, "dpr", dpr)?
            }
            "bg" => set_once(
                &mut params.background,
                "bg",
                v.parse().map_err(|_| RequestError::Invalid("bg must be a hex colour such as fff, ffffff or ffffff80 (with alpha)".into()))?,
            )?,
            "enlarge" => set_once(&mut params.enlarge, "enlarge", flag("enlarge", v)?)?,
            "crop" => set_once(&mut params.crop, "crop", operations::crop(v)?)?,
            "fp" => set_once(&mut params.focus, "fp", operations::focus(v)?)?,
            "trim" => set_once(&mut params.trim, "trim", operations::trim(v)?)?,
            "rot" => set_once(&mut params.rotation, "rot", operations::rotation(v)?)?,
            "flip" => set_once(&mut params.flip, "flip", operations::flip(v)?)?,
            "blur" => set_once(&mut params.blur, "blur", operations::sigma("blur", v, 30, 10_000)?)?,
            "sharpen" => set_once(&mut params.sharpen, "sharpen", operations::sigma("sharpen", v, 30, 1_000)?)?,
            "pad" => set_once(&mut params.pad, "pad", operations::pad(v)?)?,
            "interlace" => set_once(&mut params.interlace, "interlace", flag("interlace", v)?)?,
            "lossless" => set_once(&mut params.lossless, "lossless", flag("lossless", v)?)?,
            "anim" => set_once(&mut params.animate, "anim", flag("anim", v)?)?,
            "preset" => {
                if v.is_empty() || v.len() > 64 {
                    return Err(RequestError::Invalid("unknown preset".into()));
                }
                set_once(&mut params.preset, "preset", v.to_string())?
            }
            "s" => set_once(&mut params.signature, "s", v.to_string())?,
            other => return Err(RequestError::Invalid(shown_name(other))),
        }
    }
    Ok(params)
}

/// Whether `segment` is path-grammar syntax (`800x600`, `400`, `q90`, a format name).
pub fn is_path_param(segment: &str) -> bool {
    classify(segment).is_some()
}

enum PathParam<'a> {
    Size(&'a str, Option<&'a str>),
    Quality(&'a str),
    Format(ImageFormat),
}

fn classify(segment: &str) -> Option<PathParam<'_>> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Ok(format) = segment.parse::<ImageFormat>() {
        return Some(PathParam::Format(format));
    }
    if let Some(q) = segment.strip_prefix('q') {
        return digits(q).then_some(PathParam::Quality(q));
    }
    if let Some((w, h)) = segment.split_once('x') {
        return (digits(w) && digits(h)).then_some(PathParam::Size(w, Some(h)));
    }
    digits(segment).then_some(PathParam::Size(segment, None))
}

/// Adds goimgserver path segments to `params`. Each must be valid (unlike goimgserver, which
/// ignores what it does not understand) and each kind may appear once.
pub fn apply_path_params(
    params: &mut RawParams,
    segments: &[String],
    max_width: u32,
    max_height: u32,
) -> Result<(), RequestError> {
    for segment in segments {
        match classify(segment) {
            Some(PathParam::Size(w, h)) => {
                set_once(&mut params.width, "w", dimension("w", w, max_width)?)?;
                if let Some(h) = h {
                    set_once(&mut params.height, "h", dimension("h", h, max_height)?)?;
                }
            }
            Some(PathParam::Quality(q)) => set_once(&mut params.quality, "q", quality(q)?)?,
            Some(PathParam::Format(f)) => {
                set_once(&mut params.format, "fmt", FormatChoice::Exact(f))?
            }
            None => return Err(RequestError::Invalid("unknown path parameter".into())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<RawParams, RequestError> {
        parse_query(s, 4096, 4096)
    }

    fn message(r: Result<RawParams, RequestError>) -> String {
        match r {
            Err(RequestError::Invalid(m)) => m,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn query_values_are_checked() {
        let p = q("w=400&h=300&fit=contain&g=north&fmt=jpg&q=90&dpr=2&bg=000&enlarge=1").unwrap();
        assert_eq!(p.width, Some(400));
        assert_eq!(p.format, Some(FormatChoice::Exact(ImageFormat::Jpeg)));
        assert_eq!(
            p.background,
            Some(Rgba {
                r: 0,
                g: 0,
                b: 0,
                a: 255
            })
        );
        assert_eq!(message(q("w=0")), "w must be between 1 and 4096");
        assert_eq!(message(q("w=4097")), "w must be between 1 and 4096");
        assert_eq!(message(q("w=12a")), "w must be between 1 and 4096");
        assert_eq!(message(q("w=-1")), "w must be between 1 and 4096");
        assert_eq!(message(q("q=0")), "q must be between 1 and 100");
        assert_eq!(message(q("q=101")), "q must be between 1 and 100");
        assert_eq!(message(q("dpr=5")), "dpr must be between 1 and 4");
        assert_eq!(message(q("dpr=nan")), "dpr must be between 1 and 4");
        assert!(message(q("fmt=tiff")).starts_with("fmt must be one of"));
        assert_eq!(message(q("zoom=2")), "unknown parameter 'zoom'");
        assert_eq!(message(q("w=1&w=2")), "w is given more than once");
        assert_eq!(message(q("%3Cscript%3E=1")), "unknown parameter");
    }

    #[test]
    fn too_many_parameters() {
        let many: Vec<String> = (0..33).map(|_| "fit=cover".to_string()).collect();
        assert!(message(q(&many.join("&"))).contains("at most 32"));
    }

    #[test]
    fn path_grammar() {
        let mut p = RawParams::default();
        apply_path_params(
            &mut p,
            &["800x600".into(), "webp".into(), "q90".into()],
            4096,
            4096,
        )
        .unwrap();
        assert_eq!(
            (p.width, p.height, p.quality),
            (Some(800), Some(600), Some(90))
        );
        assert_eq!(p.format, Some(FormatChoice::Exact(ImageFormat::Webp)));
        let mut p = RawParams::default();
        apply_path_params(&mut p, &["400".into()], 4096, 4096).unwrap();
        assert_eq!((p.width, p.height), (Some(400), None));
        let mut p = RawParams::default();
        assert!(apply_path_params(&mut p, &["bogus".into()], 4096, 4096).is_err());
        let mut p = RawParams::default();
        assert!(apply_path_params(&mut p, &["q0".into()], 4096, 4096).is_err());
        let mut p = RawParams::default();
        assert!(apply_path_params(&mut p, &["99999x1".into()], 4096, 4096).is_err());
        assert!(is_path_param("800x600") && is_path_param("q75") && is_path_param("jpeg"));
        assert!(!is_path_param("cats") && !is_path_param("a.jpg") && !is_path_param("x1"));
    }

    #[test]
    fn empty_means_untouched() {
        assert!(q("").unwrap().is_empty());
        assert!(!q("w=1").unwrap().is_empty());
    }
}
