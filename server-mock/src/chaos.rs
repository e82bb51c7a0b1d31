//! Fault injection for tests and demos, seeded and reproducible: fail a
//! request before processing it (503 or a TCP reset), process it and then drop
//! the connection without answering, or add delay; each with a probability.
//!
//! Connection-level faults need the socket, not the response: every accepted
//! connection is wrapped in a [`ChaosStream`] whose [`KillSwitch`] a request
//! can throw; the next write then fails and hyper closes the connection.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use hotich_protocol::wire::{HEARTBEAT_PATH, UPLOAD_PATH};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How a request fails before processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// Answer 503 Service Unavailable with Retry-After: 1.
    #[value(name = "503")]
    Unavailable,
    /// Reset the TCP connection without answering.
    Reset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChaosConfig {
    pub seed: u64,
    /// Probability that a request fails before it is processed.
    pub fail_before: f64,
    pub fail_mode: FailMode,
    /// Probability that a request is processed (and committed) but its
    /// connection is dropped instead of answered.
    pub drop_after_commit: f64,
    /// Probability of an added delay, and its length.
    pub delay: f64,
    pub delay_ms: u64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            seed: 1,
            fail_before: 0.0,
            fail_mode: FailMode::Unavailable,
            drop_after_commit: 0.0,
            delay: 0.0,
            delay_ms: 0,
        }
    }
}

impl ChaosConfig {
    pub fn is_off(&self) -> bool {
        self.fail_before <= 0.0
            && self.drop_after_commit <= 0.0
            && (self.delay <= 0.0 || self.delay_ms == 0)
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, p) in [
            ("--chaos-fail-before", self.fail_before),
            ("--chaos-drop-after-commit", self.drop_after_commit),
            ("--chaos-delay", self.delay),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} is a probability between 0 and 1, not {p}"));
            }
        }
        Ok(())
    }
}

/// Decides faults with a seeded generator, so a run can be replayed.
#[derive(Debug)]
pub struct Chaos {
    pub config: ChaosConfig,
    state: Mutex<u64>,
}

impl Chaos {
    pub fn new(config: ChaosConfig) -> Self {
        Chaos {
            state: Mutex::new(config.seed),
            config,
        }
    }

    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const ALIVE: u8 = 0;
const DROP: u8 = 1;
const RESET: u8 = 2;

/// Thrown by a request to end its connection without an answer.
#[derive(Debug, Default)]
pub struct KillSwitch(AtomicU8);

impl KillSwitch {
    pub fn drop_connection(&self) {
        self.0.store(DROP, Ordering::SeqCst);
    }
    pub fn reset_connection(&self) {
        self.0.store(RESET, Ordering::SeqCst);
    }
    fn state(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A TCP connection that can be killed from inside a request.
#[derive(Debug)]
pub struct ChaosStream {
    inner: TcpStream,
    kill: Arc<KillSwitch>,
}

impl ChaosStream {
    fn check(&self) -> io::Result<()> {
        match self.kill.state() {
            ALIVE => Ok(()),
            RESET => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = self.inner.set_zero_linger();
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "chaos: connection reset",
                ))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "chaos: connection dropped",
            )),
        }
    }
}

impl AsyncRead for ChaosStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChaosStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Gives the kill switch of a connection, under any TLS wrapping.
pub trait Killable {
    fn kill_switch(&self) -> Arc<KillSwitch>;
}

impl Killable for ChaosStream {
    fn kill_switch(&self) -> Arc<KillSwitch> {
        self.kill.clone()
    }
}

impl Killable for tokio_rustls::server::TlsStream<ChaosStream> {
    fn kill_switch(&self) -> Arc<KillSwitch> {
        self.get_ref().0.kill.clone()
    }
}

/// Accepts plain TCP connections wrapped in [`ChaosStream`].
#[derive(Debug)]
pub struct ChaosListener(pub TcpListener);

impl ChaosListener {
    pub fn wrap(stream: TcpStream) -> ChaosStream {
        let _ = stream.set_nodelay(true);
        ChaosStream {
            inner: stream,
            kill: Arc::new(KillSwitch::default()),
        }
    }
}

impl Listener for ChaosListener {
    type Io = ChaosStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => return (Self::wrap(stream), addr),
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Per-connection facts a request can reach: the peer and the kill switch.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub kill: Arc<KillSwitch>,
}

impl ConnInfo {
    fn from_stream<L>(stream: &IncomingStream<'_, L>) -> Self
    where
        L: Listener<Addr = SocketAddr>,
        L::Io: Killable,
    {
        ConnInfo {
            peer: *stream.remote_addr(),
            kill: stream.io().kill_switch(),
        }
    }
}

impl Connected<IncomingStream<'_, ChaosListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, ChaosListener>) -> Self {
        Self::from_stream(&stream)
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self::from_stream(&stream)
    }
}

/// The middleware around the API routes.
pub async fn inject(
    State(chaos): State<Arc<Chaos>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    request: Request,
    next: Next,
) -> Response {
    let c = &chaos.config;
    if c.is_off() {
        return next.run(request).await;
    }
    if c.delay_ms > 0 && chaos.roll(c.delay) {
        tokio::time::sleep(Duration::from_millis(c.delay_ms)).await;
    }
    if chaos.roll(c.fail_before) {
        tracing::debug!(path = %request.uri().path(), mode = ?c.fail_mode, "chaos: failing before processing");
        return match c.fail_mode {
            FailMode::Unavailable => {
                crate::api::ApiError::Unavailable("chaos: injected failure".into()).into_response()
            }
            FailMode::Reset => {
                conn.kill.reset_connection();
                crate::api::ApiError::Unavailable("chaos: reset".into()).into_response()
            }
        };
    }
    // Only requests that commit something can lose their answer "after commit".
    let commits = matches!(request.uri().path(), UPLOAD_PATH | HEARTBEAT_PATH);
    let response = next.run(request).await;
    if commits && response.status().is_success() && chaos.roll(c.drop_after_commit) {
        tracing::debug!("chaos: dropping the connection after processing");
        conn.kill.drop_connection();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let config = ChaosConfig {
            seed: 42,
            fail_before: 0.2,
            ..ChaosConfig::default()
        };
        let a = Chaos::new(config.clone());
        let b = Chaos::new(config);
        let ra: Vec<bool> = (0..1000).map(|_| a.roll(0.2)).collect();
        let rb: Vec<bool> = (0..1000).map(|_| b.roll(0.2)).collect();
        assert_eq!(ra, rb);
        let hits = ra.iter().filter(|x| **x).count();
        assert!((150..250).contains(&hits), "{hits}");
    }
}
