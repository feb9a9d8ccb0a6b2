//! What a `/srcset/{path}` request asks for, and the candidates it gets: the transform every
//! candidate shares (the `/img/` query grammar), the width ladder (`widths`, else the allowed
//! widths, else `images.srcset_widths`), capped at what the source holds at the requested aspect
//! ratio (a smaller source ends on its own width, never an upscale), and each candidate's true
//! output size from the source's header, so pages state `width`/`height` and `w` descriptors
//! that match what `/img/` will send.

use crate::config::ImageSettings;
use crate::grammar::{parse_query, placeholder_flag, FormatChoice, RawParams};
use crate::pipeline::{ImageFormat, Outputs, PipelineError, PipelineSettings};

use super::accept::Accepted;
use super::sizes::admit_size;
use super::transform::{source_family, Transform};
use super::RequestError;

/// Most widths one `widths` list may name (a page needs a handful; each costs a layout).
pub const MAX_WIDTHS: usize = 16;
/// Longest `sizes` attribute accepted.
pub const MAX_SIZES_BYTES: usize = 1024;
/// `sizes` when the request names none: the image spans the viewport.
pub const DEFAULT_SIZES: &str = "100vw";

/// How the reply is written: `format=html` / `format=json`, else by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrcsetForm {
    Html,
    Json,
}

/// A parsed `/srcset` query.
#[derive(Debug, Clone, PartialEq)]
pub struct SrcsetQuery {
    /// The transform of every candidate, as the client spelled it (`w` and `fmt` are set per
    /// candidate).
    pub params: RawParams,
    pub widths: Option<Vec<u32>>,
    pub sizes: String,
    pub form: Option<SrcsetForm>,
    /// `placeholder=1`: the reply carries the image's placeholders (computed like `/info`'s).
    pub placeholder: bool,
}

impl SrcsetQuery {
    /// Splits `/srcset`'s own parameters (`widths`, `sizes`, `format=html|json`,
    /// `placeholder`) from the transform's, which follow `/img/`'s rules.
    pub fn parse(raw_query: &str, images: &ImageSettings) -> Result<SrcsetQuery, RequestError> {
        let (mut widths, mut sizes, mut form, mut placeholder) = (None, None, None, None);
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            match (name.as_ref(), value.as_ref()) {
                ("widths", v) => once(&mut widths, "widths", parse_widths(v, images)?)?,
                ("sizes", v) => once(&mut sizes, "sizes", parse_sizes(v)?)?,
                ("format", "html") => once(&mut form, "format", SrcsetForm::Html)?,
                ("format", "json") => once(&mut form, "format", SrcsetForm::Json)?,
                ("placeholder", v) => once(&mut placeholder, "placeholder", placeholder_flag(v)?)?,
                ("dpr", _) => {
                    return Err(invalid(
                        "dpr has no place in a srcset: its width descriptors let the browser \
                         pick for the screen's density",
                    ))
                }
                ("s", _) => {
                    return Err(invalid(
                        "s has no place here: every candidate URL is signed by the server",
                    ))
                }
                (n, v) => {
                    rest.append_pair(n, v);
                }
            }
        }
        if images.presets_only {
            return Err(invalid(
                "only presets are allowed, and a srcset sets each candidate's width",
            ));
        }
        let params = parse_query(&rest.finish(), images.max_width, images.max_height)?;
        Ok(SrcsetQuery {
            params,
            widths,
            sizes: sizes.unwrap_or_else(|| DEFAULT_SIZES.to_string()),
            form,
            placeholder: placeholder.unwrap_or(false),
        })
    }
}

/// One candidate: the query of its `/img/` URL and the size it renders at.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub params: RawParams,
    pub width: u32,
    pub height: u32,
}

/// The candidates of one output format, smallest first.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSet {
    /// `None`: the `<img>`'s own set, in the request's format or the source's family.
    pub format: Option<ImageFormat>,
    pub candidates: Vec<Candidate>,
}

