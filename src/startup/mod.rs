//! Building and running the service: the [`Application`] binds its listener first (so tests can
//! ask for port 0 and learn the port), wires the long-lived services, assembles the HTTP server
//! from actix's parts (with [`long_urls`] reading the socket), and owns the one route table.

mod long_urls;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::error::DispatchError;
use actix_http::HttpService;
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};
use anyhow::Context;

use self::long_urls::LongUrlGuard;

use crate::cache::{VariantCache, WritableProbe};
use crate::config::Settings;
use crate::delivery::{Delivery, SrcsetReply};
use crate::error::AppError;
use crate::git_sync::GitSync;
use crate::limits::{self, RenderAdmission, RenderPool};
use crate::metrics::Metrics;
use crate::middleware::{self, access_log, request_id, Guard};
use crate::routes;
use crate::source::{self, OpenOptions, OpenedSource, RelPath, SourceTree};
use crate::state::AppState;

/// How long a connection may take to close after its response (actix-web's own default).
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Wires the services and binds `server.bind:server.port`; nothing is served until
    /// [`run_until_stopped`](Self::run_until_stopped).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_routes(settings, |_| {}).await
    }

    /// [`build`](Self::build) with `extra` routes registered ahead of the route table, behind
    /// the same middleware: for a test that needs a handler of its own (one that panics, one
    /// that reads a whole body) to prove what the real stack does around it.
    pub async fn build_with_routes(
        settings: Settings,
        extra: fn(&mut web::ServiceConfig),
    ) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let state = web::Data::new(build_state(settings.clone()).await?);
        let listener = TcpListener::bind((settings.server.bind, settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.server.bind, settings.server.port
                )
            })?;
        let addr = listener.local_addr()?;
        let port = addr.port();
        let server_state = state.clone();
        let guard = web::Data::new(Guard::new(&settings, state.metrics.limits().clone()));
        let limits = settings.server.clone();
        let builder = Server::build();
        // Keep-alive connections are closed when a graceful shutdown starts.
        let stopping = builder.graceful_shutdown_signal();
        let server = builder
            .workers(limits.workers)
            .shutdown_timeout(limits.shutdown_timeout.as_secs())
            .shutdown_signal(stop_signal())
            .listen("imgserver", listener, move || {
                let app = App::new()
                    .app_data(server_state.clone())
                    .app_data(guard.clone())
                    .configure(extra)
                    .configure(route_table)
                    // Innermost first: a panicking handler becomes a 500 that still gets the
                    // access log line and the metrics of every other response.
                    .wrap(from_fn(limits::catch_panic))
                    .wrap(from_fn(middleware::guard))
                    .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                    .wrap(from_fn(request_id))
                    .wrap(from_fn(access_log))
                    .wrap(from_fn(middleware::request_metrics));
                let stopping = stopping.clone();
                // What actix-web's `HttpServer` builds, with the socket read through
                // `LongUrlGuard` (URLs too long for actix-http's parser get the JSON 414 too).
                let http = HttpService::build()
                    .graceful_shutdown_signal(move || {
                        let stopping = stopping.clone();
                        async move { stopping.notified().await }
                    })
                    .keep_alive(limits.keep_alive)
                    .client_request_timeout(limits.client_request_timeout)
                    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                    .local_addr(addr)
                    .h1(map_config(app, move |_| AppConfig::default()));
                fn_service(|io: TcpStream| async move {
                    let peer = io.peer_addr().ok();
                    Ok::<_, DispatchError>((LongUrlGuard::new(io), peer))
                })
                .and_then(http)
            })?
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
    let metrics = Arc::new(Metrics::new());
    let (tree, git): (Arc<dyn SourceTree>, _) = match open_source(&settings)? {
        OpenedSource::Folder(tree) => (tree, None),
        OpenedSource::Repository(tree, checkout) => {
            let git = GitSync::new(
                &settings.source.git,
                tree.clone(),
                checkout,
                &cache,
                metrics.git().clone(),
            );
            git.start().await;
            (tree, Some(git))
        }
    };
    let pool = Arc::new(RenderPool::new(
        limits.max_concurrent_renders,
        limits.render_queue,
        limits.render_timeout,
    )?);
    let delivery = Arc::new(Delivery::new(settings.clone(), tree, cache, pool));
    Ok(AppState {
        delivery,
        metrics,
        git,
        cache_probe: WritableProbe::new(&settings.cache.dir),
        settings,
        started: Instant::now(),
    })
}

