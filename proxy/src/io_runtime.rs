//! A runtime of its own for a backend's connections (the API server, the database): its
//! tasks keep running whatever Pingora's runtimes do, and a write started on it completes
//! even when the request that asked for it goes away.

use tokio::runtime::Handle;

/// Starts a one-worker runtime on a thread that lives as long as the process.
pub fn start(name: &str) -> std::io::Result<Handle> {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = format!("{name}-io");
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(worker)
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    let _ = tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })?;
    rx.recv().map_err(std::io::Error::other)?
}