/// Every candidate of a srcset: `<source>` sets for AVIF and WebP when the format is left to
/// the server (AVIF only when every candidate is within `images.max_avif_pixels`), then the
/// `<img>`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct SrcsetPlan {
    pub sources: Vec<CandidateSet>,
    pub img: CandidateSet,
}

/// Why no srcset can be planned: the request (400), or a render the pipeline refuses (its own
/// status, as `/img/` would answer the candidate).
#[derive(Debug, thiserror::Error)]
pub enum SrcsetError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Plans the candidates of `query` for a source with header `outputs`.
pub fn plan_srcset(
    query: &SrcsetQuery,
    outputs: &Outputs,
    images: &ImageSettings,
    pipeline: &PipelineSettings,
) -> Result<SrcsetPlan, SrcsetError> {
    let source = outputs.info().format;
    let shared = Transform::from_params(query.params.clone(), images)?;
    let aspect = match (shared.width, shared.height) {
        (Some(w), Some(h)) => Some((w, h)),
        (None, Some(_)) => {
            return Err(invalid(
                "h needs w: together they give the aspect ratio of every candidate",
            )
            .into())
        }
        _ => None,
    };
    let natural = natural_width(query, outputs, images, pipeline, aspect)?.min(images.max_width);
    let ladder = ladder(query.widths.as_deref(), natural, images);
    let negotiated = matches!(query.params.format, None | Some(FormatChoice::Auto));
    let img_format = match query.params.format {
        None | Some(FormatChoice::Auto) if source_family(source) != source => {
            Some(FormatChoice::Exact(source_family(source)))
        }
        None | Some(FormatChoice::Auto) => None,
        other => other,
    };
    let mut sources = Vec::new();
    if negotiated {
        for format in [ImageFormat::Avif, ImageFormat::Webp] {
            let set = candidates(
                &ladder,
                query,
                aspect,
                Some(FormatChoice::Exact(format)),
                outputs,
                images,
                pipeline,
            )?;
            if !set.is_empty() {
                sources.push(CandidateSet {
                    format: Some(format),
                    candidates: set,
                });
            }
        }
    }
    let img = candidates(
        &ladder, query, aspect, img_format, outputs, images, pipeline,
    )?;
    if img.is_empty() {
        return Err(invalid("no candidate of this image fits the output limits").into());
    }
    Ok(SrcsetPlan {
        sources,
        img: CandidateSet {
            format: None,
            candidates: img,
        },
    })
}

/// The widest candidate that upscales nothing: the source's width after the transform's own
/// crop, trim and rotation, and at an aspect ratio no more than its height allows; for an SVG,
/// the output ceiling.
fn natural_width(
    query: &SrcsetQuery,
    outputs: &Outputs,
    images: &ImageSettings,
    pipeline: &PipelineSettings,
    aspect: Option<(u32, u32)>,
) -> Result<u32, SrcsetError> {
    if outputs.info().format == ImageFormat::Svg {
        // Drawn at any size, an SVG upscales nothing: only the output ceiling ends the ladder.
        let by_height = aspect.map_or(u64::MAX, |(a, b)| {
            (u64::from(images.max_height) * u64::from(a) / u64::from(b)).max(1)
        });
        return Ok(u64::from(images.max_width).min(by_height) as u32);
    }
    let natural = RawParams {
        width: None,
        height: None,
        pad: None,
        enlarge: None,
        format: Some(FormatChoice::Original),
        ..query.params.clone()
    };
    let transform = Transform::from_params(natural, images)?;
    let spec = transform.render_spec(outputs.info().format, Accepted::default(), images);
    let (w, h) = outputs.size_of(&spec, pipeline)?;
    Ok(match aspect {
        Some((a, b)) => {
            let by_height = (u64::from(h) * u64::from(a) / u64::from(b)).max(1);
            u64::from(w).min(by_height) as u32
        }
        None => w,
    })
}

