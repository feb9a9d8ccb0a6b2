//! The `imgserver` binary: flags, configuration, logging, then the application.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imgserver::config::{ConfigError, LoadOptions, Settings};
use imgserver::startup::Application;

/// Serves the images of a folder or git repository, resized and converted on the fly.
#[derive(Debug, Parser)]
#[command(name = "imgserver", version, about)]
struct Cli {
    /// Configuration file (TOML); see config/default.toml for every key.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (server.bind).
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<String>,
    /// Port to listen on (server.port).
    #[arg(long, global = true, value_name = "N")]
    port: Option<u16>,
    /// Folder of images to serve (source.dir).
    #[arg(long, global = true, value_name = "DIR")]
    imagesdir: Option<PathBuf>,
    /// Folder of the disk cache (cache.dir).
    #[arg(long, global = true, value_name = "DIR")]
    cachedir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration and print the effective settings, secrets masked.
    CheckConfig,
    /// Ask the running server's /healthz (at server.bind:server.port); exit 0 only on 200.
    Healthcheck,
    /// Print URL with its signature `s` (security.signing_key), for embedding in pages.
    Sign {
        /// `https://host/img/...?...` or `/img/...?...`, exactly as it will be requested.
        url: String,
    },
    /// Validate every folder's `.imgserver.toml` under DIR (default: the current folder), for
    /// the images repository's CI; exit 2 when one would be ignored or names a missing file.
    /// Needs no configuration.
    CheckSource {
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the `<picture>` element (or with --json the data) that GET /srcset/PATH?PARAMS
    /// answers, with no server running: for static site generators at build time.
    Srcset {
        /// Print the JSON instead of the HTML.
        #[arg(long)]
        json: bool,
        /// The image's path in the source folder, e.g. `photos/cat.jpg`.
        #[arg(value_name = "PATH")]
        path: String,
        /// The query, as after `?` in /srcset/PATH?...: `w=400&h=300&widths=320,640&sizes=50vw`.
        #[arg(value_name = "PARAMS", default_value = "")]
        params: String,
    },
}

/// `check-source`: every problem on stderr as `file:line: message`.
fn check_source(dir: &std::path::Path) -> ExitCode {
    match imgserver::source::metadata::check_tree(dir) {
        Ok((files, problems)) if problems.is_empty() => {
            println!(
                "{files} metadata file(s) under {}: all valid",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Ok((files, problems)) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!(
                "imgserver: {} problem(s) in {files} metadata file(s)",
                problems.len()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("imgserver: cannot read {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

/// `srcset`: the markup on stdout; a refusal on stderr with its code, exit 2.
fn srcset(settings: Settings, path: &str, params: &str, json: bool) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let reply = match runtime {
        Ok(rt) => rt.block_on(imgserver::startup::srcset_offline(settings, path, params)),
        Err(e) => {
            eprintln!("imgserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match reply {
        Ok(reply) if json => match serde_json::to_string_pretty(&reply) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("imgserver: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(reply) => {
            print!("{}", reply.to_html());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("imgserver: {}: {}", e.code.as_str(), e.message);
            ExitCode::from(2)
        }
    }
}

impl Cli {
    fn load_options(&self) -> LoadOptions {
        let mut overrides = Vec::new();
        if let Some(bind) = &self.bind {
            overrides.push(("server.bind".to_string(), bind.clone()));
        }
        if let Some(port) = self.port {
            overrides.push(("server.port".to_string(), port.to_string()));
        }
        if let Some(dir) = &self.imagesdir {
            overrides.push(("source.dir".to_string(), dir.display().to_string()));
        }
        if let Some(dir) = &self.cachedir {
            overrides.push(("cache.dir".to_string(), dir.display().to_string()));
        }
        LoadOptions {
            file: self.config.clone(),
            environment: true,
            overrides,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::CheckSource { dir }) = &cli.command {
        return check_source(dir.as_deref().unwrap_or(std::path::Path::new(".")));
    }
    let settings = match Settings::load(&cli.load_options()) {
        Ok(s) => s,
        Err(e @ (ConfigError::Invalid(_) | ConfigError::Read(_))) => {
            eprintln!("imgserver: {e}");
            return ExitCode::from(2);
        }
    };
    match &cli.command {
        Some(Command::CheckConfig) => {
            println!("{}", settings.to_masked_toml());
            return ExitCode::SUCCESS;
        }
        Some(Command::Healthcheck) => {
            let target = imgserver::healthcheck::target(&settings);
            return match imgserver::healthcheck::check(target) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("imgserver: unhealthy: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Sign { url }) => {
            return match imgserver::signing::sign_url_with(&settings.security, url) {
                Ok(signed) => {
                    println!("{signed}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imgserver: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Srcset { json, path, params }) => {
            return srcset(settings, path, params, *json);
        }
        Some(Command::CheckSource { .. }) | None => {}
    }
    imgserver::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imgserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "imgserver stopped");
            eprintln!("imgserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}
