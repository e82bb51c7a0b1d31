//! How connections are accepted: every TCP connection (plain, or under TLS)
//! is a [`ConnStream`] that a request can end from the inside through its
//! [`KillSwitch`]. Fault injection uses that to drop or reset a connection
//! without answering; a handler reaches it through [`ConnInfo`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

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

impl ConnInfo {
    /// For a listener's `Connected` impl (a generic one would overlap axum's own).
    pub fn from_stream<L>(stream: &IncomingStream<'_, L>) -> Self
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

impl Connected<IncomingStream<'_, PlainListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        Self::from_stream(&stream)
    }
}