/// The widths to offer, ascending: none above `natural`, which ends the ladder when the ladder
/// reached past it (with allowed widths, the largest allowed one within it).
fn ladder(requested: Option<&[u32]>, natural: u32, images: &ImageSettings) -> Vec<u32> {
    let allowed = &images.allowed_widths;
    let base: Vec<u32> = match requested {
        Some(widths) => widths
            .iter()
            .map(|&w| admit_size("widths", w, allowed, true).unwrap_or(w))
            .collect(),
        None if !allowed.is_empty() => allowed.clone(),
        None => images.srcset_widths.clone(),
    };
    let mut widths: Vec<u32> = base.iter().copied().filter(|&w| w <= natural).collect();
    if widths.len() < base.len() || widths.is_empty() {
        let last = match allowed.is_empty() {
            true => natural,
            false => allowed
                .iter()
                .copied()
                .rfind(|&w| w <= natural)
                .unwrap_or(allowed[0]),
        };
        widths.push(last);
    }
    widths.sort_unstable();
    widths.dedup();
    widths
}

/// The candidates of one format, one per distinct output width. When an AVIF candidate is over
/// `images.max_avif_pixels` the whole AVIF set is left out (empty); any other refusal is the
/// client's, and names the candidate.
fn candidates(
    ladder: &[u32],
    query: &SrcsetQuery,
    aspect: Option<(u32, u32)>,
    format: Option<FormatChoice>,
    outputs: &Outputs,
    images: &ImageSettings,
    pipeline: &PipelineSettings,
) -> Result<Vec<Candidate>, SrcsetError> {
    let source = outputs.info().format;
    let mut out: Vec<Candidate> = Vec::new();
    for &width in ladder {
        let params = RawParams {
            width: Some(width),
            height: aspect.map(|(a, b)| {
                ((u64::from(width) * u64::from(b) + u64::from(a) / 2) / u64::from(a)).max(1) as u32
            }),
            format,
            ..query.params.clone()
        };
        let named = |e: RequestError| {
            let RequestError::Invalid(message) = e;
            invalid(&format!("the candidate of width {width}: {message}"))
        };
        let transform = Transform::from_params(params.clone(), images).map_err(named)?;
        let spec = transform.render_spec(source, Accepted::default(), images);
        let (w, h) = match outputs.size_of(&spec, pipeline) {
            Ok(size) => size,
            // A set that stops short would serve large screens a small AVIF: better WebP.
            Err(PipelineError::OutputTooLarge(_)) if spec.format == ImageFormat::Avif => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e.into()),
        };
        if out.iter().all(|c| c.width != w) {
            out.push(Candidate {
                params,
                width: w,
                height: h,
            });
        }
    }
    Ok(out)
}

fn parse_widths(value: &str, images: &ImageSettings) -> Result<Vec<u32>, RequestError> {
    let bad = || {
        invalid(&format!(
            "widths must be up to {MAX_WIDTHS} comma-separated widths between 1 and {}",
            images.max_width
        ))
    };
    let widths = value
        .split(',')
        .map(|w| match w.trim().parse::<u32>() {
            Ok(w) if (1..=images.max_width).contains(&w) => Ok(w),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<u32>, _>>()?;
    if widths.is_empty() || widths.len() > MAX_WIDTHS {
        return Err(bad());
    }
    Ok(widths)
}

fn parse_sizes(value: &str) -> Result<String, RequestError> {
    if value.len() > MAX_SIZES_BYTES || value.chars().any(char::is_control) {
        return Err(invalid(&format!(
            "sizes must be at most {MAX_SIZES_BYTES} bytes of text without control characters"
        )));
    }
    match value.trim() {
        "" => Err(invalid("sizes must not be empty")),
        v => Ok(v.to_string()),
    }
}

fn once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), RequestError> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(invalid(&format!("{name} is given more than once"))),
    }
}

fn invalid(message: &str) -> RequestError {
    RequestError::Invalid(message.to_string())
}
