//! Building and running the service: the [`Application`] binds its listener first (so tests can
//! ask for port 0 and learn the port), wires the long-lived services, and owns the one route
//! table.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::cache::{VariantCache, WritableProbe};
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::limits::{self, Guard, RenderPool};
use crate::metrics::{self, Metrics};
use crate::middleware::{access_log, request_id};
use crate::routes;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Wires the services and binds `server.bind:server.port`; nothing is served until
    /// [`run_until_stopped`](Self::run_until_stopped).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let state = web::Data::new(build_state(settings.clone()).await?);
        let listener = TcpListener::bind((settings.server.bind, settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.server.bind, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let server_state = state.clone();
        let guard = web::Data::new(Guard::new(&settings, state.metrics.limits().clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(server_state.clone())
                .app_data(guard.clone())
                .configure(route_table)
                // Innermost first: a panicking handler becomes a 500 that still gets the
                // headers, the access log line and the metrics of every other response.
                .wrap(from_fn(limits::catch_panic))
                .wrap(from_fn(limits::guard))
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(from_fn(request_id))
                .wrap(from_fn(access_log))
                .wrap(from_fn(metrics::request_metrics))
        })
        .workers(settings.server.workers)
        .keep_alive(settings.server.keep_alive)
        .client_request_timeout(settings.server.client_request_timeout)
        .shutdown_timeout(settings.server.shutdown_timeout.as_secs())
        .shutdown_signal(stop_signal())
        .listen(listener)?
        .run();
        tracing::info!(port, "listening");
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests that inspect counters.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// SIGTERM or SIGINT: stop accepting, let in-flight requests finish within
/// `server.shutdown_timeout`, then stop.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for stop signals");
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "stopping: finishing in-flight requests");
}

async fn build_state(settings: Arc<Settings>) -> anyhow::Result<AppState> {
    let limits = &settings.limits;
    let cache = Arc::new(VariantCache::open(&settings.cache, limits.render_timeout));
    let metrics = Arc::new(Metrics::new(&settings));
    let source = crate::git_sync::open_source(&settings, &cache, metrics.git().clone())?;
    if let Some(git) = &source.git {
        git.start().await;
    }
    let pool = Arc::new(RenderPool::new(
        limits.max_concurrent_renders,
        limits.render_queue,
        limits.render_timeout,
    )?);
    let delivery = Arc::new(Delivery::new(settings.clone(), source.tree, cache, pool));
    Ok(AppState {
        delivery,
        metrics,
        git: source.git,
        cache_probe: WritableProbe::new(&settings.cache.dir),
        settings,
        started: Instant::now(),
    })
}

/// Every route the service answers.
pub fn route_table(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/img/{path:.*}")
            .route(web::get().to(routes::image::image))
            .route(web::head().to(routes::image::image))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/info/{path:.*}")
            .route(web::get().to(routes::info::info))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(routes::health::healthz))
            .route(web::head().to(routes::health::healthz))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(routes::health::readyz))
            .route(web::head().to(routes::health::readyz))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics::metrics))
            .route(web::head().to(metrics::metrics))
            .default_service(web::to(routes::method_not_allowed)),
    )
    // The studio page (README "Studio page"); each handler answers 404 when `ui.enabled` is off.
    .service(
        web::resource("/")
            .route(web::get().to(crate::ui::assets::page))
            .route(web::head().to(crate::ui::assets::page))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/ui/{name}")
            .route(web::get().to(crate::ui::assets::asset))
            .route(web::head().to(crate::ui::assets::asset))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/api/status")
            .route(web::get().to(routes::api::status))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/api/tree")
            .route(web::get().to(routes::api::tree))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .service(
        web::resource("/api/sign")
            .route(web::post().to(routes::api::sign))
            .default_service(web::to(routes::method_not_allowed)),
    )
    .configure(routes::admin::configure)
    .configure(routes::hooks::configure)
    .default_service(web::to(routes::not_found));
}
