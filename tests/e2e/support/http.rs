//! `HttpServer`: `python3 -m http.server` on 127.0.0.1 and a port the kernel picks, serving
//! one directory; stopped by its PID when dropped.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct HttpServer {
    child: Child,
    port: u16,
}

impl HttpServer {
    pub fn serve(dir: &Path, log: &Path) -> HttpServer {
        // Debian's python3 first: a pyenv shim in PATH would add a process between us and
        // the server.
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            super::which("python3").expect("python3")
        };
        let mut child = Command::new(python)
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log).unwrap())
            .spawn()
            .expect("start python3 -m http.server");
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("http.server did not say its port: {line:?}")
            });
        HttpServer { child, port }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