/// The configured source: the folder, or the repository's checked-out commit.
fn open_source(settings: &Settings) -> anyhow::Result<OpenedSource> {
    let git = &settings.source.git;
    let options = OpenOptions {
        remote: git.remote.as_deref(),
        branch: git.branch.as_deref(),
    };
    source::open(&settings.source.dir, options)
}

/// `imgserver srcset`: what `GET /srcset/{path}?{query}` would answer, with no server running
/// and no sync (a git source is read at its checked-out commit). `path` is the image's path in
/// the source, as written in the tree (not percent-encoded).
pub async fn srcset_offline(
    settings: Settings,
    path: &str,
    query: &str,
) -> Result<SrcsetReply, AppError> {
    let settings = Arc::new(settings);
    let tree: Arc<dyn SourceTree> = match open_source(&settings).map_err(AppError::internal)? {
        OpenedSource::Folder(tree) => tree,
        OpenedSource::Repository(tree, _) => tree,
    };
    // Nothing is rendered: the smallest cache and pool the delivery service can have.
    let cache = Arc::new(VariantCache::new(0));
    let pool = Arc::new(
        RenderPool::new(1, 0, settings.limits.render_timeout).map_err(AppError::internal)?,
    );
    let delivery = Delivery::new(settings.clone(), tree, cache, pool);
    let encoded = RelPath::parse(path)?.url_below("");
    delivery
        .srcset(
            encoded.trim_start_matches('/'),
            query,
            &RenderAdmission::default(),
        )
        .await
}

/// Every route the service answers, each resource with its methods; any other method is a 405
/// (for the control plane, a 404 while it is off, so an unused API cannot be discovered).
pub fn route_table(cfg: &mut web::ServiceConfig) {
    use crate::grammar::{
        ADMIN_PREFIX, API_PREFIX, API_SIGN, CMD_PREFIX, HOOKS_PREFIX, IMG_PREFIX, INFO_PREFIX,
        SRCSET_PREFIX,
    };
    use routes::{admin, api, health, hooks, image, info, metrics, srcset, studio};

    let control = |path: String| web::resource(path).default_service(web::to(admin::wrong_method));
    cfg.service(readable(format!("{IMG_PREFIX}/{{path:.*}}"), image::image))
        .service(open(format!("{INFO_PREFIX}/{{path:.*}}")).route(web::get().to(info::info)))
        // With signing on, a control-plane call (`routes::srcset`).
        .service(open(format!("{SRCSET_PREFIX}/{{path:.*}}")).route(web::get().to(srcset::srcset)))
        .service(readable("/healthz".into(), health::healthz))
        .service(readable("/readyz".into(), health::readyz))
        .service(readable("/metrics".into(), metrics::metrics))
        // The studio page (README "Studio page"); each handler answers 404 when `ui.enabled`
        // is off.
        .service(readable("/".into(), studio::page))
        .service(readable("/ui/{name}".into(), studio::asset))
        .service(open(format!("{API_PREFIX}/status")).route(web::get().to(api::status)))
        .service(open(format!("{API_PREFIX}/tree")).route(web::get().to(api::tree)))
        .service(open(API_SIGN.into()).route(web::post().to(api::sign)))
        // The control plane: every handler passes the gate (`crate::auth::gate`).
        .service(control(format!("{ADMIN_PREFIX}/git/pull")).route(web::post().to(admin::git_pull)))
        .service(
            control(format!("{ADMIN_PREFIX}/git/status")).route(web::get().to(admin::git_status)),
        )
        .service(
            control(format!("{ADMIN_PREFIX}/cache/clear"))
                .route(web::post().to(admin::cache_clear)),
        )
        .service(
            control(format!("{ADMIN_PREFIX}/cache/stats")).route(web::get().to(admin::cache_stats)),
        )
        // goimgserver's commands share the admin token.
        .service(
            control(format!("{CMD_PREFIX}/{{name}}"))
                .route(web::post().to(routes::goimgserver_cmd::command)),
        )
        .service(
            web::resource(format!("{HOOKS_PREFIX}/git"))
                .route(web::post().to(hooks::git))
                .default_service(web::to(hooks::wrong_method)),
        )
        .default_service(web::to(routes::not_found));
}

/// A resource whose other methods are 405.
fn open(path: String) -> actix_web::Resource {
    web::resource(path).default_service(web::to(routes::method_not_allowed))
}

/// A resource read with GET and HEAD, both answered by `handler` (actix drops HEAD's body and
/// keeps its `Content-Length`); other methods are 405.
fn readable<F, Args>(path: String, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    open(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}
