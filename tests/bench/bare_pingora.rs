//! Baselines for the benchmarks: a Pingora server whose `ProxyHttp` only picks the one
//! upstream peer, or only answers `200 ok` itself, with one worker thread, like linkgate's.
//!
//! `bare-pingora LISTEN UPSTREAM` (passthrough) or `bare-pingora LISTEN --answer`.

use std::net::SocketAddr;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};

struct Passthrough {
    /// `None`: answer locally.
    upstream: Option<SocketAddr>,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> pingora::Result<bool> {
        if self.upstream.is_some() {
            return Ok(false);
        }
        let mut header = ResponseHeader::build(200, Some(1))?;
        header.insert_header("content-length", "2")?;
        session
            .write_response_header(Box::new(header), false)
            .await?;
        session
            .write_response_body(Some(Bytes::from_static(b"ok")), true)
            .await?;
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        let upstream = self.upstream.expect("only called when proxying");
        Ok(Box::new(HttpPeer::new(upstream, false, String::new())))
    }
}

/// The gateway's allocator, so that the baseline differs from it only in what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-pingora LISTEN (UPSTREAM | --answer)");
        std::process::exit(2);
    };
    let upstream = (upstream != "--answer").then(|| upstream.parse().expect("UPSTREAM is ip:port"));
    let conf = ServerConf {
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy =
        pingora::proxy::http_proxy_service(&server.configuration, Passthrough { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run(RunArgs::default());
}
