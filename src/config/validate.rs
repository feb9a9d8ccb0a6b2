//! Turns the raw layers into [`Settings`], checking every key and collecting every problem, so
//! that one start reports all of them together.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::raw::{Field, ListValue, RawSettings, SizeValue, Unknown};
use super::*;

/// Collects problems while reading fields; a bad field yields a placeholder so checking goes on.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{key}: {message}"));
    }

    fn unknown(&mut self, section: &str, keys: &Unknown) {
        for key in keys.keys() {
            let full = if section.is_empty() {
                key.clone()
            } else {
                format!("{section}.{key}")
            };
            self.add(&full, "unknown key");
        }
    }

    fn take<T: Default>(&mut self, key: &str, field: Field<T>) -> T {
        match field {
            Field::Ok(v) => v,
            Field::Bad(message) => {
                self.add(key, message);
                T::default()
            }
        }
    }

    /// A number that must not be zero (a limit of nothing refuses everything).
    fn positive<T: Default + PartialEq>(&mut self, key: &str, field: Field<T>) -> T {
        let value = self.take(key, field);
        if value == T::default() {
            self.add(key, "must be positive");
        }
        value
    }

    fn parsed<T: Default, R>(
        &mut self,
        key: &str,
        field: Field<R>,
        parse: impl FnOnce(&R) -> Result<T, String>,
    ) -> T
    where
        R: Default,
    {
        let raw = self.take(key, field);
        parse(&raw).unwrap_or_else(|message| {
            self.add(key, message);
            T::default()
        })
    }

    fn duration(&mut self, key: &str, field: Field<String>) -> Duration {
        self.parsed(key, field, |t| units::duration(t))
    }

    fn size(&mut self, key: &str, field: Field<SizeValue>) -> u64 {
        self.parsed(key, field, units::size)
    }

    fn in_range<T: PartialOrd + std::fmt::Display + Copy + Default>(
        &mut self,
        key: &str,
        value: T,
        lo: T,
        hi: T,
    ) -> T {
        if value < lo || value > hi {
            self.add(key, format!("must be between {lo} and {hi}, not {value}"));
        }
        value
    }

    fn cidrs(&mut self, key: &str, field: Field<ListValue>) -> Vec<IpNet> {
        let items = self.parsed(key, field, units::list_items);
        items
            .iter()
            .filter_map(|item| units::cidr(item).map_err(|m| self.add(key, m)).ok())
            .collect()
    }

    fn sizes(&mut self, key: &str, field: Field<ListValue>, max: u32) -> Vec<u32> {
        let items = self.parsed(key, field, units::list_items);
        let mut sizes: Vec<u32> = items
            .iter()
            .filter_map(|item| match item.trim().parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    self.add(key, format!("{item:?} is not a size between 1 and {max}"));
                    None
                }
            })
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    fn secret(&mut self, key: &str, field: Field<String>) -> Option<Secret> {
        Secret::new(self.take(key, field))
    }

    /// A secret this server checks (`key`, or the file named by `key_file`): at least
    /// [`MIN_SECRET_BYTES`] long, since a short one is guessed.
    fn server_secret(
        &mut self,
        key: &str,
        field: Field<String>,
        file_field: Field<String>,
    ) -> Option<Secret> {
        let key_file = format!("{key}_file");
        let inline = self.secret(key, field);
        let file = non_empty(self.take(&key_file, file_field)).map(PathBuf::from);
        let secret = match (inline, file) {
            (Some(_), Some(_)) => {
                self.add(key, format!("set either {key} or {key_file}, not both"));
                return None;
            }
            (Some(secret), None) => secret,
            (None, Some(path)) => match Secret::read_file(&path) {
                Ok(Some(secret)) => secret,
                Ok(None) => {
                    self.add(&key_file, format!("{} is empty", path.display()));
                    return None;
                }
                Err(e) => {
                    self.add(&key_file, format!("cannot read {}: {e}", path.display()));
                    return None;
                }
            },
            (None, None) => return None,
        };
        let length = secret.expose().len();
        if length < MIN_SECRET_BYTES {
            self.add(
                key,
                format!(
                    "is {length} bytes long; it must be at least {MIN_SECRET_BYTES} bytes \
                     (generate one with `openssl rand -hex 32`)"
                ),
            );
            return None;
        }
        Some(secret)
    }
}

