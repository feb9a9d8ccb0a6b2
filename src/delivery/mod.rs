//! The image request path from parsed URL to response parts: resolve the source, validate the
//! parameters, negotiate the format, answer conditional requests before any decode, and get the
//! variant from the cache or a render on the render pool. No actix types: routes adapt this.
//!
//! A render's cost is estimated on the pool from the header before any pixel is decoded; one
//! estimated above `limits.heavy_render_cost` is heavy and continues only in one of the pool's
//! heavy slots, one per client at a time (see `limits::RenderPool::run_weighed`).

mod conditional;
mod info;
mod metadata;
mod original;
mod srcset;

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cache::{CacheStatus, Lookup, Origin, Variant, VariantCache};
use crate::config::Settings;
use crate::error::{AppError, ErrorCode};
use crate::limits::{source_budget, RenderAdmission, RenderPool, SourceBudget, SourcePermit, Step};
use crate::pipeline::{self, ImageFormat, PipelineError, PipelineSettings, RenderSpec};
use crate::request::{
    apply_path_params, is_path_param, parse_query, Accepted, RawParams, Transform, VariantKey,
};
use crate::signing::SignaturePolicy;
use crate::source::{
    self, decode_url_segments, Entry, FileRef, Opened, RelPath, Resolution, SourceError, SourceTree,
};

pub use conditional::etag_matches;
pub use info::{InfoQuery, InfoReply};
pub use original::OriginalStream;
pub use srcset::{SourceSet, SrcsetReply};

/// Enough leading bytes to tell every supported format apart (an SVG's prolog included).
const SNIFF_BYTES: usize = pipeline::SNIFF_BYTES;

/// An image request as the HTTP layer received it.
#[derive(Debug, Clone, Copy)]
pub struct ImageQuery<'a> {
    /// The whole URL path as sent (what signatures cover).
    pub request_path: &'a str,
    /// The URL path below `/img/`, still percent-encoded.
    pub raw_path: &'a str,
    /// The raw query string (without `?`).
    pub raw_query: &'a str,
    pub accept: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    /// Charged when this request would start a render.
    pub admission: &'a RenderAdmission,
}

/// What to send back for an image request.
#[derive(Debug)]
pub struct ImageReply {
    /// 200, or the fallback status when the fallback image stands in for a missing one.
    pub status: u16,
    /// `None` for 304 Not Modified.
    pub body: Option<ReplyBody>,
    pub content_type: String,
    pub etag: String,
    pub vary_accept: bool,
    /// `X-Cache`: `bypass` for originals, otherwise where the variant came from.
    pub cache: &'static str,
    pub render_time: Option<Duration>,
    /// The fallback image stands in for a missing one: caches must not keep it long.
    pub fallback: bool,
}

/// A reply's bytes: a variant (already in memory), or an original streamed from its source.
#[derive(Debug)]
pub enum ReplyBody {
    Variant(Bytes),
    Original(OriginalStream),
}

pub struct Delivery {
    settings: Arc<Settings>,
    pipeline: PipelineSettings,
    source: Arc<dyn SourceTree>,
    cache: Arc<VariantCache>,
    pool: Arc<RenderPool>,
    signatures: SignaturePolicy,
    /// Source bytes held in memory across all requests (`limits.source_bytes_in_flight`).
    budget: Arc<SourceBudget>,
    /// Sniffed format per content identity, so a cache hit reads nothing from the source.
    formats: moka::sync::Cache<String, Option<ImageFormat>>,
    /// Folder metadata, parsed once per version.
    metadata: metadata::FolderMetadata,
}

impl Delivery {
    pub fn new(
        settings: Arc<Settings>,
        source: Arc<dyn SourceTree>,
        cache: Arc<VariantCache>,
        pool: Arc<RenderPool>,
    ) -> Self {
        Self {
            pipeline: settings.images.pipeline_settings(),
            signatures: SignaturePolicy::from_settings(&settings.security),
            budget: SourceBudget::new(
                settings.limits.source_bytes_in_flight,
                source_budget::MAX_WAIT,
            ),
            settings,
            source,
            cache,
            pool,
            formats: moka::sync::Cache::new(100_000),
            metadata: metadata::FolderMetadata::new(),
        }
    }

