//! A logging proxy on the engine's unix socket: every HTTP request line a
//! client sends is recorded, so a bench can count the engine calls a
//! reconcile pass or a `docker-compose up` makes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

#[derive(Clone)]
pub struct CountingProxy {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

const METHODS: [&str; 5] = ["GET ", "POST ", "PUT ", "DELETE ", "HEAD "];

impl CountingProxy {
    /// Listens on `socket`, forwarding to `engine`.
    pub fn start(socket: &Path, engine: &Path) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket)?;
        let proxy = CountingProxy {
            socket: socket.to_path_buf(),
            requests: Arc::default(),
        };
        let (engine, log) = (engine.to_path_buf(), proxy.requests.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, engine.clone(), log.clone()));
            }
        });
        Ok(proxy)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Requests seen so far; a mark for [`Self::since`].
    pub fn mark(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Request lines ("GET /v1.41/containers/json?...") since `mark`.
    pub fn since(&self, mark: usize) -> Vec<String> {
        self.requests.lock().unwrap()[mark..].to_vec()
    }
}

async fn forward(client: UnixStream, engine: PathBuf, log: Arc<Mutex<Vec<String>>>) {
    let Ok(upstream) = UnixStream::connect(&engine).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut upstream_rx, mut upstream_tx) = upstream.into_split();
    let requests = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            record_request_lines(&buf[..n], &log);
            if upstream_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = upstream_tx.shutdown().await;
    };
    let responses = async move {
        let _ = tokio::io::copy(&mut upstream_rx, &mut client_tx).await;
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(requests, responses);
}

/// A request line starts a line and reads "<METHOD> <path> HTTP/1.x"; JSON
/// bodies never contain one.
fn record_request_lines(chunk: &[u8], log: &Mutex<Vec<String>>) {
    let text = String::from_utf8_lossy(chunk);
    for line in text.split("\r\n") {
        if METHODS.iter().any(|m| line.starts_with(m)) && line.ends_with("HTTP/1.1") {
            log.lock()
                .unwrap()
                .push(line.trim_end_matches(" HTTP/1.1").to_string());
        }
    }
}
