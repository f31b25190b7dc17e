//! A throwaway PostgreSQL server for a test: `initdb` into a temporary directory, `pg_ctl`
//! start on a free loopback port, one database, and `pg_ctl stop` on drop. The machine's
//! server binaries are used (on the PATH, or Debian's /usr/lib/postgresql/N/bin; `.ci/run`
//! installs them when missing). As root — PostgreSQL refuses to run as root — they run as
//! the `postgres` user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    /// `postgres://betbet@127.0.0.1:PORT/history`
    pub url: String,
    as_postgres: bool,
}

/// Where `initdb`, `pg_ctl` and `createdb` are.
fn bin_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.exists() {
                // Debian links /usr/local/bin/initdb to the versioned directory, where
                // pg_ctl also lives.
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                return real.parent().expect("a directory").to_owned();
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed: `apt-get install postgresql` (.ci/run does)",
    )
}

#[allow(unsafe_code)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "cannot give the postgres user {}",
                dir.path().display()
            );
        }
        let mut pg = Postgres {
            dir,
            port: 0,
            url: String::new(),
            as_postgres,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-U",
                "betbet",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        for attempt in 1..=5 {
            pg.port = crate::free_port();
            let started = pg.try_start();
            if started.is_ok() {
                break;
            }
            assert!(
                attempt < 5,
                "PostgreSQL did not start: {}\n{}",
                started.unwrap_err(),
                std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default()
            );
        }
        pg.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "betbet",
                "history",
            ],
        );
        pg.url = format!("postgres://betbet@127.0.0.1:{}/history", pg.port);
        pg
    }

    /// Stops the server (fast shutdown), keeping its data: clients get connection errors.
    pub fn stop(&mut self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts it again on the same port after [`Postgres::stop`].
    pub fn start_again(&mut self) {
        if let Err(error) = self.try_start() {
            panic!("{error}");
        }
    }

    /// `pg_ctl start` on `self.port`, waiting until it accepts connections.
    fn try_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let data = self.data().display().to_string();
        self.try_run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = bin_dir().join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let output = self
            .command(program, args)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        if let Err(error) = self.try_run(program, args) {
            panic!("{error}");
        }
    }

    /// Runs one SQL statement with `psql` and returns its unaligned output (rows by line,
    /// columns by `|`).
    pub fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "betbet",
                "-d",
                "history",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
            ])
            .arg(sql)
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.try_run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}