    pub fn source(&self) -> &Arc<dyn SourceTree> {
        &self.source
    }

    pub fn cache(&self) -> &Arc<VariantCache> {
        &self.cache
    }

    pub fn pool(&self) -> &Arc<RenderPool> {
        &self.pool
    }

    pub fn source_budget(&self) -> &Arc<SourceBudget> {
        &self.budget
    }

    /// Resolves the URL path below `/img/` or `/info/`, one set of rules for both: segments
    /// decoded once and walked inside the root; what follows a file is handed back, and must
    /// pass [`apply_path_params`](Self::apply_path_params) (never ignored).
    fn resolve(&self, segments: &[String]) -> Result<Resolution, SourceError> {
        source::resolve(self.source.as_ref(), segments, is_path_param)
    }

    /// Checks the path-grammar parameters (`/400x300/q80/webp`) that followed the file and
    /// applies them to `params`; anything else after a file is a 400.
    fn apply_path_params(
        &self,
        params: &mut RawParams,
        found: &Resolution,
    ) -> Result<(), AppError> {
        let images = &self.settings.images;
        Ok(apply_path_params(
            params,
            &found.params,
            images.max_width,
            images.max_height,
        )?)
    }

    /// Serves `GET`/`HEAD /img/{path}`.
    pub async fn image(&self, query: ImageQuery<'_>) -> Result<ImageReply, AppError> {
        let images = &self.settings.images;
        // Unsigned transforms are refused before anything is parsed or looked up.
        let signed = self
            .signatures
            .check_query(query.request_path, query.raw_query)?;
        let segments = decode_url_segments(query.raw_path)?;
        let mut params = parse_query(query.raw_query, images.max_width, images.max_height)?;
        let (file, status, fallback) = match self.resolve(&segments) {
            Ok(found) => {
                if !signed && !found.params.is_empty() {
                    self.signatures
                        .check_transform(query.request_path, query.raw_query, true)?;
                }
                self.apply_path_params(&mut params, &found)?;
                (found.file, 200, false)
            }
            Err(SourceError::NotFound) => (
                self.fallback()?.ok_or_else(AppError::not_found)?,
                images.fallback_status,
                true,
            ),
            Err(e) => return Err(e.into()),
        };
        let reply = if params.is_empty() {
            self.original(file, status, query).await?
        } else {
            self.variant(file, status, params, query).await?
        };
        Ok(ImageReply { fallback, ..reply })
    }