fn non_empty(text: String) -> Option<String> {
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A path under the source root written in configuration: relative, no dot components.
fn is_plain_relative(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.'))
}

pub(super) fn validate(raw: RawSettings) -> Result<Settings, Vec<String>> {
    let mut p = Problems::default();
    p.unknown("", &raw.unknown);

    let s = raw.server;
    p.unknown("server", &s.unknown);
    let bind_text = p.take("server.bind", s.bind);
    let bind = bind_text.parse::<IpAddr>().unwrap_or_else(|_| {
        p.add("server.bind", format!("{bind_text:?} is not an IP address"));
        IpAddr::from([127, 0, 0, 1])
    });
    let workers = p.take("server.workers", s.workers);
    let server = ServerSettings {
        bind,
        port: p.take("server.port", s.port),
        workers: if workers == 0 {
            cores()
        } else {
            p.in_range("server.workers", workers, 1, 1024)
        },
        trusted_proxies: p.cidrs("server.trusted_proxies", s.trusted_proxies),
        shutdown_timeout: p.duration("server.shutdown_timeout", s.shutdown_timeout),
        keep_alive: p.duration("server.keep_alive", s.keep_alive),
        client_request_timeout: p
            .duration("server.client_request_timeout", s.client_request_timeout),
    };

    let src = raw.source;
    p.unknown("source", &src.unknown);
    let g = src.git;
    p.unknown("source.git", &g.unknown);
    let remote = non_empty(p.take("source.git.remote", g.remote));
    let dir = PathBuf::from(p.take("source.dir", src.dir));
    if dir.as_os_str().is_empty() {
        p.add("source.dir", "must name a folder");
    } else if remote.is_none() && !dir.is_dir() {
        p.add(
            "source.dir",
            format!(
                "{} is not a folder (set source.git.remote to clone into it)",
                dir.display()
            ),
        );
    }
    let on_diverge = match p.take("source.git.on_diverge", g.on_diverge).as_str() {
        "reset" => OnDiverge::Reset,
        "refuse" => OnDiverge::Refuse,
        other => {
            p.add(
                "source.git.on_diverge",
                format!("must be \"reset\" or \"refuse\", not {other:?}"),
            );
            OnDiverge::Reset
        }
    };
    let token_file = non_empty(p.take("source.git.token_file", g.token_file)).map(PathBuf::from);
    if let Some(f) = &token_file {
        if !f.is_file() {
            p.add(
                "source.git.token_file",
                format!("{} is not a readable file", f.display()),
            );
        }
    }
    let ssh_key = non_empty(p.take("source.git.ssh_key", g.ssh_key)).map(PathBuf::from);
    if let Some(f) = &ssh_key {
        match std::fs::read_to_string(f) {
            Err(_) => p.add(
                "source.git.ssh_key",
                format!("{} is not a readable file", f.display()),
            ),
            Ok(text) => {
                if let Some(problem) = super::ssh_key::problem(&text) {
                    p.add("source.git.ssh_key", format!("{} {problem}", f.display()));
                }
            }
        }
    }
    let known_hosts = non_empty(p.take("source.git.known_hosts", g.known_hosts)).map(PathBuf::from);
    if let Some(f) = &known_hosts {
        if !f.is_file() {
            p.add(
                "source.git.known_hosts",
                format!("{} is not a readable file", f.display()),
            );
        }
    }
    let git_timeout = p.duration("source.git.timeout", g.timeout);
    if git_timeout.is_zero() {
        p.add("source.git.timeout", "must be positive");
    }
    let source = SourceSettings {
        dir,
        git: GitSettings {
            remote,
            branch: non_empty(p.take("source.git.branch", g.branch)),
            token: p.secret("source.git.token", g.token),
            token_file,
            ssh_key,
            known_hosts,
            timeout: git_timeout,
            sync_interval: p.parsed("source.git.sync_interval", g.sync_interval, |t| {
                units::optional_duration(t)
            }),
            on_diverge,
            depth: Some(p.take("source.git.depth", g.depth)).filter(|&d| d > 0),
        },
    };

    let c = raw.cache;
    p.unknown("cache", &c.unknown);
    let cache_dir = p.take("cache.dir", c.dir);
    if cache_dir.trim().is_empty() {
        p.add("cache.dir", "must name a folder");
    }
    let cache = CacheSettings {
        dir: PathBuf::from(cache_dir),
        memory_bytes: p.size("cache.memory_bytes", c.memory_bytes),
        max_disk_bytes: p.size("cache.max_disk_bytes", c.max_disk_bytes),
        max_disk_entries: {
            let entries = p.take("cache.max_disk_entries", c.max_disk_entries);
            p.in_range("cache.max_disk_entries", entries, 1, 100_000_000) as u64
        },
    };

    let i = raw.images;
    p.unknown("images", &i.unknown);
    let max_width = p.take("images.max_width", i.max_width);
    let max_width = p.in_range("images.max_width", max_width, 1, 16384) as u32;
    let max_height = p.take("images.max_height", i.max_height);
    let max_height = p.in_range("images.max_height", max_height, 1, 16384) as u32;
    let quality = p.take("images.default_quality", i.default_quality);
    let default_quality = p.in_range("images.default_quality", quality, 1, 100) as u8;
    let mut per_format = p.take("images.quality", i.quality);
    let mut format_quality = |name: &str| {
        per_format.remove(name).map_or(default_quality, |q| {
            p.in_range(&format!("images.quality.{name}"), q, 1, 100) as u8
        })
    };
    let qualities = FormatQualities {
        jpeg: format_quality("jpeg"),
        webp: format_quality("webp"),
        avif: format_quality("avif"),
    };
    for name in per_format.keys() {
        p.add(
            "images.quality",
            format!("{name:?} is not a lossy format: jpeg, webp or avif"),
        );
    }
    let fallback = non_empty(p.take("images.fallback", i.fallback));
    if let Some(f) = &fallback {
        if !is_plain_relative(f) {
            p.add(
                "images.fallback",
                "must be a path relative to the source root, without dot components",
            );
        }
    }
    let fallback_status = p.take("images.fallback_status", i.fallback_status);
    if fallback_status != 200 && fallback_status != 404 {
        p.add(
            "images.fallback_status",
            format!("must be 200 or 404, not {fallback_status}"),
        );
    }
    let fallback_cache_control = p.take("images.fallback_cache_control", i.fallback_cache_control);
    if fallback_cache_control.chars().any(|ch| ch.is_control()) {
        p.add(
            "images.fallback_cache_control",
            "must not contain control characters",
        );
    }
    let presets = p.take("images.presets", i.presets);
    for (name, query) in &presets {
        // A preset is a query string a request could have sent, naming no preset or signature.
        match crate::grammar::parse_query(query, max_width, max_height) {
            Err(e) => p.add("images.presets", format!("preset {name:?}: {e}")),
            Ok(params) if params.preset.is_some() || params.signature.is_some() => p.add(
                "images.presets",
                format!("preset {name:?} may not name a preset or a signature"),
            ),
            Ok(_) => {}
        }
    }
    for name in presets.keys() {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            p.add(
                "images.presets",
                format!("preset name {name:?} may only use letters, digits, - and _"),
            );
        }
    }
    let max_source_pixels = p.positive("images.max_source_pixels", i.max_source_pixels);
    let max_frames = p.positive("images.max_frames", i.max_frames);
    let max_animation_pixels = p.positive("images.max_animation_pixels", i.max_animation_pixels);
    let max_avif_pixels = p.positive("images.max_avif_pixels", i.max_avif_pixels);
    let webp_effort = p.take("images.webp_effort", i.webp_effort);
    let avif_speed = p.take("images.avif_speed", i.avif_speed);
    let shrink_on_load = match p.take("images.shrink_on_load", i.shrink_on_load).as_str() {
        "quality" => ShrinkOnLoad::Quality,
        "fast" => ShrinkOnLoad::Fast,
        other => {
            p.add(
                "images.shrink_on_load",
                format!("must be \"quality\" or \"fast\", not {other:?}"),
            );
            ShrinkOnLoad::Quality
        }
    };
    let max_svg_bytes = p.size("images.max_svg_bytes", i.max_svg_bytes);
    if max_svg_bytes == 0 {
        p.add("images.max_svg_bytes", "must be positive");
    }
    let max_svg_nodes = p.positive("images.max_svg_nodes", i.max_svg_nodes);
    let svg_fonts_dir =
        non_empty(p.take("images.svg_fonts_dir", i.svg_fonts_dir)).map(PathBuf::from);
    if let Some(dir) = &svg_fonts_dir {
        if !dir.is_dir() {
            p.add("images.svg_fonts_dir", "is not a directory");
        }
    }
    // Not bounded by max_width: the ladder is capped at it per request, so the default ladder
    // stays valid under a small max_width.
    let srcset_widths = p.sizes("images.srcset_widths", i.srcset_widths, u32::from(u16::MAX));
    if srcset_widths.is_empty() {
        p.add("images.srcset_widths", "must name at least one width");
    }
    let images = ImageSettings {
        default_quality,
        quality: qualities,
        max_width,
        max_height,
        max_source_pixels,
        max_source_bytes: p.size("images.max_source_bytes", i.max_source_bytes),
        max_frames,
        max_animation_pixels,
        fallback,
        fallback_status,
        fallback_cache_control,
        allowed_widths: p.sizes("images.allowed_widths", i.allowed_widths, max_width),
        allowed_heights: p.sizes("images.allowed_heights", i.allowed_heights, max_height),
        snap_to_allowed: p.take("images.snap_to_allowed", i.snap_to_allowed),
        srcset_widths,
        presets,
        presets_only: p.take("images.presets_only", i.presets_only),
        webp_effort: p.in_range("images.webp_effort", webp_effort, 0, 6),
        avif_speed: p.in_range("images.avif_speed", avif_speed, 1, 10),
        max_avif_pixels,
        shrink_on_load,
        svg: SvgSettings {
            max_bytes: max_svg_bytes,
            max_nodes: max_svg_nodes,
            fonts_dir: svg_fonts_dir,
        },
    };

    p.unknown("http", &raw.http.unknown);
    let cache_control = p.take("http.cache_control", raw.http.cache_control);
    if cache_control.chars().any(|ch| ch.is_control()) {
        p.add("http.cache_control", "must not contain control characters");
    }
    let http = HttpSettings { cache_control };

    p.unknown("admin", &raw.admin.unknown);
    let admin = AdminSettings {
        token: p.server_secret("admin.token", raw.admin.token, raw.admin.token_file),
    };

    let l = raw.limits;
    p.unknown("limits", &l.unknown);
    let renders = p.take("limits.max_concurrent_renders", l.max_concurrent_renders);
    let render_timeout = p.duration("limits.render_timeout", l.render_timeout);
    if render_timeout.is_zero() {
        p.add("limits.render_timeout", "must be positive");
    }
    let heavy_render_cost = p.duration("limits.heavy_render_cost", l.heavy_render_cost);
    let limits = LimitSettings {
        max_concurrent_renders: if renders == 0 {
            cores()
        } else {
            p.in_range("limits.max_concurrent_renders", renders, 1, 1024)
        },
        render_queue: p.take("limits.render_queue", l.render_queue),
        render_timeout,
        heavy_render_cost,
        per_ip_per_second: p.take("limits.per_ip_per_second", l.per_ip_per_second),
        per_ip_burst: p.take("limits.per_ip_burst", l.per_ip_burst),
        hit_per_ip_per_second: p.take("limits.hit_per_ip_per_second", l.hit_per_ip_per_second),
        admin_per_minute: p.take("limits.admin_per_minute", l.admin_per_minute),
        source_bytes_in_flight: p.size("limits.source_bytes_in_flight", l.source_bytes_in_flight),
    };
    if limits.source_bytes_in_flight < images.max_source_bytes {
        // Otherwise a source the limits allow could never be read.
        p.add(
            "limits.source_bytes_in_flight",
            "must be at least images.max_source_bytes",
        );
    }

    p.unknown("security", &raw.security.unknown);
    let security = SecuritySettings {
        signing_key: p.server_secret(
            "security.signing_key",
            raw.security.signing_key,
            raw.security.signing_key_file,
        ),
        sign_originals: p.take("security.sign_originals", raw.security.sign_originals),
    };

    p.unknown("webhook", &raw.webhook.unknown);
    let webhook = WebhookSettings {
        secret: p.server_secret(
            "webhook.secret",
            raw.webhook.secret,
            raw.webhook.secret_file,
        ),
    };

    p.unknown("metrics", &raw.metrics.unknown);
    let metrics = MetricsSettings {
        enabled: p.take("metrics.enabled", raw.metrics.enabled),
        allow: p.cidrs("metrics.allow", raw.metrics.allow),
    };

    p.unknown("ui", &raw.ui.unknown);
    let ui = UiSettings {
        enabled: p.take("ui.enabled", raw.ui.enabled),
        require_token: p.take("ui.require_token", raw.ui.require_token),
    };

    p.unknown("log", &raw.log.unknown);
    let level = p.take("log.level", raw.log.level);
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        p.add(
            "log.level",
            format!("{level:?} is not a level or filter such as \"info\""),
        );
    }
    let format = match p.take("log.format", raw.log.format).as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            p.add(
                "log.format",
                format!("must be \"text\" or \"json\", not {other:?}"),
            );
            LogFormat::Text
        }
    };
    let log = LogSettings { level, format };

    if !p.0.is_empty() {
        return Err(p.0);
    }
    Ok(Settings {
        server,
        source,
        cache,
        images,
        http,
        admin,
        limits,
        security,
        webhook,
        metrics,
        ui,
        log,
    })
}
