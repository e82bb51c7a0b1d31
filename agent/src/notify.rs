//! The systemd notification protocol (`sd_notify`), spoken directly: one
//! datagram per message to the socket named by `NOTIFY_SOCKET`. The unit is
//! `Type=notify`, so systemd counts the service started only once it says
//! `READY=1` (its journal open, its control endpoint up), and with
//! `WatchdogSec` it restarts a service that stops feeding the watchdog (a
//! wedged runtime). Outside systemd there is no socket and nothing is sent.

use std::time::Duration;

/// A connection to the service manager's notification socket.
pub struct Notifier {
    #[cfg(unix)]
    socket: std::os::unix::net::UnixDatagram,
    #[cfg(unix)]
    target: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// From `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
    #[cfg(unix)]
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_str()?.to_string();
        let target = if let Some(abstract_name) = name.strip_prefix('@') {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name).ok()?
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = abstract_name;
                return None;
            }
        } else {
            std::os::unix::net::SocketAddr::from_pathname(&name).ok()?
        };
        let socket = std::os::unix::net::UnixDatagram::unbound().ok()?;
        Some(Notifier { socket, target })
    }

    #[cfg(not(unix))]
    pub fn from_env() -> Option<Notifier> {
        None
    }

    /// Sends one message (`READY=1`, `STATUS=...`); a failure is logged
    /// once at debug level: the service runs on regardless.
    pub fn send(&self, message: &str) {
        #[cfg(unix)]
        if let Err(error) = self.socket.send_to_addr(message.as_bytes(), &self.target) {
            tracing::debug!(%error, "cannot notify the service manager");
        }
        #[cfg(not(unix))]
        let _ = message;
    }

    /// How often to feed the watchdog: half of `WATCHDOG_USEC`, if it is
    /// meant for this process (`WATCHDOG_PID`, when set, names it).
    pub fn watchdog_every() -> Option<Duration> {
        if let Some(pid) = std::env::var("WATCHDOG_PID").ok().filter(|p| !p.is_empty())
            && pid.trim() != std::process::id().to_string()
        {
            return None;
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_named_by_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let target = std::os::unix::net::SocketAddr::from_pathname(&path).unwrap();
        let notifier = Notifier {
            socket: std::os::unix::net::UnixDatagram::unbound().unwrap(),
            target,
        };
        notifier.send("READY=1\nSTATUS=ok");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=ok");
    }
}