    fn fallback(&self) -> Result<Option<FileRef>, AppError> {
        let Some(path) = &self.settings.images.fallback else {
            return Ok(None);
        };
        let path = RelPath::parse(path)?;
        match self.source.lookup(&path) {
            Ok(Some(Entry::File(file))) => Ok(Some(file)),
            Ok(_) | Err(SourceError::NotFound | SourceError::Refused) => {
                tracing::warn!("images.fallback names no servable file");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn original(
        &self,
        file: FileRef,
        status: u16,
        query: ImageQuery<'_>,
    ) -> Result<ImageReply, AppError> {
        let if_none_match = query.if_none_match;
        let format = self.format_of(&file).await?;
        if format == ImageFormat::Svg {
            return self.sanitized_svg(file, status, query).await;
        }
        let key = VariantKey::for_original(&file.content_id);
        let etag = key.etag();
        if etag_matches(if_none_match, &etag) && status == 200 {
            return Ok(ImageReply::not_modified(
                format.mime(),
                etag,
                false,
                "bypass",
            ));
        }
        let (opened, held) = self.open(&file).await?;
        let info = original::probe(&opened, &self.budget, &self.pipeline)
            .await?
            .info();
        let held = match opened.reads_in_place() {
            true => self.budget.acquire(original::STREAM_HELD_BYTES).await?,
            false => held,
        };
        Ok(ImageReply {
            status,
            body: Some(ReplyBody::Original(OriginalStream::new(opened, held))),
            content_type: info.format.mime().to_string(),
            etag,
            vary_accept: false,
            cache: "bypass",
            render_time: None,
            fallback: false,
        })
    }

    /// An SVG original is never sent as stored: its sanitised text is made on the render pool
    /// and cached like a variant, under a key of its own (so a change of the sanitiser is a new
    /// ETag); a conditional request is answered from that key before anything is read.
    async fn sanitized_svg(
        &self,
        file: FileRef,
        status: u16,
        query: ImageQuery<'_>,
    ) -> Result<ImageReply, AppError> {
        let key = VariantKey::for_sanitized_svg(&file.content_id);
        let etag = key.etag();
        if etag_matches(query.if_none_match, &etag) && status == 200 {
            return Ok(ImageReply::not_modified(
                ImageFormat::Svg.mime(),
                etag,
                false,
                "hit-memory",
            ));
        }
        let lookup = self
            .lookup_or_render(&key, file, Job::SanitizeSvg, &etag, query.admission)
            .await?;
        Ok(ImageReply {
            render_time: None,
            ..ImageReply::from_lookup(status, lookup, false)
        })
    }

    async fn variant(
        &self,
        file: FileRef,
        status: u16,
        params: RawParams,
        query: ImageQuery<'_>,
    ) -> Result<ImageReply, AppError> {
        let images = &self.settings.images;
        let mut transform = Transform::from_params(params, images)?;
        if transform.open_placement {
            // The image's focal point is part of the spec, so of the key: editing it renders
            // new crops of this image and of no other.
            let meta = self.metadata.of(&self.source, &file).await;
            transform = transform.with_default_focus(meta.as_ref().and_then(metadata::focus_of));
        }
        let source_format = self.format_of(&file).await?;
        let accepted = Accepted::from_header(query.accept);
        let spec = transform.render_spec(source_format, accepted, images);
        // A negotiated AVIF beyond `images.max_avif_pixels` is served in the next format the
        // client accepts (only an explicit `fmt=avif` is refused).
        let fallback = (transform.negotiates() && spec.format == ImageFormat::Avif).then(|| {
            let without_avif = Accepted {
                avif: false,
                ..accepted
            };
            transform.render_spec(source_format, without_avif, images)
        });
        let animated = transform.animated_spec(&spec, source_format, accepted, images);
        // What may be rendered instead is in the key too: clients that accept different
        // formats never share a variant.
        let instead: Vec<&RenderSpec> = fallback.iter().chain(&animated).collect();
        let key = VariantKey::for_render(&file.content_id, &spec, &instead);
        let etag = key.etag();
        let vary_accept = transform.negotiates();
        if etag_matches(query.if_none_match, &etag) && status == 200 {
            return Ok(ImageReply::not_modified(
                spec.format.mime(),
                etag,
                vary_accept,
                "hit-memory",
            ));
        }
        let job = Job::Variant(Box::new(Planned {
            spec,
            fallback,
            animated,
        }));
        let lookup = self
            .lookup_or_render(&key, file, job, &etag, query.admission)
            .await?;
        Ok(ImageReply::from_lookup(status, lookup, vary_accept))
    }

    /// The variant from the cache, or rendered if this client may start a render. A refusal
    /// handed over from another client's attempt at the same variant (the cache shares one
    /// render's outcome with everyone waiting for it) is not this client's: it tries once more.
    async fn lookup_or_render(
        &self,
        key: &VariantKey,
        file: FileRef,
        job: Job,
        etag: &str,
        admission: &RenderAdmission,
    ) -> Result<Lookup, AppError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let charged = Arc::new(AtomicBool::new(false));
            let render = self.render(
                file.clone(),
                job.clone(),
                etag.to_string(),
                admission.client(),
            );
            let (flag, admission) = (charged.clone(), admission.clone());
            let result = self
                .cache
                .get_or_render(key, move || async move {
                    flag.store(true, Ordering::Relaxed);
                    admission.admit()?;
                    render.await
                })
                .await;
            match result {
                Err(e)
                    if e.code == ErrorCode::RateLimited
                        && !charged.load(Ordering::Relaxed)
                        && attempts < 2 => {}
                other => return other,
            }
        }
    }

    /// Reads the source and renders it (or its placeholders) on the pool, on behalf of `client`
    /// (whose heavy renders run one at a time). Owns what it needs: the cache runs it on its own
    /// task, so it outlives a client that gives up.
    fn render(
        &self,
        file: FileRef,
        job: Job,
        etag: String,
        client: Option<IpAddr>,
    ) -> impl Future<Output = Result<Variant, AppError>> + Send + 'static {
        let source = self.source.clone();
        let settings = self.pipeline.clone();
        let pool = self.pool.clone();
        let budget = self.budget.clone();
        let heavy_cost = self.settings.limits.heavy_render_cost;
        async move {
            let origin = Origin {
                path: file.path.clone(),
                content_id: file.content_id.clone(),
            };
            check_size(&file, settings.max_source_bytes)?;
            // Charged before the render queues, held until its copy of the source is dropped.
            let held = budget.acquire(file.size).await?;
            let rendered = pool
                .run_weighed(client, move || {
                    let read = move || source.read(&file, settings.max_source_bytes);
                    let assessed = read().map_err(AppError::from).and_then(|bytes| {
                        let (work, cost) = job.assess(&bytes, &settings)?;
                        Ok((bytes, work, cost))
                    });
                    let (bytes, work, cost) = match assessed {
                        Ok(assessed) => assessed,
                        Err(e) => return Step::Done(Err(e)),
                    };
                    if cost.cpu <= heavy_cost {
                        let _held = held;
                        return Step::Done(work.run(&bytes, &settings));
                    }
                    // Read again once a heavy slot is free rather than held while waiting
                    // (the budget stays charged: the read is certain to come).
                    drop(bytes);
                    Step::Heavy(Box::new(move || {
                        let _held = held;
                        work.run(&read()?, &settings)
                    }))
                })
                .await??;
            Ok(Variant {
                content_type: rendered.content_type.to_string(),
                bytes: Bytes::from(rendered.bytes),
                etag,
                origin,
            })
        }
    }

