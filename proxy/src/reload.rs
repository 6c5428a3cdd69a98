//! The configuration file watched: reloaded when it changes or on SIGHUP, and served live.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;
use crate::edge::Live;
use crate::metrics::Metrics;

/// How often the configuration file is checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Reloads the configuration file when it changes or on SIGHUP. A file that does not load
/// is refused with a log line and the running configuration keeps serving.
pub struct Reloader {
    pub path: PathBuf,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
}

impl Reloader {
    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    fn reload(&self, why: &str) {
        match Config::load(&self.path) {
            Ok(config) => {
                self.live.serve(config.requestors);
                self.metrics.config_reload(true);
                tracing::info!(path = %self.path.display(), why, "configuration reloaded");
            }
            Err(e) => {
                self.metrics.config_reload(false);
                tracing::error!(error = %e, why, "configuration refused; the previous one keeps serving");
            }
        }
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => Some(hangup),
            Err(e) => {
                tracing::warn!(error = %e, "SIGHUP reloads are unavailable");
                None
            }
        };
        let mut seen = self.modified();
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => {
                    seen = self.modified();
                    self.reload("SIGHUP");
                }
                _ = tick.tick() => {
                    let now = self.modified();
                    if now != seen {
                        seen = now;
                        self.reload("file changed");
                    }
                }
            }
        }
    }
}
