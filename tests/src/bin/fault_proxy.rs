//! A bad link between an agent and the server, for demos and manual tests:
//!
//!     fault-proxy --listen 127.0.0.1:8701 --upstream 127.0.0.1:8700 [--mode MODE]
//!
//! MODE is `pass`, `cut:BYTES`, `reset`, `blackhole`, `throttle:BYTES_PER_SEC` or
//! `latency:MS`. Type another MODE on standard input to switch while it runs.

use std::io::BufRead;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hotich_tests::{FaultProxy, Mode};

fn parse_mode(text: &str) -> Result<Mode> {
    let (name, arg) = text.trim().split_once(':').unwrap_or((text.trim(), ""));
    let number = || -> Result<u64> {
        arg.parse()
            .with_context(|| format!("{name} needs a number, as in {name}:1000"))
    };
    Ok(match name {
        "pass" => Mode::Pass,
        "cut" => Mode::CutAfter {
            bytes: number()?,
            jitter: 0,
        },
        "reset" => Mode::Reset,
        "blackhole" => Mode::Blackhole,
        "throttle" => Mode::Throttle {
            bytes_per_sec: number()?,
        },
        "latency" => Mode::Latency(Duration::from_millis(number()?)),
        other => bail!(
            "unknown mode {other:?}: use pass, cut:BYTES, reset, blackhole, throttle:BYTES_PER_SEC or latency:MS"
        ),
    })
}

fn main() -> Result<()> {
    let mut listen: Option<SocketAddr> = None;
    let mut upstream: Option<SocketAddr> = None;
    let mut mode = Mode::Pass;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = Some(args.next().context("--listen needs an address")?.parse()?),
            "--upstream" => {
                upstream = Some(
                    args.next()
                        .context("--upstream needs an address")?
                        .parse()?,
                )
            }
            "--mode" => mode = parse_mode(&args.next().context("--mode needs a mode")?)?,
            "-h" | "--help" => {
                println!(
                    "fault-proxy --upstream ADDR [--listen ADDR] [--mode pass|cut:BYTES|reset|blackhole|throttle:BPS|latency:MS]"
                );
                println!("Type a mode on standard input to switch while it runs.");
                return Ok(());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let upstream = upstream.context("--upstream ADDR is required")?;
    let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let proxy = FaultProxy::start_on(listen, upstream, mode)?;
    let addr = proxy.addr;
    println!("fault-proxy listening on http://{addr}, forwarding to {upstream}, mode {mode:?}");
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_mode(&line) {
            Ok(m) => {
                proxy.set_mode(m);
                println!("mode {m:?}");
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    // Standard input closed: keep serving until killed.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
