//! The fault proxy itself: each mode does what the sync tests rely on.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hotich_tests::{FaultProxy, Mode};

/// An upstream that echoes everything back.
fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn roundtrip(proxy: &FaultProxy, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(proxy.addr)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(payload)?;
    let mut got = vec![0u8; payload.len()];
    s.read_exact(&mut got)?;
    Ok(got)
}

#[test]
fn pass_forwards_and_counts_bytes() {
    let proxy = FaultProxy::start(echo_server(), Mode::Pass).unwrap();
    assert_eq!(roundtrip(&proxy, b"hello").unwrap(), b"hello");
    // The counter moves just after the bytes are written.
    assert!(hotich_tests::harness::wait_until(
        Duration::from_secs(2),
        || proxy.bytes_total() == 10
    ));
    assert_eq!(proxy.bytes_total(), 10);
}

#[test]
fn cut_closes_the_connection_after_the_byte_budget() {
    let proxy = FaultProxy::start(
        echo_server(),
        Mode::CutAfter {
            bytes: 1000,
            jitter: 0,
        },
    )
    .unwrap();
    assert!(roundtrip(&proxy, &[7u8; 400]).is_ok(), "800 bytes fit");
    assert!(
        roundtrip(&proxy, &[7u8; 4000]).is_err(),
        "8000 bytes do not"
    );
}

#[test]
fn reset_refuses_open_and_new_connections() {
    let proxy = FaultProxy::start(echo_server(), Mode::Pass).unwrap();
    let mut open = TcpStream::connect(proxy.addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    proxy.set_mode(Mode::Reset);
    let _ = open.write_all(b"x");
    let mut buf = [0u8; 1];
    assert!(
        !matches!(open.read(&mut buf), Ok(1)),
        "an open connection gets nothing back"
    );
    assert!(roundtrip(&proxy, b"again").is_err());
}

#[test]
fn blackhole_stays_silent_and_delivers_when_the_link_returns() {
    let proxy = FaultProxy::start(echo_server(), Mode::Blackhole).unwrap();
    let mut s = TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    let err = s.read_exact(&mut buf).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    proxy.set_mode(Mode::Pass);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn throttle_and_latency_slow_the_link() {
    let proxy = FaultProxy::start(
        echo_server(),
        Mode::Throttle {
            bytes_per_sec: 20_000,
        },
    )
    .unwrap();
    let t = Instant::now();
    roundtrip(&proxy, &[1u8; 10_000]).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    proxy.set_mode(Mode::Latency(Duration::from_millis(150)));
    let t = Instant::now();
    roundtrip(&proxy, b"x").unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}
