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

use crate::cache::VariantCache;
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::limits::{self, Guard, RenderPool};
use crate::middleware::{access_log, request_id};
use crate::routes;
use crate::source::DirTree;
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
        let state = web::Data::new(build_state(settings.clone())?);
        let listener = TcpListener::bind((settings.server.bind, settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.server.bind, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let server_state = state.clone();
        let guard = web::Data::new(Guard::new(&settings));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(server_state.clone())
                .app_data(guard.clone())
                .configure(route_table)
                .wrap(from_fn(limits::guard))
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .wrap(from_fn(request_id))
                .wrap(from_fn(access_log))
                .wrap(from_fn(limits::catch_panic))
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

fn build_state(settings: Arc<Settings>) -> anyhow::Result<AppState> {
    let source = Arc::new(DirTree::open(&settings.source.dir)?);
    let cache = Arc::new(VariantCache::new(settings.cache.memory_bytes));
    let limits = &settings.limits;
    let pool = Arc::new(RenderPool::new(
        limits.max_concurrent_renders,
        limits.render_queue,
        limits.render_timeout,
    )?);
    let delivery = Arc::new(Delivery::new(settings.clone(), source, cache, pool));
    Ok(AppState {
        settings,
        delivery,
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
    .default_service(web::to(routes::not_found));
}
