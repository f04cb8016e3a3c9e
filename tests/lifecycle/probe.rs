//! "Reachable": the app's published ports answer from the host.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::catalog::Endpoint;

const CONNECT: Duration = Duration::from_secs(2);

/// Polls every endpoint until it answers or `deadline` passes.
pub fn wait_reachable(endpoints: &[Endpoint], deadline: Duration) -> Result<(), String> {
    let end = Instant::now() + deadline;
    for endpoint in endpoints {
        loop {
            match answer(endpoint) {
                Ok(()) => break,
                Err(e) if Instant::now() > end => {
                    return Err(format!(
                        "port {} did not answer within {deadline:?}: {e}",
                        endpoint.port
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
    Ok(())
}

fn answer(endpoint: &Endpoint) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], endpoint.port));
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT).map_err(|e| e.to_string())?;
    let Some(path) = &endpoint.http_path else {
        return Ok(());
    };
    stream
        .set_read_timeout(Some(CONNECT))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("GET {path}: {status:?}"))
    }
}
