//! A fault-injecting TCP proxy, for putting a bad link between an agent and
//! the server: cut connections after N bytes, reset them, blackhole them
//! (accept and never answer), throttle, add latency. The mode can be switched
//! while a test runs; it applies to open connections as well as new ones.
//! The upstream can be switched too, as a load balancer failing over would:
//! new connections go to the new server and open ones are cut.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Close each connection after about this many bytes (both directions
    /// together), mid-stream. `jitter` adds up to that many bytes at random.
    CutAfter { bytes: u64, jitter: u64 },
    /// Reset every connection (RST), open or new.
    Reset,
    /// A link that went silent (packets dropped, no reset): connections are
    /// accepted but nothing gets through; what was sent is delivered if the
    /// link comes back, as TCP retransmission would.
    Blackhole,
    /// At most this many bytes per second in each direction.
    Throttle { bytes_per_sec: u64 },
    /// Delay every chunk this long.
    Latency(Duration),
    /// A slow link that also drops: at most `bytes_per_sec` each way, and
    /// each connection closed after `cut_after` bytes.
    ThrottledCut { bytes_per_sec: u64, cut_after: u64 },
}

#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes from the client (agent) towards the server.
    pub up: AtomicU64,
    /// Bytes from the server towards the client.
    pub down: AtomicU64,
    pub connections: AtomicU64,
}

/// A running proxy. Dropping it stops it.
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    upstream: watch::Sender<SocketAddr>,
    pub counters: Arc<Counters>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (port 0) in front of `upstream`.
    pub fn start(upstream: SocketAddr, mode: Mode) -> std::io::Result<FaultProxy> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream, mode)
    }

    /// Starts a proxy listening on `listen` in front of `upstream`.
    pub fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        mode: Mode,
    ) -> std::io::Result<FaultProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(listen))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(mode);
        let (upstream_tx, upstream_rx) = watch::channel(upstream);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        runtime.spawn(serve(listener, upstream_rx, rx, c));
        Ok(FaultProxy {
            addr,
            mode: tx,
            upstream: upstream_tx,
            counters,
            _runtime: runtime,
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Sends new connections to `upstream` and cuts the open ones, as a
    /// load balancer moving clients to another replica would.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.upstream.send_replace(upstream);
    }

    pub fn upstream(&self) -> SocketAddr {
        *self.upstream.borrow()
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn bytes_total(&self) -> u64 {
        self.counters.up.load(Ordering::Relaxed) + self.counters.down.load(Ordering::Relaxed)
    }
}

async fn serve(
    listener: TcpListener,
    upstream: watch::Receiver<SocketAddr>,
    mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
) {
    let mut seed = 0x5EED_u64;
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        tokio::spawn(connection(
            client,
            upstream.clone(),
            mode.clone(),
            counters.clone(),
            seed,
        ));
    }
}

async fn connection(
    client: TcpStream,
    mut upstream: watch::Receiver<SocketAddr>,
    mut mode: watch::Receiver<Mode>,
    counters: Arc<Counters>,
    seed: u64,
) {
    let _ = client.set_nodelay(true);
    if matches!(*mode.borrow(), Mode::Reset) {
        let _ = client.set_zero_linger();
        return;
    }
    // A blackholed link accepts and then says nothing, whatever is sent.
    while matches!(*mode.borrow(), Mode::Blackhole) {
        if mode.changed().await.is_err() {
            return;
        }
    }
    let target = *upstream.borrow_and_update();
    let Ok(server) = TcpStream::connect(target).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let _ = server.set_nodelay(true);
    let budget = Arc::new(AtomicU64::new(match *mode.borrow() {
        Mode::CutAfter { bytes, jitter } => bytes + if jitter > 0 { seed % jitter } else { 0 },
        Mode::ThrottledCut { cut_after, .. } => cut_after,
        _ => u64::MAX,
    }));
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, mode.clone(), budget.clone(), counters.clone(), true);
    let down = pump(sr, cw, mode, budget, counters, false);
    // When either direction ends, or the upstream moves, the connection is
    // over.
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = upstream.changed() => {}
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    budget: Arc<AtomicU64>,
    counters: Arc<Counters>,
    upward: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // A silent link holds what was sent (as TCP would keep retransmitting)
        // until it comes back; meanwhile nothing more is read.
        let mut current = *mode.borrow();
        while current == Mode::Blackhole {
            if mode.changed().await.is_err() {
                return;
            }
            current = *mode.borrow();
        }
        let mut chunk = &buf[..n];
        match current {
            Mode::Pass | Mode::CutAfter { .. } => {}
            Mode::Reset => {
                let _ = to.as_ref().set_zero_linger();
                let _ = from.as_ref().set_zero_linger();
                return;
            }
            Mode::Blackhole => {}
            Mode::Throttle { bytes_per_sec } | Mode::ThrottledCut { bytes_per_sec, .. } => {
                let secs = n as f64 / bytes_per_sec.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            Mode::Latency(d) => tokio::time::sleep(d).await,
        }
        // The byte budget is shared by both directions of the connection.
        let left = budget.load(Ordering::Relaxed);
        let cut = left < chunk.len() as u64;
        if cut {
            chunk = &chunk[..left as usize];
        }
        let used = chunk.len() as u64;
        let _ = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
            Some(b.saturating_sub(used))
        });
        if to.write_all(chunk).await.is_err() {
            return;
        }
        let counter = if upward { &counters.up } else { &counters.down };
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if cut {
            let _ = to.as_ref().set_zero_linger();
            let _ = from.as_ref().set_zero_linger();
            return;
        }
    }
}