    /// The source's format by its magic bytes, remembered per content identity.
    async fn format_of(&self, file: &FileRef) -> Result<ImageFormat, AppError> {
        if let Some(known) = self.formats.get(&file.content_id) {
            return known.ok_or_else(unsupported);
        }
        let max_bytes = self.pipeline.max_source_bytes;
        check_size(file, max_bytes)?;
        let _held = self
            .budget
            .acquire(file.inflated_bytes().max(SNIFF_BYTES as u64))
            .await?;
        let source = self.source.clone();
        let f = file.clone();
        let head = blocking(move || source.read_prefix(&f, SNIFF_BYTES, max_bytes)).await?;
        let format = pipeline::sniff(&head);
        self.formats.insert(file.content_id.clone(), format);
        format.ok_or_else(unsupported)
    }

    /// Opens a source (refused over `images.max_source_bytes` before anything is read) with
    /// what the opening holds charged: a blob inflated whole; nothing yet for a plain file.
    async fn open(&self, file: &FileRef) -> Result<(Opened, SourcePermit), AppError> {
        let max_bytes = self.pipeline.max_source_bytes;
        check_size(file, max_bytes)?;
        let held = self.budget.acquire(file.inflated_bytes()).await?;
        let source = self.source.clone();
        let f = file.clone();
        let opened = blocking(move || source.open(&f, max_bytes)).await?;
        Ok((opened, held))
    }
}

/// A source over the size limit is refused from its looked-up size, before it is read (and
/// before any of the budget is asked for it).
fn check_size(file: &FileRef, max_bytes: u64) -> Result<(), SourceError> {
    if file.size > max_bytes {
        return Err(SourceError::TooLarge { limit: max_bytes });
    }
    Ok(())
}

/// The render a request asked for, and what to render instead if it asked for a negotiated
/// AVIF larger than `images.max_avif_pixels`, or negotiated a still format for a source that
/// turns out to be animated.
#[derive(Debug, Clone)]
struct Planned {
    spec: RenderSpec,
    fallback: Option<RenderSpec>,
    animated: Option<RenderSpec>,
}

