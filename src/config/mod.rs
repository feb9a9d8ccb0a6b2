//! Typed settings, loaded once at start from layers (built-in defaults, `--config` file,
//! `IMGSERVER__SECTION__KEY` environment, command-line overrides) and validated in one pass that
//! reports every problem together. Nothing else in the crate reads configuration sources.

mod raw;
mod remote_url;
mod secret;
mod ssh_key;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

pub use remote_url::display_url;
pub use secret::{Secret, MIN_SECRET_BYTES};

use crate::pipeline::{ImageFormat, PipelineSettings, ShrinkOnLoad, SvgSettings};

/// The defaults layer: `config/default.toml`, which documents every key.
pub const DEFAULTS_TOML: &str = include_str!("../../config/default.toml");

/// Where settings come from, beyond the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A TOML file (`--config`).
    pub file: Option<PathBuf>,
    /// Read `IMGSERVER__SECTION__KEY` variables (off in tests, so the caller's shell cannot leak in).
    pub environment: bool,
    /// Highest-priority `("section.key", value)` pairs, from command-line flags or tests.
    pub overrides: Vec<(String, String)>,
}

impl LoadOptions {
    /// Defaults plus the given overrides only: what tests use.
    pub fn with_overrides<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            file: None,
            environment: false,
            overrides: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Read(String),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub source: SourceSettings,
    pub cache: CacheSettings,
    pub images: ImageSettings,
    pub http: HttpSettings,
    pub admin: AdminSettings,
    pub limits: LimitSettings,
    pub security: SecuritySettings,
    pub webhook: WebhookSettings,
    pub metrics: MetricsSettings,
    pub ui: UiSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSettings {
    pub bind: IpAddr,
    pub port: u16,
    /// Resolved: never 0.
    pub workers: usize,
    pub trusted_proxies: Vec<IpNet>,
    #[serde(with = "humantime_text")]
    pub shutdown_timeout: Duration,
    #[serde(with = "humantime_text")]
    pub keep_alive: Duration,
    #[serde(with = "humantime_text")]
    pub client_request_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceSettings {
    pub dir: PathBuf,
    pub git: GitSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDiverge {
    Reset,
    Refuse,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitSettings {
    /// Printed without the credentials a URL may carry (`https://user:token@host/...`).
    #[serde(serialize_with = "remote_without_credentials")]
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    pub ssh_key: Option<PathBuf>,
    /// OpenSSH known-hosts file the remote's SSH host key must be in; `None`: the service
    /// user's `~/.ssh/known_hosts` (libgit2's own check).
    pub known_hosts: Option<PathBuf>,
    #[serde(with = "humantime_text")]
    pub timeout: Duration,
    #[serde(with = "humantime_option")]
    pub sync_interval: Option<Duration>,
    pub on_diverge: OnDiverge,
    /// Commits of history the first fetch brings (`source.git.depth`); `None`: all of it.
    pub depth: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheSettings {
    pub dir: PathBuf,
    pub memory_bytes: u64,
    pub max_disk_bytes: u64,
    pub max_disk_entries: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageSettings {
    pub default_quality: u8,
    /// `images.quality.<format>`, each falling back to `default_quality`.
    pub quality: FormatQualities,
    pub max_width: u32,
    pub max_height: u32,
    pub max_source_pixels: u64,
    pub max_source_bytes: u64,
    pub max_frames: u32,
    pub max_animation_pixels: u64,
    /// Relative to the source root, already checked to be a plain relative path.
    pub fallback: Option<String>,
    pub fallback_status: u16,
    /// `Cache-Control` of a fallback response (never the long `http.cache_control`).
    pub fallback_cache_control: String,
    /// Sorted ascending, no duplicates.
    pub allowed_widths: Vec<u32>,
    pub allowed_heights: Vec<u32>,
    pub snap_to_allowed: bool,
    /// The widths `/srcset` offers when `allowed_widths` is empty; sorted, no duplicates.
    pub srcset_widths: Vec<u32>,
    /// Preset name → query string.
    pub presets: BTreeMap<String, String>,
    pub presets_only: bool,
    pub webp_effort: u8,
    pub avif_speed: u8,
    /// Largest AVIF output area (width x height); beyond it 400 `invalid_parameter`.
    pub max_avif_pixels: u64,
    pub shrink_on_load: ShrinkOnLoad,
    /// `images.max_svg_bytes`, `images.max_svg_nodes`, `images.svg_fonts_dir`.
    pub svg: SvgSettings,
}

/// The default quality of each lossy output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormatQualities {
    pub jpeg: u8,
    pub webp: u8,
    pub avif: u8,
}

impl ImageSettings {
    /// The quality a request without `q` gets in `format` (the lossless formats ignore it).
    pub fn quality_for(&self, format: ImageFormat) -> u8 {
        match format {
            ImageFormat::Jpeg => self.quality.jpeg,
            ImageFormat::Webp => self.quality.webp,
            ImageFormat::Avif => self.quality.avif,
            ImageFormat::Png | ImageFormat::Gif | ImageFormat::Svg => self.default_quality,
        }
    }

    pub fn pipeline_settings(&self) -> PipelineSettings {
        PipelineSettings {
            max_width: self.max_width,
            max_height: self.max_height,
            max_source_pixels: self.max_source_pixels,
            max_source_bytes: self.max_source_bytes,
            max_frames: self.max_frames,
            max_animation_pixels: self.max_animation_pixels,
            webp_method: self.webp_effort,
            avif_speed: self.avif_speed,
            max_avif_pixels: self.max_avif_pixels,
            shrink_on_load: self.shrink_on_load,
            svg: self.svg.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpSettings {
    pub cache_control: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdminSettings {
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitSettings {
    /// Resolved: never 0.
    pub max_concurrent_renders: usize,
    pub render_queue: usize,
    #[serde(with = "humantime_text")]
    pub render_timeout: Duration,
    /// Renders estimated to take more single-core CPU time than this are heavy: they get at
    /// most half of the render threads, and one client runs one at a time.
    #[serde(with = "humantime_text")]
    pub heavy_render_cost: Duration,
    /// 0 disables each limiter.
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
    pub hit_per_ip_per_second: u32,
    pub admin_per_minute: u32,
    /// Source bytes held in memory across all requests; past it requests wait, then 503.
    pub source_bytes_in_flight: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecuritySettings {
    pub signing_key: Option<Secret>,
    pub sign_originals: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookSettings {
    pub secret: Option<Secret>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub allow: Vec<IpNet>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UiSettings {
    pub enabled: bool,
    pub require_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Settings {
    /// Loads and validates the layers named by `options`.
    pub fn load(options: &LoadOptions) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULTS_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(file) = &options.file {
            if !file.is_file() {
                return Err(ConfigError::Read(format!(
                    "{} is not a readable file",
                    file.display()
                )));
            }
            builder = builder
                .add_source(config::File::from(file.as_path()).format(config::FileFormat::Toml));
        }
        if options.environment {
            builder = builder.add_source(
                config::Environment::with_prefix("IMGSERVER")
                    .prefix_separator("__")
                    .separator("__"),
            );
        }
        for (key, value) in &options.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| ConfigError::Read(e.to_string()))?;
        }
        let raw: raw::RawSettings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Read(e.to_string()))?;
        validate::validate(raw).map_err(ConfigError::Invalid)
    }

    /// The effective configuration as TOML, secrets masked (for `check-config`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}"))
    }
}

fn remote_without_credentials<S: serde::Serializer>(
    remote: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match remote {
        Some(url) => s.serialize_str(&display_url(url)),
        None => s.serialize_none(),
    }
}

/// Serializes durations back into the "10s" form they are written in.
mod humantime_text {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

mod humantime_option {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_str("off"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_settings_reach_the_pipeline() {
        let load = |mode: &str| {
            Settings::load(&LoadOptions::with_overrides([
                ("images.shrink_on_load", mode),
                ("images.webp_effort", "2"),
            ]))
            .unwrap()
            .images
            .pipeline_settings()
        };
        assert_eq!(load("fast").shrink_on_load, ShrinkOnLoad::Fast);
        assert_eq!(load("quality").shrink_on_load, ShrinkOnLoad::Quality);
        assert_eq!(load("fast").webp_method, 2);
    }

    #[test]
    fn svg_settings_reach_the_pipeline() {
        let load = |overrides: &[(&str, &str)]| {
            Settings::load(&LoadOptions::with_overrides(overrides.iter().copied()))
                .map(|s| s.images.pipeline_settings().svg)
        };
        let defaults = load(&[]).unwrap();
        assert_eq!(defaults, SvgSettings::default());
        assert_eq!(defaults.max_bytes, 2 * 1024 * 1024);
        let dir = std::env::temp_dir();
        let set = load(&[
            ("images.max_svg_bytes", "64KiB"),
            ("images.max_svg_nodes", "10"),
            ("images.svg_fonts_dir", dir.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(
            (set.max_bytes, set.max_nodes, set.fonts_dir),
            (64 * 1024, 10, Some(dir))
        );
        for (key, value) in [
            ("images.svg_fonts_dir", "/no/such/fonts"),
            ("images.max_svg_nodes", "0"),
            ("images.max_svg_bytes", "0"),
        ] {
            let refused = format!("{:#}", load(&[(key, value)]).unwrap_err());
            assert!(refused.contains(key), "{refused}");
        }
    }

    #[test]
    fn the_source_budget_holds_at_least_one_source() {
        let load = |budget: &str| {
            Settings::load(&LoadOptions::with_overrides([
                ("limits.source_bytes_in_flight", budget),
                ("images.max_source_bytes", "8MiB"),
            ]))
        };
        assert_eq!(
            load("8MiB").unwrap().limits.source_bytes_in_flight,
            8 * 1024 * 1024
        );
        let refused = format!("{:#}", load("4MiB").unwrap_err());
        assert!(
            refused.contains("limits.source_bytes_in_flight"),
            "{refused}"
        );
        let defaults = Settings::load(&LoadOptions::with_overrides(Vec::<(String, String)>::new()));
        assert_eq!(
            defaults.unwrap().limits.source_bytes_in_flight,
            256 * 1024 * 1024
        );
    }
}
