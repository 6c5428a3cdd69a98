//! A tiny authoritative DNS server on 127.0.0.1 (UDP), answering A queries with what the
//! test sets, so tests can change an origin's address and its TTL.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

#[derive(Clone)]
struct Zone {
    addrs: Vec<Ipv4Addr>,
    ttl: u32,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    /// Answers every A query with `addrs` and `ttl`.
    pub async fn start(addrs: Vec<Ipv4Addr>, ttl: u32) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let addr = socket.local_addr().expect("DNS address");
        let zone = Arc::new(Mutex::new(Zone { addrs, ttl }));
        let queries = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(socket, zone.clone(), queries.clone()));
        Self {
            addr,
            zone,
            queries,
            task,
        }
    }

    pub async fn set(&self, addrs: Vec<Ipv4Addr>, ttl: u32) {
        *self.zone.lock().await = Zone { addrs, ttl };
    }

    /// A queries answered so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>, queries: Arc<AtomicUsize>) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let Ok(query) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        response.metadata.authoritative = true;
        let zone = zone.lock().await.clone();
        for q in &query.queries {
            response.add_query(q.clone());
            if q.query_type() == RecordType::A {
                queries.fetch_add(1, Ordering::SeqCst);
                for ip in &zone.addrs {
                    response.add_answer(Record::from_rdata(
                        q.name().clone(),
                        zone.ttl,
                        RData::A(A(*ip)),
                    ));
                }
            }
        }
        if let Ok(bytes) = response.to_vec() {
            socket.send_to(&bytes, from).await.ok();
        }
    }
}
