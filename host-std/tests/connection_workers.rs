//! Connection workers (`mcpauth::conn_workers`): every request of a
//! keep-alive connection is served on the same worker thread, new
//! connections go to the worker holding the fewest, and work a request
//! spawns (a task, `spawn_blocking`) runs beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mcpauth::server::{Handler, Reply, ServerOptions, serve};
use mcpauth_core::http::{Request, Response};
use tokio::net::TcpStream;

mod common;

/// Answers with the name of the thread that serves the request; `/spawn`
/// also runs a task and a blocking closure and names their threads.
struct ThreadName;

fn current() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

impl Handler for ThreadName {
    async fn reply(&self, req: Request) -> Reply {
        let mut names = vec![current()];
        if req.path == "/spawn" {
            names.push(tokio::spawn(async { current() }).await.expect("task"));
            names.push(
                tokio::task::spawn_blocking(|| {
                    // The blocking pool's threads belong to the worker's
                    // runtime: it is the current one here.
                    let _ = tokio::runtime::Handle::current();
                    "blocking".to_owned()
                })
                .await
                .expect("blocking"),
            );
        }
        Reply::Whole(Response::json(200, names.join(",")))
    }
}

async fn start(workers: usize) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let options = ServerOptions {
        connection_workers: workers,
        ..ServerOptions::default()
    };
    tokio::spawn(serve(listener, ThreadName, options, std::future::pending()));
    addr
}

/// One request on a keep-alive connection; the answer's body.
async fn ask(s: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = common::exchange(s, &req).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_stays_on_one_worker_and_connections_are_spread() {
    let addr = start(2).await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut served_by = BTreeMap::new();
    for (i, s) in conns.iter_mut().enumerate() {
        let first = ask(s, "/").await;
        assert!(first.starts_with("mcpauth-conn-"), "{first}");
        for _ in 0..20 {
            assert_eq!(ask(s, "/").await, first, "connection {i} moved");
        }
        served_by.insert(i, first);
    }
    // Opened one after another, each held open: the fewest-held worker
    // takes the next, so both workers serve two.
    let workers: BTreeSet<_> = served_by.values().collect();
    assert_eq!(workers.len(), 2, "{served_by:?}");
    for w in &workers {
        assert_eq!(served_by.values().filter(|v| v == w).count(), 2);
    }
    // A task spawned by a request runs on the same worker.
    let spawned = ask(&mut conns[0], "/spawn").await;
    let names: Vec<&str> = spawned.split(',').collect();
    assert_eq!(
        names,
        [served_by[&0].as_str(), served_by[&0].as_str(), "blocking"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_frees_its_place_on_its_worker() {
    let addr = start(2).await;
    let mut a = TcpStream::connect(addr).await.expect("connect");
    let x = ask(&mut a, "/").await;
    let mut b = TcpStream::connect(addr).await.expect("connect");
    let y = ask(&mut b, "/").await;
    assert_ne!(x, y, "the second connection goes to the idle worker");
    let mut c = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(ask(&mut c, "/").await, x, "a tie goes to the first worker");
    // x holds two, y one. Once the server has seen both of x's close,
    // x holds none: the next connection is x's. (Had they not freed their
    // places, it would go to y.)
    drop((a, c));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut d = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(ask(&mut d, "/").await, x);
    assert_eq!(ask(&mut b, "/").await, y);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_workers_serve_on_the_callers_runtime() {
    let addr = start(0).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let name = ask(&mut s, "/").await;
    assert!(!name.starts_with("mcpauth-conn-"), "{name}");
}
