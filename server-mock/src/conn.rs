//! How connections are accepted and served: every TCP connection (plain, or
//! under TLS) is a [`ConnStream`] that a request can end from the inside
//! through its [`KillSwitch`] (fault injection drops or resets a connection
//! that way; a handler reaches it through [`ConnInfo`]). [`serve`] is the
//! accept loop: at most [`ConnLimits::max_connections`] at once, and a
//! client must send a request's headers within [`ConnLimits::header_timeout`]
//! (which also ends idle keep-alive connections), so a crowd of silent or
//! half-speaking clients cannot hold the server. Slow bodies are the API's
//! concern (`api::read_body`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

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
pub struct ConnStream {
    inner: TcpStream,
    kill: Arc<KillSwitch>,
}

impl ConnStream {
    pub fn new(stream: TcpStream) -> ConnStream {
        let _ = stream.set_nodelay(true);
        ConnStream {
            inner: stream,
            kill: Arc::new(KillSwitch::default()),
        }
    }

    fn check(&self) -> io::Result<()> {
        match self.kill.state() {
            ALIVE => Ok(()),
            RESET => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = self.inner.set_zero_linger();
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset on request",
                ))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "connection dropped on request",
            )),
        }
    }
}

impl AsyncRead for ConnStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnStream {
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

impl Killable for ConnStream {
    fn kill_switch(&self) -> Arc<KillSwitch> {
        self.kill.clone()
    }
}

impl Killable for tokio_rustls::server::TlsStream<ConnStream> {
    fn kill_switch(&self) -> Arc<KillSwitch> {
        self.get_ref().0.kill.clone()
    }
}

/// Accepts plain TCP connections as [`ConnStream`]s.
#[derive(Debug)]
pub struct PlainListener(pub TcpListener);

impl Listener for PlainListener {
    type Io = ConnStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => return (ConnStream::new(stream), addr),
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// How long to wait after a failed accept (e.g. out of file descriptors).
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Per-connection facts a request can reach: the peer and the kill switch.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub kill: Arc<KillSwitch>,
}

/// Limits of the connection layer.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections at most; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// A request's headers must arrive within this; an idle keep-alive
    /// connection is closed after it.
    pub header_timeout: Duration,
    /// On shutdown, requests in flight get this long to finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(20),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (up to [`ConnLimits::shutdown_grace`]).
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) where
    L: Listener<Addr = SocketAddr>,
    L::Io: Killable + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let info = ConnInfo {
            peer,
            kill: io.kill_switch(),
        };
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(info.clone()));
                    request.map(axum::body::Body::new)
                });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at shutdown were cut off");
    }
}