impl Planned {
    /// The spec to render and its estimated cost (checked against the output limits).
    fn assess(
        self,
        bytes: &[u8],
        settings: &PipelineSettings,
    ) -> Result<(RenderSpec, pipeline::RenderCost), PipelineError> {
        if let Some(animated) = self.animated {
            if pipeline::probe(bytes, settings)?.animated {
                let cost = pipeline::assess(bytes, &animated, settings)?;
                return Ok((animated, cost));
            }
        }
        match (pipeline::assess(bytes, &self.spec, settings), self.fallback) {
            (Err(PipelineError::OutputTooLarge(_)), Some(fallback)) => {
                let cost = pipeline::assess(bytes, &fallback, settings)?;
                Ok((fallback, cost))
            }
            (result, _) => result.map(|cost| (self.spec, cost)),
        }
    }
}

/// What the render pool is asked to make of a source: a variant, or its placeholders.
#[derive(Debug, Clone)]
enum Job {
    Variant(Box<Planned>),
    Placeholder,
    /// The sanitised text of an SVG original.
    SanitizeSvg,
}

/// A job once its cost is known: what the pool runs.
enum Work {
    Render(RenderSpec),
    Placeholder,
    SanitizeSvg,
}

/// A job's result, as the cache stores it.
struct Output {
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl Job {
    fn assess(
        self,
        bytes: &[u8],
        settings: &PipelineSettings,
    ) -> Result<(Work, pipeline::RenderCost), PipelineError> {
        match self {
            Job::Variant(planned) => {
                let (spec, cost) = planned.assess(bytes, settings)?;
                Ok((Work::Render(spec), cost))
            }
            Job::Placeholder => {
                let cost = pipeline::placeholder_cost(bytes, settings)?;
                Ok((Work::Placeholder, cost))
            }
            Job::SanitizeSvg => Ok((Work::SanitizeSvg, pipeline::sanitize_svg_cost(bytes))),
        }
    }
}

impl Work {
    fn run(&self, bytes: &[u8], settings: &PipelineSettings) -> Result<Output, AppError> {
        match self {
            Work::Render(spec) => {
                let rendered = pipeline::render(bytes, spec, settings)?;
                Ok(Output {
                    content_type: rendered.format.mime(),
                    bytes: rendered.bytes,
                })
            }
            Work::Placeholder => {
                let placeholder = pipeline::placeholder(bytes, settings)?;
                let bytes = serde_json::to_vec(&placeholder)
                    .map_err(|e| AppError::internal(anyhow::anyhow!("placeholder JSON: {e}")))?;
                Ok(Output {
                    content_type: info::PLACEHOLDER_CONTENT_TYPE,
                    bytes,
                })
            }
            Work::SanitizeSvg => Ok(Output {
                content_type: ImageFormat::Svg.mime(),
                bytes: pipeline::sanitize_svg(bytes, settings)?,
            }),
        }
    }
}

impl ImageReply {
    /// A variant from the cache or a render; its render time only when it was rendered now.
    fn from_lookup(status: u16, lookup: Lookup, vary_accept: bool) -> Self {
        let rendered = lookup.status == CacheStatus::Miss;
        Self {
            status,
            body: Some(ReplyBody::Variant(lookup.variant.bytes.clone())),
            content_type: lookup.variant.content_type.clone(),
            etag: lookup.variant.etag.clone(),
            vary_accept,
            cache: lookup.status.header_value(),
            render_time: lookup.render_time.filter(|_| rendered),
            fallback: false,
        }
    }

    fn not_modified(
        content_type: &str,
        etag: String,
        vary_accept: bool,
        cache: &'static str,
    ) -> Self {
        Self {
            status: 304,
            body: None,
            content_type: content_type.to_string(),
            etag,
            vary_accept,
            cache,
            render_time: None,
            fallback: false,
        }
    }
}

fn unsupported() -> AppError {
    AppError::new(
        ErrorCode::UnsupportedSource,
        "the source is not a supported image",
    )
}

/// Runs blocking I/O off the async workers.
async fn blocking<T, E>(job: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(AppError::internal(anyhow::anyhow!(
            "blocking task failed: {e}"
        ))),
    }
}
