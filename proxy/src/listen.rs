//! Listening addresses settled before the server runs, so the gateway can report where it
//! listens. Pingora binds its listeners only once it runs; a port asked for as 0 is chosen
//! here instead and held by a socket bound to it (with `SO_REUSEPORT`, never listening, so
//! it takes no connections) until the process ends, and Pingora joins it on that port. An
//! address that cannot be bound stops the start here, with the reason.

use std::net::SocketAddr;

use pingora::listeners::TcpSocketOptions;
use pingora::services::listening::Service;
use socket2::{Domain, Protocol, Socket, Type};

/// Where one service listens.
pub struct Listen {
    pub addr: SocketAddr,
    /// The port held for Pingora, when it was chosen here.
    held: Option<Socket>,
}

impl Listen {
    pub fn settle(asked: SocketAddr) -> anyhow::Result<Self> {
        let cannot = |e: std::io::Error| anyhow::anyhow!("cannot listen on {asked}: {e}");
        if asked.port() != 0 {
            // Bound and let go at once: only to refuse an address in use before starting.
            std::net::TcpListener::bind(asked).map_err(cannot)?;
            return Ok(Self {
                addr: asked,
                held: None,
            });
        }
        let socket = Socket::new(
            Domain::for_address(asked),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(cannot)?;
        socket.set_reuse_port(true).map_err(cannot)?;
        socket.bind(&asked.into()).map_err(cannot)?;
        let addr = socket
            .local_addr()
            .map_err(cannot)?
            .as_socket()
            .ok_or_else(|| anyhow::anyhow!("cannot listen on {asked}: not an IP address"))?;
        Ok(Self {
            addr,
            held: Some(socket),
        })
    }

    /// Has `service` listen here.
    pub fn add_to<A>(&self, service: &mut Service<A>) {
        let addr = self.addr.to_string();
        match self.held {
            Some(_) => {
                let mut options = TcpSocketOptions::default();
                options.so_reuseport = Some(true);
                service.add_tcp_with_settings(&addr, options);
            }
            None => service.add_tcp(&addr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_0_is_chosen_and_held_and_a_taken_port_is_refused() {
        let chosen = Listen::settle("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(chosen.addr.port(), 0);
        // Held: a plain listener cannot take it, yet nothing is accepted there meanwhile.
        assert!(std::net::TcpListener::bind(chosen.addr).is_err());
        assert!(std::net::TcpStream::connect(chosen.addr).is_err());

        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = Listen::settle(taken.local_addr().unwrap()).err().unwrap();
        assert!(
            refused.to_string().contains("cannot listen on"),
            "{refused}"
        );
    }
}
