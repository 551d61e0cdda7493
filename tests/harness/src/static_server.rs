//! A small static file server for `dist/` on 127.0.0.1 (HTTP/1.1, GET and HEAD, one thread per request).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A file served from memory instead of the folder.
#[derive(Clone, Debug)]
struct Extra {
    content_type: String,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Site {
    root: PathBuf,
    extras: HashMap<String, Extra>,
    headers: Vec<(String, String)>,
    log: Vec<String>,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    site: Arc<Mutex<Site>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` on 127.0.0.1:`port` (0 picks a free port).
    pub fn start(root: &Path, port: u16) -> std::io::Result<StaticServer> {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let site = Arc::new(Mutex::new(Site {
            root: root.to_path_buf(),
            ..Site::default()
        }));
        let thread = {
            let stop = stop.clone();
            let site = site.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let site = site.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &site);
                        });
                    }
                }
            })
        };
        Ok(StaticServer {
            port,
            stop,
            site,
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Serves `body` at `path` (e.g. `/config.json`), in place of any file there.
    pub fn set_file(&self, path: &str, content_type: &str, body: Vec<u8>) {
        if let Ok(mut site) = self.site.lock() {
            site.extras.insert(
                path.to_string(),
                Extra {
                    content_type: content_type.to_string(),
                    body,
                },
            );
        }
    }

    /// Adds a header to every response.
    pub fn add_header(&self, name: &str, value: &str) {
        if let Ok(mut site) = self.site.lock() {
            site.headers.push((name.to_string(), value.to_string()));
        }
    }

    /// The request lines served so far (`GET /path 200`).
    pub fn request_log(&self) -> Vec<String> {
        self.site.lock().map(|s| s.log.clone()).unwrap_or_default()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The MIME type for a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(stream: TcpStream, site: &Mutex<Site>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");

    let (status, ctype, body, headers) = {
        let site = site.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let found = if method != "GET" && method != "HEAD" {
            None
        } else if let Some(extra) = site.extras.get(path) {
            Some((extra.content_type.clone(), extra.body.clone()))
        } else {
            resolve(&site.root, path).and_then(|file| {
                std::fs::read(&file)
                    .ok()
                    .map(|body| (content_type(&file.to_string_lossy()).to_string(), body))
            })
        };
        let (status, ctype, body) = match found {
            Some((ctype, body)) => ("200 OK", ctype, body),
            None if method != "GET" && method != "HEAD" => (
                "405 Method Not Allowed",
                "text/plain".to_string(),
                b"method not allowed\n".to_vec(),
            ),
            None => (
                "404 Not Found",
                "text/plain".to_string(),
                b"not found\n".to_vec(),
            ),
        };
        (status, ctype, body, site.headers.clone())
    };
    if let Ok(mut site) = site.lock() {
        site.log.push(format!(
            "{method} {path} {}",
            status.split(' ').next().unwrap_or("")
        ));
    }
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&body)?;
    }
    out.flush()
}

/// Maps a URL path to a file under `root`, refusing anything that escapes it; `/` is `index.html`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let candidate = Path::new(relative);
    if candidate
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(candidate);
    file.is_file().then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        out
    }

    #[test]
    fn serves_files_extras_and_refuses_escapes() {
        let dir = crate::fresh_dir("harness", "static").unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("app.wasm"), [0u8, 97, 115, 109]).unwrap();
        let server = StaticServer::start(&dir, 0).unwrap();
        server.set_file("/config.json", "application/json", b"{}".to_vec());
        server.add_header("X-Test", "1");

        let index = get(server.port(), "/");
        assert!(index.starts_with("HTTP/1.1 200"), "{index}");
        assert!(index.contains("text/html"));
        assert!(index.contains("X-Test: 1"));
        assert!(index.ends_with("<p>hi</p>"));
        assert!(get(server.port(), "/app.wasm").contains("application/wasm"));
        assert!(get(server.port(), "/config.json?x=1").ends_with("{}"));
        assert!(get(server.port(), "/../Cargo.toml").starts_with("HTTP/1.1 404"));
        assert!(get(server.port(), "/missing").starts_with("HTTP/1.1 404"));
        assert_eq!(server.request_log().len(), 5);
    }
}
