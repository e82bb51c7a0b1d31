//! PostgreSQL for tests: a fresh database per test, dropped afterwards.
//! Tests that need PostgreSQL call [`postgres_url`]; when the variable is
//! unset they print that they are skipped and pass.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::harness::POSTGRES_ENV;

/// The PostgreSQL server URL for tests, or `None` (and a "skipped" line).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped {test}: set {POSTGRES_ENV} (e.g. postgres://root@127.0.0.1:5432/test) to run it against PostgreSQL"
            );
            None
        }
    }
}

/// A database created for one test and dropped when this is dropped.
#[derive(Debug)]
pub struct TempDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

fn with_client<T>(url: &str, f: impl AsyncFnOnce(&tokio_postgres::Client) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        tokio::spawn(conn);
        f(&client).await
    })
}

impl TempDatabase {
    pub fn create(server_url: &str) -> TempDatabase {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "hotich_t_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() % 1_000_000)
                .unwrap_or(0)
        );
        with_client(server_url, async |c| {
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        });
        TempDatabase {
            url: replace_database(server_url, &name),
            admin_url: server_url.to_string(),
            name,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::panic::catch_unwind(|| {
            with_client(&self.admin_url, async |c| {
                let _ = c
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            })
        });
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced.
pub fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let mut out = match path_start {
        Some(i) => format!("{}/{db}", &base[..i]),
        None => format!("{base}/{db}"),
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            super::replace_database("postgres://root@127.0.0.1:5432/test", "x"),
            "postgres://root@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://root@h", "x"),
            "postgres://root@h/x"
        );
        assert_eq!(
            super::replace_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
