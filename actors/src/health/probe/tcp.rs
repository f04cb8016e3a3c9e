//! tcp probe: the published port accepts a connection.

use std::net::SocketAddr;

use tokio::net::TcpStream;

pub async fn connect(addr: SocketAddr) -> Result<(), String> {
    TcpStream::connect(addr)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}
